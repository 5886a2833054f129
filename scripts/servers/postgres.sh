#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests.
#
#   postgres.sh install          install the server packages when missing
#   postgres.sh up DIR PORT      init a cluster in DIR, start it, create the
#                                test role and database; prints its env
#   postgres.sh start DIR        start a stopped cluster again
#   postgres.sh stop DIR         stop it (fast shutdown)
#
# The cluster trusts nothing: the test role logs in with a password over
# TCP (scram-sha-256). fsync is off: the data is thrown away.
set -euo pipefail

bindir() {
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

install() {
    if [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ]; then
        return
    fi
    echo "==> installing PostgreSQL" >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
}

# Runs a server binary as the cluster's owner (initdb refuses root).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

up() {
    local dir=$1 port=$2 bin
    install
    bin=$(bindir)
    mkdir -p "$dir/sock"
    local password
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    echo "$password" >"$dir/pwfile"
    echo "$port" >"$dir/port"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    start "$dir"
    as_owner "$bin/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE provisio LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE provisio OWNER provisio" >/dev/null
    echo "PROVISIO_TEST_POSTGRES_URL=postgres://provisio@127.0.0.1:$port/provisio"
    echo "PROVISIO_TEST_POSTGRES_PASSWORD=$password"
    echo "PROVISIO_TEST_POSTGRES_DIR=$dir"
}

start() {
    local dir=$1 port
    port=$(cat "$dir/port")
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" >/dev/null
}

stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

command=${1:-}
shift || true
case "$command" in
    install) install ;;
    up) up "$@" ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    *) echo "usage: $0 install | up DIR PORT | start DIR | stop DIR" >&2; exit 2 ;;
esac
