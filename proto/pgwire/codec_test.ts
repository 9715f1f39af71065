import assert from "node:assert/strict";
import {
  encodeBackendKeyData,
  encodeErrorResponse,
  parseBackendKeyData,
  parseErrorResponse,
} from "./codec.ts";

Deno.test("parseErrorResponse() reads the fields of encodeErrorResponse()", () => {
  const e = parseErrorResponse(encodeErrorResponse("FATAL", "28P01", "no entry").subarray(5));
  assert.equal(e.severity, "FATAL");
  assert.equal(e.code, "28P01");
  assert.equal(e.message, "no entry");
});

Deno.test("encodeErrorResponse() adds a hint field only when given one", () => {
  const withHint = encodeErrorResponse("FATAL", "28000", "no", "use TLS");
  assert.ok(new TextDecoder().decode(withHint).includes("Huse TLS\0"));
  assert.ok(!new TextDecoder().decode(encodeErrorResponse("FATAL", "28000", "no")).includes("H"));
  assert.equal(parseErrorResponse(withHint.subarray(5)).message, "no");
});

Deno.test("parseBackendKeyData() reads encodeBackendKeyData() and refuses a short body", () => {
  const secret = new Uint8Array([9, 8, 7, 6]);
  const msg = encodeBackendKeyData(1234567, secret);
  assert.equal(String.fromCharCode(msg[0]), "K");
  assert.equal(msg.length, 13);
  assert.deepEqual(parseBackendKeyData(msg.subarray(5)), { pid: 1234567, secret });
  assert.throws(() => parseBackendKeyData(new Uint8Array(7)), /less than 8/);
});
