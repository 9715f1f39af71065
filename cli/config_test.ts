import assert from "node:assert/strict";
import { join } from "node:path";
import { HoopError } from "../proto/errors.ts";
import { captureContext } from "./context.ts";
import { configPath, DEFAULT_API_URL, loadConfig, resolveApi, saveConfig } from "./config.ts";

async function tempHome(): Promise<{ home: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "hoop-config-test-" });
  return {
    home: join(dir, "home"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("saveConfig() writes a 0600 file in a 0700 directory and loadConfig() reads it back", async () => {
  await using tmp = await tempHome();
  const { ctx } = captureContext({ home: tmp.home });
  await saveConfig(ctx, { api_url: "http://gw:8009", token: "xtok-secret", email: "a@b.c" });
  assert.equal((await Deno.stat(configPath(ctx))).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(tmp.home)).mode! & 0o777, 0o700);
  assert.deepEqual(await loadConfig(ctx), {
    api_url: "http://gw:8009",
    token: "xtok-secret",
    email: "a@b.c",
  });
  // A second save (replacing the file) keeps the mode.
  await saveConfig(ctx, { api_url: "http://gw:8009" });
  assert.equal((await Deno.stat(configPath(ctx))).mode! & 0o777, 0o600);
  assert.deepEqual(await loadConfig(ctx), { api_url: "http://gw:8009" });
});

Deno.test("loadConfig() treats a missing file as empty and rejects invalid JSON naming the path", async () => {
  await using tmp = await tempHome();
  const { ctx } = captureContext({ home: tmp.home });
  assert.deepEqual(await loadConfig(ctx), {});
  await Deno.mkdir(tmp.home, { recursive: true });
  await Deno.writeTextFile(configPath(ctx), "{not json");
  await assert.rejects(() => loadConfig(ctx), (err: HoopError) => {
    assert.equal(err.code, "failed_precondition");
    assert.equal(err.message, `Cannot read config "${configPath(ctx)}": not valid JSON`);
    return true;
  });
});

Deno.test("resolveApi() prefers the flag, then HOOP_API_URL/HOOP_TOKEN, then the config file, then the default", async () => {
  await using tmp = await tempHome();
  const base = captureContext({ home: tmp.home }).ctx;
  assert.deepEqual(await resolveApi(base), {
    apiUrl: DEFAULT_API_URL,
    token: undefined,
    source: "default",
  });

  await saveConfig(base, { api_url: "http://config:8009/", token: "xtok-config" });
  assert.deepEqual(await resolveApi(base), {
    apiUrl: "http://config:8009",
    token: "xtok-config",
    source: configPath(base),
  });

  const env = captureContext({
    home: tmp.home,
    env: { HOOP_API_URL: "http://env:8009", HOOP_TOKEN: "xtok-env" },
  }).ctx;
  assert.deepEqual(await resolveApi(env), {
    apiUrl: "http://env:8009",
    token: "xtok-env",
    source: "HOOP_API_URL",
  });
  assert.deepEqual(await resolveApi(env, { apiUrl: "http://flag:8009", token: "xtok-flag" }), {
    apiUrl: "http://flag:8009",
    token: "xtok-flag",
    source: "--api-url",
  });
});

Deno.test("resolveApi() sends the saved token only to the gateway that issued it", async () => {
  await using tmp = await tempHome();
  const { ctx } = captureContext({ home: tmp.home });
  await saveConfig(ctx, { api_url: "http://config:8009", token: "xtok-config" });
  const other = await resolveApi(ctx, { apiUrl: "http://elsewhere:8009" });
  assert.equal(other.token, undefined);
  const same = await resolveApi(ctx, { apiUrl: "http://config:8009/" });
  assert.equal(same.token, "xtok-config");
});
