/**
 * The Deno permissions hoop runs with: those `deno compile` bakes into the
 * binary, `deno task hoop` grants, the tests give their hoop processes, and
 * the systemd unit printed from a source checkout passes.
 *
 * @module
 */

/** The permission flags, in `deno run` form. */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
  "--allow-ffi",
];
