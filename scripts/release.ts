/**
 * `deno task release VERSION`: one command for a release. Checks that
 * VERSION is the one `proto/version.ts` holds, builds every target's archive
 * and `SHA256SUMS` with `scripts/compile.ts` (web console embedded, commit
 * stamped) into `dist/release-VERSION/`, and prints the install line. Where
 * `denort` cannot be downloaded, compile stops with one line naming
 * `DENORT_BIN`, and so does this.
 *
 *     deno task release 0.1.0
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "../proto/version.ts";
import { main as compile } from "./compile.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Build the release; returns the exit code. */
export async function release(args: string[]): Promise<number> {
  const version = args[0];
  if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
    console.error("release: usage: deno task release VERSION (like 0.2.0)");
    return 2;
  }
  if (version !== VERSION) {
    console.error(
      `release: proto/version.ts says ${VERSION}, not ${version}: set VERSION there first, commit, and run again`,
    );
    return 1;
  }
  const out = join(ROOT, "dist", `release-${version}`);
  const code = await compile(["--out", out, ...args.slice(1)]);
  if (code !== 0) return code;
  console.log(`release ${version}: ${out} (archives and SHA256SUMS; upload them all)`);
  console.log(
    `install: curl -fsSL https://github.com/hoophq/hoop-deno/releases/download/v${version}/install.sh | ` +
      `HOOP_BASE_URL=https://github.com/hoophq/hoop-deno/releases/download/v${version} sh`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await release(Deno.args));
