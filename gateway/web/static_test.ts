import assert from "node:assert/strict";
import { Hono } from "hono";
import { buildWeb } from "../../scripts/build_web.ts";
import { CONSOLE_CSP, serveConsole } from "./static.ts";

const app = new Hono().get("*", serveConsole);
const get = (path: string) => app.request(`http://console.test${path}`);

Deno.test("serveConsole() answers client routes with index.html and assets by their hashed names", async () => {
  await buildWeb();
  const manifest = JSON.parse(
    await Deno.readTextFile(new URL("./dist/manifest.json", import.meta.url)),
  ) as Record<string, string>;
  for (const path of ["/", "/connections", "/sessions/abc?user=x"]) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("content-security-policy"), CONSOLE_CSP);
    const html = await res.text();
    assert.ok(html.includes(`src="${manifest["main.js"]}"`), path);
    assert.doesNotMatch(html, /<script>(?!<\/script>)/, "no inline script");
  }
  const js = await get(manifest["main.js"]);
  assert.equal(js.status, 200);
  assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.match(js.headers.get("content-type")!, /^text\/javascript/);
  assert.equal(js.headers.get("x-content-type-options"), "nosniff");
  assert.equal(js.headers.get("x-frame-options"), "DENY");
  assert.equal(js.headers.get("referrer-policy"), "no-referrer");
  await js.body?.cancel();
});

Deno.test("serveConsole() answers 404 for an unknown asset and never leaves the build folder", async () => {
  for (const path of ["/assets/nope-123.js", "/assets/..%2Fmanifest.json", "/assets/a/b.js"]) {
    const res = await get(path);
    assert.notEqual(res.headers.get("cache-control"), "public, max-age=31536000, immutable", path);
    const body = await res.text();
    assert.doesNotMatch(body, /"main\.js"/, `${path} does not serve the manifest`);
    if (path === "/assets/nope-123.js") assert.equal(res.status, 404);
  }
});
