#!/bin/sh
# bench/run.sh: `make bench`.  Runs every benchmark once and writes the table.
#
#   BUILD=build sh bench/run.sh                 full run -> docs/PERFORMANCE.md
#   BUILD=build BENCH_QUICK=1 sh bench/run.sh   tiny counts -> $BUILD/bench/PERFORMANCE.md
#
# Steps (raw outputs kept in $BUILD/bench/raw/ for a look afterwards):
#   1. bench_card cost under callgrind, twice: all of mc_process, then without
#      the sim port's AES (--toggle-collect=mc_sim_openssl_aes); the per-APDU
#      NVM and wire figures come from the same program's output
#   2. bench_card rate: in-process flows and APDUs per second
#   3. bench_card scale: kiosk flow time by AP count, LOAD AP time by size
#   4. make size (tools/size.sh): the Cortex-M0+ footprint
#   5. bench/run_pcsc.sh: throughput through pcscd + vpcd (mnap-vcard, vicc, echo)
#   6. bench/report.py: the Markdown table
# A step that cannot run (no valgrind, no arm-none-eabi-gcc, another pcscd)
# leaves its rows saying "not measured" and the reason; the exit status is 1
# only when a benchmark program itself fails.
set -eu

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RAW=$BUILD/bench/raw
BIN=$BUILD/bench

if [ -n "${BENCH_QUICK:-}" ]; then
    ITER=1 RATE_S=0.05 RUNS=1 PCSC_S=0.1 PCSC_RUNS=1
    OUT=${BENCH_OUT:-$BUILD/bench/PERFORMANCE.md}
    MODE="quick (BENCH_QUICK=1: smoke run, figures not meaningful)"
else
    ITER=${BENCH_ITER:-7} RATE_S=${BENCH_RATE_S:-1} RUNS=${BENCH_RUNS:-7}
    PCSC_S=${BENCH_PCSC_S:-1.5} PCSC_RUNS=${BENCH_PCSC_RUNS:-7}
    OUT=${BENCH_OUT:-docs/PERFORMANCE.md}
    MODE="full: $ITER callgrind repetitions, $RUNS runs of ${RATE_S} s in process, $PCSC_RUNS rounds of ${PCSC_S} s per PC/SC configuration"
fi

rm -rf "$RAW"
mkdir -p "$RAW"
T0=$(date +%s)
say() { echo "bench: $*" >&2; }

{
    echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- card common host tools bench 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "machine: $(uname -srm)"
    echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
    echo "cores: $(nproc 2>/dev/null || echo '?') online"
    echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
    echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "compiler: $(${CC:-cc} --version 2>/dev/null | head -1), -O2 (the Makefile's default)"
    echo "valgrind: $(valgrind --version 2>/dev/null || echo 'not installed')"
    echo "pcsc-lite: $(dpkg-query -W -f='${Version}' pcscd 2>/dev/null || echo '?') (pcscd), vpcd $(dpkg-query -W -f='${Version}' vsmartcard-vpcd 2>/dev/null || echo '?'), vicc $(dpkg-query -W -f='${Version}' vsmartcard-vpicc 2>/dev/null || echo '?')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "mode: $MODE"
} > "$RAW/machine.txt"

# 1. card CPU cost, NVM and wire, per APDU
cg_run() {
    name=$1
    shift
    rm -rf "$RAW/cg-$name"
    mkdir -p "$RAW/cg-$name"
    valgrind --tool=callgrind --collect-atstart=no --dump-instr=no "$@" \
        --callgrind-out-file="$RAW/cg-$name/cg.out" "$BIN/bench_card" cost "$ITER" \
        > "$RAW/cost-$name.txt" 2> "$RAW/cg-$name.log"
    # One dump per APDU: "desc: Trigger: Client Request: aN", "summary: Ir",
    # and the calls into the sim port's AES (one call = one 16-byte block):
    # the calls= lines after each cfn= naming mc_sim_openssl_aes (callgrind
    # names a function once per file, "(id) name", then "(id)").
    for f in "$RAW/cg-$name"/cg.out.*; do
        awk '
            function idof(s) { sub(/^c?fn=/, "", s); return s }
            /^desc: Trigger: Client Request:/ { n = $NF }
            /^summary:/ { s = $2 }
            /^fn=/ && $2 == "mc_sim_openssl_aes" { aes = idof($1) }
            /^cfn=/ { if ($2 == "mc_sim_openssl_aes") aes = idof($1); pending = (aes != "" && idof($1) == aes); next }
            /^calls=/ { if (pending) { split($1, c, "="); blocks += c[2] } pending = 0; next }
            { pending = 0 }
            END { if (n != "") print n, s, blocks + 0 }' "$f"
    done > "$RAW/cg-$name.txt"
    rm -rf "$RAW/cg-$name"
}
if command -v valgrind >/dev/null 2>&1; then
    say "card CPU cost under callgrind ($ITER repetitions, twice)"
    cg_run total
    cg_run noaes --toggle-collect=mc_sim_openssl_aes
    cp "$RAW/cost-total.txt" "$RAW/cost.txt"
