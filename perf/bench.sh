#!/usr/bin/env bash
# Runs quicpush's load scenarios on all four transports: builds the server
# and the load generator into perf/out/, runs each scenario on each transport
# against a freshly spawned server, writes one JSON line per run to
# perf/results/<date>/<scenario>-<transport>.json (replacing an earlier run
# of the same pair that day) with the server's CPU and heap profiles beside
# it (<scenario>-<transport>.{cpu,heap}.pprof and their `pprof -top` text),
# then report.md and PNG plots (`loadgen report`). See perf/README.md.
#
#   perf/bench.sh        the suite: idle, goim-room, saturation, many-rooms, churn and
#                        resume-storm at small scales on tcp, ws, quic and webtransport; under
#                        10 minutes on 2 cores
#   perf/bench.sh xl     goim-room with 20,000 TCP and WebSocket connections (2 generator
#                        processes) and 10,000 QUIC and WebTransport connections, into
#                        perf/results/<date>/xl/; about 5 minutes
#   perf/bench.sh history  the cost of room history: goim-room (2,000 connections, 40 and
#                        200 pushes/s) and saturation on tcp and quic, each with history (the
#                        default) and without (--history-size=-1 --user-history-size=-1),
#                        into perf/results/<date>/history/; about 6 minutes
#   perf/bench.sh resume   reconnect storm: resume-storm, one room, cut for 2 s, then every
#                        client reconnecting with its positions: 10,000 TCP at 10 pushes/s
#                        all at once; 5,000 QUIC at 5 pushes/s all at once and 256 at a time;
#                        10,000 QUIC at 2 pushes/s all at once; into
#                        perf/results/<date>/resume/; about 5 minutes
#   perf/bench.sh goim     goim's own shape: goim-room, 10,000 connections in one room, 40
#                        pushes/s of a 34-byte payload for 20 s, RUNS (default 2) runs on each
#                        transport, BUDGET (if set) passed as the server's --write-budget; into
#                        perf/results/<date>/goim/; about 7 minutes
#   perf/bench.sh mobile   loadgen mobile: 1,000 QUIC and 1,000 TCP clients through the network lab
#                        (50 ms RTT, 0/1/5% loss, every client moving every 30 s: QUIC by migration,
#                        with and without the write policy, then by NAT rebinding, again with a 2 s
#                        QUIC keep-alive), 200 QUIC clients with 4-byte connection IDs, and the
#                        head-of-line measurement; into perf/results/<date>/mobile/; about 30 minutes
#   perf/bench.sh frontier  the same shape once per write budget in BUDGETS (default "0 50ms
#                        100ms 200ms 350ms 500ms"; empty: one run at the server's default) on
#                        each transport, labelled with the budget; into
#                        perf/results/<date>/frontier/ with frontier.png and frontier.md
#                        (`loadgen frontier`); about 20 minutes
#
# Result files are <scenario>-<transport>.json, with the variant appended
# where a suite runs several per pair (history: -<rate>-on / -<rate>-off;
# resume: -<N>k[-r<pushes/s>][-c<reconnects at once>]; goim: -r<run>;
# frontier: -<budget>, or -default).
#
# Environment overrides: TRANSPORTS, SCENARIOS, RESULTS (the output folder),
# SERVER_CPUS (default 0), GEN_CPUS (default 1; both empty to let the
# scheduler place them), QUIET_WAIT (default 2s: how long each run waits for
# other processes to leave the CPUs idle), RETRIES (default 0: how often a
# run disturbed by other processes is repeated), EXTRA (more loadgen flags
# for every run), PROFILE_KEEP (scenario:transport[:variant] keys, prefixed
# with <suite>/ outside the default suite, whose binary
# profiles are kept; the others keep only their `pprof -top` text, which
# holds the suite's files to a few hundred KB; "all" keeps every one).
# goim and frontier also take CONNS (default 10000), RATE (40), DURATION
# (20s), RUNS, BUDGET and BUDGETS (above); DRY_RUN=1 prints every suite's
# loadgen commands without building or running anything.
set -euo pipefail
export GOTOOLCHAIN=auto # the toolchain go.mod names (see the Makefile)
cd "$(dirname "$0")/.."

