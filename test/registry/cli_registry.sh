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
ROOT="$(pwd)"
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
run ks-audit "$M" keys generate audit --kvn 01 --length 32; rc 0
run sim "$M" simcard create card.img --serial 0102030405060708; rc 0
run setup "$M" area setup; rc 0
LIB=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$EX/library.json" | head -1 | tr a-f A-F)
CERT=$(sed -n 's/^ *"aid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$EX/certificate.json" | head -1 | tr a-f A-F)
S=0102030405060708

# --- the registry ---------------------------------------------------------------------
run no-registry "$M" resident show 1; rc 6
err "mnap: no registry: give --registry CONN (or MNAP_REGISTRY), or run 'mnap registry init'"
run init "$M" --registry "$ADMIN_REG" registry init; rc 0; out "registry ($ENGINE): schema version 4"
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
out "{\"engine\":\"$ENGINE\",\"schema\":4,\"municipalities\":[{\"code\":\"131016\",\"name\":\"千代田区\"}]}"

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

# --- resident import (CSV, UTF-8 and Shift_JIS) --------------------------------------------------
# Line 3's address spans two lines; line 5 has a bad date, line 7 a bad number.
cat >"$T/good.csv" <<'CSV'
住民番号,氏名,氏名カナ,生年月日,住所,備考
200000000001,佐藤 花子,サトウ ハナコ,1990-02-28,"東京都千代田区麹町1-2, 3F",x
200000000002,"鈴木 ""一"" 郎",スズキ イチロウ,1970-12-31,"東京都千代田区
九段南1-2-1",
CSV
run imp-good "$M" resident import "$T/good.csv"; rc 0; out "imported 2 residents from $T/good.csv"
run imp-good-show "$M" resident show 200000000002 --json; rc 0
has "$T/out" '"name_kanji":"鈴木 \"一\" 郎"'
has "$T/out" '"address":"東京都千代田区 九段南1-2-1"'
run imp-again "$M" resident import "$T/good.csv"; rc 5
err "mnap: resident import: line 2: resident 200000000001 is already registered (or twice in the file)
mnap: resident import: line 3: resident 200000000002 is already registered (or twice in the file)
mnap: resident import: 2 bad rows: nothing imported (fix them, or give --skip-bad)"
cat >"$T/bad.csv" <<'CSV'
number,name_kanji,name_kana,birth_date,address
300000000001,高橋 一,タカハシ ハジメ,1980-01-01,"大阪府
大阪市北区"
300000000002,田中 二,タナカ ジ,1980-02-30,東京都
300000000003,伊藤 三,イトウ サン,1980-03-03,東京都

30000000000X,渡辺 四,ワタナベ シ,1980-04-04,東京都
300000000005,山本 五,ヤマモト ゴ,1980-05-05
200000000001,佐藤 花子,サトウ ハナコ,1990-02-28,東京都
300000000006,小林 六,コバヤシ ロク,1849-12-31,東京都
3000000000000000007,加藤 七,カトウ シチ,1980-07-07,東京都
CSV
# Lines 10 and 11: the registry's own rules (mnap_reg_resident_check), a
# date before 1850 and a number too long for the record, named by field.
# The rows' own faults come first, then what the registry finds (line 9).
BADERR="mnap: resident import: line 4: birth_date: not a date YYYY-MM-DD from 1850 on
mnap: resident import: line 7: number: 1 to 15 digits
mnap: resident import: line 8: the number of fields differs from the header's
mnap: resident import: line 10: birth_date: not a date YYYY-MM-DD from 1850 on
mnap: resident import: line 11: number: 1 to 15 digits
mnap: resident import: line 9: resident 200000000001 is already registered (or twice in the file)"
run imp-bad "$M" resident import "$T/bad.csv"; rc 5
err "$BADERR
mnap: resident import: 6 bad rows: nothing imported (fix them, or give --skip-bad)"
# --json: the rows added with their lines (what the operator console shows).
cat >"$T/good2.csv" <<'CSV'
number,name_kanji,name_kana,birth_date,address
500000000001,中村 一,ナカムラ ハジメ,1985-05-05,"東京都千代田区1-1, 2F"
CSV
run imp-json "$M" --json resident import "$T/good2.csv"; rc 0
out '{"imported":1,"skipped":0,"rows":[{"line":2,"number":"500000000001","name_kanji":"中村 一","name_kana":"ナカムラ ハジメ","birth_date":"1985-05-05","address":"東京都千代田区1-1, 2F"}]}'
run imp-bad-nothing "$M" resident show 300000000001; rc 6
# The console export's guard against spreadsheet formulas (docs/console.md): an
# apostrophe before = + - @ or ' is dropped, any other leading apostrophe kept.
cat >"$T/guard.csv" <<'CSV'
number,name_kanji,name_kana,birth_date,address
600000000001,'=1+2,''a,1985-05-05,"'-1, 2F"
600000000002,'a,'@x,1985-05-05,'''b
600000000003,'+x,''=y,1985-05-05,"'=HYPERLINK(""http://x"")"
CSV
run imp-guard "$M" --json resident import "$T/guard.csv"; rc 0
out '{"imported":3,"skipped":0,"rows":[{"line":2,"number":"600000000001","name_kanji":"=1+2","name_kana":"'"'"'a","birth_date":"1985-05-05","address":"-1, 2F"},{"line":3,"number":"600000000002","name_kanji":"'"'"'a","name_kana":"@x","birth_date":"1985-05-05","address":"'"''"'b"},{"line":4,"number":"600000000003","name_kanji":"+x","name_kana":"'"'"'=y","birth_date":"1985-05-05","address":"=HYPERLINK(\"http://x\")"}]}'
iconv -f UTF-8 -t CP932 "$T/bad.csv" >"$T/bad-sjis.csv" || fail "iconv"
run imp-bad-sjis "$M" resident import "$T/bad-sjis.csv"; rc 5
err "$BADERR
mnap: resident import: 6 bad rows: nothing imported (fix them, or give --skip-bad)"
run imp-bad-sjis-nothing "$M" resident show 300000000003; rc 6
run imp-skip-sjis "$M" resident import "$T/bad-sjis.csv" --encoding shift_jis --skip-bad; rc 0
out "imported 2 residents from $T/bad-sjis.csv (6 bad rows skipped)"
run imp-skip-show "$M" resident show 300000000001 --json; rc 0
has "$T/out" '"name_kanji":"高橋 一","name_kana":"タカハシ ハジメ","birth_date":"1980-01-01","address":"大阪府 大阪市北区"'
printf 'number,name_kanji,name_kana,birth_date,address\n400000000001,a,b,1980-01-01,"x\n400000000002,a,b,1980-01-01,y\n' >"$T/quote.csv"
run imp-quote "$M" resident import "$T/quote.csv" --skip-bad; rc 5
err "mnap: resident import: $T/quote.csv: line 2: a quoted field is not closed (broken quote): nothing imported"
printf 'number,name_kanji,name_kana,birth_date,address\n400000000001,a"b,c,1980-01-01,y\n' >"$T/quote2.csv"
run imp-quote2 "$M" resident import "$T/quote2.csv"; rc 5; has "$T/err" "line 2: a quote inside an unquoted field (broken quote)"
printf 'number,name_kanji,name_kana,address\n' >"$T/nocol.csv"
run imp-nocol "$M" resident import "$T/nocol.csv"; rc 5
err "mnap: resident import: $T/nocol.csv: line 1: the header names no column birth_date (or 生年月日): nothing imported"
printf 'number,name_kanji,name_kana,birth_date,address\n400000000001,\202\240,b,1980-01-01,y\n400000000002,\202,b,1980-01-01,y\n' >"$T/badsjis.csv"
run imp-badsjis "$M" resident import "$T/badsjis.csv"; rc 5; has "$T/err" "line 3: not valid Shift_JIS"
run imp-utf8-forced "$M" resident import "$T/bad-sjis.csv" --encoding utf-8; rc 5
run imp-none "$M" resident show 400000000001; rc 6

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
# With a registry the audit's home is the registry; its rows name the
# logged-in operator, not --operator.
LASTROW="SELECT operator || '|' || command || '|' || serial || '|' || result FROM audit_log ORDER BY seq DESC LIMIT 1"
sql "$LASTROW" | grep -q "^clerk1|ap load|$S|\[row [0-9]*\] error: " || fail "audit row: $(sql "$LASTROW")"

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

# --- stop measures: a card reported missing ---------------------------------------------------------
run stop-clerk "$M" card stop $S --reason missing; rc 6; has "$T/err" "needs card-stop"
run_in login-sup2 "super password\n" "$M" login sup1 --password-stdin; rc 0
run stop-noreason "$M" card stop $S; rc 2; err "mnap: card stop: --reason must be one of: missing, lost, stolen"
run stop-badreason "$M" card stop $S --reason returned; rc 2
run stop-unknown "$M" card stop 1111111111111111 --reason lost; rc 6
err "mnap: card stop: card 1111111111111111 is not registered"
run stop-missing "$M" card stop $S --reason missing; rc 0; out "card $S: ACTIVE -> SUSPENDED (missing) by sup1"
sql "$LASTROW" | grep -q "^sup1|card stop|$S|\[row [0-9]*\] ok: ACTIVE -> SUSPENDED (missing)$" || \
    fail "audit row: $(sql "$LASTROW")"
run stop-again "$M" card stop $S --reason missing; rc 6
err "mnap: card stop: card $S is SUSPENDED: it cannot become SUSPENDED (docs/registry.md, card states)"
run stop-history "$M" card show $S; rc 0; has "$T/out" "ACTIVE -> SUSPENDED (missing) by sup1"
has "$T/out" "NONE -> ACTIVE (registered) by clerk1"
# --- a card that is not ACTIVE ---------------------------------------------------------------------
run not-active "$M" ap load "$EX/library.json"; rc 6
err "mnap: ap load: card $S is SUSPENDED: APs are loaded, deleted and PINs unblocked only on ACTIVE cards"
run not-active-pin "$M" pin unblock "$CERT" --pin-stdin; rc 2
run_in not-active-pin2 "1234\n1234\n" "$M" pin unblock "$CERT" --pin-stdin; rc 6
has "$T/err" "is SUSPENDED"
run_in login-kiosk "kiosk password\n" "$M" login kiosk1 --password-stdin; rc 0
run stoplist "$M" card stoplist --json; rc 0; has "$T/out" "{\"stop_list\":[{\"serial\":\"$S\",\"state\":\"SUSPENDED\""
run kiosk-res "$M" resident show 100000000001; rc 6
run kiosk-card "$M" ap list; rc 6
run kiosk-stop "$M" card stop $S --reason lost; rc 6; has "$T/err" "needs card-stop"
# Online: the kiosk flow ends with a named error before any PIN is asked.
run_in kiosk-online "1234\n" "$M" kiosk certificate "$CERT" --pin-stdin; rc 1
has "$T/err" "card $S is SUSPENDED in the registry (MNAP_E_CARD_STOPPED): it may not be served"
grep -q "PIN" "$T/out" && fail "a PIN step ran: $(cat "$T/out")"
sql "$LASTROW" | grep -q "^kiosk1|kiosk certificate|$S|.*card stopped (MNAP_E_CARD_STOPPED, registry)" || \
    fail "audit row: $(sql "$LASTROW")"

# --- the signed offline stop list --------------------------------------------------------------------
run_in login-admin2 "admin password\n" "$M" login admin --password-stdin; rc 0
run ks-stoplist "$M" keys ed25519 stoplist; rc 0; has "$T/out" "Ed25519 key stoplist: public key "
run_in login-sup3 "super password\n" "$M" login sup1 --password-stdin; rc 0
run sl-key "$M" card stoplist-key; rc 0
PUB=$(cat "$T/out")
[ ${#PUB} = 64 ] || fail "public key: $PUB"
run sl-export "$M" card stoplist-export "$T/stop.lst"; rc 0
out "stop list of 131016: 1 card, valid 24 h, written to $T/stop.lst"
# Issued two hours ago for one hour (expired), and issued tomorrow (not yet
# valid): the export's clock is injected, the kiosk's is the real one.
NOW=$(date +%s)
run sl-export-old env MNAP_TEST_NOW=$((NOW - 7200)) "$M" card stoplist-export "$T/old.lst" --valid-hours 1; rc 0
run sl-export-new env MNAP_TEST_NOW=$((NOW + 86400)) "$M" card stoplist-export "$T/new.lst"; rc 0
run sl-export-reglb "$M" card stoplist-export "$T/x.lst" --keys region; rc 4
has "$T/err" "the stop-list key needs 32"
# Offline: no registry at all (a business system with the list and the key).
OFF="env -u MNAP_REGISTRY MNAP_OPERATOR=kiosk-7"
run_in sl-offline "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/stop.lst" \
    --stop-list-key "$PUB"; rc 1
has "$T/err" "card $S is on the stop list (SUSPENDED, MNAP_E_CARD_STOPPED): it may not be served"
run_in sl-expired "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/old.lst" \
    --stop-list-key "$PUB"; rc 5
err "mnap: stop list $T/old.lst: the stop list is expired (or not yet valid): get a new one (MNAP_E_STOPLIST_EXPIRED): the card is not served"
run_in sl-early "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/new.lst" \
    --stop-list-key "$PUB"; rc 5
has "$T/err" "MNAP_E_STOPLIST_EXPIRED"
run_in sl-now-ignored "1234\n" env MNAP_TEST_NOW=$((NOW - 3600)) $OFF "$M" kiosk certificate "$CERT" --pin-stdin \
    --stop-list "$T/old.lst" --stop-list-key "$PUB"; rc 5
has "$T/err" "MNAP_E_STOPLIST_EXPIRED"
# One byte edited (the card's state: SUSPENDED -> TERMINATED would pass nothing either).
cp "$T/stop.lst" "$T/edited.lst"
printf '\004' | dd of="$T/edited.lst" bs=1 seek=44 conv=notrunc 2>/dev/null
run_in sl-edited "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/edited.lst" \
    --stop-list-key "$PUB"; rc 5
has "$T/err" "(MNAP_E_STOPLIST_SIGNATURE): the card is not served"
run_in sl-wrongkey "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/stop.lst" \
    --stop-list-key "$(printf '%064d' 7)"; rc 5
has "$T/err" "MNAP_E_STOPLIST_SIGNATURE"
run sl-nokey $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/stop.lst"; rc 2
# Found again: resumed; the kiosk's check passes (the flow goes on to the PIN).
run resume "$M" card resume $S; rc 0; out "card $S: SUSPENDED -> ACTIVE (found) by sup1"
run sl-export2 "$M" card stoplist-export "$T/stop2.lst"; rc 0
out "stop list of 131016: 0 cards, valid 24 h, written to $T/stop2.lst"
run_in sl-offline-ok "1234\n" $OFF "$M" kiosk certificate "$CERT" --pin-stdin --stop-list "$T/stop2.lst" \
    --stop-list-key "$PUB"
grep -q "MNAP_E_CARD_STOPPED\|STOPLIST" "$T/err" && fail "refused after resume: $(cat "$T/err")"
# Stolen: final.
run stolen "$M" card stop $S --reason stolen; rc 0; out "card $S: ACTIVE -> STOPPED (stolen) by sup1"
run resume-stopped "$M" card resume $S; rc 6
err "mnap: card resume: card $S is STOPPED: it cannot become ACTIVE (docs/registry.md, card states)"
run terminate-stopped "$M" card terminate $S --reason expired; rc 6
run_in login-kiosk2 "kiosk password\n" "$M" login kiosk1 --password-stdin; rc 0
run_in kiosk-stolen "1234\n" "$M" kiosk certificate "$CERT" --pin-stdin; rc 1
has "$T/err" "is STOPPED in the registry (MNAP_E_CARD_STOPPED)"

# --- the registry as the audit's home: an interrupted command ----------------------------------
# Ctrl-C at the passphrase prompt: the begun row is in the registry, the
# signal handler writes the spool beside the audit file (write/fsync only),
# the next audit command settles it as "[row N] interrupted (SIGINT)".
run_in login-clerk3 "clerk password\n" "$M" login clerk1 --password-stdin; rc 0
LABEL=ctrl-c-registry; N=$((N + 1))
env -u MNAP_PASSPHRASE /usr/bin/python3 "$ROOT/test/tools/pty_run.py" "key store passphrase:" '\x03' -- \
    "$M" ap delete "$CERT" >"$T/out" 2>&1 </dev/null; RC=$?
rc 130; has "$T/out" "mnap: interrupted: the audit log records it"
has "$T/audit.log.interrupted" "clerk1	ap delete	-	$CERT	interrupted (SIGINT)"
# SIGTERM while the import waits for its file (a FIFO nobody writes): the
# begun row is there, the handler spools the rest.
LABEL=sigterm-registry; N=$((N + 1))
mkfifo "$T/imp.fifo"
BEGUN0=$(sql "SELECT count(*) FROM audit_log WHERE command = 'resident import' AND result = 'begun'")
"$M" resident import "$T/imp.fifo" >"$T/out" 2>"$T/err" &
BGPID=$!
i=0
while [ $i -lt 200 ] && [ "$(sql "SELECT count(*) FROM audit_log WHERE command = 'resident import' AND result = 'begun'")" = "$BEGUN0" ]; do
    sleep 0.05; i=$((i + 1))
done
sleep 0.2
kill -TERM $BGPID; wait $BGPID; RC=$?
rc 143
# This next audited command settled the Ctrl-C above before it began.
has "$T/err" "mnap: audit: row "
has "$T/err" "(ap delete by clerk1) recorded as interrupted (SIGINT)"
has "$T/audit.log.interrupted" "clerk1	resident import	-	-	interrupted (SIGTERM)"
run clerk-audit "$M" audit verify; rc 6; has "$T/err" "needs audit-read"

# --- the auditor, logout ------------------------------------------------------------------------
run_in login-aud "audit password\n" "$M" login aud1 --password-stdin; rc 0
run aud-verify "$M" audit verify; rc 0
has "$T/err" "(resident import by clerk1) recorded as interrupted (SIGTERM)"
has "$T/out" "registry audit of 131016: "
has "$T/out" ", chain intact, "
has "$T/out" "(signatures checked)"
[ "$(sql "SELECT count(*) FROM audit_log WHERE command = 'resident import' AND result LIKE '[row %] interrupted (SIGTERM)'")" = 1 ] || \
    fail "no settled SIGTERM row: $(sql "SELECT seq, command, result FROM audit_log ORDER BY seq DESC LIMIT 3")"
[ "$(sql "SELECT count(*) FROM audit_log WHERE command = 'ap delete' AND result LIKE '[row %] interrupted (SIGINT)'")" = 1 ] || \
    fail "no settled interrupted row: $(sql "SELECT seq, command, result FROM audit_log ORDER BY seq DESC LIMIT 3")"
run aud-verify-again "$M" audit verify; rc 0; noerr
run aud-key "$M" audit key; rc 0
AKEY=$(cat "$T/out")
run aud-export "$M" audit export --from 2000-01-01 --to 2100-01-01 "$T/audit.exp"; rc 0; has "$T/out" "signed, written to"
grep -q "	login	-	-	ok	" "$T/audit.exp" || fail "export lacks a login row"
run aud-vexport "$M" audit verify-export "$T/audit.exp" --key "$AKEY"; rc 0; has "$T/out" "signature and chain intact"
sed 's/	login	/	LOGIN	/' "$T/audit.exp" >"$T/audit-edited.exp"
run aud-vexport-edited "$M" audit verify-export "$T/audit-edited.exp" --key "$AKEY"; rc 5
has "$T/err" "the signature does not verify"
run aud-export-bad "$M" audit export --from 2000-01-01 "$T/x.exp"; rc 2
run aud-purge-young "$M" audit purge --before "$(date -u -d '-30 days' +%F)"; rc 6
has "$T/err" "rows are kept 366 days"
run aud-purge-old "$M" audit purge --before "$(date -u -d '-400 days' +%F)"; rc 0; out "audit purge: 0 rows older than $(date -u -d '-400 days' +%F) removed"
run aud-checkpoint "$M" audit checkpoint; rc 0; has "$T/out" "signed"
# The newest row deleted behind the registry's back (the DBA switches the
# guard off): the signed checkpoint catches it.
if [ "$ENGINE" = postgresql ]; then
    sql "ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard" >/dev/null
else
    sql "DROP TRIGGER audit_log_keep" >/dev/null
fi
sql "DELETE FROM audit_log WHERE municipality = '131016' AND seq = (SELECT max(seq) FROM audit_log WHERE municipality = '131016')" >/dev/null
run aud-deleted "$M" audit verify; rc 5
has "$T/err" ": the newest rows were deleted"
run aud-card "$M" info; rc 6; err "mnap: info: not allowed for aud1 (role auditor; needs card-read)"
run logout "$M" logout; rc 0; out "logged out"
run after-logout "$M" audit verify; rc 6; err "mnap: audit: not logged in (run 'mnap login OPERATOR')"
run logout-again "$M" logout; rc 6

if [ "$ENGINE" = postgresql ]; then
    psql -X -q "$MNAP_TEST_PG_ADMIN dbname=postgres" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo "cli_registry.sh ($ENGINE): $N cases, $FAILS failed"
[ "$FAILS" = 0 ]
