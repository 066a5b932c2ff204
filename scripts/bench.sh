#!/usr/bin/env bash
# npm run bench [-- flags]: SplitClone against mariadb-dump | mariadb and the LOAD DATA ingest limit (bench/run.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-mariadb.sh
bash scripts/ensure-node-modules.sh
exec node --import tsx/esm bench/run.ts "$@"
