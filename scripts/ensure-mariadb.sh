#!/usr/bin/env bash
# Installs the MariaDB server the sandbox runs (mariadbd + mariadb-install-db) when it is missing.
# Idempotent and silent when it is already there. Debian/Ubuntu (apt-get) only.
set -euo pipefail

have_mariadb() {
  { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } &&
    { command -v mariadb-install-db >/dev/null 2>&1 || [ -x /usr/bin/mariadb-install-db ]; }
}

have_mariadb && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-mariadb: mariadbd is missing and apt-get is not available; install MariaDB server (10.6+) with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-mariadb: not root and no sudo; run as root: apt-get install -y mariadb-server mariadb-client" >&2
    exit 1
  fi
fi

echo "ensure-mariadb: installing mariadb-server and mariadb-client with apt-get" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null

if ! have_mariadb; then
  echo "ensure-mariadb: installation finished but mariadbd is still not found" >&2
  exit 1
fi
echo "ensure-mariadb: $( (command -v mariadbd || echo /usr/sbin/mariadbd) | head -1) installed" >&2
