/**
 * `deno task build:web`: bundle the web console (gateway/web/src) for the
 * browser with `deno bundle --platform browser --minify --code-splitting`,
 * name every file by its content's hash (cached forever by browsers), copy
 * the stylesheets of xterm.js and asciinema-player beside the console's own,
 * and write `index.html` and `manifest.json` into `gateway/web/dist/`.
 * The old build is replaced only once the new one is complete.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SRC = join(ROOT, "gateway/web/src");
/** Where the gateway serves the console from. */
export const WEB_DIST = join(ROOT, "gateway/web/dist");

/** Stylesheets of the lazily loaded libraries: `<meta name="hoop-css-NAME">` points at each. */
const LIBRARY_CSS: Record<string, string> = {
  xterm: "node_modules/@xterm/xterm/css/xterm.css",
  asciinema: "node_modules/asciinema-player/dist/bundle/asciinema-player.css",
};

async function hash(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function hashedCopy(
  bytes: Uint8Array<ArrayBuffer>,
  name: string,
  assets: string,
): Promise<string> {
  const ext = extname(name);
  const out = `${basename(name, ext)}-${await hash(bytes)}${ext}`;
  await Deno.writeFile(join(assets, out), bytes);
  return `/assets/${out}`;
}

/** Build the console into `outDir`; throws with deno bundle's message when it fails. */
export async function buildWeb(outDir = WEB_DIST): Promise<void> {
  const tmp = `${outDir}.tmp-${Deno.pid}`;
  const bundled = join(tmp, "bundle");
  const assets = join(tmp, "assets");
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(assets, { recursive: true });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--code-splitting",
      "--outdir",
      bundled,
      join(SRC, "main.ts"),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const manifest: Record<string, string> = {};
  // Chunks esbuild split off already carry a hash in their names; the entry does not.
  for await (const f of Deno.readDir(bundled)) {
    const bytes = await Deno.readFile(join(bundled, f.name));
    if (f.name === "main.js") manifest["main.js"] = await hashedCopy(bytes, f.name, assets);
    else await Deno.writeFile(join(assets, f.name), bytes);
  }
  manifest["style.css"] = await hashedCopy(
    await Deno.readFile(join(SRC, "style.css")),
    "style.css",
    assets,
  );
  for (const [name, path] of Object.entries(LIBRARY_CSS)) {
    manifest[`${name}.css`] = await hashedCopy(
      await Deno.readFile(join(ROOT, path)),
      `${name}.css`,
      assets,
    );
  }
  await Deno.remove(bundled, { recursive: true });
  const metas = Object.keys(LIBRARY_CSS)
    .map((name) => `<meta name="hoop-css-${name}" content="${manifest[`${name}.css`]}">`).join(
      "\n",
    );
  const index = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hoop</title>
${metas}
<link rel="stylesheet" href="${manifest["style.css"]}">
<script type="module" src="${manifest["main.js"]}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
  await Deno.writeTextFile(join(tmp, "index.html"), index);
  await Deno.writeTextFile(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const old = `${outDir}.old-${Deno.pid}`;
  await Deno.rename(outDir, old).catch(() => {});
  await Deno.rename(tmp, outDir);
  await Deno.remove(old, { recursive: true }).catch(() => {});
}

if (import.meta.main) {
  try {
    await buildWeb();
    console.error(`build:web: ${WEB_DIST}`);
  } catch (err) {
    console.error(`build:web: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
