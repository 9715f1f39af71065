/**
 * Client-side routes on the History API: the URL (path and query) is the
 * state, so filters and pages survive a reload and can be shared.
 *
 * @module
 */
import { signal } from "@preact/signals";

/** The current location (path + search). */
export const location = signal(globalThis.location.pathname + globalThis.location.search);

/** Go to `url` without a reload. */
export function navigate(url: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  location.value = globalThis.location.pathname + globalThis.location.search;
  globalThis.scrollTo?.(0, 0);
}

globalThis.addEventListener("popstate", () => {
  location.value = globalThis.location.pathname + globalThis.location.search;
});

/** A link click that stays in the app (plain clicks only; new tabs work as usual). */
export function onLink(e: MouseEvent): void {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href")!);
}

/** The path part of the location. */
export function pathOf(loc: string): string {
  return loc.split("?")[0];
}

/** The query of the location. */
export function queryOf(loc: string): URLSearchParams {
  return new URLSearchParams(loc.split("?")[1] ?? "");
}
