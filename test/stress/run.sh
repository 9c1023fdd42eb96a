#!/bin/bash
# test/stress/run.sh: the host resilience stress test (make stress).
#
#   BUILD=build-stress STRESS_SECONDS=60 test/stress/run.sh
#
# Starts a private pcscd with two vpcd reader entries (four slots, on four
# free TCP ports from STRESS_PORT, default 40610), one mnap-vcard on a fresh
# blank card per slot, and runs $BUILD/test/stress/mnap-stress: one thread
# per card doing the kiosk flow through libmnap while the program pulls and
# reinserts the cards at random (SIGUSR1 / SIGUSR2 to each mnap-vcard), then
# checks every card.  See docs/security.md for what is checked.
#
# Reuses the process bookkeeping and pcscd helpers of test/e2e/lib.sh.  Only
# one pcscd can run on this machine (its socket path is fixed): when another
# runs, this script waits for it to go (at most STRESS_WAIT seconds, default
# 900) instead of failing; it never stops a pcscd it did not start.
#
# Leaks: the programs come from a sanitizer build (make stress builds with
# SAN=1); LeakSanitizer makes mnap-stress exit non-zero on a leak, and the
# mnap-vcard logs are searched for sanitizer reports after they stop.  A
# planted leak (mnap-stress leak-control) must be caught first; a build
# without LeakSanitizer fails the run unless STRESS_LEAK_CHECK=off.
#
# Exit status: 0 pass, 1 fail.  Logs stay in a temporary directory on
# failure (or always with MNAP_E2E_KEEP=1).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build-stress}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=${MNAP_VCARD:-$BDIR/bin/mnap-vcard}
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
STRESS=$BDIR/test/stress/mnap-stress
SECONDS_RUN=${STRESS_SECONDS:-60}
SEED=${STRESS_SEED:-$(date +%s)}
NSLOTS=4

. "$ROOT/test/e2e/lib.sh"
E2E_NAME=mnap-stress

[ -x "$STRESS" ] || die "$STRESS not built (make stress builds it)"

# The leak check must be live: the control run leaks on purpose and a
# sanitizer build has to fail it.  Without a sanitizer the run goes on, but
# the result says the leak check did not run.
LEAK_CHECK=live
if ASAN_OPTIONS=detect_leaks=1 "$STRESS" leak-control 2>&1 | grep -q 'ERROR: LeakSanitizer'; then
    log "stress: leak check control: LeakSanitizer caught the planted leak"
else
    LEAK_CHECK=off
    log "stress: leak check control: no LeakSanitizer report (not a sanitizer build?)"
fi

# Wait for another harness's pcscd to finish (bounded).  The check is
# e2e_preflight's own, run in a subshell (it exits on failure), so that a
# pcscd started by someone else between two checks is waited for as well.
waited=0
until ( e2e_preflight ) 2>/dev/null; do
    ( e2e_preflight ) 2>&1 | grep -q 'another pcscd\|pcscd.comm exists' || break
    [ "$waited" -ge "${STRESS_WAIT:-900}" ] && die "another pcscd still runs after ${waited}s"
    [ "$waited" = 0 ] && log "stress: another pcscd is running; waiting for it to stop"
    sleep 5
    waited=$((waited + 5))
