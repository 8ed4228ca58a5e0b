#!/usr/bin/env bash
# Run the conformance scenarios through real client libraries against one broker.
#
#   conformance/run.sh [--url amqp://user:pass@host:port/vhost] [--client NAME|all]
#                      [--target rabbitmq|warren] [--rabbitmq [--plugins]] [--filter TEXT]
#                      [--profile zero-limits]
#
#   --url       broker to test (default amqp://guest:guest@127.0.0.1:5673/, the dev RabbitMQ)
#   --client    pika | py-amqp | amqplib | rabbitmq-c | go | bunny | php-amqplib | aio-pika |
#               plugins | all (default all)
#   --target    what the broker is; scenarios marked warren-only are skipped on rabbitmq.
#               Default: read from connection.start's "product" property.
#   --rabbitmq  start a private RabbitMQ (conformance/rabbitmq.sh), run against it, stop it
#   --plugins   with --rabbitmq: enable the plugins Debian ships that the plugins client tests
#               (shovel, shovel management, consistent-hash exchange, event exchange)
#   --filter    run only scenarios whose name contains TEXT
#   --profile   zero-limits: the broker runs with channel_max = 0 and frame_max = 0; only the
#               scenarios for that (go and aio-pika) run; --rabbitmq starts a node set so
#
# Prints each client's "<client>: N passed, M failed" and finally "conformance: N passed, M failed".
# Exits non-zero when anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
URL="amqp://guest:guest@127.0.0.1:5673/"
CLIENT=all
TARGET=""
OWN_RABBIT=0
RABBIT_PLUGINS=""
FILTER=""
PROFILE=""
CLIENT_TIMEOUT=${CONFORMANCE_CLIENT_TIMEOUT:-150}
PY=/usr/bin/python3

while [ $# -gt 0 ]; do
	case "$1" in
	--url) URL=$2; shift 2 ;;
	--url=*) URL=${1#--url=}; shift ;;
	--client) CLIENT=$2; shift 2 ;;
	--client=*) CLIENT=${1#--client=}; shift ;;
	--target) TARGET=$2; shift 2 ;;
	--target=*) TARGET=${1#--target=}; shift ;;
	--filter) FILTER=$2; shift 2 ;;
	--filter=*) FILTER=${1#--filter=}; shift ;;
	--rabbitmq) OWN_RABBIT=1; shift ;;
	--plugins) RABBIT_PLUGINS=rabbitmq_shovel,rabbitmq_shovel_management,rabbitmq_consistent_hash_exchange,rabbitmq_event_exchange; shift ;;
	--profile) PROFILE=$2; shift 2 ;;
	--profile=*) PROFILE=${1#--profile=}; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

RMQ_SETTINGS=()
case "$PROFILE" in
"") ;;
zero-limits) RMQ_SETTINGS=(channel_max=0 frame_max=0) ;;
*) echo "run.sh: unknown profile $PROFILE" >&2; exit 2 ;;
esac

case "$CLIENT" in
all) CLIENTS="pika py-amqp amqplib rabbitmq-c go bunny php-amqplib aio-pika plugins"
	[ -n "$PROFILE" ] && CLIENTS="go aio-pika" ;;
pika | py-amqp | amqplib | rabbitmq-c | go | bunny | php-amqplib | aio-pika | plugins) CLIENTS=$CLIENT ;;
*) echo "run.sh: unknown client $CLIENT" >&2; exit 2 ;;
esac

