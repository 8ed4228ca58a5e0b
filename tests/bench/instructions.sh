#!/bin/bash
# tests/bench/instructions.sh: the speed guard that does not need a quiet machine. It counts the
# instructions the broker executes per message with valgrind's callgrind, for four fixed
# workloads driven by warren-perf, compares them with the committed baseline and fails when one
# grew by more than 5 % (SQLite guards its speed the same way with cachegrind).
#
#   instructions.sh [--update] [--config NAME] WARREN PERF BASELINE
#
# Each workload runs twice against a fresh broker under callgrind, with a small and a large
# message count; instructions per message = (total of the large run - total of the small run) /
# (difference in messages), so start-up, connection set-up, queue declares and shutdown cancel
# out. The totals repeat to within a few thousand instructions between runs (the broker is the
# slow side under valgrind, so its batches are full), far inside the 5 %.
#
# Instruction counts depend on the compiler and the build type: BASELINE records the --config it
# was made with (meson passes compiler, version and buildtype), and another configuration is
# skipped (exit 77), not compared. To change the baseline deliberately (a change that costs
# instructions for a reason, or saves some), run with --update and commit the file with the
# reason in the commit message:
#   tests/bench/instructions.sh --update --config gcc-12.2.0-debugoptimized build/broker/warren \
#       build/tests/bench/warren-perf tests/bench/instructions.baseline
# meson test -C build instructions --verbose shows the table.
set -euo pipefail
# meson test sets MALLOC_PERTURB_, which makes glibc fill every allocation and free: that would be
# counted too, and it is not the broker's work.
unset MALLOC_PERTURB_

update=0
config=unknown
while [ $# -gt 0 ]; do
	case "$1" in
	--update) update=1; shift ;;
	--config) config=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
if [ $# -ne 3 ]; then
	echo "usage: instructions.sh [--update] [--config NAME] WARREN PERF BASELINE" >&2
	exit 2
fi
warren=$1
perf=$2
baseline=$3
allowed_pct=5

if ! command -v valgrind >/dev/null 2>&1; then
	echo "instructions: valgrind is not installed (scripts/setup.sh installs it): skipped"
	exit 77
fi
if [ "$update" = 0 ]; then
	if [ ! -f "$baseline" ]; then
		echo "instructions: no baseline $baseline (make one with --update)" >&2
		exit 1
	fi
	base_config=$(awk '$1 == "config" { print $2 }' "$baseline")
	if [ "$base_config" != "$config" ]; then
		echo "instructions: the baseline is for $base_config, this build is $config: skipped"
		exit 77
	fi
fi

tmp=$(mktemp -d /tmp/warren-instructions.XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# total_instructions COUNT PERF-ARGS...: the broker's instruction total for one run.
total_instructions() {
	local count=$1 port run
	shift
	run=$(mktemp -d "$tmp/run.XXXX")
	port=$(free_port)
	valgrind --tool=callgrind --callgrind-out-file="$run/callgrind.out" \
		"$warren" --port "$port" --mgmt-port 0 --data-dir "$run/data" 2>"$run/log" &
	pid=$!
	for _ in $(seq 600); do
		grep -q ready "$run/log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q ready "$run/log"; then
		echo "instructions: the broker did not start under valgrind:" >&2
		cat "$run/log" >&2
		return 1
	fi
	if ! timeout 300 "$perf" --uri "amqp://guest:guest@127.0.0.1:$port/" --count "$count" \
		--json "$@" >"$run/perf.json" 2>"$run/perf.err"; then
		echo "instructions: warren-perf $* failed: $(cat "$run/perf.err")" >&2
		return 1
	fi
	if grep -q warning "$run/perf.err"; then
		echo "instructions: warren-perf $*: $(cat "$run/perf.err")" >&2
		return 1
	fi
	kill -TERM "$pid"
	wait "$pid" || { echo "instructions: the broker did not exit cleanly:" >&2; cat "$run/log" >&2; return 1; }
	pid=""
	awk '$1 == "totals:" { print $2 }' "$run/callgrind.out"
}

# name small large perf-args
workloads=(
	"publish-deliver|2000|22000|--scenario throughput"
	"publish-deliver-ack|2000|12000|--scenario throughput --ack-every 1 --prefetch 100"
	"confirm-persistent|2000|12000|--scenario confirm --confirm 1000 --persistent --consumers 0"
	"fanout-10|1000|6000|--scenario fanout --queues 10"
)

results="$tmp/results"
: >"$results"
for w in "${workloads[@]}"; do
	IFS='|' read -r name small large args <<<"$w"
	# shellcheck disable=SC2086
	a=$(total_instructions "$small" $args)
	# shellcheck disable=SC2086
	b=$(total_instructions "$large" $args)
	per=$(( (b - a) / (large - small) ))
	echo "$name $per" >>"$results"
done

if [ "$update" = 1 ]; then
	{
		echo "# Broker instructions per message (callgrind), made by tests/bench/instructions.sh --update."
		echo "# Change it only on purpose, saying why in the commit message."
		echo "config $config"
		cat "$results"
	} >"$baseline"
	echo "instructions: baseline written to $baseline:"
	cat "$results"
	exit 0
fi

fail=0
printf '%-22s %12s %12s %8s\n' workload baseline now change
while read -r name per; do
	want=$(awk -v n="$name" '$1 == n { print $2 }' "$baseline")
	if [ -z "$want" ]; then
		printf '%-22s %12s %12s %8s  (not in the baseline)\n' "$name" - "$per" -
		fail=1
		continue
	fi
	pct=$(awk -v a="$per" -v b="$want" 'BEGIN { printf "%+.1f", (a - b) * 100 / b }')
	verdict=""
	if awk -v a="$per" -v b="$want" -v p="$allowed_pct" 'BEGIN { exit !(a > b * (1 + p / 100)) }'; then
		verdict="  FAIL: more than ${allowed_pct}% over the baseline"
		fail=1
	elif awk -v a="$per" -v b="$want" -v p="$allowed_pct" 'BEGIN { exit !(a < b * (1 - p / 100)) }'; then
		verdict="  (cheaper: update the baseline with --update)"
	fi
	printf '%-22s %12s %12s %7s%%%s\n' "$name" "$want" "$per" "$pct" "$verdict"
done <"$results"
exit $fail
