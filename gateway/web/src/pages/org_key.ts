/** The organization key: create, show (on request), revoke; with `hoop run` lines for it. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { OrgKey as Key } from "../../../../proto/api_types.ts";
import { api, ApiError } from "../api.ts";
import { Copyable, ErrorBox, Page, when } from "../ui.ts";

export function OrgKey() {
  const [key, setKey] = useState<Key | null | undefined>(undefined);
  const [shown, setShown] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const load = () =>
    api<Key>("GET", "/api/orgkeys").then(setKey, (err) => {
      if (err instanceof ApiError && err.status === 404) setKey(null);
      else setError(err);
    });
  useEffect(() => void load(), []);
  const create = async () => {
    setError(undefined);
    try {
      setKey(await api<Key>("POST", "/api/orgkeys"));
      setShown(true);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async () => {
    if (!confirm("Revoke the organization key? Every hoop run using it is cut off.")) return;
    try {
      await api("DELETE", "/api/orgkeys");
      setKey(null);
      setShown(false);
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="Organization key">
    <p>Embedded agents (<code>hoop run</code>) publish their own connection with this key.</p>
    <${ErrorBox} error=${error} />
    ${
    key === undefined ? html`<p aria-busy="true">Loading…</p>` : key === null
      ? html`
        <p class="empty">No organization key.</p><button type="button"
          onClick=${create}>Create the key</button>
      `
      : html`<p>Created ${when(key.created_at)}.</p>
        ${
        shown
          ? html`
            <${Copyable} text=${key.dsn} label="key" />
            <p>Publish a database, a service or a console:</p>
            <${Copyable} text=${`export HOOP_KEY='${key.dsn}'\nhoop run --name pgdemo --postgres 'postgres://USER:PASSWORD@127.0.0.1:5432/DB'`} />
            <${Copyable} text=${`export HOOP_KEY='${key.dsn}'\nhoop run --name railsc --command 'rails console'`} />
            <button type="button" class="secondary" onClick=${() =>
              setShown(false)}>Hide the key</button>
          `
          : html`<button type="button" class="secondary" onClick=${() =>
            setShown(true)}>Show the key</button>`
      }
        <button type="button" class="danger" onClick=${revoke}>Revoke</button>`
  }
  </${Page}>`;
}