done
e2e_preflight

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-stress.XXXXXX") || die "mktemp failed"
FAILED=1
on_exit() {
    e2e_cleanup
    if [ "$FAILED" = 0 ] && [ "${MNAP_E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$E2E_TMP"
    else
        log "stress: logs kept in $E2E_TMP"
    fi
}
trap on_exit EXIT
trap 'log "stress: interrupted"; exit 1' INT TERM HUP

# Four consecutive free ports: two reader entries of two slots each.
base=${STRESS_PORT:-40610}
PORT=
for i in $(seq 0 4 60); do
    p=$((base + i))
    if ! port_in_use "$p" && ! port_in_use $((p + 1)) && ! port_in_use $((p + 2)) &&
        ! port_in_use $((p + 3)); then
        PORT=$p
        break
    fi
done
[ -n "$PORT" ] || die "no four free TCP ports from $base"
E2E_PORT=$PORT

# vpcd 0.8 keeps its slots in driver-global state indexed by the slot number
# alone (Lun & 0xFFFF), and pcscd loads a driver path once: two entries with
# one LIBPATH would share slots 0 and 1 (every reader name then reaches the
# cards of whichever entry started last).  Each entry gets its own copy of
# the driver, so each is a separate load with its own slots.
mkdir -p "$E2E_TMP/reader.conf.d"
for r in 0 1; do
    cp "$VPCD_DRIVER" "$E2E_TMP/libifdvpcd-$r.so" || die "cannot copy $VPCD_DRIVER"
    cat > "$E2E_TMP/reader.conf.d/vpcd-stress-$r" <<EOF
# written by test/stress/run.sh: slots on ports $((PORT + 2 * r)) and $((PORT + 2 * r + 1))
FRIENDLYNAME "$E2E_NAME-$r"
DEVICENAME   /dev/null:$(printf '0x%04X' $((PORT + 2 * r)))
LIBPATH      $E2E_TMP/libifdvpcd-$r.so
CHANNELID    $(printf '0x%04X' $((PORT + 2 * r)))
EOF
done
# start_pcscd waits for this reader and port; the others are waited for below.
READER0="$E2E_NAME-0 00 00"
log "stress: pcscd with two vpcd readers on 127.0.0.1:$PORT..$((PORT + 3)), temp dir $E2E_TMP"
start_pcscd

for i in $(seq 50); do
    n=$("$E2E_PCSC" list 2>/dev/null | grep -c "^$E2E_NAME-")
    all=1
    for s in $(seq 0 $((NSLOTS - 1))); do port_in_use $((PORT + s)) || all=0; done
    [ "$n" -ge "$NSLOTS" ] && [ "$all" = 1 ] && break
    sleep 0.1
done
mapfile -t READERS < <("$E2E_PCSC" list | grep "^$E2E_NAME-" | sort)
[ "${#READERS[@]}" -ge "$NSLOTS" ] || die "pcscd lists ${#READERS[@]} stress slots, want $NSLOTS"

# One blank card per slot.  Reader order sorts like the ports: entry 0 slot
# 0 and 1, then entry 1 slot 0 and 1.
ARGS=()
VPIDS=
for s in $(seq 0 $((NSLOTS - 1))); do
    "$VCARD" --image "$E2E_TMP/card$s.img" --new --serial "$(printf '00000000005772%02X' "$s")" \
        --connect "127.0.0.1:$((PORT + s))" -v >> "$E2E_TMP/vcard$s.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    VPIDS="$VPIDS $pid"
    "$E2E_PCSC" wait "${READERS[$s]}" present 10000 || die "no card in '${READERS[$s]}' after 10 s"
    ARGS+=("$pid" "${READERS[$s]}")
done

log "stress: $NSLOTS threads on $NSLOTS cards for ${SECONDS_RUN}s (seed $SEED)"
timeout $((SECONDS_RUN + 300)) "$STRESS" "$SECONDS_RUN" "$SEED" "${ARGS[@]}" \
    > "$E2E_TMP/stress.out" 2> "$E2E_TMP/stress.err"
rc=$?
cat "$E2E_TMP/stress.out"
if [ "$rc" != 0 ]; then
    log "stress: mnap-stress exited with status $rc"
    tail -n 60 "$E2E_TMP/stress.err" >&2
fi

# Stop the cards (SIGTERM: a clean exit, so LeakSanitizer reports at exit).
for pid in $VPIDS; do stop_pid "$pid"; done
san=0
for f in "$E2E_TMP"/vcard*.log "$E2E_TMP/stress.err"; do
    if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
        log "stress: sanitizer report in $f:"
        grep -E -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -40 >&2
        san=1
    fi
done
if [ "$LEAK_CHECK" = live ]; then
    log "stress: leak check: LeakSanitizer in mnap-stress and mnap-vcard, $([ "$san" = 0 ] && echo "no report" || echo "REPORTS above")"
else
    log "stress: leak check: NOT RUN ($STRESS has no LeakSanitizer: build with SAN=1)"
fi

# Without a live leak check the run proves less than it claims: that is a
# failure unless asked for (STRESS_LEAK_CHECK=off, e.g. under valgrind).
leak_ok=1
[ "$LEAK_CHECK" = live ] || [ "${STRESS_LEAK_CHECK:-on}" = off ] || leak_ok=0
if [ "$rc" = 0 ] && [ "$san" = 0 ] && [ "$leak_ok" = 1 ]; then
    FAILED=0
    log "stress: PASS"
    exit 0
fi
log "stress: FAIL"
exit 1
