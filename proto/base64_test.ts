import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "./base64.ts";

Deno.test("encodeBase64Url() matches Node's base64url for every length and byte value", () => {
  for (let len = 0; len < 70; len++) {
    const bytes = new Uint8Array(len);
    for (let i = 0; i < len; i++) bytes[i] = (i * 37 + len * 11) & 0xff;
    const want = Buffer.from(bytes).toString("base64url");
    assert.equal(encodeBase64Url(bytes), want);
    assert.deepEqual(decodeBase64Url(want), bytes);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(decodeBase64Url(encodeBase64Url(all)), all);
});

Deno.test("decodeBase64Url() accepts complete padding", () => {
  assert.deepEqual(decodeBase64Url("QQ=="), new Uint8Array([0x41]));
  assert.deepEqual(decodeBase64Url("QUI="), new Uint8Array([0x41, 0x42]));
});

Deno.test("decodeBase64Url() rejects text that is not canonical base64url", () => {
  assert.throws(() => decodeBase64Url("ab+c"), /outside the alphabet/);
  assert.throws(() => decodeBase64Url("ab/c"), /outside the alphabet/);
  assert.throws(() => decodeBase64Url("abcde"), /length is not valid/);
  // "QR" carries the same byte as "QQ" with a stray low bit.
  assert.throws(() => decodeBase64Url("QR"), /unused bits/);
  assert.throws(() => decodeBase64Url("Q=Q="), /outside the alphabet/);
});

Deno.test("encodeBase64() and decodeBase64() match Node's base64 for every length", () => {
  for (let len = 0; len < 70; len++) {
    const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 53 + len) & 0xff);
    const want = Buffer.from(bytes).toString("base64");
    assert.equal(encodeBase64(bytes), want);
    assert.deepEqual(decodeBase64(want), bytes);
    assert.deepEqual(decodeBase64(` ${Buffer.from(bytes).toString("base64url")}\n`), bytes);
  }
});

Deno.test("decodeBase64() rejects characters outside both alphabets", () => {
  assert.throws(() => decodeBase64("ab*c"), /outside the alphabet/);
  assert.throws(() => decodeBase64("abc==="), /outside the alphabet/);
});
