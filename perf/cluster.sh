#!/usr/bin/env bash
# Runs the goim-room scenario (N connections in one room, R pushes/s to it)
# against a local cluster: builds bin/quicpush, perf/out/devcluster and
# perf/out/loadgen, starts `devcluster --cores 1 --edges 2` (a real Kafka
# broker, redis-server, 1 api, 1 core, 2 edges) in a temporary directory on
# its own ports, runs loadgen against it on each transport and rate with the
# connections split over the edges, writes one JSON line per run to
# perf/results/<date>/cluster/goim-room-<transport>-<rate>.json (replacing an
# earlier run of the same pair that day), stops the cluster, removes the
# directory and prints the tables. See perf/README.md, "Cluster mode".
#
#   perf/cluster.sh          tcp and quic, 2,000 connections, 40 then 200 pushes/s, 10 s windows;
#                            about 2.5 minutes on 2 cores
#   perf/cluster.sh compare  the same, then the same runs against one `quicpush serve` (in-process
#                            bus, no Kafka or Redis), unpinned like the cluster, into
#                            single-<transport>-<rate>.json beside them; about 4.5 minutes
#   perf/cluster.sh help     this text
#
# Environment overrides: TRANSPORTS (default "tcp quic"), RATES ("40 200"),
# CONNS (2000), DURATION (10s), WARMUP (3s), CORES (1), EDGES (2),
# PORT_BASE (27400; below the ephemeral range, away from `make run` and
# `make cluster`: admin listeners on PORT_BASE+1.., edges' UDP on
# PORT_BASE+33 and TCP on PORT_BASE+34, 10 more per edge, redis-server on
# PORT_BASE+79, the push API on PORT_BASE+80, Kafka on PORT_BASE+92 and +93),
# RESULTS (the output folder), GEN_CPUS (empty: the generator is not pinned,
# as nothing in the cluster is), QUIET_WAIT (default 2s), RETRIES (default 1:
# how often a run disturbed by other processes is repeated), EXTRA (more
# loadgen flags for every run), PAUSE (5 s between runs, for the edges to
# drop the previous run's sessions), START_TIMEOUT (120 s for the cluster to come
# up), RUN_TIMEOUT (per loadgen run, retries included; default 90 s per
# attempt), STOP_TIMEOUT (60 s before the
# cluster is killed), QUICPUSH_BIN (a prebuilt quicpush binary to measure
# instead of building bin/quicpush from the tree), REV (the server's
# revision for the results; default: git's, with a hash of the diff when the
# tree is dirty).
#
# The cluster is stopped with SIGTERM (edges drain, core commits, then Kafka
# and Redis stop) and SIGKILLed after STOP_TIMEOUT; its processes die with
# it. devcluster runs as a built binary, not under `go run`: the go command
# does not pass SIGTERM on, and would leave the cluster running.
set -euo pipefail
export GOTOOLCHAIN=auto # the toolchain go.mod names (see the Makefile)
cd "$(dirname "$0")/.."

mode=${1:-cluster}
case $mode in
cluster | compare) ;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac

transports=${TRANSPORTS:-tcp quic}
rates=${RATES:-40 200}
conns=${CONNS:-2000}
duration=${DURATION:-10s}
warmup=${WARMUP:-3s}
cores=${CORES:-1}
edges=${EDGES:-2}
base=${PORT_BASE:-27400}
gen_cpus=${GEN_CPUS:-}
quiet_wait=${QUIET_WAIT:-2s}
retries=${RETRIES:-1}
start_timeout=${START_TIMEOUT:-120}
run_timeout=${RUN_TIMEOUT:-$((90 * (retries + 1)))}
pause=${PAUSE:-5}
stop_timeout=${STOP_TIMEOUT:-60}
date=$(date -u +%F)
results=${RESULTS:-perf/results/$date/cluster}

if ((edges < 1 || edges > 4 || cores < 1 || edges + cores + 1 > 30)); then
	echo "cluster.sh: EDGES must be in [1, 4] and CORES at least 1 (the ports are laid out for that)" >&2
	exit 2
