#!/bin/sh
# bench/import.sh: `mnap resident import` of N rows (default 100,000) into a
# new SQLite registry (make bench step 5c; the aim of issue #19: under 10 s),
# then `mnap card stoplist-export` of a stop list of S cards (default
# 1,000,000, put in with sqlite3 directly: the registry's query, sorting and
# the Ed25519 signature are what is timed).  Writes a Markdown section on
# stdout.
#
#   BUILD=build N=100000 S=1000000 sh bench/import.sh
set -eu
BUILD=${BUILD:-build}
N=${N:-100000}
S=${S:-1000000}
M="$(pwd)/$BUILD/bin/mnap"
T=$(mktemp -d /tmp/mnap-impbench-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
export HOME="$T" MNAP_REG_KDF_COST=10 MNAP_AUDIT="$T/audit.log" MNAP_KEYSTORE="$T/keys.mks" MNAP_PASSPHRASE=bench
unset MNAP_REGISTRY MNAP_SESSION XDG_DATA_HOME
R="$T/registry.db"
"$M" --registry "$R" registry init >/dev/null
printf 'bench admin pw\n' | "$M" --registry "$R" registry add-municipality 131016 --name bench --admin admin \
    --password-stdin >/dev/null
printf 'bench admin pw\n' | "$M" --registry "$R" login admin --password-stdin >/dev/null
printf 'bench clerk pw\n' | "$M" --registry "$R" operator add clerk --name c --role clerk --password-stdin >/dev/null
printf 'bench super pw\n' | "$M" --registry "$R" operator add sup --name s --role supervisor --password-stdin >/dev/null
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
# S stopped cards (spread over the residents), straight into the database.
"$M" keys init --kdf-cost 10 >/dev/null
"$M" keys ed25519 stoplist >/dev/null
"$M" keys ed25519 audit >/dev/null
sqlite3 "$R" "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $S)
  INSERT INTO cards (serial, municipality, resident, state, registered_at, registered_by, state_changed_at)
  SELECT printf('%016X', i * 2654435761), '131016', printf('1%011d', 1 + i % $N),
         'STOPPED', 0, 'bench', 0 FROM k;"
printf 'bench super pw\n' | "$M" --registry "$R" login sup --password-stdin >/dev/null
t2=$(date +%s.%N)
"$M" --registry "$R" card stoplist-export "$T/stop.lst" >"$T/out2" 2>"$T/err2" || { cat "$T/err2" >&2; exit 1; }
t3=$(date +%s.%N)
grep -q "^stop list of 131016: $S cards" "$T/out2" || { cat "$T/out2" >&2; exit 1; }
echo "## Resident import and stop-list export (bench/import.sh)"
echo
echo "| what | figure |"
echo "|---|---|"
awk -v a="$t0" -v b="$t1" -v n="$N" -v sz="$(wc -c <"$T/r.csv")" \
    'BEGIN { printf "| import of %d rows (SQLite) | %.2f s (%d bytes of UTF-8 CSV, one transaction) |\n", n, b - a, sz }'
awk -v a="$t2" -v b="$t3" -v n="$S" -v sz="$(wc -c <"$T/stop.lst")" \
    'BEGIN { printf "| stop-list export of %d cards (SQLite) | %.2f s (registry query, sort, Ed25519; file %d bytes) |\n", n, b - a, sz }'
