#!/usr/bin/env bash
# The whole test suite, set-up included: MariaDB, etcd and Chromium (apt-get, when missing), npm packages, a sandbox
# of real mariadbd instances and a three-member etcd cluster shared by the integration tests (started here, stopped
# on exit). SHARDWORKER_TEST_ETCD_BASE_PORT (default 23790) picks the etcd members' ports: 6 from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-mariadb.sh
bash scripts/ensure-etcd.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-node-modules.sh

# Times in this zone's DST gap must survive the copy unchanged.
export TZ=America/New_York
export SHARDWORKER_TEST_SANDBOX="${SHARDWORKER_TEST_SANDBOX:-$PWD/.sandbox-test}"
export SHARDWORKER_TEST_BASE_PORT="${SHARDWORKER_TEST_BASE_PORT:-16300}"
export SHARDWORKER_TEST_ETCD_DIR="${SHARDWORKER_TEST_ETCD_DIR:-$PWD/.etcd-test}"
export SHARDWORKER_TEST_ETCD_BASE_PORT="${SHARDWORKER_TEST_ETCD_BASE_PORT:-23790}"
stop_sandbox() {
  node bin/shardworker.js sandbox down --dir "$SHARDWORKER_TEST_SANDBOX" >/dev/null 2>&1 || true
  bash scripts/etcd-cluster.sh stop "$SHARDWORKER_TEST_ETCD_DIR" >/dev/null 2>&1 || true
}
trap stop_sandbox EXIT
# The etcd members' endpoints, for the tests that run against etcd (test/helpers/etcd.ts).
SHARDWORKER_TEST_ETCD="$(bash scripts/etcd-cluster.sh start "$SHARDWORKER_TEST_ETCD_DIR" "$SHARDWORKER_TEST_ETCD_BASE_PORT")"
export SHARDWORKER_TEST_ETCD
node bin/shardworker.js sandbox up --dir "$SHARDWORKER_TEST_SANDBOX" --base-port "$SHARDWORKER_TEST_BASE_PORT" --destinations 3 --rows 1000 >/dev/null

shopt -s globstar nullglob
# `npm test -- test/x.test.ts …` runs just those files (with the same set-up); other arguments go to node --test.
files=() args=()
for a in "$@"; do if [[ "$a" == *.test.ts ]]; then files+=("$a"); else args+=("$a"); fi; done
[ ${#files[@]} -gt 0 ] || files=(test/**/*.test.ts)
# Files run one at a time: the integration tests share the sandbox's replica, whose replication a job stops.
node --import tsx --test --test-concurrency=1 ${args[@]+"${args[@]}"} "${files[@]}"
