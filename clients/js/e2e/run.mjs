// End-to-end test of the browser client in real headless Chromium against a
// real `quicpush serve`: WebTransport with the development certificate's
// hash, the WebSocket fallback, resuming a room after a disconnect (replay,
// no repeat) and after a restart (not recovered), reconnecting across a
// server restart, a bad token that must not be retried, a connection that
// outlives its short-lived tokens by refreshing them (a second server with
// --refresh-ahead), the demo page, and protocol revision 5 on both
// transports: rooms the backend puts the client in and takes it out of
// (Subscribe, Unsubscribe; a join=server namespace) also across a reconnect,
// join and leave notices, and presence for clients; the admin page of a
// server run with --admin-ui (its figures move while pushing; a screenshot,
// copied to $ADMIN_SCREENSHOT when set: `make admin-screenshot` updates
// docs/admin.png);
// and the push API client
// for Node backends (@quicpush/client/api, over Connect, gRPC and gRPC-Web)
// and its example script, pushing to a page.
//
// It builds quicpush (or uses $QUICPUSH_BIN), starts it on free loopback
// ports with a temporary dev dir, serves the harness page, dist/ and demo/
// from a small HTTP server on 127.0.0.1, and drives Chromium
// (/usr/bin/chromium, or $CHROMIUM) with playwright-core. Screenshots go to
// test-results/. Every wait is bounded; the server and the browser are
// stopped on exit, on failure too.
import { execFile, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import dgram from "node:dgram";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

// The package's own Node entry point, resolved through its "exports".
import { Code, ConnectError, createPushClient } from "@quicpush/client/api";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(pkg, "../..");
const results = join(pkg, "test-results");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/** The whole run's budget: everything is torn down after it. */
const WATCHDOG_MS = 240_000;

const tmp = mkdtempSync(join(tmpdir(), "quicpush-js-e2e-"));
const devDir = join(tmp, "dev");
let server = null; // the quicpush child process
let refreshServer = null; // a second one, for the token refresh test
let adminServer = null; // a third one, with the admin page
let httpServer = null;
let context = null; // the browser
let cfg = null; // ports, hash, key, tokens

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freeTCPPort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function freeUDPPort() {
  return new Promise((res, rej) => {
    const s = dgram.createSocket("udp4");
    s.once("error", rej);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function run(cmd, args, opts = {}) {
  const { stdout } = await promisify(execFile)(cmd, args, { timeout: 300_000, maxBuffer: 1 << 20, ...opts });
  return stdout.trim();
}

/** Waits until a TCP port accepts connections. */
async function waitForPort(port, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((res) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => { c.destroy(); res(true); });
      c.once("error", () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} not open after ${ms} ms`);
    await sleep(50);
  }
}

/**
 * Spawns `quicpush serve` on `ports` (quicPort, tcpPort, apiPort) with the
 * shared dev dir and `extra` flags; `track` gets the child at once, so that
 * teardown kills it even when it fails to start. Resolves with its banner.
 */
async function spawnServer(ports, extra, track) {
  const args = [
    "serve",
    "--quic-addr", `127.0.0.1:${ports.quicPort}`,
    "--tcp-addr", `127.0.0.1:${ports.tcpPort}`,
    "--api-addr", `127.0.0.1:${ports.apiPort}`,
    "--dev-dir", devDir,
    // A short heartbeat so that a killed server is noticed quickly.
    "--ping-interval", "1s",
    "--log-level", "warn",
    ...extra,
  ];
  const child = spawn(cfg.bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  track(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((res) => child.once("exit", (code, sig) => res(`exited (${code ?? sig})`)));
  const banner = await Promise.race([
    (async () => {
      while (!out.includes("API key")) await sleep(20);
      return out;
    })(),
    exited.then((why) => { throw new Error(`quicpush serve ${why}: ${err}`); }),
    sleep(20_000).then(() => { throw new Error(`quicpush serve printed no banner: ${err}`); }),
  ]);
  await waitForPort(ports.tcpPort);
  await waitForPort(ports.apiPort);
  return banner;
}

/**
 * The namespaces of the revision 5 tests (docs/namespaces.md): srv/ rooms
 * only the backend puts connections in, chat/ rooms with join and leave
 * notices and presence for clients, quiet/ rooms with neither (the defaults,
 * spelled out).
 */
const NAMESPACES = [
  "--namespace", "srv/:join=server",
  "--namespace", "chat/:join-leave=on,client-presence=on",
  "--namespace", "quiet/:join-leave=off,client-presence=off",
];

/** Starts `quicpush serve` on cfg's ports; resolves with its banner. */
function startServer() {
  return spawnServer(cfg, NAMESPACES, (child) => (server = child));
}

/**
 * Signs a client token (HS256) with the development secret serve keeps in
 * the dev dir, as `quicpush token` does, with any claims: the revision 5
 * tests give theirs an `info` claim, which `quicpush token` does not set.
 */
function signToken(claims) {
  const { jwt_secret: secret } = JSON.parse(readFileSync(join(devDir, "secrets.json"), "utf8"));
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const data = `${part({ alg: "HS256", typ: "JWT" })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${data}.${createHmac("sha256", Buffer.from(secret, "base64")).update(data).digest("base64url")}`;
}

/** Stops a server process (SIGKILL by default: no drain, clients see the connection die). */
async function stopChild(child, signal = "SIGKILL") {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once("exit", res));
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
  await Promise.race([exited, sleep(5000)]);
}

/** Stops the server (SIGKILL by default: no drain, clients see the connection die). */
async function stopServer(signal = "SIGKILL") {
  const child = server;
  server = null;
  await stopChild(child, signal);
}

/**
 * Calls a PushService method through the JSON push API (of the main server,
 * unless `api` names another's { port, key }); returns the response.
 */
async function callAPI(method, request, api = { port: cfg.apiPort, key: cfg.apiKey }) {
  const res = await fetch(`http://127.0.0.1:${api.port}/quicpush.push.v1.PushService/${method}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${api.key}`, "Content-Type": "application/json" },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.text();
  assert.equal(res.status, 200, `${method}: ${res.status} ${body}`);
  return JSON.parse(body);
}

/** Pushes `text` to `room` through the JSON push API; returns the message id. */
async function pushRoom(room, text) {
  return (await callAPI("PushRoom", { room, text })).messageId;
}

const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".ts": "text/plain", ".json": "application/json" };

/** Serves a file under `root`, refusing paths that escape it. */
function serveFile(res, root, rel) {
  const file = normalize(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) return notFound(res);
  try {
    const st = statSync(file);
    const path = st.isDirectory() ? join(file, "index.html") : file;
    const body = readFileSync(path);
    res.writeHead(200, { "Content-Type": types[extname(path)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    res.end(body);
  } catch {
    notFound(res);
  }
}

function notFound(res) {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
}

/**
 * The page server: /harness.html, /dist/ (the package), and the demo in the
 * layout the Go server uses: /demo/ = demo/, /demo/dist/ = dist/. Push API
 * calls are proxied to quicpush so that the demo page calls its own origin,
 * as it does when the Go server serves it next to the API.
 */
function startHTTP() {
  const dist = join(pkg, "dist");
  const demo = join(pkg, "demo");
  httpServer = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const p = decodeURIComponent(url.pathname);
    if (p.startsWith("/quicpush.push.v1.PushService/")) {
      const up = http.request(
        { host: "127.0.0.1", port: cfg.apiPort, path: req.url, method: req.method, headers: req.headers },
        (r) => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res); },
      );
      up.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
      req.pipe(up);
      return;
    }
    if (p === "/harness.html") return serveFile(res, join(pkg, "e2e"), "harness.html");
    if (p.startsWith("/dist/")) return serveFile(res, dist, p.slice("/dist/".length));
    if (p === "/demo") { res.writeHead(301, { Location: "/demo/" }); return res.end(); }
    if (p.startsWith("/demo/dist/")) return serveFile(res, dist, p.slice("/demo/dist/".length));
    if (p.startsWith("/demo/")) return serveFile(res, demo, p.slice("/demo/".length) || "index.html");
    notFound(res);
  });
  return new Promise((res) => httpServer.listen(0, "127.0.0.1", () => res(httpServer.address().port)));
}

async function teardown() {
  await stopServer("SIGKILL");
  await stopChild(refreshServer, "SIGKILL");
  refreshServer = null;
  await stopChild(adminServer, "SIGKILL");
  adminServer = null;
  if (context) await Promise.race([context.close().catch(() => {}), sleep(5000)]);
  context = null;
  if (httpServer) httpServer.close();
  httpServer = null;
  rmSync(tmp, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error(`e2e: watchdog fired after ${WATCHDOG_MS} ms`);
  await teardown();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, async () => {
    await teardown();
    process.exit(1);
  });
}
process.once("exit", () => {
  // Last resort if the process ends without after() (a crash).
  for (const child of [server, refreshServer, adminServer]) {
    if (child) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
  }
});

/** Polls `fn` in the page until it returns a truthy value. */
async function waitInPage(page, what, fn, arg, ms = 10_000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  } catch (e) {
    const state = await page.evaluate(() => JSON.stringify(
      Object.fromEntries(Object.entries(window.clients ?? {}).map(([k, v]) => [k, { ...v, client: undefined }])),
    )).catch(() => "?");
    throw new Error(`${what}: ${e.message}\npage state: ${state}`);
  }
}

const received = (name, text) =>
  `window.clients[${JSON.stringify(name)}]?.messages.some((m) => m.text === ${JSON.stringify(text)})`;

/** An in-page test: client `name` recorded a `kind` event whose payload `d` satisfies `pred` (an expression). */
const hasEvent = (name, kind, pred = "true") =>
  `window.clients[${JSON.stringify(name)}]?.events.some(([e, d]) => e === ${JSON.stringify(kind)} && (${pred}))`;

/** The payloads of client `name`'s `kind` events, in order. */
const eventsOf = (p, name, kind) =>
  p.evaluate(([n, k]) => window.clients[n].events.filter(([e]) => e === k).map(([, d]) => d), [name, kind]);

/** The texts client `name` received in `room`, in order. */
const textsIn = (p, name, room) =>
  p.evaluate(([n, r]) => window.clients[n].messages.filter((m) => m.room === r).map((m) => m.text), [name, room]);

/**
 * The two transports of the browser client: WebTransport (with the WebSocket
 * fallback configured, as applications do; the test checks it was not
 * needed) and WebSocket alone. `setup` gives the endpoints and options.
 */
const TRANSPORTS = [
  { name: "webtransport", setup: (c) => [{ webtransport: c.wt, websocket: c.ws }, { serverCertificateHashes: [c.hash] }] },
  { name: "websocket", setup: (c) => [{ websocket: c.ws }, {}] },
];

// ------------------------------------------------------------------ tests

describe("browser client against quicpush serve", { timeout: WATCHDOG_MS }, () => {
  let page;

  before(async () => {
    mkdirSync(results, { recursive: true });
    let bin = process.env.QUICPUSH_BIN;
    if (!bin) {
      bin = join(tmp, "quicpush");
      await run("go", ["build", "-o", bin, "./cmd/quicpush"], { cwd: repo });
    }
    cfg = {
      bin,
      quicPort: await freeUDPPort(),
      tcpPort: await freeTCPPort(),
      apiPort: await freeTCPPort(),
      deadUDPPort: await freeUDPPort(),
    };
    const banner = await startServer();
    cfg.hash = /base64 (\S+)/.exec(banner)?.[1];
    cfg.apiKey = /API key\s+(\S+)/.exec(banner)?.[1];
    assert.ok(cfg.hash && cfg.apiKey, `banner without hash or key:\n${banner}`);
    cfg.token = await run(bin, ["token", "--user", "alice", "--rooms", "lobby,demo*", "--dev-dir", devDir]);
    // Signed with another secret: the edge refuses it with 3500.
    cfg.badToken = await run(bin, ["token", "--user", "mallory", "--jwt-secret", "x".repeat(32) + "-not-the-dev-secret"]);
    cfg.wt = `https://127.0.0.1:${cfg.quicPort}/wt`;
    cfg.ws = `ws://127.0.0.1:${cfg.tcpPort}/ws`;
    cfg.httpPort = await startHTTP();
    cfg.origin = `http://127.0.0.1:${cfg.httpPort}`;

    context = await chromium.launchPersistentContext(join(tmp, "profile"), {
      executablePath: CHROMIUM,
      // Headless through the flag, as on these machines, not Playwright's shell.
      headless: false,
      args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
      viewport: { width: 1000, height: 760 },
      timeout: 30_000,
    });
    page = await context.newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await page.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
    await page.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
  });

  after(async () => {
    clearTimeout(watchdog);
    if (page) await page.screenshot({ path: join(results, "harness.png"), fullPage: true }).catch(() => {});
    await teardown();
  });

  test("(a) WebTransport with the certificate hash receives a push", { timeout: 30_000 }, async () => {
    await page.evaluate(([c]) => {
      window.startClient("wt", { webtransport: c.wt, websocket: c.ws }, { token: c.token, serverCertificateHashes: [c.hash] }, ["lobby"]);
    }, [cfg]);
    await waitInPage(page, "connected", () => window.clients.wt.connected >= 1);
    assert.equal(await page.evaluate(() => window.clients.wt.transport), "webtransport");
    // The room is joined right after AuthOK; wait for the edge to have it.
    await waitInPage(page, "joined", () => window.clients.wt.client.position("lobby") !== undefined);
    await sleep(100);
    await pushRoom("lobby", "hello over webtransport");
    await waitInPage(page, "push received", received("wt", "hello over webtransport"));
  });

  test("ephemeral pushes come by WebTransport datagram, marked ephemeral, without a position", { timeout: 30_000 }, async () => {
    // The wt client of (a), in lobby. A small ephemeral push fits a datagram;
    // one of 4000 bytes does not and comes on the stream.
    const small = await callAPI("PushRoom", { room: "lobby", text: "pos x=1", ephemeral: true });
    assert.equal(small.position, undefined, "an ephemeral push has no position");
    await callAPI("PushRoom", { room: "lobby", text: "x".repeat(4000), ephemeral: true });
    await waitInPage(page, "ephemeral pushes received", () =>
      window.clients.wt.messages.some((m) => m.text === "pos x=1") && window.clients.wt.messages.some((m) => m.text.length === 4000),
    );
    const got = await page.evaluate(() => ({
      msgs: window.clients.wt.messages.filter((m) => m.text === "pos x=1" || m.text.length === 4000).map((m) => [m.ephemeral, m.offset]),
      datagrams: window.clients.wt.client.datagrams(),
    }));
    assert.deepEqual(got.msgs, [
      [true, "0"],
      [true, "0"],
    ]);
    assert.deepEqual(got.datagrams, { received: 1, malformed: 0 });
  });

  test("push API client: Connect, gRPC and gRPC-Web reach a page; a bad key is refused", { timeout: 30_000 }, async () => {
    const room = "demo-backend";
    await page.evaluate(([c, r]) => {
      window.startClient("backend", { webtransport: c.wt, websocket: c.ws }, { token: c.token, serverCertificateHashes: [c.hash] }, [r]);
    }, [cfg, room]);
    await waitInPage(page, "joined", ([r]) => window.clients.backend.client.position(r) !== undefined, [room]);
    await sleep(100);
    const baseUrl = `http://127.0.0.1:${cfg.apiPort}`;
    // gRPC runs over cleartext HTTP/2 (h2c); Connect and gRPC-Web default to it too.
    for (const protocol of ["connect", "grpc", "grpc-web"]) {
      const push = createPushClient({ baseUrl, apiKey: cfg.apiKey, protocol });
      const text = `pushed over ${protocol}`;
      const { messageId } = await push.pushRoom({ room, text });
      assert.match(messageId, /^[0-9A-Z]{26}$/);
      await waitInPage(page, `push over ${protocol} received`, received("backend", text));
      const got = await page.evaluate(([t]) => window.clients.backend.messages.find((m) => m.text === t), [text]);
      assert.deepEqual([got.kind, got.room, got.id], ["room", room, messageId]);
      const online = await push.online({ rooms: [room] });
      assert.ok(online.rooms[room] >= 1n, `online ${room}: ${online.rooms[room]}`);
    }
    for (const protocol of ["connect", "grpc"]) {
      const bad = createPushClient({ baseUrl, apiKey: "not-the-key", protocol });
      await assert.rejects(bad.pushRoom({ room, text: "never" }), (e) => e instanceof ConnectError && e.code === Code.Unauthenticated);
    }
  });

  test("examples/push-room.mjs pushes to a page", { timeout: 30_000 }, async () => {
    const text = "pushed by examples/push-room.mjs";
    const out = await run(process.execPath, [
      join(pkg, "examples", "push-room.mjs"), "--api", `http://127.0.0.1:${cfg.apiPort}`, "demo-backend", text,
    ], { env: { ...process.env, QUICPUSH_API_KEY: cfg.apiKey }, timeout: 15_000 });
    assert.match(out, /^[0-9A-Z]{26}$/, out);
    await waitInPage(page, "example push received", received("backend", text));
    // With the key from the dev dir and gRPC, through the environment.
    const out2 = await run(process.execPath, [join(pkg, "examples", "push-room.mjs")], {
      env: { ...process.env, QUICPUSH_API: `http://127.0.0.1:${cfg.apiPort}`, QUICPUSH_DEV_DIR: devDir, QUICPUSH_PROTOCOL: "grpc", QUICPUSH_ROOM: "demo-backend", QUICPUSH_TEXT: "example over grpc" },
      timeout: 15_000,
    });
    assert.match(out2, /^[0-9A-Z]{26}$/, out2);
    await waitInPage(page, "example push over grpc received", received("backend", "example over grpc"));
  });

  test("(b) WebTransport unreachable: WebSocket within 2 s, receiving", { timeout: 30_000 }, async () => {
    // A port where nothing listens: the session never opens.
    await page.evaluate(([c]) => {
      window.startClient(
        "fallback",
        { webtransport: `https://127.0.0.1:${c.deadUDPPort}/wt`, websocket: c.ws },
        { token: c.token, serverCertificateHashes: [c.hash] },
        ["lobby"],
      );
    }, [cfg]);
    await waitInPage(page, "connected", () => window.clients.fallback.connected >= 1, undefined, 5000);
    const rec = await page.evaluate(() => ({ t: window.clients.fallback.transport, ms: window.clients.fallback.connectedAtMs }));
    assert.equal(rec.t, "websocket");
    assert.ok(rec.ms < 2000, `connected over WebSocket after ${rec.ms} ms`);
    await sleep(200);
    await pushRoom("lobby", "hello over websocket");
    await waitInPage(page, "push received", received("fallback", "hello over websocket"));
  });

  test("(b) WebTransport hangs: WebSocket within 2 s, receiving", { timeout: 30_000 }, async () => {
    // A UDP port that swallows every packet: the QUIC handshake never ends,
    // so only the 1.5 s WebTransport timeout gets the client to WebSocket.
    const hole = dgram.createSocket("udp4");
    await new Promise((res) => hole.bind(0, "127.0.0.1", res));
    hole.on("message", () => {});
    try {
      await page.evaluate(([c, port]) => {
        window.startClient(
          "blackhole",
          { webtransport: `https://127.0.0.1:${port}/wt`, websocket: c.ws },
          { token: c.token, serverCertificateHashes: [c.hash] },
          ["lobby"],
        );
      }, [cfg, hole.address().port]);
      await waitInPage(page, "connected", () => window.clients.blackhole.connected >= 1, undefined, 5000);
      const rec = await page.evaluate(() => ({ t: window.clients.blackhole.transport, ms: window.clients.blackhole.connectedAtMs }));
      assert.equal(rec.t, "websocket");
      assert.ok(rec.ms >= 1400 && rec.ms < 2000, `connected over WebSocket after ${rec.ms} ms`);
      await sleep(200);
      await pushRoom("lobby", "after a hanging webtransport");
      await waitInPage(page, "push received", received("blackhole", "after a hanging webtransport"));
    } finally {
      await page.evaluate(() => window.clients.blackhole?.client.close());
      hole.close();
    }
  });

  test("(b) window.WebTransport undefined: WebSocket at once, receiving", { timeout: 30_000 }, async () => {
    const p2 = await context.newPage();
    try {
      await p2.addInitScript(() => { window.WebTransport = undefined; });
      await p2.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
      await p2.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
      await p2.evaluate(([c]) => {
        window.startClient("nowt", { webtransport: c.wt, websocket: c.ws }, { token: c.token }, ["lobby"]);
      }, [cfg]);
      await waitInPage(p2, "connected", () => window.clients.nowt.connected >= 1, undefined, 5000);
      const rec = await p2.evaluate(() => ({ t: window.clients.nowt.transport, ms: window.clients.nowt.connectedAtMs, wt: window.opened.webtransport }));
      assert.equal(rec.t, "websocket");
      assert.equal(rec.wt, 0);
      assert.ok(rec.ms < 2000, `connected after ${rec.ms} ms`);
      await sleep(200);
      await pushRoom("lobby", "no webtransport here");
      await waitInPage(p2, "push received", received("nowt", "no webtransport here"));
      await p2.screenshot({ path: join(results, "no-webtransport.png") });
    } finally {
      await p2.close();
    }
  });

  test("(e) resume after a Disconnect (3006): what was pushed while away arrives once, in order; one recovered", { timeout: 60_000 }, async () => {
    const room = "demo-resume";
    const N = 5;
    const M = 4;
    // One client on WebTransport, one on WebSocket only: positions are the
    // same whatever carries them.
    await page.evaluate(([c, r]) => {
      window.startClient("resume-wt", { webtransport: c.wt, websocket: c.ws }, { token: c.token, serverCertificateHashes: [c.hash], gated: true }, [r]);
      window.startClient("resume-ws", { websocket: c.ws }, { token: c.token, gated: true }, [r]);
    }, [cfg, room]);
    const names = ["resume-wt", "resume-ws"];
    await waitInPage(page, "joined", ([ns, r]) => ns.every((n) => window.clients[n]?.joined.includes(r)), [names, room]);
    assert.deepEqual(await page.evaluate(([ns]) => ns.map((n) => window.clients[n].transport), [names]), ["webtransport", "websocket"]);

    const texts = [];
    const apiPositions = [];
    const push = async (text) => {
      const res = await callAPI("PushRoom", { room, text });
      texts.push(text);
      apiPositions.push(res.position ?? null);
    };
    for (let i = 0; i < N; i++) await push(`resume ${i}`);
    await waitInPage(page, "first pushes", ([ns, n]) => ns.every((x) => window.clients[x].messages.length === n), [names, N]);

    // Keep both away (their token waits), cut them, and push while they are gone.
    const keys = await page.evaluate(([ns]) => ns.map((n) => {
      window.clients[n].gated = true;
      return window.clients[n].client.connKey;
    }), [names]);
    assert.ok(keys.every(Boolean), `conn keys ${keys}`);
    await callAPI("Disconnect", { keys, reconnect: true, reason: "resume test" });
    await waitInPage(page, "disconnected with 3006", ([ns]) =>
      ns.every((n) => window.clients[n].events.some(([e, d]) => e === "disconnected" && d.code === 3006 && d.reconnect)), [names]);
    for (let i = N; i < N + M; i++) await push(`resume ${i}`);
    await page.evaluate(([ns]) => ns.forEach((n) => (window.clients[n].gated = false)), [names]);

    await waitInPage(page, "resumed", ([ns, r]) => ns.every((n) =>
      window.clients[n].events.some(([e, d]) => e === "recovered" && d.stream.room === r)), [names, room], 20_000);
    await sleep(500); // room for a stray repeat to show
    for (const name of names) {
      const rec = await page.evaluate(([n, r]) => {
        const c = window.clients[n];
        return {
          messages: c.messages,
          recovered: c.events.filter(([e]) => e === "recovered").map(([, d]) => d),
          notRecovered: c.events.filter(([e]) => e === "notRecovered").map(([, d]) => d),
          connected: c.connected,
          transport: c.transport,
          position: (({ offset, epoch }) => ({ offset: String(offset), epoch }))(c.client.position(r)),
        };
      }, [name, room]);
      assert.deepEqual(rec.messages.map((m) => m.text), texts, `${name}: every message once, in order`);
      assert.equal(new Set(rec.messages.map((m) => m.id)).size, N + M, `${name}: no repeated id`);
      const offsets = rec.messages.map((m) => BigInt(m.offset));
      assert.ok(offsets.every((o, i) => o > 0n && (i === 0 || o > offsets[i - 1])), `${name}: offsets grow: ${offsets}`);
      assert.ok(rec.messages.every((m) => m.epoch !== "" && m.epoch === rec.messages[0].epoch), `${name}: one epoch`);
      apiPositions.forEach((p, i) => {
        if (p) assert.deepEqual([String(p.offset), p.epoch], [rec.messages[i].offset, rec.messages[i].epoch], `${name}: message ${i} at the position PushRoom returned`);
      });
      const inRoom = rec.recovered.filter((d) => d.stream.room === room);
      assert.equal(inRoom.length, 1, `${name}: one recovered for the room: ${JSON.stringify(rec.recovered)}`);
      assert.equal(inRoom[0].missed, M, `${name}: missed`);
      assert.deepEqual(inRoom[0].from, { offset: rec.messages[N - 1].offset, epoch: rec.messages[N - 1].epoch });
      assert.deepEqual(inRoom[0].position, { offset: rec.messages.at(-1).offset, epoch: rec.messages.at(-1).epoch });
      assert.deepEqual(rec.position, inRoom[0].position);
      assert.deepEqual(rec.notRecovered, [], `${name}: nothing lost`);
      assert.equal(rec.connected, 2);
    }
    assert.deepEqual(await page.evaluate(([ns]) => ns.map((n) => window.clients[n].transport), [names]), ["webtransport", "websocket"]);
    // Live again.
    await push("resume live");
    await waitInPage(page, "live push after the resume", ([ns]) => ns.every((n) => window.clients[n].messages.at(-1)?.text === "resume live"), [names]);
    await page.evaluate(([ns]) => ns.forEach((n) => window.clients[n].client.close()), [names]);
  });

  // ---------------------------------------------------------- revision 5

  /** Opens a harness page of its own: its clients and transports are the test's alone. */
  async function openHarness(label) {
    const p = await context.newPage();
    p.on("pageerror", (e) => console.error(`${label} page error:`, e.message));
    await p.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
    await p.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
    return p;
  }

  /**
   * Starts client `name` in page `p` over transport `tr` with `token`,
   * joining `rooms`; waits until it is connected over that transport and in
   * the rooms. `extra` adds client options (gated). Resolves with its conn key.
   */
  async function startOver(p, name, tr, token, rooms = [], extra = {}) {
    const [endpoints, options] = tr.setup(cfg);
    await p.evaluate(([n, e, o, r]) => window.startClient(n, e, o, r), [name, endpoints, { ...options, ...extra, token }, rooms]);
    await waitInPage(p, `${name} connected`, ([n]) => window.clients[n].connected >= 1 && window.clients[n].client.state === "connected", [name]);
    assert.equal(await p.evaluate(([n]) => window.clients[n].transport, [name]), tr.name, `${name}: transport`);
    if (rooms.length) await waitInPage(p, `${name} joined`, ([n, rs]) => rs.every((r) => window.clients[n].joined.includes(r)), [name, rooms]);
    return p.evaluate(([n]) => window.clients[n].client.connKey, [name]);
  }

  /** Every room a revision 5 test's token allows: the namespace, not the token, refuses srv/ rooms. */
  const rev5Rooms = ["srv/*", "chat/*", "quiet/*"];

  for (const tr of TRANSPORTS) {
    test(`(g) ${tr.name}: Subscribe puts the client in a room, Unsubscribe takes it out; a join=server room refuses its Join`, { timeout: 30_000 }, async () => {
      const user = `sub-${tr.name}`;
      const [a, b] = [`srv/a-${tr.name}`, `srv/b-${tr.name}`];
      const p = await openHarness(user);
      try {
        const key = await startOver(p, "c", tr, signToken({ sub: user, rooms: rev5Rooms }));
        // The token allows srv/*; the namespace lets only the server in.
        const refused = await p.evaluate(([r]) => window.clients.c.client.joinRoom(r).then(() => null, (e) => e.code), [a]);
        assert.equal(refused, 101, "a client's Join of a join=server room");
        assert.deepEqual(await p.evaluate(() => window.clients.c.client.rooms()), []);

        // The backend subscribes the user (a) and the connection (b).
        assert.match((await callAPI("Subscribe", { room: a, users: [user] })).messageId, /^[0-9A-Z]{26}$/);
        await callAPI("Subscribe", { room: b, keys: [key] });
        await waitInPage(p, "subscribed", `${hasEvent("c", "subscribed", `d.room === ${JSON.stringify(a)}`)} && ${hasEvent("c", "subscribed", `d.room === ${JSON.stringify(b)}`)}`);
        assert.deepEqual(await p.evaluate(() => window.clients.c.client.serverRooms().sort()), [a, b]);
        const subA = (await eventsOf(p, "c", "subscribed")).find((d) => d.room === a);
        const pushed = await callAPI("PushRoom", { room: a, text: "to a" });
        await waitInPage(p, "push to a", received("c", "to a"));
        // Subscribed gave where the room stood (a new room: offset 0 in its
        // epoch); the push follows it in that epoch, and moves the position.
        assert.ok(subA.position.epoch !== "", `a room with history has an epoch: ${JSON.stringify(subA)}`);
        assert.equal(pushed.position.epoch, subA.position.epoch, "one epoch");
        assert.ok(BigInt(pushed.position.offset) > BigInt(subA.position.offset), `offsets ${subA.position.offset} < ${pushed.position.offset}`);
        const posA = await p.evaluate(([r]) => window.clients.c.client.position(r), [a]);
        assert.deepEqual([String(posA.offset), posA.epoch], [String(pushed.position.offset), pushed.position.epoch]);
        await pushRoom(b, "to b");
        await waitInPage(p, "push to b", received("c", "to b"));
        assert.equal(Number((await callAPI("Presence", { room: a })).connections ?? 0), 1, "the edge has the connection in a");

        await callAPI("Unsubscribe", { room: a, users: [user] });
        await waitInPage(p, "unsubscribed", hasEvent("c", "unsubscribed", `d.room === ${JSON.stringify(a)}`));
        assert.deepEqual(await eventsOf(p, "c", "unsubscribed"), [{ room: a, code: 0, reason: "" }]);
        assert.deepEqual(await p.evaluate(() => window.clients.c.client.serverRooms()), [b]);
        assert.equal(Number((await callAPI("Presence", { room: a })).connections ?? 0), 0, "the edge took the connection out of a");
        // Pushes to a stop; b, still subscribed, marks the end.
        await pushRoom(a, "to a after Unsubscribe");
        await pushRoom(b, "to b after Unsubscribe");
        await waitInPage(p, "push to b after Unsubscribe", received("c", "to b after Unsubscribe"));
        assert.deepEqual(await textsIn(p, "c", a), ["to a"]);
        assert.deepEqual(await textsIn(p, "c", b), ["to b", "to b after Unsubscribe"]);
        // Taken out, the user cannot come back by itself.
        assert.equal(await p.evaluate(([r]) => window.clients.c.client.joinRoom(r).then(() => null, (e) => e.code), [a]), 101);
        assert.deepEqual(await eventsOf(p, "c", "error"), []);
        await p.evaluate(() => window.clients.c.client.close());
      } finally {
        await p.close();
      }
    });

    test(`(g) ${tr.name}: a server-side room survives a reconnect: exactly the missed pushes, and a Subscribed from while away`, { timeout: 30_000 }, async () => {
      const user = `resub-${tr.name}`;
      const [a, b] = [`srv/r-${tr.name}`, `srv/away-${tr.name}`];
      const N = 3;
      const M = 2;
      const p = await openHarness(user);
      try {
        const key = await startOver(p, "c", tr, signToken({ sub: user, rooms: rev5Rooms }), [], { gated: true });
        await callAPI("Subscribe", { room: a, users: [user] });
        await waitInPage(p, "subscribed", hasEvent("c", "subscribed", `d.room === ${JSON.stringify(a)}`));
        const texts = [];
        for (let i = 0; i < N; i++) {
          texts.push(`r ${i}`);
          await pushRoom(a, texts.at(-1));
        }
        await waitInPage(p, "first pushes", received("c", texts.at(-1)));

        // Away (the token function waits): pushes to a, and b subscribed.
        await p.evaluate(() => (window.clients.c.gated = true));
        await callAPI("Disconnect", { keys: [key], reconnect: true, reason: "server-side room test" });
        await waitInPage(p, "disconnected with 3006", hasEvent("c", "disconnected", "d.code === 3006 && d.reconnect"));
        for (let i = N; i < N + M; i++) {
          texts.push(`r ${i}`);
          await pushRoom(a, texts.at(-1));
        }
        await callAPI("Subscribe", { room: b, users: [user] });
        await p.evaluate(() => (window.clients.c.gated = false));

        await waitInPage(p, "resumed a, subscribed b", `${hasEvent("c", "recovered", `d.stream.room === ${JSON.stringify(a)}`)} && ${hasEvent("c", "subscribed", `d.room === ${JSON.stringify(b)}`)}`);
        await pushRoom(b, "to b");
        await pushRoom(a, "r live");
        texts.push("r live");
        await waitInPage(p, "live pushes", `${received("c", "to b")} && ${received("c", "r live")}`);
        assert.deepEqual(await textsIn(p, "c", a), texts, "every push to a once, in order");
        const recovered = (await eventsOf(p, "c", "recovered")).filter((d) => d.stream.room === a);
        assert.equal(recovered.length, 1, JSON.stringify(recovered));
        assert.equal(recovered[0].missed, M, "missed while away");
        assert.deepEqual(await eventsOf(p, "c", "notRecovered"), []);
        // a was rejoined with its position (a Join), not subscribed afresh; b came with a Subscribed.
        assert.deepEqual((await eventsOf(p, "c", "subscribed")).map((d) => d.room), [a, b]);
        assert.deepEqual(await eventsOf(p, "c", "unsubscribed"), []);
        assert.deepEqual(await p.evaluate(() => window.clients.c.client.serverRooms().sort()), [b, a].sort());
        assert.equal(await p.evaluate(() => window.clients.c.connected), 2);
        assert.notEqual(await p.evaluate(() => window.clients.c.client.connKey), key, "a new connection");
        await p.evaluate(() => window.clients.c.client.close());
      } finally {
        await p.close();
      }
    });

    test(`(g) ${tr.name}: join and leave notices in a join-leave=on room, with the token's info; none in a room without`, { timeout: 30_000 }, async () => {
      const [chat, quiet] = [`chat/jl-${tr.name}`, `quiet/jl-${tr.name}`];
      const [ua, ub] = [`jl-a-${tr.name}`, `jl-b-${tr.name}`];
      const p = await openHarness(ua);
      try {
        const ka = await startOver(p, "a", tr, signToken({ sub: ua, rooms: rev5Rooms, info: { name: "Ann" } }), [chat, quiet]);
        const kb = await startOver(p, "b", tr, signToken({ sub: ub, rooms: rev5Rooms, info: { name: "Bob" } }), [chat, quiet]);
        const bob = { user: ub, connKey: kb, info: { name: "Bob" } };
        const inList = (list, k) => `d.room === ${JSON.stringify(chat)} && d.${list}.some((m) => m.connKey === ${JSON.stringify(k)})`;
        await waitInPage(p, "b's join heard by a", hasEvent("a", "joinLeave", inList("joined", kb)));
        // A connection hears its own join too.
        await waitInPage(p, "b's join heard by b", hasEvent("b", "joinLeave", inList("joined", kb)));
        await p.evaluate(() => window.clients.b.client.close());
        await waitInPage(p, "b's leave heard by a", hasEvent("a", "joinLeave", inList("left", kb)));

        const all = await eventsOf(p, "a", "joinLeave");
        const notices = all.filter((d) => d.room === chat);
        const joined = notices.flatMap((d) => d.joined);
        const left = notices.flatMap((d) => d.left);
        assert.deepEqual(joined.filter((m) => m.connKey === kb), [bob], "b's join, once, with its user and info");
        assert.deepEqual(left, [bob], "b's leave, once");
        assert.ok(joined.every((m) => m.connKey === ka || m.connKey === kb), JSON.stringify(joined));
        assert.ok(notices.every((d) => d.omitted === 0), JSON.stringify(notices));
        // The leave notice came at least one notice interval after the
        // join's: the quiet room had every chance to send one.
        assert.deepEqual(all.filter((d) => d.room !== chat), [], "no notice in a room with join-leave off");
        assert.deepEqual((await eventsOf(p, "b", "joinLeave")).filter((d) => d.room !== chat), [], "none for b either");
        await p.evaluate(() => window.clients.a.client.close());
      } finally {
        await p.close();
      }
    });

    test(`(g) ${tr.name}: presence lists a client-presence=on room's members; 101 where it is off, 103 outside the room`, { timeout: 30_000 }, async () => {
      const [chat, quiet] = [`chat/pr-${tr.name}`, `quiet/pr-${tr.name}`];
      const [ua, ub] = [`pr-a-${tr.name}`, `pr-b-${tr.name}`];
      const p = await openHarness(ua);
      try {
        const ka = await startOver(p, "a", tr, signToken({ sub: ua, rooms: rev5Rooms, info: { name: "Ann" } }), [chat, quiet]);
        const kb = await startOver(p, "b", tr, signToken({ sub: ub, rooms: rev5Rooms }), [chat, quiet]);
        const ask = (name, room) => p.evaluate(([n, r]) => window.clients[n].client.presence(r).then(
          (x) => ({ ...x, members: x.members.map(({ user, connKey, info }) => ({ user, connKey, info: info ?? null })) }),
          (e) => ({ code: e.code }),
        ), [name, room]);
        const byKey = (x, y) => (x.connKey < y.connKey ? -1 : 1);
        const want = {
          room: chat, conns: 2, users: 2, complete: true,
          members: [{ user: ua, connKey: ka, info: { name: "Ann" } }, { user: ub, connKey: kb, info: null }].sort(byKey),
        };
        for (const name of ["a", "b"]) {
          const got = await ask(name, chat);
          assert.deepEqual({ ...got, members: got.members?.sort(byKey) }, want, `${name}'s presence of ${chat}`);
        }
        assert.deepEqual(await ask("a", quiet), { code: 101 }, "client-presence off");
        assert.deepEqual(await ask("a", `chat/elsewhere-${tr.name}`), { code: 103 }, "not in the room");
        // The errors leave the connection as it was.
        assert.deepEqual(await p.evaluate(() => [window.clients.a.connected, window.clients.a.client.state]), [1, "connected"]);
        await p.evaluate(() => ["a", "b"].forEach((n) => window.clients[n].client.close()));
      } finally {
        await p.close();
      }
    });
  }

  test("(f) token refresh: short-lived tokens refreshed on the live connection, no reconnect across two lifetimes", { timeout: 90_000 }, async () => {
    // A server of its own that warns 2 s before a token expires; the tokens
    // live 3 s (exp is in whole seconds: 2 to 3 s left when minted), so the
    // warning comes within a second of each new token, and a connection that
    // did not refresh would be closed with 3004 at the first expiry.
    const ports = { quicPort: await freeUDPPort(), tcpPort: await freeTCPPort(), apiPort: await freeTCPPort() };
    const banner = await spawnServer(ports, ["--refresh-ahead", "2s"], (child) => (refreshServer = child));
    const hash = /base64 (\S+)/.exec(banner)?.[1];
    const api = { port: ports.apiPort, key: /API key\s+(\S+)/.exec(banner)?.[1] };
    assert.ok(hash && api.key, `banner without hash or key:\n${banner}`);
    const room = "refresh-room";
    const names = ["refresh-wt", "refresh-ws"];
    // Every token minted, in order: for which client, on which connection
    // (its conn key; "" for a connect attempt), and its exp.
    const minted = [];
    const pf = await context.newPage();
    try {
      pf.on("pageerror", (e) => console.error("refresh page error:", e.message));
      // The page's token function: `quicpush token --ttl 3s`, run here.
      await pf.exposeFunction("mintShortToken", async (name, connKey) => {
        const token = await run(cfg.bin, ["token", "--ttl", "3s", "--user", name, "--rooms", room, "--dev-dir", devDir], { timeout: 10_000 });
        const { exp } = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
        minted.push({ name, connKey, exp, at: Date.now() });
        return token;
      });
      await pf.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
      await pf.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
      await pf.evaluate(([wt, ws, h, r, ns]) => {
        const setups = [
          [ns[0], { webtransport: wt, websocket: ws }, { serverCertificateHashes: [h] }],
          [ns[1], { websocket: ws }, {}],
        ];
        for (const [name, endpoints, options] of setups) {
          // Called before each connect attempt, and on every TokenExpiring.
          const token = () => window.mintShortToken(name, window.clients[name]?.client?.connKey ?? "");
          window.startClient(name, endpoints, { ...options, token }, [r]);
        }
      }, [`https://127.0.0.1:${ports.quicPort}/wt`, `ws://127.0.0.1:${ports.tcpPort}/ws`, hash, room, names]);
      await waitInPage(pf, "joined", ([ns, r]) => ns.every((n) => window.clients[n]?.joined.includes(r)), [names, room], 15_000);
      const start = await pf.evaluate(([ns]) => ns.map((n) => ({
        connKey: window.clients[n].client.connKey,
        transport: window.clients[n].transport,
        connected: window.clients[n].connected,
      })), [names]);
      assert.ok(start.every((s) => s.connKey && s.connected === 1), JSON.stringify(start));
      if (start[0].transport !== "webtransport") console.log(`# note: ${names[0]} connected over ${start[0].transport}`);
      assert.equal(start[1].transport, "websocket");

      // Wait until, for each client, the token it connected with and the
      // first refreshed one have both expired, with a second refresh done.
      const refreshes = (name) => minted.filter((m) => m.name === name && m.connKey !== "");
      const end = Date.now() + 30_000;
      while (!names.every((n) => refreshes(n).length >= 2 && Date.now() > refreshes(n)[0].exp * 1000 + 1000)) {
        const events = await pf.evaluate(([ns]) => ns.map((n) => window.clients[n].events.filter(([e]) => e !== "message")), [names]);
        const gone = events.some((ev) => ev.some(([e]) => e === "disconnected"));
        if (gone || Date.now() > end) {
          throw new Error(`${gone ? "disconnected" : "no two refreshes within 30 s"}: events ${JSON.stringify(events)}; tokens ${JSON.stringify(minted)}`);
        }
        await sleep(200);
      }

      const mid = await pf.evaluate(([ns]) => ns.map((n) => {
        const c = window.clients[n];
        return {
          connKey: c.client.connKey,
          state: c.client.state,
          connected: c.connected,
          disconnected: c.events.filter(([e]) => e === "disconnected").map(([, d]) => d),
          errors: c.events.filter(([e]) => e === "error").map(([, d]) => d),
        };
      }), [names]);
      names.forEach((name, i) => {
        const m = mid[i];
        const lifetimes = refreshes(name).map((r) => r.exp);
        assert.deepEqual(m.disconnected, [], `${name}: no disconnect across two token lifetimes`);
        assert.equal(m.connected, 1, `${name}: no reconnect`);
        assert.equal(m.state, "connected", name);
        assert.equal(m.connKey, start[i].connKey, `${name}: the same connection`);
        assert.ok(refreshes(name).every((r) => r.connKey === start[i].connKey), `${name}: every refresh on the first connection`);
        assert.ok(lifetimes.every((e, j) => j === 0 || e >= lifetimes[j - 1]), `${name}: exps ${lifetimes}`);
        assert.deepEqual(m.errors.filter((e) => e.code === 105 || e.code === 5), [], `${name}: no rejected or failed refresh`);
      });

      // Still live: a push arrives on the same connection.
      await callAPI("PushRoom", { room, text: "after two token lifetimes" }, api);
      for (const n of names) await waitInPage(pf, `${n}: push after the refreshes`, received(n, "after two token lifetimes"), undefined, 10_000);
      const last = await pf.evaluate(([ns]) => ns.map((n) => [window.clients[n].connected, window.clients[n].client.connKey]), [names]);
      assert.deepEqual(last, start.map((s) => [1, s.connKey]));
      await pf.screenshot({ path: join(results, "token-refresh.png"), fullPage: true });
      await pf.evaluate(([ns]) => ns.forEach((n) => window.clients[n].client.close()), [names]);
    } finally {
      await pf.close();
      await stopChild(refreshServer, "SIGKILL");
      refreshServer = null;
    }
  });

  /** Restarts the server with `signal` and checks that both page clients come back and receive. */
  async function restart(signal, label) {
    const before = await page.evaluate(() => ({
      wt: window.clients.wt.connected,
      ws: window.clients.fallback.connected,
      wtEvents: window.clients.wt.events.length,
      wsEvents: window.clients.fallback.events.length,
    }));
    await stopServer(signal);
    await waitInPage(page, "disconnect noticed", ([b]) =>
      window.clients.wt.events.slice(b.wtEvents).some(([n]) => n === "disconnected") &&
      window.clients.fallback.events.slice(b.wsEvents).some(([n]) => n === "disconnected"), [before], 10_000);
    await sleep(500); // a few failed attempts while the server is down
    await startServer();
    await waitInPage(page, "reconnected", ([b]) =>
      window.clients.wt.connected > b.wt && window.clients.fallback.connected > b.ws &&
      window.clients.wt.client.state === "connected" && window.clients.fallback.client.state === "connected",
    [before], 25_000);
    const [wt, ws] = await page.evaluate(() => [window.clients.wt.transport, window.clients.fallback.transport]);
    // The fallback client stays on WebSocket, the choice it made. The other
    // one is back on WebTransport, unless the server came up between its
    // failed WebTransport try and the WebSocket one (a window of a few ms);
    // since WebTransport worked before, it tries it again next time.
    assert.equal(ws, "websocket");
    assert.ok(wt === "webtransport" || wt === "websocket", wt);
    if (wt !== "webtransport") console.log(`# note: reconnected over ${wt} after ${label}`);
    // Rooms are rejoined on the new connection.
    await sleep(300);
    await pushRoom("lobby", `after ${label}`);
    await waitInPage(page, `push after ${label} (webtransport)`, received("wt", `after ${label}`));
    await waitInPage(page, `push after ${label} (websocket)`, received("fallback", `after ${label}`));
    await sleep(300); // room for a stray second report
    return page.evaluate(([b]) => {
      const after = (events, kind) => events.slice(b[kind]).filter(([n]) => n !== "message");
      const of = (events, name) => events.filter(([n]) => n === name).map(([, e]) => e);
      const lobby = (events, name) => of(events, name).filter((e) => e.stream.room === "lobby");
      const wt = after(window.clients.wt.events, "wtEvents");
      const ws = after(window.clients.fallback.events, "wsEvents");
      return {
        wt: of(wt, "disconnected"),
        ws: of(ws, "disconnected"),
        // The restarted server lost the rooms' history: the resume says so.
        notRecovered: { wt: lobby(wt, "notRecovered"), ws: lobby(ws, "notRecovered") },
        recovered: { wt: lobby(wt, "recovered"), ws: lobby(ws, "recovered") },
      };
    }, [before]);
  }

  /** Checks that each client reported the history lost by a restart exactly once. */
  function assertNotRecoveredOnce(d) {
    for (const k of ["wt", "ws"]) {
      assert.equal(d.notRecovered[k].length, 1, `${k}: one notRecovered for lobby: ${JSON.stringify(d.notRecovered[k])}`);
      assert.deepEqual(d.recovered[k], [], `${k}: no recovered for lobby`);
      const e = d.notRecovered[k][0];
      assert.notEqual(e.from.epoch, e.position.epoch, `${k}: a new epoch after the restart`);
    }
  }

  test("(c) server drained (SIGTERM) and restarted: 3000, reconnect, receive", { timeout: 60_000 }, async () => {
    const d = await restart("SIGTERM", "a drain");
    assert.deepEqual([d.wt[0]?.code, d.wt[0]?.reconnect], [3000, true], JSON.stringify(d.wt));
    assert.deepEqual([d.ws[0]?.code, d.ws[0]?.reconnect], [3000, true], JSON.stringify(d.ws));
    assertNotRecoveredOnce(d);
  });

  test("(c) server killed (SIGKILL) and restarted: reconnect, receive", { timeout: 60_000 }, async () => {
    const d = await restart("SIGKILL", "a kill");
    assert.equal(d.wt[0]?.reconnect, true);
    assert.equal(d.ws[0]?.reconnect, true);
    assertNotRecoveredOnce(d);
  });

  test("(d) bad token: 3500 and no retry", { timeout: 30_000 }, async () => {
    // A page of its own: the transports it opens are this client's alone,
    // whatever the main page's clients do meanwhile (reconnects after (c)).
    const pd = await context.newPage();
    try {
      pd.on("pageerror", (e) => console.error("bad-token page error:", e.message));
      await pd.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
      await pd.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
      await pd.evaluate(([c]) => {
        window.startClient("badtoken", { webtransport: c.wt, websocket: c.ws }, { token: c.badToken, serverCertificateHashes: [c.hash], backoff: { minMs: 50, maxMs: 200 } });
      }, [cfg]);
      await waitInPage(pd, "refused", () => window.clients.badtoken.connectError !== null, undefined, 5000);
      await sleep(3000);
      const rec = await pd.evaluate(() => ({
        connectError: window.clients.badtoken.connectError,
        connecting: window.clients.badtoken.connecting,
        disconnected: window.clients.badtoken.events.filter(([n]) => n === "disconnected").map(([, e]) => e),
        state: window.clients.badtoken.client.state,
        opened: { ...window.opened },
      }));
      assert.equal(rec.connectError.code, 3500);
      assert.deepEqual(rec.disconnected.map((e) => [e.code, e.reconnect]), [[3500, false]]);
      assert.equal(rec.connecting, 1, "one connect attempt in 3 s");
      assert.equal(rec.opened.webtransport + rec.opened.websocket, 1, "one transport opened in 3 s");
      assert.equal(rec.state, "disconnected");
    } finally {
      await pd.close();
    }
  });

  test("demo page: connects from URL parameters and shows a push", { timeout: 30_000 }, async () => {
    const p3 = await context.newPage();
    try {
      p3.on("pageerror", (e) => console.error("demo page error:", e.message));
      const q = new URLSearchParams({
        wt: cfg.wt, ws: cfg.ws, token: cfg.token, room: "demo-room", hash: cfg.hash, api: cfg.origin, key: cfg.apiKey,
      });
      await p3.goto(`${cfg.origin}/demo/index.html?${q}`, { timeout: 10_000 });
      await p3.click("#connect");
      await p3.waitForFunction(() => document.querySelector("#state")?.textContent === "connected", null, { timeout: 10_000 });
      assert.equal(await p3.textContent("#transport"), "webtransport");
      // Send from the demo's own push box (POST to the JSON API) ...
      await p3.fill("#push-text", "pushed from the demo page");
      await p3.click("#push-send");
      await p3.waitForFunction(() => document.querySelector("#log")?.textContent.includes("pushed from the demo page"), null, { timeout: 10_000 });
      // ... and from a backend.
      await pushRoom("demo-room", "pushed by a backend");
      await p3.waitForFunction(() => document.querySelector("#log")?.textContent.includes("pushed by a backend"), null, { timeout: 10_000 });
      await p3.screenshot({ path: join(results, "demo.png"), fullPage: true });
    } finally {
      await p3.close();
    }
  });

  test("demo page served by quicpush serve itself, prefilled, shows a push", { timeout: 30_000 }, async () => {
    const p4 = await context.newPage();
    try {
      p4.on("pageerror", (e) => console.error("served demo page error:", e.message));
      // No parameters: `serve` prefills endpoints, hash, token, room and key.
      // config.json is held back a little, as on a busy machine: Connect
      // must wait for it rather than connect with empty fields.
      await p4.route("**/demo/config.json", async (route) => { await sleep(300); await route.continue(); });
      await p4.goto(`http://127.0.0.1:${cfg.apiPort}/demo/`, { timeout: 10_000 });
      await p4.click("#connect");
      await p4.waitForFunction(() => document.querySelector("#state")?.textContent === "connected", null, { timeout: 10_000 });
      assert.equal(await p4.textContent("#transport"), "webtransport");
      await sleep(200); // the demo joins its room right after connecting
      await pushRoom("lobby", "pushed to the served demo");
      await p4.waitForFunction(() => document.querySelector("#log")?.textContent.includes("pushed to the served demo"), null, { timeout: 10_000 });
      await p4.screenshot({ path: join(results, "demo-served.png"), fullPage: true });
    } finally {
      await p4.close();
    }
  });

  test("admin page: token, figures that move while pushing, a screenshot, drain", { timeout: 60_000 }, async () => {
    const ports = { quicPort: await freeUDPPort(), tcpPort: await freeTCPPort(), apiPort: await freeTCPPort() };
    const adminPort = await freeTCPPort();
    const adminToken = "e2e-admin-token";
    await spawnServer(ports, ["--admin-ui", "--admin-addr", `127.0.0.1:${adminPort}`, "--admin-token", adminToken],
      (child) => (adminServer = child));
    await waitForPort(adminPort);
    const api = { port: ports.apiPort, key: cfg.apiKey };
    const pa = await context.newPage();
    const pc = await context.newPage();
    let pushing = true;
    try {
      pa.on("pageerror", (e) => console.error("admin page error:", e.message));
      // Clients in rooms, over both transports.
      await pc.goto(`${cfg.origin}/harness.html`, { timeout: 10_000 });
      await pc.waitForFunction(() => typeof window.startClient === "function", null, { timeout: 10_000 });
      await pc.evaluate(([c, p]) => {
        const wt = `https://127.0.0.1:${p.quicPort}/wt`;
        const ws = `ws://127.0.0.1:${p.tcpPort}/ws`;
        window.startClient("adm-wt", { webtransport: wt, websocket: ws }, { token: c.token, serverCertificateHashes: [c.hash] }, ["lobby", "demo-news"]);
        window.startClient("adm-wt2", { webtransport: wt, websocket: ws }, { token: c.token, serverCertificateHashes: [c.hash] }, ["lobby"]);
        window.startClient("adm-ws", { websocket: ws }, { token: c.token }, ["lobby", "demo-chat"]);
      }, [cfg, ports]);
      await waitInPage(pc, "admin clients joined", () =>
        ["adm-wt", "adm-wt2", "adm-ws"].every((n) => window.clients[n]?.joined.length > 0), null);

      // No token: the login form; a wrong one: the form again.
      const base = `http://127.0.0.1:${adminPort}/admin/`;
      await pa.goto(base, { timeout: 10_000 });
      await pa.waitForSelector("#login:not([hidden])", { timeout: 10_000 });
      await pa.fill("#token", "not-the-token");
      await pa.click("#login button");
      await pa.waitForFunction(() => /wrong/.test(document.querySelector("#status")?.textContent ?? ""), null, { timeout: 10_000 });
      assert.equal(await pa.isVisible("#main"), false);
      // The token in the fragment: read, then taken out of the address bar.
      await pa.goto(`${base}#token=${adminToken}`, { timeout: 10_000 });
      await pa.waitForSelector("#main:not([hidden])", { timeout: 10_000 });
      assert.ok(!pa.url().includes(adminToken), `the token stays in the URL: ${pa.url()}`);

      // Pushes in a loop, more to lobby than to demo-news.
      const loop = (async () => {
        for (let i = 0; pushing; i++) {
          await callAPI("PushRoom", { room: "lobby", text: `tick ${i}` }, api).catch(() => {});
          if (i % 3 === 0) await callAPI("PushRoom", { room: "demo-news", text: `news ${i}` }, api).catch(() => {});
          await sleep(40);
        }
      })();
      await pa.waitForFunction(() => {
        const num = (id) => parseFloat((document.getElementById(id)?.textContent ?? "").replace(/,/g, ""));
        const text = (id) => document.getElementById(id)?.textContent ?? "";
        return num("deliveries") > 0 && text("p99") !== "–" &&
          text("hot-rooms").includes("lobby") && text("hot-rooms").includes("demo-news") &&
          text("top-rooms").includes("lobby") && /webtransport/.test(text("connections")) && /ws/.test(text("connections")) &&
          Number(document.getElementById("chart")?.dataset.points) >= 6 &&
          document.getElementById("line-deliveries").getAttribute("points").split(" ").length >= 6 &&
          document.getElementById("line-p99").getAttribute("points").split(" ").length >= 4;
      }, null, { timeout: 30_000, polling: 200 });
      const first = await pa.textContent("#top-rooms tr:first-child");
      assert.match(first, /lobby\s*3/, `top room by members: ${first}`);
      const shot = join(results, "admin.png");
      await pa.screenshot({ path: shot, fullPage: true });
      if (process.env.ADMIN_SCREENSHOT) copyFileSync(shot, process.env.ADMIN_SCREENSHOT);
      pushing = false;
      await loop;

      // Drain from the page: confirmed, the clients are told 3000, the node is no longer healthy.
      pa.once("dialog", (d) => d.accept());
      await pa.click("#nodes button");
      await waitInPage(pc, "3000 after the drain", () =>
        ["adm-wt", "adm-wt2", "adm-ws"].every((n) => window.clients[n].events.some(([k, e]) => k === "disconnected" && e.code === 3000)), null);
      await pa.waitForFunction(() => /drained/.test(document.querySelector("#nodes")?.textContent ?? ""), null, { timeout: 10_000 });
    } finally {
      pushing = false;
      await pc.close();
      await pa.close();
      await stopChild(adminServer, "SIGKILL");
      adminServer = null;
    }
  });
});