suite=${1:-all}
date=$(date -u +%F)
transports=${TRANSPORTS:-tcp ws quic webtransport}
case $suite in
all)
	scenarios=${SCENARIOS:-idle goim-room saturation many-rooms churn resume-storm}
	results=${RESULTS:-perf/results/$date}
	;;
xl)
	scenarios=${SCENARIOS:-goim-room}
	results=${RESULTS:-perf/results/$date/xl}
	;;
history)
	scenarios=${SCENARIOS:-goim-room saturation}
	results=${RESULTS:-perf/results/$date/history}
	transports=${TRANSPORTS:-tcp quic}
	;;
resume)
	scenarios=${SCENARIOS:-resume-storm}
	results=${RESULTS:-perf/results/$date/resume}
	transports=${TRANSPORTS:-tcp quic}
	;;
goim)
	scenarios=${SCENARIOS:-goim-room}
	results=${RESULTS:-perf/results/$date/goim}
	;;
frontier)
	scenarios=${SCENARIOS:-goim-room}
	results=${RESULTS:-perf/results/$date/frontier}
	;;
mobile)
	results=${RESULTS:-perf/results/$date/mobile}
	;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac
profile_keep=${PROFILE_KEEP:-idle:webtransport goim-room:tcp saturation:ws many-rooms:quic churn:quic resume-storm:tcp xl/goim-room:tcp history/goim-room:tcp:200-on history/goim-room:tcp:200-off resume/resume-storm:tcp:10k resume/resume-storm:quic:5k-r5 goim/goim-room:tcp:r1 frontier/goim-room:tcp:0 frontier/goim-room:tcp:350ms}
quiet_wait=${QUIET_WAIT:-2s}
retries=${RETRIES:-0}
dry_run=${DRY_RUN:-}
if [ "$(nproc)" -ge 2 ]; then
	server_cpus=${SERVER_CPUS-0}
	gen_cpus=${GEN_CPUS-1}
else
	server_cpus=${SERVER_CPUS-} gen_cpus=${GEN_CPUS-}
fi

# goim's shape, for the goim and frontier suites: 10,000 connections in one
# room, 40 pushes/s for 20 s, and a 34-byte payload ({"test":1,"t":<19
# digits>} unpadded; --payload 34 records the size in the result).
goim_conns=${CONNS:-10000}
goim_rate=${RATE:-40}
goim_duration=${DURATION:-20s}
runs=${RUNS:-2}
budget=${BUDGET:-}
budgets=${BUDGETS-0 50ms 100ms 200ms 350ms 500ms}

# secs DURATION prints a Go duration of whole seconds or minutes in seconds
# (anything else counts as 20).
secs() {
	case $1 in
	*ms) echo 0 ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*) echo 20 ;;
	esac
}

started=$(date +%s)
if [ -z "$dry_run" ]; then
	mkdir -p perf/out "$results"
	echo "building perf/out/quicpush and perf/out/loadgen" >&2
	go build -o perf/out/quicpush ./cmd/quicpush
	# perf/ is a module of its own (perf/go.mod): the generator is built from there.
	(cd perf && go build -o out/loadgen ./loadgen)
fi

# The revision of the tree the server was built from; a dirty tree gets a
# hash of its diff, so that two runs of different uncommitted code differ.
rev=unknown
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	rev=$(git rev-parse --short HEAD)
	if ! git diff --quiet HEAD --; then
		rev="$rev-dirty-$(git diff HEAD -- | sha1sum | cut -c1-8)"
	fi
fi

# The mobile suite is loadgen's own command, which runs both transports and
# every loss rate itself and writes its JSON, table and plot.
if [ "$suite" = mobile ]; then
	mobile_cmds=(
		"mobile --quic 1000 --tcp 1000 --rate 5 --loss 0,0.01,0.05 --duration 75s --drain 20s --out $results/migrate"
		"mobile --quic 1000 --tcp 1000 --rate 5 --loss 0,0.01,0.05 --duration 75s --drain 20s --server-flag=--write-budget=0 --out $results/migrate-nobudget"
		"mobile --quic 1000 --tcp 1000 --rate 5 --loss 0,0.01,0.05 --duration 75s --drain 20s --quic-move rebind --out $results"
		"mobile --quic 1000 --tcp 1000 --rate 5 --loss 0,0.01,0.05 --duration 75s --drain 20s --quic-move rebind --quic-keepalive 2s --out $results/keepalive-both"
		"mobile --quic 200 --tcp 0 --rate 5 --loss 0 --duration 75s --drain 20s --quic-move rebind --quic-cid 4 --out $results/cid4"
		"mobile --hol --quic 40 --tcp 40 --loss 0,0.01,0.05 --duration 45s --server-flag=--write-budget=0 --out $results/hol-small"
	)
	for m in "${mobile_cmds[@]}"; do
		if [ -n "$dry_run" ]; then
			echo "perf/out/loadgen $m"
			continue
		fi
		echo "== loadgen $m ($(uptime))" >&2
		# shellcheck disable=SC2086 # the flags are split on purpose
		perf/out/loadgen $m --label "$rev" >/dev/null
		uptime >&2
	done
	exit 0
