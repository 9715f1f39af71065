import assert from "node:assert/strict";
import { captureContext, hoopHome } from "./context.ts";

Deno.test("Context.stdin reads a first line and then the rest", async () => {
  const { ctx } = captureContext({ stdin: "s3cret\r\nmore\ndata" });
  assert.equal(await ctx.stdin.readLine(), "s3cret");
  assert.equal(new TextDecoder().decode(await ctx.stdin.readAll()), "more\ndata");
  assert.equal(await ctx.stdin.readLine(), null);
});

Deno.test("hoopHome() uses HOOP_HOME, else ~/.hoop", () => {
  assert.equal(hoopHome((n) => ({ HOOP_HOME: "/x/state", HOME: "/home/a" })[n]), "/x/state");
  assert.equal(
    hoopHome((n) => ({ HOME: "/home/a" } as Record<string, string>)[n]),
    "/home/a/.hoop",
  );
});
