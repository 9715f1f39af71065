/**
 * `deno task release VERSION`: refuses a version that is not the one in
 * proto/version.ts, and where `denort` cannot be downloaded stops with one
 * line naming DENORT_BIN. The download is made to fail on purpose through a
 * proxy on a closed loopback port, so the result is the same on machines
 * that can reach dl.deno.land.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { VERSION } from "../proto/version.ts";

const RELEASE = fileURLToPath(new URL("../scripts/release.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const TARGET = "x86_64-unknown-linux-gnu";

/** True when deno compile would find the runtime in its cache and never download it. */
async function runtimeCached(): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const dir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
  const zip = `${dir}/dl/release/v${Deno.version.deno}/denort-${TARGET}.zip`;
  return await Deno.stat(zip).then(() => true, () => false);
}

async function release(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      RELEASE,
      ...args,
    ],
    env: { NO_COLOR: "1", DENORT_BIN: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("release refuses a malformed version and one proto/version.ts does not hold", async () => {
  const bad = await release(["latest"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /usage: deno task release VERSION/);
  const other = await release(["99.0.0"]);
  assert.equal(other.code, 1, other.stderr);
  assert.match(other.stderr, new RegExp(`proto/version\\.ts says ${VERSION}, not 99\\.0\\.0`));
});

Deno.test({
  name: "release without a reachable denort stops with one line naming DENORT_BIN",
  ignore: await runtimeCached(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hoop-release-" });
    try {
      // Port 1 on loopback: nothing listens, every download fails at once.
      const proxy = "http://127.0.0.1:1";
      const r = await release([VERSION, "--out", dir, "--target", TARGET], {
        HTTPS_PROXY: proxy,
        https_proxy: proxy,
        // Only the runtime's download is to fail: the web console's build may use the npm registry.
        NO_PROXY: "registry.npmjs.org,localhost,127.0.0.1",
        no_proxy: "registry.npmjs.org,localhost,127.0.0.1",
      });
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("compile: building"));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /could not download its runtime \(denort\); set DENORT_BIN=/);
      assert.equal(r.stdout, "", "no install line for a failed release");
      const built = [];
      for await (const e of Deno.readDir(dir)) built.push(e.name);
      assert.ok(!built.some((n) => n.endsWith(".tar.gz")), built.join(" "));
      const stamp = fileURLToPath(new URL("../proto/build_commit.txt", import.meta.url));
      assert.equal(await Deno.stat(stamp).then(() => true, () => false), false, "stamp removed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
