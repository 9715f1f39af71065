/**
 * The `hoop` CLI as a library: the dispatcher, the command contract, the
 * context commands run in, the config file, the API client and the renderers.
 *
 * @module
 */

export { runCli, type RunCliOptions } from "./main.ts";
export {
  booleanFlag,
  type Command,
  type CommandArgs,
  commandName,
  type FlagValues,
  parseCommandArgs,
  requiredFlag,
  requiredPositional,
  splitList,
  stringFlag,
  UsageError,
} from "./command.ts";
export {
  captureContext,
  type CapturedContext,
  type CaptureOptions,
  type Context,
  hoopHome,
  type Input,
  type Output,
  processContext,
} from "./context.ts";
export {
  type ApiFlags,
  type Config,
  configPath,
  DEFAULT_API_URL,
  DEFAULT_GRPC_URL,
  describeSource,
  loadConfig,
  resolveApi,
  type ResolvedApi,
  resolveGrpcUrl,
  saveConfig,
} from "./config.ts";
export {
  type Agent,
  ApiClient,
  apiClientFor,
  type ApiClientOptions,
  type Connection,
  type CreateSessionResponse,
  loadTlsCa,
  type LoginResponse,
  type OrgKey,
  type RequestOptions,
  type Session,
  type SessionEvent,
  type User,
} from "./api_client.ts";
export {
  type Column,
  OUTPUT_FORMATS,
  OUTPUT_OPTION,
  type OutputFormat,
  parseOutputFormat,
  renderJson,
  renderTable,
} from "./render.ts";
export { COMMANDS } from "./commands/mod.ts";
export { VERSION } from "./version.ts";