WORK=$(mktemp -d /tmp/warren-conformance-run.XXXXXX)
RMQ_DIR=""
cleanup() {
	if [ -n "$RMQ_DIR" ]; then "$HERE/rabbitmq.sh" stop "$RMQ_DIR" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$OWN_RABBIT" = 1 ]; then
	echo "conformance: starting a private RabbitMQ node"
	if ! "$HERE/rabbitmq.sh" start ${RABBIT_PLUGINS:+--plugins "$RABBIT_PLUGINS"} "${RMQ_SETTINGS[@]}" >"$WORK/rmq.env"; then
		echo "conformance: 0 passed, 1 failed"
		exit 1
	fi
	# shellcheck disable=SC1091
	source "$WORK/rmq.env"
	RMQ_DIR=$RABBITMQ_DIR
	URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
	export CONFORMANCE_MGMT_URL="http://127.0.0.1:$MGMT_PORT"
	TARGET=${TARGET:-rabbitmq}
	echo "conformance: RabbitMQ on AMQP port $AMQP_PORT, management port $MGMT_PORT"
fi

if [ -z "$TARGET" ]; then
	product=$(timeout 10 "$PY" - "$URL" 2>/dev/null <<-'EOF'
		import sys, pika
		p = pika.URLParameters(sys.argv[1])
		p.connection_attempts = 1
		c = pika.BlockingConnection(p)
		print(c._impl.server_properties.get("product", b""))
		c.close()
	EOF
	)
	case "$product" in
	RabbitMQ) TARGET=rabbitmq ;;
	"") echo "run.sh: cannot connect to $URL" >&2; TARGET=warren ;;
	*) TARGET=warren ;;
	esac
fi
echo "conformance: url $URL, target $TARGET"

export CONFORMANCE_URL=$URL CONFORMANCE_TARGET=$TARGET CONFORMANCE_FILTER=$FILTER \
	CONFORMANCE_PROFILE=$PROFILE

run_client() {
	local client=$1
	case "$client" in
	pika) timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$HERE/pika/scenarios.py" ;;
	plugins) timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$HERE/plugins/scenarios.py" ;;
	py-amqp) timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$HERE/py-amqp/scenarios.py" ;;
	amqplib)
		if [ ! -d "$HERE/amqplib/node_modules/amqplib" ]; then
			(cd "$HERE/amqplib" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
				{ echo "amqplib: npm ci failed"; return 1; }
		fi
		timeout -k 5 "$CLIENT_TIMEOUT" node "$HERE/amqplib/scenarios.js"
		;;
	rabbitmq-c)
		cc -std=c11 -O1 -Wall -Wextra -o "$WORK/rabbitmq-c-scenarios" \
			"$HERE/rabbitmq-c/scenarios.c" "$HERE/rabbitmq-c/harness.c" -lrabbitmq ||
			{ echo "rabbitmq-c: build failed"; return 1; }
		timeout -k 5 "$CLIENT_TIMEOUT" "$WORK/rabbitmq-c-scenarios" "$URL"
		;;
	go)
		# amqp091-go from Debian's GOPATH tree: no module download.
		(cd "$HERE/go" && env -u GOFLAGS GO111MODULE=off GOPATH=/usr/share/gocode \
			go build -o "$WORK/go-scenarios" .) ||
			{ echo "go: build failed"; return 1; }
		timeout -k 5 "$CLIENT_TIMEOUT" "$WORK/go-scenarios"
		;;
	bunny) timeout -k 5 "$CLIENT_TIMEOUT" ruby "$HERE/bunny/scenarios.rb" ;;
	php-amqplib) timeout -k 5 "$CLIENT_TIMEOUT" php "$HERE/php-amqplib/scenarios.php" ;;
	aio-pika) timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$HERE/aio-pika/scenarios.py" ;;
	esac
}

total_pass=0
total_fail=0
for client in $CLIENTS; do
	echo "== $client"
	run_client "$client" 2>&1 | tee "$WORK/$client.out"
	line=$(grep -E "^$client: [0-9]+ passed, [0-9]+ failed" "$WORK/$client.out" | tail -1)
	if [ -z "$line" ]; then
		echo "$client: no summary line (crashed or timed out): counted as 1 failure"
		total_fail=$((total_fail + 1))
		continue
	fi
	p=$(sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[^:]+: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done

echo
for client in $CLIENTS; do
	grep -E "^$client: [0-9]+ passed" "$WORK/$client.out" | tail -1 ||
		echo "$client: no summary"
done
grep -h "^FAIL - " "$WORK"/*.out 2>/dev/null | sed 's/^/  /' || true
echo "conformance: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
