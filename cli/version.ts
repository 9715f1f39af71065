/** The version of the hoop CLI, gateway and agent (one binary, one version). */
export { VERSION } from "../proto/version.ts";
