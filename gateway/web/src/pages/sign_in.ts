/** The sign-in page: email and password, and "Sign in with SSO" when the gateway offers it. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { AuthMethods, WebSessionResponse } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { ErrorBox } from "../ui.ts";

export function SignIn({ onSignedIn }: { onSignedIn: (s: WebSessionResponse) => void }) {
  const [methods, setMethods] = useState<AuthMethods | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<AuthMethods>("GET", "/api/auth/methods").then(
      setMethods,
      () => setMethods({ methods: ["password"] }),
    );
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(
        await api<WebSessionResponse>("POST", "/api/web/login", {
          email: form.get("email"),
          password: form.get("password"),
        }),
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const password = !methods || methods.methods.includes("password");
  return html`<section class="sign-in">
    <h1>Sign in to hoop</h1>
    <${ErrorBox} error=${error} />
    ${
    password
      ? html`
        <form onSubmit=${submit}>
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="username" required autofocus />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
          <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
        </form>
      `
      : null
  }
    ${
    methods?.oidc
      ? html`<div class="sso">${password ? html`<p class="or">or</p>` : null}
          <a class="button" href=${methods.oidc.web_login_url}>Sign in with SSO</a></div>`
      : null
  }
  </section>`;
}
