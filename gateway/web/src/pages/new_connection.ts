/**
 * A new connection: its type, where the resource is, the groups that may use
 * it, and which agent serves it. For an existing standard agent the gateway
 * records it at once; for a new embedded agent (`hoop run`, as the product
 * documentation describes) the page shows the key and the exact `hoop run`
 * line, and the connection appears ONLINE when that runs.
 */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Agent, ConnectionType, CreateAgentResponse } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { agents, connections } from "../live.ts";
import { Badge, Copyable, ErrorBox, Link, Page } from "../ui.ts";

const EMBEDDED = "__embedded__";

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

const FLAG: Record<ConnectionType, string> = {
  postgres: "--postgres",
  mysql: "--mysql",
  tcp: "--tcp",
  command: "--command",
};
const TARGET_LABEL: Record<ConnectionType, string> = {
  postgres: "PostgreSQL URI (stays on the agent)",
  mysql: "MySQL or MariaDB URI (stays on the agent)",
  tcp: "Host and port",
  command: "Command",
};
const PLACEHOLDER: Record<ConnectionType, string> = {
  postgres: "postgres://app:secret@127.0.0.1:5432/app",
  mysql: "mysql://app:secret@127.0.0.1:3306/app",
  tcp: "10.0.0.5:6379",
  command: "python3 -i",
};

export function NewConnection() {
  const [type, setType] = useState<ConnectionType>("postgres");
  const [agent, setAgent] = useState(EMBEDDED);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<{ name: string; run?: string; key?: string } | undefined>(
    undefined,
  );
  useEffect(() => {
    if (!agents.value) api<Agent[]>("GET", "/api/agents").then((a) => (agents.value = a), setError);
  }, []);
  const standard = (agents.value ?? []).filter((a) => a.mode === "standard");
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const name = String(f.get("name")).trim();
    const target = String(f.get("target")).trim();
    const groups = String(f.get("groups") ?? "").split(",").map((g) => g.trim()).filter(Boolean);
    setError(undefined);
    try {
      if (agent === EMBEDDED) {
        const created = await api<CreateAgentResponse>("POST", "/api/agents", {
          name,
          mode: "embedded",
        });
        const run = `export HOOP_KEY=${quote(created.dsn)}\nhoop run --name ${name} ${FLAG[type]} ${
          quote(target)
        }`;
        setDone({ name, run, key: created.dsn });
      } else {
        let config: Record<string, string | number>;
        if (type === "postgres" || type === "mysql") config = { uri: target };
        else if (type === "tcp") {
          const i = target.lastIndexOf(":");
          config = { host: target.slice(0, i), port: Number(target.slice(i + 1)) };
        } else config = { command: target };
        await api("POST", "/api/connections", { name, agent, type, config, groups });
        setDone({ name });
      }
      if (groups.length && agent === EMBEDDED) pendingGroups.set(name, groups);
    } catch (err) {
      setError(err);
    }
  };
  const live = done ? connections.value?.find((c) => c.name === done.name) : undefined;
  useEffect(() => {
    // An embedded agent publishes the connection itself: its groups are set once it exists.
    const groups = live ? pendingGroups.get(live.name) : undefined;
    if (live && groups) {
      pendingGroups.delete(live.name);
      api("PATCH", `/api/connections/${encodeURIComponent(live.name)}`, { groups }).catch(setError);
    }
  }, [live?.name]);
  if (done) {
    return html`<${Page} title="New connection">
      ${
      done.run
        ? html`
          <div class="notice" role="status">
            <p><strong>Connection "${done.name}" is ready to publish.</strong> Run this where the
                      resource is (the key is shown only now; the database password never leaves that machine):</p>
            <${Copyable} text=${done.run} label="hoop run line" />
          </div>
        `
        : html`<p>Connection "${done.name}" created.</p>`
    }
      <p class="row">Status: ${
      live
        ? html`<${Badge} value=${live.status} />`
        : html`<span class="badge badge-offline">waiting for the agent</span>`
    }</p>
      <p class="row">
        <${Link} href="/connections">All connections</${Link}>
        <button type="button" class="secondary" onClick=${() =>
      setDone(undefined)}>Create another</button>
      </p>
      <${ErrorBox} error=${error} />
    </${Page}>`;
  }
  return html`
    <${Page} title="New connection">
      <form class="stack" onSubmit=${submit}>
        <label for="c-name">Name</label>
        <input id="c-name" name="name" required pattern="[a-z0-9][a-z0-9-]*"
          title="letters, digits, hyphens" placeholder="billing-db" />
        <label for="c-type">Type</label>
        <select id="c-type" name="type" value=${type} onChange=${(e: Event) =>
          setType((e.target as HTMLSelectElement).value as ConnectionType)}>
          <option value="postgres">PostgreSQL database</option>
          <option value="mysql">MySQL or MariaDB database</option>
          <option value="tcp">TCP service</option>
          <option value="command">Command or console</option>
        </select>
        <label for="c-target">${TARGET_LABEL[type]}</label>
        <input id="c-target" name="target" class="mono" required placeholder=${PLACEHOLDER[type]} />
        <label for="c-agent">Agent</label>
        <select id="c-agent" name="agent" value=${agent} onChange=${(e: Event) =>
          setAgent((e.target as HTMLSelectElement).value)}>
            <option value=${EMBEDDED}>New embedded agent (hoop run next to the resource)</option>
            ${standard.map((a) => html`<option value=${a.name}>${a.name} (${a.status})</option>`)}
          </select>
        <label for="c-groups">Groups that may use it (comma separated; empty: admins only)</label>
        <input id="c-groups" name="groups" placeholder="dba, oncall" />
        <div class="row"><button type="submit">Create</button></div>
      </form>
      <${ErrorBox} error=${error} />
      </${Page}>
  `;
}

/** Groups to set on embedded connections once their agent publishes them. */
const pendingGroups = new Map<string, string[]>();
