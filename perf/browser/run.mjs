// Browser fan-out check: N copies of the real browser client (clients/js)
// in headless Chromium, all in one room over WebTransport, receive a steady
// stream of pushes from `quicpush serve`; reports deliveries per second,
// latency measured in the browser (p50, p90, p99, max), lost and duplicated
// messages, and how many clients connected over WebTransport or fell back to
// WebSocket. See README.md.
//
//   node perf/browser/run.mjs [--mode workers|tabs] [--clients 50] [--rate 20]
//     [--duration 10] [--warmup 2] [--quiet-wait 60] [--bin perf/out/quicpush]
//     [--chromium /usr/bin/chromium]
//
// One JSON line on stdout, a summary on stderr. Everything it starts (the
// server, the page server, Chromium) is stopped on exit, on failure, on
// SIGINT/SIGTERM, and when the watchdog fires.
import { execFile, spawn } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs, promisify } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const js = join(repo, "clients/js");

const { values: flags } = parseArgs({
  options: {
    mode: { type: "string", default: process.env.MODE ?? "workers" },
    clients: { type: "string", default: process.env.CLIENTS ?? "50" },
    rate: { type: "string", default: process.env.RATE ?? "20" },
    duration: { type: "string", default: process.env.DURATION ?? "10" },
    warmup: { type: "string", default: process.env.WARMUP ?? "2" },
    bin: { type: "string", default: process.env.QUICPUSH_BIN ?? join(repo, "perf/out/quicpush") },
    chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    "quiet-wait": { type: "string", default: process.env.QUIET_WAIT ?? "60" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.error(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(0, 15).join("\n"));
  process.exit(0);
}
const MODE = flags.mode;
const CLIENTS = Number(flags.clients);
const RATE = Number(flags.rate);
const DURATION_S = Number(flags.duration);
const WARMUP_S = Number(flags.warmup);
const QUIET_WAIT_S = Number(flags["quiet-wait"]);
if (!["workers", "tabs"].includes(MODE)) fail(`--mode must be workers or tabs, not ${MODE}`);
if (!(CLIENTS >= 1 && CLIENTS <= 500)) fail("--clients must be 1..500");
if (!(RATE > 0 && RATE <= 1000)) fail("--rate must be in (0, 1000]");
if (!(QUIET_WAIT_S >= 0 && QUIET_WAIT_S <= 600)) fail("--quiet-wait must be in [0, 600]");
if (!(DURATION_S > 0 && DURATION_S <= 300) || !(WARMUP_S >= 0 && WARMUP_S <= 60)) fail("--duration must be in (0, 300], --warmup in [0, 60]");

const WARMUP_PUSHES = Math.round(WARMUP_S * RATE);
const PUSHES = WARMUP_PUSHES + Math.round(DURATION_S * RATE);
const ROOM = "bench";
const CONNECT_BUDGET_MS = 60_000;
const DRAIN_QUIET_MS = 3_000;
const DRAIN_MAX_MS = 15_000;
/** Everything is torn down after this. */
const WATCHDOG_MS = QUIET_WAIT_S * 1000 + CONNECT_BUDGET_MS + (WARMUP_S + DURATION_S) * 1000 + DRAIN_MAX_MS + 60_000;

// playwright-core and the push API client come from clients/js's node_modules.
const requireJS = createRequire(join(js, "package.json"));
const { chromium } = requireJS("playwright-core");
const { createPushClient } = await import(pathToFileURL(join(js, "dist/api/index.js")).href);

const tmp = mkdtempSync(join(tmpdir(), "quicpush-browser-bench-"));
let server = null;
let httpServer = null;
let context = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const log = (...a) => console.error(...a);

function fail(msg) {
  console.error(`browser bench: ${msg}`);
  process.exit(2);
}

// ------------------------------------------------------------ teardown

async function teardown() {
  if (context) await Promise.race([context.close().catch(() => {}), sleep(5000)]);
  context = null;
  killServer();
  if (httpServer) httpServer.close();
  httpServer = null;
  rmSync(tmp, { recursive: true, force: true });
}

function killServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

const watchdog = setTimeout(async () => {
  log(`browser bench: watchdog fired after ${WATCHDOG_MS} ms`);
  await teardown();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, async () => {
    await teardown();
    process.exit(1);
  });
}
process.once("exit", () => {
  killServer();
  // Chromium is our child: playwright kills it when this process goes, but
  // make sure no renderer outlives a crash.
  for (const pid of descendants(process.pid)) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------ processes

/** Every process below `root`, from /proc. */
function descendants(root) {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(d), Number(f[1]));
    } catch { /* exited */ }
  }
  const out = [];
  const walk = (p) => {
    for (const [c, pp] of parent) if (pp === p) { out.push(c); walk(c); }
  };
  walk(root);
  return out;
}

const TICKS = 100; // USER_HZ on Linux
/** CPU seconds (user + system) of the given processes, dead ones skipped. */
function cpuSeconds(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      t += (Number(f[11]) + Number(f[12])) / TICKS;
    } catch { /* exited */ }
  }
  return t;
}

