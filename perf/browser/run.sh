#!/usr/bin/env bash
# Browser fan-out check: builds perf/out/quicpush, then runs run.mjs (50
# clients of the real browser client in headless Chromium over WebTransport,
# one room, 20 pushes/s for 10 s) and appends its JSON line to
# perf/browser/results/<date>.json. Arguments go to run.mjs (--mode,
# --clients, --rate, --duration, --warmup, --quiet-wait; see README.md).
# A run during which other processes took more than 0.2 cores is repeated,
# RETRIES times at most (default 2); every line is kept, marked "disturbed".
# Needs Go, Node, /usr/bin/chromium (or $CHROMIUM) and clients/js's npm
# packages (installed here with `npm ci` when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || { echo "chromium is missing: apt-get install chromium" >&2; exit 1; }
if [ ! -d clients/js/node_modules/playwright-core ] || [ ! -d clients/js/node_modules/@connectrpc/connect-node ]; then
	(cd clients/js && npm ci --no-audit --no-fund)
fi
mkdir -p perf/out perf/browser/results
echo "building perf/out/quicpush" >&2
go build -o perf/out/quicpush ./cmd/quicpush

out=perf/browser/results/$(date -u +%F).json
retries=${RETRIES:-2}
for ((attempt = 0; ; attempt++)); do
	status=0
	line=$(timeout --kill-after=10 900 node perf/browser/run.mjs --bin perf/out/quicpush "$@") || status=$?
	[ -n "$line" ] && echo "$line" >>"$out" && echo "appended to $out" >&2
	case $line in
	*'"disturbed":true'*) ((attempt < retries)) && { echo "disturbed by other processes: running again" >&2; continue; } ;;
	esac
	exit "$status"
done
