import assert from "node:assert/strict";
import { CANCEL_SECRET_BYTES, CancelKeys, type CancelTarget } from "./cancel_keys.ts";

function target(name: string): CancelTarget {
  return {
    user: { email: `${name}@example.com` },
    connection: { name },
    agent: { name: "a" },
    backend: { pid: 42, secret: new Uint8Array([1, 2, 3, 4]) },
  } as unknown as CancelTarget;
}

Deno.test("CancelKeys.issue() gives a fresh positive pid and a 4-byte secret that find() matches", () => {
  const keys = new CancelKeys();
  const t = target("pg");
  const key = keys.issue(t);
  assert.ok(key.pid > 0);
  assert.equal(key.secret.length, CANCEL_SECRET_BYTES);
  assert.equal(keys.find(key), t);
  assert.equal(keys.find({ pid: key.pid, secret: new Uint8Array(4) }), undefined);
  assert.equal(keys.find({ pid: key.pid, secret: key.secret.subarray(0, 3) }), undefined);
  assert.equal(keys.find({ pid: key.pid + 1, secret: key.secret }), undefined);
});

Deno.test("CancelKeys.forget() makes a key stale; a wrong secret forgets nothing", () => {
  const keys = new CancelKeys();
  const key = keys.issue(target("pg"));
  keys.forget({ pid: key.pid, secret: new Uint8Array(4) });
  assert.ok(keys.find(key));
  keys.forget(key);
  assert.equal(keys.find(key), undefined);
  assert.equal(keys.size, 0);
});

Deno.test("CancelKeys forgets the oldest key past its bound", () => {
  const keys = new CancelKeys(2);
  const first = keys.issue(target("one"));
  const second = keys.issue(target("two"));
  const third = keys.issue(target("three"));
  assert.equal(keys.size, 2);
  assert.equal(keys.find(first), undefined);
  assert.equal(keys.find(second)?.connection.name, "two");
  assert.equal(keys.find(third)?.connection.name, "three");
});
