/**
 * `deno task compile`: build standalone `hoop` binaries with `deno compile`
 * into `dist/`, one per target, plus `hoop-<target>.tar.gz` archives and a
 * `SHA256SUMS` file that `scripts/install.sh` verifies.
 *
 * `deno compile` needs the `denort` runtime of each target, which it
 * downloads; where that cannot be reached, set `DENORT_BIN` to a local
 * `denort` of Deno 2.9.6 (it then builds the one target that runtime is for,
 * the host's unless `--target` says otherwise).
 *
 *     deno task compile                       # all four targets
 *     deno task compile --target x86_64-unknown-linux-gnu
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { PERMISSIONS } from "../cli/permissions.ts";

/** Targets of a release. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
] as const;

/** The permissions the binary runs with: the same set as `deno task hoop`. */
export { PERMISSIONS };
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/**
 * Read by proto/version.ts in the binary. Removed after the build, or a
 * checkout's `hoop version` would keep showing the commit of its last build.
 */
const COMMIT_FILE = join(ROOT, "proto/build_commit.txt");

function hostTarget(): string {
  const arch = Deno.build.arch;
  return Deno.build.os === "darwin" ? `${arch}-apple-darwin` : `${arch}-unknown-linux-gnu`;
}

async function run(
  cmd: string,
  args: string[],
  cwd = ROOT,
): Promise<{ ok: boolean; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "inherit", stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  return { ok: out.success, stderr };
}

/**
 * Files the binary carries: the commit it is built from (`hoop version`),
 * and the web console's built assets, built first when the console exists.
 */
async function embeddedFiles(): Promise<string[]> {
  const git = await new Deno.Command("git", {
    args: ["-C", ROOT, "rev-parse", "--short=12", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  const commit = git?.success ? new TextDecoder().decode(git.stdout).trim() : "unknown";
  await Deno.writeTextFile(COMMIT_FILE, commit + "\n");
  const include = ["--include", COMMIT_FILE];
  const webBuild = new URL("./build_web.ts", import.meta.url);
  if (await exists(fileURLToPath(webBuild))) {
    const { buildWeb } = await import(webBuild.href);
    await buildWeb();
    include.push("--include", join(ROOT, "gateway/web/dist"));
  }
  return include;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** deno compile failed while fetching the base binary (offline, DNS, proxy, TLS). */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /base binary|denort|dl\.deno\.land/i.test(stderr) &&
    /error sending request|dns|connect|download|proxy|tunnel|certificate|timed out/i.test(stderr);
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Build with `args` (`--target T`..., `--out DIR`); returns the exit code. */
export async function main(args: string[] = Deno.args): Promise<number> {
  try {
    return await build(args);
  } finally {
    await Deno.remove(COMMIT_FILE).catch(() => {});
  }
}

async function build(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { target: { type: "string", multiple: true }, out: { type: "string" } },
    strict: true,
  });
  const denort = Deno.env.get("DENORT_BIN") || undefined;
  // An empty DENORT_BIN would make deno compile look for a runtime at "".
  if (!denort) Deno.env.delete("DENORT_BIN");
  const targets = values.target ?? (denort ? [hostTarget()] : [...TARGETS]);
  for (const t of targets) {
    if (!(TARGETS as readonly string[]).includes(t)) {
      console.error(`compile: unknown target "${t}": use one of ${TARGETS.join(", ")}`);
      return 2;
    }
  }
  const out = values.out ?? join(ROOT, "dist");
  await Deno.mkdir(out, { recursive: true });
  const include = await embeddedFiles();
  const sums: string[] = [];
  for (const target of targets) {
    const dir = join(out, `hoop-${target}`);
    await Deno.mkdir(dir, { recursive: true });
    const bin = join(dir, "hoop");
    console.error(`compile: building ${target}${denort ? ` with DENORT_BIN=${denort}` : ""}`);
    if (denort) {
      try {
        await Deno.stat(denort);
      } catch {
        console.error(`compile: cannot build ${target}: DENORT_BIN="${denort}" does not exist`);
        return 1;
      }
    }
    const r = await run(Deno.execPath(), [
      "compile",
      "--quiet",
      ...PERMISSIONS,
      "--target",
      target,
      "--output",
      bin,
      ...include,
      join(ROOT, "cli/main.ts"),
    ]);
    if (!r.ok) {
      if (!denort && isRuntimeDownloadFailure(r.stderr)) {
        // One line: the cause is always the same and deno's chain of errors says nothing more.
        console.error(
          `compile: cannot build ${target}: deno compile could not download its runtime (denort); ` +
            `set DENORT_BIN=/path/to/denort (Deno ${Deno.version.deno}, built for ${target})`,
        );
        return 1;
      }
      console.error(r.stderr.replace(/\n\s*Stack backtrace:[\s\S]*$/, "").trim());
      console.error(`compile: cannot build ${target}: deno compile failed (see above)`);
      return 1;
    }
    const archive = `hoop-${target}.tar.gz`;
    const tar = await run("tar", ["-czf", join(out, archive), "-C", dir, "hoop"]);
    if (!tar.ok) {
      console.error(`compile: cannot pack ${archive}: ${tar.stderr.trim()}`);
      return 1;
    }
    sums.push(`${await sha256File(join(out, archive))}  ${archive}`);
    console.error(`compile: ${join(out, archive)}`);
  }
  await Deno.writeTextFile(join(out, "SHA256SUMS"), sums.join("\n") + "\n");
  console.error(`compile: wrote ${join(out, "SHA256SUMS")}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
