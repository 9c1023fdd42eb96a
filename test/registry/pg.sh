#!/bin/sh
# test/registry/pg.sh: the registry on PostgreSQL.  Starts a private
# PostgreSQL (test/registry/pg.inc: initdb + pg_ctl as nobody in a temporary
# directory, Unix socket only), then runs
#   1. test_registry, the same API cases as on SQLite, as login roles of two
#      municipalities (never the tables' owner);
#   2. rls.sql, the raw-SQL row-level security cases, with pgTAP;
#   3. the CLI's registry cases (cli_registry.sh) on PostgreSQL;
#   4. a short 16-terminal stress run (registry_stress).
# and stops the server by its PID, whatever happened.
set -u
B=${BUILD:-build}
ROOT=$(pwd)
. "$ROOT/test/registry/pg.inc"
T=$(mktemp -d /tmp/mnap-pg-XXXXXX)
cleanup() { pg_stop; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pg_start "$T" || exit 1
echo "pg.sh: PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on $T/sock (pid $PG_PID)"

MNAP_REG_TEST_PG="$PG_CONN" "$B/test/registry/test_registry" || exit 1

# pgTAP: a fresh database migrated by the library (mnap registry init).
psql_dba() { psql -X -q -v ON_ERROR_STOP=1 "$PG_CONN dbname=$1" -c "$2" >/dev/null; }
psql_dba postgres "CREATE DATABASE mnap_tap" || exit 1
"$B/bin/mnap" --registry "$PG_CONN dbname=mnap_tap" registry init >/dev/null || exit 1
for m in "131016 A" "271004 B"; do
    set -- $m
    "$B/bin/mnap" --registry "$PG_CONN dbname=mnap_tap" registry add-municipality "$1" --name "$2" >/dev/null || exit 1
done
psql_dba mnap_tap "CREATE EXTENSION pgtap" || exit 1
psql -X -q -v ON_ERROR_STOP=1 "$PG_CONN dbname=mnap_tap" -f test/registry/rls.sql >"$T/tap.out" 2>&1
rc=$?
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$T/tap.out" | head -1)
oks=$(grep -c '^ok ' "$T/tap.out")
if [ "$rc" != 0 ] || grep -q '^not ok' "$T/tap.out" || [ -z "$plan" ] || [ "$oks" != "$plan" ]; then
    cat "$T/tap.out"
    echo "pg.sh: pgTAP row-level security checks FAILED"
    exit 1
fi
echo "pg.sh: pgTAP row-level security: $oks/$plan ok"

if [ -r test/registry/cli_registry.sh ]; then
    MNAP_TEST_PG_ADMIN="$PG_CONN" BUILD=$B sh test/registry/cli_registry.sh || exit 1
fi
if [ -x "$B/test/registry/test_registry_stress" ]; then
    psql_dba postgres "CREATE DATABASE mnap_stress" || exit 1
    MNAP_REG_TEST_PG="$PG_CONN" MNAP_REG_STRESS_DB=mnap_stress MNAP_REG_STRESS_TERMINALS=16 \
        MNAP_REG_STRESS_SECONDS="${REGISTRY_STRESS_SECONDS:-4}" "$B/test/registry/test_registry_stress" || exit 1
fi
echo "pg.sh: registry on PostgreSQL: all passed"
