#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. the gcc build: unit, protocol, fuzz-corpus replay and benchmark smoke tests (meson test)
#   2. the same tests in the ASan+UBSan build (clang)
#   3. the conformance scenarios (pika, py-amqp/kombu, amqplib, rabbitmq-c) against a freshly
#      started Warren
# Prints one summary line per stage and a final "N passed, M failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --asan || { echo "setup failed"; exit 1; }

passed=0
failed=0
stage() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		echo "=== $name: FAILED"
	fi
}

stage "meson test (gcc)" meson test -C build --print-errorlogs --num-processes 2
stage "meson test (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3
stage "conformance (Warren)" ./scripts/conformance-warren.sh build/broker/warren

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
