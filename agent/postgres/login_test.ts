import assert from "node:assert/strict";
import { parsePostgresUri } from "../../proto/postgres_uri.ts";
import { PostgresConnectError } from "./connect_error.ts";
import { connectPostgres, md5Password } from "./login.ts";

Deno.test("md5Password() matches libpq's md5(md5(password + user) + salt)", () => {
  assert.equal(
    md5Password("app", "pencil", new Uint8Array([1, 2, 3, 4])),
    "md54bfca4ca571b8df74c2fc2247888d96f",
  );
});

Deno.test("connectPostgres() gives up on a server that accepts and never answers, at connect_timeout, in every sslmode (a bare TCP listener stands in for the server)", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of server) held.push(c); // accepted, never answered
    } catch {
      // Listener closed.
    }
  })();
  try {
    // At once: each waits the whole connect_timeout (libpq's minimum, 2 s).
    await Promise.all(["disable", "prefer", "require"].map(async (sslmode) => {
      const cfg = parsePostgresUri(
        `postgres://app:pw@127.0.0.1:${port}/app?sslmode=${sslmode}&connect_timeout=2`,
      );
      let timer!: ReturnType<typeof setTimeout>;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`sslmode=${sslmode}: still waiting at 10 s`)),
          10_000,
        );
      });
      await assert.rejects(Promise.race([connectPostgres(cfg), deadline]), (err: unknown) => {
        assert.ok(err instanceof PostgresConnectError, String(err));
        assert.match(err.message, /timed out after 2 s/, `sslmode=${sslmode}: ${err.message}`);
        return true;
      }).finally(() => clearTimeout(timer));
    }));
  } finally {
    server.close();
    await accepting;
    for (const c of held) c.close();
  }
});
