import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decodeBase64Url } from "./base64.ts";
import {
  generateAgentKey,
  generateTicket,
  generateToken,
  sha256Hex,
  timingSafeEqual,
} from "./keys.ts";

Deno.test("generateAgentKey() and generateToken() give prefixed 256-bit secrets", () => {
  const key = generateAgentKey();
  assert.match(key, /^xagt-[A-Za-z0-9_-]{43}$/);
  assert.equal(decodeBase64Url(key.slice(5)).length, 32);
  const token = generateToken();
  assert.match(token, /^xtok-[A-Za-z0-9_-]{43}$/);
  assert.equal(decodeBase64Url(token.slice(5)).length, 32);
  assert.notEqual(generateAgentKey(), key);
  assert.notEqual(generateToken(), token);
});

Deno.test("generateTicket() gives 32 fresh random bytes", () => {
  const a = generateTicket();
  const b = generateTicket();
  assert.equal(a.length, 32);
  assert.equal(b.length, 32);
  assert.ok(!timingSafeEqual(a, b));
});

Deno.test("sha256Hex() matches node:crypto for text and bytes", async () => {
  const text = "xagt-héllo";
  assert.equal(await sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"));
  const bytes = new Uint8Array([0, 1, 2, 255]);
  assert.equal(await sha256Hex(bytes), createHash("sha256").update(bytes).digest("hex"));
  assert.equal(
    await sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("timingSafeEqual() compares content and length", () => {
  assert.ok(timingSafeEqual("abc", "abc"));
  assert.ok(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(timingSafeEqual("é", new Uint8Array([0xc3, 0xa9])));
  assert.ok(!timingSafeEqual("abc", "abd"));
  assert.ok(!timingSafeEqual("abc", "abcd"));
  assert.ok(!timingSafeEqual("", "a"));
  assert.ok(timingSafeEqual("", ""));
});
