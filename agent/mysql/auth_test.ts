import assert from "node:assert/strict";
import { createHash, createPrivateKey, sign } from "node:crypto";
import { cachingSha2Password, ed25519Password, nativePassword } from "./auth.ts";

const enc = new TextEncoder();
const sha = (alg: string, ...parts: Uint8Array[]) => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

Deno.test("client_ed25519 equals RFC 8032 Ed25519 when the password is a 32-byte seed", () => {
  // MariaDB's scheme hashes the whole password where RFC 8032 hashes the 32-byte
  // seed: for a 32-byte password the two must agree (Node signs the RFC way).
  const password = "abcdefghijklmnopqrstuvwxyz012345";
  const der = new Uint8Array([
    ...Buffer.from("302e020100300506032b657004220420", "hex"),
    ...enc.encode(password),
  ]);
  const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  const scramble = new Uint8Array(32).map((_, i) => i * 7);
  assert.deepEqual(
    ed25519Password(password, scramble),
    new Uint8Array(sign(null, scramble, key)),
  );
});

Deno.test("mysql_native_password and caching_sha2_password scrambles undo to the stored hash", () => {
  const password = "s3cret-Pw";
  const scramble = new Uint8Array(20).map((_, i) => 0x30 + i);
  // The server keeps SHA1(SHA1(pw)) and checks SHA1(answer XOR SHA1(scramble + stored)) = stored.
  const stored = sha("sha1", sha("sha1", enc.encode(password)));
  const answer = nativePassword(password, scramble);
  const mix = sha("sha1", scramble, stored);
  assert.deepEqual(sha("sha1", answer.map((b, i) => b ^ mix[i])), stored);
  // caching_sha2: answer XOR SHA256(SHA256(SHA256(pw)) + scramble) = SHA256(pw).
  const p1 = sha("sha256", enc.encode(password));
  const mix2 = sha("sha256", sha("sha256", p1), scramble);
  assert.deepEqual(cachingSha2Password(password, scramble).map((b, i) => b ^ mix2[i]), p1);
  assert.equal(nativePassword("", scramble).length, 0);
});
