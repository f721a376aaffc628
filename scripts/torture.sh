#!/usr/bin/env bash
# The crash torture (test/torture): several real ctr clients against one daemon, SIGKILL at random
# moments, restart, invariants checked each round. Needs root, runc, ctr, docker-registry and
# busybox-static (scripts/install.sh --test), and a build (npm run build).
#   scripts/torture.sh --rounds 30 --seed 7 [--clients 4]
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/test/torture/main.js "$@"
