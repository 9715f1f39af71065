/**
 * {@linkcode PacketScanner}: follows MySQL packet boundaries in one direction
 * of a relayed byte stream by counting lengths, copying only the first bytes
 * of the packets its owner asks for (not even those when they lie whole in
 * one chunk). The carry-over of a split header is at
 * most 4 bytes, so it costs nothing on the relay's hot path.
 *
 * @module
 */
import { MAX_PACKET_PAYLOAD } from "../../proto/mysql/mod.ts";

/** What the owner wants of a packet that starts. */
export interface PacketStart {
  seq: number;
  length: number;
  /** The packet continues a message split at 16 MiB. */
  continued: boolean;
}

/**
 * Calls `onStart` at each packet header; a positive answer `n` captures the
 * packet's first `n` payload bytes (capped at its length), then hands them to
 * `onCaptured`: a view valid only during that call, so copy what you keep.
 */
export class PacketScanner {
  #onStart: (p: PacketStart) => number;
  #onCaptured: (bytes: Uint8Array, p: PacketStart) => void;
  #head = new Uint8Array(4);
  #headLen = 0;
  #left = 0;
  #continued = false;
  #capture: Uint8Array | undefined;
  #captured = 0;
  #packet: PacketStart | undefined;

  constructor(
    onStart: (p: PacketStart) => number,
    onCaptured: (bytes: Uint8Array, p: PacketStart) => void,
  ) {
    this.#onStart = onStart;
    this.#onCaptured = onCaptured;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left > 0 || this.#capture) {
        const n = Math.min(this.#left, chunk.length - at);
        if (this.#capture) {
          const take = Math.min(n, this.#capture.length - this.#captured);
          this.#capture.set(chunk.subarray(at, at + take), this.#captured);
          this.#captured += take;
          if (this.#captured === this.#capture.length) this.#finish();
        }
        at += n;
        this.#left -= n;
        continue;
      }
      const take = Math.min(4 - this.#headLen, chunk.length - at);
      this.#head.set(chunk.subarray(at, at + take), this.#headLen);
      this.#headLen += take;
      at += take;
      if (this.#headLen < 4) break;
      this.#headLen = 0;
      const h = this.#head;
      const length = h[0] | (h[1] << 8) | (h[2] << 16);
      const p = { seq: h[3], length, continued: this.#continued };
      this.#continued = length === MAX_PACKET_PAYLOAD;
      this.#left = length;
      const want = Math.min(this.#onStart(p), length);
      if (want > 0 && chunk.length - at >= want) {
        // All of it is in this chunk (the usual case): hand over a view, no copy. The owner
        // reads it before this returns, before the relay reuses its buffer.
        this.#onCaptured(chunk.subarray(at, at + want), p);
      } else if (want > 0) {
        this.#capture = new Uint8Array(want);
        this.#captured = 0;
        this.#packet = p;
      } else if (want === 0 && length === 0) {
        // Nothing to read of an empty packet.
      }
    }
  }

  #finish(): void {
    const bytes = this.#capture!;
    const p = this.#packet!;
    this.#capture = undefined;
    this.#packet = undefined;
    this.#onCaptured(bytes, p);
  }
}
