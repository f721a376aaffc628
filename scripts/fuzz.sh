#!/usr/bin/env bash
# A seeded gRPC fuzz run against a private ledgerd: every method of every service, hostile input,
# 1 ms deadlines and cancellations; fails if an answer is not a proper status, the daemon stops
# answering writes, or a refused call left a record. Usage: scripts/fuzz.sh [--seconds N] [--seed S] [--concurrency C] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/test/fuzz/cli.js ] || npm run build >/dev/null
exec node dist/test/fuzz/cli.js "$@"
