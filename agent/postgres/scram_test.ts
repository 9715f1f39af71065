import assert from "node:assert/strict";
import { saslPrep, ScramClient, ScramKeyCache, timingSafeEqual } from "./scram.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// RFC 7677 section 3: user "user", password "pencil".
const SERVER_FIRST =
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

Deno.test("ScramClient produces the RFC 7677 proof and verifies the server signature", async () => {
  const c = new ScramClient("pencil", { user: "user", nonce: "rOprNGfwEbeRWgbNEkqO" });
  assert.equal(dec.decode(c.clientFirst()), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const final = await c.clientFinal(enc.encode(SERVER_FIRST));
  assert.equal(
    dec.decode(final),
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  c.verifyServerFinal(enc.encode("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
});

Deno.test("ScramClient rejects a forged server signature", async () => {
  const c = new ScramClient("pencil", { user: "user", nonce: "rOprNGfwEbeRWgbNEkqO" });
  await c.clientFinal(enc.encode(SERVER_FIRST));
  assert.throws(
    () => c.verifyServerFinal(enc.encode("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")),
    /signature does not match/,
  );
  assert.throws(() => c.verifyServerFinal(enc.encode("e=invalid-proof")), /"invalid-proof"/);
});

Deno.test("ScramClient rejects a server nonce that does not extend its own", async () => {
  const c = new ScramClient("pencil", { nonce: "abc" });
  await assert.rejects(
    c.clientFinal(enc.encode("r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")),
    /nonce/,
  );
  await assert.rejects(
    c.clientFinal(enc.encode("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999")),
    /iteration count/,
  );
});

const RFC_PROOF = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SALT = "W22ZaJ0SNY7soEsUEjb6gQ==";

async function rfcLogin(cache: ScramKeyCache, password = "pencil"): Promise<string> {
  const c = new ScramClient(password, { user: "user", nonce: "rOprNGfwEbeRWgbNEkqO", cache });
  return dec.decode(await c.clientFinal(enc.encode(SERVER_FIRST))).split(",").pop()!;
}

Deno.test("ScramClient derives a role's keys once: the next login with that salt reuses them and still proves the password", async () => {
  const cache = new ScramKeyCache();
  assert.equal(await rfcLogin(cache), RFC_PROOF);
  assert.equal(await rfcLogin(cache), RFC_PROOF);
  assert.equal(cache.size, 1);
  const salt = new Uint8Array(atob(RFC_SALT).split("").map((ch) => ch.charCodeAt(0)));
  // The same derivation, not a second one.
  assert.equal(
    cache.keys("pencil", RFC_SALT, salt, 4096),
    cache.keys("pencil", RFC_SALT, salt, 4096),
  );
  // A changed password is its own entry, never the old keys.
  assert.notEqual(await rfcLogin(cache, "pencil2"), RFC_PROOF);
  assert.equal(cache.size, 2);
});

Deno.test("ScramKeyCache holds at most its limit, oldest out first, and derives again after its TTL", async () => {
  const cache = new ScramKeyCache({ max: 2 });
  const salt = new Uint8Array(16);
  const a = cache.keys("pw", "a", salt, 1);
  const pending = [a, cache.keys("pw", "b", salt, 1), cache.keys("pw", "c", salt, 1)];
  assert.equal(cache.size, 2);
  const again = cache.keys("pw", "a", salt, 1);
  assert.notEqual(again, a, "the oldest entry was dropped");
  await Promise.all([...pending, again]);

  const expiring = new ScramKeyCache({ ttlMs: 0 });
  const first = expiring.keys("pw", "a", salt, 1);
  const second = expiring.keys("pw", "a", salt, 1);
  assert.notEqual(second, first);
  assert.equal(expiring.size, 1);
  await Promise.all([first, second]);
  assert.equal(await rfcLogin(new ScramKeyCache({ ttlMs: 0 })), RFC_PROOF);
});

Deno.test("saslPrep() keeps ASCII and maps non-ASCII spaces", () => {
  assert.equal(saslPrep("pen cil!"), "pen cil!");
  assert.equal(saslPrep("a\u00a0b\u00adc"), "a bc");
  assert.equal(saslPrep("\u2168"), "IX");
});

Deno.test("timingSafeEqual() compares bytes", () => {
  assert.equal(timingSafeEqual(enc.encode("abc"), enc.encode("abc")), true);
  assert.equal(timingSafeEqual(enc.encode("abc"), enc.encode("abd")), false);
  assert.equal(timingSafeEqual(enc.encode("abc"), enc.encode("ab")), false);
});
