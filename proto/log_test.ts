import assert from "node:assert/strict";
import { Logger, redact } from "./log.ts";

function capture(opts: { json?: boolean; level?: "debug" | "info" | "warn" | "error" } = {}) {
  const lines: string[] = [];
  const logger = new Logger({}, { sink: { write: (l) => lines.push(l) }, ...opts });
  return { logger, lines };
}

Deno.test("redact() hides URI passwords, agent keys and tokens", () => {
  assert.equal(
    redact("postgres://app:s3cret@db:5432/app"),
    "postgres://app:***@db:5432/app",
  );
  assert.equal(
    redact("grpc://dev:xagt-mzv7CRgUs23TgHpk0XNmll0TO37qfwM0D3JGQpwGPa8@gw:8010?mode=standard"),
    "grpc://dev:***@gw:8010?mode=standard",
  );
  assert.equal(redact("key xagt-abcDEF_12-3 and xtok-zzz"), "key xagt-*** and xtok-***");
});

Deno.test("Logger never prints a key, token or password, in text or JSON", () => {
  for (const json of [false, true]) {
    const { logger, lines } = capture({ json });
    logger.with({ agent: "dev" }).info("connected postgres://u:pw1@h/db", {
      password: "pw2",
      token: "xtok-tokentoken",
      dsn: "grpc://dev:xagt-secretsecret@h:1",
      err: new Error("failed for postgres://u:pw3@h/db"),
      note: "xagt-inlinekey",
    });
    assert.equal(lines.length, 1);
    for (const secret of ["pw1", "pw2", "tokentoken", "secretsecret", "pw3", "inlinekey"]) {
      assert.ok(!lines[0].includes(secret), `${secret} leaked in ${lines[0]}`);
    }
    assert.match(lines[0], /dev/);
  }
});

Deno.test("Logger writes JSON lines with fixed keys when asked", () => {
  const { logger, lines } = capture({ json: true });
  logger.with({ sid: "s1" }).warn("session failed", { conn: "pgdemo" });
  const obj = JSON.parse(lines[0]);
  assert.equal(obj.level, "warn");
  assert.equal(obj.msg, "session failed");
  assert.equal(obj.sid, "s1");
  assert.equal(obj.conn, "pgdemo");
  assert.match(obj.time, /^\d{4}-\d\d-\d\dT/);
});

Deno.test("Logger drops lines below its level", () => {
  const { logger, lines } = capture({ level: "warn" });
  logger.debug("a");
  logger.info("b");
  logger.warn("c");
  logger.error("d");
  assert.deepEqual(lines.map((l) => l.split(" ").slice(1, 3).join(" ")), ["WARN c", "ERROR d"]);
});

Deno.test("Logger text lines escape control characters a peer could send", () => {
  const lines: string[] = [];
  const log = new Logger({}, { sink: { write: (l) => lines.push(l) }, level: "info" });
  log.info("agent online", { hostname: "h\n2026-01-01T00:00:00.000Z ERROR forged", v: "\x1b[2J" });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("\n"));
  assert.ok(!lines[0].includes("\x1b"));
  assert.match(lines[0], /hostname=h\\n2026-01-01T00:00:00\.000Z ERROR forged v=\\x1b\[2J$/);
});
