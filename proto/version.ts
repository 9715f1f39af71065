/** The version of hoop, reported by agents, the API and the CLI. */
export const VERSION = "0.1.0";

/**
 * The git commit a compiled binary was built from: `scripts/compile.ts`
 * writes `build_commit.txt` next to this module and embeds it. `undefined`
 * when running from source (the CLI then asks git).
 */
export function buildCommit(): string | undefined {
  try {
    return Deno.readTextFileSync(new URL("./build_commit.txt", import.meta.url)).trim() ||
      undefined;
  } catch {
    return undefined;
  }
}
