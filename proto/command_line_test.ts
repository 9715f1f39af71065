import assert from "node:assert/strict";
import { HoopError } from "./errors.ts";
import { splitCommandLine } from "./command_line.ts";

Deno.test("splitCommandLine() splits like a POSIX shell without expansions", () => {
  const cases: [string, string[]][] = [
    ["rails console", ["rails", "console"]],
    ["  bundle   exec\trails c \n", ["bundle", "exec", "rails", "c"]],
    ["", []],
    ["sh -c 'make | tee log; echo $HOME'", ["sh", "-c", "make | tee log; echo $HOME"]],
    [`psql "host=db user=app" -c "select \\"x\\""`, [
      "psql",
      "host=db user=app",
      "-c",
      'select "x"',
    ]],
    [`echo "a\\b" "\\$x" "\\\\"`, ["echo", "a\\b", "$x", "\\"]],
    ["a\\ b c\\'d", ["a b", "c'd"]],
    ["x '' \"\" y", ["x", "", "", "y"]],
    [`pre'single'"double"post`, ["presingledoublepost"]],
    ["one \\\ntwo", ["one", "two"]],
    [`'it''s' "it's" 'say "hi"'`, ["its", "it's", 'say "hi"']],
  ];
  for (const [text, want] of cases) assert.deepEqual(splitCommandLine(text), want, text);
});

Deno.test("splitCommandLine() rejects unterminated quotes and a trailing backslash", () => {
  const cases: [string, RegExp][] = [
    ["rails 'console", /single quote at offset 6 is never closed/],
    ['psql -c "select 1', /double quote at offset 8 is never closed/],
    ['echo "a\\"', /double quote at offset 5 is never closed/],
    ["echo \\", /backslash at offset 5 escapes nothing/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => splitCommandLine(text),
      (err) =>
        err instanceof HoopError && err.code === "invalid_argument" && message.test(err.message),
      text,
    );
  }
});
