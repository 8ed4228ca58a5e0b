#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. the gcc build: every meson suite (unit, protocol, fuzz-corpus replay, net, oom, mgmt,
#      cli, durability, powerloss, benchmark smoke)
#   2. the same tests in the ASan+UBSan build (clang), but for those that LD_PRELOAD a library
#      (powerloss, startup-oom), which meson defines in plain builds only
#   3. the conformance scenarios (pika, py-amqp/kombu, amqplib, rabbitmq-c) against a freshly
#      started Warren
#   4. libFuzzer: build-fuzz/ (clang, -Dfuzz=true, ASan+UBSan) runs every tests/fuzz/fuzz_*.c target
#      for FUZZ_SECONDS (default 15) each, two at a time; skipped when clang is missing
#   5. the release build: build-release/ (clang, --buildtype=release, so NDEBUG) builds everything
#      and runs the unit and fuzz-replay suites, which proves the harness checks are still on
# Every build directory treats warnings as errors (-Dwerror=true; scripts/builddir.sh).
# Prints one summary line per stage and a final "N passed, M failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --asan || { echo "setup failed"; exit 1; }
source scripts/builddir.sh

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
# --timeout-multiplier stretches meson's timeouts only; CK_TIMEOUT_MULTIPLIER stretches the
# per-test timeouts Check suites set themselves (tcase_set_timeout), as slow under ASan.
stage "meson test (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CK_TIMEOUT_MULTIPLIER=3 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3
stage "conformance (Warren)" ./scripts/conformance-warren.sh build/broker/warren

# One libFuzzer target for FUZZ_SECONDS. New inputs go to a scratch corpus under build-fuzz/ (the
# seeds in tests/fuzz/corpus/ stay untouched); a crash leaves build-fuzz/fuzz-artifacts/<target>-*.
fuzz_one() {
	local t=$1 secs=$2 out=build-fuzz/fuzz-artifacts
	mkdir -p "$out" "build-fuzz/fuzz-scratch/$t"
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t-" \
		"build-fuzz/fuzz-scratch/$t" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
		local runs
		runs=$(grep -m1 -o 'executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$')
		echo "fuzz_$t: ${runs:-?} runs in ${secs}s, no crash"
		return 0
	fi
	tail -n 40 "$out/$t.log"
	echo "fuzz_$t: FAILED; crashing input: $(ls "$out/$t"-* 2>/dev/null | tr '\n' ' ')"
	echo "fuzz_$t: replay with build-fuzz/tests/fuzz/fuzz_$t <input>"
	return 1
}

fuzz_all() {
	local secs=${FUZZ_SECONDS:-15} targets=() t rc=0
	for t in tests/fuzz/fuzz_*.c; do
		t=${t#tests/fuzz/fuzz_}
		targets+=("${t%.c}")
	done
	CC=clang builddir_setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false --buildtype=debug || return 1
	ninja -C build-fuzz "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null || return 1
	rm -rf build-fuzz/fuzz-artifacts
	# Two targets at a time (CI has two cores): about 3 x FUZZ_SECONDS for six targets.
	local pids=()
	for t in "${targets[@]}"; do
		fuzz_one "$t" "$secs" &
		pids+=($!)
		if [ ${#pids[@]} -ge 2 ]; then
			wait "${pids[0]}" || rc=1
			pids=("${pids[@]:1}")
		fi
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	return $rc
}

# A packager builds with --buildtype=release and link-time optimisation, as debian/rules and the
# README do: NDEBUG is set, and -O3 with LTO finds other warnings. clang builds the tree in about
# a minute of CPU on two cores (incrementally after the first run); the unit and fuzz-replay
# suites take a few seconds more.
release_build() {
	CC=clang builddir_setup build-release --buildtype=release -Db_lto=true || return 1
	ninja -C build-release >/dev/null || { ninja -C build-release; return 1; }
	meson test -C build-release --suite unit --suite fuzz --print-errorlogs --num-processes 2
}

if command -v clang >/dev/null 2>&1; then
	stage "libFuzzer (${FUZZ_SECONDS:-15}s per target)" fuzz_all
	stage "release build (clang, NDEBUG): unit + fuzz replay" release_build
else
	echo "=== libFuzzer: skipped (no clang)"
	echo "=== release build: skipped (no clang)"
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