/** Proportional set size (shared pages split between sharers) in MiB. */
function pssMiB(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch { /* exited */ }
  }
  return kb / 1024;
}

/** Busy CPU seconds of the whole machine (all CPUs), from /proc/stat. */
function machineBusySeconds() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait.
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / TICKS;
}

/** CPU seconds of this process and everything it started. */
const ownSeconds = () => cpuSeconds([process.pid, ...descendants(process.pid)]);

/**
 * Waits until other processes leave the CPUs alone (under 0.2 cores over
 * 2 s), for at most `waitS` seconds; returns their load in cores.
 */
async function waitQuiet(waitS) {
  const end = Date.now() + waitS * 1000;
  let told = 0;
  for (;;) {
    const b0 = machineBusySeconds();
    const o0 = ownSeconds();
    await sleep(2000);
    const others = Math.max(0, (machineBusySeconds() - b0 - (ownSeconds() - o0)) / 2);
    if (others < 0.2 || Date.now() > end) return others;
    if (Date.now() - told > 10_000) {
      log(`browser bench: other processes use ${others.toFixed(2)} cores; waiting up to ${waitS} s for a quiet machine`);
      told = Date.now();
    }
  }
}

const browserPids = () => descendants(process.pid).filter((p) => p !== server?.pid && !descendants(server?.pid ?? -1).includes(p));

// ------------------------------------------------------------ server

async function freePort(kind) {
  return new Promise((res, rej) => {
    if (kind === "udp") {
      const s = dgram.createSocket("udp4");
      s.once("error", rej);
      s.bind(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => res(port)); });
    } else {
      const s = net.createServer();
      s.once("error", rej);
      s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => res(port)); });
    }
  });
}

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

async function startServer(cfg) {
  const args = [
    "serve",
    "--quic-addr", `127.0.0.1:${cfg.quicPort}`,
    "--tcp-addr", `127.0.0.1:${cfg.tcpPort}`,
    "--api-addr", `127.0.0.1:${cfg.apiPort}`,
    "--dev-dir", cfg.devDir,
    "--log-level", "warn",
  ];
  server = spawn(flags.bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  let err = "";
  server.stdout.on("data", (d) => (out += d));
  server.stderr.on("data", (d) => { err += d; if (err.length > 1 << 16) err = err.slice(-(1 << 15)); });
  const exited = new Promise((res) => server.once("exit", (code, sig) => res(`exited (${code ?? sig})`)));
  const banner = await Promise.race([
    (async () => { while (!out.includes("API key")) await sleep(20); return out; })(),
    exited.then((why) => { throw new Error(`quicpush serve ${why}: ${err}`); }),
    sleep(20_000).then(() => { throw new Error(`quicpush serve printed no banner: ${err}`); }),
  ]);
  await waitForPort(cfg.tcpPort);
  await waitForPort(cfg.apiPort);
  cfg.hash = /base64 (\S+)/.exec(banner)?.[1];
  cfg.apiKey = /API key\s+(\S+)/.exec(banner)?.[1];
  if (!cfg.hash || !cfg.apiKey) throw new Error(`banner without hash or key:\n${banner}`);
  cfg.serverErr = () => err;
}

/** Mints one token per client with `quicpush token`, 8 at a time. */
async function tokens(cfg) {
  const run = promisify(execFile);
  const out = new Array(CLIENTS);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < CLIENTS) {
      const i = next++;
      const { stdout } = await run(flags.bin, ["token", "--user", `b${i}`, "--rooms", ROOM, "--ttl", "1h", "--dev-dir", cfg.devDir], { timeout: 10_000 });
      out[i] = stdout.trim();
    }
  }));
  return out;
}

