#!/bin/bash
# test/tools/cli_pcsc.sh: `mnap` through the real PC/SC stack (pcscd + vpcd +
# mnap-vcard, started with the end-to-end harness's functions in a temp dir):
# readers by name and by number, unknown readers, an empty reader, the card
# leaving the reader in the middle of an AP load (mnap-vcard --die-at), then
# `make demo`'s script itself, checked line by line.
#
# Needs root and no other pcscd (pcscd's socket path is fixed); when that is
# not the case it says SKIPPED and why, and exits 0.  Every process it starts
# is stopped by PID.
set -u
ROOT=$(pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
M=$BDIR/bin/mnap
VCARD=$BDIR/bin/mnap-vcard
EX=$ROOT/tools/examples

# A skip is never a pass in CI (CI=true): there the machine is set up for it.
skip() {
    echo "cli_pcsc.sh: SKIPPED: $*"
    if [ -n "${CI:-}" ]; then echo "cli_pcsc.sh: a skip is a failure in CI"; exit 1; fi
    exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (pcscd's socket is /run/pcscd/pcscd.comm)"
command -v pcscd >/dev/null 2>&1 || skip "pcscd not installed"
[ -x "$M" ] && [ -x "$VCARD" ] || { echo "cli_pcsc.sh: $M or $VCARD not built"; exit 1; }
. "$ROOT/test/e2e/lib.sh"
[ -r "$VPCD_DRIVER" ] || skip "no vpcd driver"
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] && skip "another pcscd runs (pid ${p#/proc/})"
done
E2E_NAME=mnap-cli
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"

E2E_TMP=$(mktemp -d /tmp/mnap-cli-pcsc-XXXXXX)
trap 'e2e_cleanup; rm -rf "$E2E_TMP"' EXIT
trap 'exit 1' INT TERM
cd "$E2E_TMP" || exit 1
unset MNAP_CARD_IMAGE MNAP_TRACE MNAP_SIMCARD_PULL_AT MNAP_SIMCARD_CUT_AT
export MNAP_KEYSTORE=$E2E_TMP/keys.mks MNAP_AUDIT=$E2E_TMP/audit.log MNAP_OPERATOR=pcsc-test
export MNAP_PASSPHRASE=pcsc-test-pass HOME=$E2E_TMP

FAILS=0
N=0
LABEL=
bad() { echo "  FAIL [$LABEL]: $*"; FAILS=$((FAILS + 1)); }
run() { LABEL=$1; shift; N=$((N + 1)); "$@" >out 2>err </dev/null; RC=$?; }
rc() { [ "$RC" = "$1" ] || bad "exit $RC, expected $1; stderr: $(cat err)"; }
same() { printf '%s\n' "$2" >want; cmp -s want "$1" || { bad "$1 differs:"; diff want "$1" | sed 's/^/      /'; }; }
has() { grep -qF -- "$2" "$1" || bad "$1 lacks '$2': $(cat "$1")"; }

echo "cli_pcsc.sh: mnap over pcscd + vpcd + mnap-vcard"
e2e_pick_port
e2e_write_conf
pcscd --foreground -c "$E2E_TMP/reader.conf.d" >>pcscd.log 2>&1 &
PCSCD_PID=$!
track_pid "$PCSCD_PID"
for i in $(seq 100); do
    "$M" readers 2>/dev/null | grep -qF "$READER1" && port_in_use "$E2E_PORT" && break
    kill -0 "$PCSCD_PID" 2>/dev/null || { cat pcscd.log; echo "cli_pcsc.sh: pcscd died"; exit 1; }
    sleep 0.1
done

run readers "$M" readers; rc 0
same out "0: $READER0
1: $READER1"
run readers-json "$M" --json readers; rc 0
same out '{"readers":[{"index":0,"name":"'"$READER0"'"},{"index":1,"name":"'"$READER1"'"}]}'
run empty-reader "$M" --reader 0 info --public; rc 3
run unknown-index "$M" --reader 7 info --public; rc 3
same err "mnap: no reader number 7 (2 readers: see 'mnap readers')"
run unknown-name "$M" --reader "no such reader" info --public; rc 3
same err "mnap: no reader named 'no such reader' (see 'mnap readers')"

# No reader named: the first reader with a card, even when it is not the
# first reader; no card anywhere is "no card".
run no-card-anywhere "$M" info --public; rc 3
has err "no card in the reader"
start_vcard 1 "$E2E_TMP/card1.img" --new --serial 0A0B0C0D0E0F1012
for i in $(seq 100); do
    "$M" --reader 1 info --public >/dev/null 2>&1 && break
    sleep 0.1
done
run first-with-card-slot1 "$M" info --public; rc 0; has out "reader:          $READER1"
stop_pid "$VCARD1_PID"; VCARD1_PID=
for i in $(seq 100); do
    if ! "$M" --reader 1 info --public >/dev/null 2>wait.err &&
        grep -q "no card in the reader" wait.err; then break; fi
    sleep 0.1
done

start_vcard 0 "$E2E_TMP/card.img" --new --serial 0A0B0C0D0E0F1011
for i in $(seq 100); do
    "$M" --reader 0 info --public >/dev/null 2>&1 && break
    sleep 0.1
done
run by-index "$M" --reader 0 info --public; rc 0
has out "reader:          $READER0"
has out "area state:      BLANK (01)"
run by-name "$M" --reader "$READER0" info --public; rc 0
has out "ATR:             3B86014D4E4150010094"
run first-with-card "$M" info --public; rc 0; has out "reader:          $READER0"
run other-slot-empty "$M" --reader 1 info --public; rc 3

"$M" keys init --kdf-cost 10 >/dev/null
echo 404142434445464748494A4B4C4D4E4F | "$M" keys import transport --kvn FF >/dev/null
"$M" keys generate region --kvn 01 --master >/dev/null
"$M" keys generate certificate --kvn 02 >/dev/null
run setup "$M" --reader 0 area setup; rc 0
run diag "$M" --reader 0 diagnose; rc 0
has out "[PASS] reader             PC/SC service up, 2 readers"
has out "conclusion: no fault found: the reader and the card work"

# wait_card_state present|absent: polls until pcscd sees the card so (vpcd
# notices a card leaving at its next presence poll); 10 s at most.
wait_card_state() {
    for i in $(seq 100); do
        if "$M" --reader 0 info --public >/dev/null 2>wait.err; then
            [ "$1" = present ] && return 0
        elif grep -q "no card in the reader" wait.err; then
            # Absent for pcscd, not just a card that stopped answering.
            [ "$1" = absent ] && return 0
        fi
        sleep 0.1
    done
    bad "card not $1 after 10 s"
}

# The card leaves the reader in the middle of a load: mnap-vcard's test hook
# ends it when the 5th LOAD AP block (INS E8) arrives, before processing it.
stop_pid "$VCARD_PID"; VCARD_PID=
wait_card_state absent
start_vcard 0 "$E2E_TMP/card.img" --die-at E8:5
wait_card_state present
run pulled-load "$M" --reader 0 ap load "$EX/certificate.json" --block-size 16
rc 3
has err "mnap: LOAD AP: "
wait "$VCARD_PID"; VRC=$?
untrack_pid "$VCARD_PID"; VCARD_PID=
[ "$VRC" = 3 ] || bad "mnap-vcard exit status $VRC, expected 3 (--die-at fired)"
wait_card_state absent
run diag-no-card "$M" --reader 0 diagnose; rc 3
has out "[PASS] reader             PC/SC service up, 2 readers"
same out "[PASS] reader             PC/SC service up, 2 readers
[FAIL] card and ATR       no card in the reader
[SKIP] area manager       no card
[SKIP] area state         no card
[SKIP] free memory        no card
[SKIP] APs                no card
[SKIP] NVM health         no card
conclusion: no card in the reader: insert the card (chip first, face up)"
run diag-no-reader "$M" --reader 7 diagnose; rc 3
has out "[FAIL] card and ATR       no such reader"
has out "conclusion: terminal side: the reader asked for (--reader) is not connected; see 'mnap readers'"
# The card back in the reader: the interrupted load left nothing.
start_vcard 0 "$E2E_TMP/card.img"
wait_card_state present
run list-after-pull "$M" --reader 0 --json ap list; rc 0
same out '{"aps":[]}'
run load-again "$M" --reader 0 ap load "$EX/certificate.json"; rc 0
same out "AP D392F00001434552 loaded (176 bytes)"
CERT=D392F00001434552
run pcsc-unblock "$M" --reader 0 pin unblock $CERT --pin-stdin; rc 2   # stdin is empty
LABEL=pcsc-unblock-2; N=$((N + 1))
printf '1357\n1357\n' | "$M" --reader 0 pin unblock $CERT --pin-stdin >out 2>err; RC=$?; rc 0
LABEL=pcsc-kiosk-cert; N=$((N + 1))
printf '1357\n' | "$M" --reader "$READER0" kiosk certificate $CERT --pin-stdin --kiosk-id K-9 >out 2>err; RC=$?; rc 0
has out "issuance recorded: $(date -u +%Y-%m-%d) K-9 juminhyo 1"
LABEL=pcsc-kiosk-wrong; N=$((N + 1))
printf '0000\n' | "$M" --reader 0 kiosk certificate $CERT --pin-stdin >out 2>err; RC=$?; rc 1
same err "mnap: wrong PIN: 2 tries left"
run pcsc-suspend "$M" --reader 0 ap suspend $CERT; rc 0
run pcsc-list-susp "$M" --reader 0 ap list; rc 0; has out "$CERT                 SUSPENDED      3393 2 tries left"
run pcsc-resume "$M" --reader 0 ap resume $CERT; rc 0
run pcsc-lock "$M" --reader 0 area lock; rc 0
run pcsc-info-locked "$M" --reader 0 info --public; rc 0; has out "area state:      LOCKED (7F)"
run pcsc-unlock "$M" --reader 0 area unlock; rc 0
run pcsc-log "$M" --reader 0 log; rc 0; has out "  PIN_FAIL       $CERT                 1"
run pcsc-delete "$M" --reader 0 ap delete $CERT; rc 0
run pcsc-terminate "$M" --reader 0 area terminate --yes; rc 0
run pcsc-diag-term "$M" --reader 0 diagnose; rc 1
has out "[FAIL] area state         TERMINATED (FF)"
run audit "$M" audit verify; rc 0
has out "$E2E_TMP/audit.log: 12 lines, chain intact"
stop_pid "$VCARD_PID"; VCARD_PID=
stop_pid "$PCSCD_PID"
PCSCD_PID=
for i in $(seq 50); do [ -e /run/pcscd/pcscd.comm ] || break; sleep 0.1; done

# make demo's script, from start to end.
LABEL=demo; N=$((N + 1))
BUILD=$BUILD timeout 120 "$ROOT/tools/demo.sh" >demo.out 2>&1 </dev/null
RC=$?
rc 0
for want in "[ 1] starting pcscd --foreground with the vpcd driver" \
            "mnap: wrong PIN: 2 tries left" "mnap: wrong PIN: 1 try left" \
            "mnap: wrong PIN: the PIN is now blocked: go to the municipal counter" \
            "PIN of AP D392F000014C4942 set and unblocked" \
            "conclusion: no fault found: the reader and the card work" \
            "AP D392F000014C4942 deleted" "(no AP)" "13 lines, chain intact" \
            "registry audit of 131016: " "signature and chain intact" \
            "mnap: operator add: not allowed for clerk1 (role clerk; needs operator-admin)" \
            "card 0102030405060708 registered for resident 100000000001: ACTIVE" \
            "AP D392F000014C4942 loaded (210 bytes), recorded in the registry" \
            "AP D392F000014C4942                 LOADED    library      loaded " \
            "card 0102030405060708: ACTIVE -> STOPPED (lost) by sup1" \
            "mnap: card 0102030405060708 is STOPPED in the registry (MNAP_E_CARD_STOPPED): it may not be served" \
            "mnap: card 0102030405060708 is on the stop list (STOPPED, MNAP_E_CARD_STOPPED): it may not be served" \
            "(MNAP_E_STOPLIST_SIGNATURE): the card is not served" \
            "line 5: hash does not match" "stopping mnap-vcard and pcscd (by PID)" "mnap demo: done in"; do
    has demo.out "$want"
done
secs=$(sed -n 's/^mnap demo: done in \([0-9]*\) s$/\1/p' demo.out)
[ -n "$secs" ] && [ "$secs" -lt 60 ] || bad "the demo took ${secs:-?} s"
for p in /proc/[0-9]*; do
    case "$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" in
    *mnap-demo.*) bad "the demo left process ${p#/proc/} running" ;;
    esac
done
[ $RC = 0 ] || sed 's/^/      /' demo.out

echo "cli_pcsc.sh: $N checks, $FAILS failures"
[ "$FAILS" = 0 ]
