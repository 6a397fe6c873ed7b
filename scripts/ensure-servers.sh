#!/usr/bin/env bash
# Installs the servers and tools the test suite runs for real (etcd, etcdctl, openssl, PostgreSQL,
# ZooKeeper, a JDK, Apache Curator) when missing.
# Runs before `npm test` and in CI; needs root or sudo on Debian/Ubuntu, otherwise says what to install.
# PostgreSQL counts as present when $PG_BIN/initdb exists or any $PG_PREFIX/*/bin/initdb does
# (PG_PREFIX defaults to /usr/lib/postgresql: Debian keeps initdb off PATH).
# ZooKeeper and Curator count as present when Debian's jars are in $JAVA_SHARE (default /usr/share/java);
# the fixtures start ZooKeeper with `java` and compile a Curator program with `javac`.
set -euo pipefail
PG_PREFIX="${PG_PREFIX:-/usr/lib/postgresql}"
JAVA_SHARE="${JAVA_SHARE:-/usr/share/java}"

missing=()
packages=()
need() { missing+=("$1"); packages+=("$2"); }
command -v etcd >/dev/null || need etcd etcd-server
command -v etcdctl >/dev/null || need etcdctl etcd-client
command -v openssl >/dev/null || need openssl openssl
if ! { [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; } && ! compgen -G "$PG_PREFIX/*/bin/initdb" >/dev/null; then
  need initdb postgresql
fi
[ -f "$JAVA_SHARE/zookeeper.jar" ] || need zookeeper.jar zookeeper
# default-jdk-headless brings the JRE too; a JRE without javac is not enough to build the Curator program.
command -v javac >/dev/null || need javac default-jdk-headless
for lib in recipes framework client; do
  [ -f "$JAVA_SHARE/curator-$lib.jar" ] || need "curator-$lib.jar" "libcurator-$lib-java"
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "ensure-servers: installing ${packages[*]} (missing: ${missing[*]})" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "ensure-servers: run as root, or install: apt-get install ${packages[*]}" >&2
    exit 1
  fi
fi

# The postgresql package creates a default cluster and starts it on port 5432. The tests start their
# own clusters (and ZooKeeper servers), so a policy-rc.d that denies service starts (exit 101) keeps that one from running;
# an existing policy-rc.d (common in containers) is left as it is.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# Written by ballot scripts/ensure-servers.sh for the duration of apt-get install.\nexit 101\n' |
    $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi

$SUDO apt-get update -q
# Through env: sudo would otherwise drop an exported DEBIAN_FRONTEND.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
