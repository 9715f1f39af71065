/**
 * The web console: the shell (navigation, who is signed in) and the page the
 * URL names. Pages that need xterm.js or asciinema-player load them on their
 * own, so the first load stays small.
 *
 * @module
 */
import { render } from "preact";
import { html } from "htm/preact";
import type { User, WebSessionResponse } from "../../../proto/api_types.ts";
import { api, ApiError, setCsrfToken, whenSignedOut } from "./api.ts";
import { liveUp, startLive, stopLive } from "./live.ts";
import { me } from "./session.ts";
import { location, navigate, onLink, pathOf } from "./router.ts";
import { SignIn } from "./pages/sign_in.ts";
import { Connections } from "./pages/connections.ts";
import { Run } from "./pages/run.ts";
import { TerminalPage } from "./pages/terminal_page.ts";
import { Sessions } from "./pages/sessions.ts";
import { SessionDetail } from "./pages/session_detail.ts";
import { Agents } from "./pages/agents.ts";
import { OrgKey } from "./pages/org_key.ts";
import { NewConnection } from "./pages/new_connection.ts";
import { Users } from "./pages/users.ts";

async function loadSession(): Promise<void> {
  try {
    const s = await api<WebSessionResponse>("GET", "/api/web/session");
    setCsrfToken(s.csrf_token);
    me.value = s.user;
    startLive();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) console.error(err);
    me.value = null;
  }
}

/** After sign-in (password or SSO). */
export function signedIn(s: WebSessionResponse): void {
  setCsrfToken(s.csrf_token);
  me.value = s.user;
  startLive();
  const p = pathOf(location.value);
  if (p === "/" || p === "/sign-in") navigate("/connections", { replace: true });
}

async function signOut(): Promise<void> {
  await api("POST", "/api/web/logout").catch(() => {});
  stopLive();
  me.value = null;
  navigate("/sign-in");
}

whenSignedOut(() => {
  stopLive();
  me.value = null;
});

const ADMIN_NAV = [
  ["/sessions", "Sessions"],
  ["/admin/agents", "Agents"],
  ["/admin/connections/new", "New connection"],
  ["/admin/org-key", "Org key"],
  ["/admin/users", "Users"],
];

function Nav({ user }: { user: User }) {
  const path = pathOf(location.value);
  const items = [["/connections", "Connections"], ...(user.role === "admin" ? ADMIN_NAV : [])];
  return html`
    <header class="top">
      <a class="brand" href="/connections" onClick=${onLink}>hoop</a>
      <nav aria-label="Main">
        <ul>
            ${items.map(([href, label]) =>
              html`<li><a href=${href} onClick=${onLink} aria-current=${
                path.startsWith(href) ? "page" : undefined
              }>${label}</a></li>`
            )}
          </ul>
      </nav>
      <div class="who">
          ${liveUp.value
            ? null
            : html`<span class="badge badge-offline" title="live updates reconnecting">offline</span>`}
          <span class="email">${user.email}</span>
          <span class="role">${user.role}</span>
          <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
        </div>
    </header>
  `;
}

function Forbidden() {
  return html`
    <section class="page">
      <h1>Not allowed</h1>
      <p>This page needs the admin role.</p>
    </section>
  `;
}

function route(path: string, user: User) {
  const admin = user.role === "admin";
  let m: RegExpMatchArray | null;
  if (path === "/" || path === "/sign-in" || path === "/connections") {
    return html`<${Connections} />`;
  }
  if ((m = path.match(/^\/connections\/([^/]+)\/run$/))) {
    return html`<${Run} name=${decodeURIComponent(m[1])} />`;
  }
  if ((m = path.match(/^\/connections\/([^/]+)\/terminal$/))) {
    return html`<${TerminalPage} name=${decodeURIComponent(m[1])} />`;
  }
  if (!admin && (path.startsWith("/admin") || path.startsWith("/sessions"))) {
    return html`<${Forbidden} />`;
  }
  if (path === "/sessions") return html`<${Sessions} />`;
  if ((m = path.match(/^\/sessions\/([^/]+)$/))) {
    return html`<${SessionDetail} id=${decodeURIComponent(m[1])} />`;
  }
  if (path === "/admin/agents") return html`<${Agents} />`;
  if (path === "/admin/connections/new") return html`<${NewConnection} />`;
  if (path === "/admin/org-key") return html`<${OrgKey} />`;
  if (path === "/admin/users") return html`<${Users} />`;
  return html`
    <section class="page">
      <h1>Not found</h1>
      <p>No page at ${path}.</p>
    </section>
  `;
}

function App() {
  const user = me.value;
  if (user === undefined) return html`<main class="loading" aria-busy="true">Loading…</main>`;
  if (user === null) {
    return html`
      <main>
        <${SignIn} onSignedIn=${signedIn} />
      </main>
    `;
  }
  return html`
    <${Nav} user=${user} />
    <main id="main">${route(pathOf(location.value), user)}</main>
  `;
}

render(html`<${App} />`, document.getElementById("app")!);
void loadSession();
