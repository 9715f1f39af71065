import assert from "node:assert/strict";
import { type Command, parseCommandArgs, UsageError } from "./command.ts";

const command: Command = {
  path: ["test"],
  summary: "",
  usage: "hoop test",
  help: "",
  options: {
    name: { type: "string" },
    verbose: { type: "boolean" },
    out: { type: "string", short: "o" },
  },
  allowPositionals: 1,
  run: () => Promise.resolve(0),
};

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError);
    return err.message;
  }
  assert.fail("expected a UsageError");
}

Deno.test("parseCommandArgs() keeps numeric-looking values as strings", () => {
  const args = parseCommandArgs(command, ["--name", "0123", "-o", "json", "42"]);
  assert.deepEqual({ ...args.values }, { name: "0123", out: "json" });
  assert.deepEqual(args.positionals, ["42"]);
});

Deno.test("parseCommandArgs() names unknown options, missing values and extra arguments", () => {
  assert.equal(usageMessage(() => parseCommandArgs(command, ["--x"])), 'unknown option "--x"');
  assert.equal(usageMessage(() => parseCommandArgs(command, ["-z"])), 'unknown option "-z"');
  assert.equal(
    usageMessage(() => parseCommandArgs(command, ["--name"])),
    'option "--name" needs a value',
  );
  assert.equal(
    usageMessage(() => parseCommandArgs(command, ["-o"])),
    'option "--out" needs a value',
  );
  assert.equal(
    usageMessage(() => parseCommandArgs(command, ["--verbose=yes"])),
    'option "--verbose" takes no value',
  );
  assert.equal(
    usageMessage(() => parseCommandArgs(command, ["a", "b"])),
    'unexpected argument "b"',
  );
});

Deno.test("parseCommandArgs() hands everything after -- to a pass-through command", () => {
  const run = { ...command, passThrough: true };
  const args = parseCommandArgs(run, ["--name", "app", "--", "bundle", "exec", "--port", "3000"]);
  assert.deepEqual({ ...args.values }, { name: "app" });
  assert.deepEqual(args.rest, ["bundle", "exec", "--port", "3000"]);
  assert.deepEqual(parseCommandArgs(run, []).rest, []);
});
