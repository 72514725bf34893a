// One receiving client of the browser fan-out check, run in a page (tabs
// mode) or in a dedicated worker (workers mode): the real @quicpush/client
// over WebTransport (WebSocket as its fallback), one room, and a record of
// every push it gets. Latency is taken here, the moment the message event
// fires, as performance.timeOrigin + performance.now() minus the send time
// `t` that the pusher put in the payload (same machine, same clock).
import { Client } from "/dist/index.js";

const now = () => performance.timeOrigin + performance.now();
const decoder = new TextDecoder();

/**
 * Starts a client. cfg: { endpoints, token, hash, room, pushes } where
 * pushes bounds the push indexes `i` it records.
 */
export function startClient(cfg) {
  const t0 = now();
  const lat = new Float64Array(cfg.pushes).fill(Number.NaN);
  const st = {
    transports: [], // one entry per connected event
    connecting: 0,
    connectMs: null, // first connect, from start
    joined: false,
    joinError: null,
    received: 0, // distinct pushes
    dups: 0,
    foreign: 0, // messages that are not bench pushes
    errors: [],
    disconnects: [],
  };
  const client = new Client(cfg.endpoints, { token: cfg.token, serverCertificateHashes: [cfg.hash] });
  client.on("connecting", () => st.connecting++);
  client.on("connected", (e) => {
    st.transports.push(e.transport);
    if (st.connectMs === null) st.connectMs = now() - t0;
  });
  client.on("disconnected", (e) => st.disconnects.push(e.code));
  client.on("error", (e) => { if (st.errors.length < 5) st.errors.push(e.message); });
  client.on("message", (m) => {
    const at = now();
    let p;
    try {
      p = JSON.parse(decoder.decode(m.data));
    } catch {
      st.foreign++;
      return;
    }
    if (!Number.isInteger(p.i) || p.i < 0 || p.i >= lat.length) {
      st.foreign++;
      return;
    }
    if (!Number.isNaN(lat[p.i])) {
      st.dups++;
      return;
    }
    lat[p.i] = at - p.t;
    st.received++;
  });
  client.connect().catch((e) => st.errors.push(`connect: ${e.message}`));
  client.joinRoom(cfg.room).then(() => { st.joined = true; }, (e) => { st.joinError = e.message; });

  return {
    status: () => ({ connected: st.transports.length > 0 && client.state === "connected", joined: st.joined, received: st.received }),
    report: () => ({
      ...st,
      transport: client.transport,
      state: client.state,
      clockSkewMs: Date.now() - now(), // this context's timeOrigin against the wall clock
      lat: Array.from(lat),
    }),
    close: () => client.close(),
  };
}
