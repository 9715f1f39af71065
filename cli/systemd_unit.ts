/**
 * The systemd unit of a standard agent, for `hoop start agent --print-unit`
 * and `scripts/hoop-agent.service` (a test keeps the two equal, and runs
 * `systemd-analyze verify` on it).
 *
 * @module
 */

/** The unit text with `execStart` (the command line, binary path first) as ExecStart. */
export function agentUnit(execStart: string): string {
  return `# systemd unit for a standard hoop agent.
#
#   install -m 0644 scripts/hoop-agent.service /etc/systemd/system/
#   install -m 0600 /dev/null /etc/hoop/agent.env
#   echo "HOOP_KEY=$(hoop admin create agent prod)" > /etc/hoop/agent.env
#   systemctl daemon-reload && systemctl enable --now hoop-agent
#
# The key lives in an EnvironmentFile (mode 0600), never on the command line.
[Unit]
Description=hoop agent
Documentation=https://github.com/hoophq/hoop-deno
After=network-online.target
Wants=network-online.target
# A revoked key exits 1; do not hammer the gateway with restarts of a revoked agent.
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=simple
EnvironmentFile=/etc/hoop/agent.env
ExecStart=${execStart}
Restart=on-failure
RestartSec=5s
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=no
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}

/** ExecStart for this process: the compiled binary, or `deno run ... cli/main.ts` from source. */
export function execStartOfThisBinary(permissions: readonly string[]): string {
  const exe = Deno.execPath();
  if (!/(^|\/)deno(\.exe)?$/.test(exe)) return `${exe} start agent`;
  const main = new URL(Deno.mainModule).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  return [exe, "run", "--quiet", "--config", config, ...permissions, main, "start", "agent"]
    .join(" ");
}
