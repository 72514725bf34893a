#!/usr/bin/env bash
# The push API while the edge's core is busy with a room fan-out: starts one
# `quicpush serve` pinned to CPU 0 with the write policy off
# (--write-budget=0, so that goim's shape, 10,000 connections in one room at
# 40 pushes/s, fills the core), runs that room with loadgen on CPU 1 and,
# once it is under way, a second loadgen beside it: one caller pushing 1,000
# pushes/s to another room of 10 connections. The second run's push-call
# latency and push rate say whether the API keeps accepting or only slows
# down. JSON lines go to perf/results/<date>/api/{room,side}-<label>.json, and
# the tables are printed. See perf/README.md, "The push API under fan-out".
#
#   perf/api-under-load.sh            about 1.5 minutes on 2 cores
#   perf/api-under-load.sh help       this text
#
# Environment overrides: LABEL (default "now"), BUDGET (default 0: the
# --write-budget of the server), SIDE_RATE (1000), CONNS (10000), RATE (40),
# QUICPUSH_BIN (a prebuilt quicpush to measure instead of building
# perf/out/quicpush; it must know --write-budget unless BUDGET is empty),
# PORT_BASE (27500: QUIC and TCP on +33 and +34, the push API on +80),
# RESULTS (the output folder).
set -euo pipefail
export GOTOOLCHAIN=auto
cd "$(dirname "$0")/.."

case ${1:-run} in
run) ;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac

label=${LABEL:-now}
budget=${BUDGET-0}
side_rate=${SIDE_RATE:-1000}
conns=${CONNS:-10000}
rate=${RATE:-40}
base=${PORT_BASE:-27500}
results=${RESULTS:-perf/results/$(date -u +%F)/api}
mkdir -p "$results" perf/out

bin=${QUICPUSH_BIN:-}
if [ -z "$bin" ]; then
	go build -o perf/out/quicpush ./cmd/quicpush
	bin=perf/out/quicpush
fi
(cd perf && go build -o out/loadgen ./loadgen)

dir=$(mktemp -d)
server=""
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

quic=127.0.0.1:$((base + 33))
tcp=127.0.0.1:$((base + 34))
api=127.0.0.1:$((base + 80))
flags=(serve --quic-addr "$quic" --tcp-addr "$tcp" --api-addr "$api" --dev-dir "$dir"
	--max-conns-per-ip=-1 --handshakes-per-ip=-1 --max-conns-per-user=-1
	--max-frames-per-sec=-1 --max-bytes-per-sec=-1 --api-rate-limit=-1 --log-level error)
if [ -n "$budget" ]; then
	flags+=(--write-budget="$budget")
fi
taskset -c 0 "$bin" "${flags[@]}" &
server=$!
for _ in $(seq 100); do
	curl -sf "http://$api/readyz" >/dev/null && break
	sleep 0.1
done

common=(--transport tcp --api "$api" --edge-quic "$quic" --edge-tcp "$tcp" --dev-dir "$dir"
	--server-pid "$server" --gen-cpus 1 --payload 34)
perf/out/loadgen run "${common[@]}" --scenario goim-room --conns "$conns" --rate "$rate" --duration 40s \
	--label "room $label" >"$results/room-$label.json" &
room=$!
sleep 20 # the room's connections are up and its pushes under way
perf/out/loadgen run "${common[@]}" --scenario goim-room --conns 10 --room side --source-base 8 \
	--rate "$side_rate" --duration 20s --label "side $label" >"$results/side-$label.json"
wait "$room"
perf/out/loadgen table "$results/room-$label.json" "$results/side-$label.json"
