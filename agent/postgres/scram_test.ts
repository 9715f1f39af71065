import assert from "node:assert/strict";
import { saslPrep, ScramClient, timingSafeEqual } from "./scram.ts";

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
