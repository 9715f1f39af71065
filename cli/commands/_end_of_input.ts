/**
 * The end of piped input on a console (`echo 'print(1)' | hoop connect py`).
 * The remote program reads a pseudo-terminal, where input ends only when
 * someone types Ctrl-D at a reading prompt; a pipe's end says nothing to it.
 * So hoop types Ctrl-D the way a person would: once the program has gone
 * quiet (it is waiting at a prompt), and again after each later burst of
 * output, a bounded number of times.
 *
 * Why more than once: a Ctrl-D that reaches the terminal while it is still
 * line-buffered (before python's readline switched it to raw mode, say) is
 * turned into a NUL byte by that switch and lost; the program then prints its
 * prompt again, and the next Ctrl-D ends its input.
 *
 * @module
 */

/** The terminal's end-of-input key, Ctrl-D (VEOF). */
export const END_OF_INPUT = 0x04;

/** How long the program must stay silent before Ctrl-D is typed: it is waiting for input. */
export const QUIET_MS = 250;

/**
 * Most Ctrl-D keys typed after the input ended. A program that ignores them (or reads on
 * after end-of-input) keeps running; then STDIN_EOF tells the agent that input is over.
 */
export const MAX_END_KEYS = 5;

/** Options of {@linkcode EndOfInputTypist}. */
export interface EndOfInputOptions {
  /** Silence before each Ctrl-D; default {@linkcode QUIET_MS}. */
  quietMs?: number;
  /** Bound on the keys typed; default {@linkcode MAX_END_KEYS}. */
  maxKeys?: number;
}

/** Types Ctrl-D into a remote terminal after piped input ended; see the module comment. */
export class EndOfInputTypist {
  readonly #type: (bytes: Uint8Array) => Promise<void>;
  readonly #giveUp: () => Promise<void>;
  readonly #quietMs: number;
  readonly #maxKeys: number;
  #inputEnded = false;
  #closed = false;
  #keys = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param type sends bytes to the remote terminal (a STDIN frame)
   * @param giveUp runs once the last key was typed and the program still runs (STDIN_EOF)
   */
  constructor(
    type: (bytes: Uint8Array) => Promise<void>,
    giveUp: () => Promise<void>,
    options: EndOfInputOptions = {},
  ) {
    this.#type = type;
    this.#giveUp = giveUp;
    this.#quietMs = options.quietMs ?? QUIET_MS;
    this.#maxKeys = options.maxKeys ?? MAX_END_KEYS;
  }

  /** The keys typed so far. */
  get keys(): number {
    return this.#keys;
  }

  /**
   * The piped input ended. After a partial last line one Ctrl-D goes at once: a
   * line-buffered terminal hands the partial line over on it, as it does for a person.
   */
  async inputEnded(partialLine: boolean): Promise<void> {
    if (this.#inputEnded || this.#closed) return;
    this.#inputEnded = true;
    if (partialLine) await this.#type(new Uint8Array([END_OF_INPUT])).catch(() => {});
    this.#arm();
  }

  /** The remote program wrote output: it is busy, or about to read again. */
  output(): void {
    if (this.#inputEnded) this.#arm();
  }

  /** The session ended: type nothing more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#closed || this.#keys >= this.#maxKeys) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#keys++;
      const last = this.#keys >= this.#maxKeys;
      void this.#type(new Uint8Array([END_OF_INPUT])).then(
        () => last && !this.#closed ? this.#giveUp() : undefined,
      ).catch(() => {
        // The session ended while the key was on its way.
      });
    }, this.#quietMs);
  }
}
