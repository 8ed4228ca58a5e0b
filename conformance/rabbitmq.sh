#!/usr/bin/env bash
# Start or stop a private, throw-away RabbitMQ node for the conformance suite.
#
#   conformance/rabbitmq.sh start [--plugins P1,P2,...] [KEY=VALUE ...]
#                                    # prints AMQP_PORT=<n>, MGMT_PORT=<n>, RABBITMQ_DIR=<dir>
#   conformance/rabbitmq.sh stop [DIR]
#   conformance/rabbitmq.sh kill DIR     # SIGKILL the node; its data and ports stay
#   conformance/rabbitmq.sh resume DIR   # start a killed node again on the same ports and data
#
# Each KEY=VALUE is added to the node's rabbitmq.conf as `KEY = VALUE` (for example
# channel_max=0), so a scenario can check what RabbitMQ does under a setting. --plugins enables
# these plugins besides rabbitmq_management (the default): for example
# rabbitmq_shovel,rabbitmq_shovel_management,rabbitmq_consistent_hash_exchange,
# rabbitmq_event_exchange (all in Debian's rabbitmq-server).
#
# The node runs from Debian's rabbitmq-server (installed with apt-get when missing) with a unique
# node name, spare ports on 127.0.0.1 and every file (mnesia, logs, config, cookie) in a temp dir.
# It never touches another node (for example the dev instance on 5673). `stop` without DIR stops
# the node named in $CONFORMANCE_RABBITMQ_DIR, else the last one this script started.
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin
LAST=/tmp/warren-conformance-rabbitmq.last

die() { echo "rabbitmq.sh: $*" >&2; exit 1; }

free_ports() {
	/usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

node_env() {
	local dir=$1
	# shellcheck disable=SC1091
	source "$dir/ports"
	export HOME="$dir/home"
	export RABBITMQ_NODENAME="$NODENAME"
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT="$AMQP_PORT"
	export RABBITMQ_DIST_PORT="$DIST_PORT"
	export RABBITMQ_MNESIA_BASE="$dir/mnesia"
	export RABBITMQ_LOG_BASE="$dir/log"
	export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
	export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
	export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
	export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
	export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
}

# Starts the node of dir in the background and waits until it accepts AMQP and HTTP: 0, 1 when
# it exited, 2 when it did not come up within 60 s.
node_launch() {
	local dir=$1 i
	node_env "$dir"
	setsid "$RMQ_BIN/rabbitmq-server" >>"$dir/log/startup.out" 2>&1 </dev/null &
	echo $! >"$dir/server.pid"
	for i in $(seq 1 120); do
		if "$RMQ_BIN/rabbitmqctl" -n "$NODENAME" -q await_startup --timeout 1 >/dev/null 2>&1 &&
			/usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$MGMT_PORT),1)" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
			tail -20 "$dir/log/startup.out" >&2 || true
			return 1
		fi
		sleep 0.5
	done
	tail -20 "$dir/log/startup.out" >&2 || true
	return 2
}

