#!/bin/sh
# test/tools/cli_i18n.sh: mnap in Japanese and in English (issue #21,
# item 8).  The ja_JP.UTF-8 locale is generated here (localedef into a
# private LOCPATH: nothing of the system is changed); the catalogue is the
# build tree's ($BUILD/locale, found from $BUILD/bin/mnap).
#   - po/ja.po is complete: every message of the sources, the operator
#     console's screens included (xgettext, as
#     po/update.sh extracts them) is there and translated, none fuzzy;
#   - LANG=ja_JP.UTF-8: errors, results and library sentences in Japanese,
#     exact lines and exit codes; the audit log stays in English;
#   - LANG=C, and a language without a catalogue (fr_FR.UTF-8): English.
set -u
B=${BUILD:-build}
ROOT=$(pwd)
M="$ROOT/$B/bin/mnap"
[ -x "$M" ] || { echo "cli_i18n.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-i18n-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
FAILS=0
N=0
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }

echo "cli_i18n.sh: the ja catalogue and the language choice ($M)"
# 1. The catalogue covers every message.
N=$((N + 1))
(cd "$ROOT" && LC_ALL=C.UTF-8 xgettext --from-code=UTF-8 -k_ -kN_ -kcli_error -kop_fail:4 -kcli_fail:3 \
    -o "$T/mnap.pot" tools/mnap/*.c tools/mnap-console/*.c host/err.c) || fail "xgettext"
msgcmp "$ROOT/po/ja.po" "$T/mnap.pot" >"$T/cmp" 2>&1 ||
    fail "po/ja.po lacks messages of the sources (run po/update.sh and translate): $(head -5 "$T/cmp")"
stats=$(LC_ALL=C msgfmt -c --statistics -o /dev/null "$ROOT/po/ja.po" 2>&1)
case $stats in
    *untranslated*|*fuzzy*) fail "po/ja.po is not complete: $stats" ;;
    *" translated message"*) ;;
    *) fail "msgfmt: $stats" ;;
esac

# 2. The locale, generated privately.
mkdir -p "$T/locale"
localedef -i ja_JP -f UTF-8 "$T/locale/ja_JP.UTF-8" 2>"$T/localedef.err" ||
    { echo "cli_i18n.sh: localedef ja_JP.UTF-8 failed: $(cat "$T/localedef.err")"; exit 1; }
export LOCPATH="$T/locale"
# Under make check (LSan): glibc's setlocale keeps the LOCPATH list it
# parsed (__argz_add_sep) for the life of the process; mnap's own
# allocations stay checked.
printf 'leak:__argz_add_sep\n' >"$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      XDG_DATA_HOME MNAP_LOCK_TIMEOUT MNAP_READER MNAP_REGISTRY LANGUAGE LC_ALL LC_MESSAGES MNAP_LOCALEDIR
export HOME="$T/home" MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" \
       MNAP_CARD_IMAGE="$T/card.img" MNAP_OPERATOR=clerk-7 MNAP_PASSPHRASE=pw
mkdir -p "$HOME"
LANG=C "$M" keys init --kdf-cost 10 >/dev/null 2>&1 &&
printf '404142434445464748494A4B4C4D4E4F\n' | LANG=C "$M" keys import transport --kvn FF >/dev/null 2>&1 &&
LANG=C "$M" keys generate region --kvn 01 --master >/dev/null 2>&1 &&
LANG=C "$M" keys generate library --kvn 01 --master >/dev/null 2>&1 &&
LANG=C "$M" simcard create card.img --serial 0102030405060708 >/dev/null 2>&1 ||
    { echo "cli_i18n.sh: setup failed"; exit 1; }

# check LANG RC STDOUT STDERR CMD...
check() {
    lang=$1; want_rc=$2; want_out=$3; want_err=$4; shift 4
    N=$((N + 1))
    LANG=$lang "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$(cat "$T/out")" != "$want_out" ] || [ "$(cat "$T/err")" != "$want_err" ]; then
        echo "  FAIL: LANG=$lang $*"
        echo "    exit $rc (want $want_rc)"
        echo "    stdout: $(cat "$T/out")"; echo "    want:   $want_out"
        echo "    stderr: $(cat "$T/err")"; echo "    want:   $want_err"
        FAILS=$((FAILS + 1))
    fi
}
JA=ja_JP.UTF-8
check $JA 1 "" "mnap: 領域は未設定 (BLANK) です: 先に area setup を実行してください" "$M" area lock
check C 1 "" "mnap: the area is BLANK: run area setup first" "$M" area lock
check fr_FR.UTF-8 1 "" "mnap: the area is BLANK: run area setup first" "$M" area lock
check $JA 0 "領域を設定しました: 地域鍵セット 'region' を導入し、領域は ACTIVE です" "" "$M" area setup
check $JA 0 "AP D392F000014C4942 を搭載しました (210 バイト)" "" "$M" ap load "$ROOT/tools/examples/library.json"
check C 0 "area LOCKED" "" "$M" area lock
check $JA 0 "area ACTIVE" "" "$M" area unlock
check $JA 4 "" "mnap: 鍵ストア $T/keys.mks: 鍵ストアのパスフレーズが違います" env MNAP_PASSPHRASE=wrong "$M" keys list
check C 4 "" "mnap: key store $T/keys.mks: wrong key store passphrase" env MNAP_PASSPHRASE=wrong "$M" keys list
# a card's refusal: the library's sentence in Japanese on the screen ...
check $JA 1 "" "mnap: EF 0103: セキュリティ条件を満たしていません (6982)" \
    "$M" ef update D392F000014C4942 0103 --keys library --data 00
check $JA 2 "" "mnap: EF 0102 のレコード長は 48 バイトですが、データは 1 バイトです (レコードはちょうどその長さで書き込みます)" \
    "$M" ef append D392F000014C4942 0102 --keys library --data 00
# ... and in English in the audit log.
N=$((N + 1))
grep -q "	ef update	0102030405060708	D392F000014C4942	error: EF 0103: security status not satisfied (6982)	" "$T/audit.log" ||
    fail "audit line not in English: $(grep 'ef update' "$T/audit.log")"
N=$((N + 1))
grep -q "	area lock	-	-	error: area BLANK	" "$T/audit.log" || fail "audit line: $(grep 'area lock' "$T/audit.log" | head -1)"
# help texts: translated, their synopsis line unchanged
check $JA 0 "ef append AID FID --keys NAME (--data HEX | --file PATH) [--pin|--pin-stdin]
  リニア型またはサイクリック型の EF にレコード (ちょうど EF のレコード長) を追加します。" "" "$M" ef append --help
N=$((N + 1))
[ "$(LANG=$JA "$M" --help | head -n 1)" = "使い方: mnap [GLOBAL OPTIONS] COMMAND [ARGS]" ] || fail "mnap --help in Japanese"
# --json: the keys stay, the message is Japanese.
N=$((N + 1))
LANG=$JA "$M" --json area setup >"$T/j" 2>/dev/null
/usr/bin/python3 -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8")); sys.exit(0 if d["error"]["message"].startswith("領域はすでに設定済みです (ACTIVE)") else 1)' "$T/j" ||
    fail "--json in Japanese: $(cat "$T/j")"

if [ $FAILS -ne 0 ]; then
    echo "cli_i18n.sh: $FAILS of $N checks failed"
    exit 1
fi
echo "cli_i18n.sh: $N checks passed"
