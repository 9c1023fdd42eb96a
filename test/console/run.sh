#!/bin/bash
# test/console/run.sh: the operator console (tools/mnap-console,
# docs/console.md) in a real browser.
#
#   BUILD=build test/console/run.sh          (make test-console runs it)
#
# Starts a private pcscd with one vpcd reader and a virtual card
# (test/e2e/lib.sh), sets the card's area up with the mnap CLI, makes a
# registry of its own (SQLite) with a municipality, its first admin and two
# clerks, a CA of its own and the console's certificate from it, starts
# mnap-console on 127.0.0.1, and drives headless Chromium through
# test/console/browser.py (python3-selenium + chromium-driver).  The CA is
# trusted in an NSS database of the test's own Chromium home, not by turning
# certificate checks off.  Screenshots of each main screen are kept in
# $MNAP_CONSOLE_OUT (default $BUILD/test/console).
#
# Must run as root with no other pcscd (like test/e2e/run.sh; develop inside
# /work/isolate.sh).  Exit status 0 when every test passed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=$BDIR/bin/mnap-vcard
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
MNAP=$BDIR/bin/mnap
CONSOLE=$BDIR/bin/mnap-console
OUT=${MNAP_CONSOLE_OUT:-$BDIR/test/console}

. "$ROOT/test/e2e/lib.sh"

for t in chromium chromedriver certutil openssl; do
    command -v $t >/dev/null 2>&1 || die "console: missing $t (make deps: chromium chromium-driver libnss3-tools)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || die "console: no python3-selenium (make deps)"
[ -x "$CONSOLE" ] && [ -x "$MNAP" ] || die "console: $CONSOLE or $MNAP not built"

e2e_preflight
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-console.XXXXXX") || die "mktemp failed"
FAILED=1
CONSOLE_PID=
on_exit() {
    [ -z "$CONSOLE_PID" ] || stop_pid "$CONSOLE_PID"
    e2e_cleanup
    if [ "$FAILED" = 0 ] && [ "${MNAP_E2E_KEEP:-0}" != 1 ]; then rm -rf "$E2E_TMP"
    else
        for f in "$E2E_TMP"/console.log "$E2E_TMP"/pcscd.log "$E2E_TMP"/vcard0.log; do
            [ -s "$f" ] && { log "--- last lines of $f"; tail -n 20 "$f" >&2; }
        done
        log "console: logs kept in $E2E_TMP"
    fi
}
trap on_exit EXIT
trap 'log "console: interrupted"; exit 1' INT TERM HUP

e2e_pick_port
e2e_write_conf
start_pcscd
# The card loses power in the middle of the first DELETE's first NVM write
# (t_card_pulled_mid_delete) and comes back with start-up recovery.
fresh_card 0 --cut-at E4:1:1 || die "no card"

