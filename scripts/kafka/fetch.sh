#!/usr/bin/env bash
# Fetch the jars of a single-node Apache Kafka broker (KRaft) into a cache
# directory and print that directory on stdout. internal/localkafka runs the
# broker from it with `java -cp 'DIR/*'`; no Docker and no Kafka tarball.
#
#   scripts/kafka/fetch.sh            # -> $REPO/.cache/kafka-<version>/libs
#   QUICPUSH_KAFKA_LIBS=/x scripts/kafka/fetch.sh
#
# Idempotent: a finished download leaves a marker file naming the Kafka version
# and a hash of pom.xml, and a later run with the same pom does nothing. The
# jars are copied into a staging directory first and only moved into place once
# Maven succeeded, so an interrupted run is simply redone next time.
#
# Needs: java (17+) and mvn (3.6.3+). Maven resolves from its default
# repository (or whatever ~/.m2/settings.xml says).
set -euo pipefail

die() {
	printf 'scripts/kafka/fetch.sh: %s\n' "$*" >&2
	exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
[[ -f $pom ]] || die "missing $pom"

command -v java >/dev/null 2>&1 ||
	die "java not found on PATH; Kafka needs Java 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
command -v mvn >/dev/null 2>&1 ||
	die "mvn not found on PATH; install Apache Maven 3.6.3+ (Debian: apt-get install -y maven)"

# The version lives in pom.xml only; the cache path follows it so that a bump
# never reuses old jars. internal/localkafka has the same default path.
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)"
[[ -n $version ]] || die "cannot read <kafka.version> from $pom"

dir="${QUICPUSH_KAFKA_LIBS:-$repo/.cache/kafka-$version/libs}"
marker_name=".quicpush-fetch-complete"
want="kafka_2.13 $version pom-sha256 $(sha256sum "$pom" | cut -d' ' -f1)"

complete() {
	[[ -f $1/$marker_name ]] && [[ "$(cat "$1/$marker_name")" == "$want" ]]
}

if complete "$dir"; then
	printf '%s\n' "$dir"
	exit 0
fi

parent="$(dirname "$dir")"
mkdir -p "$parent"
parent="$(cd "$parent" && pwd)"
dir="$parent/$(basename "$dir")"

# Two concurrent runs (say, `make cluster` and a test run) must not interleave
# in the staging directory.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$parent/.$(basename "$dir").lock"
	flock 9
	if complete "$dir"; then
		printf '%s\n' "$dir"
		exit 0
	fi
fi

# Replace an old or incomplete directory, but only if it holds nothing but
# what this script puts there: QUICPUSH_KAFKA_LIBS may point anywhere.
# Checked before downloading so that a refusal costs nothing.
if [[ -e $dir ]]; then
	[[ -d $dir ]] || die "$dir exists and is not a directory"
	if find "$dir" -mindepth 1 -maxdepth 1 ! -name '*.jar' ! -name "$marker_name" | grep -q .; then
		die "$dir holds files other than jars; refusing to replace it (remove it, or point QUICPUSH_KAFKA_LIBS elsewhere)"
	fi
fi

staging="$parent/.$(basename "$dir").partial"
rm -rf "$staging"
mkdir -p "$staging"
# An interrupted or failed run leaves no staging directory behind (and the
# next run would clear it anyway). After the final mv this removes nothing.
trap 'rm -rf "$staging"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

printf 'scripts/kafka/fetch.sh: fetching Kafka %s jars into %s\n' "$version" "$dir" >&2
# copy-dependencies on a pom-packaged project writes nothing but the jars.
if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$staging" >&2; then
	die "mvn failed to fetch the Kafka jars (see its output above); check that Maven can reach its repository"
fi
ls "$staging"/kafka_2.13-"$version".jar >/dev/null 2>&1 ||
	die "mvn succeeded but $staging has no kafka_2.13-$version.jar"
printf '%s\n' "$want" >"$staging/$marker_name"

# The check above ran under the lock, so $dir still holds only our files.
rm -rf "$dir"
mv "$staging" "$dir"
printf '%s\n' "$dir"
