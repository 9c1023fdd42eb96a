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
run ks-init-cost-too-high env MNAP_PASSPHRASE=correct "$M" keys init --kdf-cost 20; rc 2
err "mnap: --kdf-cost: log2 of scrypt's N, 10 to 19"
[ -e "$T/keys.mks" ] && fail "keys init --kdf-cost 20 left a key store"
run ks-init env MNAP_PASSPHRASE=correct "$M" keys init --kdf-cost 10; rc 0
out "key store $T/keys.mks created"; noerr
[ "$(stat -c %a "$T/keys.mks")" = 600 ] || fail "key store mode $(stat -c %a "$T/keys.mks")"
run ks-init-again env MNAP_PASSPHRASE=correct "$M" keys init --kdf-cost 10; rc 4
err "mnap: key store $T/keys.mks exists (--force replaces it)"
run ks-no-tty "$M" keys list; rc 4; has "$T/err" "no terminal to ask for the key store passphrase"
run ks-wrong-pass env MNAP_PASSPHRASE=wrong "$M" keys list; rc 4
err "mnap: key store $T/keys.mks: wrong key store passphrase"
# On a terminal the passphrase is asked twice with echo off.
if command -v script >/dev/null 2>&1; then
    LABEL=ks-init-tty-differ; N=$((N + 1))
    (sleep 1; printf 'pass-one\r'; sleep 0.5; printf 'pass-two\r'; sleep 1) |
        script -qec "'$M' --keystore '$T/tty.mks' keys init --kdf-cost 10" /dev/null >"$T/out" 2>&1
    RC=$?
    rc 4
    has "$T/out" "mnap: the two key store passphrases differ"
    [ ! -e "$T/tty.mks" ] || fail "a key store was written after two different passphrases"
    LABEL=ks-init-tty; N=$((N + 1))
    (sleep 1; printf 'pass-one\r'; sleep 0.5; printf 'pass-one\r'; sleep 1) |
        script -qec "'$M' --keystore '$T/tty.mks' keys init --kdf-cost 10" /dev/null >"$T/out" 2>&1
    RC=$?
    rc 0
    has "$T/out" "key store passphrase: "
    has "$T/out" "key store passphrase (again): "
    has "$T/out" "key store $T/tty.mks created"
    grep -q pass-one "$T/out" && fail "the passphrase was echoed: $(cat "$T/out")"
    run ks-tty-open env MNAP_PASSPHRASE=pass-one "$M" --keystore "$T/tty.mks" keys list; rc 0; out "(no key sets)"
fi
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
if command -v script >/dev/null 2>&1; then
    LABEL=ks-import-tty; N=$((N + 1))
    script -qec "'$M' keys import typed --kvn 01" /dev/null >"$T/out" 2>&1 </dev/null
    RC=$?
    rc 2
    has "$T/out" "mnap: keys import: give the keys in a file (--file PATH) or through a pipe, not typed"
fi
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
err "mnap: the region key set holds master keys: the card's diversification data is needed"
[ ! -e nodiv.img ] || fail "a failed build left nodiv.img"
sed 's/"library"/"nosuch"/' "$EX/library.json" > nosuch.json
run mf-build-nokey "$M" manifest build nosuch.json -o nokey.img --div 01020304050607080001; rc 4
err "nosuch.json:$(grep -n '"nosuch"' nosuch.json | cut -d: -f1):14: key_set: key set 'nosuch' is not in the key store"
[ ! -e nokey.img ] || fail "a failed build left nokey.img"
run mf-build-bad "$M" manifest build bad.json -o bad.img; rc 5
[ ! -e bad.img ] || fail "a failed build left bad.img"
ls "$T" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$T")"

# --- audit verify on an empty history -------------------------------------------------
run audit-none "$M" audit verify; rc 5; has "$T/err" "audit.log: No such file or directory"

