// The quicpush demo page. It loads the client from ./dist/ (the layout the Go
// server uses: /demo/ and /demo/dist/) or, when clients/js/ itself is served,
// from ../dist/.
const { Client } = await import("./dist/index.js").catch(() => import("../dist/index.js"));

const $ = (id) => document.getElementById(id);
const fields = ["wt", "ws", "hash", "token", "room", "api", "key"];
const decoder = new TextDecoder();
let client = null;
let count = 0;

// Defaults: an optional ./config.json (a server may provide one), then the
// URL's query parameters, then the page's own origin for the push API.
async function prefill() {
  let config = {};
  try {
    const res = await fetch("./config.json", { signal: AbortSignal.timeout(1000) });
    if (res.ok) config = await res.json();
  } catch {
    // No config: the query string and the defaults do.
  }
  const q = new URLSearchParams(location.search);
  for (const f of fields) {
    const v = q.get(f) ?? config[f];
    if (typeof v === "string") $(f).value = v;
  }
  if (!$("api").value && location.protocol.startsWith("http")) $("api").value = location.origin;
  if (!$("room").value) $("room").value = "lobby";
  return q.get("connect") === "1";
}

function log(kind, text) {
  const line = document.createElement("div");
  line.className = kind;
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $("log").prepend(line);
  while ($("log").childElementCount > 500) $("log").lastElementChild.remove();
}

function show() {
  const state = client?.state ?? "disconnected";
  $("state").textContent = state;
  $("state").dataset.state = state;
  $("transport").textContent = client?.transport ?? "-";
  $("user").textContent = client?.user || "-";
  $("connkey").textContent = client?.connKey || "-";
  $("count").textContent = String(count);
  const active = client !== null && state !== "closed" && state !== "disconnected";
  $("connect").disabled = active;
  $("disconnect").disabled = !active;
}

function connect() {
  client?.close();
  const endpoints = {};
  if ($("wt").value.trim()) endpoints.webtransport = $("wt").value.trim();
  if ($("ws").value.trim()) endpoints.websocket = $("ws").value.trim();
  const hash = $("hash").value.trim();
  const room = $("room").value.trim();
  try {
    client = new Client(endpoints, {
      token: $("token").value.trim(),
      serverCertificateHashes: hash ? [hash] : [],
    });
  } catch (e) {
    client = null;
    log("error", e.message);
    return show();
  }
  const c = client;
  c.on("connecting", (e) => { log("event", `connecting (attempt ${e.attempt})`); show(); });
  c.on("connected", (e) => { log("event", `connected over ${e.transport} as ${e.user} (${e.connKey}), ping every ${e.pingIntervalMs} ms`); show(); });
  c.on("disconnected", (e) => { log("event", `disconnected: ${e.code} ${e.reason}${e.reconnect ? ", reconnecting" : ""}`); show(); });
  c.on("error", (e) => log("error", e.message));
  c.on("message", (m) => {
    count++;
    const where = m.kind === "room" ? m.room : m.kind;
    const pos = m.offset ? ` @${m.epoch}:${m.offset}` : "";
    log("message", `[${where}${pos}] ${decoder.decode(m.data)}`);
    show();
  });
  c.connect().catch((e) => { log("error", `stopped: ${e.message}`); show(); });
  if (room) {
    c.joinRoom(room).then(() => log("event", `joined ${room}`), (e) => log("error", `join ${room}: ${e.message}`));
  }
  show();
}

async function sendPush() {
  const api = $("api").value.trim().replace(/\/+$/, "");
  const room = $("room").value.trim();
  try {
    const res = await fetch(`${api}/quicpush.push.v1.PushService/PushRoom`, {
      method: "POST",
      headers: { Authorization: `Bearer ${$("key").value.trim()}`, "Content-Type": "application/json" },
      body: JSON.stringify({ room, text: $("push-text").value }),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`${res.status} ${body}`);
    log("event", `pushed to ${room}: ${JSON.parse(body).messageId}`);
  } catch (e) {
    log("error", `push failed: ${e.message}`);
  }
}

$("connect").addEventListener("click", connect);
$("disconnect").addEventListener("click", () => { client?.close(); show(); });
$("push-send").addEventListener("click", sendPush);
$("push-text").addEventListener("keydown", (e) => { if (e.key === "Enter") sendPush(); });
// Connect stays disabled (index.html) until the fields are filled in: a
// click before config.json arrived would connect with empty fields.
if (await prefill()) connect();
show();
