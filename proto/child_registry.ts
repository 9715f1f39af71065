/**
 * The child processes this process spawned itself and is waiting for.
 * `hoop run` as PID 1 reaps orphans it inherits, and must never reap one of
 * these: Deno waits for them, and a stolen exit status would fail their
 * `status` promise.
 *
 * @module
 */

const live = new Set<number>();

/** Record `child` until its status settles; returns it. */
export function trackChild<T extends Deno.ChildProcess>(child: T): T {
  live.add(child.pid);
  const forget = () => void live.delete(child.pid);
  child.status.then(forget, forget);
  return child;
}

/** True for a child spawned here that has not been waited for yet. */
export function isTrackedChild(pid: number): boolean {
  return live.has(pid);
}
