import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import {
  Client,
  type ClientEvents,
  type JoinLeaveEvent,
  type Message,
  messageJSON,
  type NotRecoveredEvent,
  type RecoveredEvent,
  type SubscribedEvent,
  type UnsubscribedEvent,
} from "./client.js";
import { encodeFrame, Op, PushFlags, PushKind } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { delay, FakeEdge, fakeWebSocket, fakeWebTransport, until, type FakeWebTransportMode } from "./fakes.test-helpers.js";
import type { ClientOptions } from "./options.js";

const endpoints = { webtransport: "https://127.0.0.1:4433/wt", websocket: "ws://127.0.0.1:4434/ws" };
const text = (d: Uint8Array): string => new TextDecoder().decode(d);

const clients: Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** A client of `edge` with fast timings; `wt` picks the WebTransport behaviour (null: none). */
function newClient(
  edge: FakeEdge,
  wt: FakeWebTransportMode | null = "ok",
  options: Partial<ClientOptions> = {},
): Client {
  const c = new Client(endpoints, {
    token: edge.token,
    WebTransport: wt === null ? null : fakeWebTransport(edge, () => wt),
    WebSocket: fakeWebSocket(edge),
    backoff: { minMs: 5, maxMs: 20 },
    webTransportTimeoutMs: 100,
    connectTimeoutMs: 500,
    requestTimeoutMs: 500,
    ...options,
  });
  clients.push(c);
  return c;
}

/** Records every event as [name, payload]. */
function record(c: Client): Array<[keyof ClientEvents, unknown]> {
  const log: Array<[keyof ClientEvents, unknown]> = [];
  for (const name of ["connecting", "connected", "disconnected", "message", "error"] as const) {
    c.on(name, (ev) => log.push([name, ev]));
  }
  return log;
}