else
    say "valgrind not installed: no instruction counts"
    "$BIN/bench_card" cost "$ITER" > "$RAW/cost.txt"
fi

# 2 and 3. in-process rates and scaling
say "in-process throughput ($RUNS runs of $RATE_S s)"
"$BIN/bench_card" rate "$RATE_S" "$RUNS" > "$RAW/rate.txt"
say "scaling ($RUNS runs)"
"$BIN/bench_card" scale "$RUNS" > "$RAW/scale.txt"

# 4. footprint
say "footprint (make size)"
if BUILD=$BUILD sh tools/size.sh > "$RAW/size.txt" 2>&1; then
    echo 0 > "$RAW/size.status"
else
    echo $? > "$RAW/size.status"
fi

# 5. through pcscd
say "throughput through pcscd + vpcd ($PCSC_RUNS rounds of $PCSC_S s)"
BUILD=$BUILD SECONDS_PER_RUN=$PCSC_S RUNS=$PCSC_RUNS sh bench/run_pcsc.sh > "$RAW/pcsc.txt" || true
grep '^pcsc-skip' "$RAW/pcsc.txt" >&2 || true

# 5b. the registry (bench/registry.sh): SQLite and PostgreSQL rates, 16 terminals
if [ -n "${BENCH_QUICK:-}" ]; then REG_S=0.5 REG_LONG_S=1; else REG_S=${BENCH_REG_S:-5} REG_LONG_S=${BENCH_REG_LONG_S:-60}; fi
say "registry: one terminal on SQLite and PostgreSQL for $REG_S s, 16 terminals for $REG_LONG_S s"
BUILD=$BUILD REG_S=$REG_S REG_LONG_S=$REG_LONG_S sh bench/registry.sh > "$RAW/registry.md" ||
    echo "## 7. Registry

not measured: bench/registry.sh failed (see above)" > "$RAW/registry.md"

# 5c. stop measures (issue #19): the offline stop list at one million entries
if [ -n "${BENCH_QUICK:-}" ]; then SL_N=1000; else SL_N=${BENCH_STOPLIST_N:-1000000}; fi
say "stop list: $SL_N entries"
"$BIN/bench_stoplist" "$SL_N" > "$RAW/stoplist.md" ||
    printf '## Offline stop list\n\nnot measured: bench_stoplist failed\n' > "$RAW/stoplist.md"
if [ -x "$BUILD/bin/mnap" ]; then
    if [ -n "${BENCH_QUICK:-}" ]; then IMP_N=200 EXP_S=1000; else IMP_N=${BENCH_IMPORT_N:-100000} EXP_S=${BENCH_STOPLIST_N:-1000000}; fi
    say "resident import: $IMP_N rows on SQLite; stop-list export of $EXP_S cards"
    BUILD=$BUILD N=$IMP_N S=$EXP_S sh bench/import.sh > "$RAW/import.md" 2>"$RAW/import.err" ||
        printf '## Resident import\n\nnot measured: bench/import.sh failed\n' > "$RAW/import.md"
fi

# 6. the table
T1=$(date +%s)
{
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "run time: $((T1 - T0)) s for the whole of make bench (build excluded)"
    echo "noise: wall-clock figures depend on what else ran on the $(nproc) cores (see the load averages above; other jobs' load is not this run's own); each is a median over repeated runs with its min and max."
} >> "$RAW/machine.txt"
mkdir -p "$(dirname "$OUT")"
python3 bench/report.py "$RAW" > "$OUT.tmp"
{ echo; cat "$RAW/registry.md"; echo; cat "$RAW/stoplist.md"; [ ! -r "$RAW/import.md" ] || { echo; cat "$RAW/import.md"; }; } >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
say "wrote $OUT in $((T1 - T0)) s"
