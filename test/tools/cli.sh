#!/bin/sh
# test/tools/cli.sh: the `mnap` command line, every subcommand, through the
# in-process card over an image file (--card-image / MNAP_CARD_IMAGE), with
# exact outputs, exit codes and file states; and the error paths: usage, no
# reader, wrong passphrase, wrong keys, bad manifest (line and column), wrong
# and blocked PIN, the card pulled during a load, a power cut during a load,
# an edited audit line.  Starts no background process.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
[ -x "$M" ] || { echo "cli.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1

# A private environment: nothing of the user's data directory is touched.
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      MNAP_SIMCARD_PULL_AT MNAP_SIMCARD_CUT_AT XDG_DATA_HOME
export HOME="$T/home"
mkdir -p "$HOME"

FAILS=0
N=0
LABEL=
fail() { echo "  FAIL [$LABEL]: $*"; FAILS=$((FAILS + 1)); }

# run LABEL CMD...: stdin from /dev/null; sets RC, out, err.
run() {
    LABEL=$1; shift; N=$((N + 1))
    "$@" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
}
# run_in LABEL INPUT CMD...: INPUT (printf %b) on stdin.
run_in() {
    LABEL=$1; IN=$2; shift 2; N=$((N + 1))
    printf '%b' "$IN" | "$@" >"$T/out" 2>"$T/err"
    RC=$?
}
rc() { [ "$RC" = "$1" ] || { fail "exit $RC, expected $1; stderr: $(cat "$T/err")"; }; }
same() { # same FILE TEXT
    printf '%s\n' "$2" >"$T/want"
    if ! cmp -s "$T/want" "$1"; then
        fail "$(basename "$1") differs:"; diff "$T/want" "$1" | sed 's/^/      /'
    fi
}
out() { same "$T/out" "$1"; }
err() { same "$T/err" "$1"; }
noerr() { [ ! -s "$T/err" ] || fail "unexpected stderr: $(cat "$T/err")"; }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2': $(cat "$1")"; }

echo "cli.sh: mnap command line over the image card ($M)"

# --- help and usage -----------------------------------------------------------
run help "$M" --help; rc 0; has "$T/out" "Usage: mnap [GLOBAL OPTIONS] COMMAND [ARGS]"; noerr
run noargs "$M"; rc 2; has "$T/err" "Usage: mnap"
run unknown "$M" frobnicate; rc 2; err "mnap: unknown command 'frobnicate' (see 'mnap --help')"
run unknown-sub "$M" keys frob; rc 2; err "mnap: unknown subcommand 'keys frob' (see 'mnap keys --help')"
run bad-opt "$M" keys list --bogus; rc 2; err "mnap: list: unknown option '--bogus'"
run missing-val "$M" --reader; rc 2; err "mnap: --reader needs a value"
for c in readers info log diagnose; do
    run "help $c" "$M" $c --help; rc 0; has "$T/out" "$c"; noerr
done
for g in "keys init import generate derive list remove" "area setup lock unlock terminate" \
         "ap load delete list suspend resume" "pin unblock" "kiosk library certificate" \
         "manifest check build" "audit verify" "simcard create"; do
    set -- $g; grp=$1; shift
    run "help $grp" "$M" $grp --help; rc 0; has "$T/out" "Usage: mnap $grp SUBCOMMAND"
    for s in "$@"; do
        run "help $grp $s" "$M" $grp $s --help; rc 0; has "$T/out" "$grp $s"; noerr
    done
done
run ap-load-noarg "$M" ap load; rc 2
err "mnap: usage: mnap ap load MANIFEST [--keys NAME] [--block-size BYTES]"
run bad-aid "$M" ap delete 12345; rc 2; err "mnap: '12345' is not an AID (5 to 16 bytes of hex)"
run terminate-no-yes "$M" --card-image x area terminate; rc 2
err "mnap: area terminate wipes every AP and key set for good: add --yes"

# --- no reader, no card ---------------------------------------------------------
# A PC/SC client socket that does not exist: no service, whatever runs here.
run no-pcscd env PCSCLITE_CSOCK_NAME="$T/nosock" "$M" readers; rc 3
run no-pcscd-info env PCSCLITE_CSOCK_NAME="$T/nosock" "$M" info --public; rc 3
run no-image "$M" --card-image "$T/none.img" info --public; rc 3
has "$T/err" "none.img: not a usable card image"

# --- key store --------------------------------------------------------------------
export MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" MNAP_OPERATOR=clerk-7
run ks-missing env MNAP_PASSPHRASE=pw "$M" keys list; rc 4
err "mnap: key store $T/keys.mks: cannot be read (create it with 'mnap keys init')"
run ks-init env MNAP_PASSPHRASE=correct "$M" keys init --kdf-cost 10; rc 0
out "key store $T/keys.mks created"; noerr
[ "$(stat -c %a "$T/keys.mks")" = 600 ] || fail "key store mode $(stat -c %a "$T/keys.mks")"
run ks-init-again env MNAP_PASSPHRASE=correct "$M" keys init --kdf-cost 10; rc 4
err "mnap: key store $T/keys.mks exists (--force replaces it)"
run ks-no-tty "$M" keys list; rc 4; has "$T/err" "no terminal to ask for the key store passphrase"
run ks-wrong-pass env MNAP_PASSPHRASE=wrong "$M" keys list; rc 4
has "$T/err" "mnap: key store $T/keys.mks: "
export MNAP_PASSPHRASE=correct
run ks-empty "$M" keys list; rc 0; out "(no key sets)"
run_in ks-import "404142434445464748494A4B4C4D4E4F\n" "$M" keys import transport --kvn FF; rc 0
out "transport                KVN FF  AES-128  card    KCV ENC 504A77 MAC 504A77 DEK 504A77"
run_in ks-import-3 "000102030405060708090A0B0C0D0E0F\n101112131415161718191A1B1C1D1E1F\n202122232425262728292A2B2C2D2E2F\n" \
    "$M" keys import three --kvn 05; rc 0
k3=$(cat "$T/out")
run_in ks-import-dup "404142434445464748494A4B4C4D4E4F\n" "$M" keys import transport --kvn FF; rc 4
err "mnap: key set 'transport' exists (--force replaces it)"
run_in ks-import-bad "4041\n" "$M" keys import short --kvn 01; rc 2
err "mnap: key input: expected one or three lines of 16, 24 or 32 bytes of hex"
run ks-import-nokvn "$M" keys import x; rc 2; err "mnap: keys import: --kvn is required"
run ks-gen-region "$M" keys generate region --kvn 01 --master; rc 0; has "$T/out" "region                   KVN 01  AES-128  master"
run ks-gen-lib "$M" keys generate library --kvn 01 --master; rc 0
run ks-gen-cert "$M" keys generate certificate --kvn 02 --length 32; rc 0
has "$T/out" "certificate              KVN 02  AES-256  card"
run ks-gen-wrong "$M" keys generate wrongregion --kvn 01 --master; rc 0
run ks-derive "$M" keys derive region --div 01020304050607080001; rc 0
has "$T/out" "region                   KVN 01  AES-128  card    KCV ENC "
run ks-derive-card "$M" keys derive transport --div 01020304050607080001; rc 4
err "mnap: key set 'transport' holds card keys, not master keys"
run ks-derive-baddiv "$M" keys derive region --div 0102; rc 2
run ks-remove "$M" keys remove three; rc 0; out "key set 'three' removed"
run ks-remove-gone "$M" keys remove three; rc 4
run ks-list-json "$M" --json keys list; rc 0
has "$T/out" '{"keystore":"'"$T"'/keys.mks","key_sets":[{"name":"transport","kvn":"FF","key_length":16,"master":false,"kcv":{"enc":"504A77","mac":"504A77","dek":"504A77"}},'
# The key values themselves are never printed.
if grep -qi "404142434445464748494A4B4C4D4E4F" "$T/out" "$T/err"; then fail "a key value was printed"; fi
[ "$(echo "$k3" | grep -c KCV)" = 1 ] || fail "import of three keys: $k3"

# --- manifest -----------------------------------------------------------------------
run mf-check "$M" manifest check "$EX/library.json"; rc 0
out "$EX/library.json: OK (AP D392F000014C4942, key set 'library', 3 EFs)"
cat >bad.json <<'EOF'
{
  "aid": "D392F00001",
  "pin": { "max_tries": 5, "min_length": 4, "max_length": 8 },
  "key_set": "library",
  "files": [
    { "fid": "0101", "type": "transparent", "size": 8, "read": "SM", "write": "ALWAYS" }
  ]
}
EOF
run mf-bad "$M" manifest check bad.json; rc 5
err 'bad.json:3:25: pin.max_tries: 5 is out of range (1..3)
bad.json:6:79: files[0].write: "ALWAYS" is not one of "SM", "PIN", "NEVER"
mnap: bad.json: 2 problems'
# The columns are those of the values at fault.
[ "$(sed -n 3p bad.json | cut -c25)" = 5 ] || fail "column 25 of line 3 is not the 5"
[ "$(sed -n 6p bad.json | cut -c79-86)" = '"ALWAYS"' ] || fail "column 79 of line 6 is not \"ALWAYS\""
run mf-bad-json "$M" --json manifest check bad.json; rc 5
out '{"file":"bad.json","valid":false,"problems":2}'
run mf-build "$M" manifest build "$EX/library.json" -o lib.img --div 01020304050607080001; rc 0
has "$T/out" "lib.img: "
[ -s lib.img ] || fail "lib.img not written"
run mf-build-nodiv "$M" manifest build "$EX/library.json" -o nodiv.img; rc 4
[ ! -e nodiv.img ] || fail "a failed build left nodiv.img"
run mf-build-bad "$M" manifest build bad.json -o bad.img; rc 5
[ ! -e bad.img ] || fail "a failed build left bad.img"
ls "$T" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$T")"

# --- audit verify on an empty history -------------------------------------------------
run audit-none "$M" audit verify; rc 5; has "$T/err" "audit.log: No such file or directory"

# @CARD@

echo "cli.sh: $N commands, $FAILS failures"
[ "$FAILS" = 0 ]
