/**
 * The C library through FFI, for the few calls Deno does not offer (a pty,
 * reaping orphans as PID 1, TCP_NODELAY on a TLS listener). Each caller
 * names the symbols it needs and copes with `undefined`: off Linux and macOS,
 * without `--allow-ffi`, or on a libc that lacks one of them.
 *
 * @module
 */

/** Where the C library is on this platform, in the order tried. */
function libcPaths(): string[] {
  if (Deno.build.os === "linux") return ["libc.so.6"];
  if (Deno.build.os === "darwin") return ["/usr/lib/libSystem.B.dylib", "libc.dylib"];
  return [];
}

/**
 * Load `symbols` from the C library, or `undefined` when it cannot be.
 * Permission is checked first so that an interactive run is never prompted.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  for (const path of libcPaths()) {
    try {
      return Deno.dlopen(path, symbols).symbols;
    } catch {
      // A libc without one of the symbols, or none at that path: try the next.
    }
  }
  return undefined;
}
