/** Resolve on the first SIGINT or SIGTERM; later ones are left to the default handlers. */
export function waitForShutdownSignal(signal?: AbortSignal): Promise<Deno.Signal | undefined> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    const handlers = signals.map((sig) => {
      const h = () => done(sig);
      Deno.addSignalListener(sig, h);
      return [sig, h] as const;
    });
    const onAbort = () => done(undefined);
    signal?.addEventListener("abort", onAbort, { once: true });
    function done(sig: Deno.Signal | undefined) {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
      signal?.removeEventListener("abort", onAbort);
      resolve(sig);
    }
  });
}