# --- the card: set-up, APs, kiosk flows, PINs, log, diagnose ------------------------
export MNAP_CARD_IMAGE="$T/card.img"
LIB=D392F000014C4942
CERT=D392F00001434552
run sim-create "$M" simcard create card.img --serial 0102030405060708; rc 0
out "blank card 0102030405060708 created in card.img"
run sim-create-again "$M" simcard create card.img; rc 5
err "mnap: card.img: exists; a new card needs a new file"
run readers-image "$M" readers; rc 0; out "0: card image $T/card.img"
run info-public "$M" info --public; rc 0
out "reader:          card image $T/card.img
ATR:             3B86014D4E4150010094
area state:      BLANK (01)
runtime version: 1.0
limits:          16 APs, 2048 bytes per command, 2048 per response
serial, free NVM, APs: need an area manager session (without --public)"
run info-blank "$M" info; rc 0
has "$T/out" "serial:          0102030405060708"
has "$T/out" "div. data:       01020304050607080001"
has "$T/out" "APs:             0"
run load-blank "$M" ap load "$EX/library.json"; rc 1
run setup-unknown-kvn "$M" area setup --transport region; rc 1
err "mnap: opening the area manager session: referenced data not found (6A88)"
run ks-gen-badtransport "$M" keys generate badtransport --kvn FF; rc 0
run setup-wrong-transport "$M" area setup --transport badtransport; rc 1
err "mnap: opening the area manager session: the card cryptogram did not verify: wrong key set, or not a genuine card"
run setup "$M" area setup; rc 0; out "area set up: region key set 'region' installed, area ACTIVE"
run setup-again "$M" area setup; rc 1
run info-json "$M" --json info; rc 0
has "$T/out" '"area_state":"ACTIVE","area_state_code":"0F","runtime_version":"1.0","max_aps":16,"max_command":2048,"max_response":2048,"serial":"0102030405060708","div_data":"01020304050607080001","free_nvm":'
has "$T/out" ',"aps":0}'
run wrong-keys "$M" ap list --keys wrongregion; rc 1
err "mnap: opening the area manager session: the card cryptogram did not verify: wrong key set, or not a genuine card"
run missing-keys "$M" ap list --keys nosuch; rc 4
err "mnap: key set 'nosuch': no key set of that name in the key store"
run wrong-pass-card env MNAP_PASSPHRASE=nope "$M" ap list; rc 4
err "mnap: key store $T/keys.mks: wrong key store passphrase"
# A damaged key store is refused (exit 4), not read.
cp keys.mks keys.good
# Flip every bit of byte 60 (writing a fixed byte would change nothing when
# the byte already held it: 1 run in 256).
b=$(od -An -tu1 -j60 -N1 keys.mks | tr -d ' ')
printf "\\$(printf '%03o' $((b ^ 255)))" | dd of=keys.mks bs=1 seek=60 conv=notrunc 2>/dev/null
cmp -s keys.mks keys.good && fail "byte 60 of the key store did not change"
run ks-damaged "$M" keys list; rc 4
has "$T/err" "mnap: key store $T/keys.mks: "
cp keys.good keys.mks
run list-empty "$M" ap list; rc 0; out "(no AP)"
run list-empty-json "$M" --json ap list; rc 0; out '{"aps":[]}'
run load-bad "$M" ap load bad.json; rc 5
err 'bad.json:3:25: pin.max_tries: 5 is out of range (1..3)
bad.json:6:79: files[0].write: "ALWAYS" is not one of "SM", "PIN", "NEVER"
mnap: bad.json: 2 problems; nothing loaded'
run load-lib "$M" ap load "$EX/library.json"; rc 0; out "AP $LIB loaded (210 bytes)"; noerr
run load-lib-again "$M" ap load "$EX/library.json"; rc 1
err "mnap: this AP is already on the card ($LIB, ACTIVE): delete it first (mnap ap delete $LIB) to load it again"

# The card pulled out in the middle of a load (16-byte blocks: 14 LOAD AP
# commands; the 8th APDU is one of them): exit 3, and no AP appears.
run load-pulled env MNAP_SIMCARD_PULL_AT=8 "$M" ap load "$EX/certificate.json" --block-size 16; rc 3
err "mnap: LOAD AP: the card was removed or lost power"
run list-after-pull "$M" ap list; rc 0
out "AID                              STATE           NVM PIN
$LIB                 ACTIVE         1529 3 tries left"
# A power cut at every NVM write of the load, one after the other: each
# leaves the card without the AP (cut before the commit) or with the whole
# AP (cut after it), never a part, until the load runs with no cut.
CERT_ENTRY='{"aid":"'$CERT'","state":"ACTIVE","state_code":"07","nvm_used":3393,"pin_tries":3,"blocked":false}'
n=1; before=0; after=0
while :; do
    run "load-cut-$n" env MNAP_SIMCARD_CUT_AT=$n "$M" ap load "$EX/certificate.json"
    [ "$RC" = 0 ] && break
    rc 3
    run "list-after-cut-$n" "$M" --json ap list; rc 0
    if grep -qF "$CERT" "$T/out"; then
        grep -qF "$CERT_ENTRY" "$T/out" || fail "AP half loaded after a cut at write $n: $(cat "$T/out")"
        after=$((after + 1))
        run "delete-after-cut-$n" "$M" ap delete $CERT; rc 0
    else
        before=$((before + 1))
    fi
    n=$((n + 1))
    [ $n -le 300 ] || { fail "the load never completed"; break; }
