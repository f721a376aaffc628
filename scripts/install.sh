#!/usr/bin/env bash
# Installs what ledgerd needs on a fresh Debian 12 machine (as root) and builds it.
#   scripts/install.sh          runtime: runc, ctr (Debian's containerd package), Node packages; CNI plugins for CRI pods;
#                               openssl (the CRI streaming server's self-signed certificate with enable_tls_streaming)
#   scripts/install.sh --test   also what the test suite uses: registry, busybox-static, jq, curl,
#                               systemd-analyze (package systemd), mkfs.ext4 (e2fsprogs: the disk-full fault tests),
#                               nats-server (the NATS JetStream export tests)
#   scripts/install.sh --systemd  also ledgerd and ledgerctl in /usr/local/bin and the unit
#                               /etc/systemd/system/ledgerd.service; then `systemctl enable --now ledgerd`
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(runc containerd iproute2 ca-certificates zstd containernetworking-plugins openssl)
systemd_unit=false
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(docker-registry busybox-static jq curl skopeo systemd e2fsprogs nats-server) ;;
    --systemd) systemd_unit=true ;;
    *) echo "install: unknown option $arg (--test, --systemd)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packages' own daemons (containerd, docker-registry) from starting
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v node >/dev/null || { echo "install: Node.js 20 or newer is required" >&2; exit 1; }
# npm install, not npm ci: npm 11 leaves the other platforms' optional packages (msgpackr-extract, lmdb)
# out of the lock file and ci then refuses it; install still follows the lock.
npm install --no-audit --no-fund --loglevel=error
npm run build --silent

# ledgerd's runc shim, where containerd (and ledgerd) look up `io.containerd.ledger.v1`
ln -sf "$PWD/bin/containerd-shim-ledger-v1" /usr/local/bin/containerd-shim-ledger-v1

if $systemd_unit; then
  ln -sf "$PWD/bin/ledgerd" /usr/local/bin/ledgerd
  ln -sf "$PWD/bin/ledgerctl" /usr/local/bin/ledgerctl
  install -D -m 0644 contrib/systemd/ledgerd.service /etc/systemd/system/ledgerd.service
  # where systemd runs (not in a plain container), it reads the new unit now
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "install: ledgerd.service installed; start it with: systemctl enable --now ledgerd"
fi
