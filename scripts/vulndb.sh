#!/usr/bin/env bash
# Build an offline Go vulnerability database for govulncheck and print its
# directory on stdout. `make vulncheck` runs:
#
#   govulncheck -db "file://$(scripts/vulndb.sh)" ./...
#
# vuln.go.dev is not reachable from CI or the development machines; the Go
# module proxy is, and it serves golang.org/x/vulndb, whose data/osv/ holds
# every Go vulnerability report as an OSV JSON file. This script fetches the
# pinned version below with `go mod download` (verified against the checksum
# database like any module) and runs that same version's cmd/indexdb, the Go
# team's tool that writes the v1 database layout govulncheck reads:
# index/db.json, index/modules.json, index/vulns.json and ID/<GO-ID>.json (each
# with a .gz twin).
#
# FRESHNESS: the database is exactly as fresh as VULNDB_VERSION. It is a
# pseudo-version whose timestamp is the vulndb commit's date; anything
# published after it is unknown to `make vulncheck`. To bump it (do it
# regularly, and before a release):
#
#   go list -m golang.org/x/vulndb@latest     # prints the newest version served
#   # set VULNDB_VERSION below to it, then:
#   make vulncheck
#
# Idempotent: a finished build leaves a VERSION file naming the vulndb version
# next to the database, and a later run with the same version does nothing. The
# database is built in a staging directory and only moved into place once
# complete, so an interrupted run is simply redone next time.
#
#   scripts/vulndb.sh                     # -> $REPO/.cache/vulndb
#   VULNDB_VERSION=v0.0.0-... scripts/vulndb.sh   # try another version
#
# Needs: go, gzip, and the Go module proxy (or the version in the module
# cache). The first run downloads about 70 MB and builds indexdb (half a
# minute).
set -euo pipefail

VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"

die() {
	printf 'scripts/vulndb.sh: %s\n' "$*" >&2
	exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="$repo/.cache"
out="$cache/vulndb"
marker="$out/VERSION"

command -v go >/dev/null 2>&1 || die "go not found on PATH"
cd "$repo"
[[ $VULNDB_VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
	die "VULNDB_VERSION=$VULNDB_VERSION is not a module version"

if [[ -f $marker && "$(<"$marker")" == "golang.org/x/vulndb@$VULNDB_VERSION" &&
	-f $out/index/db.json && -f $out/index/modules.json && -d $out/ID ]]; then
	printf '%s\n' "$out"
	exit 0
fi

echo "scripts/vulndb.sh: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
# The module's directory in the module cache (read-only). `go mod download`
# with an explicit version fetches and verifies it, or finds it already there;
# it leaves go.mod and go.sum alone.
src="$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n $src && -d $src/data/osv ]] ||
	die "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv directory (go mod download failed?)"

mkdir -p "$cache"
stage="$(mktemp -d "$cache/vulndb.tmp.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# `go run pkg@version` builds indexdb from the same vulndb version, in module
# mode against vulndb's own go.mod, whatever directory it is run from.
go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$stage/db" >&2
[[ -f $stage/db/index/db.json && -f $stage/db/index/modules.json && -d $stage/db/ID ]] ||
	die "indexdb did not write index/db.json, index/modules.json and ID/"
# data/osv leaves every entry's "modified" date empty (the deployed database
# fills them in from git history), so index/db.json would say 0001-01-01. Date
# it with the vulndb commit's time from the pseudo-version instead, so that
# `govulncheck -version -db ...` prints "DB updated:" as of the pinned commit.
if [[ $VULNDB_VERSION =~ -(20[0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})-[0-9a-f]{12}$ ]]; then
	m=("${BASH_REMATCH[@]}")
	printf '{"modified":"%s-%s-%sT%s:%s:%sZ"}' "${m[1]}" "${m[2]}" "${m[3]}" "${m[4]}" "${m[5]}" "${m[6]}" >"$stage/db/index/db.json"
	gzip -9 -n -c "$stage/db/index/db.json" >"$stage/db/index/db.json.gz"
fi
printf 'golang.org/x/vulndb@%s\n' "$VULNDB_VERSION" >"$stage/db/VERSION"

rm -rf "$out"
mv "$stage/db" "$out"
echo "scripts/vulndb.sh: $(find "$out/ID" -name '*.json' | wc -l) entries in $out" >&2
printf '%s\n' "$out"
