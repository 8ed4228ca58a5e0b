#!/bin/bash
# tests/bench/compare.sh: Warren against RabbitMQ 3.10 on this machine, same load generator,
# same run. Starts a fresh Warren (from the build directory) and a fresh private RabbitMQ node
# (conformance/rabbitmq.sh) on spare ports, runs each scenario against each broker in turn
# (alternating which goes first), REPS times, then prints medians, min-max, the Warren/RabbitMQ
# ratio and the CPU split, and writes the markdown table for docs/benchmarks.md.
# Both brokers are restarted for every repetition and the memory scenarios (connections,
# idle-10k, backlog) run first, so RSS deltas are not hidden by heap that earlier runs left behind.
# Rates are PerfTest's: counted over the window in which publishers and consumers both run
# (unthrottled publishers), with the queue depth at its end beside them.
#
#   tests/bench/compare.sh [--build DIR] [--perf EXE] [--reps N] [--duration SECS] [--only warren|rabbitmq]
#                          [--scenarios "throughput latency ..."] [--out FILE]
#
# Never touches the dev RabbitMQ on 5673. Everything goes to 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
perf=""
reps=3
duration=10
only=""
scenarios="connections idle-10k backlog backlog-persistent throughput throughput-1k throughput-ack ack-each confirm confirm-1k latency fanout many-queues conns-10k bindings stream stream-classic"
out=""

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--perf) perf=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--scenarios) scenarios=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

[ -n "$perf" ] || perf="$build/tests/bench/warren-perf"
warren="$build/broker/warren"
[ -x "$perf" ] || { echo "compare.sh: no $perf (build first: meson setup build && ninja -C build)" >&2; exit 1; }
brokers="warren rabbitmq"
[ -n "$only" ] && brokers=$only
case " $brokers " in *" warren "*) [ -x "$warren" ] || { echo "compare.sh: no $warren" >&2; exit 1; } ;; esac

# idle-10k and conns-10k hold 10,000 connections: both brokers inherit this limit
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/perf-compare.XXXXXX)
results="$tmp/results.jsonl"
: >"$results"
warren_pid=""
rabbit_dir=""

stop_warren() {
	if [ -n "$warren_pid" ]; then
		kill -TERM "$warren_pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$warren_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$warren_pid" 2>/dev/null || true
		wait "$warren_pid" 2>/dev/null || true
	fi
	warren_pid=""
	rm -rf "$tmp/warren-data"
}

stop_rabbitmq() {
	if [ -n "$rabbit_dir" ]; then
		"$root/conformance/rabbitmq.sh" stop "$rabbit_dir" >/dev/null 2>&1 || true
	fi
	rabbit_dir=""
}

cleanup() {
	stop_warren
	stop_rabbitmq
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_warren() {
	local port
	port=$(free_port)
	mkdir -p "$tmp/warren-data"
	"$warren" --port "$port" --mgmt-port 0 --data-dir "$tmp/warren-data" 2>"$tmp/warren.log" &
	warren_pid=$!
	for _ in $(seq 200); do
		grep -q ready "$tmp/warren.log" && break
		kill -0 "$warren_pid" 2>/dev/null || { cat "$tmp/warren.log" >&2; exit 1; }
		sleep 0.1
	done
	grep -q ready "$tmp/warren.log" || { echo "compare.sh: warren not ready in 20 s" >&2; exit 1; }
	warren_uri="amqp://guest:guest@127.0.0.1:$port/"
}

start_rabbitmq() {
	local info
	info=$("$root/conformance/rabbitmq.sh" start)
	rabbit_dir=$(sed -n 's/^RABBITMQ_DIR=//p' <<<"$info")
	local port
	port=$(sed -n 's/^AMQP_PORT=//p' <<<"$info")
	rabbit_uri="amqp://guest:guest@127.0.0.1:$port/"
	for _ in $(seq 100); do [ -s "$rabbit_dir/rabbitmq.pid" ] && break; sleep 0.1; done
	rabbit_pid=$(cat "$rabbit_dir/rabbitmq.pid")
}

# The flags of each scenario. Durations are per run; counts keep the slow ones bounded.
scenario_args() {
	case "$1" in
	throughput) echo "--scenario throughput --duration $duration" ;;
	throughput-1k) echo "--scenario throughput --duration $duration --size 1024" ;;
	throughput-ack) echo "--scenario throughput --duration $duration --ack-every 100 --prefetch 1000" ;;
	ack-each) echo "--scenario throughput --duration $duration --ack-every 1 --prefetch 100" ;;
	confirm) echo "--scenario confirm --duration $duration --confirm 1000 --persistent" ;;
	confirm-1k) echo "--scenario confirm --duration $duration --confirm 1000 --persistent --size 1024" ;;
	latency) echo "--scenario latency --duration $duration --rate 10000" ;;
	fanout) echo "--scenario fanout --duration $duration --queues 10" ;;
	many-queues) echo "--scenario throughput --duration $duration --publishers 100 --consumers 100 --queues 100 --ack-every 1 --prefetch 100" ;;
	connections) echo "--scenario connections --connections 1000" ;;
	idle-10k) echo "--scenario connections --connections 10000 --heartbeat 60 --duration $duration" ;;
	conns-10k) echo "--scenario connections --connections 10000 --heartbeat 60 --duration $duration --rate 1" ;;
	backlog) echo "--scenario backlog --count 200000" ;;
	backlog-persistent) echo "--scenario backlog --count 200000 --persistent --confirm 1000" ;;
	bindings) echo "--scenario bindings --queues 500 --count 2000" ;;
	# a stream, and a durable classic queue under the same load: confirms (window 1000),
	# a consumer with prefetch 1000 acking every 250
	stream) echo "--scenario stream --duration $duration --confirm 1000" ;;
	stream-classic) echo "--scenario confirm --duration $duration --confirm 1000 --persistent --prefetch 1000 --ack-every 250" ;;
	*) echo "compare.sh: unknown scenario $1" >&2; exit 2 ;;
	esac
}

