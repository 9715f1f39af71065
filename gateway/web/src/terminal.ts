/**
 * The terminal itself, in its own chunk with xterm.js: the WebSocket
 * messages of docs/API.md (binary keystrokes and output, JSON resize,
 * session, exit and error).
 *
 * @module
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import type { TerminalServerMessage } from "../../../proto/api_types.ts";
import { csrf } from "./api.ts";

export interface TerminalEvents {
  onSession(id: string): void;
  onExit(code: number, sessionId?: string): void;
  onError(message: string): void;
  onResize(cols: number, rows: number): void;
}

/** Open a console on `name` inside `el`; returns the function that closes it. */
export function openTerminal(el: HTMLElement, name: string, on: TerminalEvents): () => void {
  const term = new Terminal({
    cursorBlink: true,
    fontSize: 14,
    // At 1.0 the DOM renderer clips underscores at the bottom of each row (seen in screenshots).
    lineHeight: 1.2,
    scrollback: 5000,
    convertEol: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  on.onResize(term.cols, term.rows);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${proto}//${location.host}/api/connections/${encodeURIComponent(name)}/terminal` +
    `?cols=${term.cols}&rows=${term.rows}&csrf=${encodeURIComponent(csrf())}`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  let sessionId: string | undefined;
  let ended = false;
  const enc = new TextEncoder();
  ws.onmessage = (e) => {
    if (typeof e.data !== "string") {
      term.write(new Uint8Array(e.data as ArrayBuffer));
      return;
    }
    const msg = JSON.parse(e.data) as TerminalServerMessage;
    if (msg.type === "session") {
      sessionId = msg.session_id;
      on.onSession(msg.session_id);
      term.focus();
    } else if (msg.type === "exit") {
      ended = true;
      on.onExit(msg.code, sessionId);
    } else if (msg.type === "error") {
      ended = true;
      on.onError(msg.message);
    }
  };
  ws.onclose = (e) => {
    if (!ended) on.onError(e.reason || "The connection to the gateway closed");
  };
  const input = term.onData((d) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
  });
  const resized = term.onResize(({ cols, rows }) => {
    on.onResize(cols, rows);
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows }));
  });
  const onWindow = () => fit.fit();
  globalThis.addEventListener("resize", onWindow);
  return () => {
    globalThis.removeEventListener("resize", onWindow);
    input.dispose();
    resized.dispose();
    ws.close();
    term.dispose();
  };
}