const codeOf = (code: number) => (e: unknown): boolean => {
  assert.ok(e instanceof QuicpushError, `not a QuicpushError: ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

describe("transports", () => {
  test("WebTransport first, with the certificate hashes", async () => {
    const edge = new FakeEdge();
    const hash = "Eprl0uyO4tB7bJ7tDGd9Rm1FqwsJ0Xyxw0OQGl1NO+Q=";
    const c = newClient(edge, "ok", { serverCertificateHashes: [hash] });
    await c.connect();
    assert.equal(c.transport, "webtransport");
    assert.equal(c.state, "connected");
    assert.equal(c.user, "alice");
    assert.equal(edge.wsAttempts, 0);
    assert.equal(edge.session.transport, "webtransport");
  });

  test("WebTransport missing: WebSocket at once", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null, { webTransportTimeoutMs: 5000 });
    const start = performance.now();
    await c.connect();
    assert.equal(c.transport, "websocket");
    assert.ok(performance.now() - start < 500);
    assert.equal(edge.wtAttempts, 0);
  });

  test("WebTransport hangs: WebSocket within the timeout, then WebSocket for the session", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, "hang", { webTransportTimeoutMs: 80 });
    const log = record(c);
    const start = performance.now();
    await c.connect();
    const took = performance.now() - start;
    assert.equal(c.transport, "websocket");
    assert.ok(took >= 75 && took < 400, `connected after ${took} ms`);
    assert.ok(log.some(([n, e]) => n === "error" && (e as QuicpushError).code === ClientCode.Timeout));

    // A reconnect goes straight to WebSocket: the choice is remembered.
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
    assert.equal(c.transport, "websocket");
    assert.equal(edge.wtAttempts, 1);
  });

  test("WebTransport fails: WebSocket without waiting for the timeout", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, "fail", { webTransportTimeoutMs: 5000 });
    const start = performance.now();
    await c.connect();
    assert.equal(c.transport, "websocket");
    assert.ok(performance.now() - start < 500);
  });

  test("a WebTransport that worked once is tried again after a failure", async () => {
    const edge = new FakeEdge();
    let mode: FakeWebTransportMode = "ok";
    const c = new Client(endpoints, {
      token: "good",
      WebTransport: fakeWebTransport(edge, () => mode),
      WebSocket: fakeWebSocket(edge),
      backoff: { minMs: 5, maxMs: 20 },
      webTransportTimeoutMs: 50,
    });
    clients.push(c);
    await c.connect();
    assert.equal(c.transport, "webtransport");
    mode = "fail";
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && c.state === "connected", "fallback");
    assert.equal(c.transport, "websocket");
    mode = "ok";
    edge.session.drop();
    await until(() => edge.sessions.length === 3 && c.state === "connected", "back to webtransport");
    assert.equal(c.transport, "webtransport");
  });

  test("WebTransport only and it fails: retried with backoff", async () => {
    const edge = new FakeEdge();
    const c = new Client(
      { webtransport: endpoints.webtransport },
      { token: "good", WebTransport: fakeWebTransport(edge, () => "fail"), backoff: { minMs: 5, maxMs: 10 } },
    );
    clients.push(c);
    const log = record(c);
    void c.connect().catch(() => {});
    await until(() => edge.wtAttempts >= 3, "retries");
    assert.ok(log.filter(([n]) => n === "error").length >= 2);
    assert.equal(c.state, "connecting");
  });
});

describe("session", () => {
  test("events in order: connecting, connected, message, disconnected", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const log = record(c);
    await c.connect();
    await c.joinRoom("news");
    edge.push("news", "hello", 7n, "e1");
    await until(() => log.some(([n]) => n === "message"), "message");
    edge.session.disconnect(3000, "draining");
    await until(() => log.some(([n]) => n === "disconnected"), "disconnected");
    assert.deepEqual(
      log.map(([n]) => n).slice(0, 4),
      ["connecting", "connected", "message", "disconnected"],
    );
    assert.deepEqual(log[0]![1], { attempt: 0 });
    assert.deepEqual(log[1]![1], { transport: "webtransport", connKey: "c1", user: "alice", pingIntervalMs: 25000, revision: 5 });
    const m = log[2]![1] as { kind: string; room: string; id: string; offset: bigint; epoch: string; data: Uint8Array };
    assert.equal(m.kind, "room");
    assert.equal(m.room, "news");
    assert.equal(m.offset, 7n);
    assert.equal(m.epoch, "e1");
    assert.equal(text(m.data), "hello");
    assert.deepEqual(log[3]![1], { code: 3000, reason: "draining", reconnect: true });
  });

  test("reconnects, rejoins every room from its last position, and receives again", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const got: string[] = [];
    await c.connect();
    await c.joinRoom("a", (m) => got.push(`a:${text(m.data)}`));
    await c.joinRoom("b", (m) => got.push(`b:${text(m.data)}`));
    edge.push("a", "1", 41n, "e7");
    edge.push("a", "2", 42n, "e7");
    await until(() => got.length === 2, "pushes");
    assert.deepEqual(c.position("a"), { offset: 42n, epoch: "e7" });

    edge.session.drop();
    await until(() => edge.sessions.length === 2 && edge.session.rooms.size === 2, "rejoin");
    const joins = edge.session.joins.map((j) => [j.room, j.offset, j.epoch]);
    assert.deepEqual(joins, [
      ["a", 42n, "e7"],
      ["b", 0n, ""],
    ]);
    edge.push("b", "3");
    await until(() => got.length === 3, "push after reconnect");
    assert.deepEqual(got, ["a:1", "a:2", "b:3"]);
  });

  test("the token function runs before every connect", async () => {
    const edge = new FakeEdge();
    let calls = 0;
    const c = newClient(edge, "ok", {
      token: async () => {
        calls++;
        edge.token = `t${calls}`;
        return edge.token;
      },
    });
    await c.connect();
    edge.session.disconnect(3004, "token expired");
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
    assert.deepEqual(edge.tokens, ["t1", "t2"]);
  });

  test("a token function that throws fails the attempt, which is retried", async () => {
    const edge = new FakeEdge();
    let calls = 0;
    const c = newClient(edge, "ok", {
      token: () => {
        if (++calls < 3) throw new Error("token service down");
        return "good";
      },
    });
    const log = record(c);
    await c.connect();
    assert.equal(calls, 3);
    assert.equal(log.filter(([n, e]) => n === "error" && (e as QuicpushError).code === ClientCode.TokenFailed).length, 2);
  });

  test("a bad token stops the client: 3500, no retry", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, "ok", { token: "bad" });
    const log = record(c);
    await assert.rejects(c.connect(), codeOf(3500));
    await delay(100); // many backoff periods
    assert.equal(edge.wtAttempts + edge.wsAttempts, 1);
    assert.equal(c.state, "disconnected");
    assert.deepEqual(
      log.filter(([n]) => n !== "error"),
      [
        ["connecting", { attempt: 0 }],
        ["disconnected", { code: 3500, reason: "invalid token", reconnect: false }],
      ],
    );
  });

  test("a bad token over WebSocket stops the client too", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null, { token: "bad" });
    await assert.rejects(c.connect(), codeOf(3500));
    await delay(60);
    assert.equal(edge.wsAttempts, 1);
  });

  test("a stop code on a live connection stops the client; connect() starts it again", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const log = record(c);
    await c.connect();
    const join = c.joinRoom("news");
    await join;
    edge.session.disconnect(3504, "kicked");
    await until(() => c.state === "disconnected", "stopped");
    await delay(60);
    assert.equal(edge.sessions.length, 1);
    assert.deepEqual(log.at(-1), ["disconnected", { code: 3504, reason: "kicked", reconnect: false }]);
    // A stopped client answers at once, and remembers the room for later.
    await assert.rejects(c.joinRoom("later"), codeOf(3504));
    await c.connect();
    await until(() => edge.session.rooms.has("later"), "room joined after a new connect()");
    assert.equal(edge.sessions.length, 2);
    await until(() => edge.session.rooms.has("news"), "rejoined after a new connect()");
  });

  test("WebTransport: the Disconnect frame's code stands when the session close carries none (Chrome)", async () => {
    const edge = new FakeEdge();
    edge.wtCloseCodeLost = true;
    const c = newClient(edge);
    const log = record(c);
    await c.connect();
    assert.equal(c.transport, "webtransport");
    edge.session.disconnect(3504, "kicked");
    await until(() => c.state === "disconnected", "stopped");
    assert.deepEqual(log.at(-1), ["disconnected", { code: 3504, reason: "kicked", reconnect: false }]);

    // At Auth too.
    const bad = newClient(edge, "ok", { token: "bad" });
    await assert.rejects(bad.connect(), codeOf(3500));
    assert.equal(bad.state, "disconnected");

    // A reconnect code keeps its meaning: reconnect, not a network failure.
    const d = newClient(edge);
    const dlog = record(d);
    await d.connect();
    edge.session.disconnect(3000, "draining");
    await until(() => dlog.some(([n]) => n === "disconnected"), "disconnected");
    assert.deepEqual(dlog.find(([n]) => n === "disconnected")![1], { code: 3000, reason: "draining", reconnect: true });
  });

  test("a close code without a Disconnect frame is honoured", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const log = record(c);
    await c.connect();
    edge.session.closeWithCode(3001, "oops");
    await until(() => log.some(([n]) => n === "disconnected"), "disconnected");
    assert.deepEqual(log.find(([n]) => n === "disconnected")![1], { code: 3001, reason: "oops", reconnect: true });
    await until(() => c.state === "connected" && edge.sessions.length === 2, "reconnected");

    edge.session.closeWithCode(3501, "protocol error");
    await until(() => c.state === "disconnected", "stopped");
  });

  test("a WebSocket close code outside 3000-3999 is a network failure", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const log = record(c);
    await c.connect();
    edge.session.closeWithCode(1011, "server went away");
    await until(() => log.some(([n]) => n === "disconnected"), "disconnected");
    assert.deepEqual(log.find(([n]) => n === "disconnected")![1], { code: 0, reason: "server went away", reconnect: true });
  });

  test("no pong within the ping interval: reconnect", async () => {
    const edge = new FakeEdge();
    edge.pingIntervalMs = 30;
    const c = newClient(edge);
    const log = record(c);
    await c.connect();
    await delay(100);
    assert.equal(edge.sessions.length, 1, "answered pings keep the connection");
    assert.ok(edge.session.received.filter((f) => f.op === Op.Ping).length >= 2);
    edge.answerPings = false;
    await until(() => edge.sessions.length === 2, "reconnect after missed pong", 1000);
    const d = log.find(([n]) => n === "disconnected")![1] as { code: number; reason: string; reconnect: boolean };
    assert.equal(d.code, 0);
    assert.equal(d.reconnect, true);
    assert.match(d.reason, /no reply to a ping/);
  });

  test("a server ping is answered with a pong", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    await c.connect();
    const pongs: number[] = [];
    const s = edge.session;
    const orig = s.receive.bind(s);
    s.receive = (b) => {
      orig(b);
      for (const f of s.received) if (f.op === Op.Pong) pongs.push(f.seq);
    };
    s.write(encodeFrame({ op: Op.Ping, seq: 99 }));
    await until(() => pongs.includes(99), "pong");
  });

  test("pushes that arrive with AuthOK are delivered", async () => {
    const edge = new FakeEdge();
    edge.afterAuth = encodeFrame({ op: Op.Push, seq: 0, kind: PushKind.Direct, room: "", id: "x", offset: 0n, epoch: "", data: Uint8Array.of(1) });
    for (const wt of ["ok", null] as const) {
      const c = newClient(edge, wt);
      const got: string[] = [];
      c.on("message", (m) => got.push(`${m.kind}:${m.id}`));
      await c.connect();
      await until(() => got.length === 1, "direct push");
      assert.deepEqual(got, ["direct:x"]);
      c.close();
    }
  });

  test("a malformed frame from the server drops the connection and reconnects", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, "ok");
    const log = record(c);
    await c.connect();
    edge.session.write(Uint8Array.from([0, 0, 0, 5, 9, 0, 0, 0, 0])); // push with an empty body
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
    assert.ok(log.some(([n, e]) => n === "error" && (e as QuicpushError).code === ClientCode.BadFrame));
  });

  test("unknown ops are skipped", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const got: string[] = [];
    c.on("message", (m) => got.push(m.id));
    await c.connect();
    // An op of a later revision (0x0f follows revision 3's RefreshOK) and one far off.
    const unknown = Uint8Array.from([0, 0, 0, 7, 0x0f, 0, 0, 0, 0, 1, 2, 0, 0, 0, 7, 0xee, 0, 0, 0, 0, 1, 2]);
    const push = encodeFrame({ op: Op.Push, seq: 0, kind: PushKind.Broadcast, room: "", id: "b", offset: 0n, epoch: "", data: new Uint8Array() });
    const both = new Uint8Array(unknown.length + push.length);
    both.set(unknown);
    both.set(push, unknown.length);
    edge.session.write(both);
    await until(() => got.length === 1, "push after an unknown op");
    assert.equal(c.state, "connected");
  });
});

describe("token refresh", () => {
  /** A token function that hands out t1, t2, ... and makes the edge accept the newest. */
  function rotating(edge: FakeEdge): { calls: () => number; token: () => Promise<string> } {
    let n = 0;
    return {
      calls: () => n,
      token: async () => {
        n++;
        edge.token = `t${n}`;
        return edge.token;
      },
    };
  }

  const errorsOf = (log: Array<[keyof ClientEvents, unknown]>): QuicpushError[] =>
    log.filter(([n]) => n === "error").map(([, e]) => e as QuicpushError);

  for (const wt of ["ok", null] as const) {
    test(`TokenExpiring: the token function runs and Refresh carries the new token on the same connection (${wt ? "webtransport" : "websocket"})`, async () => {
      const edge = new FakeEdge();
      edge.pingIntervalMs = 20;
      const tokens = rotating(edge);
      const c = newClient(edge, wt, { token: tokens.token });
      const log = record(c);
      const got: string[] = [];
      await c.connect();
      await c.joinRoom("news", (m) => got.push(text(m.data)));
      const s = edge.session;
      // Pings go by, and nothing asks for a refresh: no Refresh.
      await delay(60);
      assert.equal(s.refreshes.length, 0);
      assert.equal(tokens.calls(), 1);

      s.tokenExpiring(30000);
      await until(() => s.refreshes.length === 1, "refresh");
      assert.equal(tokens.calls(), 2);
      assert.equal(s.refreshes[0]!.token, "t2");
      assert.notEqual(s.refreshes[0]!.seq, 0);
      // RefreshOK keeps the connection: still the same session, nothing reported.
      await delay(60);
      assert.equal(c.state, "connected");
      assert.equal(edge.sessions.length, 1);
      assert.equal(s.closed, false);
      edge.push("news", "after refresh");
      await until(() => got.length === 1, "push after the refresh");

      // The fresh token's warning: refreshed again, on the same connection.
      s.tokenExpiring(500);
      await until(() => s.refreshes.length === 2, "second refresh");
      assert.equal(s.refreshes[1]!.token, "t3");
      await delay(30);
      assert.deepEqual(edge.tokens, ["t1"], "one Auth");
      assert.equal(edge.sessions.length, 1);
      assert.deepEqual(
        log.filter(([n]) => n !== "message").map(([n]) => n),
        ["connecting", "connected"],
      );
    });
  }

  test("a TokenExpiring that comes with AuthOK is answered", async () => {
    const edge = new FakeEdge();
    edge.expiringAtAuth = 1500;
    const tokens = rotating(edge);
    const c = newClient(edge, "ok", { token: tokens.token });
    const log = record(c);
    await c.connect();
    await until(() => edge.session.refreshes.length === 1, "refresh");
    assert.equal(edge.session.refreshes[0]!.token, "t2");
    await delay(20);
    assert.equal(c.state, "connected");
    assert.deepEqual(errorsOf(log), []);
  });

  test("a TokenExpiring read right after RefreshOK refreshes again", async () => {
    const edge = new FakeEdge();
    edge.expiringAfterRefresh = 2;
    const tokens = rotating(edge);
    const c = newClient(edge, null, { token: tokens.token });
    const log = record(c);
    await c.connect();
    edge.session.tokenExpiring();
    await until(() => edge.session.refreshes.length === 3, "three refreshes");
    await delay(30);
    assert.deepEqual(edge.session.refreshes.map((f) => f.token), ["t2", "t3", "t4"]);
    assert.equal(edge.sessions.length, 1);
    assert.deepEqual(errorsOf(log), []);
  });

  test("Error 105 (token rejected) is an error event; the connection stays until the edge closes it with 3004", async () => {
    const edge = new FakeEdge();
    let calls = 0;
    const c = newClient(edge, "ok", {
      token: () => {
        calls++;
        // The first refresh gets a token the edge does not take.
        return calls === 2 ? "stale" : edge.token;
      },
    });
    const log = record(c);
    const got: string[] = [];
    await c.connect();
    await c.joinRoom("news", (m) => got.push(text(m.data)));
    const s = edge.session;
    s.tokenExpiring(1000);
    await until(() => errorsOf(log).length === 1, "error event");
    const err = errorsOf(log)[0]!;
    assert.ok(err instanceof QuicpushError);
    assert.equal(err.code, 105);
    assert.equal(err.reason, "token rejected");
    assert.deepEqual(s.refreshes.map((f) => f.token), ["stale"]);
    await delay(30);
    assert.equal(c.state, "connected");
    assert.equal(s.closed, false);
    assert.equal(edge.sessions.length, 1);
    assert.ok(!log.some(([n]) => n === "disconnected"));
    edge.push("news", "still here");
    await until(() => got.length === 1, "push after the rejected refresh");

    // At expiry the edge closes with 3004; the client reconnects with a fresh token.
    s.disconnect(3004, "token expired");
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
    assert.deepEqual(log.find(([n]) => n === "disconnected")![1], { code: 3004, reason: "token expired", reconnect: true });
    assert.equal(calls, 3);
    assert.deepEqual(edge.tokens, ["good", "good"]);
    assert.ok(edge.session.rooms.has("news"));
  });

  test("a token function that fails on refresh: an error event, the connection stays", async () => {
    const edge = new FakeEdge();
    let calls = 0;
    const c = newClient(edge, null, {
      token: () => {
        if (++calls === 2) throw new Error("token service down");
        return edge.token;
      },
    });
    const log = record(c);
    await c.connect();
    edge.session.tokenExpiring();
    await until(() => errorsOf(log).length === 1, "error event");
    assert.equal(errorsOf(log)[0]!.code, ClientCode.TokenFailed);
    await delay(20);
    assert.equal(edge.session.refreshes.length, 0);
    assert.equal(c.state, "connected");
    assert.equal(edge.sessions.length, 1);
  });

  test("an unanswered Refresh times out as an error event; the connection stays", async () => {
    const edge = new FakeEdge();
    edge.answerRefresh = false;
    const c = newClient(edge, null, { token: () => edge.token, requestTimeoutMs: 50 });
    const log = record(c);
    await c.connect();
    edge.session.tokenExpiring();
    await until(() => errorsOf(log).length === 1, "timeout");
    assert.equal(errorsOf(log)[0]!.code, ClientCode.Timeout);
    assert.equal(c.state, "connected");
    assert.equal(edge.sessions.length, 1);
  });

  test("a fixed token ignores TokenExpiring", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, "ok"); // token: "good", a string
    const log = record(c);
    await c.connect();
    edge.session.tokenExpiring(1000);
    await delay(50);
    assert.equal(edge.session.refreshes.length, 0);
    assert.ok(!edge.session.received.some((f) => f.op === Op.Refresh));
    assert.equal(c.state, "connected");
    assert.deepEqual(errorsOf(log), []);
    // At expiry the edge closes with 3004 and the client reconnects, as before revision 3.
    edge.session.disconnect(3004, "token expired");
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
  });

  test("a refresh cut by a lost connection sends nothing, on either connection", async () => {
    const edge = new FakeEdge();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const c = newClient(edge, null, {
      token: async () => {
        if (++calls === 2) await gate; // the refresh's token is slow
        return edge.token;
      },
    });
    const log = record(c);
    await c.connect();
    const first = edge.session;
    first.tokenExpiring();
    await until(() => calls === 2, "token function called");
    first.drop();
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnect");
    release();
    await delay(30);
    // No TokenExpiring on the new connection: no Refresh there (an older edge would close).
    assert.equal(first.refreshes.length, 0);
    assert.equal(edge.session.refreshes.length, 0);
    assert.equal(edge.session.closed, false);
    assert.deepEqual(errorsOf(log), []);
  });

  test("a token over 8192 bytes is not sent: an error event, the connection stays", async () => {
    const edge = new FakeEdge();
    let calls = 0;
    const c = newClient(edge, null, { token: () => (++calls === 1 ? edge.token : "x".repeat(8193)) });
    const log = record(c);
    await c.connect();
    edge.session.tokenExpiring();
    await until(() => errorsOf(log).length === 1, "error event");
    assert.equal(errorsOf(log)[0]!.code, ClientCode.TokenFailed);
    assert.equal(edge.session.refreshes.length, 0);
    assert.equal(c.state, "connected");
  });

  test("3008 (rate limited) reconnects like the other 3000-3499 codes", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const log = record(c);
    await c.connect();
    await c.joinRoom("news");
    edge.session.disconnect(3008, "rate limited");
    await until(() => edge.sessions.length === 2 && c.state === "connected" && edge.session.rooms.has("news"), "reconnect");
    assert.deepEqual(log.find(([n]) => n === "disconnected")![1], { code: 3008, reason: "rate limited", reconnect: true });
    // A close code alone (no Disconnect frame) too.
    edge.session.closeWithCode(3008, "rate limited");
    await until(() => edge.sessions.length === 3 && c.state === "connected", "reconnect after the close code");
  });
});

describe("rooms", () => {
  test("joinRoom before connect resolves once connected", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const joined = c.joinRoom("news");
    await c.connect();
    await joined;
    assert.ok(edge.session.rooms.has("news"));
    assert.deepEqual(c.rooms(), ["news"]);
  });

  test("a refused join rejects with the edge's code and is forgotten", async () => {
    const edge = new FakeEdge();
    edge.forbidden.add("secret");
    const c = newClient(edge);
    await c.connect();
    await assert.rejects(c.joinRoom("secret"), codeOf(101));
    assert.deepEqual(c.rooms(), []);
  });

  test("a join the edge fails to serve (104) is retried, not forgotten", async () => {
    const edge = new FakeEdge();
    edge.failing.set("flaky", 3);
    const c = newClient(edge);
    await c.connect();
    await c.joinRoom("flaky");
    assert.equal(edge.session.joins.filter((j) => j.room === "flaky").length, 4);
    assert.deepEqual(c.rooms(), ["flaky"]);
    assert.ok(edge.session.rooms.has("flaky"));
  });

  test("invalid room names are refused locally with 100", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    await assert.rejects(c.joinRoom(""), codeOf(100));
    await assert.rejects(c.joinRoom("é".repeat(128)), codeOf(100)); // 256 bytes
    const ok = c.joinRoom("é".repeat(127) + "x"); // 255 bytes
    await c.connect();
    await ok;
  });

  test("leaveRoom forgets the room and drops its pushes", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const got: string[] = [];
    c.on("message", (m) => got.push(text(m.data)));
    await c.connect();
    await c.joinRoom("news");
    edge.push("news", "before");
    await until(() => got.length === 1, "push");
    await c.leaveRoom("news");
    assert.equal(edge.session.rooms.has("news"), false);
    // A push the edge queued before handling Leave is dropped by the client.
    edge.session.rooms.add("news");
    edge.push("news", "after");
    await delay(20);
    assert.deepEqual(got, ["before"]);
    await assert.rejects(c.leaveRoom("news"), codeOf(103));
  });

  test("leaveRoom while a join waits rejects the join with Left", async () => {
    const edge = new FakeEdge();
    edge.answerJoins = false;
    const c = newClient(edge);
    await c.connect();
    const join = c.joinRoom("slow");
    const leave = c.leaveRoom("slow");
    await assert.rejects(join, codeOf(ClientCode.Left));
    await assert.rejects(leave, codeOf(103)); // the fake edge never added the room
  });

  test("an unanswered join times out but stays remembered", async () => {
    const edge = new FakeEdge();
    edge.answerJoins = false;
    const c = newClient(edge, "ok", { requestTimeoutMs: 50 });
    await c.connect();
    await assert.rejects(c.joinRoom("slow"), codeOf(ClientCode.Timeout));
    assert.deepEqual(c.rooms(), ["slow"]);
    edge.answerJoins = true;
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && edge.session.rooms.has("slow"), "joined on the next connection");
  });

  test("a join in flight when the connection drops completes on the next one", async () => {
    const edge = new FakeEdge();
    edge.answerJoins = false;
    const c = newClient(edge);
    await c.connect();
    const join = c.joinRoom("news");
    await until(() => edge.session.joins.length === 1, "join sent");
    edge.answerJoins = true;
    edge.session.drop();
    await join;
    assert.equal(edge.sessions.length, 2);
  });
});

describe("close", () => {
  test("close() rejects pending calls and emits disconnected", async () => {
    const edge = new FakeEdge();
    edge.down = true;
    const c = newClient(edge);
    const pending = c.connect();
    const join = c.joinRoom("news");
    await delay(10);
    c.close();
    await assert.rejects(pending, codeOf(ClientCode.Closed));
    await assert.rejects(join, codeOf(ClientCode.Closed));
    await assert.rejects(c.connect(), codeOf(ClientCode.Closed));
    assert.equal(c.state, "closed");

    edge.down = false;
    const c2 = newClient(edge);
    const log = record(c2);
    await c2.connect();
    c2.close();
    assert.deepEqual(log.at(-1), ["disconnected", { code: 0, reason: "client closed", reconnect: false }]);
    await delay(30);
    assert.equal(edge.session.closed, true);
    assert.equal(edge.sessions.length, 1);
  });

  test("the AbortSignal closes the client", async () => {
    const edge = new FakeEdge();
    const ctl = new AbortController();
    const c = newClient(edge, "ok", { signal: ctl.signal });
    await c.connect();
    ctl.abort();
    assert.equal(c.state, "closed");
    const aborted = new AbortController();
    aborted.abort();
    const c2 = newClient(edge, "ok", { signal: aborted.signal });
    await assert.rejects(c2.connect(), codeOf(ClientCode.Closed));
  });

  test("a listener that throws does not break the client", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const errors: QuicpushError[] = [];
    c.on("error", (e) => errors.push(e));
    c.on("connected", () => {
      throw new Error("app bug");
    });
    await c.connect();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, ClientCode.ListenerFailed);
    assert.equal(c.state, "connected");
  });
});

describe("options", () => {
  test("invalid options throw TypeError", () => {
    assert.throws(() => new Client({}, { token: "t" }), TypeError);
    assert.throws(() => new Client({ websocket: "http://x/ws" }, { token: "t" }), TypeError);
    assert.throws(() => new Client({ webtransport: "wss://x/wt" }, { token: "t" }), TypeError);
    assert.throws(() => new Client({ websocket: "ws://x/ws" }, { token: "t", serverCertificateHashes: ["abc"] }), TypeError);
    assert.throws(() => new Client({ websocket: "ws://x/ws" }, { token: "t", backoff: { minMs: 100, maxMs: 10 } }), TypeError);
    assert.throws(() => new Client({ websocket: "ws://x/ws" }, { token: "t", requestTimeoutMs: -1 }), TypeError);
  });

  test("certificate hashes in base64, base64url, a query-mangled base64 and hex", async () => {
    const edge = new FakeEdge();
    const seen: unknown[] = [];
    const WT = fakeWebTransport(edge);
    const Spy = class extends (WT as unknown as new (url: string, o?: { serverCertificateHashes?: unknown }) => object) {
      constructor(url: string, o?: { serverCertificateHashes?: unknown }) {
        super(url, o);
        seen.push(o?.serverCertificateHashes);
      }
    } as unknown as typeof WebTransport;
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8 + 3);
    const b64 = Buffer.from(bytes).toString("base64");
    const hex = Buffer.from(bytes).toString("hex");
    const c = new Client(endpoints, {
      token: "good",
      WebTransport: Spy,
      WebSocket: fakeWebSocket(edge),
      serverCertificateHashes: [b64, Buffer.from(bytes).toString("base64url"), b64.replace(/\+/g, " "), hex, bytes],
    });
    clients.push(c);
    await c.connect();
    const hashes = seen[0] as Array<{ algorithm: string; value: Uint8Array }>;
    assert.equal(hashes.length, 5);
    for (const h of hashes) {
      assert.equal(h.algorithm, "sha-256");
      assert.deepEqual(new Uint8Array(h.value), bytes);
    }
  });
});

describe("resume", () => {
  /** Records the resume events and every message as "room:text" or "direct:text". */
  function watch(c: Client): { got: string[]; log: string[]; recovered: RecoveredEvent[]; notRecovered: NotRecoveredEvent[] } {
    const w = { got: [] as string[], log: [] as string[], recovered: [] as RecoveredEvent[], notRecovered: [] as NotRecoveredEvent[] };
    c.on("message", (m) => {
      const line = `${m.kind === "room" ? m.room : m.kind}:${text(m.data)}`;
      w.got.push(line);
      w.log.push(line);
    });
    c.on("recovered", (e) => {
      w.recovered.push(e);
      w.log.push(`recovered ${"room" in e.stream ? e.stream.room : "user"} ${e.missed}`);
    });
    c.on("notRecovered", (e) => {
      w.notRecovered.push(e);
      w.log.push(`notRecovered ${"room" in e.stream ? e.stream.room : "user"}`);
    });
    return w;
  }

  /** Cuts the live session and keeps the client away until the returned function is called. */
  function cut(edge: FakeEdge): () => void {
    edge.down = true;
    edge.session.drop();
    return () => {
      edge.down = false;
    };
  }

  const frame = (kind: PushKind, room: string, id: string, offset: bigint, epoch: string): Uint8Array =>
    encodeFrame({ op: Op.Push, seq: 0, kind, room, id, offset, epoch, data: new TextEncoder().encode(id) });

  test("room pushes: a repeat within the epoch is dropped before any handler, a new epoch is accepted", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const handled: string[] = [];
    const w = watch(c);
    await c.connect();
    await c.joinRoom("a", (m) => handled.push(text(m.data)));
    const s = edge.session;
    for (const [id, off, ep] of [
      ["1", 10n, "e1"],
      ["2", 24n, "e1"],
      ["2 again", 24n, "e1"],
      ["older", 17n, "e1"],
      ["3", 5n, "e2"],
      ["3 again", 5n, "e2"],
      ["4", 6n, "e2"],
    ] as const) {
      s.write(frame(PushKind.Room, "a", id, off, ep));
    }
    // Without a position there is no stream: nothing is dropped.
    s.write(frame(PushKind.Room, "a", "plain", 0n, ""));
    s.write(frame(PushKind.Room, "a", "plain", 0n, ""));
    await until(() => w.got.length === 6, "pushes");
    await delay(20);
    assert.deepEqual(handled, ["1", "2", "3", "4", "plain", "plain"]);
    assert.deepEqual(w.got, ["a:1", "a:2", "a:3", "a:4", "a:plain", "a:plain"]);
    assert.deepEqual(c.position("a"), { offset: 6n, epoch: "e2" });
  });

  test("direct pushes with a position follow the user stream; others and broadcasts are never dropped", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge, null);
    const w = watch(c);
    await c.connect();
    await c.joinRoom("a");
    const s = edge.session;
    s.write(frame(PushKind.Direct, "", "u1", 30n, "u"));
    s.write(frame(PushKind.Direct, "", "u1 again", 30n, "u"));
    // The same position in a room's stream is another stream.
    s.write(frame(PushKind.Room, "a", "r1", 30n, "u"));
    s.write(frame(PushKind.Direct, "", "key", 0n, ""));
    s.write(frame(PushKind.Direct, "", "key", 0n, ""));
    s.write(frame(PushKind.Broadcast, "", "all", 0n, ""));
    s.write(frame(PushKind.Broadcast, "", "all", 0n, ""));
    s.write(frame(PushKind.Direct, "", "u2", 31n, "u"));
    await until(() => w.got.length === 7, "pushes");
    await delay(20);
    assert.deepEqual(w.got, ["direct:u1", "a:r1", "direct:key", "direct:key", "broadcast:all", "broadcast:all", "direct:u2"]);
    assert.deepEqual(c.userPosition(), { offset: 31n, epoch: "u" });
    assert.deepEqual(c.position("a"), { offset: 30n, epoch: "u" });
  });

  test("a reconnect sends every position and gets what it missed, in order, once; recovered fires once per stream", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge, null);
    const w = watch(c);
    await c.connect();
    assert.deepEqual(c.userPosition(), { offset: 0n, epoch: "ep1" }, "AuthOK's position");
    await Promise.all([c.joinRoom("a"), c.joinRoom("b")]);
    edge.pushRoom("a", "1");
    edge.pushUser("u1");
    edge.pushRoom("b", "x");
    edge.pushRoom("a", "2");
    await until(() => w.got.length === 4, "live pushes");
    const before = { user: c.userPosition(), a: c.position("a")!, b: c.position("b")! };
    assert.equal(before.a.offset, edge.stream("r:a").top);

    const back = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.pushRoom("a", "3");
    edge.pushUser("u2");
    edge.pushRoom("a", "4");
    edge.pushUser("u3");
    back();
    await until(() => w.recovered.length === 3, "recovered events");

    const s = edge.session;
    assert.deepEqual([s.auth!.offset, s.auth!.epoch], [before.user.offset, before.user.epoch], "Auth carries the user position");
    assert.deepEqual(
      s.joins.map((j) => [j.room, j.offset, j.epoch]),
      [
        ["a", before.a.offset, before.a.epoch],
        ["b", before.b.offset, before.b.epoch],
      ],
    );
    assert.deepEqual(w.got, ["a:1", "direct:u1", "b:x", "a:2", "direct:u2", "direct:u3", "a:3", "a:4"]);
    const byStream = Object.fromEntries(w.recovered.map((e) => ["room" in e.stream ? e.stream.room : `user ${e.stream.user}`, e]));
    assert.deepEqual(Object.keys(byStream).sort(), ["a", "b", "user alice"]);
    assert.deepEqual(byStream["a"], { stream: { room: "a" }, from: before.a, position: c.position("a"), missed: 2 });
    assert.deepEqual(byStream["user alice"], { stream: { user: "alice" }, from: before.user, position: c.userPosition(), missed: 2 });
    assert.deepEqual(byStream["b"], { stream: { room: "b" }, from: before.b, position: before.b, missed: 0 });
    // Each recovered event comes after the messages it reports.
    assert.ok(w.log.indexOf("recovered user 2") > w.log.indexOf("direct:u3"));
    assert.ok(w.log.indexOf("recovered a 2") > w.log.indexOf("a:4"));
    assert.deepEqual(w.notRecovered, []);

    // Live pushes go on from there; a repeat of a replayed message is dropped.
    edge.pushRoom("a", "5");
    edge.session.write(edge.stream("r:a").entries.at(-2)!.frame);
    edge.pushRoom("a", "6");
    await until(() => w.got.length === 10, "live pushes after the replay");
    await delay(20);
    assert.deepEqual(w.got.slice(8), ["a:5", "a:6"]);
    assert.equal(w.recovered.length, 3);
  });

  test("not recovered: reported once per stream and resume, then live pushes", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge, "ok");
    const w = watch(c);
    await c.connect();
    await c.joinRoom("a");
    edge.pushRoom("a", "1");
    edge.pushUser("u1");
    await until(() => w.got.length === 2, "live pushes");
    const before = { user: c.userPosition(), a: c.position("a")! };

    // The edge restarts and loses its history: new epochs.
    const back = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.loseHistory();
    edge.pushRoom("a", "lost");
    back();
    await until(() => w.notRecovered.length === 2, "notRecovered events");
    await until(() => edge.session.rooms.has("a"), "rejoined");
    assert.deepEqual(
      w.notRecovered.map((e) => [e.stream, e.from, e.position]),
      [
        [{ user: "alice" }, before.user, { offset: edge.stream("u:alice").top, epoch: edge.stream("u:alice").epoch }],
        [{ room: "a" }, before.a, { offset: edge.stream("r:a").top, epoch: edge.stream("r:a").epoch }],
      ],
    );
    assert.deepEqual(c.position("a"), { offset: edge.stream("r:a").top, epoch: edge.stream("r:a").epoch });
    edge.pushRoom("a", "2");
    await until(() => w.got.length === 3, "live push");
    assert.deepEqual(w.got, ["a:1", "direct:u1", "a:2"]);

    // Trimmed history: only that stream is not recovered; the next resume is a new one.
    const back2 = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.pushRoom("a", "trimmed");
    edge.trim("r:a");
    back2();
    await until(() => w.notRecovered.length === 3 && w.recovered.length === 1, "events");
    await delay(30);
    assert.deepEqual(w.notRecovered[2]!.stream, { room: "a" });
    assert.deepEqual(w.recovered[0]!.stream, { user: "alice" });
    assert.equal(w.notRecovered.length, 3);
    assert.equal(w.recovered.length, 1);
    assert.deepEqual(w.got, ["a:1", "direct:u1", "a:2"]);
  });

  test("positions carry over a WebTransport to WebSocket fallback", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    let mode: FakeWebTransportMode = "ok";
    const c = newClient(edge, "ok", { WebTransport: fakeWebTransport(edge, () => mode) });
    const w = watch(c);
    await c.connect();
    await c.joinRoom("a");
    assert.equal(c.transport, "webtransport");
    edge.pushRoom("a", "1");
    edge.pushUser("u1");
    await until(() => w.got.length === 2, "pushes over webtransport");
    const before = { user: c.userPosition(), a: c.position("a")! };

    mode = "fail";
    const back = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.pushRoom("a", "2");
    edge.pushUser("u2");
    back();
    await until(() => w.recovered.length === 2, "recovered over websocket");
    const s = edge.session;
    assert.equal(s.transport, "websocket");
    assert.equal(c.transport, "websocket");
    assert.deepEqual([s.auth!.offset, s.auth!.epoch], [before.user.offset, before.user.epoch]);
    assert.deepEqual([s.joins[0]!.offset, s.joins[0]!.epoch], [before.a.offset, before.a.epoch]);
    assert.deepEqual(w.got, ["a:1", "direct:u1", "direct:u2", "a:2"]);
    assert.deepEqual(w.recovered.map((e) => e.missed), [1, 1]);

    // And back to WebTransport, where WebSocket left off.
    mode = "ok";
    const back2 = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.pushRoom("a", "3");
    back2();
    await until(() => w.recovered.length === 4, "recovered over webtransport");
    assert.equal(edge.session.transport, "webtransport");
    assert.deepEqual(w.got.slice(4), ["a:3"]);
  });

  test("an edge without history (revision 1) leaves positions and raises no event", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge, null);
    const w = watch(c);
    await c.connect();
    await c.joinRoom("a");
    edge.pushRoom("a", "1");
    await until(() => w.got.length === 1, "push");
    const at = c.position("a");
    edge.history = false;
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && edge.session.rooms.has("a"), "rejoined");
    await delay(20);
    assert.deepEqual(c.position("a"), at);
    assert.deepEqual([w.recovered, w.notRecovered], [[], []]);
    // A later edge with history resumes from it.
    edge.history = true;
    edge.session.drop();
    await until(() => w.recovered.length === 2, "recovered");
    assert.deepEqual(edge.session.joins[0]!.offset, at!.offset);
  });

  test("a token of another user starts the user stream afresh, without an event", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge, null);
    const w = watch(c);
    await c.connect();
    edge.pushUser("for alice");
    await until(() => w.got.length === 1, "push");
    const alice = c.userPosition();
    edge.user = "bob";
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && c.state === "connected", "reconnected");
    await delay(20);
    assert.deepEqual([edge.session.auth!.offset, edge.session.auth!.epoch], [alice.offset, alice.epoch]);
    assert.deepEqual(w.notRecovered, []);
    assert.deepEqual(c.userPosition(), { offset: 0n, epoch: edge.stream("u:bob").epoch });
  });

  test("a listener may close the client on notRecovered", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge, null);
    await c.connect();
    await c.joinRoom("a");
    edge.pushRoom("a", "1");
    await until(() => c.position("a")!.offset > 0n, "push");
    let calls = 0;
    c.on("notRecovered", () => {
      calls++;
      c.close();
    });
    const back = cut(edge);
    await until(() => c.state === "connecting", "connection lost");
    edge.loseHistory();
    back();
    await until(() => c.state === "closed", "closed by the listener");
    await delay(20);
    assert.equal(calls, 1);
  });
});

describe("ephemeral pushes (revision 4)", () => {
  const ephemeral = (room: string, data: string, id: string): Uint8Array =>
    encodeFrame({
      op: Op.Push,
      seq: 0,
      kind: PushKind.Room,
      room,
      id,
      offset: 0n,
      epoch: "",
      data: new TextEncoder().encode(data),
      flags: PushFlags.Ephemeral,
    });

  test("from a datagram or the stream: marked ephemeral, no position moved, a bad datagram dropped", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const got: Message[] = [];
    const errors: unknown[] = [];
    c.on("error", (e) => errors.push(e));
    await c.connect();
    await c.joinRoom("pos", (m) => got.push(m));
    edge.push("pos", "r1", 5n, "e1", "m1");
    await until(() => got.length === 1, "reliable push");

    edge.session.datagram!(ephemeral("pos", "x=1", "d1"));
    await until(() => got.length === 2, "datagram push");
    edge.session.datagram!(new Uint8Array([0, 0, 0, 5, 9])); // malformed: dropped
    edge.session.datagram!(encodeFrame({ op: Op.Ping, seq: 0 })); // not a push: dropped
    edge.session.write(ephemeral("pos", "x=2", "d2")); // too large for a datagram: on the stream
    edge.push("pos", "r2", 6n, "e1", "m2");
    await until(() => got.length === 4, "stream pushes");
    await until(() => c.datagrams().malformed === 2, "malformed datagrams counted");

    assert.deepEqual(
      got.map((m) => [m.id, m.ephemeral, m.offset]),
      [
        ["m1", false, 5n],
        ["d1", true, 0n],
        ["d2", true, 0n],
        ["m2", false, 6n],
      ],
    );
    assert.deepEqual(c.datagrams(), { received: 1, malformed: 2 });
    assert.deepEqual(c.position("pos"), { offset: 6n, epoch: "e1" });
    assert.equal(c.state, "connected");
    assert.deepEqual(errors, []);
  });
});

describe("messageJSON", () => {
  const msg = (id: string, text: string): Message => ({
    kind: "room",
    room: "r",
    id,
    offset: 0n,
    epoch: "",
    data: new TextEncoder().encode(text),
    ephemeral: false,
  });
  test("decodes a JSON payload", () => {
    assert.deepEqual(messageJSON(msg("m1", `{"score":[1,2],"who":"ann"}`)), { score: [1, 2], who: "ann" });
  });
  test("names the message when the payload is not JSON", () => {
    assert.throws(() => messageJSON(msg("m2", "not json")), (err: Error) => err instanceof SyntaxError && err.message.includes("m2"));
  });
});

describe("server-side rooms (revision 5)", () => {
  /** Records the room events and every message as "room:text". */
  function watch(c: Client): { log: string[]; subscribed: SubscribedEvent[]; unsubscribed: UnsubscribedEvent[]; errors: QuicpushError[] } {
    const w = { log: [] as string[], subscribed: [] as SubscribedEvent[], unsubscribed: [] as UnsubscribedEvent[], errors: [] as QuicpushError[] };
    c.on("message", (m) => w.log.push(`${m.room}:${text(m.data)}`));
    c.on("subscribed", (e) => {
      w.subscribed.push(e);
      w.log.push(`subscribed ${e.room}`);
    });
    c.on("unsubscribed", (e) => {
      w.unsubscribed.push(e);
      w.log.push(`unsubscribed ${e.room} ${e.code}`);
    });
    c.on("error", (e) => w.errors.push(e));
    return w;
  }

  test("Subscribed: the room is the client's, with the edge's position; its pushes arrive; a handler may be added", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge);
    const w = watch(c);
    await c.connect();
    const at = edge.pushRoom("team/7", "before");
    const epoch = edge.stream("r:team/7").epoch;
    edge.session.subscribe("team/7");
    await until(() => w.subscribed.length === 1, "subscribed");
    assert.deepEqual(w.subscribed[0], { room: "team/7", position: { offset: at, epoch } });
    assert.deepEqual(c.rooms(), ["team/7"]);
    assert.deepEqual(c.serverRooms(), ["team/7"]);
    assert.deepEqual(c.position("team/7"), { offset: at, epoch });

    // A handler for the room: joinRoom resolves at once, no Join is sent.
    const handled: string[] = [];
    await c.joinRoom("team/7", (m) => handled.push(text(m.data)));
    assert.equal(edge.session.joins.length, 0);
    const next = edge.pushRoom("team/7", "after");
    await until(() => handled.length === 1, "push");
    assert.deepEqual(handled, ["after"]);
    // A repeat at or below the position is dropped, as in a joined room.
    edge.push("team/7", "repeat", at, epoch);
    edge.push("team/7", "live", next + 1n, epoch);
    await until(() => handled.length === 2, "live push");
    assert.deepEqual(w.log, ["subscribed team/7", "team/7:after", "team/7:live"]);

    // A Subscribed without a position for a room the client is in leaves its position.
    edge.session.subscribe("team/7");
    await until(() => w.subscribed.length === 2, "second subscribed");
    assert.deepEqual(w.subscribed[1], { room: "team/7", position: { offset: next + 1n, epoch } });
    assert.deepEqual(w.errors, []);
  });

  test("Unsubscribed: the room is dropped with an event, its pushes dropped, and not rejoined", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const w = watch(c);
    await c.connect();
    await c.joinRoom("mine");
    edge.session.subscribe("team/7");
    edge.push("team/7", "1");
    edge.session.unsubscribe("team/7");
    edge.session.rooms.add("team/7"); // a push racing the Unsubscribed
    edge.push("team/7", "2");
    await until(() => w.unsubscribed.length === 1, "unsubscribed");
    assert.deepEqual(w.unsubscribed[0], { room: "team/7", code: 0, reason: "" });
    assert.deepEqual(c.rooms(), ["mine"]);
    assert.deepEqual(c.serverRooms(), []);
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && c.state === "connected" && edge.session.rooms.size === 1, "reconnect");
    assert.deepEqual(edge.session.joins.map((j) => j.room), ["mine"]);
    assert.deepEqual(w.log, ["subscribed team/7", "team/7:1", "unsubscribed team/7 0"]);
    assert.deepEqual(w.errors, []);
  });

  test("reconnect: Auth announces every rejoin, server-side rooms included, sent with it from their positions", async () => {
    const edge = new FakeEdge();
    edge.history = true;
    const c = newClient(edge);
    const w = watch(c);
    await c.connect();
    await c.joinRoom("mine");
    edge.serverRooms.add("team/7");
    edge.session.subscribe("team/7");
    await until(() => w.subscribed.length === 1, "subscribed");
    const last = edge.pushRoom("team/7", "1");
    await until(() => w.log.includes("team/7:1"), "push");

    // While the client is away: a message it misses, and a new server-side room.
    edge.down = true;
    edge.session.drop();
    await until(() => c.state === "connecting", "connection lost");
    edge.pushRoom("team/7", "2");
    edge.serverRooms.add("team/8");
    edge.down = false;
    await until(() => edge.sessions.length >= 2 && c.serverRooms().length === 2 && w.log.includes("team/7:2"), "rejoin");

    const s = edge.session;
    // Auth, then exactly the announced Joins, before anything else.
    assert.equal(s.auth?.joins, 2);
    assert.deepEqual(
      s.received.slice(0, 3).map((f) => (f.op === Op.Join ? `join ${f.room} ${f.offset}` : `op ${f.op}`)),
      [`op ${Op.Auth}`, "join mine 0", `join team/7 ${last}`],
    );
    // The rejoined room is resumed, not subscribed afresh; the new one is subscribed after the Joins.
    assert.deepEqual(w.subscribed.map((e) => e.room), ["team/7", "team/8"]);
    assert.deepEqual(c.serverRooms().sort(), ["team/7", "team/8"]);
    assert.deepEqual(w.errors, []);
  });

  test("a server-side room left is not rejoined; the user's next connection is put back in it", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const w = watch(c);
    const pending = c.joinRoom("team/7"); // a join under way when the backend subscribes
    edge.serverRooms.add("team/7");
    edge.answerJoins = false;
    await c.connect();
    await until(() => w.subscribed.length === 1, "subscribed");
    await pending; // settled by Subscribed
    edge.answerJoins = true;
    await c.leaveRoom("team/7");
    assert.deepEqual(c.rooms(), []);
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && w.subscribed.length === 2, "subscribed again");
    assert.equal(edge.session.auth?.joins ?? 0, 0);
    assert.deepEqual(c.serverRooms(), ["team/7"]);
    assert.deepEqual(w.errors, []);
  });

  test("a server-side room refused on rejoin (101) is dropped with 'unsubscribed', not an error", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const w = watch(c);
    await c.connect();
    edge.serverRooms.add("team/7");
    edge.session.subscribe("team/7");
    await until(() => w.subscribed.length === 1, "subscribed");

    // The backend took the user out while the connection was down.
    edge.serverRooms.delete("team/7");
    edge.forbidden.add("team/7");
    edge.session.drop();
    await until(() => w.unsubscribed.length === 1, "unsubscribed");
    assert.deepEqual(w.unsubscribed[0], { room: "team/7", code: 101, reason: "room not allowed" });
    assert.deepEqual(c.rooms(), []);
    assert.equal(edge.session.auth?.joins, 1);
    assert.deepEqual(w.errors, []);
    assert.equal(c.state, "connected");
  });

  test("a client-joined room refused on rejoin is forgotten without 'unsubscribed'", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const w = watch(c);
    await c.connect();
    await c.joinRoom("news");
    edge.forbidden.add("news");
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && c.rooms().length === 0, "refused rejoin");
    assert.deepEqual(w.unsubscribed, []);
  });

  test("a failed Auth fails the Joins sent with it; the next connection sends them again", async () => {
    const edge = new FakeEdge();
    let token = "good";
    const c = newClient(edge, "ok", { token: () => token });
    await c.connect();
    await c.joinRoom("a");
    token = "bad";
    edge.session.drop();
    await until(() => c.state === "disconnected", "refused auth");
    // The Join went with Auth, and the edge read none after refusing it.
    assert.equal(edge.session.auth?.joins, 1);
    assert.equal(edge.session.joins.length, 0);
    assert.deepEqual(c.rooms(), ["a"]);
    token = "good";
    await c.connect();
    await until(() => edge.session.rooms.has("a"), "rejoin");
    assert.deepEqual(edge.session.joins.map((j) => j.room), ["a"]);
  });

  test("rooms left and joined while Auth and its Joins are on their way: a Leave and a Join follow them", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    await c.connect();
    await c.joinRoom("a");
    await c.joinRoom("b");
    edge.holdAuth = true;
    edge.session.drop();
    await until(() => edge.sessions.length === 2 && edge.session.received.length === 3, "auth and joins");
    await c.leaveRoom("a");
    const joined = c.joinRoom("c");
    edge.holdAuth = false;
    edge.session.release();
    await joined;
    await until(() => !edge.session.rooms.has("a"), "leave");
    const s = edge.session;
    assert.deepEqual(
      s.received.map((f) => (f.op === Op.Join ? `join ${f.room}` : f.op === Op.Leave ? `leave ${f.room}` : `op ${f.op}`)),
      [`op ${Op.Auth}`, "join a", "join b", "leave a", "join c"],
    );
    assert.equal(s.auth?.joins, 2);
    assert.deepEqual([...s.rooms].sort(), ["b", "c"]);
    assert.deepEqual(c.rooms().sort(), ["b", "c"]);
  });

  test("join and leave notices: members with info parsed, raw bytes kept, omitted; other rooms' dropped", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    const notices: JoinLeaveEvent[] = [];
    c.on("joinLeave", (e) => notices.push(e));
    await c.connect();
    await c.joinRoom("chat/1");
    const ann = new TextEncoder().encode('{"name":"Ann"}');
    const junk = new TextEncoder().encode("not json");
    edge.session.joinLeave("elsewhere", [{ user: "u9", connKey: "k9", info: new Uint8Array() }], []);
    edge.session.joinLeave(
      "chat/1",
      [
        { user: "u1", connKey: "e1-a", info: ann },
        { user: "u3", connKey: "e1-c", info: junk },
      ],
      [{ user: "u2", connKey: "e2-b", info: new Uint8Array() }],
      3,
    );
    await until(() => notices.length === 1, "notice");
    const n = notices[0]!;
    assert.equal(n.room, "chat/1");
    assert.equal(n.omitted, 3);
    assert.deepEqual(n.joined, [
      { user: "u1", connKey: "e1-a", info: { name: "Ann" }, infoBytes: ann },
      { user: "u3", connKey: "e1-c", info: undefined, infoBytes: junk },
    ]);
    assert.deepEqual(n.left, [{ user: "u2", connKey: "e2-b", info: undefined, infoBytes: new Uint8Array() }]);
  });
});

describe("presence (revision 5)", () => {
  test("counts and members of a room, infos parsed", async () => {
    const edge = new FakeEdge();
    edge.info = new TextEncoder().encode('{"name":"Ann"}');
    const c = newClient(edge);
    await c.connect();
    await c.joinRoom("chat/1");
    const p = await c.presence("chat/1");
    assert.deepEqual(p, {
      room: "chat/1",
      conns: 1,
      users: 1,
      complete: true,
      members: [{ user: "alice", connKey: "c1", info: { name: "Ann" }, infoBytes: edge.info }],
    });
  });

  test("the edge's refusals reject with its code; the connection stays", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    await c.connect();
    await assert.rejects(c.presence("chat/1"), codeOf(103));
    await c.joinRoom("chat/1");
    edge.presenceForbidden.add("chat/1");
    await assert.rejects(c.presence("chat/1"), codeOf(101));
    await assert.rejects(c.presence(""), codeOf(100));
    assert.equal(c.state, "connected");
    assert.equal(edge.sessions.length, 1);
  });

  test("an edge of an earlier revision: refused locally, nothing sent, the connection stays", async () => {
    const edge = new FakeEdge();
    edge.revision = 0;
    const c = newClient(edge);
    const connected: number[] = [];
    c.on("connected", (e) => connected.push(e.revision));
    await c.connect();
    await c.joinRoom("chat/1");
    await assert.rejects(c.presence("chat/1"), codeOf(ClientCode.Unsupported));
    assert.deepEqual(connected, [0]);
    assert.ok(!edge.session.received.some((f) => f.op === Op.PresenceGet));
    // The edge of an earlier revision would have closed with 3501.
    await c.joinRoom("other");
    assert.equal(edge.sessions.length, 1);
    assert.equal(edge.session.closed, false);
  });

  test("not connected, or closed: rejected without a request", async () => {
    const edge = new FakeEdge();
    const c = newClient(edge);
    await assert.rejects(c.presence("chat/1"), codeOf(ClientCode.TransportFailed));
    c.close();
    await assert.rejects(c.presence("chat/1"), codeOf(ClientCode.Closed));
  });

  test("an unanswered request times out; a lost connection fails it", async () => {
    const edge = new FakeEdge();
    edge.answerPresence = false;
    const c = newClient(edge, "ok", { requestTimeoutMs: 50 });
    await c.connect();
    await c.joinRoom("chat/1");
    await assert.rejects(c.presence("chat/1"), codeOf(ClientCode.Timeout));
    assert.equal(c.state, "connected");
    const p = c.presence("chat/1");
    edge.session.drop();
    await assert.rejects(p, codeOf(ClientCode.TransportFailed));
  });
});
