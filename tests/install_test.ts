/**
 * scripts/install.sh against a release directory served on loopback (a local
 * stand-in for the release host, which these machines cannot reach). The
 * archive holds a small shell script named hoop, not a compiled binary: the
 * installer's job is download, verify, unpack and install.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const INSTALL_SH = fileURLToPath(new URL("../scripts/install.sh", import.meta.url));

function target(): string {
  const arch = Deno.build.arch;
  return Deno.build.os === "darwin" ? `${arch}-apple-darwin` : `${arch}-unknown-linux-gnu`;
}

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function release(dir: string, opts: { badSum?: boolean } = {}): Promise<void> {
  const stage = await Deno.makeTempDir();
  await Deno.writeTextFile(`${stage}/hoop`, "#!/bin/sh\necho 'hoop 0.1.0 (installed)'\n");
  await Deno.chmod(`${stage}/hoop`, 0o755);
  const archive = `hoop-${target()}.tar.gz`;
  const tar = await new Deno.Command("tar", {
    args: ["-czf", `${dir}/${archive}`, "-C", stage, "hoop"],
  })
    .output();
  assert.ok(tar.success, "tar failed");
  const sum = opts.badSum ? "0".repeat(64) : await sha256(`${dir}/${archive}`);
  await Deno.writeTextFile(`${dir}/SHA256SUMS`, `${sum}  ${archive}\n`);
  await Deno.remove(stage, { recursive: true });
}

function serve(dir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const name = new URL(req.url).pathname.replace(/^\/+/, "");
    try {
      return new Response(await Deno.readFile(`${dir}/${name}`));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

async function install(baseUrl: string, installDir: string) {
  const out = await new Deno.Command("sh", {
    args: [INSTALL_SH],
    env: { HOOP_BASE_URL: baseUrl, HOOP_INSTALL_DIR: installDir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("install.sh downloads, verifies and installs hoop (local release server)", async (t) => {
  const dir = await Deno.makeTempDir();
  const server = serve(dir);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    await t.step("a good release installs an executable hoop", async () => {
      await release(dir);
      const installDir = `${await Deno.makeTempDir()}/bin`;
      const r = await install(base, installDir);
      assert.equal(r.code, 0, r.stderr);
      const out = await new Deno.Command(`${installDir}/hoop`, { stdout: "piped" }).output();
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "hoop 0.1.0 (installed)");
      assert.equal((await Deno.stat(`${installDir}/hoop`)).mode! & 0o777, 0o755);
    });
    await t.step("a checksum mismatch is refused and nothing is installed", async () => {
      await release(dir, { badSum: true });
      const installDir = `${await Deno.makeTempDir()}/bin`;
      const r = await install(base, installDir);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /checksum mismatch for hoop-.*\.tar\.gz/);
      await assert.rejects(Deno.stat(`${installDir}/hoop`));
    });
    await t.step("a missing release names the URL", async () => {
      const r = await install(`${base}/nope`, `${await Deno.makeTempDir()}/bin`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /cannot download http:\/\/127\.0\.0\.1:\d+\/nope\/hoop-/);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
