/**
 * Small pieces every page uses: an error box, a copyable command, a status
 * badge, a link that stays in the app.
 *
 * @module
 */
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { errorText } from "./api.ts";
import { onLink } from "./router.ts";

/** An API error in place: its message and hint. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const { message, hint } = errorText(error);
  return html`<div class="error" role="alert"><strong>${message}</strong>${
    hint ? html`<div class="hint">${hint}</div>` : null
  }</div>`;
}

/** A command or key with a copy button. */
export function Copyable({ text, label }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard permission (plain http on another host): select it for Ctrl-C.
      const range = document.createRange();
      const el = document.getElementById(`copy-${hashOf(text)}`);
      if (el) {
        range.selectNodeContents(el);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
      }
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return html`
    <div class="copyable">
      <pre id=${`copy-${hashOf(text)}`} data-copy=${text}>${text}</pre>
      <button type="button" class="secondary" onClick=${copy} aria-label=${`Copy ${
        label ?? "command"
      }`}>
          ${copied ? "Copied" : "Copy"}
        </button>
    </div>
  `;
}

function hashOf(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}

/** ONLINE / OFFLINE and session statuses. */
export function Badge({ value }: { value: string }) {
  return html`<span class=${`badge badge-${value.toLowerCase()}`}>${value}</span>`;
}

/** An in-app link. */
export function Link(
  { href, children, ...rest }: { href: string; children: ComponentChildren; [k: string]: unknown },
) {
  return html`<a href=${href} onClick=${onLink} ...${rest}>${children}</a>`;
}

/** A page's title and content. */
export function Page({ title, actions, children }: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return html`<section class="page">
    <div class="page-head"><h1>${title}</h1>${
    actions ? html`<div class="actions">${actions}</div>` : null
  }</div>
    ${children}
  </section>`;
}

/** A date as local time, short. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "-";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