cmd_start() {
	local setting plugins=""
	if [ "${1:-}" = --plugins ]; then
		[ $# -ge 2 ] || die "start: --plugins needs a comma-separated list"
		plugins=$2
		shift 2
	fi
	for setting in "$@"; do
		case "$setting" in
		*=*) ;;
		*) die "start: expected KEY=VALUE, got '$setting'" ;;
		esac
	done
	if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
		echo "rabbitmq.sh: installing rabbitmq-server from Debian" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >&2; }
		# Debian starts its own service on 5672; the suite does not need it.
		if command -v systemctl >/dev/null 2>&1; then systemctl stop rabbitmq-server >/dev/null 2>&1 || true; fi
	fi
	local dir ports
	dir=$(mktemp -d /tmp/warren-conformance-rmq.XXXXXX)
	ports=$(free_ports 3)
	read -r amqp mgmt dist <<<"$ports"
	mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
	cat >"$dir/ports" <<-EOF
		AMQP_PORT=$amqp
		MGMT_PORT=$mgmt
		DIST_PORT=$dist
		NODENAME=warrenconf$$$(date +%s%N | tail -c 6)@localhost
	EOF
	cat >"$dir/rabbitmq.conf" <<-EOF
		listeners.tcp.default = 127.0.0.1:$amqp
		management.tcp.port = $mgmt
		management.tcp.ip = 127.0.0.1
		loopback_users.guest = true
		log.console = false
		log.file.level = info
	EOF
	for setting in "$@"; do
		echo "${setting%%=*} = ${setting#*=}" >>"$dir/rabbitmq.conf"
	done
	echo "[rabbitmq_management${plugins:+,$plugins}]." >"$dir/enabled_plugins"
	echo "[]." >"$dir/advanced.config"
	: >"$dir/rabbitmq-env.conf"
	echo "$dir" >"$LAST"
	local rc=0
	node_launch "$dir" || rc=$?
	if [ "$rc" = 0 ]; then
		echo "AMQP_PORT=$amqp"
		echo "MGMT_PORT=$mgmt"
		echo "RABBITMQ_DIR=$dir"
		return 0
	fi
	cmd_stop "$dir"
	[ "$rc" = 1 ] && die "the node exited during start-up"
	die "the node did not start within 60 s"
}

check_dir() {
	[ -n "${1:-}" ] && [ -f "$1/ports" ] || die "no node in '${1:-}'"
	case "$1" in /tmp/warren-conformance-rmq.*) ;; *) die "refusing to touch $1" ;; esac
}

# The node's Erlang VM (beam.smp) runs in the session the start script made; SIGKILL all of
# that session's processes (its group), as a crash would.
cmd_kill() {
	check_dir "${1:-}"
	local pid port i
	pid=$(cat "$1/server.pid" 2>/dev/null || true)
	[ -n "$pid" ] || die "kill: no pid for $1"
	kill -KILL -- "-$pid" 2>/dev/null || true
	for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	port=$(. "$1/ports"; echo "$AMQP_PORT")
	for i in $(seq 1 40); do
		/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null || break
		sleep 0.1
	done
}

cmd_resume() {
	check_dir "${1:-}"
	node_launch "$1" || die "the node did not start again"
	(
		# shellcheck disable=SC1091
		source "$1/ports"
		echo "AMQP_PORT=$AMQP_PORT"
		echo "MGMT_PORT=$MGMT_PORT"
		echo "RABBITMQ_DIR=$1"
	)
}

cmd_stop() {
	local dir=${1:-${CONFORMANCE_RABBITMQ_DIR:-}}
	[ -n "$dir" ] || dir=$(cat "$LAST" 2>/dev/null || true)
	[ -n "$dir" ] && [ -f "$dir/ports" ] || die "no node to stop (give its RABBITMQ_DIR)"
	case "$dir" in /tmp/warren-conformance-rmq.*) ;; *) die "refusing to clean $dir" ;; esac
	(
		node_env "$dir"
		"$RMQ_BIN/rabbitmqctl" -n "$NODENAME" -q stop >/dev/null 2>&1 || true
		local pid i
		pid=$(cat "$dir/server.pid" 2>/dev/null || true)
		if [ -n "$pid" ]; then
			for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
			# The start script runs the node in its own session: end that group only.
			kill -- "-$pid" 2>/dev/null || true
		fi
	)
	rm -rf "$dir"
	if [ "$(cat "$LAST" 2>/dev/null || true)" = "$dir" ]; then rm -f "$LAST"; fi
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
kill) shift; cmd_kill "$@" ;;
resume) shift; cmd_resume "$@" ;;
*) die "usage: rabbitmq.sh start [--plugins LIST] [KEY=VALUE ...] | stop [DIR] | kill DIR | resume DIR" ;;
esac
