#!/usr/bin/env bash
# tests/packaging/fresh-deb.sh: the Debian package on fresh Debian 12 machines, through
# /work/shared/tools/fresh-machine.sh (debootstrap minbase roots; FRESH_MACHINE overrides its
# path). Too slow for CI (several minutes): run it by hand after changing debian/, the unit or
# the install rules, on a committed tree (fresh-machine.sh clones HEAD).
#   1. build: a fresh root builds the .deb with scripts/build-deb.sh from Debian's packages only
#      (lintian must report no error), then installs, runs, restarts, reinstalls and purges it
#      (tests/packaging/fresh-deb-check.sh build)
#   2. install: this machine builds the .deb, and a second, untouched root installs it with
#      apt-get (so the package's Depends alone must pull in what it needs) and runs the same
#      checks (fresh-deb-check.sh install)
# Each step ends with fresh-machine.sh's "fresh-machine: OK|FAILED" line; the last line here
# is "fresh-deb: OK" or "fresh-deb: FAILED".
set -uo pipefail
cd "$(dirname "$0")/../.."
fresh=${FRESH_MACHINE:-/work/shared/tools/fresh-machine.sh}
[ -x "$fresh" ] || { echo "fresh-deb: no $fresh"; exit 1; }
rc=0

echo "=== fresh-deb: 1. build and check in a fresh root"
FRESH_CMD="tests/packaging/fresh-deb-check.sh build" FRESH_TAIL=${FRESH_TAIL:-80} \
	"$fresh" . || rc=1

echo "=== fresh-deb: 2. install this machine's .deb in an untouched fresh root"
debs=$(mktemp -d /tmp/warren-fresh-debs.XXXXXX)
trap 'rm -rf "$debs"' EXIT
if ./scripts/build-deb.sh "$debs" >"$debs/build-deb.out" 2>&1; then
	tail -n 2 "$debs/build-deb.out"
	SHARED_DIR=$debs FRESH_CMD="tests/packaging/fresh-deb-check.sh install /root/shared" \
		FRESH_TAIL=${FRESH_TAIL:-80} "$fresh" . || rc=1
else
	tail -n 30 "$debs/build-deb.out"
	rc=1
fi
[ "$rc" = 0 ] && echo "fresh-deb: OK" || echo "fresh-deb: FAILED"
exit "$rc"
