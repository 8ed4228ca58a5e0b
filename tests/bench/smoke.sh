#!/bin/bash
# tests/bench/smoke.sh: runs every warren-perf scenario for about a second against a fresh
# Warren and checks that each one exits 0 with a plausible JSON line.
#   smoke.sh WARREN_EXE PERF_EXE
# To validate against a broker that is already running (e.g. the dev RabbitMQ), pass "-" as
# WARREN_EXE and set PERF_SMOKE_URI (and optionally PERF_SMOKE_PID for RSS/CPU figures).
set -u
warren=$1
perf=$2
tmp=$(mktemp -d /tmp/perf-smoke.XXXXXX)
broker_pid=""
passed=0
failed=0

cleanup() {
	if [ -n "$broker_pid" ] && [ "$warren" != "-" ]; then
		kill -TERM "$broker_pid" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$broker_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$broker_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "$warren" = "-" ]; then
	uri=${PERF_SMOKE_URI:?set PERF_SMOKE_URI when no broker executable is given}
	broker_pid=${PERF_SMOKE_PID:-}
else
	port=$(free_port)
	mkdir -p "$tmp/data"
	"$warren" --port "$port" --mgmt-port 0 --data-dir "$tmp/data" 2>"$tmp/warren.log" &
	broker_pid=$!
	for _ in $(seq 200); do
		grep -q ready "$tmp/warren.log" && break
		if ! kill -0 "$broker_pid" 2>/dev/null; then
			echo "smoke: warren exited before it was ready:" >&2
			cat "$tmp/warren.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	if ! grep -q ready "$tmp/warren.log"; then
		echo "smoke: warren did not log 'ready' within 20 s" >&2
		exit 1
	fi
	uri="amqp://guest:guest@127.0.0.1:$port/"
fi
pid_args=()
[ -n "$broker_pid" ] && pid_args=(--broker-pid "$broker_pid")

# check NAME JSON-KEY-THAT-MUST-BE-POSITIVE ARGS...
check() {
	local name=$1 key=$2
	shift 2
	local out
	if ! out=$(timeout 120 "$perf" --uri "$uri" --json "${pid_args[@]}" "$@" 2>"$tmp/err"); then
		echo "FAIL $name: exit $? $(head -c 300 "$tmp/err")"
		failed=$((failed + 1))
		return
	fi
	if ! printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
key = sys.argv[1]
v = r.get("ops", {}).get(key) if key not in r else r[key]
sys.exit(0 if v and v > 0 else 1)' "$key"; then
		echo "FAIL $name: $key not positive in: $out"
		failed=$((failed + 1))
		return
	fi
	if grep -q warning "$tmp/err"; then
		echo "FAIL $name: $(head -c 300 "$tmp/err")"
		failed=$((failed + 1))
		return
	fi
	echo "ok   $name: $out"
	passed=$((passed + 1))
}

# must_fail NAME EXPECTED-TEXT ARGS...: exits non-zero with one line naming the problem
must_fail() {
	local name=$1 text=$2
	shift 2
	if timeout 60 "$perf" "$@" >"$tmp/out" 2>"$tmp/err"; then
		echo "FAIL $name: exited 0"
		failed=$((failed + 1))
	elif [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$text" "$tmp/err"; then
		echo "FAIL $name: expected one line with '$text', got: $(head -c 300 "$tmp/err")"
		failed=$((failed + 1))
	else
		echo "ok   $name: $(cat "$tmp/err")"
		passed=$((passed + 1))
	fi
}

check throughput consume_rate --scenario throughput --duration 1
check throughput-acks consume_rate --scenario throughput --duration 1 --publishers 2 \
	--consumers 2 --queues 2 --ack-every 10 --prefetch 100
check throughput-large-bodies consume_rate --scenario throughput --count 300 --size 300000 \
	--ack-every 1 --prefetch 10
check throughput-tiny-bodies consume_rate --scenario throughput --count 1000 --size 0
check confirm confirmed --scenario confirm --duration 1 --confirm 32
# persistent bursts: the last confirms of a burst must come even when they were appended while
# the previous batch was still being synced (a lost-confirm bug once hid here)
check confirm-persistent-1k confirmed --scenario confirm --duration 2 --confirm 1000 --persistent --size 1024
check latency consume_rate --scenario latency --duration 1 --rate 2000
check fanout consume_rate --scenario fanout --duration 1 --queues 3
check connections "connections opened" --scenario connections --connections 50
# held open with heartbeats (the client's keep them alive while idle), then publishing 20 msgs/s each
check connections-idle-heartbeats "connections opened" --scenario connections --connections 20 \
	--heartbeat 1 --duration 3
check connections-publishing consume_rate --scenario connections --connections 20 --heartbeat 2 \
	--duration 2 --rate 20
check backlog drain_rate --scenario backlog --count 5000
check bindings "bindings declared" --scenario bindings --queues 20 --count 60
check stream consume_rate --scenario stream --duration 1 --consumers 2

must_fail refused-connection "cannot connect" --uri "amqp://guest:guest@127.0.0.1:$(free_port)/" \
	--duration 1
must_fail bad-password "403" --uri "${uri/guest:guest/guest:wrong-password}" --duration 1
must_fail bad-flag "unknown scenario" --scenario nosuch

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
