/**
 * A counting semaphore: at most `size` holders at once, the rest wait in
 * arrival order. Bounds bursts (`hoop connect` opening sessions for a flood
 * of client connections) without dropping them.
 *
 * @module
 */

/** At most `size` concurrent holders; others queue. */
export class Semaphore {
  readonly size: number;
  #held = 0;
  #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("Semaphore size must be >= 1");
    this.size = size;
  }

  /** Holders right now. */
  get held(): number {
    return this.#held;
  }

  /** Run `fn` while holding a slot, waiting for one first if all are held. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#held >= this.size) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#held++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so #held stays counted.
      if (next) next();
      else this.#held--;
    }
  }
}
