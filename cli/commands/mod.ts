/**
 * The registry of leaf commands. Registering a command is one import and one
 * entry in {@linkcode COMMANDS}; the order here is the order of `hoop --help`.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { adminCreateAgentCommand } from "./admin_create_agent.ts";
import { adminCreateConnectionCommand } from "./admin_create_connection.ts";
import { adminCreateOrgkeysCommand } from "./admin_create_orgkeys.ts";
import { adminCreateUserCommand } from "./admin_create_user.ts";
import { adminDeleteAgentCommand } from "./admin_delete_agent.ts";
import { adminDeleteConnectionCommand } from "./admin_delete_connection.ts";
import { adminDeleteOrgkeysCommand } from "./admin_delete_orgkeys.ts";
import { adminDeleteUserCommand } from "./admin_delete_user.ts";
import { adminGetCommand } from "./admin_get.ts";
import { adminUpdateConnectionCommand } from "./admin_update_connection.ts";
import { connectCommand } from "./connect.ts";
import { execCommand } from "./exec.ts";
import { loginCommand } from "./login.ts";
import { runCommand } from "./run.ts";
import { logoutCommand } from "./logout.ts";
import { signupCommand } from "./signup.ts";
import { startAgentCommand } from "./start_agent.ts";
import { startGatewayCommand } from "./start_gateway.ts";
import { versionCommand } from "./version.ts";

/** Every command of the CLI. */
export const COMMANDS: Command[] = [
  startGatewayCommand,
  startAgentCommand,
  runCommand,
  connectCommand,
  execCommand,
  signupCommand,
  loginCommand,
  logoutCommand,
  adminGetCommand,
  adminCreateAgentCommand,
  adminCreateOrgkeysCommand,
  adminCreateConnectionCommand,
  adminUpdateConnectionCommand,
  adminCreateUserCommand,
  adminDeleteAgentCommand,
  adminDeleteOrgkeysCommand,
  adminDeleteConnectionCommand,
  adminDeleteUserCommand,
  versionCommand,
];
