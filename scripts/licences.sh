#!/usr/bin/env bash
# Lists the licence of every shipped dependency and fails on one that the
# policy (scripts/licences.txt, which says what is checked and why) does not
# allow. Go: go-licenses (pinned in tools/go.mod) classifies the licence files
# of the modules in the module cache, so this runs offline once the modules
# are downloaded (go mod download in the root module and perf/). npm:
# scripts/licences-npm.mjs reads the licences package-lock.json records, so it
# needs no node_modules.
#
# The environment can point it elsewhere (scripts/licences-test.sh does):
#   LICENCES_POLICY    the policy file (scripts/licences.txt)
#   LICENCES_GO_DIRS   Go module directories, space-separated (". perf")
#   LICENCES_NPM_LOCKS package-lock.json files, space-separated
#                      (clients/js/package-lock.json)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
policy="${LICENCES_POLICY:-$root/scripts/licences.txt}"
go_dirs="${LICENCES_GO_DIRS-$root $root/perf}"
npm_locks="${LICENCES_NPM_LOCKS-$root/clients/js/package-lock.json}"
go_licenses=(go tool -modfile="$root/tools/go.mod" go-licenses)

# verdict LICENCE: "ok", or "FAIL (denied: reason)" / "FAIL (not in the policy)".
verdict() {
	awk -v lic="$1" '
		$1 == "allow" && $2 == lic { ok = 1 }
		$1 == "deny" && $2 == lic { $1 = ""; $2 = ""; sub(/^ +/, ""); why = $0 }
		END {
			if (why != "") print "FAIL (denied: " why ")"
			else if (ok) print "ok"
			else print "FAIL (not in the policy)"
		}' "$policy"
}

# override PACKAGE: the licence a module line of the policy states for the
# module PACKAGE is in (longest matching path), or nothing. It replaces a
# classification that is not allowed (Unknown, or one side of a dual licence).
override() {
	awk -v pkg="$1" '
		$1 == "module" && (pkg == $2 || index(pkg, $2 "/") == 1) && length($2) > best { best = length($2); lic = $3 }
		END { if (lic != "") print lic }' "$policy"
}

# Our own modules are ours (LICENSE): not listed, their dependencies still
# walked.
ignore=()
for dir in $go_dirs; do
	ignore+=(--ignore "$(cd "$dir" && go list -m)")
done

failed=0
for dir in $go_dirs; do
	echo "== Go: packages linked by $(cd "$dir" && go list -m) (go-licenses report ./...)"
	csv="$(mktemp)"
	# go-licenses writes its progress and the licences it cannot identify to
	# stderr: those show as Unknown in the report, which the policy judges.
	if ! (cd "$dir" && "${go_licenses[@]}" report "${ignore[@]}" ./... >"$csv" 2>"$csv.err"); then
		cat "$csv.err" >&2
		rm -f "$csv" "$csv.err"
		echo "licences: go-licenses failed in $dir"
		exit 1
	fi
	while IFS=, read -r pkg _ lic; do
		note=""
		v="$(verdict "$lic")"
		if [[ $v != ok ]] && o="$(override "$pkg")" && [[ -n $o ]]; then
			lic="$o"
			note=" (stated in the policy)"
			v="$(verdict "$lic")"
		fi
		printf '  %-70s %-14s %s%s\n' "$pkg" "$lic" "$v" "$note"
		[[ $v == ok ]] || failed=1
	done < <(sort -u "$csv")
	rm -f "$csv" "$csv.err"
done

for lock in $npm_locks; do
	echo "== npm: packages $lock ships (dependencies, peer dependencies; dev dependencies listed, not enforced)"
	node "$root/scripts/licences-npm.mjs" "$policy" "$lock" || failed=1
done

if ((failed)); then
	echo "licences: FAIL: a dependency's licence is denied or not in $policy (see the lines marked FAIL)"
	exit 1
fi
echo "licences: ok"
