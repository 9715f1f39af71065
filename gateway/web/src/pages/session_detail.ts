/**
 * One session's record: its summary, the statement timeline of a
 * PostgreSQL session, a console's replay (asciinema-player, loaded only
 * here, at the recorded terminal size) with its `.cast`, or an exec's input
 * and output.
 */
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { SessionDetails, SessionEvent } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { loadStyle } from "../styles.ts";
import { Badge, ErrorBox, Link, Page, when } from "../ui.ts";

function text(e: SessionEvent): string {
  if (e.data !== undefined) return e.data;
  if (e.data_b64 !== undefined) {
    const bin = atob(e.data_b64);
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }
  return "";
}

function eventTime(e: SessionEvent, started: string): string {
  if (typeof e.time === "number") return `+${e.time.toFixed(3)} s`;
  const ms = Date.parse(e.time) - Date.parse(started);
  return Number.isFinite(ms) ? `+${(ms / 1000).toFixed(3)} s` : String(e.time);
}

function Replay({ id }: { id: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let dispose = () => {};
    loadStyle("asciinema");
    import("../replay.ts").then(async ({ playCast }) => {
      if (box.current) {
        dispose = await playCast(box.current, `/api/sessions/${encodeURIComponent(id)}/cast`);
      }
    }).catch(setError);
    return () => dispose();
  }, [id]);
  return html`
    <div>
      <${ErrorBox} error=${error} />
      <div class="replay" ref=${box} aria-label="Console replay"></div>
      <p><a class="button secondary" href=${`/api/sessions/${
        encodeURIComponent(id)
      }/cast`} download=${`hoop-session-${id}.cast`}>Download .cast</a></p>
    </div>
  `;
}

export function SessionDetail({ id }: { id: string }) {
  const [d, setD] = useState<SessionDetails | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api<SessionDetails>("GET", `/api/sessions/${encodeURIComponent(id)}`).then(setD, setError);
  }, [id]);
  const s = d?.session;
  const sql = d?.events.filter((e) => e.kind === "sql") ?? [];
  const io = d?.events.filter((e) => e.kind === "i" || e.kind === "o" || e.kind === "e") ?? [];
  const info = d?.events.filter((e) => e.kind === "info") ?? [];
  return html`
    <${Page} title="Session">
      <p>
        <${Link} href="/sessions">← Sessions</${Link}></p>
        <${ErrorBox} error=${error} />
        ${s
          ? html`
            <dl class="summary">
              <dt>Id</dt>
              <dd class="mono">${s.id}</dd>
              <dt>User</dt>
              <dd>${s.user}</dd>
              <dt>Connection</dt>
              <dd>${s.connection} (${s.type}, agent ${s.agent})</dd>
              <dt>Verb</dt>
              <dd>${s.verb}</dd>
              <dt>Status</dt>
              <dd><${Badge} value=${s.status} />${s.exit_code !== null
                ? ` exit ${s.exit_code}`
                : ""}${s.error
                ? html`
                  <span class="error-text">${s.error}</span>
                `
                : null}</dd>
              <dt>Started</dt>
              <dd>${when(s.started_at)}</dd>
              <dt>Ended</dt>
              <dd>${when(s.ended_at)}</dd>
              <dt>Bytes in / out</dt>
              <dd>${s.bytes_in} / ${s.bytes_out}${s.truncated
                ? " (recording cut at its limit)"
                : ""}</dd>
            </dl>
          `
          : null}
        ${s && s.verb === "console"
          ? html`
            <h2>Replay</h2>
            <${Replay} id=${s.id} />
          `
          : null}
        ${sql.length
          ? html`
            <h2>Statements</h2>
            <ol class="timeline">${sql.map((e) =>
              html`<li><span class="t">${eventTime(e, s!.started_at)}</span><pre class="mono">${
                text(e)
              }</pre></li>`
            )}</ol>
          `
          : null}
        ${s && s.verb === "exec" && io.length
          ? html`
            <h2>Input and output</h2>
            <ol class="timeline">${io.map((e) =>
              html`
                <li
                  class=${`io-${e.kind}`}><span class="t">${eventTime(
                    e,
                    s.started_at,
                  )} ${e.kind === "i"
                    ? "stdin"
                    : e.kind === "o"
                    ? "stdout"
                    : "stderr"}</span><pre class="mono">${text(e)}</pre></li>
              `
            )}</ol>
          `
          : null}
        ${info.length
          ? html`
            <h2>Notes</h2>
            <ul>${info.map((e) => html`<li>${text(e)}</li>`)}</ul>
          `
          : null}
      </${Page}>
  `;
}
