#!/usr/bin/env bash
# The demo: a local sandbox (source primary + rdonly replica, two destination primaries) seeded with demo data,
# then a SplitClone of commerce/0 into -80 and 80-, with the status page served while it runs, under a small write
# load on the source; then `serve` runs the streams, which carry that load over to the new shards.
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
node bin/shardworker.js sandbox up --dir "$DIR" --rows "$ROWS" --reseed ${DEMO_BASE_PORT:+--base-port "$DEMO_BASE_PORT"}
SOURCE_PORT=$(node -e 'const t=require(process.argv[1]);for(const x of Object.values(t.tablets)) if(x.shard==="0"&&x.type==="primary") console.log(x.port)' "$PWD/$DIR/topology.json")
echo
echo "== a write load on the source primary (127.0.0.1:$SOURCE_PORT), during and after the clone: streams carry it"
node --import tsx scripts/demo-load.ts "$SOURCE_PORT" commerce "${DEMO_TPS:-20}" &
LOAD_PID=$!
DAEMON_PID=
cleanup() {
  [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null || true
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo
echo "== SplitClone commerce/0 -> -80, 80-   (open the status page printed below)"
status=0
node bin/shardworker.js --topo "file:$DIR/topology.json" --db-credentials-file "$DIR/credentials.json" --port "$PORT" \
  --log-level warn run SplitClone $DEMO_FLAGS commerce/0 || status=$?

if [ "$status" = 0 ]; then
  echo
  echo "== the streams (shardworker serve): the new shards follow the source from the clone's checkpoint"
  echo "   status page: http://127.0.0.1:$PORT/status"
  node bin/shardworker.js --topo "file:$DIR/topology.json" --db-credentials-file "$DIR/credentials.json" --port "$PORT" \
    --log-level warn serve >/dev/null &
  DAEMON_PID=$!
  for i in $(seq 1 "${DEMO_STREAM_SECONDS:-20}"); do
    sleep 1
    node bin/shardworker.js --port "$PORT" stream status 2>/dev/null | sed 's/^/  /' || true
  done
  echo "== the load stops; the streams catch up"
  kill "$LOAD_PID" 2>/dev/null || true
  wait "$LOAD_PID" 2>/dev/null || true
  LOAD_PID=
  target=$(mariadb -h127.0.0.1 -P"$SOURCE_PORT" -uroot -N -e 'SELECT @@gtid_binlog_pos')
  for i in $(seq 1 60); do
    lines=$(node bin/shardworker.js --port "$PORT" stream status 2>/dev/null || true)
    echo "$lines" | sed 's/^/  /'
    if [ -n "$lines" ] && ! echo "$lines" | grep -v "position MariaDB/$target " >/dev/null; then echo "  every stream is at the source's position ($target)"; break; fi
    sleep 1
  done
  kill "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=
fi
echo
echo "== rows per destination"
for port in $(node -e 'const t=require(process.argv[1]);for(const [a,x] of Object.entries(t.tablets)) if(x.shard!=="0") console.log(x.port)' "$PWD/$DIR/topology.json"); do
  mariadb -h127.0.0.1 -P"$port" -uroot -N -e "SELECT CONCAT('  127.0.0.1:$port customer ', (SELECT COUNT(*) FROM commerce.customer), ', corder ', (SELECT COUNT(*) FROM commerce.corder), ', product ', (SELECT COUNT(*) FROM commerce.product), ' rows')" 2>/dev/null || true
done
echo
echo "The sandbox keeps running: 'npx shardworker sandbox status --dir $DIR' shows it, 'npx shardworker sandbox down --dir $DIR' stops it."
exit $status
