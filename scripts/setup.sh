#!/usr/bin/env bash
# Installs whatever Debian packages are missing and builds Warren into build/ (gcc) and, with
# --asan, also build-asan/ (clang, AddressSanitizer + UndefinedBehaviorSanitizer).
# Safe to run repeatedly: it only installs and configures what is not there yet. Both directories
# treat warnings as errors (-Dwerror=true, also turned on in directories configured before).
set -euo pipefail
cd "$(dirname "$0")/.."

asan=0
[ "${1:-}" = "--asan" ] && asan=1

packages=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libevent-dev libjansson-dev
	libssl-dev check python3 python3-pika python3-amqp python3-kombu librabbitmq-dev amqp-tools
	curl ca-certificates procps openssl chromium chromium-driver python3-selenium man-db systemd
	golang-go golang-github-rabbitmq-amqp091-go-dev ruby ruby-bunny php-cli php-amqplib
	python3-aio-pika python3-aiormq valgrind etcd-server etcd-client iproute2)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (for the amqplib conformance client): any installed node with npm will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
fi

source scripts/builddir.sh
builddir_setup build --buildtype=debugoptimized
ninja -C build >&2

if [ "$asan" = 1 ]; then
	CC=clang builddir_setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		--buildtype=debug
	ninja -C build-asan >&2
fi
