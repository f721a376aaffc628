#!/usr/bin/env bash
# Installs everything the tests need, builds, and runs the whole suite with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=1 "${files[@]}"