T=$E2E_TMP
export HOME=$T/home
mkdir -p "$HOME" "$OUT"
rm -f "$OUT"/*.png
unset MNAP_CARD_IMAGE MNAP_REGISTRY MNAP_SESSION MNAP_OPERATOR MNAP_TRACE XDG_DATA_HOME
export MNAP_KEYSTORE=$T/keys.mks MNAP_AUDIT=$T/audit.log MNAP_REG_KDF_COST=10
export MNAP_PASSPHRASE="console test $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$MNAP_PASSPHRASE" > "$T/passphrase"
chmod 600 "$T/passphrase"
q() { "$@" >> "$T/setup.log" 2>&1 || die "setup failed: $* (log: $(tail -3 "$T/setup.log"))"; }

# The card's area, before any registry (the counter's key ceremony).
q "$MNAP" keys init --kdf-cost 10
echo 404142434445464748494A4B4C4D4E4F > "$T/transport.hex"
q "$MNAP" keys import transport --kvn FF --file "$T/transport.hex"
q "$MNAP" keys generate region --kvn 01 --master
q "$MNAP" keys generate library --kvn 01 --master
# The audit's signing key: the CLI's commands sign a checkpoint of the
# registry audit when the last is a day old (issue #19).
q "$MNAP" keys ed25519 audit
AUDIT_PUB=$("$MNAP" audit key) || die "audit key"
q "$MNAP" --reader "$READER0" area setup

# The registry: a municipality, its first admin, two clerks.
REG=$T/registry.db
q "$MNAP" --registry "$REG" registry init
printf 'admin password\n' | q "$MNAP" --registry "$REG" registry add-municipality 131016 \
    --name 千代田区 --admin admin --password-stdin
export MNAP_REGISTRY=$REG MNAP_SESSION=$T/admin.session
printf 'admin password\n' | q "$MNAP" login admin --password-stdin
printf 'clerk password\n' | q "$MNAP" operator add clerk1 --name "窓口 一郎" --role clerk --password-stdin
printf 'clerk password\n' | q "$MNAP" operator add clerk2 --name "窓口 二郎" --role clerk --password-stdin
printf 'audit password\n' | q "$MNAP" operator add audit1 --name "監査 一子" --role auditor --password-stdin
q "$MNAP" logout
unset MNAP_REGISTRY MNAP_SESSION

# A CA of the test and the console's certificate for 127.0.0.1.
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=mnap console test CA" -keyout "$T/ca.key" -out "$T/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/console.key" -out "$T/console.csr"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > "$T/ext"
q openssl x509 -req -in "$T/console.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -extfile "$T/ext" -out "$T/console.pem"
# Chromium on Linux trusts what the NSS database in $HOME/.pki/nssdb says:
# the test's own home, so only this browser trusts the test CA.
mkdir -p "$HOME/.pki/nssdb"
q certutil -d "sql:$HOME/.pki/nssdb" -N --empty-password
q certutil -d "sql:$HOME/.pki/nssdb" -A -n "mnap console test CA" -t "C,," -i "$T/ca.pem"

PORT=$((E2E_PORT + 100))
while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
cat > "$T/console.conf" <<CONF
# written by test/console/run.sh
listen = 127.0.0.1
port = $PORT
cert = $T/console.pem
key = $T/console.key
registry = $REG
municipality = 131016
mnap = $MNAP
keystore = $MNAP_KEYSTORE
passphrase_file = $T/passphrase
audit = $MNAP_AUDIT
reader = $READER0
manifests = $ROOT/tools/examples
state_dir = $T/console-state
session_ttl = 600
CONF
unset MNAP_PASSPHRASE MNAP_KEYSTORE MNAP_AUDIT
# The CLI's lines under each outcome in Japanese (po/ja.po): the ja_JP.UTF-8
# locale generated into a private LOCPATH, as test/tools/cli_i18n.sh does.
mkdir -p "$T/locale"
if localedef -i ja_JP -f UTF-8 "$T/locale/ja_JP.UTF-8" 2>"$T/localedef.err"; then
    export LOCPATH=$T/locale
else
    die "localedef ja_JP.UTF-8 failed: $(cat "$T/localedef.err") (make deps: locales)"
fi
# Under a sanitizer build: glibc's setlocale keeps the LOCPATH list it
# parsed (__argz_add_sep) for the life of the process (as cli_i18n.sh says).
printf 'leak:__argz_add_sep\n' > "$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
# A resident file a killed console left in its state_dir is removed at start.
mkdir -m 700 "$T/console-state"
echo "200000000099,left,behind" > "$T/console-state/upload-AbC123"
"$CONSOLE" "$T/console.conf" > "$T/console.log" 2>&1 &
CONSOLE_PID=$!
track_pid "$CONSOLE_PID"
# Two more consoles on the same registry: one whose registry fails in the
# middle of a tuning save (MNAP_REG_FAULT=tuning-save), one whose sessions
# end after SHORT_TTL seconds (the session expiry test).
next_port() { local p=$(($1 + 1)); while port_in_use "$p"; do p=$((p + 1)); done; echo "$p"; }
PORT_FAULT=$(next_port "$PORT")
PORT_SHORT=$(next_port "$PORT_FAULT")
SHORT_TTL=3
sed -e "s/^port = .*/port = $PORT_FAULT/" -e "s|^state_dir = .*|state_dir = $T/console-fault|" \
    "$T/console.conf" > "$T/console-fault.conf"
sed -e "s/^port = .*/port = $PORT_SHORT/" -e "s|^state_dir = .*|state_dir = $T/console-short|" \
    -e "s/^session_ttl = .*/session_ttl = $SHORT_TTL/" "$T/console.conf" > "$T/console-short.conf"
MNAP_REG_FAULT=tuning-save "$CONSOLE" "$T/console-fault.conf" > "$T/console-fault.log" 2>&1 &
FAULT_PID=$!
track_pid "$FAULT_PID"
"$CONSOLE" "$T/console-short.conf" > "$T/console-short.log" 2>&1 &
SHORT_PID=$!
track_pid "$SHORT_PID"
for p in "$PORT" "$PORT_FAULT" "$PORT_SHORT"; do
    for i in $(seq 50); do port_in_use "$p" && break; sleep 0.1; done
    port_in_use "$p" || die "mnap-console did not listen on $p"
done

if [ -e "$T/console-state/upload-AbC123" ]; then
    echo "FAIL t_leftover_upload_removed: $(ls -l "$T/console-state")"
    LEFTOVER_RC=1
else
    echo "ok t_leftover_upload_removed"
    LEFTOVER_RC=0
fi

