#!/bin/sh
# test/host/pcsc.sh: libmnap's PC/SC transport against a real pcscd.
#
# Starts a private pcscd with a two-slot vpcd reader on a free port (the
# helpers of test/e2e/lib.sh), a virtual card (mnap-vcard) in slot 1 and
# nothing in slot 0, runs $BUILD/test/host/test_pcsc against them, stops
# pcscd, and runs it once more to see MNAP_E_NO_SERVICE.  Every process it
# starts is stopped by PID.  Skips (exit 0, with a note) where it cannot run:
# not root, no pcscd or vpcd driver, mnap-vcard or e2e_pcsc not built, or a
# pcscd already running (its socket path is fixed).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=$BDIR/bin/mnap-vcard
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
TEST=$BDIR/test/host/test_pcsc

. "$ROOT/test/e2e/lib.sh"

# A skip is never a pass in CI (CI=true): there the machine is set up for it.
skip() {
    echo "pcsc.sh: SKIPPED: $*"
    if [ -n "${CI:-}" ]; then echo "pcsc.sh: a skip is a failure in CI"; exit 1; fi
    exit 0
}
# A pcscd other than ours (the e2e suite of another build, started at the
# same moment) makes ours fail to start: that is a skip, not a failure.
other_pcscd() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] && [ "${p#/proc/}" != "${PCSCD_PID:-}" ] && return 0
    done
    return 1
}
die() {
    log "pcsc.sh: $*"
    if other_pcscd && [ -z "${CI:-}" ]; then
        echo "pcsc.sh: SKIPPED: another pcscd started meanwhile"
        RC=0
        exit 0
    fi
    RC=1
    exit 1
}
[ "$(id -u)" = 0 ] || skip "needs root (pcscd's socket)"
command -v pcscd >/dev/null 2>&1 || skip "no pcscd"
[ -r "$VPCD_DRIVER" ] || skip "no vpcd driver at $VPCD_DRIVER"
[ -x "$VCARD" ] || skip "$VCARD not built"
[ -x "$E2E_PCSC" ] || skip "$E2E_PCSC not built"
[ -x "$TEST" ] || skip "$TEST not built"
other_pcscd && skip "another pcscd is running"
[ -S /run/pcscd/pcscd.comm ] && [ ! -e /run/pcscd/pcscd.pid ] && skip "stale /run/pcscd/pcscd.comm"

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-hostpcsc.XXXXXX") || exit 1
RC=0
trap 'e2e_cleanup; [ "$RC" = 0 ] && rm -rf "$E2E_TMP"' EXIT
E2E_NAME="mnap-hostpcsc"
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"

e2e_pick_port
e2e_write_conf
start_pcscd
# The card in the second slot, so that "the first reader with a card" is
# not simply the first reader.
fresh_card 1 || { RC=1; tail -20 "$E2E_TMP/vcard1.log" >&2; exit 1; }
MNAP_PCSC_READER="$READER1" MNAP_PCSC_EMPTY_READER="$READER0" "$TEST" || RC=1
e2e_cleanup
MNAP_PCSC_NO_SERVICE=1 "$TEST" || RC=1
[ "$RC" = 0 ] || log "pcsc.sh: logs in $E2E_TMP"
exit $RC
