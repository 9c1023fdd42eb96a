#!/bin/sh
# bench/registry.sh: the registry figures of `make bench` (bench/run.sh step
# 5b): AP changes with their registry record per second, one terminal, on
# SQLite and on PostgreSQL; then the long run of 16 terminals against one
# PostgreSQL (test_registry_stress: cards moving between terminals, one change
# in five interrupted and repaired, registry and cards checked to agree).
# Writes a Markdown section on stdout.  PostgreSQL is a private server
# (test/registry/pg.inc), stopped by PID at the end.
#
#   BUILD=build REG_S=5 REG_LONG_S=60 sh bench/registry.sh
set -u
BUILD=${BUILD:-build}
REG_S=${REG_S:-5}
REG_LONG_S=${REG_LONG_S:-60}
STRESS=$BUILD/test/registry/test_registry_stress
. test/registry/pg.inc
T=$(mktemp -d /tmp/mnap-regbench-XXXXXX)
trap 'pg_stop; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

# run NAME ENV...: one stress run; prints its result line.
run() {
    name=$1
    shift
    env "$@" "$STRESS" > "$T/$name.out" 2>&1 || { cat "$T/$name.out" >&2; return 1; }
    grep '^registry_stress:' "$T/$name.out"
}
rate() { sed -n 's/.*AP changes (\([0-9.]*\)\/s).*/\1/p'; }
fmt() { LC_ALL=C awk -v v="$1" 'BEGIN { printf "%\047.1f", v }' 2>/dev/null || echo "$1"; }

echo "## 7. Registry"
echo
echo "| configuration | rate | how measured |"
echo "|---|---:|---|"
line=$(run sqlite1 MNAP_REG_TEST_PG= MNAP_REG_STRESS_TERMINALS=1 MNAP_REG_STRESS_CRASH=0 MNAP_REG_STRESS_SECONDS="$REG_S") || exit 1
echo "| AP load or delete with its registry record, SQLite, 1 terminal | $(fmt "$(echo "$line" | rate)") /s | test_registry_stress for $REG_S s: intent (BEGIN IMMEDIATE, synchronous=FULL, WAL), LOAD AP or DELETE on an in-process card, settlement; scrypt not included (one login per terminal) |"
if ! pg_start "$T" >/dev/null 2>&1; then
    echo "| PostgreSQL rows | not measured (no PostgreSQL server: make deps) | |"
    exit 0
fi
psql -X -q "$PG_CONN dbname=postgres" -c "CREATE DATABASE b1" -c "CREATE DATABASE b16" >/dev/null || exit 1
line=$(run pg1 MNAP_REG_TEST_PG="$PG_CONN" MNAP_REG_STRESS_DB=b1 MNAP_REG_STRESS_TERMINALS=1 MNAP_REG_STRESS_CRASH=0 \
    MNAP_REG_STRESS_SECONDS="$REG_S") || exit 1
echo "| the same, PostgreSQL 15 over a Unix socket, 1 terminal | $(fmt "$(echo "$line" | rate)") /s | the same; READ COMMITTED with the card row locked FOR UPDATE; server with fsync=off (a test server) |"
line=$(run pg16 MNAP_REG_TEST_PG="$PG_CONN" MNAP_REG_STRESS_DB=b16 MNAP_REG_STRESS_TERMINALS=16 \
    MNAP_REG_STRESS_SECONDS="$REG_LONG_S") || exit 1
echo "| 16 terminals, one PostgreSQL, 8 cards moving between them | $(fmt "$(echo "$line" | rate)") /s in all | $REG_LONG_S s; one change in ten interrupted before the card change and one in ten after it, each repaired by the next terminal to take the card; at the end every card's LOADED records equal its APs |"
echo
echo "Result lines:"
echo
for n in sqlite1 pg1 pg16; do echo "- \`$(grep '^registry_stress:' "$T/$n.out")\`"; done
echo
echo "SQLite fsyncs every commit (synchronous=FULL, WAL journal); the test PostgreSQL runs with fsync=off, so the two one-terminal rows are not a comparison of the engines' durability cost. Everything, the 16 terminal threads and their 16 server processes included, shares the machine's cores with the in-process cards. \`make test\` runs a 4-second 16-terminal check of the same program (test/registry/pg.sh)."