LIB=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$ROOT/tools/examples/library.json" | head -1 | tr a-f A-F)
/usr/bin/python3 "$HERE/browser.py" --url "https://127.0.0.1:$PORT" --out "$OUT" --ca "$T/ca.pem" \
    --home "$HOME" --aid "$LIB" --registry "$REG" --vcard-pid "$VCARD_PID" \
    --fault-url "https://127.0.0.1:$PORT_FAULT" --short-url "https://127.0.0.1:$PORT_SHORT" --short-ttl "$SHORT_TTL" \
    --state-dir "$T/console-state"
RC=$?
[ "$LEFTOVER_RC" = 0 ] || RC=1
stop_pid "$FAULT_PID"
stop_pid "$SHORT_PID"
# The console's own events are rows of the registry's hash-chained audit
# (issue #19), beside the CLI's, and the CLI's audit verify (auditor) checks
# the whole chain.
sql() { sqlite3 "$REG" "$1"; }
if [ ! -e "$T/console-state/console-audit.log" ] &&
   [ "$(sql "SELECT count(*) FROM audit_log WHERE operator = 'clerk1' AND command = 'console GET /tuning' AND result LIKE 'refused: role clerk; needs settings'")" -ge 1 ] &&
   [ "$(sql "SELECT count(*) FROM audit_log WHERE operator = 'admin' AND command = 'console tuning' AND result LIKE 'ok:%bg_color%'")" -ge 1 ] &&
   [ "$(sql "SELECT count(*) FROM audit_log WHERE operator = 'clerk2' AND command = 'login' AND result LIKE 'error: operator locked%'")" -ge 1 ] &&
   [ "$(sql "SELECT count(*) FROM audit_log WHERE operator = 'clerk1' AND command = 'console POST /ap/delete' AND result = 'refused: CSRF token'")" -ge 2 ] &&
   [ "$(sql "SELECT count(*) FROM audit_log WHERE command = 'resident import' AND result LIKE '[row %] ok: 3 imported%'")" -ge 1 ]; then
    echo "ok t_console_events_in_registry_audit"
else
    echo "FAIL t_console_events_in_registry_audit: $(sql "SELECT seq, operator, command, result FROM audit_log" | tail -40)"
    RC=1
fi
export MNAP_REGISTRY=$REG MNAP_SESSION=$T/audit.session
printf 'audit password\n' | "$MNAP" login audit1 --password-stdin > "$T/verify.out" 2>&1
if LC_ALL=C "$MNAP" audit verify --key "$AUDIT_PUB" >> "$T/verify.out" 2>&1 && grep -q "intact" "$T/verify.out" &&
   [ "$(sql "SELECT count(*) FROM audit_checkpoints WHERE municipality = '131016'")" -ge 1 ]; then
    echo "ok t_audit_chain_verifies"
else
    echo "FAIL t_audit_chain_verifies: $(cat "$T/verify.out")"
    RC=1
fi
"$MNAP" logout > /dev/null 2>&1
unset MNAP_REGISTRY MNAP_SESSION
# The tuning lives in the registry (schema v2), not on the terminal.
if [ "$(sqlite3 "$REG" "SELECT value FROM tuning WHERE municipality = '131016' AND key = 'bg_color'")" = "#ffeecc" ]; then
    echo "ok t_tuning_in_registry"
else
    echo "FAIL t_tuning_in_registry: $(sqlite3 "$REG" 'SELECT * FROM tuning')"
    RC=1
fi
# The extra field the clerk filled in is recorded with the resident.
if [ "$(sqlite3 "$REG" "SELECT field || '=' || value FROM resident_extra WHERE resident = '100000000001'")" = "電話番号 / Phone=03-1234-5678" ]; then
    echo "ok t_extra_field_in_registry"
else
    echo "FAIL t_extra_field_in_registry: $(sqlite3 "$REG" 'SELECT * FROM resident_extra')"
    RC=1
fi
# After the pull mid-delete, the next command settled the intent by the card.
PENDING=$(sqlite3 "$REG" "SELECT count(*) FROM issued_aps WHERE status IN ('LOADING', 'DELETING')")
if [ "$PENDING" = 0 ]; then
    echo "ok t_pull_settled_in_registry"
else
    echo "FAIL t_pull_settled_in_registry: $(sqlite3 "$REG" 'SELECT serial, aid, status FROM issued_aps')"
    RC=1
fi
# The consoles stop cleanly, and a sanitizer build (make check) reported
# nothing in any of them (leaks are reported at exit).
stop_pid "$CONSOLE_PID"
CONSOLE_PID=
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error" "$T"/console*.log; then
    echo "FAIL t_console_sanitizer_clean: $(grep -hE -A8 "ERROR: |runtime error" "$T"/console*.log | head -30)"
    RC=1
else
    echo "ok t_console_sanitizer_clean"
fi
# The card test stopped the vcard itself: forget it.
untrack_pid "$VCARD_PID"
[ "$RC" = 0 ] && FAILED=0
exit "$RC"
