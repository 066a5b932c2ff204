#!/usr/bin/env bash
# Installs the etcd server the tests run (three members on loopback) when it is missing: Debian's etcd-server, and
# etcdctl (etcd-client), with which scripts/etcd-cluster.sh waits for the members to be healthy.
# Idempotent and silent when it is already there. Debian/Ubuntu (apt-get) only.
set -euo pipefail

have_etcd() { { command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ]; } && command -v etcdctl >/dev/null 2>&1; }

have_etcd && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-etcd: etcd is missing and apt-get is not available; install etcd (3.4+) with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-etcd: not root and no sudo; run as root: apt-get install -y etcd-server etcd-client" >&2
    exit 1
  fi
fi

echo "ensure-etcd: installing etcd-server and etcd-client with apt-get" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
# Debian starts a system etcd on 2379/2380; the tests start their own members and need none.
$SUDO systemctl disable --now etcd >/dev/null 2>&1 || true

if ! have_etcd; then
  echo "ensure-etcd: installation finished but etcd is still not found" >&2
  exit 1
fi
echo "ensure-etcd: $(command -v etcd || echo /usr/bin/etcd) installed" >&2
