#!/usr/bin/env bash
# A throwaway PostgreSQL primary and a hot-standby replica of it, for tests/test_replica.py.
# Never touches the machine's own cluster: both live in a fresh temporary directory.
#
#   tests/scripts/pg_replica.sh up PRIMARY_PORT REPLICA_PORT   prints the directory, last line
#   tests/scripts/pg_replica.sh down DIRECTORY                 stops both, removes everything
#   tests/scripts/pg_replica.sh stop|start DIRECTORY NODE       stops or starts one (primary,
#                                                              replica), keeping its files
#
# The primary (wal_level=replica) trusts every local connection, except for the role
# shopbot_password, which must give its password (scram-sha-256). The replica is made with
# `pg_basebackup -R` and streams from the primary. As root the servers run as the postgres user
# (runuser), otherwise as ourselves. If `up` fails half-way, it removes what it made.
set -Eeuo pipefail

pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$pg_bin/initdb" ] || { echo "pg_replica.sh: no PostgreSQL server binaries (set PG_BIN)" >&2; exit 1; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

down() {
  local dir=$1 node
  for node in replica primary; do
    if [ -f "$dir/$node/postmaster.pid" ]; then
      as_postgres "$pg_bin/pg_ctl" -D "$dir/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$dir"
}

up() {
  local primary_port=$1 replica_port=$2 dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/shopbot-replica.XXXXXX")
  trap 'tail -n 20 "$dir"/*.log >&2 2>/dev/null || true; down "$dir"' ERR
  chmod 755 "$dir"
  [ "$(id -u)" != 0 ] || chown postgres "$dir"

  as_postgres "$pg_bin/initdb" -D "$dir/primary" -U postgres -A trust --no-sync >/dev/null
  cat >> "$dir/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 4
fsync = off
CONF
  cat > "$dir/primary/pg_hba.conf" <<HBA
local all all trust
host all shopbot_password 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
  as_postgres "$pg_bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null

  as_postgres "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$dir/replica" -R -X stream -c fast
  echo "port = $replica_port" >> "$dir/replica/postgresql.conf"
  as_postgres "$pg_bin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null
  trap - ERR
  echo "$dir"
}

node() {
  local action=$1 dir=$2 node=$3
  [ -d "$dir/$node" ] || { echo "pg_replica.sh: no $node in $dir" >&2; exit 2; }
  if [ "$action" = stop ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null
  else
    as_postgres "$pg_bin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
  fi
}

case "${1:-}" in
  up) [ $# = 3 ] || { echo "usage: $0 up PRIMARY_PORT REPLICA_PORT" >&2; exit 2; }; up "$2" "$3" ;;
  down) [ $# = 2 ] || { echo "usage: $0 down DIRECTORY" >&2; exit 2; }; down "$2" ;;
  stop|start) [ $# = 3 ] || { echo "usage: $0 $1 DIRECTORY NODE" >&2; exit 2; }; node "$@" ;;
  *) echo "usage: $0 up PRIMARY_PORT REPLICA_PORT | down DIRECTORY | stop|start DIRECTORY NODE" >&2
     exit 2 ;;
esac
