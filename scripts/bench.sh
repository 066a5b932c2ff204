#!/usr/bin/env bash
# npm run bench [-- flags]: SplitClone against mariadb-dump | mariadb and the LOAD DATA ingest limit (bench/run.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-mariadb.sh
bash scripts/ensure-node-modules.sh
# `--watch` first: bench/watch-cost.ts (what 500 status requests/s cost a copy) instead of the contenders.
if [ "${1:-}" = "--watch" ]; then shift; exec node --import tsx/esm bench/watch-cost.ts "$@"; fi
# The V8 flag of bin/shardworker.js's shebang: the stream mode runs the streams in this process, as `serve` would.
exec node --max-semi-space-size=4 --import tsx/esm bench/run.ts "$@"
