import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ConnectRouter, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

import { bearerAuth, createPushClient, createPushTransport, type PushClientOptions } from "./client.js";
import { PushRoomRequestSchema, PushService } from "./gen/quicpush/push/v1/push_pb.js";

test("bearerAuth sets the Authorization header, replacing one set by the call", async () => {
  const header = new Headers({ Authorization: "Bearer someone-else", "X-Other": "kept" });
  const req = { stream: false, header } as unknown as UnaryRequest;
  let seen: Headers | undefined;
  const next = (async (r: UnaryRequest) => {
    seen = r.header;
    return { stream: false } as never;
  }) as Parameters<Interceptor>[0];
  await bearerAuth("k3y")(next)(req);
  assert.equal(seen?.get("authorization"), "Bearer k3y");
  assert.equal(seen?.get("x-other"), "kept");
});

test("bearerAuth and createPushClient refuse a missing or malformed key", () => {
  for (const key of ["", "two words", "line\nbreak", undefined]) {
    assert.throws(() => bearerAuth(key as string), TypeError, JSON.stringify(key));
    assert.throws(() => createPushClient({ baseUrl: "http://127.0.0.1:1", apiKey: key as string }), TypeError);
  }
});

test("createPushClient validates its options", () => {
  const ok: PushClientOptions = { baseUrl: "http://127.0.0.1:1", apiKey: "k" };
  assert.doesNotThrow(() => createPushClient(ok));
  const bad: Partial<PushClientOptions>[] = [
    { baseUrl: "not a url" },
    { baseUrl: "ws://127.0.0.1:1" },
    { protocol: "rest" as never },
    { httpVersion: "3" as never },
    { timeoutMs: -1 },
    { timeoutMs: Number.NaN },
  ];
  for (const b of bad) assert.throws(() => createPushTransport({ ...ok, ...b }), TypeError, JSON.stringify(b));
  assert.throws(() => createPushClient(undefined as never), TypeError);
});

/**
 * A PushService on loopback, served by connect-node: over HTTP/1.1 and over
 * cleartext HTTP/2 (h2c), the two ways quicpush serve's API listener speaks.
 * It records the Authorization header of every call.
 */
describe("createPushClient against a PushService", () => {
  const seen: { method: string; auth: string | null; room: string; text: string }[] = [];
  const acceptEncodings: (string | null)[] = [];
  const routes = (router: ConnectRouter): void => {
    router.service(PushService, {
      pushRoom(req, ctx) {
        seen.push({ method: "PushRoom", auth: ctx.requestHeader.get("authorization"), room: req.room, text: req.text });
        acceptEncodings.push(ctx.requestHeader.get("accept-encoding") ?? ctx.requestHeader.get("grpc-accept-encoding") ?? ctx.requestHeader.get("connect-accept-encoding"));
        if (ctx.requestHeader.get("authorization") !== "Bearer good-key") {
          throw new ConnectError("bad API key", Code.Unauthenticated);
        }
        return { messageId: `m${seen.length}` };
      },
    });
  };
  const h1 = http.createServer(connectNodeAdapter({ routes }));
  const h2 = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  let h1URL = "";
  let h2URL = "";

  before(async () => {
    await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => h2.listen(0, "127.0.0.1", r));
    h1URL = `http://127.0.0.1:${(h1.address() as AddressInfo).port}`;
    h2URL = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
  });

  after(() => {
    // The clients' HTTP/2 sessions would keep the servers (and the test) open.
    for (const s of sessions) s.destroy();
    h1.closeAllConnections();
    h1.close();
    h2.close();
  });

  const cases: [string, Partial<PushClientOptions>, () => string][] = [
    ["connect over HTTP/2 (the default)", {}, () => h2URL],
    ["connect over HTTP/1.1", { httpVersion: "1.1" }, () => h1URL],
    ["connect with JSON", { json: true, httpVersion: "1.1" }, () => h1URL],
    ["grpc (HTTP/2)", { protocol: "grpc" }, () => h2URL],
    ["grpc-web over HTTP/2", { protocol: "grpc-web" }, () => h2URL],
    ["grpc-web over HTTP/1.1", { protocol: "grpc-web", httpVersion: "1.1" }, () => h1URL],
  ];
  for (const [name, opts, url] of cases) {
    test(`${name}: every call carries the key`, async () => {
      const push = createPushClient({ baseUrl: url(), apiKey: "good-key", ...opts });
      const before = seen.length;
      const res = await push.pushRoom({ room: "lobby", text: name });
      assert.match(res.messageId, /^m\d+$/);
      // A second call on the same (pooled) connection carries it too, and
      // so does one that tried to set its own.
      await push.pushRoom({ room: "lobby", text: name }, { headers: { Authorization: "Bearer other" } });
      assert.deepEqual(seen.slice(before), [
        { method: "PushRoom", auth: "Bearer good-key", room: "lobby", text: name },
        { method: "PushRoom", auth: "Bearer good-key", room: "lobby", text: name },
      ]);
    });
  }

  test("no call asks for compressed responses (they are a few dozen bytes)", () => {
    assert.ok(acceptEncodings.length > 0);
    for (const e of acceptEncodings) assert.ok(e === null || !/gzip|br/.test(e), String(e));
  });

  test("a refused key rejects with Code.Unauthenticated", async () => {
    const push = createPushClient({ baseUrl: h2URL, apiKey: "bad-key" });
    await assert.rejects(push.pushRoom({ room: "lobby", text: "x" }), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.Unauthenticated);
      return true;
    });
  });

  test("the caller's interceptors run inside the key's and see the header", async () => {
    const headers: (string | null)[] = [];
    const spy: Interceptor = (next) => (req) => {
      headers.push(req.header.get("authorization"));
      return next(req);
    };
    const push = createPushClient({ baseUrl: h1URL, apiKey: "good-key", httpVersion: "1.1", interceptors: [spy] });
    await push.pushRoom({ room: "r", text: "t" });
    assert.deepEqual(headers, ["Bearer good-key"]);
  });

  test("createPushTransport serves clients built with createClient, messages made with create", async () => {
    const transport = createPushTransport({ baseUrl: h1URL, apiKey: "good-key", httpVersion: "1.1", timeoutMs: 0 });
    const push = createClient(PushService, transport);
    const res = await push.pushRoom(create(PushRoomRequestSchema, { room: "r", text: "made" }));
    assert.match(res.messageId, /^m\d+$/);
    assert.deepEqual(seen.at(-1), { method: "PushRoom", auth: "Bearer good-key", room: "r", text: "made" });
  });
});
