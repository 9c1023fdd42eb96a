#!/bin/sh
# bench/smoke.sh: the CI check of the benchmarks.  Builds them and runs every
# one once with tiny counts (make bench BENCH_QUICK=1), writing the table to
# $BUILD/bench/PERFORMANCE.md (docs/PERFORMANCE.md is left alone), then checks
# that each section of the table was filled from the run.  Benchmarks are not
# timed tests: no figure is compared with anything.
#
#   BUILD=build sh bench/smoke.sh
#
# The PC/SC part needs root and no other pcscd; when it cannot run, its rows
# say why and the smoke test still passes (test-e2e covers pcscd itself).
set -eu

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$BUILD/bench/PERFORMANCE.md
PASS=0
FAIL=0

rm -f "$OUT"
if ! PCSC_WAIT=${PCSC_WAIT:-90} make --no-print-directory BUILD="$BUILD" CC="${CC:-cc}" \
        BENCH_QUICK=1 BENCH_OUT="$OUT" bench; then
    echo "bench smoke: make bench BENCH_QUICK=1 failed"
    echo "0 passed, 1 failed"
    exit 1
fi

# expect WHAT PATTERN: a line of the table matching PATTERN (extended regex).
expect() {
    if grep -Eq -- "$2" "$OUT"; then
        PASS=$((PASS + 1))
    else
        echo "bench smoke: FAIL: $1 (no line matching /$2/ in $OUT)"
        FAIL=$((FAIL + 1))
    fi
}

expect "stop-list lookup" '^\| stop-list lookup \(binary search\), mean of [0-9]+ \| [0-9.]+ µs'
expect "resident import" '^\| import of [0-9]+ rows \(SQLite\) \| [0-9.]+ s'
expect "stop-list export" '^\| stop-list export of [0-9]+ cards \(SQLite\) \| [0-9.]+ s'
expect "run described" '^\| date \(UTC\) \| [0-9]{4}-'
expect "NVM counts" '^\| VERIFY, wrong PIN \| [0-9]+ '
expect "write amplification" '^\| LOAD AP, 4 KiB \| [0-9,]+ \| 4,096 \| \*\*[0-9.]+\*\*'
expect "wire bytes" '^\| Kiosk flow \(9 APDUs\) \| 9 \| [0-9,]+ '
expect "in-process rate" '^\| Kiosk flows/s, in process \| [0-9,.]+ flows/s'
expect "scaling by AP count" '^\| 16 \| [0-9,.]+ µs'
expect "scaling by image size" '^\| 32 KiB \| [0-9,.]+ µs'
if command -v valgrind >/dev/null 2>&1; then
    expect "instruction counts" '^\| Kiosk flow, whole \(9 APDUs\) \| [0-9,]+ '
fi
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    expect "footprint" '^\| text \(\+ rodata\), linked \| [0-9,]+ bytes'
fi
expect "registry, SQLite" '^\| AP load or delete with its registry record, SQLite, 1 terminal \| [0-9,.]+ /s'
expect "registry, 16 terminals" '^\| 16 terminals, one PostgreSQL, .* \| [0-9,.]+ /s in all'
if grep -q 'pcscd + vpcd + mnap-vcard | not measured' "$OUT"; then
    echo "bench smoke: note: PC/SC throughput not measured here ($(grep -o 'not measured ([^)]*)' "$OUT" | head -1))"
else
    expect "PC/SC rate" '^\| SELECT EF \+ READ BINARY 128, echo card .* \| [0-9,.]+ APDUs/s'
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
