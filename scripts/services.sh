#!/usr/bin/env bash
# Makes sure the services authd needs are running: PostgreSQL and Valkey
# (or Redis 7), and a MailHog-compatible inbox (Mailpit) for development.
# It starts only what is not already answering, in this order: docker
# compose where a Docker engine runs, else the local binaries, and
# otherwise stops with a message naming what is missing.
#   scripts/services.sh                    # check / start PostgreSQL and Valkey
#   scripts/services.sh --database authd   # ... and create that database
#   scripts/services.sh --mail             # ... and an SMTP inbox on 127.0.0.1:1025 (UI :8025)
#   scripts/services.sh --install-mailpit  # ... and install Mailpit for the tests
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
VALKEY_HOST=${VALKEY_HOST:-127.0.0.1}
VALKEY_PORT=${VALKEY_PORT:-6379}

say() { printf 'services: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 name=$3
  for _ in $(seq 1 60); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  say "$name did not come up on $host:$port"
  return 1
}

docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

start_postgres() {
  if docker_engine; then
    say "starting PostgreSQL with docker compose"
    docker compose up -d postgres
  elif command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    say "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  else
    say "PostgreSQL is not running on $PG_HOST:$PG_PORT and cannot be started here."
    say "Install it (Debian: apt-get install postgresql) or a Docker engine, or point DATABASE_URL at a server."
    return 1
  fi
  wait_port "$PG_HOST" "$PG_PORT" PostgreSQL
}

start_valkey() {
  local bin=""
  if docker_engine; then
    say "starting Valkey with docker compose"
    docker compose up -d valkey
  else
    for b in valkey-server redis-server; do
      if command -v "$b" >/dev/null 2>&1; then bin=$b; break; fi
    done
    if [ -z "$bin" ]; then
      say "Valkey/Redis is not running on $VALKEY_HOST:$VALKEY_PORT and neither valkey-server nor redis-server is installed."
      say "Install one (Debian: apt-get install redis-server) or a Docker engine, or point VALKEY_URL at a server."
      return 1
    fi
    say "starting $bin on $VALKEY_HOST:$VALKEY_PORT"
    mkdir -p /tmp/authd-valkey
    "$bin" --daemonize yes --bind "$VALKEY_HOST" --port "$VALKEY_PORT" --save "" --appendonly no \
      --dir /tmp/authd-valkey --logfile /tmp/authd-valkey/server.log
  fi
  wait_port "$VALKEY_HOST" "$VALKEY_PORT" Valkey
}

MAILPIT_VERSION=v1.33.1

mailpit_bin() {
  if command -v mailpit >/dev/null 2>&1; then command -v mailpit; return; fi
  local gobin
  gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
  if [ ! -x "$gobin/mailpit" ]; then
    say "installing Mailpit $MAILPIT_VERSION into $gobin (a minute the first time)"
    GOFLAGS=-buildvcs=false go install "github.com/axllent/mailpit@$MAILPIT_VERSION" >&2
  fi
  echo "$gobin/mailpit"
}

start_mail() {
  if docker_engine; then
    say "starting Mailpit with docker compose"
    docker compose up -d mailpit
  else
    local bin
    bin=$(mailpit_bin)
    say "starting Mailpit: SMTP on 127.0.0.1:1025, inbox on http://127.0.0.1:8025"
    mkdir -p /tmp/authd-mailpit
    nohup "$bin" --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 --disable-version-check -q \
      --database /tmp/authd-mailpit/mailpit.db >/tmp/authd-mailpit/mailpit.log 2>&1 &
  fi
  wait_port 127.0.0.1 1025 Mailpit
}

port_open "$PG_HOST" "$PG_PORT" || start_postgres
port_open "$VALKEY_HOST" "$VALKEY_PORT" || start_valkey
say "PostgreSQL on $PG_HOST:$PG_PORT and Valkey on $VALKEY_HOST:$VALKEY_PORT are up"

while [ $# -gt 0 ]; do
  case "$1" in
    --mail) port_open 127.0.0.1 1025 || start_mail; shift ;;
    --install-mailpit) say "Mailpit: $(mailpit_bin)"; shift ;;
    --database) DB_NAME=${2:?--database needs a name}; shift 2 ;;
    *) say "unknown option $1"; exit 2 ;;
  esac
done

# With --database NAME, also create that database when it is missing.
if [ -n "${DB_NAME:-}" ]; then
  db=$DB_NAME
  if command -v psql >/dev/null 2>&1; then
    if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "${PGUSER:-postgres}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      say "creating database $db"
      psql -h "$PG_HOST" -p "$PG_PORT" -U "${PGUSER:-postgres}" -d postgres -qc "CREATE DATABASE \"$db\""
    fi
  elif docker_engine; then
    : # the compose file creates it through POSTGRES_DB
  else
    say "psql is not installed, so database $db cannot be checked; create it yourself if authd cannot connect"
  fi
fi
