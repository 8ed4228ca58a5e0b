#!/usr/bin/env bash
# Installs what is missing, builds, and runs the broker in the foreground on 127.0.0.1:5672
# (management API on 15672 once it exists) with its data under ./data. Extra arguments are
# passed to the broker (see build/broker/warren --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec ./build/broker/warren --data-dir "${WARREN_DATA_DIR:-./data}" "$@"
