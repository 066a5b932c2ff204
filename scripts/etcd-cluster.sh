#!/usr/bin/env bash
# A local etcd cluster of three members on loopback, for the tests (and anyone trying `--topo etcd://…`).
#   etcd-cluster.sh start DIR BASE_PORT     start members 0-2 (member i: client BASE_PORT+2i, peer BASE_PORT+2i+1),
#                                           wait until the cluster answers, print its endpoints (host:port,…)
#   etcd-cluster.sh start-member DIR BASE_PORT I   (re)start one member of an existing cluster (after a kill)
#   etcd-cluster.sh stop DIR                 stop every member this DIR's pid files name, remove DIR
# Each member's data, log and pid file live under DIR/mI. Only processes started here are stopped.
set -euo pipefail

action="${1:?usage: etcd-cluster.sh start|start-member|stop DIR [BASE_PORT] [I]}"
dir="${2:?DIR missing}"
members=3

client_port() { echo $(($1 + 2 * $2)); }
peer_port() { echo $(($1 + 2 * $2 + 1)); }

initial_cluster() {
  local base=$1 list="" i
  for ((i = 0; i < members; i++)); do list+="${list:+,}m$i=http://127.0.0.1:$(peer_port "$base" $i)"; done
  echo "$list"
}

endpoints() {
  local base=$1 list="" i
  for ((i = 0; i < members; i++)); do list+="${list:+,}127.0.0.1:$(client_port "$base" $i)"; done
  echo "$list"
}

start_member() {
  local base=$1 i=$2 state=$3
  local d="$dir/m$i"
  mkdir -p "$d"
  # Short heartbeat and election: a killed leader is replaced in about a second.
  nohup etcd --name "m$i" --data-dir "$d/data" \
    --listen-client-urls "http://127.0.0.1:$(client_port "$base" "$i")" --advertise-client-urls "http://127.0.0.1:$(client_port "$base" "$i")" \
    --listen-peer-urls "http://127.0.0.1:$(peer_port "$base" "$i")" --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$base" "$i")" \
    --initial-cluster "$(initial_cluster "$base")" --initial-cluster-state "$state" --initial-cluster-token "shardworker-test-$base" \
    --heartbeat-interval 100 --election-timeout 1000 --quota-backend-bytes 268435456 --logger zap --log-level warn \
    >"$d/etcd.log" 2>&1 &
  echo $! >"$d/pid"
}

wait_healthy() {
  local base=$1 i
  for ((i = 0; i < 300; i++)); do
    if ETCDCTL_API=3 etcdctl --endpoints "$(endpoints "$base")" --command-timeout=2s endpoint health >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "etcd-cluster: the members did not become healthy; see $dir/m*/etcd.log" >&2
  return 1
}

case "$action" in
  start)
    base="${3:?BASE_PORT missing}"
    rm -rf "$dir"
    for ((i = 0; i < members; i++)); do start_member "$base" "$i" new; done
    wait_healthy "$base"
    endpoints "$base"
    ;;
  start-member)
    base="${3:?BASE_PORT missing}"
    start_member "$base" "${4:?I missing}" existing
    wait_healthy "$base"
    ;;
  stop)
    for pidfile in "$dir"/m*/pid; do
      [ -f "$pidfile" ] || continue
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for ((t = 0; t < 50; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
    ;;
  *)
    echo "etcd-cluster: unknown action $action" >&2
    exit 2
    ;;
esac