run_one() {
	local broker=$1 scenario=$2 rep=$3 uri pid line
	if [ "$broker" = warren ]; then uri=$warren_uri; pid=$warren_pid; else uri=$rabbit_uri; pid=$rabbit_pid; fi
	# shellcheck disable=SC2046
	if line=$(timeout 600 "$perf" --uri "$uri" --broker-pid "$pid" --json \
		$(scenario_args "$scenario") 2>"$tmp/err"); then
		printf '{"broker":"%s","name":"%s","rep":%d,"result":%s}\n' "$broker" "$scenario" \
			"$rep" "$line" >>"$results"
		echo "  $broker $scenario #$rep ok" >&2
	else
		echo "  $broker $scenario #$rep FAILED: $(head -c 300 "$tmp/err")" >&2
		printf '{"broker":"%s","name":"%s","rep":%d,"error":true}\n' "$broker" "$scenario" \
			"$rep" >>"$results"
	fi
}

for rep in $(seq "$reps"); do
	stop_warren
	stop_rabbitmq
	case " $brokers " in *" warren "*) start_warren ;; esac
	case " $brokers " in *" rabbitmq "*) start_rabbitmq ;; esac
	echo "repetition $rep: fresh brokers started, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	cut -d' ' -f1 /proc/loadavg >>"$tmp/load"
	for scenario in $scenarios; do
		order=$brokers
		# alternate who goes first, so neither always runs on a warmer machine
		if [ $((rep % 2)) -eq 0 ]; then order=$(echo "$brokers" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'); fi
		for broker in $order; do
			run_one "$broker" "$scenario" "$rep"
		done
	done
done

cut -d' ' -f1 /proc/loadavg >>"$tmp/load"
/usr/bin/python3 - "$results" "${out:-$tmp/table.md}" "$tmp/load" <<'EOF'
import json, statistics, sys, platform, os, datetime

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def per_msg_us(r):
    n = r.get("published") or 0
    return r["broker_cpu_s"] * 1e6 / n if n and "broker_cpu_s" in r else None


def cpu_pct(r):
    return 100.0 * r["broker_cpu_s"] / r["wall_s"] if r.get("wall_s") and "broker_cpu_s" in r else None


DEPTH = ("queue depth at the end of the window", ("queue_depth",), False)
# scenario -> [(label, path or function, higher_is_better)]
metrics = {
    "throughput": [("consumed msgs/s", ("consume_rate",), True),
                   ("published msgs/s", ("publish_rate",), True), DEPTH],
    "throughput-1k": [("consumed msgs/s (1 KiB)", ("consume_rate",), True), DEPTH],
    "throughput-ack": [("consumed msgs/s (ack every 100, prefetch 1000)", ("consume_rate",), True),
                       ("published msgs/s", ("publish_rate",), True), DEPTH],
    "ack-each": [("consumed msgs/s (ack each, prefetch 100)", ("consume_rate",), True),
                 ("published msgs/s", ("publish_rate",), True), DEPTH],
    "confirm": [("confirmed msgs/s (persistent, fsync)", ("publish_rate",), True),
                ("confirm p99 us", ("confirm_latency", "p99_us"), False)],
    "confirm-1k": [("confirmed msgs/s (1 KiB, persistent)", ("publish_rate",), True)],
    "latency": [("p50 us", ("latency", "p50_us"), False),
                ("p99 us", ("latency", "p99_us"), False),
                ("p99.9 us", ("latency", "p999_us"), False),
                ("broker CPU us per message", per_msg_us, False)],
    "fanout": [("consumed msgs/s (10 queues)", ("consume_rate",), True)],
    "many-queues": [("consumed msgs/s (100 pub -> 100 queues -> 100 consumers acking each)",
                     ("consume_rate",), True), DEPTH],
    "connections": [("broker bytes/connection", ("broker_bytes_per_item",), False),
                    ("connections opened/s", ("ops", "connections opened"), True)],
    "idle-10k": [("broker bytes/connection (10,000, heartbeat 60 s)", ("broker_bytes_per_item",), False),
                 ("broker CPU % of a core, idle", cpu_pct, False)],
    "conns-10k": [("consumed msgs/s (10,000 connections x 1 msg/s)", ("consume_rate",), True),
                  ("p99 us", ("latency", "p99_us"), False),
                  ("broker CPU % of a core", cpu_pct, False)],
    "backlog-persistent": [("broker bytes/message (persistent, durable queue)",
                            ("broker_bytes_per_item",), False)],
    "backlog": [("broker bytes/message", ("broker_bytes_per_item",), False),
                ("drain msgs/s", ("drain_rate",), True)],
    "stream": [("stream: confirmed msgs/s", ("publish_rate",), True),
               ("stream: consumed msgs/s", ("consume_rate",), True)],
    "stream-classic": [("durable classic, same load: confirmed msgs/s", ("publish_rate",), True),
                       ("durable classic, same load: consumed msgs/s", ("consume_rate",), True)],
    "bindings": [("queues declared/s", ("ops", "queues declared"), True),
                 ("bindings declared/s", ("ops", "bindings declared"), True)],
}

def get(r, path):
    if callable(path):
        return path(r)
    for p in path:
        if not isinstance(r, dict) or p not in r:
            return None
        r = r[p]
    return r

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

def summary(vals):
    if not vals:
        return None, "-"
    med = statistics.median(vals)
    return med, f"{fmt(med)} ({fmt(min(vals))}–{fmt(max(vals))})" if len(vals) > 1 else fmt(med)

order = []
for r in rows:
    if r["name"] not in order:
        order.append(r["name"])
lines = ["| scenario | metric | RabbitMQ 3.10 median (min–max) | Warren median (min–max) "
         "| Warren / RabbitMQ | broker CPU s RabbitMQ / Warren | warren-perf CPU s R / W |",
         "|---|---|---|---|---|---|---|"]
for name in order:
    runs = {b: [r["result"] for r in rows if r["name"] == name and r["broker"] == b
                and "result" in r] for b in ("rabbitmq", "warren")}
    errors = {b: sum(1 for r in rows if r["name"] == name and r["broker"] == b and "error" in r)
              for b in ("rabbitmq", "warren")}
    cpu = {b: statistics.median([x.get("broker_cpu_s", 0) for x in runs[b]]) if runs[b] else None
           for b in runs}
    pcpu = {b: statistics.median([x.get("perf_cpu_s", 0) for x in runs[b]]) if runs[b] else None
            for b in runs}
    for label, path, higher in metrics.get(name, []):
        vals = {b: [v for v in (get(x, path) for x in runs[b]) if v is not None] for b in runs}
        rm, rtxt = summary(vals["rabbitmq"])
        wm, wtxt = summary(vals["warren"])
        if errors["rabbitmq"]:
            rtxt += f" ({errors['rabbitmq']} failed)"
        if errors["warren"]:
            wtxt += f" ({errors['warren']} failed)"
        ratio = "-"
        if rm and wm:
            ratio = f"{wm / rm:.2f}x" + ("" if higher else " (lower is better)")
        lines.append(f"| {name} | {label} | {rtxt} | {wtxt} | {ratio} | "
                     f"{fmt(cpu['rabbitmq'])} / {fmt(cpu['warren'])} | "
                     f"{fmt(pcpu['rabbitmq'])} / {fmt(pcpu['warren'])} |")
loads = [float(x) for x in open(sys.argv[3]).read().split()]
header = (f"Measured {datetime.date.today()} on {platform.node() or 'this machine'} "
          f"({os.cpu_count()} cores), medians of {max(r['rep'] for r in rows) if rows else 0} "
          f"runs; 1-minute load average {min(loads):.1f}–{max(loads):.1f} at the repetitions' "
          f"starts and the end; CPU is user+sys seconds over the measured part of the run.\n\n")
table = header + "\n".join(lines) + "\n"
open(sys.argv[2], "w").write(table)
print(table)
EOF
if [ -n "$out" ]; then echo "compare.sh: table written to $out" >&2; fi
