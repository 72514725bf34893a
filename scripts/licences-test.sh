#!/usr/bin/env bash
# Tests scripts/licences.sh on a scratch Go module and package-lock.json: an
# allowed dependency passes; a Go dependency under the GPL, a shipped npm
# package under the AGPL or with no licence fail; a dev dependency under the
# SSPL is listed and does not fail; a module line of the policy overrides the
# classifier. Offline: the Go dependency is a local replace. Run by
# `make lint-licences`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export LICENCES_POLICY="$root/scripts/licences.txt"
fails=0

# check NAME WANT(pass|fail) PATTERN: runs the checker with the LICENCES_*
# variables set by the caller, expects WANT and PATTERN in its output.
check() {
	local name="$1" want="$2" pattern="$3" got=pass
	local out="$tmp/$name.out"
	"$root/scripts/licences.sh" >"$out" 2>&1 || got=fail
	if [[ $got != "$want" ]] || ! grep -qE -- "$pattern" "$out"; then
		echo "FAIL $name: want $want with /$pattern/, got $got:"
		sed 's/^/    /' "$out"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

# A Go module importing one local library whose LICENSE is LIC_FILE.
go_module() {
	local dir="$1" lic_file="$2"
	mkdir -p "$dir/app" "$dir/lib"
	cat >"$dir/app/go.mod" <<'MOD'
module example.com/app

go 1.26

require example.com/lib v0.0.0

replace example.com/lib => ../lib
MOD
	printf 'package main\n\nimport "example.com/lib"\n\nfunc main() { lib.F() }\n' >"$dir/app/main.go"
	printf 'module example.com/lib\n\ngo 1.26\n' >"$dir/lib/go.mod"
	printf 'package lib\n\n// F does nothing.\nfunc F() {}\n' >"$dir/lib/lib.go"
	cp "$lic_file" "$dir/lib/LICENSE"
}

export LICENCES_NPM_LOCKS=""
go_module "$tmp/mit" "$(go env GOMODCACHE)/github.com/quic-go/quic-go@v0.64.1/LICENSE"
LICENCES_GO_DIRS="$tmp/mit/app" check go-mit pass 'example.com/lib +MIT +ok'
go_module "$tmp/gpl" /usr/share/common-licenses/GPL-3
LICENCES_GO_DIRS="$tmp/gpl/app" check go-gpl fail 'example.com/lib +GPL-3.0 +FAIL \(denied'
printf 'This library has terms of its own that no classifier knows.\n' >"$tmp/odd.txt"
go_module "$tmp/odd" "$tmp/odd.txt"
LICENCES_GO_DIRS="$tmp/odd/app" check go-unknown fail 'example.com/lib +Unknown +FAIL'
cp "$LICENCES_POLICY" "$tmp/policy.txt"
echo "module example.com/lib MIT the test states it" >>"$tmp/policy.txt"
LICENCES_POLICY="$tmp/policy.txt" LICENCES_GO_DIRS="$tmp/odd/app" check go-stated pass 'example.com/lib +MIT +ok \(stated'

# A lock shipping one package (a dependency of the root) with licence $1 and
# with a dev dependency under the SSPL.
npm_lock() {
	cat <<LOCK
{
  "name": "t", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": { "name": "t", "dependencies": { "a": "1.0.0" }, "devDependencies": { "d": "1.0.0" } },
    "node_modules/a": { "version": "1.0.0", "dependencies": { "b": "1.0.0" }, $1 },
    "node_modules/a/node_modules/b": { "version": "1.0.0", "license": "ISC" },
    "node_modules/d": { "version": "1.0.0", "dev": true, "license": "SSPL-1.0" }
  }
}
LOCK
}
export LICENCES_GO_DIRS=""
npm_lock '"license": "(MIT OR GPL-3.0)"' >"$tmp/ok.json"
LICENCES_NPM_LOCKS="$tmp/ok.json" check npm-ok pass 'b@1.0.0 +ISC +ok'
npm_lock '"license": "AGPL-3.0"' >"$tmp/agpl.json"
LICENCES_NPM_LOCKS="$tmp/agpl.json" check npm-agpl fail 'a@1.0.0 +AGPL-3.0 +FAIL \(denied'
npm_lock '"license": "MIT AND GPL-2.0"' >"$tmp/and.json"
LICENCES_NPM_LOCKS="$tmp/and.json" check npm-and-gpl fail 'a@1.0.0 +MIT AND GPL-2.0 +FAIL'
npm_lock '"private": false' >"$tmp/none.json"
LICENCES_NPM_LOCKS="$tmp/none.json" check npm-none fail 'a@1.0.0 +Unknown +FAIL'
LICENCES_NPM_LOCKS="$tmp/ok.json" check npm-dev-listed pass 'd@1.0.0 +SSPL-1.0 +not enforced'

if ((fails)); then
	echo "licences-test: $fails failed"
	exit 1
fi
echo "licences-test: ok"
