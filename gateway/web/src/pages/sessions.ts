/** The audit trail: sessions newest first, filtered by user, connection, verb, status and time, kept in the URL. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Session } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { runningSessions } from "../live.ts";
import { location, navigate, queryOf } from "../router.ts";
import { Badge, ErrorBox, Link, Page, when } from "../ui.ts";

const FILTERS = ["user", "connection", "verb", "status", "since", "until"] as const;

function duration(s: Session): string {
  if (!s.ended_at) return "running";
  const ms = Date.parse(s.ended_at) - Date.parse(s.started_at);
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

/** `datetime-local` input values <-> ISO times in the URL. */
function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${
    pad(d.getMinutes())
  }`;
}

/** Sessions open right now, from the event stream: they appear and go without a reload. */
function Running() {
  const open = runningSessions.value;
  return html`<section class="running" aria-labelledby="running-h">
    <h2 id="running-h">Running now</h2>
    ${
    !open
      ? html`<p aria-busy="true">Loading…</p>`
      : open.length === 0
      ? html`<p class="empty">No session is running.</p>`
      : html`<ul class="running-list">${
        open.map((s) =>
          html`
            <li data-running=${s.id}>
              <${Link} href=${`/sessions/${s.id}`}>${s.connection}</${Link}>
                      <span>${s.verb}</span> <span>${s.user}</span> <span class="hint">since ${when(
                        s.started_at,
                      )}</span></li>
          `
        )
      }</ul>`
  }
  </section>`;
}

export function Sessions() {
  const query = queryOf(location.value);
  const [list, setList] = useState<Session[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const key = query.toString();
  useEffect(() => {
    setError(undefined);
    const q = new URLSearchParams();
    for (const f of FILTERS) if (query.get(f)) q.set(f, query.get(f)!);
    api<Session[]>("GET", `/api/sessions${q.size ? `?${q}` : ""}`).then(setList, (e) => {
      setError(e);
      setList([]);
    });
  }, [key]);
  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams();
    for (const f of FILTERS) {
      let v = String(form.get(f) ?? "").trim();
      if (v && (f === "since" || f === "until")) v = new Date(v).toISOString();
      if (v) q.set(f, v);
    }
    navigate(`/sessions${q.size ? `?${q}` : ""}`);
  };
  return html`<${Page} title="Sessions">
    <${Running} />
    <form class="filters" onSubmit=${apply} aria-label="Filter sessions">
      <div><label for="f-user">User</label><input id="f-user" name="user" type="text" value=${
    query.get("user") ?? ""
  } placeholder="email" /></div>
      <div><label for="f-connection">Connection</label><input id="f-connection" name="connection" value=${
    query.get("connection") ?? ""
  } /></div>
      <div><label for="f-verb">Verb</label>
        <select id="f-verb" name="verb" value=${query.get("verb") ?? ""}>
          <option value="">any</option><option>connect</option><option>exec</option><option>console</option>
        </select></div>
      <div><label for="f-status">Status</label>
        <select id="f-status" name="status" value=${query.get("status") ?? ""}>
          <option value="">any</option><option>open</option><option>done</option><option>error</option>
        </select></div>
      <div><label for="f-since">Since</label><input id="f-since" name="since" type="datetime-local" value=${
    toLocalInput(query.get("since"))
  } /></div>
      <div><label for="f-until">Until</label><input id="f-until" name="until" type="datetime-local" value=${
    toLocalInput(query.get("until"))
  } /></div>
      <div class="filter-buttons"><button type="submit">Filter</button>
        <button type="button" class="secondary" onClick=${() =>
    navigate("/sessions")}>Clear</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${
    !list
      ? html`<p aria-busy="true">Loading…</p>`
      : list.length === 0
      ? html`<p class="empty">No sessions match.</p>`
      : html`
        <div class="table-wrap">
          <table class="sessions">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">User</th>
                <th scope="col">Connection</th>
                <th scope="col" class="wide-only">Verb</th>
                <th scope="col">Status</th>
                <th scope="col" class="wide-only">Exit</th>
                <th scope="col" class="wide-only">Duration</th>
                <th scope="col" class="wide-only">In / out</th>
              </tr>
            </thead>
            <tbody>${list.map((s) =>
              html`
                <tr data-session=${s.id}>
                  <td>
                    <${Link} href=${`/sessions/${s.id}`}>${when(s.started_at)}</${Link}></td>
                            <td>${s.user}</td><td>${s.connection}</td><td class="wide-only">${s
                              .verb}</td>
                            <td><${Badge} value=${s
                              .status} /></td><td class="wide-only">${s.exit_code ?? ""}</td>
                            <td class="wide-only">${duration(s)}</td><td class="num wide-only">${s
                              .bytes_in} / ${s
                              .bytes_out}</td>
                          </tr>
              `
            )}</tbody>
          </table>
        </div>
      `
  }
  </${Page}>`;
}
