/** Connections the user may use, live: status, groups, and the command to reach each. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Connection } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { connections } from "../live.ts";
import { me } from "../session.ts";
import { Badge, Copyable, ErrorBox, Link, Page } from "../ui.ts";

function target(c: Connection): string {
  if (c.type === "postgres" || c.type === "mysql") return c.config.uri ?? "";
  if (c.type === "tcp") return `${c.config.host}:${c.config.port}`;
  return c.config.command ?? "";
}

export function Connections() {
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    // The event stream sends the list too; this fills the page at once.
    if (!connections.value) {
      api<Connection[]>("GET", "/api/connections").then((c) => (connections.value ??= c), setError);
    }
  }, []);
  const list = connections.value;
  const admin = me.value?.role === "admin";
  return html`
    <${Page}
      title="Connections"
      actions=${admin
        ? html`<${Link} class="button" href="/admin/connections/new">New connection</${Link}>`
        : null}
    >
        <${ErrorBox} error=${error} />
        ${!list
          ? html`<p aria-busy="true">Loading…</p>`
          : list.length === 0
          ? html`<p class="empty">${
            admin
              ? html`No connections yet. <${Link} href="/admin/connections/new">Create one</${Link}>.`
              : "No connection is shared with your groups yet: ask an admin."
          }</p>`
          : html`<div class="cards">${
            list.map((c) =>
              html`
                <article class="card" data-connection=${c.name}>
                  <header>
                    <h2>${c.name}</h2>
                    <${Badge} value=${c.status} />
                  </header>
                  <dl>
                    <dt>Type</dt>
                    <dd>${c.type}</dd>
                    <dt>Agent</dt>
                    <dd>${c.agent ?? "-"}</dd>
                    <dt>Target</dt>
                    <dd class="mono">${target(c)}</dd>
                    <dt>Groups</dt>
                    <dd>${c.groups.length ? c.groups.join(", ") : "admins only"}</dd>
                  </dl>
                  <${Copyable} text=${`hoop connect ${c.name}`} />
                  <div class="row">
                            ${c.type === "postgres" || c.type === "command"
                              ? html`<${Link} class="button" href=${`/connections/${
                                encodeURIComponent(c.name)
                              }/run`}>Run</${Link}>`
                              : null}
                            ${c.type === "command"
                              ? html`<${Link} class="button secondary" href=${`/connections/${
                                encodeURIComponent(c.name)
                              }/terminal`}>Terminal</${Link}>`
                              : null}
                          </div>
                </article>
              `
            )
          }</div>`}
      </${Page}>
  `;
}
