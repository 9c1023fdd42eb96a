#!/bin/sh
# bench/import.sh: `mnap resident import` of N rows (default 100,000) into a
# new SQLite registry (make bench step 5c; the aim of issue #19: under 10 s).
# Writes a Markdown section on stdout.
#
#   BUILD=build N=100000 sh bench/import.sh
set -eu
BUILD=${BUILD:-build}
N=${N:-100000}
M="$(pwd)/$BUILD/bin/mnap"
T=$(mktemp -d /tmp/mnap-impbench-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
export HOME="$T" MNAP_REG_KDF_COST=10 MNAP_AUDIT="$T/audit.log"
unset MNAP_REGISTRY MNAP_SESSION XDG_DATA_HOME
R="$T/registry.db"
"$M" --registry "$R" registry init >/dev/null
printf 'bench admin pw\n' | "$M" --registry "$R" registry add-municipality 131016 --name bench --admin admin \
    --password-stdin >/dev/null
printf 'bench admin pw\n' | "$M" --registry "$R" login admin --password-stdin >/dev/null
printf 'bench clerk pw\n' | "$M" --registry "$R" operator add clerk --name c --role clerk --password-stdin >/dev/null
printf 'bench clerk pw\n' | "$M" --registry "$R" login clerk --password-stdin >/dev/null
awk -v n="$N" 'BEGIN {
    print "number,name_kanji,name_kana,birth_date,address"
    for (i = 1; i <= n; i++)
        printf "1%011d,住民 %d,ジュウミン %d,19%02d-%02d-%02d,\"東京都千代田区千代田%d-%d, 第%d号\"\n", \
            i, i, i, i % 100, i % 12 + 1, i % 28 + 1, i % 9 + 1, i % 50 + 1, i
}' >"$T/r.csv"
t0=$(date +%s.%N)
"$M" --registry "$R" resident import "$T/r.csv" >"$T/out" 2>"$T/err" || { head -5 "$T/err" >&2; exit 1; }
t1=$(date +%s.%N)
grep -q "^imported $N residents" "$T/out" || { cat "$T/out" >&2; exit 1; }
echo "## Resident import (bench/import.sh)"
echo
echo "| what | figure |"
echo "|---|---|"
awk -v a="$t0" -v b="$t1" -v n="$N" -v sz="$(wc -c <"$T/r.csv")" \
    'BEGIN { printf "| import of %d rows (SQLite) | %.2f s (%d bytes of UTF-8 CSV, one transaction) |\n", n, b - a, sz }'
