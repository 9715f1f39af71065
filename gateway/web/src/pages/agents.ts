/** Agents: live status; create one (its key shown once, with the lines that start it); delete with confirmation. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Agent, CreateAgentResponse } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { agents } from "../live.ts";
import { Badge, Copyable, ErrorBox, Page, when } from "../ui.ts";

export function Agents() {
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<CreateAgentResponse | undefined>(undefined);
  const refresh = () =>
    api<Agent[]>("GET", "/api/agents").then((a) => (agents.value = a), setError);
  useEffect(() => {
    if (!agents.value) void refresh();
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    setError(undefined);
    try {
      setCreated(
        await api<CreateAgentResponse>("POST", "/api/agents", {
          name: String(new FormData(form).get("name")).trim(),
        }),
      );
      form.reset();
      await refresh();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (a: Agent) => {
    if (!confirm(`Delete agent "${a.name}"? Its key stops working and its sessions end.`)) return;
    setError(undefined);
    try {
      await api("DELETE", `/api/agents/${encodeURIComponent(a.name)}`);
      await refresh();
    } catch (err) {
      setError(err);
    }
  };
  const list = agents.value;
  return html`<${Page} title="Agents">
    <form class="inline" onSubmit=${create}>
      <label for="agent-name">New agent name</label>
      <input id="agent-name" name="name" required pattern="[a-z0-9][a-z0-9-]*" title="letters, digits, hyphens" placeholder="prod-db" />
      <button type="submit">Create agent</button>
    </form>
    <${ErrorBox} error=${error} />
    ${
    created
      ? html`
        <div class="notice" role="status">
          <p><strong>Agent "${created.agent
            .name}" created.</strong> Its key is shown only now: copy it.</p>
          <${Copyable} text=${created.dsn} label="key" />
          <p>On the machine in the private network:</p>
          <${Copyable} text=${`export HOOP_KEY='${created.dsn}'\nhoop start agent`} />
          <button type="button" class="secondary" onClick=${() =>
            setCreated(undefined)}>Done, hide the key</button>
        </div>
      `
      : null
  }
    ${
    !list
      ? html`<p aria-busy="true">Loading…</p>`
      : list.length === 0
      ? html`<p class="empty">No agents yet.</p>`
      : html`
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Mode</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col">Host</th>
                <th scope="col">Last seen</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>${list.map((a) =>
              html`
                <tr data-agent=${a.name}>
                  <td>${a.name}</td>
                  <td>${a.mode}</td>
                  <td>
                    <${Badge} value=${a.status} />
                  </td>
                  <td>${a.version ?? "-"}</td>
                  <td>${a.hostname ?? "-"}</td>
                  <td>${when(a.seen_at)}</td>
                  <td><button type="button" class="danger" onClick=${() =>
                    remove(a)} aria-label=${`Delete agent ${a.name}`}>Delete</button></td>
                </tr>
              `
            )}</tbody>
          </table>
        </div>
      `
  }
  </${Page}>`;
}
