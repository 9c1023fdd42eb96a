#!/bin/bash
# tools/demo.sh: the demo `make demo` runs (after `make deps` and the build,
# with BUILD set): the local-resident area of a My Number card end to end,
# through the real PC/SC stack.
#
# It starts a private pcscd (its own reader.conf on a non-default vpcd
# CHANNELID, never the system's service) and mnap-vcard with a blank virtual
# card, in a temporary directory; then, with the `mnap` command line only:
# creates a key store, sets up the area, loads the library AP
# (tools/examples/library.json), runs the library kiosk flow with a PIN,
# blocks the PIN with three wrong ones, unblocks it at the counter, lists and
# deletes the AP, reads the card's security log, runs the fault isolation,
# then with the registry (SQLite): logs in, shows a clerk refused an admin
# command, registers a resident and the card, loads the AP with its record,
# reports the card lost (a supervisor stops it), shows the library kiosk
# refusing it online and a business system refusing it offline with the
# signed stop list, and verifies the operator audit log.  Each step is narrated in one line.  It
# runs without questions: the passphrase and PINs go through MNAP_PASSPHRASE
# and --pin-stdin.  Every process it starts is stopped by PID on exit.
#
# The process bookkeeping, port choice, reader configuration and mnap-vcard
# start come from the end-to-end harness (test/e2e/lib.sh).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
MNAP=$BDIR/bin/mnap
VCARD=$BDIR/bin/mnap-vcard
MANIFEST=$ROOT/tools/examples/library.json

[ -r "$ROOT/test/e2e/lib.sh" ] || { echo "demo: test/e2e/lib.sh is missing" >&2; exit 1; }
. "$ROOT/test/e2e/lib.sh"
# Our own reader name, so nobody mistakes the demo's reader for a test's.
E2E_NAME=mnap-demo
READER0="$E2E_NAME 00 00"

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
STEP=0
step() { STEP=$((STEP + 1)); printf '\n[%2d] %s\n' "$STEP" "$*"; }
# Indented output of a command that must succeed.
ok() { "$@" 2>&1 | sed 's/^/     /'; local rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || die "'mnap ${*:2}' failed (exit $rc)"; }
# A command that must fail with the given exit code (the demo shows refusals).
refused() {
    local want=$1 rc
    shift
    "$@" 2>&1 | sed 's/^/     /'
    rc=${PIPESTATUS[0]}
    [ "$rc" = "$want" ] || die "'mnap ${*:2}' exited $rc, expected $want"
}

# --- preflight ---------------------------------------------------------------
START=$(date +%s)
for t in pcscd; do
    command -v "$t" >/dev/null 2>&1 || die "$t not installed (run 'make deps')"
done
[ -r "$VPCD_DRIVER" ] || die "no vpcd driver at $VPCD_DRIVER (Debian package vsmartcard-vpcd; 'make deps')"
[ -x "$MNAP" ] || die "$MNAP not built (make BUILD=$BUILD)"
[ -x "$VCARD" ] || die "$VCARD not built (make BUILD=$BUILD)"
[ -r "$MANIFEST" ] || die "$MANIFEST missing"
[ "$(id -u)" = 0 ] || die "pcscd needs root here (its socket is /run/pcscd/pcscd.comm): run as root"
for p in /proc/[0-9]*; do
    if [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ]; then
        die "another pcscd is running (pid ${p#/proc/}): the demo needs its own. Stop it first (e.g. 'systemctl stop pcscd.socket pcscd'); the demo never stops a process it did not start."
    fi
done
if [ -S /run/pcscd/pcscd.comm ] && [ ! -e /run/pcscd/pcscd.pid ]; then
    die "/run/pcscd/pcscd.comm exists without a pcscd process (systemd's pcscd.socket?): 'systemctl stop pcscd.socket' first"
fi

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-demo.XXXXXX") || die "mktemp failed"
on_exit() {
    local rc=$?
    e2e_cleanup
    if [ "$rc" = 0 ]; then
        rm -rf "$E2E_TMP"
    else
        echo "demo: failed; logs kept in $E2E_TMP (pcscd.log, vcard0.log)" >&2
    fi
}
trap on_exit EXIT
trap 'echo "demo: interrupted" >&2; exit 1' INT TERM HUP

# The demo's own key store, audit log and data directory: nothing of the
# operator's is touched.
export MNAP_KEYSTORE=$E2E_TMP/keys.mks MNAP_AUDIT=$E2E_TMP/audit.log MNAP_OPERATOR=demo-clerk
export MNAP_PASSPHRASE="demo passphrase $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export XDG_DATA_HOME=$E2E_TMP/data
unset MNAP_CARD_IMAGE MNAP_TRACE
M() { "$MNAP" --reader "$READER0" "$@"; }
LIB=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$MANIFEST" | head -1)
[ -n "$LIB" ] || die "no AID in $MANIFEST"

