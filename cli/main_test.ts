import assert from "node:assert/strict";
import { HoopError } from "../proto/errors.ts";
import { closedPort } from "./_fake_api.ts";
import type { Command } from "./command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { captureContext } from "./context.ts";
import { runCli } from "./main.ts";
import { VERSION } from "./version.ts";

async function hoop(args: string[], env: Record<string, string> = {}, commands?: Command[]) {
  const cap = captureContext({ env });
  const code = await runCli(args, cap.ctx, { commands });
  return { code, stdout: cap.stdout(), stderr: cap.stderr() };
}

Deno.test("runCli() prints the usage on stderr and exits 2 for hoop alone (#11)", async () => {
  const r = await hoop([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Usage:\n {2}hoop <command>/);
  assert.match(r.stderr, /admin create agent {3,}Create an agent key/);
});

Deno.test("runCli() prints help on stdout and exits 0 for help, --help, help --help and <cmd> --help", async () => {
  for (const args of [["help"], ["--help"], ["-h"], ["help", "--help"], ["help", "-h"]]) {
    const r = await hoop(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /Usage:\n {2}hoop <command>/);
    assert.match(r.stdout, /admin create agent {3,}Create an agent key/);
    assert.match(r.stdout, /Examples:/);
    assert.equal(r.stderr, "");
  }
  for (
    const args of [["admin", "get", "--help"], ["help", "admin", "get"], [
      "admin",
      "get",
      "agents",
      "-h",
    ]]
  ) {
    const r = await hoop(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /^List agents/);
    assert.match(r.stdout, /Usage:\n {2}hoop admin get /);
    assert.match(r.stdout, /Examples:\n {2}hoop admin get agents/);
  }
  const group = await hoop(["admin", "create"]);
  assert.equal(group.code, 0);
  assert.match(group.stdout, /admin create connection/);
  assert.doesNotMatch(group.stdout, /admin get/);
});

Deno.test("runCli() prints the version for --version, and hoop version adds commit, Deno and platform", async () => {
  const short = await hoop(["--version"]);
  assert.equal(short.code, 0);
  assert.equal(short.stdout, `hoop ${VERSION}\n`);
  const long = await hoop(["version"]);
  assert.equal(long.code, 0);
  const lines = long.stdout.trimEnd().split("\n");
  assert.equal(lines[0], `hoop ${VERSION}`);
  assert.match(lines[1], /^commit: +([0-9a-f]{12}|unknown)$/);
  assert.equal(lines[2], `deno:     ${Deno.version.deno}`);
  assert.equal(lines[3], `platform: ${Deno.build.os}/${Deno.build.arch}`);
});

Deno.test("runCli() rejects an unknown command with exit 2 and the valid commands on stderr", async () => {
  const r = await hoop(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^hoop: unknown command "frobnicate"\nValid commands:\n/);
  assert.match(r.stderr, /admin get/);

  const nested = await hoop(["admin", "create", "widget"]);
  assert.equal(nested.code, 2);
  assert.match(nested.stderr, /^hoop admin create: unknown command "widget"/);
  assert.match(nested.stderr, /admin create agent/);
});

Deno.test("runCli() reports flag and argument mistakes with the usage line and exit 2", async () => {
  const r = await hoop(["admin", "get", "agents", "--x"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split("\n")[0] + "\n" + r.stderr.split("\n")[1],
    'hoop admin get: unknown option "--x"\nUsage: hoop admin get agents|orgkeys|connections|users|sessions|session ID [-o json|table] [flags]',
  );
  const resource = await hoop(["admin", "get", "widgets"]);
  assert.equal(resource.code, 2);
  assert.match(
    resource.stderr,
    /^hoop admin get: unknown resource "widgets": choose one of agents, orgkeys, connections, users, sessions\n/,
  );
  const missing = await hoop(["admin", "create", "agent"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^hoop admin create agent: missing argument NAME\nUsage: hoop admin create agent NAME/,
  );
  const extra = await hoop(["admin", "delete", "agent", "a", "b"]);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^hoop admin delete agent: unexpected argument "b"/);
  const types = await hoop([
    "admin",
    "create",
    "connection",
    "pg",
    "--agent",
    "dev",
    "--tcp",
    "h:1",
    "--command",
    "bash",
  ]);
  assert.equal(types.code, 2);
  assert.match(types.stderr, /only one connection type may be given, got --tcp and --command/);
});

Deno.test("runCli() prints a HoopError with its hint and exit code", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const r = await hoop(["admin", "get", "agents", "--api-url", url]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `hoop: Cannot reach the gateway API at "${url}" (from --api-url): connection refused\n` +
      'Hint: start one with "hoop start gateway" or set --api-url / HOOP_API_URL\n',
  );
});

Deno.test("runCli() reports an unexpected error as internal, with the stack only at debug level", async () => {
  const broken: Command = {
    path: ["broken"],
    summary: "fails",
    usage: "hoop broken",
    help: "",
    options: {},
    run: () => Promise.reject(new TypeError("x is undefined")),
  };
  const quiet = await hoop(["broken"], {}, [broken]);
  assert.equal(quiet.code, 1);
  assert.equal(quiet.stderr, "hoop: internal error: x is undefined\n");
  const debug = await hoop(["broken"], { HOOP_LOG_LEVEL: "debug" }, [broken]);
  assert.match(
    debug.stderr,
    /^hoop: internal error: x is undefined\nTypeError: x is undefined\n\s+at /,
  );

  const failing: Command = {
    ...broken,
    run: () =>
      Promise.reject(new HoopError("not_found", 'Cannot find agent "x": it does not exist')),
  };
  const nf = await hoop(["broken"], {}, [failing]);
  assert.equal(nf.code, 1);
  assert.equal(nf.stderr, 'hoop: Cannot find agent "x": it does not exist\n');
});

Deno.test("runCli() accepts the aliases of a command", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const r = await hoop(["admin", "delete", "orgkey", "--api-url", url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot reach the gateway API/);
});

Deno.test("every registered command has a summary, a usage line and an Examples block", () => {
  const seen = new Set<string>();
  for (const c of COMMANDS) {
    const key = c.path.join(" ");
    assert.ok(!seen.has(key), `duplicate command ${key}`);
    seen.add(key);
    assert.ok(c.summary, key);
    assert.ok(c.usage.startsWith(`hoop ${key}`), key);
    assert.match(c.help, /Examples:\n {2}\S/, key);
  }
});