done
[ $before -gt 3 ] || fail "only $before cut points before the commit"
echo "  power cut at each NVM write of a load: $before before the commit (no AP), $after after it (whole AP)"
run list-two "$M" --json ap list; rc 0
out '{"aps":[{"aid":"'$LIB'","state":"ACTIVE","state_code":"07","nvm_used":1529,"pin_tries":3,"blocked":false},{"aid":"'$CERT'","state":"ACTIVE","state_code":"07","nvm_used":3393,"pin_tries":3,"blocked":false}]}'

# On a terminal, ap load draws a progress bar on stderr (none without one:
# load-lib above has an empty stderr).
if command -v script >/dev/null 2>&1; then
    run delete-for-tty "$M" ap delete $CERT; rc 0
    LABEL=load-tty; N=$((N + 1))
    script -qec "'$M' ap load '$EX/certificate.json' --block-size 64" /dev/null >"$T/out" 2>&1 </dev/null
    RC=$?
    rc 0
    has "$T/out" "loading [                              ]   0%"
    has "$T/out" "loading [##############################] 100%"
    has "$T/out" "AP $CERT loaded (224 bytes)"
else
    echo "  (no script(1): progress bar on a terminal not tested)"
fi

# Kiosk: no PIN yet, then set at the counter, then the flows.
run_in kiosk-nopin "1234\n" "$M" kiosk library $LIB --pin-stdin; rc 1
err "mnap: no PIN set for this AP yet: go to the municipal counter to set one"
run_in unblock-mismatch "1234\n1235\n" "$M" pin unblock $LIB --pin-stdin; rc 2
err "mnap: the two new PINs differ"
run_in unblock-policy "12\n12\n" "$M" pin unblock $LIB --pin-stdin; rc 1
err "mnap: the new PIN does not fit the AP's PIN policy (length or digits)"
run_in unblock-set "1234\n1234\n" "$M" pin unblock $LIB --pin-stdin; rc 0
out "PIN of AP $LIB set and unblocked"
run ks-gen-wronglib "$M" keys generate wronglib --kvn 01 --master; rc 0
run_in kiosk-wrong-keys "1234\n" "$M" kiosk library $LIB --pin-stdin --keys wronglib; rc 1
err "mnap: opening the AP session: the card cryptogram did not verify: wrong key set, or not a genuine card"
run_in kiosk-lib "1234\n" "$M" kiosk library $LIB --pin-stdin --item BOOK-42; rc 0
D=$(date -u +%Y-%m-%d)
DUE=$(date -u -d @$(( $(date -u +%s) + 14 * 86400 )) +%Y-%m-%d)
out "library AP $LIB: PIN verified
  patron ID:         (empty)
  library:           市立中央図書館 Central City Library
  loan history:
    (no loans yet)
loan recorded: $D BOOK-42 due $DUE"
run_in kiosk-lib-2 "1234\n" "$M" kiosk library $LIB --pin-stdin; rc 0
has "$T/out" "     1. $D BOOK-42 due $DUE"
has "$T/out" "loan recorded: $D DEMO-0001 due $DUE"
run_in kiosk-wrong-1 "9999\n" "$M" kiosk library $LIB --pin-stdin; rc 1; err "mnap: wrong PIN: 2 tries left"
run_in kiosk-policy "12\n" "$M" kiosk library $LIB --pin-stdin; rc 1
err "mnap: that is not a valid PIN for this AP (length or digits); no try was used"
run_in kiosk-wrong-2 "9999\n" "$M" kiosk library $LIB --pin-stdin; rc 1; err "mnap: wrong PIN: 1 try left"
run_in kiosk-wrong-3 "9999\n" "$M" kiosk library $LIB --pin-stdin; rc 1
err "mnap: wrong PIN: the PIN is now blocked: go to the municipal counter (市区町村窓口) to have it unblocked"
run_in kiosk-blocked "1234\n" "$M" kiosk library $LIB --pin-stdin; rc 1
err "mnap: PIN blocked: go to the municipal counter (市区町村窓口) to have it unblocked"
run list-blocked "$M" ap list; rc 0; has "$T/out" "$LIB                 ACTIVE         1529 BLOCKED"
run diag-blocked "$M" diagnose; rc 1
has "$T/out" "[FAIL] AP $LIB ACTIVE, PIN BLOCKED"
has "$T/out" "conclusion: PIN blocked: unblock it at the municipal counter"
run_in unblock "5678\n5678\n" "$M" pin unblock $LIB --pin-stdin; rc 0
run_in kiosk-after-unblock "5678\n" "$M" kiosk library $LIB --pin-stdin; rc 0
has "$T/out" "     2. $D BOOK-42 due $DUE"

