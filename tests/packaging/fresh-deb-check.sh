#!/usr/bin/env bash
# tests/packaging/fresh-deb-check.sh build | install DEB_DIR: runs INSIDE a fresh Debian 12 root
# (fresh-deb.sh starts it there through shared/tools/fresh-machine.sh), as root, from the project
# checkout. `build` first builds the .deb there with scripts/build-deb.sh (Debian's build
# dependencies only, lintian clean); `install` takes the .deb from DEB_DIR. Then:
#   apt-get install ./warren_*.deb; the user, directories, modes and the enabled unit are there;
#   the unit's ExecStart= runs as the warren user (systemd does not run in a chroot); pika
#   publishes a persistent message, the broker restarts, the message is still there; the
#   package is reinstalled over the data and the message is still there; the management API and
#   warrenctl answer; SIGTERM stops it with status 0; apt-get purge removes every file it made.
# Prints "fresh-deb-check: OK" last, or exits non-zero at the first failed check.
set -euo pipefail
mode=${1:?usage: fresh-deb-check.sh build | install DEB_DIR}
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

step() { echo "=== fresh-deb-check: $*"; }
fail() { echo "fresh-deb-check: FAILED: $*"; exit 1; }
check() { # check DESCRIPTION COMMAND...
	if "${@:2}"; then echo "ok - $1"; else fail "$1"; fi
}

apt-get update -qq
if [ "$mode" = build ]; then
	step "build the package from Debian's packages only"
	./scripts/build-deb.sh /root/deb
	deb_dir=/root/deb
else
	deb_dir=${2:?install needs DEB_DIR}
fi
deb=$(ls "$deb_dir"/warren_*_amd64.deb | head -n1)
[ -f "$deb" ] || fail "no warren_*_amd64.deb in $deb_dir"
step "test client (python3-pika) before the snapshot"
apt-get install -y -qq --no-install-recommends python3-pika >/dev/null

snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /root -o -path /var/cache -o -path /var/lib/apt/lists -o -path /var/log \
		-o -path /var/lib/dpkg -o -path /var/lib/apt/extended_states \) -prune -o -print | sort
}
snapshot >/tmp/before.txt

step "apt-get install $deb"
cp "$deb" /tmp/
apt-get install -y -qq "/tmp/$(basename "$deb")"

check "the system user warren exists, with no login shell" \
	bash -c 'getent passwd warren | grep -q ":/var/lib/warren:/usr/sbin/nologin$"'
check "/var/lib/warren is warren's, mode 750" \
	bash -c '[ "$(stat -c "%U:%G %a" /var/lib/warren)" = "warren:warren 750" ]'
check "/etc/warren/warren.conf is root:warren, mode 640 (it holds default_pass)" \
	bash -c '[ "$(stat -c "%U:%G %a" /etc/warren/warren.conf)" = "root:warren 640" ]'
check "warren.conf points data_dir at /var/lib/warren" \
	grep -qx "data_dir = /var/lib/warren" /etc/warren/warren.conf
check "warren.service is enabled (multi-user.target wants it)" \
	test -L /etc/systemd/system/multi-user.target.wants/warren.service
check "the binaries, manual pages and unit are in place" \
	test -x /usr/sbin/warren -a -x /usr/bin/warrenctl -a -x /usr/bin/warren-perf \
	-a -f /usr/share/man/man8/warren.8.gz -a -f /usr/share/man/man5/warren.conf.5.gz \
	-a -f /usr/share/man/man1/warrenctl.1.gz -a -f /usr/share/man/man1/warren-perf.1.gz \
	-a -f /lib/systemd/system/warren.service -a -f /usr/lib/sysusers.d/warren.conf \
	-a -f /usr/lib/tmpfiles.d/warren.conf

exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/warren.service)
work_dir=$(sed -n 's/^WorkingDirectory=//p' /lib/systemd/system/warren.service)
pid=
start_broker() {
	step "start the unit's ExecStart as warren: $exec_start"
	cd "$work_dir"
	# shellcheck disable=SC2086
	setpriv --reuid=warren --regid=warren --init-groups -- $exec_start 2>>/tmp/warren.log &
	pid=$!
	cd - >/dev/null
	for _ in $(seq 100); do
		grep -q " ready: " /tmp/warren.log && break
		kill -0 "$pid" 2>/dev/null || { cat /tmp/warren.log; fail "the broker exited"; }
		sleep 0.1
	done
	grep -q " ready: " /tmp/warren.log || fail "no ready line in 10 s"
	check "the broker runs as warren" bash -c "[ \"\$(stat -c %U /proc/$pid)\" = warren ]"
}
stop_broker() {
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	check "SIGTERM stops the broker with status 0" test "$rc" -eq 0
}
pika() {
	/usr/bin/python3 - "$@" <<'EOF'
import sys
import pika
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
ch = c.channel()
ch.queue_declare("fresh-deb", durable=True)
if sys.argv[1] == "publish":
    ch.confirm_delivery()
    ch.basic_publish("", "fresh-deb", b"kept across restarts",
                     pika.BasicProperties(delivery_mode=2), mandatory=True)
else:
    method, _, body = ch.basic_get("fresh-deb", auto_ack=sys.argv[1] == "take")
    assert body == b"kept across restarts", body
    if sys.argv[1] == "peek":
        ch.basic_nack(method.delivery_tag, requeue=True)
c.close()
EOF
}

start_broker
check "pika publishes a confirmed persistent message" pika publish
check "the management API answers" /usr/bin/python3 -c '
import base64, urllib.request
r = urllib.request.Request("http://127.0.0.1:15672/api/overview",
    headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
assert urllib.request.urlopen(r, timeout=5).status == 200'
check "warrenctl lists the queue" bash -c 'warrenctl -q -f tsv list queues name | grep -qx "fresh-deb"'
check "the data directory holds warren's files only" \
	bash -c '[ -z "$(find /var/lib/warren ! -user warren)" ] && [ -n "$(ls /var/lib/warren)" ]'
stop_broker
start_broker
check "the message survived a restart" pika peek
stop_broker

step "reinstall the package over the data (what an upgrade does)"
apt-get install -y -qq --reinstall "/tmp/$(basename "$deb")"
check "warren.conf was kept as a conffile" grep -qx "data_dir = /var/lib/warren" /etc/warren/warren.conf
start_broker
check "the message survived the reinstall" pika take
stop_broker

step "apt-get purge --autoremove warren"
apt-get purge -y -qq --autoremove warren
snapshot >/tmp/after.txt
check "the package is gone" bash -c '! dpkg -s warren >/dev/null 2>&1'
check "/var/lib/warren, /var/log/warren and /etc/warren are gone" \
	bash -c '[ ! -e /var/lib/warren ] && [ ! -e /var/log/warren ] && [ ! -e /etc/warren ]'
check "no unit symlink is left" bash -c '[ -z "$(find /etc/systemd -name "warren*")" ]'
check "no file is owned by warren" bash -c '[ -z "$(find / -xdev -user warren 2>/dev/null)" ]'
check "no dpkg statoverride is left" bash -c '! dpkg-statoverride --list | grep -q warren'
# adduser leaves backups of the account files it changed for the (kept) user
left=$(comm -13 /tmp/before.txt /tmp/after.txt | grep -vxE '/etc/(passwd|group|shadow|gshadow)-' || true)
gone=$(comm -23 /tmp/before.txt /tmp/after.txt)
echo "paths added since before the install: ${left:-none}"
echo "paths removed since before the install: ${gone:-none}"
check "nothing is left behind (outside apt's and dpkg's own records)" test -z "$left$gone"
echo "the system user warren is kept, as Debian packages keep theirs: $(getent passwd warren)"
echo "fresh-deb-check: OK"
