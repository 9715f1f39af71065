/**
 * Run one thing on a connection: SQL on a PostgreSQL connection (results as
 * tables, an error in place, CSV download), or an input for a command
 * connection (stdout, stderr, exit code). Each run is an audited session.
 */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Connection, RunResponse, RunResultSet } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { connections } from "../live.ts";
import { me } from "../session.ts";
import { Badge, ErrorBox, Link, Page } from "../ui.ts";

/** Numeric PostgreSQL types, right-aligned. */
const NUMERIC = new Set([20, 21, 23, 26, 700, 701, 790, 1700]);

function csvCell(v: string | null): string {
  if (v === null) return "";
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function toCsv(r: RunResultSet): string {
  const lines = [r.columns.map((c) => csvCell(c.name)).join(",")];
  for (const row of r.rows) lines.push(row.map(csvCell).join(","));
  return lines.join("\r\n") + "\r\n";
}

function ResultTable({ r, index }: { r: RunResultSet; index: number }) {
  if (r.columns.length === 0) return html`<p class="command-tag">${r.command}</p>`;
  const href = URL.createObjectURL(new Blob([toCsv(r)], { type: "text/csv" }));
  return html`
    <div class="result">
      <div class="result-head">
        <span>${r.command || `${r.rows.length} rows`}</span>
        <a class="button secondary" href=${href} download=${`result-${
          index + 1
        }.csv`}>Download CSV</a>
      </div>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>${r.columns.map((c) => html`<th scope="col">${c.name}</th>`)}</tr>
          </thead>
          <tbody>${r.rows.map((row) =>
            html`<tr>${
              row.map((v, i) =>
                html`<td class=${NUMERIC.has(r.columns[i].type_oid) ? "num" : ""}>${
                  v === null ? html`<span class="null">NULL</span>` : v
                }</td>`
              )
            }</tr>`
          )}</tbody>
        </table>
      </div>
    </div>
  `;
}

export function Run({ name }: { name: string }) {
  const [conn, setConn] = useState<Connection | undefined>(
    connections.value?.find((c) => c.name === name),
  );
  const [input, setInput] = useState("");
  const [answer, setAnswer] = useState<RunResponse | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ connection: Connection }>("GET", `/api/connections/${encodeURIComponent(name)}`)
      .then((r) => setConn(r.connection), setError);
  }, [name]);

  const run = async (e?: Event) => {
    e?.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setAnswer(
        await api<RunResponse>("POST", `/api/connections/${encodeURIComponent(name)}/run`, {
          input,
        }),
      );
    } catch (err) {
      setError(err);
      setAnswer(undefined);
    } finally {
      setBusy(false);
    }
  };
  const sql = conn?.type === "postgres";
  const onKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") void run();
  };
  return html`
    <${Page}
      title=${`Run on ${name}`}
      actions=${conn ? html`<${Badge} value=${conn.status} />` : null}
    >
      <p>
        <${Link} href="/connections">← Connections</${Link}>${me.value?.role === "admin" && answer
          ? html`
            ${" · "}<${Link} href=${`/sessions/${answer.session_id}`}>this run's session record</${Link}>
          `
          : null}</p>
        <form onSubmit=${run} class="run-form">
          <label for="input">${sql ? "SQL" : "Input (sent to the command's stdin)"}</label>
          <textarea
            id="input"
            class="mono"
            rows=${sql ? 8 : 4}
            spellcheck="false"
            placeholder=${sql ? "select 42;" : "text for the command"}
            value=${input}
            onInput=${(e: Event) => setInput((e.target as HTMLTextAreaElement).value)}
            onKeyDown=${onKey}
          ></textarea>
          <div class="row">
            <button type="submit" disabled=${busy || !conn}>${busy ? "Running…" : "Run"}</button>
            <span class="hint">Ctrl+Enter runs. Every run is recorded in the audit trail.</span>
          </div>
        </form>
        <${ErrorBox} error=${error} />
        ${answer?.type === "postgres"
          ? html`<div class="results">
          ${answer.results.map((r, i) => html`<${ResultTable} r=${r} index=${i} />`)}
          ${
            answer.error
              ? html`<div class="error" role="alert"><strong>${answer.error.message}</strong>${
                answer.error.code
                  ? html`<div class="hint">SQLSTATE ${answer.error.code}</div>`
                  : null
              }</div>`
              : null
          }
          ${
            answer.truncated
              ? html`<p class="hint">The output was cut at the gateway's limit.</p>`
              : null
          }
        </div>`
          : null}
        ${answer?.type === "command"
          ? html`<div class="results">
          <p>Exit code: <strong class="exit-code">${answer.exit_code ?? "none"}</strong></p>
          ${answer.error ? html`<div class="error" role="alert">${answer.error}</div>` : null}
          <h2>stdout</h2><pre class="output stdout">${answer.stdout}</pre>
          ${
            answer.stderr
              ? html`
                <h2>stderr</h2>
                <pre class="output stderr">${answer.stderr}</pre>
              `
              : null
          }
          ${
            answer.truncated
              ? html`<p class="hint">The output was cut at the gateway's limit.</p>`
              : null
          }
        </div>`
          : null}
      </${Page}>
  `;
}
