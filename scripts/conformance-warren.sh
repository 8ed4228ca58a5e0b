#!/usr/bin/env bash
# Starts the given Warren binary on free loopback ports (AMQP and management) with a temporary
# data directory, runs conformance/run.sh against it (CONFORMANCE_MGMT_URL set, so the scenarios
# that need the management API run too), and stops it (SIGTERM; a crash fails the run).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/broker/warren}
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
mport=$(free_port)
data=$(mktemp -d)
log="$data/warren.log"
"$bin" --port "$port" --mgmt-port "$mport" --data-dir "$data/data" 2>"$log" &
pid=$!
for _ in $(seq 1 100); do
	grep -q ready "$log" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q ready "$log"; then
	echo "warren did not start:"; cat "$log"; kill "$pid" 2>/dev/null; exit 1
fi
CONFORMANCE_MGMT_URL="http://127.0.0.1:$mport" ./conformance/run.sh \
	--url "amqp://guest:guest@127.0.0.1:$port/" "${@:2}"
rc=$?
kill -TERM "$pid"
wait "$pid"
brc=$?
if [ "$brc" -ne 0 ]; then
	echo "warren exited with status $brc; its log:"; tail -50 "$log"; rc=1
fi
rm -rf "$data"
exit $rc
