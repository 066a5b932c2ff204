#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json, then bundles the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# The bundle bin/shardworker.js starts from (it falls back to compiling the TypeScript when this is missing or stale).
node scripts/build.mjs
