/** The version of hoop, reported by agents, the API and the CLI. */
export const VERSION = "0.1.0";
