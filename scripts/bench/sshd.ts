/**
 * An OpenSSH `sshd` on a free loopback port with throwaway host and user keys,
 * and an `ssh -N -L` tunnel through it: the baseline hoop is compared with.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, waitFor } from "../../tests/_harness.ts";
import { defer, mustRunTool, runTool, spawnService } from "./proc.ts";

/** Where Debian puts the server. */
export const SSHD_PATH = "/usr/sbin/sshd";

/** A running `ssh -L` forward to a local TCP port. */
export interface SshTunnel {
  /** The local port ssh listens on. */
  port: number;
  /** `ssh -V`, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 ...`. */
  version: string;
  /** The cipher negotiated server to client (from `ssh -v`), or "unknown". */
  cipher: string;
  /** The ssh client and the sshd daemon (its per-connection children count with it). */
  pids: { ssh: number; sshd: number };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Install openssh-server with apt-get when sshd is missing (root only). */
export async function ensureSshd(): Promise<void> {
  if (await exists(SSHD_PATH)) return;
  if (Deno.uid() !== 0) {
    throw new Error(
      `Cannot start sshd "${SSHD_PATH}": not installed\nHint: apt-get install -y openssh-server, or run the bench without the ssh path (--paths)`,
    );
  }
  console.error("bench: installing openssh-server (sshd is missing)");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const first = await runTool("apt-get", ["install", "-y", "openssh-server"], {
    env,
    timeoutMs: 300_000,
  });
  if (first.code !== 0) {
    await mustRunTool("update the package lists", "apt-get", ["update"], {
      env,
      timeoutMs: 300_000,
    });
    await mustRunTool("install openssh-server", "apt-get", ["install", "-y", "openssh-server"], {
      env,
      timeoutMs: 300_000,
    });
  }
}

function userName(): string {
  if (Deno.uid() === 0) return "root";
  return Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "root";
}

/** ssh options that make the client ignore every user and system setting. */
function clientOptions(dir: string, sshPort: number, quiet = true): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    join(dir, "user_key"),
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    ...(quiet ? ["-o", "LogLevel=ERROR"] : []),
    "-p",
    String(sshPort),
  ];
}

/**
 * Start sshd (`-D -e -f <own config>`) and `ssh -N -L PORT:127.0.0.1:TARGET`;
 * both are stopped by the bench clean-up. `probe` must succeed through the
 * tunnel before this returns.
 */
export async function startSshTunnel(
  targetPort: number,
  probe: (port: number) => Promise<boolean>,
): Promise<SshTunnel> {
  await ensureSshd();
  const dir = await Deno.makeTempDir({ prefix: "hoop-bench-ssh-" });
  defer("ssh temp dir", () => Deno.remove(dir, { recursive: true }));
  // sshd refuses to start as root without its privilege separation directory.
  if (Deno.uid() === 0) await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  for (const key of ["host_key", "user_key"]) {
    await mustRunTool("generate an ssh key", "ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "hoop-bench",
      "-f",
      join(dir, key),
    ]);
  }
  await Deno.copyFile(join(dir, "user_key.pub"), join(dir, "authorized_keys"));

  const sshPort = freePort();
  const config = [
    `Port ${sshPort}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_key")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "StrictModes no",
    "UsePAM no",
    "AllowTcpForwarding yes",
    "LogLevel INFO",
    "",
  ].join("\n");
  await Deno.writeTextFile(join(dir, "sshd_config"), config);
  const sshd = spawnService("sshd", SSHD_PATH, ["-D", "-e", "-f", join(dir, "sshd_config")]);
  await waitFor(() => {
    if (/Server listening on 127\.0\.0\.1/.test(sshd.log())) return true;
    if (/fatal|error/i.test(sshd.log())) throw new Error(`sshd failed: ${sshd.log()}`);
    return false;
  }, { timeoutMs: 15_000, message: `sshd never listened: ${sshd.log()}` });

  const version = (await runTool("ssh", ["-V"])).stderr.trim();
  // One verbose login to learn the negotiated cipher (the tunnel itself runs quiet).
  const login = await runTool("ssh", [
    ...clientOptions(dir, sshPort, false),
    "-v",
    `${userName()}@127.0.0.1`,
    "true",
  ], { timeoutMs: 30_000 });
  const cipher = login.stderr.match(/kex: server->client cipher: (\S+)/)?.[1] ?? "unknown";

  const port = freePort();
  const ssh = spawnService("ssh -L", "ssh", [
    ...clientOptions(dir, sshPort),
    "-N",
    "-o",
    "ExitOnForwardFailure=yes",
    "-L",
    `127.0.0.1:${port}:127.0.0.1:${targetPort}`,
    `${userName()}@127.0.0.1`,
  ]);
  await waitFor(() => probe(port), {
    timeoutMs: 20_000,
    message: `no PostgreSQL answer through ssh -L on port ${port}; sshd log:\n${sshd.log()}`,
  });
  return { port, version, cipher, pids: { ssh: ssh.pid, sshd: sshd.pid } };
}