echo "mnap demo: the local-resident area of a My Number card, end to end through PC/SC"

# --- pcscd and the virtual card -----------------------------------------------
e2e_pick_port
e2e_write_conf
step "starting pcscd --foreground with the vpcd driver (private reader.conf, CHANNELID $E2E_PORT, 127.0.0.1 only)"
pcscd --foreground -c "$E2E_TMP/reader.conf.d" >> "$E2E_TMP/pcscd.log" 2>&1 &
PCSCD_PID=$!
track_pid "$PCSCD_PID"
for i in $(seq 100); do
    kill -0 "$PCSCD_PID" 2>/dev/null || { tail -20 "$E2E_TMP/pcscd.log" >&2; die "pcscd exited at start"; }
    if "$MNAP" readers 2>/dev/null | grep -qF ": $READER0" && port_in_use "$E2E_PORT"; then
        break
    fi
    [ "$i" = 100 ] && die "pcscd did not list reader '$READER0' within 10 s"
    sleep 0.1
done
ok "$MNAP" readers

step "starting mnap-vcard: a blank virtual card (serial 0102030405060708) in reader '$READER0'"
start_vcard 0 "$E2E_TMP/card.img" --new --serial 0102030405060708
for i in $(seq 100); do
    kill -0 "$VCARD_PID" 2>/dev/null || { tail -20 "$E2E_TMP/vcard0.log" >&2; die "mnap-vcard exited at start"; }
    M info --public >/dev/null 2>&1 && break
    [ "$i" = 100 ] && die "no card in '$READER0' within 10 s"
    sleep 0.1
done
ok M info --public

# --- the municipality's terminal ----------------------------------------------
step "creating the key store: card vendor's transport key (KVN FF), region master keys (KVN 01), library AP master keys (KVN 01), the stop-list and audit-checkpoint signing keys (Ed25519, 32 bytes); only KCVs are shown"
ok "$MNAP" keys init --kdf-cost 14
ok "$MNAP" keys import transport --kvn FF --file <(echo 404142434445464748494A4B4C4D4E4F)
ok "$MNAP" keys generate region --kvn 01 --master
ok "$MNAP" keys generate library --kvn 01 --master
ok "$MNAP" keys ed25519 stoplist
ok "$MNAP" keys ed25519 audit

step "mnap area setup: the transport key opens the blank area, the region keys (diversified for this card) replace it"
ok M area setup
ok M info

step "mnap manifest check + ap load: the library card AP ($LIB) from tools/examples/library.json"
ok "$MNAP" manifest check "$MANIFEST"
ok M ap load "$MANIFEST"

step "at the municipal counter: the resident chooses a PIN (mnap pin unblock, PIN entered twice)"
ok M pin unblock "$LIB" --pin-stdin < <(printf '2468\n2468\n')

step "at the library: mutual authentication with the library's keys, PIN, patron data read, a loan recorded"
ok M kiosk library "$LIB" --pin-stdin --item "ISBN 978-4-00-310101-8" < <(printf '2468\n')

step "three wrong PINs: the tries left are shown, the third one blocks the PIN"
for i in 1 2 3; do
    refused 1 M kiosk library "$LIB" --pin-stdin < <(printf '1111\n')
done

step "the blocked PIN is refused even when right: the kiosk sends the resident to the counter"
refused 1 M kiosk library "$LIB" --pin-stdin < <(printf '2468\n')
ok M ap list

step "at the counter: the PIN is unblocked with a new one; the library kiosk works again"
ok M pin unblock "$LIB" --pin-stdin < <(printf '8642\n8642\n')
ok M kiosk library "$LIB" --pin-stdin < <(printf '8642\n')

step "mnap diagnose: card fault isolation, reader to NVM"
ok M diagnose

step "mnap ap list, then ap delete: the AP and all its data and keys are wiped"
ok M ap list
ok M ap delete "$LIB"
ok M ap list

step "mnap log: the card's own security log, newest first"
ok M log

# --- the registry (SQLite): operators, residents, cards, issued APs ----------------
REG=$E2E_TMP/registry.db
R() { M --registry "$REG" "$@"; }
step "the registry (SQLite, $REG): schema, municipality 131016 and its first admin (password from stdin, never argv)"
ok "$MNAP" --registry "$REG" registry init
ok "$MNAP" --registry "$REG" registry add-municipality 131016 --name 千代田区 --admin admin --password-stdin \
    < <(printf 'demo admin password\n')

