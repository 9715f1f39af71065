/**
 * The web console's files on the API port: every path outside `/api/` is
 * the console. Hashed assets under `/assets/` are cached forever; any other
 * path answers `index.html`, never cached, so client-side routes survive a
 * reload and a new build is picked up at once. Every answer carries the
 * console's security headers (a CSP without inline script). Files are read
 * relative to this module, so `deno compile --include gateway/web/dist`
 * embeds them.
 *
 * @module
 */
import type { Context } from "hono";

/** The built console (scripts/build_web.ts). */
const DIST = new URL("./dist/", import.meta.url);

/**
 * No inline script, nothing from elsewhere; `data:` images for the players'
 * icons; the page may not be framed. Inline styles are allowed: xterm.js's
 * renderer and asciinema-player write `<style>` elements at run time (seen as
 * CSP violations in tests/web_console_test.ts), and a style cannot run code.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  // asciinema-player's terminal emulator is WebAssembly: compiling it is allowed, JS eval is not.
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

/** Files read once and kept (the build is immutable while the gateway runs). */
const cache = new Map<string, Uint8Array<ArrayBuffer> | null>();

async function file(name: string): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!cache.has(name)) {
    try {
      cache.set(name, await Deno.readFile(new URL(name, DIST)));
    } catch {
      cache.set(name, null);
    }
  }
  return cache.get(name)!;
}

function answer(body: BodyInit | null, status: number, headers: Record<string, string>): Response {
  return new Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } });
}

/** A Hono handler for GET of any non-API path. */
export async function serveConsole(c: Context): Promise<Response> {
  const path = new URL(c.req.url).pathname;
  const asset = /^\/assets\/([A-Za-z0-9._-]+)$/.exec(path);
  if (asset) {
    const bytes = await file(`assets/${asset[1]}`);
    if (!bytes) return answer("not found\n", 404, { "Content-Type": "text/plain; charset=utf-8" });
    const ext = asset[1].slice(asset[1].lastIndexOf("."));
    return answer(bytes, 200, {
      "Content-Type": TYPES[ext] ?? "application/octet-stream",
      "Cache-Control": "public, max-age=31536000, immutable",
    });
  }
  const index = await file("index.html");
  if (!index) {
    // Not cached: a build in a moment is served at the next request.
    cache.delete("index.html");
    return answer(
      'The web console is not built: run "deno task build:web" (deno task start does it).\n',
      503,
      { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
    );
  }
  return answer(index, 200, { "Content-Type": TYPES[".html"], "Cache-Control": "no-store" });
}
