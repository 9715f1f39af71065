/**
 * Fuzz tests of {@linkcode TypeLengthReader} in both length rules, with a
 * small body limit so that the limit itself is exercised.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes, fuzzConn, randomRecords, Rng } from "./_fuzz.ts";
import { type RecordFault, TypeLengthReader } from "./type_length_reader.ts";

const MAX_BODY_BYTES = 200;

class FaultError extends Error {
  constructor(readonly fault: RecordFault) {
    super(`record fault ${fault.kind}`);
  }
}

for (const lengthIncludesSelf of [false, true]) {
  const rule = lengthIncludesSelf ? "length counts itself" : "length counts the body";
  Deno.test(`TypeLengthReader.next() fuzzed (${rule}): bounded records or its fault`, async () => {
    const seedRng = new Rng(1);
    await fuzzBytes({
      name: `TypeLengthReader ${rule}`,
      seeds: [
        randomRecords(seedRng, lengthIncludesSelf),
        randomRecords(seedRng, lengthIncludesSelf),
      ],
      random: (rng) => randomRecords(rng, lengthIncludesSelf),
      expected: (err) => err instanceof FaultError,
      async run(input, rng) {
        const reader = new TypeLengthReader(fuzzConn(input, rng), {
          lengthIncludesSelf,
          maxBodyBytes: MAX_BODY_BYTES,
          bufferBytes: 1 + rng.int(64),
          fault: (f) => new FaultError(f),
        });
        let total = 0;
        let tookBuffered = false;
        for (;;) {
          // Sometimes hand back what is buffered, as a caller switching to a raw relay does.
          if (rng.chance(0.05)) {
            total += reader.takeBuffered().length;
            tookBuffered = true;
            assert.equal(reader.buffered, 0);
          }
          const r = await reader.next();
          if (r === null) break;
          assert.ok(r.type >= 0 && r.type <= 255);
          assert.ok(r.body.length <= MAX_BODY_BYTES);
          total += 5 + r.body.length;
        }
        // takeBuffered() may hand back part of a record, after which the framing shifts.
        if (tookBuffered) assert.ok(total <= input.length);
        else assert.equal(total, input.length, "a clean end must come after whole records only");
      },
    });
  });
}
