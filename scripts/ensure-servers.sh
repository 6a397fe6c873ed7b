#!/usr/bin/env bash
# Installs the servers and tools the test suite runs for real (etcd, etcdctl, openssl) when missing.
# Runs before `npm test` and in CI; needs root or sudo on Debian/Ubuntu, otherwise says what to install.
set -euo pipefail
missing=()
for tool in etcd etcdctl openssl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ensure-servers: installing etcd-server etcd-client openssl (missing: ${missing[*]})" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "ensure-servers: run as root, or install: apt-get install etcd-server etcd-client openssl" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q etcd-server etcd-client openssl
