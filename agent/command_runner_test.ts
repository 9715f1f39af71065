import assert from "node:assert/strict";
import { HoopError } from "../proto/errors.ts";
import { runCommand } from "./command_runner.ts";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** Runs argv with `input` on stdin; returns the status and both outputs, read concurrently. */
async function run(argv: string[], input = "", opts = {}) {
  const proc = runCommand(argv, opts);
  const writer = proc.stdin.getWriter();
  const [stdout, stderr] = await Promise.all([
    readAll(proc.stdout),
    readAll(proc.stderr),
    writer.write(new TextEncoder().encode(input)).then(() => writer.close()),
  ]);
  return { ...(await proc.status), stdout, stderr };
}

Deno.test("runCommand() keeps stdout and stderr apart and passes the exit code", async () => {
  const result = await run(["sh", "-c", "echo out; echo err >&2; echo out2; exit 7"]);
  assert.deepEqual(result, { code: 7, signal: null, stdout: "out\nout2\n", stderr: "err\n" });
});

Deno.test("runCommand() delivers stdin and closes it", async () => {
  const script = "import sys; data = sys.stdin.read(); print(len(data), data.upper())";
  const result = await run(["python3", "-c", script], "select 1;\n");
  assert.deepEqual(result, { code: 0, signal: null, stdout: "10 SELECT 1;\n\n", stderr: "" });
});

Deno.test("runCommand() carries large outputs on both streams", async () => {
  const size = 2 * 1024 * 1024;
  const result = await run([
    "sh",
    "-c",
    `head -c ${size} /dev/zero | tr '\\0' o; head -c ${size} /dev/zero | tr '\\0' e >&2`,
  ]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "o".repeat(size));
  assert.equal(result.stderr, "e".repeat(size));
});

Deno.test("runCommand() uses the given directory and environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await run(["sh", "-c", 'echo "$PWD $HOOP_TEST_VAR"'], "", {
      cwd: dir,
      env: { HOOP_TEST_VAR: "hello" },
    });
    assert.equal(result.stdout, `${await Deno.realPath(dir)} hello\n`);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("runCommand() kill() reports the signal like a shell", async () => {
  const proc = runCommand(["sleep", "30"]);
  await proc.stdin.close();
  proc.kill();
  assert.deepEqual(await proc.status, { code: 143, signal: "SIGTERM" });
  proc.kill(); // after exit: a no-op, not a throw
  await Promise.all([readAll(proc.stdout), readAll(proc.stderr)]);
});

Deno.test("runCommand() rejects missing, unexecutable and empty commands", async () => {
  assert.throws(
    () => runCommand(["hoop-no-such-program-x"]),
    (err) =>
      err instanceof HoopError && err.code === "not_found" && /hoop-no-such/.test(err.message),
  );
  const file = await Deno.makeTempFile();
  try {
    assert.throws(
      () => runCommand([file]),
      (err) => err instanceof HoopError && err.code === "permission_denied",
    );
  } finally {
    await Deno.remove(file);
  }
  assert.throws(
    () => runCommand([]),
    (err) => err instanceof HoopError && err.code === "invalid_argument",
  );
});

Deno.test("runCommand() kill() stops what the command started too, so its pipes end", async (t) => {
  // The sleep inherits stdout: the stream ends only once the sleep is gone as well.
  const cases: [string, string][] = [
    ["while the command runs", "sleep 300 & echo $!; wait"],
    ["after the command exited and left it running", "sleep 300 & echo $!"],
  ];
  for (const [when, script] of cases) {
    await t.step(when, async () => {
      const proc = runCommand(["sh", "-c", script]);
      await proc.stdin.close();
      const reader = proc.stdout.getReader();
      const decoder = new TextDecoder();
      let out = "";
      while (!out.includes("\n")) {
        out += decoder.decode((await reader.read()).value, { stream: true });
      }
      const sleeper = Number(out.trim());
      assert.ok(sleeper > 1, `sleep's pid in ${JSON.stringify(out)}`);
      if (script.endsWith("$!")) await proc.status;
      proc.kill();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const ended = await Promise.race([
          (async () => {
            while (!(await reader.read()).done) { /* drain */ }
            return true;
          })(),
          new Promise<false>((r) => timer = setTimeout(() => r(false), 10_000)),
        ]);
        assert.equal(ended, true, "stdout still open 10 s after kill(): the sleep kept running");
        await new Response(proc.stderr).text();
        await proc.status;
      } finally {
        clearTimeout(timer);
        try {
          Deno.kill(sleeper, "SIGKILL");
        } catch {
          // Gone, as it should be.
        }
      }
    });
  }
});
