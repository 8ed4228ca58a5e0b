#!/usr/bin/env bash
# tests/packaging/nspawn-service.sh DEB: warren.service under a real systemd. Boots a Debian 12
# container (systemd-nspawn -b; systemd-container is installed on this machine if missing) with
# systemd and the package installed, and a one-shot unit that checks, after warren.service has
# started: the unit is active with Type=notify and a watchdog, keep-alives arrive, pika can
# publish and get, `systemctl reload` keeps it running and reaches the broker, the journal holds
# its lines with their priorities, `systemd-analyze security` rates it, `systemctl stop` ends it
# with status 0. Then the container powers off and the results are printed.
# Not in CI (a few minutes). The root comes from fresh-machine.sh's cache when there is one
# (FRESH_CACHE, default /tmp/warren-fresh), else from debootstrap.
#   usage: tests/packaging/nspawn-service.sh build-deb/warren_0.1.0_amd64.deb
set -euo pipefail
deb=$(realpath "${1:?usage: nspawn-service.sh DEB}")
cache=${FRESH_CACHE:-/tmp/warren-fresh}
root=$(mktemp -d /tmp/warren-nspawn.XXXXXX)
trap 'rm -rf --one-file-system "$root"; rm -f "$root.log"' EXIT

command -v systemd-nspawn >/dev/null || apt-get install -y -qq systemd-container >/dev/null
tarball=$(ls "$cache"/root-bookworm-minbase-*.tar 2>/dev/null | head -n1 || true)
if [ -n "$tarball" ]; then
	tar -C "$root" --numeric-owner -xpf "$tarball"
else
	command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
	debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
chroot "$root" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install \
	-y -qq --no-install-recommends systemd systemd-sysv dbus python3-pika \
	/tmp/$(basename "$deb")" >/dev/null
rm -f "$root/usr/sbin/policy-rc.d"

cat >"$root/root/check.sh" <<'EOF'
#!/bin/bash
exec >/root/check.out 2>&1
show() { systemctl show warren -p "$1" --value; }
echo "is-active: $(systemctl is-active warren)"
for p in Type NotifyAccess WatchdogUSec LimitNOFILE User MainPID NRestarts StatusText; do
	echo "$p: $(show $p)"
done
w1=$(show WatchdogTimestampMonotonic)
sleep 16
w2=$(show WatchdogTimestampMonotonic)
echo "watchdog keep-alive seen in 16 s: $([ "$w1" != "$w2" ] && echo yes || echo no) ($w1 -> $w2)"
/usr/bin/python3 - <<'PY'
import pika
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
ch = c.channel()
ch.queue_declare("nspawn", durable=True)
ch.confirm_delivery()
ch.basic_publish("", "nspawn", b"under systemd", pika.BasicProperties(delivery_mode=2))
print("pika get:", ch.basic_get("nspawn", auto_ack=True)[2])
c.close()
PY
pid=$(show MainPID)
systemctl reload warren
echo "after reload: $(systemctl is-active warren), same pid: $([ "$(show MainPID)" = "$pid" ] && echo yes || echo no)"
echo "--- journal (priority, message)"
journalctl -u warren -o json --no-pager | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("_PID") or e.get("SYSLOG_IDENTIFIER") == "warren":
        print(e.get("PRIORITY"), e.get("MESSAGE"))' | tail -n 14
echo "--- systemd-analyze security warren"
systemd-analyze security warren --no-pager | tail -n 1
systemctl stop warren
echo "after stop: $(systemctl is-active warren), ExecMainStatus=$(show ExecMainStatus), Result=$(show Result)"
echo "check: done"
systemctl poweroff --no-block
EOF
chmod +x "$root/root/check.sh"
cat >"$root/etc/systemd/system/warren-check.service" <<'EOF'
[Unit]
Description=check warren.service under systemd
Wants=warren.service
After=warren.service
[Service]
Type=oneshot
ExecStart=/root/check.sh
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/warren-check.service \
	"$root/etc/systemd/system/multi-user.target.wants/warren-check.service"

timeout 300 systemd-nspawn -q --register=no --keep-unit -D "$root" --private-network -b >"$root.log" 2>&1 || true
cat "$root/root/check.out" 2>/dev/null || { tail -n 40 "$root.log"; exit 1; }
rm -f "$root.log"
grep -q "^check: done" "$root/root/check.out"