run_in unblock-cert "4321\n4321\n" "$M" pin unblock $CERT --pin-stdin; rc 0
run_in kiosk-cert "4321\n" "$M" kiosk certificate $CERT --pin-stdin --kind koseki --kiosk-id K-77; rc 0
out "certificate AP $CERT: PIN verified
  resident ref.:     (empty)
  data format:       0100131010
issuance recorded: $D K-77 koseki 1"

# On a terminal the PINs are asked with echo off: the digits never show.
if command -v script >/dev/null 2>&1; then
    LABEL=unblock-tty; N=$((N + 1))
    (sleep 1; printf '4826\r'; sleep 0.5; printf '4826\r'; sleep 1) |
        script -qec "'$M' pin unblock $CERT" /dev/null >"$T/out" 2>&1
    RC=$?
    rc 0
    has "$T/out" "new PIN: "
    has "$T/out" "new PIN (again): "
    has "$T/out" "PIN of AP $CERT set and unblocked"
    grep -q 4826 "$T/out" && fail "the PIN was echoed: $(cat "$T/out")"
    LABEL=kiosk-tty; N=$((N + 1))
    (sleep 1; printf '4826\r'; sleep 1) |
        script -qec "'$M' kiosk certificate $CERT" /dev/null >"$T/out" 2>&1
    RC=$?
    rc 0
    has "$T/out" "PIN: "
    has "$T/out" "certificate AP $CERT: PIN verified"
    grep -q 4826 "$T/out" && fail "the PIN was echoed: $(cat "$T/out")"
    run_in unblock-cert-back "4321\n4321\n" "$M" pin unblock $CERT --pin-stdin; rc 0
fi

# Suspend and resume.
run suspend "$M" ap suspend $CERT; rc 0; out "AP $CERT SUSPENDED"
run_in kiosk-suspended "4321\n" "$M" kiosk certificate $CERT --pin-stdin; rc 1
err "mnap: this card's AP $CERT is suspended or its area locked: go to the municipal counter"
run diag-suspended "$M" diagnose; rc 1; has "$T/out" "[FAIL] AP $CERT SUSPENDED"
run resume "$M" ap resume $CERT; rc 0; out "AP $CERT ACTIVE"
run diag "$M" diagnose; rc 0
has "$T/out" "[PASS] reader             in-process card image $T/card.img"
has "$T/out" "[PASS] card and ATR       ATR 3B86014D4E4150010094"
has "$T/out" "[PASS] area state         ACTIVE"
has "$T/out" "[PASS] AP $LIB ACTIVE, 3 PIN tries left, 1529 bytes"
has "$T/out" "conclusion: no fault found: the reader and the card work"
run diag-json "$M" --json diagnose; rc 0; has "$T/out" '],"healthy":true,"conclusion":"no fault found: the reader and the card work"}'
run diag-nokeys env -u MNAP_PASSPHRASE "$M" diagnose; rc 0
has "$T/out" "[SKIP] free memory        no key store passphrase (MNAP_PASSPHRASE) or --keys: no AM session"
# The image busy (another process holds its lock): the card does not answer.
LABEL=diag-busy; N=$((N + 1))
flock -x card.img sh -c "'$M' diagnose" >"$T/out" 2>"$T/err" </dev/null; RC=$?
rc 3
has "$T/out" "[FAIL] card and ATR       no card answers (card transport error)"
has "$T/err" "mnap: $T/card.img: card image in use by another process"
run diag-noimage "$M" --card-image "$T/none.img" diagnose; rc 3
out "[FAIL] reader             card image $T/none.img: not found
[SKIP] card and ATR       no reader
[SKIP] area manager       no reader
[SKIP] area state         no reader
[SKIP] free memory        no reader
[SKIP] APs                no reader
[SKIP] NVM health         no reader
conclusion: terminal side: the card image file is missing"

