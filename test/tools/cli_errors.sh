#!/bin/sh
# test/tools/cli_errors.sh: errors in the operator's terms and as JSON
# (issue #21, item 6), over the image card, each with its exact line and
# exit code:
#   - area setup of a set-up card, a command on a BLANK area;
#   - a large AP loaded twice: "this AP is already on the card", looked up
#     before LOAD AP (the card answers 6A89 here, and a card that checks its
#     room before the AID answers 6A84, no room: neither says what happened);
#   - a --block-size that makes more than 256 blocks: the smallest that works;
#   - under --json every failure is one JSON object on stdout (nothing else
#     there), strings escaped by jansson: a path with byte FF still gives
#     valid UTF-8 JSON.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
PY=/usr/bin/python3
[ -x "$M" ] || { echo "cli_errors.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-errors-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      XDG_DATA_HOME MNAP_LOCK_TIMEOUT MNAP_READER MNAP_REGISTRY LANGUAGE
export HOME="$T/home" MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" \
       MNAP_CARD_IMAGE="$T/card.img" MNAP_OPERATOR=clerk-7 MNAP_PASSPHRASE=pw LANG=C LC_ALL=C
mkdir -p "$HOME"
FAILS=0
N=0
# check RC ERRLINE CMD...: exit code and the exact stderr (one line).
check() {
    want_rc=$1; want_err=$2; shift 2
    N=$((N + 1))
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$(cat "$T/err")" != "$want_err" ]; then
        echo "  FAIL: $*"
        echo "    exit $rc (want $want_rc)"
        echo "    stderr: $(cat "$T/err")"
        echo "    want:   $want_err"
        FAILS=$((FAILS + 1))
    fi
}
# json_is FILE PYTHON-EXPR: the file is strict UTF-8 JSON and the expression
# (over d) holds.
json_is() {
    N=$((N + 1))
    if ! "$PY" -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8")); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>"$T/pyerr"; then
        echo "  FAIL: JSON check '$2' on: $(cat "$1") $(cat "$T/pyerr")"
        FAILS=$((FAILS + 1))
    fi
}

echo "cli_errors.sh: operator terms and JSON errors ($M)"
{ "$M" keys init --kdf-cost 10 &&
  printf '404142434445464748494A4B4C4D4E4F\n' | "$M" keys import transport --kvn FF &&
  "$M" keys generate region --kvn 01 --master &&
  "$M" keys generate big --kvn 01 --master &&
  "$M" simcard create card.img --serial 0102030405060708; } >"$T/setup.out" 2>&1 ||
    { echo "cli_errors.sh: setup failed: $(cat "$T/setup.out")"; exit 1; }

check 1 "mnap: the area is BLANK: run area setup first" "$M" area lock
# A passphrase from the environment must not be empty (it would otherwise
# fall through to a terminal prompt, which a script does not have).
check 4 "mnap: MNAP_PASSPHRASE must hold 1 to 255 characters" env MNAP_PASSPHRASE= "$M" keys list
check 1 "mnap: the area is BLANK: run area setup first" "$M" ap load "$EX/library.json"
"$M" --json area lock >"$T/j1" 2>/dev/null
json_is "$T/j1" 'd == {"error": {"exit": 1, "kind": "card", "message": "the area is BLANK: run area setup first", "messages": ["the area is BLANK: run area setup first"], "name": "MNAP_E_REF_NOT_FOUND", "code": -103}}'
"$M" area setup >/dev/null 2>&1 || { echo "cli_errors.sh: area setup failed"; exit 1; }
check 1 "mnap: the area is already set up (ACTIVE): area setup is done once per card" "$M" area setup

# A large AP: 40000 bytes of a 64 KiB card, 8000 of them in the image.
TEXT=$(head -c 8000 /dev/zero | tr '\0' A)
cat >"$T/big.json" <<JSON
{ "aid": "D392F00001424947", "key_set": "big", "min_level": "33",
  "pin": { "max_tries": 3, "min_length": 4, "max_length": 8 },
  "files": [ { "fid": "0101", "type": "transparent", "size": 20000, "read": "SM", "write": "SM",
               "content_text": "$TEXT" },
             { "fid": "0102", "type": "transparent", "size": 20000, "read": "SM", "write": "SM" } ] }
JSON
check 2 "mnap: --block-size 16 cuts this AP image (8142 bytes) into 509 blocks: a load has at most 256 blocks, so give at least --block-size 32 (or leave it out)" \
    "$M" ap load "$T/big.json" --block-size 16
check 0 "" "$M" ap load "$T/big.json"
check 1 "mnap: this AP is already on the card (D392F00001424947, ACTIVE): delete it first (mnap ap delete D392F00001424947) to load it again" \
    "$M" ap load "$T/big.json"
N=$((N + 1))
tail -n 1 "$T/audit.log" | grep -q "	ap load	0102030405060708	D392F00001424947	error: AP already on the card	" ||
    { echo "  FAIL: audit line: $(tail -n 1 "$T/audit.log")"; FAILS=$((FAILS + 1)); }

# --json: nothing but the error object on stdout, also after partial output.
"$M" --json ap load "$T/big.json" >"$T/j2" 2>/dev/null; rc=$?
N=$((N + 1)); [ $rc = 1 ] || { echo "  FAIL: --json ap load exit $rc"; FAILS=$((FAILS + 1)); }
json_is "$T/j2" 'd["error"]["exit"] == 1 and d["error"]["message"].startswith("this AP is already on the card") and list(d) == ["error"]'
MNAP_PASSPHRASE=wrong "$M" --json keys list >"$T/j3" 2>/dev/null
json_is "$T/j3" 'd["error"]["name"] == "MNAP_E_KS_PASSPHRASE" and d["error"]["kind"] == "keystore" and d["error"]["exit"] == 4'
"$M" --json ef read D392F00001424947 01 --keys big >"$T/j4" 2>/dev/null
json_is "$T/j4" 'd["error"] == {"exit": 2, "kind": "usage", "message": "FID: 4 hex digits, e.g. 0101 (got \u002701\u0027)", "messages": ["FID: 4 hex digits, e.g. 0101 (got \u002701\u0027)"]}'

# A key store path with byte FF: valid UTF-8 JSON, in success and in error.
D="$T/dir$(printf '\377')x"
mkdir -p "$D"
"$M" --keystore "$D/ks.mks" keys init --kdf-cost 10 >/dev/null 2>&1
"$M" --json --keystore "$D/ks.mks" keys list >"$T/j5" 2>/dev/null
json_is "$T/j5" 'd == {"keystore": "'"$T"'/dir\ufffdx/ks.mks", "key_sets": []}'
"$M" --json --keystore "$D/none.mks" keys list >"$T/j6" 2>/dev/null
json_is "$T/j6" 'd["error"]["message"] == "key store '"$T"'/dir\ufffdx/none.mks: cannot be read (create it with \u0027mnap keys init\u0027)"'

if [ $FAILS -ne 0 ]; then
    echo "cli_errors.sh: $FAILS of $N checks failed"
    exit 1
fi
echo "cli_errors.sh: $N checks passed"
