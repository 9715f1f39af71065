import assert from "node:assert/strict";
import { ERROR_CODES, errorCodeFromGrpc, HoopError, isErrorCode } from "./errors.ts";

Deno.test("ERROR_CODES maps every code to distinct gRPC statuses and usage errors to exit 2", () => {
  const grpc = Object.values(ERROR_CODES).map((m) => m.grpc);
  assert.equal(new Set(grpc).size, grpc.length);
  assert.equal(ERROR_CODES.invalid_argument.exit, 2);
  for (const [code, m] of Object.entries(ERROR_CODES)) {
    if (code !== "invalid_argument") assert.equal(m.exit, 1, code);
    assert.equal(errorCodeFromGrpc(m.grpc), code);
  }
  assert.equal(errorCodeFromGrpc(999), "internal");
});

Deno.test("HoopError carries its code's statuses and a JSON body with the hint", () => {
  const err = new HoopError("not_found", 'Unknown connection "x"', {
    hint: "run hoop admin get connections",
  });
  assert.equal(err.httpStatus, 404);
  assert.equal(err.grpcStatus, 5);
  assert.equal(err.exitCode, 1);
  assert.deepEqual(err.toJson(), {
    error: {
      code: "not_found",
      message: 'Unknown connection "x"',
      hint: "run hoop admin get connections",
    },
  });
  assert.ok(isErrorCode("permission_denied"));
  assert.ok(!isErrorCode("nope"));
});
