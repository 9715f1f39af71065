/**
 * Test-only fuzzing kit for hoop's decoders of network bytes, imported only by
 * `*_fuzz_test.ts` files. A run is repeatable: every target draws from a PRNG
 * seeded by `HOOP_FUZZ_SEED` (random when unset) mixed with the target's name,
 * and a failure names the seed, the input and the error. A run is bounded: at
 * most `HOOP_FUZZ_ITERATIONS` inputs per target and a wall-clock cap, so the
 * default `deno task test` spends a few seconds here and `deno task test:fuzz`
 * as long as it is given.
 *
 * Inputs are valid encodings (made with the encoders) mutated by the usual
 * operators (bit flips, inserted, deleted and duplicated runs, splices of two
 * seeds, boundary integers over length fields, truncation) plus pure random
 * ones. A decoder passes when every input either returns a value its target
 * checks as well formed or throws one of its documented typed errors, within a
 * per-input deadline.
 *
 * @module
 */
import { type ByteReader, type ByteWriter, concatBytes } from "./bytes.ts";

/** Inputs per target when `HOOP_FUZZ_ITERATIONS` is unset: keeps the default suite fast. */
export const DEFAULT_FUZZ_ITERATIONS = 2000;

/** Wall-clock cap per target in the default run; a cut run still counts as a pass. */
export const DEFAULT_FUZZ_TIME_MS = 400;

/** Wall-clock cap per target when `HOOP_FUZZ_ITERATIONS` asks for a long run. */
export const LONG_FUZZ_TIME_MS = 60_000;

/** How long one input may take before the decoder counts as hung. */
export const FUZZ_INPUT_DEADLINE_MS = 2_000;

/** Longest input the mutators grow to; bigger ones are cut, so memory stays flat. */
export const MAX_FUZZ_INPUT_BYTES = 64 * 1024;

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (err) {
    // Without --allow-env the defaults apply.
    if (err instanceof Deno.errors.NotCapable) return undefined;
    throw err;
  }
}

const iterationsText = envGet("HOOP_FUZZ_ITERATIONS");
const seedText = envGet("HOOP_FUZZ_SEED");

/** Inputs per target for this run. */
export const FUZZ_ITERATIONS = iterationsText
  ? Math.max(1, Number(iterationsText) | 0)
  : DEFAULT_FUZZ_ITERATIONS;

/** Wall-clock cap per target for this run. */
export const FUZZ_TIME_MS = iterationsText ? LONG_FUZZ_TIME_MS : DEFAULT_FUZZ_TIME_MS;

/** The run's seed: `HOOP_FUZZ_SEED`, or random (printed on failure to repeat the run). */
export const FUZZ_SEED = seedText ? Number(seedText) >>> 0 : (Math.random() * 2 ** 32) >>> 0;

/** A small, fast, seedable PRNG (sfc32 seeded through splitmix32). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An integer in `0..n-1` (`n` >= 1). */
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** FNV-1a of a name, so that each target has its own stream for one run seed. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Integers that break length checks: zero, one, sign edges and all-ones. */
export const BOUNDARY_INTEGERS: readonly number[] = [
  0,
  1,
  4,
  5,
  8,
  0x7f,
  0x80,
  0xff,
  0x7fff,
  0x8000,
  0xffff,
  0x10_0000,
  0x10_0001,
  0x7fffffff,
  0x80000000,
  0xffffffff,
];

function clampSize(b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return b.length > MAX_FUZZ_INPUT_BYTES ? b.slice(0, MAX_FUZZ_INPUT_BYTES) : b;
}

