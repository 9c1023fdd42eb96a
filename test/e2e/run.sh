#!/bin/bash
# test/e2e/run.sh: the end-to-end suites of mnap through real PC/SC.
#
#   BUILD=build test/e2e/run.sh [SUITE[:TRANSPORT]...]   (make test-e2e runs it)
#
# Starts a private pcscd (pcscd --foreground -c <its own reader.conf.d>) with
# one vsmartcard vpcd reader of two slots on a non-default port (MNAP_E2E_PORT,
# default 40510 and up, the first free pair), starts mnap-vcard on fresh card
# images in a temporary directory, and runs the suites:
#
#   thirdparty   opensc-tool, scriptor and pcsc_scan against the card
#   vcard        mnap-vcard itself: reset/power clear RAM state, signals,
#                --help, bad and corrupt images, no second pcscd
#   resilience   vcard killed mid AP load, card pulled mid session, pcscd
#                restarted between sessions (needs the host library)
#   lifecycle    the host library's whole life cycle (needs the host library)
#
# TRANSPORT is how mnap-vcard serves the card (--transport: t1, t0 or
# contactless, PROTOCOL.md §10); without one a suite runs over
# MNAP_E2E_TRANSPORT (default t1).  The default list runs the lifecycle suite
# over all three (lifecycle:t0, lifecycle:contactless); the other suites use
# the default transport (t_vcard_transports covers the modes themselves).
#
# Must run as root (pcscd's socket is /run/pcscd/pcscd.comm) with no other
# pcscd running: it refuses to start otherwise.  Every process it starts is
# stopped by PID on exit, failure or signal.  Logs stay in the temporary
# directory (printed for a failed test; kept when MNAP_E2E_KEEP=1 or a test
# failed).  Exit status: 0 all passed, 1 a test failed or the harness could
# not start.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=${MNAP_VCARD:-$BDIR/bin/mnap-vcard}
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
E2E_HOST=$BDIR/test/e2e/e2e_host
E2E_VPCD=$BDIR/test/e2e/e2e_vpcd

. "$HERE/lib.sh"

ALL_SUITES="thirdparty vcard resilience sharing lifecycle lifecycle:t0 lifecycle:contactless"
DEFAULT_TRANSPORT=${MNAP_E2E_TRANSPORT:-t1}
SUITES=${*:-$ALL_SUITES}
for s in $SUITES; do
    [ -r "$HERE/suite_${s%%:*}.sh" ] || die "unknown suite '${s%%:*}' (have: thirdparty vcard resilience sharing lifecycle)"
    case $s in *:*) t=${s#*:} ;; *) t=$DEFAULT_TRANSPORT ;; esac
    case $t in t1|t0|contactless) ;; *) die "suite '$s': unknown transport '$t' (t1, t0, contactless)" ;; esac
done

e2e_preflight
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-e2e.XXXXXX") || die "mktemp failed"
FAILED=0

on_exit() {
    e2e_cleanup
    if [ "$FAILED" = 0 ] && [ "${MNAP_E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$E2E_TMP"
    else
        log "e2e: logs and images kept in $E2E_TMP"
    fi
}
trap on_exit EXIT
trap 'log "e2e: interrupted"; FAILED=1; exit 1' INT TERM HUP

e2e_pick_port
e2e_write_conf
log "e2e: pcscd with vpcd on 127.0.0.1:$E2E_PORT and :$((E2E_PORT + 1)), temp dir $E2E_TMP"
start_pcscd

show_logs() {
    local f
    for f in "$E2E_TMP"/pcscd.log "$E2E_TMP"/vcard*.log "$E2E_TMP"/client.log; do
        [ -s "$f" ] || continue
        log "    --- last lines of $f"
        tail -n 25 "$f" | sed 's/^/    | /' >&2
    done
}

PASSED=0
NFAILED=0
SKIPPED=0
for s in $SUITES; do
    case $s in *:*) E2E_TRANSPORT=${s#*:} ;; *) E2E_TRANSPORT=$DEFAULT_TRANSPORT ;; esac
    s=${s%%:*}
    SUITE_TESTS=
    . "$HERE/suite_$s.sh"
    log "== e2e suite $s (transport $E2E_TRANSPORT)"
    for t in $SUITE_TESTS; do
        : > "$E2E_TMP/client.log"
        start=$(date +%s.%N)
        "$t"
        rc=$?
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        case $rc in
        0) log "  PASS $t (${secs}s)"; PASSED=$((PASSED + 1)) ;;
        77) log "  SKIP $t: $SKIP_REASON"; SKIPPED=$((SKIPPED + 1)) ;;
        *) log "  FAIL $t (${secs}s)"; NFAILED=$((NFAILED + 1)); FAILED=1; show_logs ;;
        esac
        { echo "=== $t: $rc"; cat "$E2E_TMP/client.log"; } >> "$E2E_TMP/clients-all.log"
        # Whatever a test left behind, the next one starts with pcscd up.
        if [ -z "$PCSCD_PID" ] || ! kill -0 "$PCSCD_PID" 2>/dev/null; then
            stop_pcscd
            start_pcscd
        fi
    done
done

log "e2e: $PASSED passed, $NFAILED failed, $SKIPPED skipped"
[ "$NFAILED" = 0 ]