step "the admin logs in (scrypt-hashed password; the session token is stored hashed) and adds a clerk, a supervisor, a kiosk and an auditor"
ok R login admin --password-stdin < <(printf 'demo admin password\n')
ok R operator add clerk1 --name "窓口 一郎" --role clerk --password-stdin < <(printf 'demo clerk password\n')
ok R operator add sup1 --name "監督 花子" --role supervisor --password-stdin < <(printf 'demo super password\n')
ok R operator add kiosk1 --name "図書館 端末" --role kiosk --password-stdin < <(printf 'demo kiosk password\n')
ok R operator add aud1 --name "監査 次郎" --role auditor --password-stdin < <(printf 'demo audit password\n')

step "the clerk logs in; an admin command is refused by role before anything is touched"
ok R login clerk1 --password-stdin < <(printf 'demo clerk password\n')
ok R whoami
refused 6 R operator add clerk2 --name "x" --role admin --password-stdin < <(printf 'another password\n')
refused 6 R keys list

step "a resident, and this card registered to them: ACTIVE"
ok R resident add 100000000001 --kanji "山田 太郎" --kana "ヤマダ タロウ" --birth 1985-04-01 --address "東京都千代田区千代田1-1"
ok R resident find ヤマダ
ok R card register 0102030405060708 --resident 100000000001

step "mnap ap load with the registry: the card change and its record in one step (intent, card, settlement)"
ok R ap load "$MANIFEST"
ok R card show 0102030405060708
ok R logout

step "the resident reports the card lost: a supervisor stops it (STOPPED, final; who, when and why recorded) and exports the signed stop list"
ok R login sup1 --password-stdin < <(printf 'demo super password\n')
ok R card stop 0102030405060708 --reason lost
ok R card show 0102030405060708
ok R card stoplist-export "$E2E_TMP/stop.lst"
PUB=$(R card stoplist-key 2>/dev/null) || die "card stoplist-key failed"
echo "     the kiosks' public key: $PUB"
ok R logout

step "the library kiosk (kiosk role, online through the registry) refuses the card before any PIN is asked"
ok R login kiosk1 --password-stdin < <(printf 'demo kiosk password\n')
refused 1 R kiosk library "$LIB" --pin-stdin < <(printf '8642\n')
ok R logout

step "a business system offline: the signed stop list, checked with the public key alone, refuses the card; an edited copy is refused"
refused 1 M kiosk library "$LIB" --pin-stdin --stop-list "$E2E_TMP/stop.lst" --stop-list-key "$PUB" < <(printf '8642\n')
cp "$E2E_TMP/stop.lst" "$E2E_TMP/stop-edited.lst"
printf '\001' | dd of="$E2E_TMP/stop-edited.lst" bs=1 seek=44 conv=notrunc 2>/dev/null
refused 5 M kiosk library "$LIB" --pin-stdin --stop-list "$E2E_TMP/stop-edited.lst" --stop-list-key "$PUB" < <(printf '8642\n')

step "the registry audit (the audit's home with a registry): the auditor verifies the chain and its signed checkpoints, and exports a signed file"
ok R login aud1 --password-stdin < <(printf 'demo audit password\n')
ok R audit verify
ok R audit export --from 2000-01-01 --to 2100-01-01 "$E2E_TMP/audit-export.txt"
sed -n '2,$p' "$E2E_TMP/audit-export.txt" | grep -v '^#' | awk -F'\t' '{ printf "     | %3s %s %-8s %-15s %-16s %s\n", $1, $2, $3, $4, $5, $7 }'
ok R audit verify-export "$E2E_TMP/audit-export.txt" --key "$(R audit key 2>/dev/null)"
ok R logout

step "mnap audit verify: the terminal's hash-chained operator audit file, kept for commands without a registry (hashes shortened here)"
awk -F'\t' '{ printf "     | %3s %s %-10s %-14s %s %s %-28s %.16s...\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$MNAP_AUDIT"
ok "$MNAP" audit verify
cp "$MNAP_AUDIT" "$E2E_TMP/audit-edited.log"
sed -i '5s/error: wrong PIN/ok/' "$E2E_TMP/audit-edited.log"
echo "     a copy with line 5 edited (a wrong PIN turned into 'ok') is caught:"
refused 5 "$MNAP" --audit "$E2E_TMP/audit-edited.log" audit verify

step "stopping mnap-vcard and pcscd (by PID)"
e2e_cleanup
echo
echo "mnap demo: done in $(( $(date +%s) - START )) s"
