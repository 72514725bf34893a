import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay } from "./backoff.js";

test("full jitter stays in [0, min(max, min*2^n))", () => {
  const ceilings = [200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000];
  ceilings.forEach((ceiling, attempt) => {
    assert.equal(backoffDelay(attempt, 200, 20000, () => 0), 0);
    assert.equal(backoffDelay(attempt, 200, 20000, () => 0.5), ceiling / 2);
    const top = backoffDelay(attempt, 200, 20000, () => 1 - Number.EPSILON);
    assert.ok(top < ceiling && top >= ceiling - 1, `attempt ${attempt}: ${top}`);
  });
  for (let i = 0; i < 2000; i++) {
    const attempt = i % 12;
    const d = backoffDelay(attempt, 200, 20000);
    assert.ok(d >= 0 && d < Math.min(20000, 200 * 2 ** attempt) && Number.isInteger(d), `${attempt}: ${d}`);
  }
});

test("large attempts do not overflow", () => {
  assert.equal(backoffDelay(10_000, 200, 20000, () => 0.5), 10000);
  assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, 1, 7, () => 0.999), 6);
});

test("the delays spread over the whole range", () => {
  const n = 4000;
  const buckets = new Array<number>(4).fill(0);
  for (let i = 0; i < n; i++) {
    const d = backoffDelay(3, 200, 20000); // ceiling 1600
    buckets[Math.floor(d / 400)]!++;
  }
  for (const b of buckets) assert.ok(b > n / 4 - n / 10 && b < n / 4 + n / 10, `buckets ${buckets}`);
});