# Lock and unlock.
run lock "$M" area lock; rc 0; out "area LOCKED"
run_in kiosk-locked "5678\n" "$M" kiosk library $LIB --pin-stdin; rc 1
run diag-locked "$M" diagnose; rc 1; has "$T/out" "[FAIL] area state         LOCKED"
run unlock "$M" area unlock; rc 0; out "area ACTIVE"

# The security log, decoded.
run log "$M" log; rc 0
has "$T/out" "   SEQ  EVENT          AID                              REPEAT"
has "$T/out" "  PIN_BLOCKED    $LIB                 1"
has "$T/out" "  PIN_FAIL       $LIB                 2"
has "$T/out" "  TEAR_RECOVERED -                                1"
has "$T/out" "  AP_STATE       $CERT                 1"
run log-json "$M" --json log; rc 0; has "$T/out" '{"log":[{"seq":'

# Delete.
run delete "$M" ap delete $CERT; rc 0; out "AP $CERT deleted"
run delete-again "$M" ap delete $CERT; rc 1; err "mnap: ap delete: no AP $CERT on this card"
run list-one "$M" ap list; rc 0
out "AID                              STATE           NVM PIN
$LIB                 ACTIVE         1529 3 tries left"

# --- the audit log --------------------------------------------------------------------
run audit-ok "$M" audit verify; rc 0
lines=$(wc -l <audit.log)
has "$T/out" "$T/audit.log: $lines lines, chain intact, last hash "
last=$(tail -1 audit.log | cut -f8)
out "$T/audit.log: $lines lines, chain intact, last hash $last"
# Every line names the operator, the serial once the card was reached.
[ "$(cut -f3 audit.log | sort -u)" = clerk-7 ] || fail "operator column: $(cut -f3 audit.log | sort -u)"
grep -q "	area setup	0102030405060708	-	ok	" audit.log || fail "no area setup line"
grep -q "	ap load	0102030405060708	$LIB	ok	" audit.log || fail "no ap load line"
grep -q "	ap load	0102030405060708	$CERT	error: LOAD AP: the card was removed or lost power	" audit.log ||
    fail "no line for the pulled load"
grep -q "	kiosk library	0102030405060708	$LIB	error: wrong PIN, PIN blocked	" audit.log || fail "no blocking line"
grep -q "	pin unblock	0102030405060708	$LIB	ok	" audit.log || fail "no unblock line"
grep -q "	ap delete	0102030405060708	$CERT	ok	" audit.log || fail "no delete line"
# Read commands leave no line.
grep -q "	ap list	" audit.log && fail "ap list was audited"
run audit-json "$M" --json audit verify; rc 0
out '{"file":"'"$T"'/audit.log","intact":true,"lines":'$lines',"last_hash":"'$last'"}'
run audit-last "$M" audit verify --last "$last"; rc 0
# One edited line: the operator of line 5 changed.
cp audit.log audit.good
sed -i '5s/clerk-7/mallory/' audit.log
cmp -s audit.log audit.good && fail "the edit did not change the file"
run audit-edited "$M" audit verify; rc 5
err "mnap: audit verify: $T/audit.log: line 5: hash does not match (the line was edited, or one before it)"
# One removed line.
cp audit.good audit.log
sed -i '7d' audit.log
run audit-removed "$M" audit verify; rc 5
err "mnap: audit verify: $T/audit.log: line 7: sequence 8 where 7 was expected (a line removed or inserted)"
# The tail cut: caught against the hash written down.
cp audit.good audit.log
sed -i '$d' audit.log
run audit-cut "$M" audit verify --last "$last"; rc 5
# A damaged audit file stops a card command before the card is touched.
cp audit.good audit.log
printf '99\tbroken' >>audit.log
run audit-torn "$M" ap delete $LIB; rc 5
err "mnap: audit log: the audit file's last line is incomplete: run 'mnap audit verify'"
run list-still "$M" ap list; rc 0; has "$T/out" "$LIB"
cp audit.good audit.log

# Terminate: final.
run terminate "$M" area terminate --yes; rc 0; out "area TERMINATED"
run info-terminated "$M" info; rc 0; has "$T/out" "area state:      TERMINATED (FF)"
run list-terminated "$M" ap list; rc 1
run audit-final "$M" audit verify; rc 0

echo "cli.sh: $N commands, $FAILS failures"
[ "$FAILS" = 0 ]
