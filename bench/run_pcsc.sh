#!/bin/sh
# bench/run_pcsc.sh: the throughput benchmarks through a real pcscd + vpcd.
#
#   BUILD=build SECONDS_PER_RUN=1 RUNS=5 sh bench/run_pcsc.sh > rates.txt
#
# Starts a private pcscd (test/e2e/lib.sh: its own reader configuration on a
# free port, stopped by PID at the end) with two vpcd readers, and three cards
# on three slots, all connected to vpcd as TCP clients on 127.0.0.1:
#   "mnap-bench 00 00"  mnap-vcard with a file image (set up, benchmark AP)
#   "mnap-bench 00 01"  vicc --type iso7816 (vsmartcard's Python card), a DF
#                       with the benchmark AP's name holding EF 0102 (128 bytes)
#   "mnap-bench2 00 00" bench/echo_card (answers 9000 to everything)
# Then runs build/bench/bench_pcsc against them, interleaved run by run so
# that a busy machine slows every configuration alike.  Output: the "rate"
# lines of bench_pcsc.  Only one pcscd can run on a machine: when another one
# runs, this waits up to PCSC_WAIT seconds (default 120) for it to go, then
# prints "pcsc-skip REASON" and exits 0.
set -u

BUILD=${BUILD:-build}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-1}
RUNS=${RUNS:-5}
PCSC_WAIT=${PCSC_WAIT:-120}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

VCARD=$BUILD/bin/mnap-vcard
E2E_PCSC=$BUILD/test/e2e/e2e_pcsc
E2E_HOST=/nonexistent
BENCH_PCSC=$BUILD/bench/bench_pcsc
ECHO_CARD=$BUILD/bench/echo_card
. test/e2e/lib.sh
E2E_NAME=mnap-bench
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"
READER2="mnap-bench2 00 00"

skip() { echo "pcsc-skip $*"; exit 0; }

for t in "$VCARD" "$E2E_PCSC" "$BENCH_PCSC" "$ECHO_CARD"; do
    [ -x "$t" ] || skip "$t not built"
done
command -v pcscd >/dev/null 2>&1 || skip "no pcscd (Debian package pcscd)"
# vicc is optional: without it only its rows are missing ("pcsc-vicc-skip").
VICC_SKIP=
VICC_MODULES=${VICC_MODULES:-/usr/lib/python3/site-packages/virtualsmartcard}
if ! command -v vicc >/dev/null 2>&1; then
    VICC_SKIP="no vicc (Debian package vsmartcard-vpicc)"
elif ! /usr/bin/python3 -c 'import Cryptodome' 2>/dev/null; then
    VICC_SKIP="vicc needs the Debian package python3-pycryptodome"
fi
[ -r "$VPCD_DRIVER" ] || skip "no vpcd driver at $VPCD_DRIVER (vsmartcard-vpcd)"
[ "$(id -u)" = 0 ] || skip "pcscd needs root here (its socket is /run/pcscd/pcscd.comm)"

other_pcscd() {
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] && return 0
    done
    [ -S /run/pcscd/pcscd.comm ] && return 0
    return 1
}
waited=0
while other_pcscd; do
    [ "$waited" -ge "$PCSC_WAIT" ] && skip "another pcscd kept running for $PCSC_WAIT s"
    [ "$waited" = 0 ] && log "run_pcsc: another pcscd runs; waiting for it to stop (at most $PCSC_WAIT s)"
    sleep 2
    waited=$((waited + 2))
done

