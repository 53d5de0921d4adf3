#!/usr/bin/env bash
# A throwaway Redis Cluster on loopback, from the installed redis-server and redis-cli.
#
#   scripts/redis-cluster.sh start DIR PORT...   start one node per PORT (6 ports: 3 masters with a
#                                                 replica each), data and logs in DIR, and wait until
#                                                 every node says cluster_state:ok; prints the URL
#                                                 redis+cluster://127.0.0.1:P1,...
#   scripts/redis-cluster.sh stop DIR            stop the nodes started in DIR and remove DIR
#   scripts/redis-cluster.sh ports N             print N free ports whose cluster bus port (+10000)
#                                                 is free too
#
# Each node's cluster bus listens on its port + 10000. A failed master is replaced by its replica
# after cluster-node-timeout (1 s here). Every wait is bounded; on failure the logs are printed.
set -euo pipefail

# The nodes daemonize: they must not inherit a descriptor of ours (a caller's flock, a pipe a test
# reads to its end), or they would hold it for as long as they run.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [[ $fd -gt 2 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

say() { echo "redis-cluster: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_ports() {
  local n=$1 p tries=0 found=() ephemeral_low=32768
  # Below the kernel's ephemeral range, bus ports included: a port that an outgoing connection
  # happens to use as its source is not listening, so port_open misses it, yet a bind to it fails.
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r ephemeral_low _ < /proc/sys/net/ipv4/ip_local_port_range
  fi
  local span=$((ephemeral_low - 10000 - 10000))
  [[ $span -gt 1000 ]] || span=20000
  while [[ ${#found[@]} -lt $n ]]; do
    tries=$((tries + 1))
    [[ $tries -lt 2000 ]] || die "could not find $n free ports (and their bus ports) on 127.0.0.1"
    p=$((10000 + RANDOM % span))
    # Neither the port nor its bus port may be another chosen node's port or bus port.
    [[ " ${found[*]} " != *" $p "* && " ${found[*]} " != *" $((p + 10000)) "* && " ${found[*]} " != *" $((p - 10000)) "* ]] || continue
    if ! port_open "$p" && ! port_open $((p + 10000)); then found+=("$p"); fi
  done
  echo "${found[@]}"
}

dump_logs() {
  local dir=$1 log
  for log in "$dir"/*.log; do
    [[ -f $log ]] || continue
    echo "--- $log" >&2
    tail -20 "$log" >&2
  done
}

start() {
  local dir=$1
  shift
  # A start that fails leaves nothing running.
  trap 'stop "$dir"' EXIT
  [[ $# -ge 6 ]] || die "start needs 6 ports or more (3 masters, one replica each)"
  command -v redis-server >/dev/null || die "redis-server not found: apt-get install -y redis-server"
  command -v redis-cli >/dev/null || die "redis-cli not found: apt-get install -y redis-tools"
  mkdir -p "$dir"
  local port nodes=()
  for port in "$@"; do
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 1000 \
      --cluster-replica-validity-factor 0 --dir "$dir" --pidfile "$dir/redis-$port.pid" \
      --logfile "$dir/redis-$port.log" >/dev/null || { dump_logs "$dir"; die "node $port did not start"; }
    nodes+=("127.0.0.1:$port")
  done
  for port in "$@"; do
    for _ in $(seq 1 100); do
      [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break
      sleep 0.1
    done
    [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] || { dump_logs "$dir"; die "node $port does not answer"; }
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    { cat "$dir/create.log" >&2; die "redis-cli --cluster create failed"; }
  local ok
  for _ in $(seq 1 200); do
    ok=1
    for port in "$@"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=
    done
    # Every replica must be attached before a failover can promote it.
    [[ -n $ok && $(redis-cli -p "$1" cluster nodes 2>/dev/null | grep -c ' slave ') -ge $(($# / 2)) ]] || ok=
    [[ -z $ok ]] || break
    sleep 0.1
  done
  [[ -n $ok ]] || { dump_logs "$dir"; die "the cluster did not reach cluster_state:ok"; }
  trap - EXIT
  local IFS=,
  echo "redis+cluster://${nodes[*]}"
}

stop() {
  local dir=$1 pidfile pid
  [[ -d $dir ]] || return 0
  for pidfile in "$dir"/redis-*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case ${1:-} in
start)
  [[ $# -ge 2 ]] || die "usage: $0 start DIR PORT..."
  shift
  start "$@"
  ;;
stop)
  [[ $# -eq 2 ]] || die "usage: $0 stop DIR"
  stop "$2"
  ;;
ports)
  [[ $# -eq 2 ]] || die "usage: $0 ports N"
  free_ports "$2"
  ;;
*)
  echo "usage: $0 start DIR PORT... | stop DIR | ports N" >&2
  exit 2
  ;;
esac
