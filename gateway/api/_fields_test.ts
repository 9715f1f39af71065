import assert from "node:assert/strict";
import { HoopError } from "../../proto/errors.ts";
import { normalizeEmail } from "./_fields.ts";

Deno.test("normalizeEmail() trims, lower-cases, and refuses NUL and control characters (issue #10)", () => {
  assert.equal(normalizeEmail("  Dev@Example.COM "), "dev@example.com");
  for (
    const bad of [
      "a\0b@example.com",
      "a@ex\x1b[2Jample.com",
      "a@b\u202e.com",
      "a b@c",
      "@x",
      "x@",
      "a@b@c",
    ]
  ) {
    assert.throws(() => normalizeEmail(bad), (err: unknown) => {
      assert.ok(err instanceof HoopError);
      assert.equal(err.code, "invalid_argument");
      for (const c of ["\0", "\x1b", "\u202e"]) assert.ok(!err.message.includes(c), "printable");
      return true;
    }, JSON.stringify(bad));
  }
  assert.throws(() => normalizeEmail("a".repeat(250) + "@b.com"), /Invalid email/);
});
