#!/usr/bin/env bash
# npm run bench [-- flags]: SplitClone against mariadb-dump | mariadb and the LOAD DATA ingest limit (bench/run.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-mariadb.sh
[ -d node_modules ] || npm install --no-audit --no-fund
exec node --import tsx/esm bench/run.ts "$@"
