#!/bin/bash
# test/interop/run.sh: the independent interop peer (issue #14) through real PC/SC.
#
#   BUILD=build test/interop/run.sh [MODE...]     (make test-interop runs it)
#
# MODE is t1, t0 or contactless (default: all three).  First the peer's own
# SCP03 host is checked against the published vectors (no card); then, for
# each mode, the Python suite (test/interop/test_card.py, pyscard +
# python3-cryptography) runs against mnap-vcard --transport MODE on fresh
# images, through a private pcscd with one vpcd reader on its own port pair
# (MNAP_INTEROP_PORT, default 40530 and up; the helpers of test/e2e/lib.sh).
# The suite starts one mnap-vcard per test class and stops it by PID; this
# script stops pcscd, and any mnap-vcard the suite left behind, by PID.
#
# Must run as root with no other pcscd (as test/e2e/run.sh).  Logs (pcscd,
# every mnap-vcard, every APDU) stay in the temporary directory when a test
# failed or MNAP_INTEROP_KEEP=1.  Exit status: 0 all passed, 1 otherwise.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=${MNAP_VCARD:-$BDIR/bin/mnap-vcard}
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
PY=/usr/bin/python3

. "$ROOT/test/e2e/lib.sh"
E2E_NAME="mnap-interop"
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"

MODES=${*:-t1 t0 contactless}
for m in $MODES; do
    case $m in t1|t0|contactless) ;; *) die "unknown mode '$m' (t1, t0, contactless)" ;; esac
done

# preflight (the e2e one also wants opensc and pcsc-tools, which the peer does not use)
command -v pcscd >/dev/null 2>&1 || die "no pcscd (make deps)"
[ -r "$VPCD_DRIVER" ] || die "no vpcd driver at $VPCD_DRIVER (Debian package vsmartcard-vpcd; make deps)"
[ -x "$VCARD" ] || die "$VCARD not built (make)"
[ -x "$E2E_PCSC" ] || die "$E2E_PCSC not built (make)"
$PY -c 'import smartcard, cryptography' 2>/dev/null || die "$PY lacks pyscard or cryptography (Debian python3-pyscard python3-cryptography; make deps)"
[ "$(id -u)" = 0 ] || die "pcscd needs root here (its socket is /run/pcscd/pcscd.comm): run as root"
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] && die "another pcscd is running (pid ${p#/proc/}); the peer needs its own"
done

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-interop.XXXXXX") || die "mktemp failed"
FAILED=0
on_exit() {
    local p
    # mnap-vcard processes the suite recorded and did not stop
    if [ -f "$E2E_TMP/vcard.pids" ]; then
        for p in $(cat "$E2E_TMP/vcard.pids"); do
            [ "$(cat /proc/$p/comm 2>/dev/null)" = mnap-vcard ] && stop_pid "$p"
        done
    fi
    e2e_cleanup
    if [ "$FAILED" = 0 ] && [ "${MNAP_INTEROP_KEEP:-0}" != 1 ]; then
        rm -rf "$E2E_TMP"
    else
        log "interop: logs kept in $E2E_TMP"
    fi
}
trap on_exit EXIT
trap 'log "interop: interrupted"; FAILED=1; exit 1' INT TERM HUP

MNAP_E2E_PORT=${MNAP_INTEROP_PORT:-40530}
e2e_pick_port
e2e_write_conf
start_pcscd

export MNAP_VCARD=$VCARD MNAP_INTEROP_PORT=$E2E_PORT MNAP_INTEROP_READER=$READER0 MNAP_INTEROP_TMP=$E2E_TMP
export MNAP_VECTORS=$ROOT/vectors

SUMMARY=
log "== interop: vectors"
if $PY "$HERE/suite.py" vectors > "$E2E_TMP/vectors.out" 2>&1; then :; else FAILED=1; cat "$E2E_TMP/vectors.out" >&2; fi
SUMMARY="$SUMMARY
  $(tail -n 1 "$E2E_TMP/vectors.out")"
log "   $(tail -n 1 "$E2E_TMP/vectors.out")"
for m in $MODES; do
    log "== interop: mode $m (pcscd, vpcd on 127.0.0.1:$E2E_PORT)"
    out=$E2E_TMP/$m.out
    MNAP_TRANSPORT=$m timeout 300 $PY "$HERE/suite.py" card ${MNAP_INTEROP_TESTS:-} > "$out" 2>&1
    rc=$?
    grep -E '\.\.\. (ok|FAIL|ERROR|skipped)|^(FAIL|ERROR):' "$out" | grep -v '^\(FAIL\|ERROR\):' | sed 's/^/   /' >&2
    if [ "$rc" != 0 ]; then
        FAILED=1
        sed -n '/^=\{20,\}/,$p' "$out" | head -n 200 >&2
    fi
    SUMMARY="$SUMMARY
  $(tail -n 1 "$out")"
    log "   $(tail -n 1 "$out")"
    if ! kill -0 "$PCSCD_PID" 2>/dev/null; then
        log "interop: pcscd died during mode $m; restarting it"
        PCSCD_PID=
        stop_pcscd
        start_pcscd
    fi
done
log "interop:$SUMMARY"
totals=$(printf '%s\n' "$SUMMARY" | awk '/passed,/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed,?$/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } } END { printf "%d passed, %d failed", p, f }')
log "interop: $totals"
[ "$FAILED" = 0 ]
