import assert from "node:assert/strict";
import { encodeErrorResponse, parseErrorResponse } from "./codec.ts";

Deno.test("parseErrorResponse() reads the fields of encodeErrorResponse()", () => {
  const e = parseErrorResponse(encodeErrorResponse("FATAL", "28P01", "no entry").subarray(5));
  assert.equal(e.severity, "FATAL");
  assert.equal(e.code, "28P01");
  assert.equal(e.message, "no entry");
});
