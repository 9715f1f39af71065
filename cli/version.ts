/** The version of the hoop CLI, gateway and agent (one binary, one version). */
export const VERSION = "0.1.0";
