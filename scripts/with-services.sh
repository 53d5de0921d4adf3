#!/usr/bin/env bash
# Usage: scripts/with-services.sh CMD ARGS...
#
# Makes sure a PostgreSQL and a Redis are reachable for tests, exports
#   KEYWARD_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
#   KEYWARD_TEST_REDIS_URL    (default redis://127.0.0.1:6379)
#   KEYWARD_TEST_REDIS_CLUSTER_URL (default: a throwaway Redis Cluster of 3 masters and 3 replicas,
#                             started here by scripts/redis-cluster.sh on free loopback ports)
# then runs CMD ARGS... and exits with its status.
#
# A service that is not reachable (or, for PostgreSQL, does not accept the URL's login) is replaced by a
# throwaway instance started from the installed server binaries on a free port of 127.0.0.1; the exported
# URL then points at it, and it is stopped and removed on exit, whatever the outcome of CMD.
# If the server binaries are missing too, this script fails: it never silently skips a service.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
INSTALL_HINT='sudo apt-get update && sudo apt-get install -y postgresql redis-server'
PG_DEFAULT='postgres://postgres@127.0.0.1:5432/test'
REDIS_DEFAULT='redis://127.0.0.1:6379'

say() { echo "with-services: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

# --- helpers -------------------------------------------------------------------------------------------

# Hide the password of a URL (scheme://user:secret@host -> scheme://user:***@host).
mask() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# parse_url URL DEFAULT_PORT: sets U_SCHEME U_USERINFO U_HOST U_PORT U_PATH (path incl. leading / and query).
parse_url() {
  local url=$1 rest hostport
  U_SCHEME=${url%%://*}
  rest=${url#*://}
  hostport=${rest%%[/?]*}
  U_PATH=${rest:${#hostport}}
  U_USERINFO=
  if [[ $hostport == *@* ]]; then
    U_USERINFO=${hostport%@*}
    hostport=${hostport##*@}
  fi
  if [[ $hostport =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then # [ipv6]:port
    U_HOST=${BASH_REMATCH[1]}
    U_PORT=${BASH_REMATCH[3]}
  elif [[ $hostport =~ ^([^:]*)(:([0-9]+))?$ ]]; then
    U_HOST=${BASH_REMATCH[1]}
    U_PORT=${BASH_REMATCH[3]}
  else
    die "cannot parse host and port from URL $(mask "$url")"
  fi
  [[ -n $U_HOST ]] || U_HOST=127.0.0.1
  [[ -n $U_PORT ]] || U_PORT=$2
}

with_timeout() {
  if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi
}

tcp_open() { with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

free_port() {
  local p
  if command -v python3 >/dev/null 2>&1 &&
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) &&
    [[ $p =~ ^[0-9]+$ ]]; then
    echo "$p"
    return
  fi
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! tcp_open 127.0.0.1 "$p"; then
      echo "$p"
      return
    fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

# Run a command as the unprivileged service user when we are root (initdb/postgres refuse to run as root).
RUN_AS=
if [[ $(id -u) -eq 0 ]]; then
  if id postgres >/dev/null 2>&1; then RUN_AS=postgres; else RUN_AS=nobody; fi
fi
run_as() {
  if [[ -z $RUN_AS ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$RUN_AS" -- "$@"
  else
    su -s /bin/bash "$RUN_AS" -c "$(printf '%q ' "$@")"
  fi
}

# --- cleanup -------------------------------------------------------------------------------------------

PG_TMP=
PG_BIN=
REDIS_TMP=
CLUSTER_TMP=
cleanup() {
  local rc=$?
  set +e
  if [[ -n $PG_TMP && -d $PG_TMP ]]; then
    if [[ -f $PG_TMP/data/postmaster.pid ]]; then
      (cd "$PG_TMP" && run_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w -t 30 stop >/dev/null 2>&1)
      local pid
      pid=$(head -1 "$PG_TMP/data/postmaster.pid" 2>/dev/null)
      [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$PG_TMP"
    say "stopped throwaway PostgreSQL and removed $PG_TMP"
  fi
  if [[ -n $REDIS_TMP && -d $REDIS_TMP ]]; then
    if [[ -f $REDIS_TMP/redis.pid ]]; then
      local rpid
      rpid=$(cat "$REDIS_TMP/redis.pid" 2>/dev/null)
      if [[ -n $rpid ]]; then
        kill -TERM "$rpid" 2>/dev/null
        for _ in $(seq 1 50); do
          kill -0 "$rpid" 2>/dev/null || break
          sleep 0.1
        done
        kill -KILL "$rpid" 2>/dev/null
      fi
    fi
    rm -rf "$REDIS_TMP"
    say "stopped throwaway Redis and removed $REDIS_TMP"
  fi
  if [[ -n $CLUSTER_TMP ]]; then
    "$HERE/redis-cluster.sh" stop "$CLUSTER_TMP"
    say "stopped throwaway Redis Cluster and removed $CLUSTER_TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_tmp() {
  # As root the directory must be reachable by the service user: stay in /tmp.
  local base=${TMPDIR:-/tmp}
  [[ -z $RUN_AS ]] || base=/tmp
  mktemp -d "$base/keyward-$1.XXXXXX"
}

# --- PostgreSQL ----------------------------------------------------------------------------------------

find_pg_bin() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    if [[ -x $d/pg_ctl && -x $d/postgres ]]; then
      echo "$d"
      return
    fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
      echo "$d"
      return
    fi
  done
  return 1
}

# Prints nothing and succeeds when the server answers and (when psql exists) accepts the URL's login;
# otherwise prints the reason and fails.
pg_check() {
  local url=$1 host=$2 port=$3 out
  if command -v pg_isready >/dev/null 2>&1; then
    if ! out=$(with_timeout 10 pg_isready -h "$host" -p "$port" -t 5 2>&1); then
      echo "not reachable (${out:-pg_isready failed})"
      return 1
    fi
  elif ! tcp_open "$host" "$port"; then
    echo "not reachable (nothing listens on $host:$port)"
    return 1
  fi
  if command -v psql >/dev/null 2>&1; then
    if ! out=$(PGCONNECT_TIMEOUT=5 with_timeout 15 psql "$url" -w -X -At -c 'select 1' 2>&1); then
      echo "reachable but refuses the login: $(head -1 <<<"$out")"
      return 1
    fi
  fi
}

start_pg() {
  local url=$1 port bin log dbname user psql
  if ! bin=$(find_pg_bin); then
    die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under /usr/lib/postgresql/*/bin, so no throwaway PostgreSQL can be started. Install them: $INSTALL_HINT"
  fi
  PG_BIN=$bin
  PG_TMP=$(make_tmp pg)
  mkdir -p "$PG_TMP/data" "$PG_TMP/sock"
  [[ -z $RUN_AS ]] || chown -R "$RUN_AS:" "$PG_TMP"
  chmod 700 "$PG_TMP/data"
  log=$PG_TMP/postgres.log
  port=$(free_port)

  if ! (cd "$PG_TMP" && run_as "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=trust --no-locale -E UTF8 \
    --no-sync >"$PG_TMP/initdb.log" 2>&1); then
    cat "$PG_TMP/initdb.log" >&2
    die "initdb failed (see above)"
  fi
  if ! (cd "$PG_TMP" && run_as "$bin/pg_ctl" -D "$PG_TMP/data" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_TMP/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1); then
    cat "$log" >&2 || true
    die "throwaway PostgreSQL did not start (log above)"
  fi

  # Database and role named in the URL (default: database "test", role "postgres").
  parse_url "$url" 5432
  dbname=${U_PATH#/}
  dbname=${dbname%%\?*}
  [[ -n $dbname ]] || dbname=test
  user=${U_USERINFO%%:*}
  [[ -n $user ]] || user=postgres
  psql=$bin/psql
  [[ -x $psql ]] || psql=$(command -v psql) || die "psql not found: cannot create the test database. Install it: $INSTALL_HINT"
  local -a q=("$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  if [[ $user != postgres ]]; then
    "${q[@]}" -c "CREATE ROLE \"$user\" LOGIN SUPERUSER" >/dev/null || die "could not create role $user"
  fi
  if [[ $dbname != postgres ]]; then
    "${q[@]}" -c "CREATE DATABASE \"$dbname\" OWNER \"$user\"" >/dev/null || die "could not create database $dbname"
  fi

  local auth=
  [[ -z $U_USERINFO ]] || auth="$U_USERINFO@"
  KEYWARD_TEST_DATABASE_URL="$U_SCHEME://${auth}127.0.0.1:$port$U_PATH"
  say "PostgreSQL: started throwaway $("$bin/postgres" --version | awk '{print $3}') from $bin at $(mask "$KEYWARD_TEST_DATABASE_URL") (data in $PG_TMP, removed on exit)"
}

# --- Redis ---------------------------------------------------------------------------------------------

redis_check() {
  local url=$1 host=$2 port=$3 out
  if command -v redis-cli >/dev/null 2>&1; then
    local -a cli=(redis-cli -h "$host" -p "$port")
    # Credentials in the URL: let redis-cli parse the whole URL.
    [[ $url != *@* ]] || cli=(redis-cli -u "$url")
    out=$(with_timeout 5 "${cli[@]}" ping 2>/dev/null) || true
    if [[ $out != PONG ]]; then
      echo "not reachable (ping answered: ${out:-nothing})"
      return 1
    fi
  elif ! tcp_open "$host" "$port"; then
    echo "not reachable (nothing listens on $host:$port)"
    return 1
  fi
}

start_redis() {
  local url=$1 port server
  server=$(command -v redis-server) ||
    die "redis-server not found on PATH, so no throwaway Redis can be started. Install it: $INSTALL_HINT"
  REDIS_TMP=$(make_tmp redis)
  port=$(free_port)
  if ! redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$REDIS_TMP" --pidfile "$REDIS_TMP/redis.pid" --logfile "$REDIS_TMP/redis.log" >/dev/null 2>&1; then
    cat "$REDIS_TMP/redis.log" >&2 || true
    die "throwaway Redis did not start (log above)"
  fi
  local ok=
  for _ in $(seq 1 100); do
    if [[ -f $REDIS_TMP/redis.pid ]] && tcp_open 127.0.0.1 "$port"; then
      if ! command -v redis-cli >/dev/null 2>&1 || [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
        ok=1
        break
      fi
    fi
    sleep 0.1
  done
  if [[ -z $ok ]]; then
    cat "$REDIS_TMP/redis.log" >&2 || true
    die "throwaway Redis did not answer on 127.0.0.1:$port (log above)"
  fi
  # The throwaway has no password: keep only the database path of the original URL.
  parse_url "$url" 6379
  KEYWARD_TEST_REDIS_URL="redis://127.0.0.1:$port$U_PATH"
  say "Redis: started throwaway $("$server" --version | grep -o 'v=[^ ]*') at $KEYWARD_TEST_REDIS_URL (dir $REDIS_TMP, removed on exit)"
}

# --- main ----------------------------------------------------------------------------------------------

KEYWARD_TEST_DATABASE_URL=${KEYWARD_TEST_DATABASE_URL:-$PG_DEFAULT}
KEYWARD_TEST_REDIS_URL=${KEYWARD_TEST_REDIS_URL:-$REDIS_DEFAULT}

parse_url "$KEYWARD_TEST_DATABASE_URL" 5432
if reason=$(pg_check "$KEYWARD_TEST_DATABASE_URL" "$U_HOST" "$U_PORT"); then
  say "PostgreSQL: using $(mask "$KEYWARD_TEST_DATABASE_URL") (reachable)"
else
  say "PostgreSQL: $U_HOST:$U_PORT $reason; starting a throwaway instance"
  start_pg "$KEYWARD_TEST_DATABASE_URL"
fi

parse_url "$KEYWARD_TEST_REDIS_URL" 6379
if reason=$(redis_check "$KEYWARD_TEST_REDIS_URL" "$U_HOST" "$U_PORT"); then
  say "Redis: using $(mask "$KEYWARD_TEST_REDIS_URL") (reachable)"
else
  say "Redis: $U_HOST:$U_PORT $reason; starting a throwaway instance"
  start_redis "$KEYWARD_TEST_REDIS_URL"
fi

if [[ -z ${KEYWARD_TEST_REDIS_CLUSTER_URL:-} ]]; then
  CLUSTER_TMP=$(make_tmp redis-cluster)
  # shellcheck disable=SC2046 # six ports, one word each
  KEYWARD_TEST_REDIS_CLUSTER_URL=$("$HERE/redis-cluster.sh" start "$CLUSTER_TMP" $("$HERE/redis-cluster.sh" ports 6)) ||
    die "the throwaway Redis Cluster did not start (see above)"
  say "Redis Cluster: started throwaway 3 masters + 3 replicas at $KEYWARD_TEST_REDIS_CLUSTER_URL (dir $CLUSTER_TMP, removed on exit)"
else
  say "Redis Cluster: using $(mask "$KEYWARD_TEST_REDIS_CLUSTER_URL")"
fi

export KEYWARD_TEST_DATABASE_URL KEYWARD_TEST_REDIS_URL KEYWARD_TEST_REDIS_CLUSTER_URL

set +e
"$@"
rc=$?
set -e
exit "$rc"
