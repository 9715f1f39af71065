import assert from "node:assert/strict";
import { md5Password } from "./login.ts";

Deno.test("md5Password() matches libpq's md5(md5(password + user) + salt)", () => {
  assert.equal(
    md5Password("app", "pencil", new Uint8Array([1, 2, 3, 4])),
    "md54bfca4ca571b8df74c2fc2247888d96f",
  );
});