/** Apply one random mutation to `input`; `corpus` feeds splices. */
export function mutateBytes(
  rng: Rng,
  input: Uint8Array,
  corpus: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  const b = input.slice();
  const at = (extra = 0) => rng.int(b.length + extra);
  switch (rng.int(9)) {
    case 0: { // bit flips
      if (b.length === 0) return rng.bytes(1 + rng.int(8));
      for (let i = 1 + rng.int(4); i > 0; i--) b[at()] ^= 1 << rng.int(8);
      return b;
    }
    case 1: { // insert random bytes
      const i = at(1);
      return clampSize(concatBytes([b.subarray(0, i), rng.bytes(1 + rng.int(16)), b.subarray(i)]));
    }
    case 2: { // delete a run
      if (b.length === 0) return b;
      const i = at();
      const n = 1 + rng.int(Math.min(16, b.length - i));
      return concatBytes([b.subarray(0, i), b.subarray(i + n)]);
    }
    case 3: { // duplicate a run somewhere
      if (b.length === 0) return b;
      const i = at();
      const run = b.subarray(i, i + 1 + rng.int(Math.min(64, b.length - i)));
      const j = at(1);
      return clampSize(concatBytes([b.subarray(0, j), run, b.subarray(j)]));
    }
    case 4: { // splice: a prefix of this input and a suffix of another
      const other = corpus.length ? rng.pick(corpus) : rng.bytes(16);
      const i = at(1);
      return clampSize(concatBytes([b.subarray(0, i), other.subarray(rng.int(other.length + 1))]));
    }
    case 5: { // boundary integer over a (possible) length field
      const v = rng.pick(BOUNDARY_INTEGERS);
      const width = rng.pick([1, 2, 4]);
      if (b.length < width) return concatBytes([b, rng.bytes(width)]);
      const i = rng.int(b.length - width + 1);
      for (let k = 0; k < width; k++) b[i + k] = (v >>> (8 * (width - 1 - k))) & 0xff;
      return b;
    }
    case 6: // truncation
      return b.slice(0, rng.int(b.length + 1));
    case 7: { // interesting byte values
      if (b.length === 0) return new Uint8Array([rng.pick([0, 0xff])]);
      for (let i = 1 + rng.int(3); i > 0; i--) b[at()] = rng.pick([0, 1, 0x7f, 0x80, 0xff]);
      return b;
    }
    default: // random bytes
      return rng.bytes(rng.int(64));
  }
}

/** Characters that matter to the text parsers: separators, escapes, NUL, odd Unicode. */
const TEXT_TOKENS: readonly string[] = [
  ":",
  "@",
  "/",
  "?",
  "&",
  "=",
  "[",
  "]",
  "%",
  "%zz",
  "%00",
  "%4",
  "#",
  " ",
  "\t",
  "\n",
  "\0",
  "\u001b[31m",
  "é",
  "\ud800",
  "😀",
  "://",
  "xagt-",
  ":0",
  ":65536",
  "99999999999",
  "-1",
  "::",
  "=",
  "+",
  "_",
  "-",
  ".",
  "..",
];

/** Apply one random mutation to a string; `corpus` feeds splices. */
export function mutateText(rng: Rng, input: string, corpus: readonly string[]): string {
  const at = (extra = 0) => rng.int(input.length + extra);
  switch (rng.int(8)) {
    case 0: { // insert a token
      const i = at(1);
      return input.slice(0, i) + rng.pick(TEXT_TOKENS) + input.slice(i);
    }
    case 1: { // delete a run
      const i = at();
      return input.slice(0, i) + input.slice(i + 1 + rng.int(8));
    }
    case 2: { // duplicate a run
      const i = at();
      const j = at(1);
      return input.slice(0, j) + input.slice(i, i + 1 + rng.int(16)) + input.slice(j);
    }
    case 3: { // splice two inputs
      const other = corpus.length ? rng.pick(corpus) : "";
      return input.slice(0, at(1)) + other.slice(rng.int(other.length + 1));
    }
    case 4: { // replace one character with a token
      const i = at();
      return input.slice(0, i) + rng.pick(TEXT_TOKENS) + input.slice(i + 1);
    }
    case 5: // truncation
      return input.slice(0, at(1));
    case 6: { // flip the case of a run
      const i = at();
      const run = input.slice(i, i + 1 + rng.int(8));
      const flipped = run === run.toUpperCase() ? run.toLowerCase() : run.toUpperCase();
      return input.slice(0, i) + flipped + input.slice(i + run.length);
    }
    default: { // random characters, mostly ASCII
      let s = "";
      for (let n = rng.int(48); n > 0; n--) {
        s += rng.chance(0.8) ? String.fromCharCode(rng.int(128)) : rng.pick(TEXT_TOKENS);
      }
      return s;
    }
  }
}

