#!/bin/bash
# tests/bench/deep-queue-memory.sh: how much RAM does a deep queue of persistent messages cost?
# Starts a fresh Warren (empty data directory, spare ports), publishes COUNT persistent 16-byte
# messages with confirms (window 1000) into one durable queue, reports the broker's RSS with
# them all queued (absolute and per message, from /proc/PID/status), then restarts the broker
# and reports how long the recovery of the whole queue took and the RSS after it.
# A benchmark, not a test: not run by meson. The target (issue 4): 10,000,000 messages under
# 200 MB of RSS.
#
#   tests/bench/deep-queue-memory.sh [--build DIR] [--count N]   (default 10000000)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
count=10000000
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "deep-queue-memory.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
warren="$build/broker/warren"
perf="$build/tests/bench/warren-perf"
data=$(mktemp -d /tmp/warren-deep.XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=""
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true; rm -rf "$data" "$data.log"; }
trap cleanup EXIT

start() {
	"$warren" --port "$port" --mgmt-port 0 --data-dir "$data" >"$data.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do grep -q " ready" "$data.log" && return; sleep 0.1; done
	echo "warren did not start" >&2; exit 1
}
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }

start
echo "fresh broker: RSS $(rss_kb) kB"
"$perf" --uri "amqp://guest:guest@127.0.0.1:$port/" --scenario backlog --count "$count" --size 16 \
	--persistent --confirm 1000 --keep --broker-pid "$pid"
echo "with $count messages queued: RSS $(rss_kb) kB = $(( $(rss_kb) * 1024 / 1000000 )) MB; data directory $(du -sm "$data" | cut -f1) MiB"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
start
grep "recovered .* messages into their queues" "$data.log" | sed 's/^.*\[info\] /restart: /'
echo "after recovery: RSS $(rss_kb) kB = $(( $(rss_kb) * 1024 / 1000000 )) MB"
