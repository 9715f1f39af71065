/**
 * The API the web console uses, driven the way a browser does: the session
 * cookie with its CSRF token and Origin checks, against a real gateway.
 */
import assert from "node:assert/strict";
import type { WebSessionResponse } from "../proto/api_types.ts";
import type {
  RunCommandResponse,
  RunPostgresResponse,
  TerminalServerMessage,
} from "../proto/api_types.ts";
import {
  createUser,
  freePort,
  type GatewayProcess,
  hoopOk,
  type Identity,
  signupAdmin,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";
import { makeTestCerts } from "./_tls.ts";
import { MAX_RUN_OUTPUT_BYTES } from "../gateway/api/run.ts";

if (POSTGRES_SKIP_REASON) console.warn(`web_api_test: SQL steps skipped: ${POSTGRES_SKIP_REASON}`);

/** True while a process with exactly this command line (NUL-separated, as in /proc) runs. */
async function runningCommandLine(cmdline: string): Promise<boolean> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (await Deno.readTextFile(`/proc/${e.name}/cmdline`) === cmdline) return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

/** A browser-like client: remembers the session cookie, sends the API's Origin. */
interface Browser {
  cookie: string;
  /** The whole `Set-Cookie` of the login. */
  cookieHeader: string;
  csrf: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

async function signIn(
  gw: GatewayProcess,
  email: string,
  password: string,
  client?: Deno.HttpClient,
): Promise<Browser> {
  const res = await fetch(`${gw.apiUrl}/api/web/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.apiUrl },
    body: JSON.stringify({ email, password }),
    client,
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json() as WebSessionResponse;
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  return {
    cookie,
    csrf: body.csrf_token,
    cookieHeader: res.headers.get("set-cookie") ?? "",
    fetch: (path, init = {}) =>
      fetch(`${gw.apiUrl}${path}`, {
        client,
        ...init,
        headers: { cookie, origin: gw.apiUrl, ...init.headers as Record<string, string> },
      }),
  };
}

async function createConnection(admin: Identity, name: string, flags: string[]): Promise<void> {
  await hoopOk(["admin", "create", "connection", name, "--agent", "dev", ...flags], {
    env: admin.env,
  });
}

async function postJson<T>(b: Browser, path: string, body: unknown): Promise<[number, T]> {
  const res = await b.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hoop-csrf": b.csrf },
    body: JSON.stringify(body),
  });
  return [res.status, await res.json() as T];
}

/** Headers of a WebSocket handshake, for asserting the HTTP refusals before an upgrade. */
const WS_UPGRADE = {
  upgrade: "websocket",
  connection: "upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
};

/** A terminal WebSocket as the console drives it: output collected, text messages kept. */
interface Terminal {
  socket: WebSocket;
  /** Output so far (binary messages, decoded). */
  output(): string;
  /** Text messages so far, parsed. */
  messages: TerminalServerMessage[];
  /** Wait (with a deadline, 20 s unless given) until the output after `since` matches `re`. */
  waitOutput(re: RegExp, since?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Type `text` as keystrokes. */
  type(text: string): void;
  closed: Promise<CloseEvent>;
}

function openTerminal(gw: GatewayProcess, b: Browser, name: string, query: string): Terminal {
  const url = `${gw.apiUrl.replace(/^http/, "ws")}/api/connections/${name}/terminal?${query}`;
  // Deno's WebSocket takes headers, as a browser sends the cookie and its Origin.
  const socket = new WebSocket(url, {
    headers: { cookie: b.cookie, origin: gw.apiUrl },
  } as unknown as string[]);
  socket.binaryType = "arraybuffer";
  let out = "";
  const decoder = new TextDecoder();
  const messages: TerminalServerMessage[] = [];
  socket.onmessage = (ev) => {
    if (typeof ev.data === "string") messages.push(JSON.parse(ev.data));
    else out += decoder.decode(new Uint8Array(ev.data), { stream: true });
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  return {
    socket,
    output: () => out,
    messages,
    waitOutput: async (re, since = 0, timeoutMs = 20_000) =>
      (await waitFor<RegExpExecArray | null>(() => re.exec(out.slice(since)), {
        timeoutMs,
        message: `terminal output ${re}`,
      }))!,
    type: (text) => socket.send(new TextEncoder().encode(text)),
    closed,
  };
}

/** An event stream as the console reads it. */
interface EventStream {
  status: number;
  events: { event: string; data: unknown }[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Wait (with a deadline) for an event named `event` whose data passes `test`. */
  next<T>(event: string, test?: (data: T) => boolean): Promise<T>;
  cancel(): Promise<void>;
}

async function openEvents(b: Browser): Promise<EventStream> {
  const res = await b.fetch("/api/events");
  const events: { event: string; data: unknown }[] = [];
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    return {
      status: res.status,
      events,
      ended: Promise.resolve(),
      next: () => Promise.reject(new Error(`no stream: ${res.status}`)),
      cancel: () => Promise.resolve(),
    };
  }
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
        let end;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // Cancelled.
    }
  })();
  return {
    status: res.status,
    events,
    ended,
    next: async <T>(event: string, test: (data: T) => boolean = () => true) =>
      (await waitFor(
        () => events.find((e) => e.event === event && test(e.data as T))?.data as T | undefined,
        { timeoutMs: 20_000, message: `an event "${event}"` },
      ))!,
    cancel: async () => {
      await reader.cancel().catch(() => {});
      await ended;
    },
  };
}

Deno.test("the web console's API against a real gateway, agent and PostgreSQL", async (t) => {
  await using pg = POSTGRES_SKIP_REASON ? undefined : await startPostgres();
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
    .trim();
  await using _agent = await startAgent(key);
  await createConnection(admin, "sh", ["--command", "sh", "--groups", "ops"]);
  await createConnection(admin, "py", ["--command", "python3 -q -i"]);
  await createConnection(admin, "web", ["--tcp", "127.0.0.1:1"]);
  // An agent that never starts: its connection is offline.
  await hoopOk(["admin", "create", "agent", "away"], { env: admin.env });
  await hoopOk(["admin", "create", "connection", "off", "--agent", "away", "--command", "sh"], {
    env: admin.env,
  });
  if (pg) {
    const url = await pg.createUser("app", "app-pw-42", "app");
    await createConnection(admin, "pg", ["--postgres", url]);
  }

  await t.step("web login sets an HttpOnly, SameSite=Strict session cookie", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as WebSessionResponse;
    assert.equal(body.user.email, admin.email);
    assert.match(body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Date.parse(body.expires_at) > Date.now());
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^hoop_session=xtok-[^;]+; /);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, /; Max-Age=\d+/);
    assert.doesNotMatch(cookie, /Secure/, "plain HTTP: no Secure flag");
    assert.ok(!JSON.stringify(body).includes("xtok-"), "the token itself is only in the cookie");
  });

  await t.step("a wrong password is refused as by /api/login", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: admin.email, password: "nope-nope-nope" }),
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.match((await res.json()).error.message, /wrong email or password/);
  });

  await t.step("a login from a foreign Origin is refused", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("set-cookie"), null);
    await res.body?.cancel();
  });

  const browser = await signIn(gw, admin.email, admin.password);

  await t.step("the cookie authenticates GETs, and /api/web/session answers", async () => {
    const conns = await browser.fetch("/api/connections");
    assert.equal(conns.status, 200);
    await conns.body?.cancel();
    const s = await browser.fetch("/api/web/session");
    assert.equal(s.status, 200);
    const body = await s.json() as WebSessionResponse;
    assert.equal(body.user.email, admin.email);
    assert.equal(body.csrf_token, browser.csrf);
    const none = await fetch(`${gw.apiUrl}/api/web/session`);
    assert.equal(none.status, 401);
    await none.body?.cancel();
  });

  const newUser = (email: string, headers: Record<string, string>) =>
    browser.fetch("/api/users", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ email, password: "user-password-123", role: "user" }),
    });

  await t.step("a cookie POST without or with a wrong CSRF token is 403", async () => {
    const tries: Record<string, string>[] = [{}, { "x-hoop-csrf": "A".repeat(43) }, {
      "x-hoop-csrf": "short",
    }];
    for (const headers of tries) {
      const res = await newUser("csrf@example.com", headers);
      assert.equal(res.status, 403);
      const err = (await res.json()).error;
      assert.equal(err.code, "permission_denied");
      assert.equal(err.message, "Missing or wrong CSRF token");
      assert.equal(err.hint, "reload the page");
    }
  });

  await t.step("a cookie POST with the CSRF token but a foreign Origin is 403", async () => {
    const res = await newUser("csrf@example.com", {
      "x-hoop-csrf": browser.csrf,
      origin: "http://evil.example",
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });

  await t.step("a cookie POST with the CSRF token works", async () => {
    const res = await newUser("csrf@example.com", { "x-hoop-csrf": browser.csrf });
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
  });

  await t.step("another session's CSRF token does not fit this cookie", async () => {
    const other = await signIn(gw, admin.email, admin.password);
    assert.notEqual(other.csrf, browser.csrf);
    const res = await newUser("csrf2@example.com", { "x-hoop-csrf": other.csrf });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });

  await t.step("a bearer token needs no CSRF token", async () => {
    const user = await createUser(gw, admin, "bearer@example.com");
    const login = await fetch(`${gw.apiUrl}/api/login`, {
      method: "POST",
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const { token } = await login.json();
    const res = await fetch(`${gw.apiUrl}/api/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, origin: "http://evil.example" },
    });
    assert.equal(res.status, 204);
  });

  await t.step({
    name: "run: select 42, then an SQL error in place after the earlier results",
    ignore: !pg,
    fn: async () => {
      const [status, r] = await postJson<RunPostgresResponse>(browser, "/api/connections/pg/run", {
        input: "select 42 as answer",
      });
      assert.equal(status, 200, JSON.stringify(r));
      assert.equal(r.type, "postgres");
      assert.deepEqual(r.results, [{
        command: "SELECT 1",
        columns: [{ name: "answer", type_oid: 23 }],
        rows: [["42"]],
      }]);
      assert.equal(r.error, undefined);
      const [, bad] = await postJson<RunPostgresResponse>(browser, "/api/connections/pg/run", {
        input: "select 1 as a; select null as b; select nope; select 3",
      });
      assert.deepEqual(bad.results.map((x) => x.rows), [[["1"]], [[null]]]);
      assert.equal(bad.error?.code, "42703");
      assert.match(bad.error?.message ?? "", /column "nope" does not exist/);
    },
  });

  let runSession = "";
  await t.step("run: a command's stdout, stderr and exit code", async () => {
    const [status, r] = await postJson<RunCommandResponse>(browser, "/api/connections/sh/run", {
      input: 'echo out; echo err >&2; read x; echo "got $x"; exit 7',
    });
    assert.equal(status, 200, JSON.stringify(r));
    assert.deepEqual(
      { ...r, session_id: "" },
      {
        session_id: "",
        type: "command",
        stdout: "out\ngot \n",
        stderr: "err\n",
        exit_code: 7,
        truncated: false,
      },
    );
    runSession = r.session_id;
  });

  await t.step("run: recorded as an exec session with its input", async () => {
    const res = await browser.fetch(`/api/sessions/${runSession}`);
    const { session, events } = await res.json();
    assert.equal(session.verb, "exec");
    assert.equal(session.user, admin.email);
    assert.equal(session.connection, "sh");
    assert.equal(session.exit_code, 7);
    const input = events.filter((e: { kind: string }) => e.kind === "i").map((
      e: { data: string },
    ) => e.data).join("");
    assert.match(input, /^echo out; echo err/);
    const listed = await browser.fetch("/api/sessions?verb=exec&connection=sh&status=done");
    assert.deepEqual((await listed.json()).map((x: { id: string }) => x.id), [runSession]);
    const cast = await browser.fetch(`/api/sessions/${runSession}/cast`);
    assert.equal(cast.status, 412, "an exec session has no terminal recording");
    await cast.body?.cancel();
  });

  await t.step("run: a tcp connection is 412, a missing input 400", async () => {
    const [status, r] = await postJson<{ error: { message: string; hint: string } }>(
      browser,
      "/api/connections/web/run",
      { input: "x" },
    );
    assert.equal(status, 412);
    assert.equal(r.error.hint, 'use "hoop connect web"');
    const [status2] = await postJson(browser, "/api/connections/sh/run", {});
    assert.equal(status2, 400);
  });

  await t.step("run: output past MAX_RUN_OUTPUT_BYTES is cut and says so", async () => {
    const [status, r] = await postJson<RunCommandResponse>(browser, "/api/connections/sh/run", {
      // Endless, so the command is still going when the cap cuts it.
      input: "tr '\\0' x < /dev/zero",
    });
    assert.equal(status, 200);
    assert.equal(r.truncated, true);
    assert.equal(r.exit_code, null);
    assert.equal(r.stdout.length, MAX_RUN_OUTPUT_BYTES);
    assert.match(r.error ?? "", /output passed 16777216 bytes: the session was cut/);
    const recorded = await waitFor(async () => {
      const { session } = await (await browser.fetch(`/api/sessions/${r.session_id}`)).json();
      return session.status === "open" ? undefined : session;
    }, { timeoutMs: 20_000, message: "the cut run's session to close" });
    assert.match(recorded.error, /output passed 16777216 bytes/);
    // The agent stops the command and what it started (tr runs under sh), and says so once.
    await waitFor(async () => !(await runningCommandLine("tr\0\\0\0x\0")), {
      message: "the cut run's tr to be stopped",
    });
    assert.equal(_agent.log.text.match(/exec client went away/g)?.length, 1, _agent.log.tail());
  });

  await t.step("an offline agent: the run and the terminal say so", async () => {
    const [status, r] = await postJson<{ error: { message: string } }>(
      browser,
      "/api/connections/off/run",
      { input: "echo hi" },
    );
    assert.equal(status, 503, JSON.stringify(r));
    assert.match(r.error.message, /away/);
    const term = openTerminal(gw, browser, "off", `cols=80&rows=24&csrf=${browser.csrf}`);
    await term.closed;
    const last = term.messages.at(-1) as { type: string; message: string };
    assert.equal(last.type, "error");
    assert.match(last.message, /away/);
  });

  let consoleSession = "";
  await t.step(
    "terminal: python prints 42, sees a resize, and exit(3) is the exit code",
    async () => {
      const term = openTerminal(gw, browser, "py", `cols=91&rows=27&csrf=${browser.csrf}`);
      await term.waitOutput(/>>> $/);
      assert.equal(term.messages[0].type, "session");
      consoleSession = (term.messages[0] as { session_id: string }).session_id;
      let mark = term.output().length;
      term.type("print(6*7)\r");
      await term.waitOutput(/\n42\r?\n>>> $/, mark);
      const size = /columns=(\d+), lines=(\d+)\)\r?\n>>> $/;
      mark = term.output().length;
      term.type("import shutil; shutil.get_terminal_size()\r");
      const first = await term.waitOutput(size, mark);
      assert.deepEqual([first[1], first[2]], ["91", "27"]);
      term.socket.send(JSON.stringify({ type: "resize", cols: 120, rows: 40 }));
      // Asked again until python answers 120x40. A resize landing while readline
      // reads the line makes it redraw the prompt (so the answer need not end
      // the output), and may cost the line, hence a short wait per question.
      const resized = /columns=(\d+), lines=(\d+)\)/;
      await waitFor(async () => {
        const m = term.output().length;
        term.type("shutil.get_terminal_size()\r");
        const got = await term.waitOutput(resized, m, 3_000);
        return got[1] === "120" && got[2] === "40" ? true : undefined;
      }, { timeoutMs: 30_000, message: "python to see 120x40" });
      mark = term.output().length;
      term.type("print(6*7)\r");
      await term.waitOutput(/\n42\r?\n>>> $/, mark);
      term.type("exit(3)\r");
      await term.closed;
      assert.deepEqual(term.messages.at(-1), { type: "exit", code: 3 });
    },
  );

  await t.step("the console's cast has the recorded size and the resize", async () => {
    const res = await browser.fetch(`/api/sessions/${consoleSession}/cast`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-asciicast");
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="hoop-session-${consoleSession}.cast"`,
    );
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].version, 2);
    assert.equal(lines[0].width, 91);
    assert.equal(lines[0].height, 27);
    assert.ok(lines.some((l) => l[1] === "r" && l[2] === "120x40"), "the resize is an r event");
    assert.ok(lines.some((l) => l[1] === "o" && String(l[2]).includes("42")));
    const session = await (await browser.fetch(`/api/sessions/${consoleSession}`)).json();
    assert.equal(session.session.verb, "console");
    assert.equal(session.session.exit_code, 3);
  });

  await t.step(
    "terminal: a 2 MB output arrives whole; an oversized message ends the session with a recorded reason",
    async () => {
      const term = openTerminal(gw, browser, "py", `cols=80&rows=24&csrf=${browser.csrf}`);
      await term.waitOutput(/>>> $/);
      const id = (term.messages[0] as { session_id: string }).session_id;
      // First a large output: it arrives whole and the terminal goes on.
      const mark = term.output().length;
      term.type("print(chr(120) * 2000000)\r"); // no "x" in the echoed line
      await waitFor(
        () => term.output().length - mark > 2_000_000 && term.output().endsWith(">>> "),
        { timeoutMs: 30_000, message: "2 MB of output and the next prompt" },
      );
      assert.equal(term.output().slice(mark).split("x").length - 1, 2_000_000);
      term.socket.send(new Uint8Array(100 * 1024));
      await term.closed;
      const last = term.messages.at(-1);
      assert.equal(last?.type, "error");
      assert.match((last as { message: string }).message, /over the limit of 65536/);
      const recorded = await waitFor(async () => {
        const { session } = await (await browser.fetch(`/api/sessions/${id}`)).json();
        return session.status === "open" ? undefined : session;
      }, { timeoutMs: 20_000, message: "the session to close" });
      assert.equal(recorded.status, "error");
      assert.match(recorded.error, /message of 102400 bytes, over the limit of 65536/);
      const health = await fetch(`${gw.apiUrl}/api/healthz`);
      assert.equal(health.status, 200, "the gateway lives on");
      await health.body?.cancel();
    },
  );

  await t.step(
    "terminal: what the browser sends as the socket opens is not lost; Ctrl-C interrupts",
    async () => {
      const term = openTerminal(gw, browser, "py", `cols=80&rows=24&csrf=${browser.csrf}`);
      // Before the session message: the agent's side is not there yet.
      term.socket.addEventListener("open", () => {
        term.socket.send(JSON.stringify({ type: "resize", cols: 91, rows: 33 }));
        term.type("import shutil; print(tuple(shutil.get_terminal_size()))\r");
      }, { once: true });
      await term.waitOutput(/\(91, 33\)\r?\n>>> $/);
      // Ctrl-C is a keystroke like any other: the terminal makes it SIGINT.
      const mark = term.output().length;
      term.type("import time; time.sleep(600)\r");
      await term.waitOutput(/sleep\(600\)\r?\n$/, mark);
      term.type("\x03");
      await term.waitOutput(/KeyboardInterrupt\r?\n>>> $/, mark);
      term.type("exit(5)\r");
      await term.closed;
      assert.deepEqual(term.messages.at(-1), { type: "exit", code: 5 });
    },
  );

  await t.step("terminal: a text message is measured in UTF-8 bytes", async () => {
    const term = openTerminal(gw, browser, "py", `cols=80&rows=24&csrf=${browser.csrf}`);
    await term.waitOutput(/>>> $/);
    // 25,000 UTF-16 units, 75,000 bytes on the wire.
    term.socket.send("\u20ac".repeat(25_000));
    await term.closed;
    const last = term.messages.at(-1) as { type: string; message: string };
    assert.equal(last.type, "error");
    assert.match(last.message, /message of 75000 bytes, over the limit of 65536/);
  });

  await t.step(
    "terminal: refused without the csrf parameter or from a foreign Origin",
    async () => {
      for (
        const [query, origin] of [["cols=80&rows=24", gw.apiUrl], [
          `csrf=${browser.csrf}`,
          "http://evil.example",
        ]]
      ) {
        const res = await fetch(`${gw.apiUrl}/api/connections/py/terminal?${query}`, {
          headers: { cookie: browser.cookie, origin, ...WS_UPGRADE },
        });
        assert.equal(res.status, 403, query);
        await res.body?.cancel();
      }
    },
  );

  await t.step(
    "events: connections, agents and running sessions, sent when they change",
    async () => {
      const stream = await openEvents(browser);
      try {
        const conns = await stream.next<{ name: string }[]>("connections");
        assert.deepEqual(
          conns.map((c) => c.name).sort(),
          pg ? ["off", "pg", "py", "sh", "web"] : ["off", "py", "sh", "web"],
        );
        const agents = await stream.next<{ name: string; status: string }[]>("agents");
        assert.deepEqual(agents.map((a) => [a.name, a.status]).sort(), [
          ["away", "OFFLINE"],
          ["dev", "ONLINE"],
        ]);
        await stream.next<unknown[]>("sessions", (s) => s.length === 0);
        const term = openTerminal(gw, browser, "py", `cols=80&rows=24&csrf=${browser.csrf}`);
        await term.waitOutput(/>>> $/);
        const id = (term.messages[0] as { session_id: string }).session_id;
        const running = await stream.next<{ id: string; status: string }[]>(
          "sessions",
          (s) => s.some((x) => x.id === id),
        );
        assert.equal(running[0].status, "open");
        term.type("exit(0)\r");
        await term.closed;
        // A later sessions event, without it: the change is sent.
        await waitFor(() => {
          const sessions = stream.events.filter((e) => e.event === "sessions")
            .map((e) => e.data as { id: string }[]);
          const shown = sessions.findIndex((list) => list.some((x) => x.id === id));
          return sessions.slice(shown + 1).some((list) => list.length === 0);
        }, { timeoutMs: 20_000, message: "a sessions event without the ended console" });
        assert.equal(
          stream.events.filter((e) => e.event === "connections").length,
          1,
          "unchanged: sent once",
        );
      } finally {
        await stream.cancel();
      }
    },
  );

  await t.step(
    "a non-admin: no sessions, no casts, only their connections, no foreign terminal or run",
    async () => {
      const user = await createUser(gw, admin, "ops@example.com", { groups: ["ops"] });
      const ops = await signIn(gw, user.email, user.password);
      for (const path of ["/api/sessions", `/api/sessions/${consoleSession}/cast`]) {
        const res = await ops.fetch(path);
        assert.equal(res.status, 403, path);
        await res.body?.cancel();
      }
      const refused = await fetch(`${gw.apiUrl}/api/connections/py/terminal?csrf=${ops.csrf}`, {
        headers: { cookie: ops.cookie, origin: gw.apiUrl, ...WS_UPGRADE },
      });
      assert.equal(refused.status, 403);
      assert.match((await refused.json()).error.message, /Access denied to connection "py"/);
      const [runRefused] = await postJson(ops, "/api/connections/py/run", { input: "1" });
      assert.equal(runRefused, 403, "no run outside their groups");
      const [runOk, ran] = await postJson<RunCommandResponse>(
        ops,
        "/api/connections/sh/run",
        { input: "echo mine" },
      );
      assert.equal(runOk, 200);
      assert.equal(ran.stdout, "mine\n");

      const streams = [];
      for (let i = 0; i < 8; i++) streams.push(await openEvents(ops));
      const ninth = await openEvents(ops);
      assert.equal(ninth.status, 429, "MAX_EVENT_STREAMS_PER_USER");
      for (const s of streams.slice(1)) await s.cancel();
      const stream = streams[0];
      const conns = await stream.next<{ name: string }[]>("connections");
      assert.deepEqual(conns.map((c) => c.name), ["sh"]);
      // Logging out ends the stream; by then it never carried admin events.
      const out = await ops.fetch("/api/web/logout", {
        method: "POST",
        headers: { "x-hoop-csrf": ops.csrf },
      });
      assert.equal(out.status, 204);
      await stream.ended;
      assert.deepEqual([...new Set(stream.events.map((e) => e.event))], ["connections"]);
    },
  );

  await t.step("session filters with bad values are 400 naming the field", async () => {
    for (
      const [query, field] of [
        ["verb=dance", "verb"],
        ["status=closed", "status"],
        ["since=yesterday", "since"],
        ["until=2026-13-45", "until"],
        ["since=1", "since"],
      ]
    ) {
      const res = await browser.fetch(`/api/sessions?${query}`);
      assert.equal(res.status, 400, query);
      assert.match((await res.json()).error.message, new RegExp(`^Invalid ${field} `));
    }
    const ok = await browser.fetch("/api/sessions?verb=exec&status=done&since=2026-01-01T00:00Z");
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const missing = await browser.fetch("/api/sessions/nope/cast");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  await t.step("web logout needs CSRF, revokes the token and clears the cookie", async () => {
    const refused = await browser.fetch("/api/web/logout", { method: "POST" });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
    const res = await browser.fetch("/api/web/logout", {
      method: "POST",
      headers: { "x-hoop-csrf": browser.csrf },
    });
    assert.equal(res.status, 204);
    assert.match(res.headers.get("set-cookie") ?? "", /^hoop_session=; .*Max-Age=0/);
    const after = await browser.fetch("/api/connections");
    assert.equal(after.status, 401);
    assert.match((await after.json()).error.message, /revoked/);
  });

  await t.step(
    "the gateway shuts down cleanly with an event stream and a terminal open",
    async () => {
      const again = await signIn(gw, admin.email, admin.password);
      const stream = await openEvents(again);
      await stream.next("connections");
      const term = openTerminal(gw, again, "py", `cols=80&rows=24&csrf=${again.csrf}`);
      await term.waitOutput(/>>> $/);
      gw.kill("SIGTERM");
      const status = await gw.status;
      assert.equal(status.code, 0, "exited on its own, not killed");
      await stream.ended;
      await term.closed;
      assert.deepEqual(term.messages.at(-1), {
        type: "error",
        message: "the gateway is shutting down",
      });
    },
  );
});

Deno.test("the web console's API on a TLS gateway: a Secure cookie, and runs through its TLS data port", async () => {
  await using certs = await makeTestCerts();
  // The gateway verifies its own data port against its certificate file: give it the chain.
  const fullChain = `${certs.dir}/fullchain.pem`;
  await Deno.writeTextFile(fullChain, (await Deno.readTextFile(certs.certFile)) + certs.caCert);
  const grpcPort = freePort();
  await using gw = await startGateway({
    ports: { grpc: grpcPort, api: 0, data: 0 },
    args: ["--tls-cert", fullChain, "--tls-key", certs.keyFile],
    env: { HOOP_GRPC_URL: `grpcs://127.0.0.1:${grpcPort}` },
  });
  const admin = await signupAdmin({ ...gw, env: { ...gw.env, HOOP_TLSCA: certs.caCertFile } });
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout.trim();
  await using _agent = await startAgent(key, { env: { HOOP_TLSCA: certs.caCertFile } });
  await createConnection(admin, "sh", ["--command", "sh"]);
  using client = Deno.createHttpClient({ caCerts: [certs.caCert] });
  const browser = await signIn(gw, admin.email, admin.password, client);
  assert.match(browser.cookieHeader, /; Secure/);
  const [status, r] = await postJson<RunCommandResponse>(browser, "/api/connections/sh/run", {
    input: "echo over tls",
  });
  assert.equal(status, 200, JSON.stringify(r));
  assert.equal(r.stdout, "over tls\n");
  assert.equal(r.exit_code, 0);
});
