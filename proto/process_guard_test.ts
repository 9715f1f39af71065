import assert from "node:assert/strict";

// A real process: the guard must keep it alive through a crafted rejection and
// a throw from a timer, which would otherwise end it with exit code 1.
const SCRIPT = `
import { Logger } from "${new URL("./log.ts", import.meta.url).href}";
import { installProcessGuard } from "${new URL("./process_guard.ts", import.meta.url).href}";
installProcessGuard(new Logger({ component: "test" }, { level: "info" }));
Promise.reject(new Error("crafted rejection"));
setTimeout(() => { throw new Error("crafted throw"); }, 0);
await new Promise((r) => setTimeout(r, 100));
console.log("still serving");
`;

Deno.test("installProcessGuard() logs a crafted unhandled rejection and keeps the process alive", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", SCRIPT],
    env: { NO_COLOR: "1", HOOP_LOG_FORMAT: "text" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(stdout.trim(), "still serving");
  assert.match(stderr, /ERROR unhandled rejection .* err=Error: crafted rejection\\n\s*at /);
  assert.match(stderr, /ERROR uncaught exception .* err=Error: crafted throw/);
});
