#!/bin/sh
# test/registry/cli_registry.sh: the `mnap` command line with a registry,
# over the in-process image card (no pcscd): registry init, municipality and
# first admin, login (password from stdin, never argv), lockout and unlock,
# the role gate (a clerk refused an admin command, an auditor a card
# command), residents, card register/show, ap load/delete recorded with the
# card change, the refusal on a card that is not ACTIVE, and the repair of a
# change interrupted at each step (MNAP_REG_FAULT, a card pulled mid-load).
#
# SQLite by default (a file in a temporary directory).  test/registry/pg.sh
# runs it again on PostgreSQL with MNAP_TEST_PG_ADMIN=<superuser conninfo>:
# the DBA initialises, terminals connect as a login role of the municipality.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
[ -x "$M" ] || { echo "cli_registry.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-clireg-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      MNAP_SIMCARD_PULL_AT MNAP_SIMCARD_CUT_AT XDG_DATA_HOME MNAP_REGISTRY MNAP_SESSION \
      MNAP_MUNICIPALITY MNAP_REG_FAULT
export HOME="$T/home"
mkdir -p "$HOME"

FAILS=0
N=0
LABEL=
fail() { echo "  FAIL [$LABEL]: $*"; FAILS=$((FAILS + 1)); }
run() { LABEL=$1; shift; N=$((N + 1)); "$@" >"$T/out" 2>"$T/err" </dev/null; RC=$?; }
run_in() { LABEL=$1; IN=$2; shift 2; N=$((N + 1)); printf '%b' "$IN" | "$@" >"$T/out" 2>"$T/err"; RC=$?; }
rc() { [ "$RC" = "$1" ] || fail "exit $RC, expected $1; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"; }
same() { printf '%s\n' "$2" >"$T/want"; cmp -s "$T/want" "$1" || { fail "$(basename "$1") differs:"; diff "$T/want" "$1" | sed 's/^/      /'; }; }
out() { same "$T/out" "$1"; }
err() { same "$T/err" "$1"; }
noerr() { [ ! -s "$T/err" ] || fail "unexpected stderr: $(cat "$T/err")"; }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2': $(cat "$1")"; }

ENGINE=sqlite
if [ -n "${MNAP_TEST_PG_ADMIN:-}" ]; then
    ENGINE=postgresql
    DB=mnap_cli_$$
    psql -X -q -v ON_ERROR_STOP=1 "$MNAP_TEST_PG_ADMIN dbname=postgres" -c "CREATE DATABASE $DB" >/dev/null || exit 1
    ADMIN_REG="$MNAP_TEST_PG_ADMIN dbname=$DB"
    TERM_REG="$MNAP_TEST_PG_ADMIN dbname=$DB user=cli_terminal"
    sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$ADMIN_REG" -c "$1"; }
else
    ADMIN_REG="$T/registry.db"
    TERM_REG="$T/registry.db"
    sql() { sqlite3 "$T/registry.db" "$1"; }
fi
echo "cli_registry.sh: mnap with a registry on $ENGINE ($M)"

# --- a card with an area, before any registry (nothing gated) -------------------
export MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" MNAP_PASSPHRASE=correct
export MNAP_CARD_IMAGE="$T/card.img" MNAP_REG_KDF_COST=10
run ks-init "$M" keys init --kdf-cost 10; rc 0
run_in ks-transport "404142434445464748494A4B4C4D4E4F\n" "$M" keys import transport --kvn FF; rc 0
run ks-region "$M" keys generate region --kvn 01 --master; rc 0
run ks-library "$M" keys generate library --kvn 01 --master; rc 0
run ks-cert "$M" keys generate certificate --kvn 02 --length 32; rc 0
run sim "$M" simcard create card.img --serial 0102030405060708; rc 0
run setup "$M" area setup; rc 0
LIB=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$EX/library.json" | head -1 | tr a-f A-F)
CERT=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$EX/certificate.json" | head -1 | tr a-f A-F)
S=0102030405060708

# --- the registry ---------------------------------------------------------------------
run no-registry "$M" resident show 1; rc 6
err "mnap: no registry: give --registry CONN (or MNAP_REGISTRY), or run 'mnap registry init'"
run init "$M" --registry "$ADMIN_REG" registry init; rc 0; out "registry ($ENGINE): schema version 2"
run init-again "$M" --registry "$ADMIN_REG" registry upgrade; rc 0
run_in addm "admin password\n" "$M" --registry "$ADMIN_REG" registry add-municipality 131016 \
    --name 千代田区 --admin admin --password-stdin; rc 0
out "municipality 131016 (千代田区) registered
operator admin (admin) added"
run_in addm-short "short\n" "$M" --registry "$ADMIN_REG" registry add-municipality 131024 --name x \
    --admin admin --password-stdin; rc 2; err "mnap: a password has at least 8 characters"
if [ "$ENGINE" = postgresql ]; then
    sql "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cli_terminal') THEN
         CREATE ROLE cli_terminal LOGIN IN ROLE mnap_m_131016; END IF; END \$\$" >/dev/null
fi
export MNAP_REGISTRY="$TERM_REG"
run status "$M" registry status --json; rc 0
out "{\"engine\":\"$ENGINE\",\"schema\":2,\"municipalities\":[{\"code\":\"131016\",\"name\":\"千代田区\"}]}"

# From now on every command needs a session.
run gated "$M" ap list; rc 6; err "mnap: ap: not logged in (run 'mnap login OPERATOR')"
run help-ungated "$M" ap list --help; rc 0
run_in login-admin "admin password\n" "$M" login admin --password-stdin; rc 0
has "$T/out" "logged in: admin (admin) of 131016 until "
[ "$(stat -c %a "$HOME/.local/share/mnap/session")" = 600 ] || fail "session file mode"
grep -q "admin password" "$HOME/.local/share/mnap/session" && fail "password in the session file"
run whoami "$M" whoami --json; rc 0; out '{"operator":"admin","role":"admin","municipality":"131016"}'
run_in op-add "clerk password\n" "$M" operator add clerk1 --name "窓口 一郎" --role clerk --password-stdin; rc 0
out "operator clerk1 (clerk) added"
run_in op-add-sup "super password\n" "$M" operator add sup1 --name "監督" --role supervisor --password-stdin; rc 0
run_in op-add-aud "audit password\n" "$M" operator add aud1 --name "監査" --role auditor --password-stdin; rc 0
run_in op-add-kiosk "kiosk password\n" "$M" operator add kiosk1 --name "kiosk" --role kiosk --password-stdin; rc 0
run_in op-add-dup "clerk password\n" "$M" operator add clerk1 --name x --role clerk --password-stdin; rc 6
err "mnap: operator add: already exists"
run op-add-badrole "$M" operator add x --name x --role root; rc 2
# The admin does no card work.
run admin-ap "$M" ap list; rc 6; err "mnap: ap list: not allowed for admin (role admin; needs card-read)"

# --- lockout ------------------------------------------------------------------------------
run_in bad1 "wrong one\n" "$M" login clerk1 --password-stdin; rc 6; err "mnap: login: wrong operator ID or password"
run_in bad2 "wrong two\n" "$M" login clerk1 --password-stdin; rc 6
run_in bad3 "wrong three\n" "$M" login clerk1 --password-stdin; rc 6
err "mnap: login: operator locked (a supervisor unlocks it)"
run_in locked "clerk password\n" "$M" login clerk1 --password-stdin; rc 6
err "mnap: login: operator locked (a supervisor unlocks it)"
run_in login-nobody "whatever1\n" "$M" login nobody --password-stdin; rc 6
err "mnap: login: wrong operator ID or password"
run_in login-sup "super password\n" "$M" login sup1 --password-stdin; rc 0
run op-show "$M" operator show clerk1 --json; rc 0
out '{"id":"clerk1","name":"窓口 一郎","role":"clerk","failed_logins":3,"locked":true}'
run unlock "$M" operator unlock clerk1; rc 0; out "operator clerk1 unlocked"
run sup-add "$M" operator add x --name x --role clerk --password-stdin; rc 6
err "mnap: operator add: not allowed for sup1 (role supervisor; needs operator-admin)"

# --- the clerk at the counter ---------------------------------------------------------------
run_in login-clerk "clerk password\n" "$M" login clerk1 --password-stdin; rc 0
run clerk-admin "$M" operator add y --name y --role admin; rc 6
err "mnap: operator add: not allowed for clerk1 (role clerk; needs operator-admin)"
run clerk-keys "$M" keys list; rc 6; err "mnap: keys list: not allowed for clerk1 (role clerk; needs keys)"
run clerk-unlock "$M" operator unlock sup1; rc 6
run res-add "$M" resident add 100000000001 --kanji "山田 太郎" --kana "ヤマダ タロウ" --birth 1985-04-01 \
    --address "東京都千代田区千代田1-1"; rc 0; out "resident 100000000001 added"
run res-bad "$M" resident add 12 --kanji x --kana x --birth 1985-02-30 --address x; rc 2
run res-show "$M" resident show 100000000001 --json; rc 0
out '{"number":"100000000001","name_kanji":"山田 太郎","name_kana":"ヤマダ タロウ","birth_date":"1985-04-01","address":"東京都千代田区千代田1-1"}'
run res-find "$M" resident find ヤマダ; rc 0
out "100000000001    山田 太郎 (ヤマダ タロウ) born 1985-04-01, 東京都千代田区千代田1-1"
run res-none "$M" resident show 2; rc 6; err "mnap: resident show: no resident 2"
run sid "$M" resident service-id 100000000001 library; rc 0
[ "$(wc -c <"$T/out")" = 65 ] || fail "service ID: $(cat "$T/out")"

run load-unregistered "$M" ap load "$EX/library.json"; rc 6
err "mnap: ap load: card $S is not registered (mnap card register $S --resident NUMBER)"
run reg "$M" card register 01:02:03:04:05:06:07:08 --resident 100000000001; rc 0
out "card $S registered for resident 100000000001: ACTIVE"
run reg-again "$M" card register $S --resident 100000000001; rc 6
run load "$M" ap load "$EX/library.json"; rc 0; out "AP $LIB loaded (210 bytes), recorded in the registry"
run load-recorded "$M" card show $S --json; rc 0
has "$T/out" "\"state\":\"ACTIVE\""
has "$T/out" "{\"aid\":\"$LIB\",\"service\":\"library\",\"status\":\"LOADED\""
has "$T/out" "\"loaded_by\":\"clerk1\""
run load-again "$M" ap load "$EX/library.json"; rc 6
err "mnap: ap load: the registry already records AP $LIB as loaded on card $S"
# The audit log names the logged-in operator, not --operator.
tail -1 "$T/audit.log" | cut -f3,4 | grep -q "^clerk1	ap load$" || fail "audit line: $(tail -1 "$T/audit.log")"

# --- a change interrupted at each step ------------------------------------------------------------
# 1. the intent cannot be written: the card is not touched.
run f-begin env MNAP_REG_FAULT=begin "$M" ap delete "$LIB"; rc 6
has "$T/err" "the card is not touched"
run f-begin-card "$M" ap list; rc 0; has "$T/out" "$LIB"
# 2. a crash after the intent: the next command sees the card still has the AP.
run f-after-begin env MNAP_REG_FAULT=after-begin "$M" ap delete "$LIB"; rc 5
run f-after-begin-rec "$M" card show $S; rc 0; has "$T/out" "DELETING"
run f-after-begin-repair "$M" ap list; rc 0
err "mnap: registry repaired: the delete of AP $LIB on card $S was interrupted; the card has it: now LOADED"
# 3. a crash after the card change: the next command sees the AP gone.
run f-after-card env MNAP_REG_FAULT=after-card "$M" ap delete "$LIB"; rc 5
run f-after-card-rec "$M" card show $S; rc 0; has "$T/out" "DELETING"
run f-after-card-repair "$M" ap load "$EX/library.json"; rc 0
has "$T/err" "the delete of AP $LIB on card $S was interrupted; the card does not have it: now DELETED"
has "$T/out" "recorded in the registry"
# 4. the settlement cannot be written after the card change.
run f-finish env MNAP_REG_FAULT=finish "$M" ap delete "$LIB"; rc 6
has "$T/err" "the card was changed; the next command on card $S settles the record"
run f-finish-repair "$M" ap list; rc 0; out "(no AP)"
has "$T/err" "the card does not have it: now DELETED"
# 5. the card pulled during a load: outcome unknown, settled from the card.
run f-pulled env MNAP_SIMCARD_PULL_AT=8 "$M" ap load "$EX/certificate.json" --block-size 16; rc 3
has "$T/err" "the outcome on card $S is unknown"
run f-pulled-repair "$M" ap list; rc 0
has "$T/err" "the load of AP $CERT on card $S was interrupted; the card does not have it: now FAILED"
# 6. a clean refusal by the card: FAILED at once, nothing pending.
run load-cert "$M" ap load "$EX/certificate.json"; rc 0
run f-refused "$M" ap delete D2760001FFFF; rc 1
run f-refused-clean "$M" ap list; rc 0; noerr
run show-after "$M" card show $S --json; rc 0
for want in "\"aid\":\"$CERT\",\"service\":\"certificate\",\"status\":\"LOADED\"" \
            "\"aid\":\"$CERT\",\"service\":\"certificate\",\"status\":\"FAILED\"" \
            "\"aid\":\"$LIB\",\"service\":\"library\",\"status\":\"DELETED\"" \
            "\"aid\":\"D2760001FFFF\",\"service\":\"\",\"status\":\"DELETED\""; do
    has "$T/out" "$want"
done
grep -q '"status":"LOADING"\|"status":"DELETING"' "$T/out" && fail "an intent is left: $(cat "$T/out")"
# Registry and card agree: LOADED in the registry = on the card.
"$M" ap list --json >"$T/card.json" 2>/dev/null
for a in $(sql "SELECT aid FROM issued_aps WHERE status = 'LOADED'"); do
    grep -q "\"aid\":\"$a\"" "$T/card.json" || fail "registry LOADED $a is not on the card"
done

# --- a card that is not ACTIVE ---------------------------------------------------------------------
# (the state commands come with the stop measures; the table is the library's)
sql "UPDATE cards SET state = 'SUSPENDED' WHERE serial = '$S'" >/dev/null
run not-active "$M" ap load "$EX/library.json"; rc 6
err "mnap: ap load: card $S is SUSPENDED: APs are loaded, deleted and PINs unblocked only on ACTIVE cards"
run not-active-pin "$M" pin unblock "$CERT" --pin-stdin; rc 2
run_in not-active-pin2 "1234\n1234\n" "$M" pin unblock "$CERT" --pin-stdin; rc 6
has "$T/err" "is SUSPENDED"
run_in login-kiosk "kiosk password\n" "$M" login kiosk1 --password-stdin; rc 0
run stoplist "$M" card stoplist --json; rc 0; has "$T/out" "{\"stop_list\":[{\"serial\":\"$S\",\"state\":\"SUSPENDED\""
run kiosk-res "$M" resident show 100000000001; rc 6
run kiosk-card "$M" ap list; rc 6

# --- the auditor, logout ------------------------------------------------------------------------
run_in login-aud "audit password\n" "$M" login aud1 --password-stdin; rc 0
run aud-verify "$M" audit verify; rc 0
run aud-card "$M" info; rc 6; err "mnap: info: not allowed for aud1 (role auditor; needs card-read)"
run logout "$M" logout; rc 0; out "logged out"
run after-logout "$M" audit verify; rc 6; err "mnap: audit: not logged in (run 'mnap login OPERATOR')"
run logout-again "$M" logout; rc 6

if [ "$ENGINE" = postgresql ]; then
    psql -X -q "$MNAP_TEST_PG_ADMIN dbname=postgres" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo "cli_registry.sh ($ENGINE): $N cases, $FAILS failed"
[ "$FAILS" = 0 ]