E2E_TMP=$(mktemp -d /tmp/mnap-bench.XXXXXX)
ECHO_PID=
VICC_PID=
cleanup() {
    e2e_cleanup
    [ -n "${BENCH_KEEP_TMP:-}" ] && echo "kept $E2E_TMP" >&2 || rm -rf "$E2E_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Two slots of one vpcd reader.  (A second reader is not an option: with
# Debian's vpcd 0.8 a card on the second reader's slot 0 also shows up in the
# first reader's slot 0.)  So the echo card takes slot 1 after vicc.
MNAP_E2E_PORT=${MNAP_BENCH_PORT:-40610}
e2e_pick_port
e2e_write_conf
start_pcscd

# mnap-vcard without -v: no per-APDU log line (start_vcard would add -vv).
"$VCARD" --image "$E2E_TMP/card.img" --new --serial 00000000000BE4C0 \
    --connect "127.0.0.1:$E2E_PORT" > "$E2E_TMP/vcard0.log" 2>&1 &
VCARD_PID=$!
track_pid "$VCARD_PID"
# Debian bookworm's python3-virtualsmartcard 3.3 installs its modules outside
# Python's path (site-packages/virtualsmartcard/) and wants pycryptodome under
# the name Crypto, while Debian's python3-pycryptodome provides Cryptodome:
# a one-line alias package and PYTHONPATH make vicc start as packaged.
mkdir -p "$E2E_TMP/pyshim/Crypto" "$E2E_TMP/quickack"
printf 'import Cryptodome\n__path__ = Cryptodome.__path__\n' > "$E2E_TMP/pyshim/Crypto/__init__.py"
# The second vicc run loads this sitecustomize: TCP_QUICKACK before every
# recv, as mnap-vcard and echo_card do (see echo_card.c), so that vicc's own
# time shows apart from the 40 ms delayed-ACK stall it has as packaged.
cat > "$E2E_TMP/quickack/sitecustomize.py" <<'EOF'
import socket
class _QuickAckSocket(socket.socket):
    def recv(self, *args, **kwargs):
        try:
            self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass
        return super().recv(*args, **kwargs)
socket.socket = _QuickAckSocket
EOF
# start_vicc [quickack]: vicc on slot 1, set up with the benchmark DF and EF;
# on failure sets VICC_SKIP, stops it and returns 1.
start_vicc() {
    local extra=
    [ "${1:-}" = quickack ] && extra="$E2E_TMP/quickack:"
    PYTHONPATH="$extra$E2E_TMP/pyshim:$VICC_MODULES${PYTHONPATH:+:$PYTHONPATH}" \
        vicc --type iso7816 --hostname 127.0.0.1 --port $((E2E_PORT + 1)) >> "$E2E_TMP/vicc.log" 2>&1 &
    VICC_PID=$!
    track_pid "$VICC_PID"
    if ! "$E2E_PCSC" wait "$READER1" present 20000; then
        VICC_SKIP="vicc did not come into its reader"
    elif ! "$BENCH_PCSC" vicc-setup "$READER1"; then
        VICC_SKIP="set-up of vicc failed"
    else
        return 0
    fi
    tail -20 "$E2E_TMP/vicc.log" >&2
    stop_slot1 "$VICC_PID"
    return 1
}
stop_slot1() {
    [ -n "$1" ] || return 0
    stop_pid "$1"
    "$E2E_PCSC" wait "$READER1" absent 10000 || skip "the card on slot 1 did not leave its reader"
}

"$E2E_PCSC" wait "$READER0" present 10000 || { cat "$E2E_TMP/vcard0.log" >&2; skip "mnap-vcard not in its reader"; }

"$BENCH_PCSC" setup "$READER0" || skip "set-up of mnap-vcard failed"
echo "pcsc-ports $E2E_PORT $((E2E_PORT + 1))"

# One run of every configuration per round, so that a busy machine slows
# them alike; bench_pcsc numbers its own runs 1, the round number is put back.
S=$SECONDS_PER_RUN
rounds() {
    r=1
    while [ "$r" -le "$RUNS" ]; do
        for c in "$@"; do
            case $c in
            kiosk) "$BENCH_PCSC" kiosk "$READER0" "$S" 1 ;;
            mnap01) "$BENCH_PCSC" read "$READER0" pcsc-mnap01 01 "$S" 1 ;;
            # the same, named by phase so that ratios pair runs of one phase
            mnap01b) "$BENCH_PCSC" read "$READER0" pcsc-mnap01-b 01 "$S" 1 ;;
            mnap01c) "$BENCH_PCSC" read "$READER0" pcsc-mnap01-c 01 "$S" 1 ;;
            mnap33) "$BENCH_PCSC" read "$READER0" pcsc-mnap33 33 "$S" 1 ;;
            vicc) "$BENCH_PCSC" read "$READER1" pcsc-vicc plain "$S" 1 ;;
            vicc-qa) "$BENCH_PCSC" read "$READER1" pcsc-vicc-quickack plain "$S" 1 ;;
            echo) "$BENCH_PCSC" read "$READER1" pcsc-echo plain "$S" 1 ;;
            esac
        done | awk -v r="$r" '$1 == "rate" { $3 = r } { print }'
        r=$((r + 1))
    done
}
if [ -z "$VICC_SKIP" ] && start_vicc; then
    rounds kiosk mnap01 mnap33 vicc
    # vicc again, with TCP_QUICKACK.
    stop_slot1 "$VICC_PID"
    start_vicc quickack && rounds vicc-qa mnap01b
    stop_slot1 "$VICC_PID"
else
    rounds kiosk mnap01 mnap33
fi
[ -z "$VICC_SKIP" ] || echo "pcsc-vicc-skip $VICC_SKIP"

# The baseline card on slot 1.
"$ECHO_CARD" $((E2E_PORT + 1)) > "$E2E_TMP/echo.log" 2>&1 &
ECHO_PID=$!
track_pid "$ECHO_PID"
"$E2E_PCSC" wait "$READER1" present 10000 || { cat "$E2E_TMP/echo.log" >&2; skip "echo_card not in its reader"; }
rounds echo mnap01c
exit 0
