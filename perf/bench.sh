#!/usr/bin/env bash
# Runs the quicpush load benchmark on all four transports: builds the server
# and the load generator into perf/out/, runs one bounded measurement per
# transport and push rate (each against a freshly spawned server), appends
# one JSON line per run to perf/results/<date>[-large|-xl]-<transport>.json and
# prints the runs as a Markdown table. See perf/README.md.
#
#   perf/bench.sh            the small suite: 2,000 connections, 40 and 200 pushes/s, ~3 minutes
#   perf/bench.sh large      10,000 TCP/WebSocket and 5,000 QUIC/WebTransport connections, 40 pushes/s
#   perf/bench.sh xl         19,000 TCP/WebSocket connections at 40 pushes/s, 10,000 QUIC/WebTransport
#                            connections at 5 pushes/s
#
# Environment overrides: TRANSPORTS, RATES, CONNS (all transports), DURATION,
# WARMUP, PAYLOAD, SERVER_CPUS (default 0), GEN_CPUS (default 1; both empty
# to let the scheduler place them), QUIET_WAIT (default 120s: how long each
# run waits for other processes to leave the CPUs idle), RETRIES (default 2:
# how often a run disturbed by other processes is repeated), EXTRA (more
# loadgen flags).
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-small}
case $suite in
small) stream_conns=2000 quic_conns=2000 stream_rates="40 200" quic_rates="40 200" tag="" ;;
large) stream_conns=10000 quic_conns=5000 stream_rates="40" quic_rates="40" tag="-large" ;;
xl) stream_conns=19000 quic_conns=10000 stream_rates="40" quic_rates="5" tag="-xl" ;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac
transports=${TRANSPORTS:-tcp ws quic webtransport}
duration=${DURATION:-10s}
warmup=${WARMUP:-3s}
payload=${PAYLOAD:-0}
quiet_wait=${QUIET_WAIT:-120s}
retries=${RETRIES:-2}
if [ "$(nproc)" -ge 2 ]; then
	server_cpus=${SERVER_CPUS-0}
	gen_cpus=${GEN_CPUS-1}
else
	server_cpus=${SERVER_CPUS-} gen_cpus=${GEN_CPUS-}
fi

mkdir -p perf/out perf/results
echo "building perf/out/quicpush and perf/out/loadgen" >&2
go build -o perf/out/quicpush ./cmd/quicpush
go build -o perf/out/loadgen ./perf/loadgen

date=$(date -u +%F)
rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for t in $transports; do
	conns=$stream_conns rates=$stream_rates
	case $t in quic | webtransport) conns=$quic_conns rates=$quic_rates ;; esac
	conns=${CONNS:-$conns}
	for r in ${RATES:-$rates}; do
		echo "--- $t: $conns connections, $r pushes/s for $duration" >&2
		# --admin-addr gives loadgen pprof, to measure the live heap after a GC.
		# shellcheck disable=SC2086 # EXTRA is a list of flags
		perf/out/loadgen --spawn --server-cpus "$server_cpus" --gen-cpus "$gen_cpus" \
			--server-flag=--admin-addr=127.0.0.1:0 \
			--transport "$t" --conns "$conns" --rate "$r" --duration "$duration" --warmup "$warmup" \
			--payload "$payload" --label "$suite" --server-rev "$rev" \
			--quiet-wait "$quiet_wait" --retries "$retries" ${EXTRA:-} |
			tee -a "perf/results/$date$tag-$t.json" >>"$runs"
	done
done
echo >&2
echo "Measured $(date -u '+%F %H:%M') UTC on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), server on CPU ${server_cpus:-any}, generator on CPU ${gen_cpus:-any}, server at $rev:"
echo
perf/out/loadgen table "$runs"