// ------------------------------------------------------------ pages

const types = { ".html": "text/html", ".js": "text/javascript" };

/** Serves perf/browser/ at / and clients/js/dist/ at /dist/. */
function startHTTP() {
  const roots = [["/dist/", join(js, "dist")], ["/", here]];
  httpServer = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    for (const [prefix, root] of roots) {
      if (!p.startsWith(prefix)) continue;
      const file = normalize(join(root, p.slice(prefix.length)));
      if (!file.startsWith(root + sep)) break;
      try {
        if (!statSync(file).isFile()) break;
        res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
        return res.end(readFileSync(file));
      } catch {
        break;
      }
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((res) => httpServer.listen(0, "127.0.0.1", () => res(httpServer.address().port)));
}

async function openPage(url) {
  const page = await context.newPage();
  page.on("pageerror", (e) => log("page error:", e.message));
  page.on("console", (m) => { if (m.type() === "error") log("page console:", m.text()); });
  await page.goto(url, { timeout: 20_000 });
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 20_000 });
  return page;
}

// ------------------------------------------------------------ stats

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const round = (x, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

// ------------------------------------------------------------ the run

async function main() {
  const othersBefore = QUIET_WAIT_S > 0 ? await waitQuiet(QUIET_WAIT_S) : null;
  const cfg = {
    devDir: join(tmp, "dev"),
    quicPort: await freePort("udp"),
    tcpPort: await freePort("tcp"),
    apiPort: await freePort("tcp"),
  };
  await startServer(cfg);
  const toks = await tokens(cfg);
  const origin = `http://127.0.0.1:${await startHTTP()}`;
  const push = createPushClient({ baseUrl: `http://127.0.0.1:${cfg.apiPort}`, apiKey: cfg.apiKey });

  context = await chromium.launchPersistentContext(join(tmp, "profile"), {
    executablePath: flags.chromium,
    headless: false, // headless through the flag, as on these machines
    args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
      // Every tab counts, not only the one in front.
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
    ],
    viewport: { width: 640, height: 360 },
    timeout: 30_000,
  });
  const browserVersion = context.browser()?.version() ?? (await readVersion());

  const clientCfg = {
    endpoints: { webtransport: `https://127.0.0.1:${cfg.quicPort}/wt`, websocket: `ws://127.0.0.1:${cfg.tcpPort}/ws` },
    hash: cfg.hash,
    room: ROOM,
    pushes: PUSHES,
  };

  // Connect everything.
  log(`browser bench: ${CLIENTS} clients (${MODE}), ${RATE} pushes/s for ${WARMUP_S} s warmup + ${DURATION_S} s`);
  const tConnect = now();
  const pages = [];
  if (MODE === "workers") {
    const page = await openPage(`${origin}/page.html`);
    await page.evaluate(([c, t]) => window.benchStart("workers", t.length, { ...c, tokens: t }), [clientCfg, toks]);
    pages.push(page);
  } else {
    // Open the tabs a few at a time: 50 renderers starting at once on 2 cores
    // only slow each other down.
    for (let i = 0; i < CLIENTS; i += 5) {
      const batch = await Promise.all(toks.slice(i, i + 5).map(async (t) => {
        const page = await openPage(`${origin}/page.html`);
        await page.evaluate(([c, tt]) => window.benchStart("direct", 1, { ...c, tokens: [tt] }), [clientCfg, t]);
        return page;
      }));
      pages.push(...batch);
    }
  }
  const status = async () => {
    const all = await Promise.all(pages.map((p) => p.evaluate(() => window.benchStatus())));
    return all.reduce((a, s) => ({ connected: a.connected + s.connected, joined: a.joined + s.joined, received: a.received + s.received }), { connected: 0, joined: 0, received: 0 });
  };
  for (;;) {
    const s = await status();
    if (s.joined === CLIENTS) break;
    if (now() - tConnect > CONNECT_BUDGET_MS) throw new Error(`after ${CONNECT_BUDGET_MS} ms only ${s.connected} connected, ${s.joined} joined`);
    await sleep(200);
  }
  const connectAllMs = now() - tConnect;
  // The server's own count of the room, as a cross-check.
  const online = await push.online({ rooms: [ROOM] });
  const roomCount = Number(online.rooms[ROOM] ?? 0n);
  log(`browser bench: all ${CLIENTS} joined in ${Math.round(connectAllMs)} ms; the server counts ${roomCount} in the room`);
  await sleep(500);

  // Push: PUSHES messages at RATE per second, each {"t": send time in ms, "i": index}.
  const serverPids = () => (server ? [server.pid, ...descendants(server.pid)] : []);
  const acks = [];
  let pushErrors = 0;
  let inflight = 0;
  let maxInflight = 0;
  const calls = [];
  const interval = 1000 / RATE;
  const start = now() + 50;
  let measureStart = null;
  let cpu0 = null;
  for (let i = 0; i < PUSHES; i++) {
    if (i === WARMUP_PUSHES) {
      measureStart = now();
      cpu0 = { server: cpuSeconds(serverPids()), browser: cpuSeconds(browserPids()), own: ownSeconds(), machine: machineBusySeconds() };
    }
    const wait = start + i * interval - now();
    if (wait > 0) await sleep(wait);
    const t = now();
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    calls.push(push.pushRoom({ room: ROOM, text: JSON.stringify({ t: round(t, 3), i }) }).then(
      () => { acks.push(now() - t); },
      (e) => { pushErrors++; if (pushErrors <= 3) log(`push ${i}: ${e.message}`); },
    ).finally(() => inflight--));
  }
  await Promise.all(calls);
  const pushEnd = now();
  const cpu1 = { server: cpuSeconds(serverPids()), browser: cpuSeconds(browserPids()), own: ownSeconds(), machine: machineBusySeconds() };
  const windowS = (pushEnd - measureStart) / 1000;
  const browserMiB = pssMiB(browserPids());
  const browserProcs = browserPids().length;

  // Drain: until every client has every push, nothing arrives for a while, or a bound.
  const want = CLIENTS * PUSHES;
  let last = -1;
  let lastChange = now();
  for (;;) {
    const s = await status();
    if (s.received !== last) { last = s.received; lastChange = now(); }
    if (s.received >= want || now() - lastChange > DRAIN_QUIET_MS || now() - pushEnd > DRAIN_MAX_MS) break;
    await sleep(100);
  }

  // Gather.
  const reports = (await Promise.all(pages.map((p) => p.evaluate(() => window.benchReport())))).flat();
  const lat = [];
  let received = 0;
  let receivedMeasured = 0;
  let dups = 0;
  let foreign = 0;
  const transports = { webtransport: 0, websocket: 0, none: 0 };
  let fellBack = 0;
  let reconnects = 0;
  const skews = [];
  const errors = [];
  for (const r of reports) {
    received += r.received;
    dups += r.dups;
    foreign += r.foreign;
    transports[r.transport ?? "none"]++;
    if (r.transports.includes("websocket")) fellBack++;
    reconnects += Math.max(0, r.transports.length - 1);
    skews.push(r.clockSkewMs);
    errors.push(...r.errors);
    for (let i = WARMUP_PUSHES; i < r.lat.length; i++) {
      if (r.lat[i] !== null && !Number.isNaN(r.lat[i])) {
        lat.push(r.lat[i]);
        receivedMeasured++;
      }
    }
  }
  lat.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);
  const measuredPushes = PUSHES - WARMUP_PUSHES;
  // Load of everything else on the machine during the window, in cores.
  const others = Math.max(0, (cpu1.machine - cpu0.machine - (cpu1.own - cpu0.own)) / windowS);
  const result = {
    date: new Date().toISOString().slice(0, 10),
    cpus: (await import("node:os")).cpus().length,
    chromium: browserVersion,
    mode: MODE,
    clients: CLIENTS,
    rate: RATE,
    duration_s: DURATION_S,
    warmup_s: WARMUP_S,
    pushes: PUSHES,
    connect_all_ms: Math.round(connectAllMs),
    server_room_count: roomCount,
    transports,
    fell_back: fellBack,
    reconnects,
    push_rate: round(measuredPushes / windowS, 1),
    push_errors: pushErrors,
    push_ack_ms: { p50: round(quantile(acks, 0.5), 2), p99: round(quantile(acks, 0.99), 2) },
    push_max_inflight: maxInflight,
    deliveries_expected: CLIENTS * measuredPushes,
    deliveries: receivedMeasured,
    deliveries_per_s: round(receivedMeasured / windowS, 0),
    lost: want - received,
    duplicates: dups,
    foreign,
    latency_ms: {
      p50: round(quantile(lat, 0.5), 2),
      p90: round(quantile(lat, 0.9), 2),
      p99: round(quantile(lat, 0.99), 2),
      max: round(lat.at(-1), 2),
      min: round(lat[0], 2),
    },
    clock_skew_ms: { min: round(Math.min(...skews), 2), max: round(Math.max(...skews), 2) },
    cpu_s: {
      server: round(cpu1.server - cpu0.server, 2),
      browser: round(cpu1.browser - cpu0.browser, 2),
      pusher: round(cpu1.own - cpu0.own - (cpu1.server - cpu0.server) - (cpu1.browser - cpu0.browser), 2),
      window_s: round(windowS, 2),
    },
    others_cores: round(others, 2),
    others_cores_before: othersBefore === null ? null : round(othersBefore, 2),
    disturbed: others > 0.2,
    browser_processes: browserProcs,
    browser_pss_mib: Math.round(browserMiB),
    errors: [...new Set(errors)].slice(0, 5),
  };
  console.log(JSON.stringify(result));
  const l = result.latency_ms;
  log([
    `browser bench (${result.date}, ${result.cpus} CPUs, Chromium ${result.chromium}): ${CLIENTS} clients in ${MODE}, one room`,
    `  connected   ${transports.webtransport} over WebTransport, ${transports.websocket} over WebSocket (${fellBack} fell back, ${reconnects} reconnects), all joined in ${result.connect_all_ms} ms`,
    `  pushes      ${measuredPushes} measured at ${result.push_rate}/s (+${WARMUP_PUSHES} warmup), ${pushErrors} errors, ack p50 ${result.push_ack_ms.p50} ms p99 ${result.push_ack_ms.p99} ms`,
    `  deliveries  ${receivedMeasured} of ${result.deliveries_expected}: ${result.deliveries_per_s}/s; lost ${result.lost}, duplicates ${dups}`,
    `  latency     p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms (in the browser, send time to message event)`,
    `  cpu         server ${result.cpu_s.server} s, browser ${result.cpu_s.browser} s, pusher ${result.cpu_s.pusher} s over ${result.cpu_s.window_s} s; browser ${browserProcs} processes, ${result.browser_pss_mib} MiB PSS`,
    `  machine     other processes used ${result.others_cores} cores during the window${result.disturbed ? " (DISTURBED: run it again on a quiet machine)" : ""}`,
  ].join("\n"));
  if (result.transports.webtransport !== CLIENTS || result.lost > 0) process.exitCode = 1;
  await closeClients(pages);
}

async function closeClients(pages) {
  await Promise.race([Promise.all(pages.map((p) => p.evaluate(() => window.benchClose()).catch(() => {}))), sleep(3000)]);
}

async function readVersion() {
  try {
    const { stdout } = await promisify(execFile)(flags.chromium, ["--version"], { timeout: 10_000 });
    return stdout.trim().replace(/^\D+/, "");
  } catch {
    return "unknown";
  }
}

try {
  await main();
} catch (e) {
  log(`browser bench: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await teardown();
}
