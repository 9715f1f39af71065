import assert from "node:assert/strict";
import { generatePassword, hashPassword, PBKDF2_ITERATIONS, verifyPassword } from "./password.ts";

Deno.test("hashPassword() output verifies with the right password only", async () => {
  const encoded = await hashPassword("correct horse");
  const parts = encoded.split("$");
  assert.equal(parts.length, 4);
  assert.equal(parts[0], "pbkdf2-sha256");
  assert.equal(Number(parts[1]), PBKDF2_ITERATIONS);
  assert.ok(!encoded.includes("correct horse"));
  assert.equal(await verifyPassword("correct horse", encoded), true);
  assert.equal(await verifyPassword("correct horsE", encoded), false);
  assert.equal(await verifyPassword("", encoded), false);
});

Deno.test("hashPassword() salts each hash", async () => {
  const [a, b] = await Promise.all([hashPassword("pw"), hashPassword("pw")]);
  assert.notEqual(a, b);
});

Deno.test("verifyPassword() honours the iteration count stored in the hash", async () => {
  // A cheap hash, as an older gateway with a lower count would have written it.
  const encoded = await hashPassword("pw");
  const [, , salt] = encoded.split("$");
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode("pw"),
    "PBKDF2",
    false,
    [
      "deriveBits",
    ],
  );
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "PBKDF2",
        hash: "SHA-256",
        salt: Uint8Array.from(atob(salt), (c) => c.charCodeAt(0)),
        iterations: 1000,
      },
      key,
      256,
    ),
  );
  const old = `pbkdf2-sha256$1000$${salt}$${btoa(String.fromCharCode(...bits))}`;
  assert.equal(await verifyPassword("pw", old), true);
  assert.equal(await verifyPassword("px", old), false);
});

Deno.test("verifyPassword() returns false for malformed hashes", async () => {
  for (
    const bad of [
      "",
      "plain",
      "bcrypt$10$abc$def",
      "pbkdf2-sha256$0$AAAA$AAAA",
      "pbkdf2-sha256$abc$AAAA$AAAA",
      "pbkdf2-sha256$99999999999$AAAA$AAAA",
      "pbkdf2-sha256$1000$!!$AAAA",
      "pbkdf2-sha256$1000$AAAA$",
    ]
  ) {
    assert.equal(await verifyPassword("pw", bad), false, bad);
  }
});

Deno.test("generatePassword() gives distinct 20-character base64url strings", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const pw = generatePassword();
    assert.match(pw, /^[A-Za-z0-9_-]{20}$/);
    seen.add(pw);
  }
  assert.equal(seen.size, 50);
});
