#!/usr/bin/env bash
# Installs the Debian packages the tests call, so that `make test` works on a
# fresh machine with Go (and Node for the browser client):
#
#   go   curl (JSON pushes in the end-to-end tests), git, redis-server
#        (cluster mode's route store), Java and Maven (a real Apache Kafka
#        broker, its jars fetched from Maven Central by scripts/kafka/fetch.sh)
#   js   chromium (the browser client's end-to-end tests; never a downloaded
#        browser)
#   java a JDK (javac) and Maven for the Android/JVM client (clients/java)
#
# Usage: scripts/deps.sh [--dry-run] [go|js|java]...   (no group: all)
#
# Only packages whose command is missing are installed, with apt-get, as root
# or through passwordless sudo; otherwise it prints the one command to run and
# fails. --dry-run prints that command (when something is missing) and
# succeeds; it uses nothing but shell builtins, so it also runs with an empty
# PATH (cmd/quicpush's TestDepsDryRun).
set -euo pipefail

dry=false
if [[ ${1:-} == --dry-run ]]; then
	dry=true
	shift
fi
(($#)) || set -- go js java

# command:package pairs, by group.
declare -A group=(
	[go]="curl:curl git:git redis-server:redis-server java:openjdk-17-jre-headless mvn:maven"
	[js]="chromium:chromium"
	[java]="javac:openjdk-17-jdk-headless mvn:maven"
)
missing=()
for g in "$@"; do
	if [[ -z ${group[$g]:-} ]]; then
		echo "deps.sh: unknown group $g (go, js, java)" >&2
		exit 2
	fi
	for pair in ${group[$g]}; do
		command -v "${pair%%:*}" >/dev/null && continue
		[[ " ${missing[*]} " == *" ${pair#*:} "* ]] || missing+=("${pair#*:}")
	done
done
((${#missing[@]})) || exit 0

install="apt-get install -y ${missing[*]}"
if $dry; then
	echo "deps.sh: would run: apt-get update && $install"
	exit 0
fi
if ((EUID == 0)); then
	sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo=(sudo)
else
	echo "deps.sh: missing ${missing[*]}; install them with:" >&2
	echo "  sudo apt-get update && sudo $install" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null; then
	echo "deps.sh: missing ${missing[*]}, and no apt-get to install them (Debian or Ubuntu packages)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
