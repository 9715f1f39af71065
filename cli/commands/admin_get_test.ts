import assert from "node:assert/strict";
import { join } from "node:path";
import { apiError, json, type RecordedRequest, startFakeApi } from "../_fake_api.ts";
import { captureContext } from "../context.ts";
import { runCli } from "../main.ts";

const AGENTS = [
  {
    id: "22ab1d2f-0000-4000-8000-000000000001",
    name: "default",
    mode: "standard",
    status: "ONLINE",
    version: "0.1.0",
    hostname: "5601881aa15e",
    platform: "linux/arm64",
    created_at: "2026-01-01T00:00:00Z",
    connected_at: "2026-01-01T00:00:01Z",
    seen_at: "2026-01-01T00:00:02Z",
  },
  {
    id: "7850eb2d-0000-4000-8000-000000000002",
    name: "homolog",
    mode: "standard",
    status: "OFFLINE",
    version: null,
    hostname: null,
    platform: null,
    created_at: "2026-01-01T00:00:00Z",
    connected_at: null,
    seen_at: null,
  },
];

const SESSION = {
  id: "s1",
  user: "alice@example.com",
  connection: "console",
  type: "command",
  agent: "dev",
  verb: "connect",
  status: "closed",
  exit_code: 0,
  bytes_in: 3,
  bytes_out: 12,
  truncated: false,
  error: null,
  started_at: "2026-01-01T10:00:00.000Z",
  ended_at: "2026-01-01T10:03:04.000Z",
};
const EVENTS = [
  { seq: 1, time: "2026-01-01T10:00:00.100Z", kind: "r", data: "120x40" },
  { seq: 2, time: "2026-01-01T10:00:00.500Z", kind: "o", data: "$ " },
  { seq: 3, time: "2026-01-01T10:00:01.000Z", kind: "i", data: "ls\r" },
  { seq: 4, time: "2026-01-01T10:00:01.250Z", kind: "o", data: "a  b\r\n$ " },
];

function handler(req: RecordedRequest): Response {
  switch (req.path) {
    case "/api/agents":
      return json(AGENTS);
    case "/api/sessions":
      return json([SESSION, { ...SESSION, id: "s2", ended_at: null, status: "open" }]);
    case "/api/sessions/s1":
      return json({ session: SESSION, events: EVENTS });
    case "/api/orgkeys":
      return apiError(
        404,
        "not_found",
        "Cannot get the organization key: none exists",
        'run "hoop admin create orgkeys"',
      );
  }
  return apiError(404, "not_found", "no route");
}

async function hoop(url: string, args: string[]) {
  const cap = captureContext({ env: { HOOP_API_URL: url, HOOP_TOKEN: "t" } });
  const code = await runCli(["admin", "get", ...args], cap.ctx);
  return { code, stdout: cap.stdout(), stderr: cap.stderr() };
}

Deno.test("hoop admin get agents prints the agents table and -o json the API objects (fake API)", async () => {
  await using fake = startFakeApi(handler);
  for (const word of ["agents", "agent"]) {
    const table = await hoop(fake.url, [word]);
    assert.equal(table.code, 0);
    assert.equal(
      table.stdout,
      "UID                                    NAME      MODE       VERSION   HOSTNAME       PLATFORM      STATUS\n" +
        "22ab1d2f-0000-4000-8000-000000000001   default   standard   0.1.0     5601881aa15e   linux/arm64   ONLINE\n" +
        "7850eb2d-0000-4000-8000-000000000002   homolog   standard   -         -              -             -\n",
    );
  }
  const out = await hoop(fake.url, ["agents", "-o", "json"]);
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(out.stdout), AGENTS);
});

Deno.test("hoop admin get sessions forwards the filters and shows durations (fake API)", async () => {
  await using fake = startFakeApi(handler);
  const r = await hoop(fake.url, ["sessions", "--user", "alice@example.com", "--limit", "5"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.requests[0].search, "?user=alice%40example.com&limit=5");
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID +USER +CONNECTION +VERB +STATUS +START +DURATION +TRUNCATED$/);
  assert.match(lines[1], /^s1 .* 2026-01-01T10:00:00.000Z +3m04s +-$/);
  assert.match(lines[2], /^s2 .* open +2026-01-01T10:00:00.000Z +- +-$/);

  const bad = await hoop(fake.url, ["sessions", "--limit", "ten"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --limit "ten": expected a positive whole number/);
  const misplaced = await hoop(fake.url, ["agents", "--user", "x"]);
  assert.equal(misplaced.code, 2);
  assert.match(misplaced.stderr, /option "--user" does not apply to agents/);
});

Deno.test("hoop admin get session ID shows details and events, and --cast writes asciicast v2 (fake API)", async () => {
  await using fake = startFakeApi(handler);
  const r = await hoop(fake.url, ["session", "s1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ID: +s1\n/);
  assert.match(r.stdout, /\nDuration: +3m04s\n/);
  assert.match(r.stdout, /\nEvents \(4\):\nTIME +KIND +DATA\n/);
  assert.match(r.stdout, /\n2026-01-01T10:00:01.250Z +o +a {2}b\\r\\n\$ \n/);

  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "s1.cast");
    const cast = await hoop(fake.url, ["session", "s1", "--cast", file]);
    assert.equal(cast.code, 0, cast.stderr);
    assert.equal(cast.stdout, "");
    const lines = (await Deno.readTextFile(file)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { version: 2, width: 120, height: 40, timestamp: Date.parse(SESSION.started_at) / 1000 },
      [0.1, "r", "120x40"],
      [0.5, "o", "$ "],
      [1, "i", "ls\r"],
      [1.25, "o", "a  b\r\n$ "],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hoop admin get orgkeys passes the API's not-found error and hint through (fake API)", async () => {
  await using fake = startFakeApi(handler);
  const r = await hoop(fake.url, ["orgkeys"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'hoop: Cannot get the organization key: none exists\nHint: run "hoop admin create orgkeys"\n',
  );
});
