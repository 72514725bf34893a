// The quicpush admin page: polls /admin/api/state every second and renders
// it; no framework, no build step. The admin token comes from the URL's
// fragment (#token=...), which browsers never send to the server, or from
// the login form; it is kept in this tab's sessionStorage and sent as a
// bearer header, never as a cookie (see server/adminui.go).
"use strict";

const POLL_MS = 1000;
const KEY = "quicpush-admin-token";
const $ = (id) => document.getElementById(id);

function token() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    // Out of the address bar and the history.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

async function call(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json" },
    cache: "no-store",
  });
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin("wrong or missing token");
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return res;
}

function showLogin(why) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("status").textContent = why;
}

const fmt = (v, digits = 0) => (v == null ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits }));
const ms = (v) => (v == null ? "–" : v < 10 ? `${fmt(v, 2)} ms` : `${fmt(v, 0)} ms`);

/** Replaces a table body's rows; each row is a list of [text, className]. */
function rows(id, list, empty) {
  const body = $(id);
  body.replaceChildren();
  if (list.length === 0) list = [[[empty, "muted"]]];
  for (const cells of list) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c);
      else {
        const [text, cls] = Array.isArray(c) ? c : [c, ""];
        td.textContent = text;
        if (cls) td.className = cls;
      }
      tr.append(td);
    }
    body.append(tr);
  }
}

function drainButton(node) {
  const b = document.createElement("button");
  b.textContent = "drain";
  b.disabled = !node.drainable;
  b.addEventListener("click", async () => {
    if (!confirm(`Drain ${node.id}? Its clients are told to reconnect elsewhere (3000).`)) return;
    b.disabled = true;
    try {
      await call("api/drain", { method: "POST", body: JSON.stringify({ node: node.id }) });
    } catch (e) {
      $("status").textContent = `drain failed: ${e.message}`;
    }
  });
  return b;
}

/** Draws series[key] as a polyline scaled to the chart's height; returns the scale. */
function plot(id, series, key) {
  const pts = series.filter((p) => p[key] != null);
  const top = Math.max(1e-9, ...pts.map((p) => p[key])) * 1.1;
  const t0 = series.length ? series[0].t : 0;
  const span = Math.max(1, (series.length ? series[series.length - 1].t : 0) - t0);
  $(id).setAttribute(
    "points",
    pts.map((p) => `${((600 * (p.t - t0)) / span).toFixed(1)},${(160 - (150 * p[key]) / top).toFixed(1)}`).join(" "),
  );
  return top / 1.1;
}

function render(st) {
  const series = st.series ?? [];
  const last = series[series.length - 1] ?? {};
  // A process without an edge (api) knows no deliveries, connections or cuts.
  const edge = st.edge_figures;
  $("deliveries").textContent = edge ? fmt(last.deliveries_per_s, 1) : "–";
  $("pushes").textContent = fmt(last.pushes_per_s, 1);
  $("p50").textContent = ms(last.p50_ms);
  $("p99").textContent = ms(last.p99_ms);
  $("scale-deliveries").textContent = edge ? fmt(plot("line-deliveries", series, "deliveries_per_s"), 1) : "–";
  $("scale-p99").textContent = ms(plot("line-p99", series, "p99_ms"));
  $("chart").dataset.points = String(series.length);

  rows("nodes", (st.nodes ?? []).map((n) => [n.id, n.role, [n.health, n.health === "ok" ? "ok" : "bad"], drainButton(n)]), "no nodes");
  rows("connections", Object.entries(st.connections ?? {}).sort().map(([t, n]) => [t, [fmt(n), "num"]]),
    edge ? "no connections" : "counted by each edge (its /metrics)");
  rows("top-rooms", (st.top_rooms ?? []).map((r) => [r.room, [fmt(r.members), "num"]]), "no rooms");
  rows("hot-rooms", (st.hot_rooms ?? []).map((r) => [r.room, [fmt(r.per_second, 1), "num"]]), "no room pushes");
  const c = st.counters ?? {};
  const counters = [["push API rate-limit hits", [fmt(c.api_rate_limited), "num"]]];
  if (edge) counters.push(["slow-consumer cuts", [fmt(c.slow_consumer_cuts), "num"]], ["malformed frames", [fmt(c.bad_frames), "num"]]);
  else counters.push([["cuts and handshake failures: counted by each edge (its /metrics)", "muted"]]);
  for (const [k, n] of Object.entries(c.limited ?? {}).sort()) counters.push([`limit: ${k}`, [fmt(n), "num"]]);
  for (const [k, n] of Object.entries(edge ? c.handshake_failures ?? {} : {}).sort()) counters.push([`handshake failure: ${k}`, [fmt(n), "num"]]);
  rows("counters", counters, "");
  rows("kafka", st.kafka == null ? [] : st.kafka.map((p) => [String(p.partition), [fmt(p.lag), "num"]]),
    st.kafka == null ? "no Kafka: the bus is in process" : "no partitions");
  $("status").textContent = `updated ${new Date(st.time).toLocaleTimeString()}`;
}

async function poll() {
  if (!token()) {
    // The form stays up with its reason until a token is given.
    if ($("login").hidden) showLogin("token needed");
    return;
  }
  try {
    const st = await (await call("api/state")).json();
    $("login").hidden = true;
    $("main").hidden = false;
    render(st);
  } catch (e) {
    if (e.message !== "unauthorized") $("status").textContent = `error: ${e.message}`;
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("token").value);
  $("token").value = "";
  poll();
});

poll();
setInterval(poll, POLL_MS);