fi

# variants SCENARIO TRANSPORT lists the runs of one pair in the suite: "-"
# for a single run, else tags appended to the result's name.
variants() {
	local s=$1 t=$2
	case $suite/$s/$t in
	history/goim-room/*) echo 40-on 40-off 200-on 200-off ;;
	history/*) echo on off ;;
	resume/*/quic | resume/*/webtransport) echo 5k-r5 5k-r5-c256 10k-r2 ;;
	resume/*) echo 10k ;;
	goim/*) seq -f 'r%g' 1 "$runs" ;;
	frontier/*) if [ -n "$budgets" ]; then echo "$budgets"; else echo default; fi ;;
	*) echo - ;;
	esac
}

# The server flags that turn room and user history off (kong takes a
# negative value only as --flag=-1).
no_history="--server-flag=--history-size=-1 --server-flag=--user-history-size=-1"

# args SCENARIO TRANSPORT VARIANT prints the loadgen flags of one run of the
# suite.
args() {
	local s=$1 t=$2 v=$3 quic=false
	case $t in quic | webtransport) quic=true ;; esac
	case $v in *-off | off) echo "$no_history" ;; esac
	case $suite/$s in
	all/idle)
		if $quic; then echo --conns 1000; else echo --conns 2000; fi
		;;
	all/goim-room)
		echo --conns 1000 --rate 100 --warmup 2s --duration 5s
		;;
	all/saturation)
		# The fan-out target allows up to 10 ms of merge delay.
		echo --conns 1000 --rate 50 --sat-step 2s --server-flag=--merge-window=10ms
		;;
	all/many-rooms)
		echo --conns 1000 --rate 1000 --warmup 2s --duration 10s --group-size 10 --churn-per-min 0.10
		;;
	all/churn)
		# Short-lived TCP connections leave TIME_WAIT behind on the client
		# side: each transport gets its own 48 source addresses.
		case $t in
		tcp) echo --duration 5s --parallel 32 --sources 48 --source-base 100 ;;
		ws) echo --duration 5s --parallel 32 --sources 48 --source-base 150 ;;
		*) echo --duration 5s --parallel 32 ;;
		esac
		;;
	all/resume-storm)
		echo --conns 1000 --rate 10 --warmup 1s --duration 2s --gap 1s --drain 5s
		;;
	history/goim-room)
		echo --conns 2000 --rate "${v%-*}" --warmup 3s --duration 10s
		;;
	history/saturation)
		# As the default suite's saturation, for comparison with it.
		echo --conns 1000 --rate 50 --sat-step 2s --server-flag=--merge-window=10ms
		;;
	resume/resume-storm)
		# <N>k clients at 10 pushes/s, or <R> with -r<R>, all reconnecting
		# at once, or <K> at a time with -c<K>. QUIC connects 128 at a
		# time first (not measured here).
		local part rate=10
		for part in ${v//-/ }; do
			case $part in
			*k) echo --conns "${part%k}000" ;;
			r*) rate=${part#r} ;;
			c*) echo --storm-concurrency "${part#c}" ;;
			esac
		done
		echo --rate "$rate" --warmup 2s --duration 3s --gap 2s --drain 10s --storm-timeout 60s
		if $quic; then echo --dial-concurrency 128; fi
		;;
	goim/* | frontier/*)
		echo --conns "$goim_conns" --rate "$goim_rate" --warmup 3s --duration "$goim_duration" --payload 34
		# QUIC handshakes cost the server's single core most: 128 at once
		# as in xl.
		if $quic; then echo --dial-concurrency 128; fi
		if [ "$suite" = frontier ] && [ "$v" != default ]; then
			echo "--server-flag=--write-budget=$v"
		elif [ "$suite" = goim ] && [ -n "$budget" ]; then
			echo "--server-flag=--write-budget=$budget"
		fi
		;;
	xl/*)
		if $quic; then
			echo --conns 10000 --rate 5 --warmup 3s --duration 10s --dial-concurrency 128
		else
			echo --conns 20000 --workers 2 --rate 40 --warmup 3s --duration 10s
		fi
		;;
	esac
}

# The goim and frontier suites are long: say up front how long. Each run
# spends about 30 s besides its measured window (spawning, 10,000
# connections, settling, warmup, drain, profiles).
case $suite in
goim | frontier)
	n=0
	for s in $scenarios; do
		for t in $transports; do
			for v in $(variants "$s" "$t"); do n=$((n + 1)); done
		done
	done
	per=$((30 + $(secs "$goim_duration") + $(secs "$quiet_wait")))
	echo "$suite: $n runs of about $per s each: about $(((n * per + 59) / 60)) minutes" >&2
	;;
esac

# label SCENARIO TRANSPORT VARIANT is the run's --label: the suite's name,
# or in frontier the write budget (what its plot labels each point with).
label() {
	case $suite in
	frontier) echo "$3" ;;
	goim) echo "goim${budget:+ budget=$budget}" ;;
	*) echo "$suite" ;;
	esac
}

for s in $scenarios; do
	for t in $transports; do
		for v in $(variants "$s" "$t"); do
			if [ "$v" = - ]; then v=; fi
			base="$results/$s-$t${v:+-$v}"
			echo "--- $s on $t${v:+ ($v)}: $(args "$s" "$t" "$v" | paste -sd " ")" >&2
			# --admin-addr gives loadgen pprof: the live heap after a GC and
			# the profiles.
			# shellcheck disable=SC2046,SC2206 # args and EXTRA are lists of flags
			cmd=(perf/out/loadgen run --spawn --server-cpus "$server_cpus" --gen-cpus "$gen_cpus"
				--server-flag=--admin-addr=127.0.0.1:0 --scenario "$s" --transport "$t" $(args "$s" "$t" "$v")
				--label "$(label "$s" "$t" "$v")" --server-rev "$rev" --quiet-wait "$quiet_wait" --retries "$retries"
				--cpu-profile "$base.cpu.pprof" --heap-profile "$base.heap.pprof" ${EXTRA:-})
			if [ -n "$dry_run" ]; then
				printf '%q ' "${cmd[@]}"
				echo ">$base.json"
				continue
			fi
			rm -f "$base.cpu.pprof" "$base.heap.pprof" "$base".*.top.txt
			if ! "${cmd[@]}" >"$base.json.new"; then
				echo "!!! $s on $t${v:+ ($v)} failed" >&2
				rm -f "$base.json.new"
				continue
			fi
			mv "$base.json.new" "$base.json"
			for p in "$base.cpu.pprof" "$base.heap.pprof"; do
				if [ -s "$p" ]; then
					go tool pprof -top -nodecount=20 perf/out/quicpush "$p" >"$p.top.txt" 2>/dev/null || true
				fi
			done
			key=$s:$t${v:+:$v}
			[ "$suite" = all ] || key=$suite/$key
			case " $profile_keep " in
			*" all "* | *" $key "*) ;;
			*) rm -f "$base.cpu.pprof" "$base.heap.pprof" ;;
			esac
		done
	done
done

if [ -n "$dry_run" ]; then
	exit 0
fi
perf/out/loadgen report "$results"
if [ "$suite" = frontier ]; then
	perf/out/loadgen frontier "$results" -o "$results/frontier.png"
fi
echo >&2
echo "Measured $(date -u '+%F %H:%M') UTC on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), server on CPU ${server_cpus:-any}, generator on CPU ${gen_cpus:-any}, server at $rev, in $(($(date +%s) - started)) s:" >&2
echo "$results/report.md" >&2
if [ "$suite" = frontier ]; then echo "$results/frontier.md" >&2; fi
# A suite whose profiles were all dropped has no *.pprof: du fails on the
# unmatched pattern but still prints the total of the rest.
{ du -ch "$results"/*.png "$results"/*.pprof 2>/dev/null || true; } | tail -1 | sed 's/total/ of plots and profiles/' >&2