fi
api_port=$((base + 80)) edge_port=$((base + 33)) redis_port=$((base + 79))
kafka_port=$((base + 92)) admin_port=$((base + 1))
ports="$api_port $redis_port $kafka_port $((kafka_port + 1))"
for ((i = 0; i < edges; i++)); do ports+=" $((edge_port + 10 * i)) $((edge_port + 10 * i + 1))"; done
for ((i = 0; i < edges + cores + 1; i++)); do ports+=" $((admin_port + i))"; done
for p in $ports; do
	if ss -Hltun "sport = :$p" | grep -q .; then
		echo "cluster.sh: port $p is taken (another cluster?); set PORT_BASE" >&2
		exit 1
	fi
done

quicpush_bin=${QUICPUSH_BIN:-bin/quicpush}
started=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/quicpush-cluster-XXXXXX")
dc_pid="" lg_pid=""

# stop_pid PID TIMEOUT sends SIGTERM to PID, waits up to TIMEOUT seconds for
# it to exit, then SIGKILLs it.
stop_pid() {
	local pid=$1 limit=$2 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "cluster.sh: pid $pid still running after ${limit}s: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

# stop_cluster stops devcluster, which stops its processes, Kafka and Redis.
stop_cluster() {
	if [ -n "$dc_pid" ] && kill -0 "$dc_pid" 2>/dev/null; then
		echo "stopping the cluster (pid $dc_pid)" >&2
		stop_pid "$dc_pid" "$stop_timeout"
		wait "$dc_pid" 2>/dev/null || true
	fi
	dc_pid=""
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$lg_pid" ]; then stop_pid "$lg_pid" 15; fi
	stop_cluster
	if ((rc != 0)) && [ -s "$tmp/devcluster.log" ]; then
		echo "--- devcluster output:" >&2
		tail -20 "$tmp/devcluster.log" >&2
		for f in "$tmp"/cluster/logs/*.log; do
			[ -s "$f" ] || continue
			echo "--- $(basename "$f"), last lines:" >&2
			tail -5 "$f" >&2
		done
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v redis-server >/dev/null || {
	echo "cluster.sh: redis-server is missing: apt-get install redis-server" >&2
	exit 1
}
mkdir -p bin perf/out "$results"
rev=unknown
if [ -z "${QUICPUSH_BIN:-}" ]; then
	echo "building bin/quicpush" >&2
	go build -o bin/quicpush ./cmd/quicpush
	# The revision of the tree the server was built from, as perf/bench.sh;
	# a dirty tree gets a hash of its diff.
	if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
		rev=$(git rev-parse --short HEAD)
		if ! git diff --quiet HEAD --; then
			rev="$rev-dirty-$(git diff HEAD -- | sha1sum | cut -c1-8)"
		fi
	fi
fi
rev=${REV:-$rev}
echo "building perf/out/devcluster and perf/out/loadgen; fetching the Kafka jars if needed" >&2
go build -o perf/out/devcluster ./cmd/devcluster
(cd perf && go build -o out/loadgen ./loadgen) # perf/ is a module of its own
scripts/kafka/fetch.sh >/dev/null

echo "starting the cluster in $tmp (api :$api_port, edges :$edge_port.., kafka :$kafka_port, redis :$redis_port, admin :$admin_port..)" >&2
perf/out/devcluster --bin "$quicpush_bin" --cores "$cores" --edges "$edges" \
	--dir "$tmp/cluster" --dev-dir "$tmp/dev" --api-port "$api_port" --edge-port "$edge_port" \
	--kafka-port "$kafka_port" --redis-port "$redis_port" --admin-port "$admin_port" \
	>"$tmp/devcluster.log" 2>&1 &
dc_pid=$!

# The banner ends with this line once every process answers /readyz.
for ((i = 0; ; i++)); do
	grep -q '^Ctrl-C stops everything' "$tmp/devcluster.log" && break
	if ! kill -0 "$dc_pid" 2>/dev/null; then
		echo "cluster.sh: devcluster exited during start" >&2
		exit 1
	fi
	if ((i >= start_timeout * 5)); then
		echo "cluster.sh: the cluster did not come up within ${start_timeout}s" >&2
		exit 1
	fi
	sleep 0.2
done
echo "cluster up in $(($(date +%s) - started)) s" >&2

# Addresses from the banner:
#   push API       http://A          admin http://B/metrics
#   core1                            admin http://B/metrics
#   edge1          quic://Q tcp://T   admin http://B/metrics
banner=$(sed -n '/^quicpush cluster is running/,/^Try it/p' "$tmp/devcluster.log")
api=$(sed -n 's|^ *push API *http://\([^ ]*\) .*|\1|p' <<<"$banner")
admins="api=$(sed -n 's|^ *push API .*admin http://\([^/]*\)/metrics.*|\1|p' <<<"$banner")"
admins+=$(sed -n 's|^ *\(core[0-9]*\) .*admin http://\([^/]*\)/metrics.*|,\1=\2|p' <<<"$banner" | tr -d '\n')
admins+=$(sed -n 's|^ *\(edge[0-9]*\) .*admin http://\([^/]*\)/metrics.*|,\1=\2|p' <<<"$banner" | tr -d '\n')
edge_quic=$(sed -n 's|^ *edge[0-9]* *quic://\([^ ]*\) .*|\1|p' <<<"$banner" | paste -sd,)
edge_tcp=$(sed -n 's|^ *edge[0-9]* .*tcp://\([^ ]*\) .*|\1|p' <<<"$banner" | paste -sd,)
if [ -z "$api" ] || [ -z "$edge_quic" ] || [ -z "$edge_tcp" ]; then
	echo "cluster.sh: could not read the addresses from the banner:" >&2
	echo "$banner" >&2
	exit 1
fi
# Kafka and Redis run the same work as the quicpush processes: their CPU is
# measured from /proc as part of the server's.
pids=""
if kafka=$(pgrep -P "$dc_pid" -x java); then pids+="kafka=$kafka"; fi
if redis=$(pgrep -P "$dc_pid" -x redis-server); then pids+="${pids:+,}redis=$redis"; fi
echo "api $api; edges quic $edge_quic, tcp $edge_tcp; admin $admins; $pids" >&2

# run OUT LOADGEN-FLAGS... runs loadgen in the background (so that a signal
# reaches the trap at once), bounded by RUN_TIMEOUT, into OUT.
run() {
	local out=$1
	shift
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	timeout --signal=TERM --kill-after=10s "$run_timeout" \
		perf/out/loadgen run --scenario goim-room --conns "$conns" --warmup "$warmup" --duration "$duration" \
		--gen-cpus "$gen_cpus" --server-rev "$rev" --quiet-wait "$quiet_wait" --retries "$retries" \
		"$@" ${EXTRA:-} >"$out.new" &
	lg_pid=$!
	if wait "$lg_pid"; then
		mv "$out.new" "$out"
	else
		echo "!!! $out failed" >&2
		rm -f "$out.new"
	fi
	lg_pid=""
}

first=true
for t in $transports; do
	for r in $rates; do
		$first || sleep "$pause"
		first=false
		echo "--- cluster, goim-room on $t: $conns connections over $edges edges, $r pushes/s" >&2
		run "$results/goim-room-$t-$r.json" --transport "$t" --rate "$r" \
			--api "$api" --edge-quic "$edge_quic" --edge-tcp "$edge_tcp" --dev-dir "$tmp/dev" \
			--server-admin "$admins" --server-pid "$pids" --label "cluster: $cores core(s), $edges edges, Kafka, Redis"
		if ! kill -0 "$dc_pid" 2>/dev/null; then
			echo "cluster.sh: the cluster stopped during the run" >&2
			exit 1
		fi
	done
done
stop_cluster

if [ "$mode" = compare ]; then
	# The same runs against one process with the in-process bus; loadgen
	# spawns it on free ports and stops it after each run.
	for t in $transports; do
		for r in $rates; do
			echo "--- single process, goim-room on $t: $conns connections, $r pushes/s" >&2
			run "$results/single-$t-$r.json" --spawn --server-bin "$quicpush_bin" --transport "$t" --rate "$r" \
				--server-flag=--admin-addr=127.0.0.1:0 --label "single process, unpinned"
		done
	done
fi

echo >&2
perf/out/loadgen table "$results"/goim-room-*.json
if [ "$mode" = compare ]; then
	echo
	perf/out/loadgen table "$results"/single-*.json
fi
echo >&2
echo "Measured $(date -u '+%F %H:%M') UTC on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), server at $rev, in $(($(date +%s) - started)) s: $results" >&2
