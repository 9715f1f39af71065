/**
 * Stylesheets of the lazily loaded pages (xterm.js, asciinema-player), as
 * hashed files named in the page's manifest: `<link>` elements, so the
 * Content-Security-Policy needs no inline styles.
 *
 * @module
 */

/** Add the stylesheet `name` (from `<meta name="hoop-css-NAME">`) once. */
export function loadStyle(name: string): void {
  if (document.querySelector(`link[data-style="${name}"]`)) return;
  const href = document.querySelector<HTMLMetaElement>(`meta[name="hoop-css-${name}"]`)?.content;
  if (!href) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.style = name;
  document.head.appendChild(link);
}
