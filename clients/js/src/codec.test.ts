import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  decodeBody,
  decodeDatagram,
  decodeFrame,
  DEFAULT_MAX_FRAME,
  encodeFrame,
  FrameDecoder,
  HEADER_SIZE,
  isKnownOp,
  MAX_AUTH_FRAME,
  MAX_INFO_LEN,
  MAX_ROOM_LEN,
  MAX_TOKEN_LEN,
  isEphemeral,
  Op,
  parseHeader,
  PushFlags,
  Recovery,
  REVISION,
  splitFrames,
  VERSION,
  WireError,
  type Frame,
  type Member,
  type PushKind,
  type RawFrame,
} from "./codec.js";
import { fromHex, loadVectors, toHex, type VectorFrame, type VectorMember } from "./vectors.test-helpers.js";

const vectors = loadVectors();

const opByName: Record<string, number> = vectors.ops;

/** Builds the frame a vector describes. */
function vectorFrame(v: VectorFrame): Frame {
  const f = v.fields;
  const s = (k: string): string => {
    const x = f[k];
    assert.equal(typeof x, "string", `${v.name}: field ${k}`);
    return x as string;
  };
  const n = (k: string): number => {
    const x = f[k];
    assert.equal(typeof x, "number", `${v.name}: field ${k}`);
    return x as number;
  };
  const ms = (k: string): Member[] => {
    const x = f[k];
    assert.ok(Array.isArray(x), `${v.name}: field ${k}`);
    return x.map((m) => ({ user: m.user, connKey: m.conn_key, info: utf8.encode(m.info) }));
  };
  const seq = v.seq;
  switch (v.op) {
    case "auth":
      return {
        op: Op.Auth,
        seq,
        version: n("version"),
        token: s("token"),
        offset: BigInt(s("offset")),
        epoch: s("epoch"),
        ...("joins" in f ? { joins: n("joins") } : {}),
      };
    case "auth_ok":
      return {
        ...("revision" in f ? { revision: n("revision") } : {}),
        op: Op.AuthOK,
        seq,
        connKey: s("conn_key"),
        user: s("user"),
        pingIntervalMs: n("ping_interval_ms"),
        maxFrame: n("max_frame"),
        recovery: n("recovery") as Recovery,
        offset: BigInt(s("offset")),
        epoch: s("epoch"),
      };
    case "ping":
      return { op: Op.Ping, seq };
    case "pong":
      return { op: Op.Pong, seq };
    case "join":
      return { op: Op.Join, seq, room: s("room"), offset: BigInt(s("offset")), epoch: s("epoch") };
    case "join_ok":
      return { op: Op.JoinOK, seq, room: s("room"), recovery: n("recovery") as Recovery, offset: BigInt(s("offset")), epoch: s("epoch") };
    case "leave":
      return { op: Op.Leave, seq, room: s("room") };
    case "leave_ok":
      return { op: Op.LeaveOK, seq, room: s("room") };
    case "push":
      return {
        op: Op.Push,
        seq,
        kind: n("kind") as PushKind,
        room: s("room"),
        id: s("id"),
        offset: BigInt(s("offset")),
        epoch: s("epoch"),
        data: fromHex(s("data_hex")),
        flags: BigInt(s("flags")),
      };
    case "error":
      return { op: Op.Error, seq, code: n("code"), message: s("message") };
    case "disconnect":
      return { op: Op.Disconnect, seq, code: n("code"), reason: s("reason") };
    case "token_expiring":
      return { op: Op.TokenExpiring, seq, expiresInMs: n("expires_in_ms") };
    case "refresh":
      return { op: Op.Refresh, seq, token: s("token") };
    case "refresh_ok":
      return { op: Op.RefreshOK, seq, expiresInMs: n("expires_in_ms") };
    case "subscribed":
      return { op: Op.Subscribed, seq, room: s("room"), recovery: n("recovery") as Recovery, offset: BigInt(s("offset")), epoch: s("epoch") };
    case "unsubscribed":
      return { op: Op.Unsubscribed, seq, room: s("room") };
    case "join_leave":
      return { op: Op.JoinLeave, seq, room: s("room"), joined: ms("joined"), left: ms("left"), omitted: n("omitted") };
    case "presence_get":
      return { op: Op.PresenceGet, seq, room: s("room") };
    case "presence_ok": {
      const complete = f["complete"];
      assert.equal(typeof complete, "boolean", `${v.name}: field complete`);
      return { op: Op.PresenceOK, seq, room: s("room"), conns: n("conns"), users: n("users"), complete: complete as boolean, members: ms("members") };
    }
    default:
      throw new Error(`unknown op ${v.op} in vector ${v.name}`);
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function vectorMembers(ms: Member[]): VectorMember[] {
  return ms.map((m) => ({ user: m.user, conn_key: m.connKey, info: utf8Decoder.decode(m.info) }));
}

/** Writes a decoded frame's fields the way the vectors do (revision-5 `joins` and `revision` only when set). */
function vectorFields(f: Frame): VectorFrame["fields"] {
  switch (f.op) {
    case Op.Auth:
      return { version: f.version, token: f.token, offset: f.offset.toString(), epoch: f.epoch, ...(f.joins ? { joins: f.joins } : {}) };
    case Op.AuthOK:
      return {
        conn_key: f.connKey,
        user: f.user,
        ping_interval_ms: f.pingIntervalMs,
        max_frame: f.maxFrame,
        recovery: f.recovery,
        offset: f.offset.toString(),
        epoch: f.epoch,
        ...(f.revision ? { revision: f.revision } : {}),
      };
    case Op.Ping:
    case Op.Pong:
      return {};
    case Op.Join:
      return { room: f.room, offset: f.offset.toString(), epoch: f.epoch };
    case Op.JoinOK:
      return { room: f.room, recovery: f.recovery, offset: f.offset.toString(), epoch: f.epoch };
    case Op.Leave:
    case Op.LeaveOK:
    case Op.Unsubscribed:
    case Op.PresenceGet:
      return { room: f.room };
    case Op.Subscribed:
      return { room: f.room, recovery: f.recovery, offset: f.offset.toString(), epoch: f.epoch };
    case Op.JoinLeave:
      return { room: f.room, joined: vectorMembers(f.joined), left: vectorMembers(f.left), omitted: f.omitted };
    case Op.PresenceOK:
      return { room: f.room, conns: f.conns, users: f.users, complete: f.complete, members: vectorMembers(f.members) };
    case Op.Push:
      return {
        kind: f.kind,
        room: f.room,
        id: f.id,
        offset: f.offset.toString(),
        epoch: f.epoch,
        data_hex: toHex(f.data),
        flags: (f.flags ?? 0n).toString(),
      };
    case Op.Error:
      return { code: f.code, message: f.message };
    case Op.Disconnect:
      return { code: f.code, reason: f.reason };
    case Op.TokenExpiring:
    case Op.RefreshOK:
      return { expires_in_ms: f.expiresInMs };
    case Op.Refresh:
      return { token: f.token };
  }
}

describe("vectors", () => {
  test("version, limits and ops match the codec", () => {
    assert.equal(vectors.version, VERSION);
    assert.equal(vectors.revision, REVISION);
    assert.deepEqual(vectors.limits, {
      header_size: HEADER_SIZE,
      max_frame: DEFAULT_MAX_FRAME,
      max_room_len: MAX_ROOM_LEN,
      max_token_len: MAX_TOKEN_LEN,
      max_auth_frame: MAX_AUTH_FRAME,
    });
    const ops: Record<string, number> = {
      auth: Op.Auth,
      auth_ok: Op.AuthOK,
      ping: Op.Ping,
      pong: Op.Pong,
      join: Op.Join,
      join_ok: Op.JoinOK,
      leave: Op.Leave,
      leave_ok: Op.LeaveOK,
      push: Op.Push,
      error: Op.Error,
      disconnect: Op.Disconnect,
      token_expiring: Op.TokenExpiring,
      refresh: Op.Refresh,
      refresh_ok: Op.RefreshOK,
      subscribed: Op.Subscribed,
      unsubscribed: Op.Unsubscribed,
      join_leave: Op.JoinLeave,
      presence_get: Op.PresenceGet,
      presence_ok: Op.PresenceOK,
    };
    assert.deepEqual(vectors.ops, ops);
    for (const op of Object.values(ops)) assert.ok(isKnownOp(op), `op ${op} known`);
    assert.equal(isKnownOp(0), false);
    assert.equal(isKnownOp(Op.PresenceOK + 1), false);
  });

  test("there are vectors of every kind", () => {
    assert.ok(vectors.frames.length >= 20);
    assert.ok(vectors.streams.length >= 5);
    assert.ok(vectors.invalid.length >= 15);
  });

  for (const v of vectors.frames) {
    test(`frame ${v.name}`, () => {
      const bytes = fromHex(v.hex);
      if (!v.decode_only) {
        assert.equal(toHex(encodeFrame(vectorFrame(v))), v.hex, "encode");
      }
      const f = decodeFrame(bytes);
      assert.equal(f.op, opByName[v.op]);
      assert.equal(f.seq, v.seq);
      assert.deepEqual(vectorFields(f), v.fields, "decode");
    });
  }

  for (const v of vectors.streams) {
    test(`stream ${v.name}`, () => {
      const bytes = fromHex(v.hex);
      const want = v.frames.map((name) => {
        const fv = vectors.frames.find((f) => f.name === name);
        assert.ok(fv, `stream ${v.name} names unknown frame ${name}`);
        return fv;
      });
      const check = (got: RawFrame[], pending: number): void => {
        assert.equal(got.length, want.length, "frame count");
        got.forEach((raw, i) => {
          const fv = want[i]!;
          assert.equal(raw.op, opByName[fv.op], `frame ${i} op`);
          assert.equal(raw.seq, fv.seq, `frame ${i} seq`);
          const f = decodeBody(raw.op, raw.seq, raw.body);
          assert.ok(f);
          assert.deepEqual(vectorFields(f), fv.fields, `frame ${i} (${fv.name})`);
        });
        assert.equal(pending, v.incomplete_tail, "pending bytes");
      };

      // In one chunk.
      const whole = new FrameDecoder();
      check(whole.push(bytes), whole.pending);

      // Split in two at every boundary.
      for (let cut = 0; cut <= bytes.length; cut++) {
        const d = new FrameDecoder();
        const got = [...d.push(bytes.slice(0, cut)), ...d.push(bytes.slice(cut))];
        check(got, d.pending);
      }

      // One byte at a time.
      const bytewise = new FrameDecoder();
      const got: RawFrame[] = [];
      for (const b of bytes) got.push(...bytewise.push(Uint8Array.of(b)));
      check(got, bytewise.pending);

      // Three chunks at every pair of boundaries, for the short streams.
      if (bytes.length <= 200) {
        for (let a = 0; a <= bytes.length; a++) {
          for (let b = a; b <= bytes.length; b += 3) {
            const d = new FrameDecoder();
            const got3 = [...d.push(bytes.slice(0, a)), ...d.push(bytes.slice(a, b)), ...d.push(bytes.slice(b))];
            check(got3, d.pending);
          }
        }
      }

      // As one WebSocket message, when no frame is left unfinished.
      if (v.incomplete_tail === 0) {
        check(splitFrames(bytes), 0);
      } else {
        assert.throws(() => splitFrames(bytes), (e) => e instanceof WireError && e.kind === "malformed");
      }
    });
  }

  for (const v of vectors.invalid) {
    test(`invalid ${v.name} (${v.error})`, () => {
      const bytes = fromHex(v.hex);
      const isKind = (e: unknown): boolean => e instanceof WireError && e.kind === v.error;
      assert.throws(() => decodeFrame(bytes, v.max_frame), isKind, "decodeFrame");
      // A stream parser must reject it too, whole or fed byte by byte; an
      // error in the header comes before the body is read.
      const decode = (d: FrameDecoder, chunks: Uint8Array[]): void => {
        for (const c of chunks) for (const r of d.push(c)) decodeBody(r.op, r.seq, r.body);
      };
      assert.throws(() => decode(new FrameDecoder(v.max_frame), [bytes]), isKind, "FrameDecoder whole");
      assert.throws(
        () => decode(new FrameDecoder(v.max_frame), Array.from(bytes, (b) => Uint8Array.of(b))),
        isKind,
        "FrameDecoder bytewise",
      );
      if (v.error === "too_large") {
        // The header alone is enough to refuse it.
        assert.throws(() => new FrameDecoder(v.max_frame).push(bytes.slice(0, HEADER_SIZE)), isKind, "header only");
      }
    });
  }
});

describe("codec", () => {
  test("header length is read unsigned", () => {
    assert.throws(
      () => parseHeader(fromHex("ffffffff0900000000")),
      (e) => e instanceof WireError && e.kind === "too_large",
    );
    assert.deepEqual(parseHeader(fromHex("0000000509ffffffff")), { op: 9, seq: 0xffffffff, bodyLength: 0 });
  });

  test("unknown ops are split but not decoded", () => {
    const bytes = fromHex("00000007ee000000010102" + "000000050300000007");
    const frames = new FrameDecoder().push(bytes);
    assert.equal(frames.length, 2);
    assert.equal(frames[0]!.op, 0xee);
    assert.equal(decodeBody(frames[0]!.op, frames[0]!.seq, frames[0]!.body), undefined);
    assert.deepEqual(decodeBody(frames[1]!.op, frames[1]!.seq, frames[1]!.body), { op: Op.Ping, seq: 7 });
    assert.throws(() => decodeFrame(bytes.subarray(0, 11)), WireError);
  });

  test("a decoder stays failed after an error", () => {
    const d = new FrameDecoder(16);
    assert.throws(() => d.push(fromHex("0000ffff0900000000")), WireError);
    assert.throws(() => d.push(fromHex("000000050300000007")), WireError);
  });

  test("uvarints round-trip at every width", () => {
    for (let bits = 0; bits <= 64; bits++) {
      for (const offset of [(1n << BigInt(bits)) - 1n, 1n << BigInt(Math.max(0, bits - 1))]) {
        if (offset >= 1n << 64n) continue;
        const f: Frame = { op: Op.Join, seq: 1, room: "r", offset, epoch: "" };
        const back = decodeFrame(encodeFrame(f));
        assert.deepEqual(back, f, `offset ${offset}`);
      }
    }
    assert.throws(() => encodeFrame({ op: Op.Join, seq: 1, room: "r", offset: 1n << 64n, epoch: "" }), RangeError);
    assert.throws(() => encodeFrame({ op: Op.Join, seq: 1, room: "r", offset: -1n, epoch: "" }), RangeError);
    assert.throws(() => encodeFrame({ op: Op.Ping, seq: 2 ** 32 }), RangeError);
  });

  test("bodies of frames cut by chunks are copies, others alias the chunk", () => {
    const push = encodeFrame({ op: Op.Push, seq: 0, kind: 1, room: "r", id: "m", offset: 5n, epoch: "", data: Uint8Array.of(1, 2, 3) });
    const d = new FrameDecoder();
    const chunk = new Uint8Array(push.length * 2 - 4);
    chunk.set(push);
    chunk.set(push.subarray(0, push.length - 4), push.length);
    const [first] = d.push(chunk);
    assert.ok(first);
    assert.equal(first.body.buffer, chunk.buffer);
    const [second] = d.push(push.slice(push.length - 4));
    assert.ok(second);
    assert.notEqual(second.body.buffer, chunk.buffer);
    assert.deepEqual(second.body, first.body);
    assert.equal(d.pending, 0);
  });

  test("position groups: left out when zero, read as zeros when absent, whole when present", () => {
    const zero = { recovery: Recovery.None, offset: 0n, epoch: "" };
    // Only the recovery, only the offset or only the epoch set: the group is written.
    for (const group of [
      { recovery: Recovery.Recovered, offset: 0n, epoch: "" },
      { recovery: Recovery.None, offset: 1n, epoch: "" },
      { recovery: Recovery.None, offset: 0n, epoch: "e" },
      { recovery: Recovery.NotRecovered, offset: (1n << 64n) - 1n, epoch: "é".repeat(127) },
    ]) {
      const f: Frame = { op: Op.JoinOK, seq: 1, room: "r", ...group };
      const bytes = encodeFrame(f);
      assert.ok(bytes.length > encodeFrame({ op: Op.JoinOK, seq: 1, room: "r", ...zero }).length);
      assert.deepEqual(decodeFrame(bytes), f);
      const ok: Frame = { op: Op.AuthOK, seq: 1, connKey: "k", user: "u", pingIntervalMs: 1, maxFrame: 9, ...group, revision: 0 };
      assert.deepEqual(decodeFrame(encodeFrame(ok)), ok);
    }
    // A revision-1 JoinOK and Auth decode with zeros.
    assert.deepEqual(decodeFrame(fromHex("0000000a0600000002046e657773")), { op: Op.JoinOK, seq: 2, room: "news", ...zero });
    assert.deepEqual(decodeFrame(fromHex("00000008010000000101017a")), { op: Op.Auth, seq: 1, version: 1, token: "z", offset: 0n, epoch: "", joins: 0 });
    // Auth with only an epoch still writes the offset.
    const auth: Frame = { op: Op.Auth, seq: 1, version: 1, token: "z", offset: 0n, epoch: "e", joins: 0 };
    assert.equal(toHex(encodeFrame(auth)), "0000000b010000000101017a000165");
    assert.deepEqual(decodeFrame(encodeFrame(auth)), auth);
    // Cut inside the group, at every byte: malformed.
    const full = encodeFrame({ op: Op.JoinOK, seq: 1, room: "r", recovery: Recovery.Recovered, offset: 300n, epoch: "ep" });
    const body = full.subarray(HEADER_SIZE);
    for (let cut = 3; cut < body.length; cut++) {
      assert.throws(() => decodeBody(Op.JoinOK, 1, body.subarray(0, cut)), (e) => e instanceof WireError && e.kind === "malformed", `cut at ${cut}`);
    }
    // Bytes after the group are ignored.
    const longer = new Uint8Array(body.length + 2);
    longer.set(body);
    assert.deepEqual(decodeBody(Op.JoinOK, 1, longer), decodeBody(Op.JoinOK, 1, body));
    assert.throws(() => encodeFrame({ op: Op.JoinOK, seq: 1, room: "r", recovery: 256 as Recovery, offset: 0n, epoch: "" }), RangeError);
  });

  test("token refresh frames (revision 3): round trips, limits, truncation, trailing bytes", () => {
    const frames: Frame[] = [
      { op: Op.TokenExpiring, seq: 0, expiresInMs: 0 },
      { op: Op.TokenExpiring, seq: 0, expiresInMs: 2 ** 53 - 1 },
      { op: Op.RefreshOK, seq: 6, expiresInMs: 3_600_000 },
      { op: Op.Refresh, seq: 6, token: "" },
      { op: Op.Refresh, seq: 0xffffffff, token: "t".repeat(MAX_TOKEN_LEN) },
    ];
    for (const f of frames) assert.deepEqual(decodeFrame(encodeFrame(f)), f);
    // The same bodies as Go writes them: 30000 is b0 ea 01.
    assert.equal(toHex(encodeFrame({ op: Op.TokenExpiring, seq: 0, expiresInMs: 30000 })), "000000080c00000000b0ea01");
    assert.throws(() => encodeFrame({ op: Op.RefreshOK, seq: 1, expiresInMs: -1 }), RangeError);
    assert.throws(() => encodeFrame({ op: Op.RefreshOK, seq: 1, expiresInMs: 1.5 }), RangeError);
    const malformed = (e: unknown): boolean => e instanceof WireError && e.kind === "malformed";
    // A token over 8192 bytes, empty bodies, a cut uvarint: malformed.
    assert.throws(() => decodeFrame(encodeFrame({ op: Op.Refresh, seq: 1, token: "t".repeat(MAX_TOKEN_LEN + 1) })), malformed);
    for (const op of [Op.TokenExpiring, Op.Refresh, Op.RefreshOK]) {
      assert.throws(() => decodeBody(op, 1, new Uint8Array()), malformed, `empty body of op ${op}`);
    }
    assert.throws(() => decodeBody(Op.RefreshOK, 1, fromHex("80dd")), malformed);
    assert.throws(() => decodeBody(Op.Refresh, 1, fromHex("0574")), malformed);
    // Bytes after the known field are ignored (a later revision may append fields).
    assert.deepEqual(decodeBody(Op.TokenExpiring, 0, fromHex("b0ea01ff00")), { op: Op.TokenExpiring, seq: 0, expiresInMs: 30000 });
    assert.deepEqual(decodeBody(Op.Refresh, 2, fromHex("0174aa")), { op: Op.Refresh, seq: 2, token: "t" });
    // The ops after revision 5 are still unknown: a client skips them.
    assert.equal(decodeBody(0x14, 0, new Uint8Array()), undefined);
  });

  test("revision 5: joins and revision after a whole position group, read as 0 when absent", () => {
    const malformed = (e: unknown): boolean => e instanceof WireError && e.kind === "malformed";
    // Auth: joins forces the group (zeros), and is left out when 0 or undefined.
    const plain = encodeFrame({ op: Op.Auth, seq: 1, version: 1, token: "t", offset: 0n, epoch: "" });
    assert.equal(toHex(plain), "00000008010000000101" + "0174");
    assert.equal(toHex(encodeFrame({ op: Op.Auth, seq: 1, version: 1, token: "t", offset: 0n, epoch: "", joins: 0 })), toHex(plain));
    assert.equal(toHex(encodeFrame({ op: Op.Auth, seq: 1, version: 1, token: "t", offset: 0n, epoch: "", joins: 300 })), "0000000c01000000010101740000ac02");
    const back = decodeFrame(plain);
    assert.ok(back.op === Op.Auth);
    assert.equal(back.joins, 0);
    // AuthOK: a revision forces the group; without one the group may be left out.
    const ok: Frame = { op: Op.AuthOK, seq: 1, connKey: "k", user: "u", pingIntervalMs: 1, maxFrame: 9, recovery: Recovery.None, offset: 0n, epoch: "", revision: 5 };
    const okBytes = encodeFrame(ok);
    assert.equal(toHex(okBytes), "0000000f0200000001016b0175010900000005");
    assert.deepEqual(decodeFrame(okBytes), ok);
    const old = decodeFrame(encodeFrame({ ...ok, revision: 0 }));
    assert.ok(old.op === Op.AuthOK);
    assert.equal(old.revision, 0);
    // Cut inside the group before revision: malformed; bytes after it ignored.
    const body = okBytes.subarray(HEADER_SIZE);
    assert.throws(() => decodeBody(Op.AuthOK, 1, body.subarray(0, body.length - 2)), malformed);
    assert.deepEqual(decodeBody(Op.AuthOK, 1, Uint8Array.of(...body, 0xaa)), ok);
    // A 10-byte joins keeps Auth within the limit before AuthOK.
    const largest = encodeFrame({ op: Op.Auth, seq: 1, version: 2 ** 53 - 1, token: "t".repeat(MAX_TOKEN_LEN), offset: (1n << 64n) - 1n, epoch: "e".repeat(MAX_ROOM_LEN), joins: 2 ** 53 - 1 });
    assert.ok(largest.length <= MAX_AUTH_FRAME, `${largest.length} bytes`);
  });

  test("revision 5: Subscribed, Unsubscribed, JoinLeave, PresenceGet, PresenceOK", () => {
    const malformed = (e: unknown): boolean => e instanceof WireError && e.kind === "malformed";
    const info = new TextEncoder().encode('{"name":"Ann"}');
    const frames: Frame[] = [
      { op: Op.Subscribed, seq: 0, room: "team/7", recovery: Recovery.None, offset: 1234n, epoch: "e7" },
      { op: Op.Subscribed, seq: 0, room: "team/7", recovery: Recovery.None, offset: 0n, epoch: "" },
      { op: Op.Unsubscribed, seq: 0, room: "team/7" },
      { op: Op.PresenceGet, seq: 8, room: "chat/1" },
      { op: Op.JoinLeave, seq: 0, room: "chat/1", joined: [{ user: "u1", connKey: "e1-a", info }], left: [], omitted: 0 },
      { op: Op.PresenceOK, seq: 8, room: "chat/1", conns: 1, users: 1, complete: true, members: [{ user: "u1", connKey: "e1-a", info: new Uint8Array(MAX_INFO_LEN) }] },
      { op: Op.PresenceOK, seq: 9, room: "big", conns: 2 ** 40, users: 3, complete: false, members: [] },
    ];
    for (const f of frames) assert.deepEqual(decodeFrame(encodeFrame(f)), f);
    // Info over 1024 bytes, complete above 1, a count beyond the body, a missing omitted: malformed.
    assert.throws(
      () => decodeFrame(encodeFrame({ op: Op.PresenceOK, seq: 8, room: "r", conns: 1, users: 1, complete: true, members: [{ user: "u", connKey: "k", info: new Uint8Array(MAX_INFO_LEN + 1) }] })),
      malformed,
    );
    assert.throws(() => decodeBody(Op.PresenceOK, 8, fromHex("0172010102" + "00")), malformed);
    assert.throws(() => decodeBody(Op.JoinLeave, 0, fromHex("0172" + "02" + "000000" + "00" + "00")), malformed);
    assert.throws(() => decodeBody(Op.JoinLeave, 0, fromHex("0172" + "00" + "00")), malformed);
    // Member infos alias the body, as Push data does.
    const body = encodeFrame(frames[4]!).subarray(HEADER_SIZE);
    const jl = decodeBody(Op.JoinLeave, 0, body);
    assert.ok(jl?.op === Op.JoinLeave);
    assert.equal(jl.joined[0]!.info.buffer, body.buffer);
  });

  test("strings keep a leading BOM and count bytes", () => {
    const f: Frame = { op: Op.Leave, seq: 3, room: "\uFEFFчат/日本" };
    const bytes = encodeFrame(f);
    assert.equal(bytes.length, HEADER_SIZE + 1 + 3 + 13);
    assert.deepEqual(decodeFrame(bytes), f);
  });

  test("datagrams (revision 4): one whole ephemeral push, anything else malformed", () => {
    const eph: Frame = { op: Op.Push, seq: 0, kind: 1, room: "pos", id: "m", offset: 0n, epoch: "", data: fromHex("7b7d"), flags: PushFlags.Ephemeral };
    const b = encodeFrame(eph);
    const f = decodeDatagram(b);
    assert.deepEqual(f, eph);
    assert.ok(isEphemeral(f));
    const malformed = (e: unknown): boolean => e instanceof WireError && e.kind === "malformed";
    const reliable = encodeFrame({ op: Op.Push, seq: 0, kind: 1, room: "pos", id: "m", offset: 0n, epoch: "", data: fromHex("7b7d") });
    for (const bad of [new Uint8Array(), b.subarray(0, b.length - 1), new Uint8Array([...b, ...b]), reliable, encodeFrame({ op: Op.Ping, seq: 0 })]) {
      assert.throws(() => decodeDatagram(bad), malformed, toHex(bad));
    }
    assert.throws(() => decodeDatagram(b, b.length - 1), (e: unknown) => e instanceof WireError && e.kind === "too_large");
    // Flags are left out when zero, so a reliable push is byte for byte what revision 3 wrote.
    assert.equal(reliable.length, b.length - 1);
  });
});
