#!/usr/bin/env bash
# The demo: a local sandbox (source primary + rdonly replica, two destination primaries) seeded with demo data,
# then a SplitClone of commerce/0 into -80 and 80-, with the status page served while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-mariadb.sh
bash scripts/ensure-node-modules.sh

DIR="${SANDBOX_DIR:-.sandbox}"
ROWS="${DEMO_ROWS:-300000}"
PORT="${PORT:-8080}"
# Throttled so the copy lasts long enough to watch in a browser (about 20 s); DEMO_FLAGS="" runs it flat out.
DEMO_FLAGS="${DEMO_FLAGS---write-query-max-size 256KiB --max-tps 8}"
echo "== starting the sandbox in $DIR and seeding $ROWS rows per table"
node bin/shardworker.js sandbox up --dir "$DIR" --rows "$ROWS" --reseed
echo
echo "== SplitClone commerce/0 -> -80, 80-   (open the status page printed below)"
status=0
node bin/shardworker.js --topo "file:$DIR/topology.json" --db-credentials-file "$DIR/credentials.json" --port "$PORT" \
  --log-level warn run SplitClone $DEMO_FLAGS commerce/0 || status=$?
echo
echo "== rows per destination"
for port in $(node -e 'const t=require(process.argv[1]);for(const [a,x] of Object.entries(t.tablets)) if(x.shard!=="0") console.log(x.port)' "$PWD/$DIR/topology.json"); do
  mariadb -h127.0.0.1 -P"$port" -uroot -N -e "SELECT CONCAT('  127.0.0.1:$port customer ', (SELECT COUNT(*) FROM commerce.customer), ', corder ', (SELECT COUNT(*) FROM commerce.corder), ', product ', (SELECT COUNT(*) FROM commerce.product), ' rows')" 2>/dev/null || true
done
echo
echo "The sandbox keeps running: 'npx shardworker sandbox status --dir $DIR' shows it, 'npx shardworker sandbox down --dir $DIR' stops it."
exit $status
