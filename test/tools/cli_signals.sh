#!/bin/sh
# test/tools/cli_signals.sh: a second actor in the middle of an audited
# command (issue #21, items 3 and 4), over the image card:
#   - Ctrl-C at the passphrase prompt of `ap load` (a real terminal, through
#     test/tools/pty_run.py): exit 130 and an "interrupted (SIGINT)" line;
#   - SIGTERM while a kiosk flow waits for the PIN: exit 143, an
#     "interrupted (SIGTERM)" line with the card's serial and the AP, and no
#     PIN try spent;
#   - a command that finds the audit log held by another terminal (one
#     waiting at its passphrase prompt) says what it waits for, then gives up
#     with a named error after MNAP_LOCK_TIMEOUT seconds, changing nothing;
#   - the audit chain is whole at the end.
# Every process it starts is waited for; it leaves nothing running.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
PTY="$(pwd)/test/tools/pty_run.py"
[ -x "$M" ] || { echo "cli_signals.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-sig-XXXXXX)
BG=
cleanup() { [ -n "$BG" ] && kill -KILL $BG 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      MNAP_SIMCARD_PULL_AT MNAP_SIMCARD_CUT_AT XDG_DATA_HOME MNAP_LOCK_TIMEOUT
export HOME="$T/home" MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" \
       MNAP_CARD_IMAGE="$T/card.img" MNAP_OPERATOR=clerk-7
mkdir -p "$HOME"
FAILS=0
N=0
LABEL=
CUR_FAIL=0
# A step passes or fails as a whole; fail prints every broken check.
fail() { echo "  FAIL [$LABEL]: $*"; [ $CUR_FAIL = 1 ] || { CUR_FAIL=1; FAILS=$((FAILS + 1)); }; }
rc() { [ "$RC" = "$1" ] || fail "exit $RC, expected $1; output: $(cat "$T/out" "$T/err" 2>/dev/null)"; }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2': $(cat "$1")"; }
# last_audit FIELD: field FIELD (1-based) of the audit log's last line.
last_audit() { tail -n 1 "$T/audit.log" | cut -f "$1"; }
lines() { wc -l <"$T/audit.log" | tr -d ' '; }
step() { LABEL=$1; N=$((N + 1)); CUR_FAIL=0; }

echo "cli_signals.sh: Ctrl-C, SIGTERM and a held audit log ($M)"
LIB=D392F000014C4942
export MNAP_PASSPHRASE=pw
step setup
{ "$M" keys init --kdf-cost 10 &&
  printf '404142434445464748494A4B4C4D4E4F\n' | "$M" keys import transport --kvn FF &&
  "$M" keys generate region --kvn 01 --master &&
  "$M" keys generate library --kvn 01 --master &&
  "$M" simcard create card.img --serial 0102030405060708 &&
  "$M" area setup &&
  "$M" ap load "$EX/library.json" &&
  printf '1234\n1234\n' | "$M" pin unblock $LIB --pin-stdin; } >"$T/out" 2>"$T/err"
RC=$?; rc 0
n0=$(lines)

# 1. Ctrl-C at the passphrase prompt of ap delete, typed on a real terminal.
unset MNAP_PASSPHRASE
step ctrl-c-at-prompt
"$PTY" "key store passphrase:" '\x03' -- "$M" ap delete $LIB >"$T/out" 2>&1
RC=$?; rc 130
has "$T/out" "mnap: interrupted: the audit log records it"
[ "$(lines)" = $((n0 + 1)) ] || fail "expected one new audit line, have $(($(lines) - n0))"
[ "$(last_audit 3)" = clerk-7 ] || fail "operator field: $(last_audit 3)"
[ "$(last_audit 4)" = "ap delete" ] || fail "command field: $(last_audit 4)"
[ "$(last_audit 6)" = $LIB ] || fail "aid field: $(last_audit 6)"
[ "$(last_audit 7)" = "interrupted (SIGINT)" ] || fail "result field: $(last_audit 7)"
export MNAP_PASSPHRASE=pw
step ap-still-there
"$M" ap list >"$T/out" 2>"$T/err"; RC=$?; rc 0; has "$T/out" "$LIB"

# 2. SIGTERM while the kiosk flow waits for the PIN on stdin (a FIFO that
# stays open and empty): the card session is open, the serial known.
step sigterm-at-pin
mkfifo "$T/pin.fifo"
exec 3<>"$T/pin.fifo"
"$M" kiosk library $LIB --pin-stdin <"$T/pin.fifo" >"$T/out" 2>"$T/err" &
BG=$!
# Wait (bounded) until it blocks reading the PIN: read(2) on fd 0.
i=0
while [ $i -lt 200 ]; do
    s=$(cut -d' ' -f1,2 /proc/$BG/syscall 2>/dev/null)
    [ "$s" = "0 0x0" ] && break
    sleep 0.05; i=$((i + 1))
done
[ "$s" = "0 0x0" ] || fail "the kiosk flow never waited for its PIN (syscall: $s)"
kill -TERM $BG
wait $BG; RC=$?; BG=
exec 3>&-
rc 143
[ "$(last_audit 4)" = "kiosk library" ] || fail "command field: $(last_audit 4)"
[ "$(last_audit 5)" = 0102030405060708 ] || fail "serial field: $(last_audit 5)"
[ "$(last_audit 7)" = "interrupted (SIGTERM)" ] || fail "result field: $(last_audit 7)"
step no-try-spent
"$M" ap list >"$T/out" 2>"$T/err"; RC=$?; rc 0; has "$T/out" "3 tries left"

# 3. Terminal A waits at its passphrase prompt holding the audit log;
# terminal B (MNAP_LOCK_TIMEOUT=2) says what it waits for, then gives up.
step held-lock
n1=$(lines)
unset MNAP_PASSPHRASE
HOOK="MNAP_PASSPHRASE=pw MNAP_LOCK_TIMEOUT=2 timeout 20 '$M' ap suspend $LIB >'$T/b.out' 2>'$T/b.err'; echo \$? >'$T/b.rc'"
"$PTY" "key store passphrase:" '\x03' "$HOOK" -- "$M" ap delete $LIB >"$T/out" 2>&1
RC=$?; rc 130
export MNAP_PASSPHRASE=pw
[ "$(cat "$T/b.rc")" = 5 ] || fail "terminal B: exit $(cat "$T/b.rc"), expected 5"
has "$T/b.err" "mnap: waiting for the audit log $T/audit.log: another mnap command holds it (up to 2 s)"
has "$T/b.err" "mnap: audit log: the audit log $T/audit.log is held by another mnap command: gave up after 2 s (MNAP_LOCK_TIMEOUT)"
[ "$(lines)" = $((n1 + 1)) ] || fail "expected only A's line, have $(($(lines) - n1)) new"
[ "$(last_audit 7)" = "interrupted (SIGINT)" ] || fail "result field: $(last_audit 7)"
step ap-not-suspended
"$M" ap list >"$T/out" 2>"$T/err"; RC=$?; rc 0; has "$T/out" "ACTIVE"

step verify
"$M" audit verify >"$T/out" 2>"$T/err"; RC=$?; rc 0

echo "cli_signals.sh: $((N - FAILS)) passed, $FAILS failed"
[ $FAILS = 0 ]
