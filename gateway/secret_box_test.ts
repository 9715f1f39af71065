import assert from "node:assert/strict";
import { join } from "node:path";
import { HoopError } from "../proto/errors.ts";
import { loadSecretBox, secretBoxFromKey } from "./secret_box.ts";

function key(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

Deno.test("secretBoxFromKey() seals to v1 text that opens back to the plain text", async () => {
  const box = await secretBoxFromKey(key(1));
  const plain = "postgres://u:p4ss@db/x ✓";
  const sealed = await box.seal(plain);
  assert.match(sealed, /^v1:[A-Za-z0-9_-]+$/);
  assert.ok(!sealed.includes("p4ss"));
  assert.equal(await box.open(sealed), plain);
  // A fresh IV each time: equal plain texts do not give equal sealed texts.
  assert.notEqual(await box.seal(plain), sealed);
  assert.equal(await box.open(await box.seal("")), "");
});

Deno.test("SecretBox.open() rejects tampered text and a wrong key", async () => {
  const box = await secretBoxFromKey(key(1));
  const sealed = await box.seal("secret");
  // A middle character: every bit of it is data (the last one carries padding bits).
  const at = 20;
  const tampered = sealed.slice(0, at) + (sealed[at] === "A" ? "B" : "A") + sealed.slice(at + 1);
  await assert.rejects(box.open(tampered), (e: unknown) => {
    assert.ok(e instanceof HoopError);
    assert.match(e.message, /authentication failed/);
    return true;
  });
  const other = await secretBoxFromKey(key(2));
  await assert.rejects(other.open(sealed), /wrong secret key or tampered data/);
  await assert.rejects(box.open("plain"), /unknown format/);
  await assert.rejects(box.open("v1:abc"), /too short/);
});

Deno.test("secretBoxFromKey() rejects a key that is not 32 bytes", async () => {
  await assert.rejects(secretBoxFromKey(new Uint8Array(16)), /16 bytes, wanted 32/);
});

Deno.test("loadSecretBox() creates a 0600 key file once and reuses it", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const dataDir = join(tmp, "gw");
    const a = await loadSecretBox({ dataDir });
    assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
    const keyFile = join(dataDir, "secret.key");
    assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(keyFile);
    const b = await loadSecretBox({ dataDir });
    assert.equal(await Deno.readTextFile(keyFile), text);
    assert.equal(await b.open(await a.seal("same key")), "same key");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("loadSecretBox() takes HOOP_SECRET_KEY in base64 or base64url", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const raw = new Uint8Array(32).map((_, i) => 250 - i); // bytes that give + / in base64
    const b64 = btoa(String.fromCharCode(...raw));
    const b64url = b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    assert.notEqual(b64, b64url);
    const a = await loadSecretBox({ dataDir: tmp, envKey: b64 });
    const b = await loadSecretBox({ dataDir: tmp, envKey: b64url });
    const c = await secretBoxFromKey(raw);
    assert.equal(await c.open(await a.seal("x")), "x");
    assert.equal(await c.open(await b.seal("y")), "y");
    // The env key wins: no key file is written.
    await assert.rejects(Deno.stat(join(tmp, "secret.key")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("loadSecretBox() names HOOP_SECRET_KEY when it has the wrong length", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const short = btoa("x".repeat(16));
    await assert.rejects(
      loadSecretBox({ dataDir: tmp, envKey: short }),
      (e: unknown) => {
        assert.ok(e instanceof HoopError);
        assert.equal(e.code, "invalid_argument");
        assert.match(e.message, /HOOP_SECRET_KEY.*16 bytes, wanted 32/);
        assert.ok(!e.message.includes(short));
        return true;
      },
    );
    await assert.rejects(loadSecretBox({ dataDir: tmp, envKey: "not base64!" }), /HOOP_SECRET_KEY/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
