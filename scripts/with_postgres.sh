#!/usr/bin/env bash
# Run a command with KPIALIGN_TEST_DATABASE_URL pointing at a PostgreSQL server.
#
# If the variable is already set, the given server is used as it is. Otherwise a throwaway
# cluster is created with the machine's PostgreSQL binaries (installing Debian's postgresql
# package if they are missing), started on a free loopback port as the `postgres` user, and
# removed when the command ends (initdb --no-sync and fsync=off: a throwaway cluster needs no
# durability). With CI=true, failing to get a server fails the run.
set -euo pipefail

fail_or_warn() {
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: $1 (CI=true: PostgreSQL tests cannot be skipped)" >&2
    exit 1
  fi
  echo "WARNING: $1; PostgreSQL tests will be skipped." >&2
}

if [ -n "${KPIALIGN_TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

find_bindir() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "PostgreSQL server binaries missing: installing Debian's postgresql package..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || true
  BINDIR="$(find_bindir || true)"
fi
if [ -z "$BINDIR" ]; then
  fail_or_warn "no PostgreSQL server binaries found"
  exec "$@"
fi

RUNAS=()
if [ "$(id -u)" = "0" ]; then
  RUNAS=(runuser -u postgres --)
fi
PGTMP="$(mktemp -d /tmp/kpialign-pg.XXXXXX)"
chmod 755 "$PGTMP"
[ "$(id -u)" = "0" ] && chown postgres: "$PGTMP"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
  "${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap cleanup EXIT

if ! "${RUNAS[@]}" "$BINDIR/initdb" --no-sync -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-locale >"$PGTMP/initdb.log" 2>&1; then
  cat "$PGTMP/initdb.log" >&2
  fail_or_warn "initdb failed"
  exec "$@"
fi
if ! "${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
    -o "-p $PORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null; then
  cat "$PGTMP/server.log" >&2 || true
  fail_or_warn "the PostgreSQL server did not start"
  exec "$@"
fi
echo "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') test server on 127.0.0.1:$PORT" >&2
export KPIALIGN_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
export KPIALIGN_TEST_PG_BINDIR="$BINDIR"
set +e
"$@"
status=$?
set -e
exit $status
