/**
 * A console on a command connection in the browser: xterm.js (loaded only
 * here) over the gateway's terminal WebSocket, sized to the window, the
 * exit code shown at the end. Recorded like any console session.
 */
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { me } from "../session.ts";
import { Link, Page } from "../ui.ts";
import { loadStyle } from "../styles.ts";

type State =
  | { kind: "connecting" }
  | { kind: "running"; sessionId: string }
  | { kind: "exited"; code: number; sessionId?: string }
  | { kind: "failed"; message: string };

export function TerminalPage({ name }: { name: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: "connecting" });
  const [size, setSize] = useState("");
  useEffect(() => {
    let stop = () => {};
    let cancelled = false;
    void (async () => {
      loadStyle("xterm");
      const { openTerminal } = await import("../terminal.ts");
      if (cancelled || !box.current) return;
      stop = openTerminal(box.current, name, {
        onSession: (id) => setState({ kind: "running", sessionId: id }),
        onExit: (code, id) => setState({ kind: "exited", code, sessionId: id }),
        onError: (message) => setState({ kind: "failed", message }),
        onResize: (cols, rows) => setSize(`${cols}×${rows}`),
      });
    })();
    return () => {
      cancelled = true;
      stop();
    };
  }, [name]);
  const sessionId = state.kind === "running" || state.kind === "exited"
    ? state.sessionId
    : undefined;
  return html`
    <${Page} title=${`Terminal: ${name}`}>
      <p class="row">
        <${Link} href="/connections">← Connections</${Link}>
          <span class="status" role="status">${state.kind === "connecting"
            ? "Connecting…"
            : state.kind === "running"
            ? html`Connected <span class="hint">${size}</span>`
            : state.kind === "exited"
            ? html`The program exited with code <strong class="exit-code">${state.code}</strong>`
            : html`<span class="error-text">${state.message}</span>`}</span>
          ${sessionId && me.value?.role === "admin"
            ? html`<${Link} href=${`/sessions/${sessionId}`}>session record</${Link}>`
            : null}
        </p>
        <div class="term-box" ref=${box} aria-label="Terminal"></div>
      </${Page}>
  `;
}
