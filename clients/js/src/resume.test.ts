import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Recovery } from "./codec.js";
import { StreamTracker } from "./resume.js";

const pos = (offset: bigint, epoch: string) => ({ offset, epoch });

describe("StreamTracker", () => {
  test("repeats within an epoch are dropped, another epoch starts a new position", () => {
    const t = new StreamTracker();
    assert.equal(t.accept(10n, "e1"), true);
    assert.equal(t.accept(10n, "e1"), false, "same offset");
    assert.equal(t.accept(3n, "e1"), false, "older offset");
    assert.equal(t.accept(25n, "e1"), true, "offsets have gaps");
    assert.deepEqual(t.position, pos(25n, "e1"));
    assert.equal(t.accept(2n, "e2"), true, "a new epoch, lower offset");
    assert.deepEqual(t.position, pos(2n, "e2"));
    assert.equal(t.accept(2n, "e2"), false);
    assert.equal(t.accept(25n, "e1"), true, "offsets of different epochs are not compared");
    // No position: always new, and the position does not move.
    assert.equal(t.accept(0n, ""), true);
    assert.equal(t.accept(0n, ""), true);
    assert.deepEqual(t.position, pos(25n, "e1"));
    // Offsets beyond 2^53 compare exactly.
    const big = (1n << 63n) + 1n;
    assert.equal(t.accept(big, "e1"), true);
    assert.equal(t.accept(big - 1n, "e1"), false);
  });

  test("none and not recovered: the reply's position is where the client stands", () => {
    const t = new StreamTracker<string>();
    assert.deepEqual(t.resumed("c1", pos(0n, ""), { recovery: Recovery.None, offset: 40n, epoch: "e1" }), { kind: "none" });
    assert.deepEqual(t.position, pos(40n, "e1"));
    assert.equal(t.accept(40n, "e1"), false, "the reply's position counts as seen");

    const from = t.position;
    assert.deepEqual(t.resumed("c2", from, { recovery: Recovery.NotRecovered, offset: 9n, epoch: "e2" }), {
      kind: "notRecovered",
      from: pos(40n, "e1"),
      position: pos(9n, "e2"),
    });
    assert.deepEqual(t.position, pos(9n, "e2"));

    // A push of the reply's epoch read before the reply keeps its later place.
    t.accept(30n, "e3");
    t.resumed("c3", from, { recovery: Recovery.NotRecovered, offset: 20n, epoch: "e3" });
    assert.deepEqual(t.position, pos(30n, "e3"));
  });

  test("a none reply without a position (revision 1) keeps the position", () => {
    const t = new StreamTracker();
    t.accept(12n, "e1");
    assert.deepEqual(t.resumed(1, t.position, { recovery: Recovery.None, offset: 0n, epoch: "" }), { kind: "none" });
    assert.deepEqual(t.position, pos(12n, "e1"));
  });

  test("recovered: the replay moves the position and is reported after its last message", () => {
    const t = new StreamTracker<string>();
    t.accept(10n, "e1");
    const from = t.position;
    assert.deepEqual(t.resumed("c", from, { recovery: Recovery.Recovered, offset: 50n, epoch: "e1" }), { kind: "none" });
    assert.deepEqual(t.position, from, "replayed messages are not repeats");
    for (const [off, done] of [[17n, false], [31n, false], [50n, true]] as const) {
      assert.equal(t.accept(off, "e1"), true);
      const o = t.delivered("c", off, "e1");
      if (!done) assert.deepEqual(o, { kind: "none" });
      else assert.deepEqual(o, { kind: "recovered", from, position: pos(50n, "e1"), missed: 3 });
    }
    // Reported once: live messages after it are not counted.
    t.accept(60n, "e1");
    assert.deepEqual(t.delivered("c", 60n, "e1"), { kind: "none" });
  });

  test("recovered with nothing missed is reported at once", () => {
    const t = new StreamTracker();
    t.accept(10n, "e1");
    assert.deepEqual(t.resumed(1, t.position, { recovery: Recovery.Recovered, offset: 10n, epoch: "e1" }), {
      kind: "recovered",
      from: pos(10n, "e1"),
      position: pos(10n, "e1"),
      missed: 0,
    });
  });

  test("a replay cut by the end of its connection is not reported", () => {
    const t = new StreamTracker<string>();
    t.accept(10n, "e1");
    t.resumed("c1", t.position, { recovery: Recovery.Recovered, offset: 30n, epoch: "e1" });
    t.accept(20n, "e1");
    t.delivered("c1", 20n, "e1");
    t.interrupted();
    t.accept(30n, "e1");
    assert.deepEqual(t.delivered("c1", 30n, "e1"), { kind: "none" });
    // Pushes of another connection do not end a replay either.
    t.resumed("c2", t.position, { recovery: Recovery.Recovered, offset: 40n, epoch: "e1" });
    assert.deepEqual(t.delivered("c1", 40n, "e1"), { kind: "none" });
    assert.equal(t.delivered("c2", 40n, "e1").kind, "recovered");
  });
});