/** A fake connection over fixed bytes; reads come in random chunks. */
export interface FuzzConn extends ByteReader, ByteWriter {
  /** Bytes handed out by `read` so far. */
  readonly consumed: number;
  /** Everything written to the connection. */
  readonly written: Uint8Array[];
  /** True once `close` was called. */
  readonly closed: boolean;
  close(): void;
}

/** Options of {@linkcode fuzzConn}. */
export interface FuzzConnOptions {
  /**
   * Hand out this many bytes, then let reads wait until `close()` (which
   * makes them fail with `BadResource`, as a closed `Deno.Conn` does): a peer
   * that stops sending without closing.
   */
  stallAfter?: number;
}

/** A {@linkcode FuzzConn} over `bytes`, each read returning 1..n bytes as `rng` decides. */
export function fuzzConn(bytes: Uint8Array, rng: Rng, opts: FuzzConnOptions = {}): FuzzConn {
  let off = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  const written: Uint8Array[] = [];
  const end = opts.stallAfter === undefined
    ? bytes.length
    : Math.min(opts.stallAfter, bytes.length);
  return {
    get consumed() {
      return off;
    },
    written,
    get closed() {
      return closed;
    },
    read(p: Uint8Array): Promise<number | null> {
      if (closed) return Promise.reject(new Deno.errors.BadResource("fuzz conn is closed"));
      if (off >= end) {
        if (opts.stallAfter === undefined) return Promise.resolve(null);
        return new Promise((_, reject) => {
          wake = () => reject(new Deno.errors.BadResource("fuzz conn is closed"));
        });
      }
      // Mostly small chunks, sometimes all that is available, to split every field.
      const avail = Math.min(p.length, end - off);
      const n = rng.chance(0.3) ? avail : Math.min(avail, 1 + rng.int(8));
      p.set(bytes.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
    write(p: Uint8Array): Promise<number> {
      if (closed) return Promise.reject(new Deno.errors.BadResource("fuzz conn is closed"));
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
    close() {
      if (closed) throw new Deno.errors.BadResource("fuzz conn is closed");
      closed = true;
      wake?.();
    },
  };
}

/** A target: where inputs come from, how one is decoded and checked, which errors are typed. */
export interface FuzzTarget<T> {
  /** Names the target in messages and in seed derivation. */
  name: string;
  /** Valid inputs, made with the encoders; mutated and also run as they are. */
  seeds: readonly T[];
  /** One mutation of an input. */
  mutate(rng: Rng, input: T, corpus: readonly T[]): T;
  /** A fresh random input. */
  random(rng: Rng): T;
  /**
   * Decode one input and check what comes back (throw an assertion error when
   * it is not well formed). Errors it throws are judged by `expected`.
   */
  run(input: T, rng: Rng): void | Promise<void>;
  /** True for the decoder's documented errors; anything else fails the test. */
  expected(err: unknown): boolean;
  /** Inputs to try; default {@linkcode FUZZ_ITERATIONS}. */
  iterations?: number;
  /** Per-input deadline; default {@linkcode FUZZ_INPUT_DEADLINE_MS}. */
  deadlineMs?: number;
}

/** What a run did, for the report line of the long run. */
export interface FuzzStats {
  name: string;
  inputs: number;
  rejected: number;
  elapsedMs: number;
  seed: number;
}

function describeInput(input: unknown): string {
  if (input instanceof Uint8Array) {
    const hex = Array.from(input.subarray(0, 256), (b) => b.toString(16).padStart(2, "0")).join("");
    return `${input.length} bytes: ${hex}${input.length > 256 ? "..." : ""}`;
  }
  const s = JSON.stringify(input);
  return s.length > 600 ? `${s.slice(0, 600)}...` : s;
}

async function withDeadline(work: void | Promise<void>, ms: number): Promise<void> {
  if (!(work instanceof Promise)) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzHangError(ms)), ms);
  });
  try {
    await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

class FuzzHangError extends Error {
  constructor(ms: number) {
    super(`the decoder did not finish within ${ms} ms`);
    this.name = "FuzzHangError";
  }
}

/**
 * Run a target: its seeds as they are, then mutated and random inputs until
 * the iteration budget or {@linkcode FUZZ_TIME_MS} runs out. Throws on the
 * first input that hangs, throws an undocumented error or returns a malformed
 * value, naming the seed that repeats the run.
 */
export async function fuzz<T>(target: FuzzTarget<T>): Promise<FuzzStats> {
  const seed = (FUZZ_SEED ^ hashName(target.name)) >>> 0;
  const rng = new Rng(seed);
  const budget = target.iterations ?? FUZZ_ITERATIONS;
  const deadlineMs = target.deadlineMs ?? FUZZ_INPUT_DEADLINE_MS;
  const started = performance.now();
  let rejected = 0;
  let i = 0;
  // Mutants that decoded join the corpus (bounded), so later mutations go deeper.
  const corpus: T[] = [...target.seeds];
  const MAX_CORPUS = 256;
  for (; i < budget; i++) {
    if (i >= target.seeds.length && performance.now() - started > FUZZ_TIME_MS) break;
    let input: T;
    if (i < target.seeds.length) input = target.seeds[i];
    else if (rng.chance(0.1)) input = target.random(rng);
    else {
      input = rng.pick(corpus);
      for (let n = 1 + rng.int(3); n > 0; n--) input = target.mutate(rng, input, corpus);
    }
    const t0 = performance.now();
    try {
      await withDeadline(target.run(input, rng), deadlineMs);
      if (corpus.length < MAX_CORPUS && i >= target.seeds.length) corpus.push(input);
    } catch (err) {
      if (!(err instanceof FuzzHangError) && target.expected(err)) {
        rejected++;
      } else {
        throw new Error(
          `Fuzz target "${target.name}" failed on input ${i} (repeat with HOOP_FUZZ_SEED=${FUZZ_SEED}): ${
            err instanceof Error ? err.message : String(err)
          }\ninput: ${describeInput(input)}`,
          { cause: err },
        );
      }
    }
    const took = performance.now() - t0;
    if (took > deadlineMs) {
      throw new Error(
        `Fuzz target "${target.name}" took ${
          Math.round(took)
        } ms on input ${i}, more than ${deadlineMs} ms (repeat with HOOP_FUZZ_SEED=${FUZZ_SEED})\ninput: ${
          describeInput(input)
        }`,
      );
    }
  }
  const stats = {
    name: target.name,
    inputs: i,
    rejected,
    elapsedMs: Math.round(performance.now() - started),
    seed: FUZZ_SEED,
  };
  if (iterationsText) {
    console.log(
      `fuzz ${stats.name}: ${stats.inputs} inputs (${stats.rejected} rejected) in ${stats.elapsedMs} ms, seed ${stats.seed}`,
    );
  }
  return stats;
}

/** {@linkcode fuzz} for a decoder of bytes, with the byte mutators. */
export function fuzzBytes(
  target: Omit<FuzzTarget<Uint8Array>, "mutate" | "random"> & {
    random?(rng: Rng): Uint8Array;
  },
): Promise<FuzzStats> {
  return fuzz({
    mutate: mutateBytes,
    random: (rng) => rng.bytes(rng.int(128)),
    ...target,
  });
}

/** {@linkcode fuzz} for a parser of text, with the text mutators. */
export function fuzzText(
  target: Omit<FuzzTarget<string>, "mutate" | "random"> & { random?(rng: Rng): string },
): Promise<FuzzStats> {
  return fuzz({
    mutate: mutateText,
    random: (rng) => mutateText(rng, "", []),
    ...target,
  });
}

/** A byte stream of random messages in `type u8 | length u32 | body` shape, for reader targets. */
export function randomRecords(rng: Rng, lengthIncludesSelf: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let n = rng.int(6); n > 0; n--) {
    const body = rng.bytes(rng.int(40));
    const head = new Uint8Array(5);
    head[0] = rng.int(256);
    new DataView(head.buffer).setUint32(1, body.length + (lengthIncludesSelf ? 4 : 0));
    parts.push(head, body);
  }
  return concatBytes(parts);
}
