#!/usr/bin/env bash
# Streams at size: publishes GB gigabytes into one stream (warren-perf --scenario stream, 64 KiB
# bodies, confirms), then measures how long a new consumer waits for its first message from
# first, from the middle and from last, how fast it reads on, and the broker's RSS before and
# after. Not a CI test (it writes GB gigabytes): docs/benchmarks.md records its figures.
#
#   tests/bench/stream-replay.sh [GB] [BUILD_DIR]      (default 2 GB, build/)
set -euo pipefail
cd "$(dirname "$0")/../.."
GB=${1:-2}
BUILD=${2:-build}
PY=/usr/bin/python3
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mgmt=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/warren-stream-replay.XXXXXX)
"$BUILD/broker/warren" --port "$port" --mgmt-port "$mgmt" --data-dir "$data/data" 2>"$data/log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do grep -q ready "$data/log" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "stream-replay: $GB GB of 64 KiB messages into one stream"
echo "broker RSS before: $(rss) kB"
count=$((GB * 16384))
"$BUILD/tests/bench/warren-perf" --uri "amqp://guest:guest@127.0.0.1:$port/" --scenario stream \
	--consumers 0 --count "$count" --size 65536 --keep --broker-pid "$pid" | grep -E "published|cpu"
echo "broker RSS after publishing: $(rss) kB; on disk: $(du -sh "$data/data/streams" | cut -f1)"
$PY - "$port" "$mgmt" "$count" <<'EOF'
import base64, json, os, sys, time, urllib.request
import pika
port, mgmt, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = urllib.request.Request("http://127.0.0.1:%d/api/queues" % mgmt)
req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
queues = json.load(urllib.request.urlopen(req))
q = [x for x in queues if x["type"] == "stream"][0]
print("stream %s: %d messages, %d segments, %d bytes on disk" % (
    q["name"], q["messages"], q["segments"], q["disk_bytes"]))
for offset in ("first", count // 2, "last"):
    # a connection each, never closed: pika's close nacks what it has buffered, and a stream
    # refuses nacks (540); the process exit drops the sockets
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = c.channel()
    ch.basic_qos(prefetch_count=200)
    got = []
    t0 = time.monotonic()
    first_at = [None]

    def on(chan, m, p, b):
        if first_at[0] is None:
            first_at[0] = time.monotonic() - t0
        got.append(len(b))
        if len(got) % 100 == 0:
            chan.basic_ack(m.delivery_tag, multiple=True)
    ch.basic_consume(q["name"], on, arguments={"x-stream-offset": offset})
    want = 1 if offset == "last" else 5000
    while len(got) < want and time.monotonic() - t0 < 60:
        c.process_data_events(time_limit=0.01)
    secs = time.monotonic() - t0
    print("from %-6s first message after %.3f s; %d messages (%.0f MB) in %.2f s" % (
        offset, first_at[0] or -1, len(got), sum(got) / 1e6, secs))
sys.stdout.flush()
os._exit(0)
EOF
echo "broker RSS after reading: $(rss) kB"
