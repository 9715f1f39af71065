/**
 * `deno task compile` builds a working standalone binary. deno compile needs
 * the denort runtime, which cannot be downloaded on these machines: the test
 * runs only with DENORT_BIN set, and says so when it is not.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const DENORT = Deno.env.get("DENORT_BIN");
const SKIP_REASON = DENORT
  ? undefined
  : "DENORT_BIN is not set: deno compile cannot fetch its runtime offline";
if (SKIP_REASON) console.warn(`compile_test: skipped: ${SKIP_REASON}`);

Deno.test({
  name: "deno task compile builds a hoop binary that runs",
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const out = await Deno.makeTempDir();
    const script = fileURLToPath(new URL("../scripts/compile.ts", import.meta.url));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, "--out", out],
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const bins = [...Deno.readDirSync(out)].filter((e) => e.isDirectory);
    assert.equal(bins.length, 1);
    const v = await new Deno.Command(`${out}/${bins[0].name}/hoop`, {
      args: ["--version"],
      stdout: "piped",
    })
      .output();
    assert.match(new TextDecoder().decode(v.stdout), /^hoop \d+\.\d+\.\d+/);
    assert.match(
      await Deno.readTextFile(`${out}/SHA256SUMS`),
      /^[0-9a-f]{64} {2}hoop-.*\.tar\.gz$/m,
    );
  },
});
