import assert from "node:assert/strict";
import { test } from "node:test";

import { Code, CodeRange, codeName, isDisconnectCode, shouldReconnect } from "./codes.js";
import { loadVectors } from "./vectors.test-helpers.js";

const vectors = loadVectors();

/** "server_error" -> "ServerError", as wire/codes.go names it (CodeServerError). */
function pascal(name: string): string {
  return name.replace(/(^|_)([a-z])/g, (_, __: string, c: string) => c.toUpperCase());
}

test("Code mirrors the codes of wire/codes.go pinned in the vectors", () => {
  const fromVectors: Record<string, number> = {};
  for (const [name, value] of Object.entries(vectors.codes)) fromVectors[pascal(name)] = value;
  assert.deepEqual({ ...Code }, fromVectors);
});

test("CodeRange mirrors the vectors' code_ranges", () => {
  assert.deepEqual(vectors.code_ranges, {
    reconnect: [...CodeRange.reconnect],
    request_errors: [...CodeRange.requestErrors],
    stop: [...CodeRange.stop],
  });
});

test("every code has a name and falls in its range", () => {
  for (const [name, value] of Object.entries(Code)) {
    assert.notEqual(codeName(value), `code ${value}`, name);
    const inRange = (r: readonly [number, number]): boolean => value >= r[0] && value <= r[1];
    assert.ok(inRange(CodeRange.reconnect) || inRange(CodeRange.stop) || inRange(CodeRange.requestErrors), name);
  }
  assert.equal(codeName(4242), "code 4242");
});

test("reconnect is decided by range", () => {
  for (const c of [0, 1000, 1006, 3000, 3007, 3008, 3250, 3499, 4000]) assert.equal(shouldReconnect(c), true, String(c));
  for (const c of [3500, 3501, 3504, 3750, 3999]) assert.equal(shouldReconnect(c), false, String(c));
  assert.equal(isDisconnectCode(2999), false);
  assert.equal(isDisconnectCode(3000), true);
  assert.equal(isDisconnectCode(3999), true);
  assert.equal(isDisconnectCode(4000), false);
});
