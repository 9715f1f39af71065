import assert from "node:assert/strict";
import { END_OF_INPUT, EndOfInputTypist } from "./_end_of_input.ts";

function recorder() {
  const typed: number[][] = [];
  let gaveUp = 0;
  const typist = new EndOfInputTypist(
    (bytes) => {
      typed.push([...bytes]);
      return Promise.resolve();
    },
    () => {
      gaveUp++;
      return Promise.resolve();
    },
    { quietMs: 20, maxKeys: 2 },
  );
  return { typist, typed, gaveUp: () => gaveUp };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("EndOfInputTypist types Ctrl-D after silence, again after output, then gives up", async () => {
  const { typist, typed, gaveUp } = recorder();
  typist.output(); // Output before the input ended arms nothing.
  await pause(40);
  assert.deepEqual(typed, []);
  await typist.inputEnded(false);
  typist.output();
  await pause(10);
  typist.output(); // Still busy: the key waits for silence.
  assert.deepEqual(typed, []);
  await pause(40);
  assert.deepEqual(typed, [[END_OF_INPUT]]);
  await pause(40);
  assert.equal(typed.length, 1, "silence without new output types nothing more");
  typist.output();
  await pause(40);
  assert.deepEqual(typed, [[END_OF_INPUT], [END_OF_INPUT]]);
  assert.equal(gaveUp(), 1);
  typist.output();
  await pause(40);
  assert.equal(typed.length, 2, "at most maxKeys");
  typist.close();
});

Deno.test("EndOfInputTypist hands a partial line over at once, and close() stops it", async () => {
  const { typist, typed, gaveUp } = recorder();
  await typist.inputEnded(true);
  assert.deepEqual(typed, [[END_OF_INPUT]]);
  typist.close();
  await pause(40);
  assert.equal(typed.length, 1);
  assert.equal(gaveUp(), 0);
});
