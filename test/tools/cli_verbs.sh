#!/bin/sh
# test/tools/cli_verbs.sh: the verbs of issue #21, item 7, over the image
# card: mnap --version, keys passwd, area rotate-keys, ap rotate-keys, and
# ef read / update / append on the library example AP (transparent and
# cyclic EFs, the PIN, the record-length rule), each with its exact output
# and exit code; and MNAP_READER beside --reader (item 9).
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
[ -x "$M" ] || { echo "cli_verbs.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-verbs-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      XDG_DATA_HOME MNAP_LOCK_TIMEOUT MNAP_READER MNAP_REGISTRY MNAP_NEW_PASSPHRASE LANGUAGE
export HOME="$T/home" MNAP_KEYSTORE="$T/keys.mks" MNAP_AUDIT="$T/audit.log" \
       MNAP_CARD_IMAGE="$T/card.img" MNAP_OPERATOR=clerk-7 MNAP_PASSPHRASE=pw LANG=C LC_ALL=C
mkdir -p "$HOME"
FAILS=0
N=0
# run EXPECTED_RC EXPECTED_STDOUT CMD...: stdout must be exactly EXPECTED_STDOUT.
run() {
    want_rc=$1; want_out=$2; shift 2
    N=$((N + 1))
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$(cat "$T/out")" != "$want_out" ]; then
        echo "  FAIL: $*"
        echo "    exit $rc (want $want_rc); stdout: $(cat "$T/out")"
        echo "    want stdout: $want_out"
        echo "    stderr: $(cat "$T/err")"
        FAILS=$((FAILS + 1))
    fi
}
err_is() {
    if [ "$(cat "$T/err")" != "$1" ]; then
        echo "  FAIL: stderr '$(cat "$T/err")', want '$1'"
        FAILS=$((FAILS + 1))
    fi
}

echo "cli_verbs.sh: rotate-keys, keys passwd, ef, --version ($M)"
LIB=D392F000014C4942
{ "$M" keys init --kdf-cost 10 &&
  printf '404142434445464748494A4B4C4D4E4F\n' | "$M" keys import transport --kvn FF &&
  "$M" keys generate region --kvn 01 --master &&
  "$M" keys generate region2 --kvn 02 --master &&
  "$M" keys generate library --kvn 01 --master &&
  "$M" keys generate library2 --kvn 02 --master &&
  "$M" simcard create card.img --serial 0102030405060708 &&
  "$M" area setup &&
  "$M" ap load "$EX/library.json" &&
  printf '1234\n1234\n' | "$M" pin unblock $LIB --pin-stdin; } >"$T/setup.out" 2>&1 ||
    { echo "cli_verbs.sh: setup failed: $(cat "$T/setup.out")"; exit 1; }

run 0 "mnap 1.0.0 (libmnap 1.0.0)" "$M" --version

# keys passwd: the old passphrase stops working, the new one works.
run 0 "key store $T/keys.mks: passphrase changed" env MNAP_NEW_PASSPHRASE=pw2 "$M" keys passwd
run 4 "" "$M" keys list
err_is "mnap: key store $T/keys.mks: wrong key store passphrase"
export MNAP_PASSPHRASE=pw2
N=$((N + 1)); [ "$("$M" keys list | wc -l | tr -d ' ')" = 5 ] || { echo "  FAIL: keys list after passwd"; FAILS=$((FAILS + 1)); }
run 2 "" "$M" --keystore pkcs11:token=x keys passwd

# area rotate-keys: the old region keys stop opening the area.
run 0 "area key set replaced, KVN 01 -> 02: the area opens with 'region2' from now on" \
    "$M" area rotate-keys --new region2
run 2 "" "$M" area rotate-keys
err_is "mnap: area rotate-keys: the new region key set: --new NAME"
run 1 "" "$M" area lock
run 0 "area LOCKED" "$M" area lock --keys region2
run 0 "area ACTIVE" "$M" area unlock --keys region2

# ap rotate-keys
run 0 "AP $LIB: key set replaced, KVN 01 -> 02: it opens with 'library2' from now on" \
    "$M" ap rotate-keys $LIB --keys library --new library2
run 1 "" "$M" ef read $LIB 0101 --keys library
run 2 "" "$M" ap rotate-keys $LIB --keys library2 --new library2
err_is "mnap: key set 'library2' has the KVN of the current keys (02): give the new keys another KVN"

# ef: transparent write and read back
P=50415452304E2D3030303100000000000000000000000000000000000000000000
P=$(printf '%s' "$P" | cut -c1-64)
run 0 "EF 0101: 32 bytes written at offset 0" "$M" ef update $LIB 0101 --keys library2 --data "$P"
run 0 "$P" "$M" ef read $LIB 0101 --keys library2
run 0 "2D30" "$M" ef read $LIB 0101 --keys library2 --offset 6 --length 2
run 0 "{\"aid\":\"$LIB\",\"fid\":\"0101\",\"type\":\"transparent\",\"offset\":6,\"data\":\"2D30\"}" \
    "$M" --json ef read $LIB 0101 --keys library2 --offset 6 --length 2
run 0 "EF 0101: 2 bytes written at offset 30" "$M" ef update $LIB 0101 --keys library2 --offset 30 --data BEEF
run 0 "BEEF" "$M" ef read $LIB 0101 --keys library2 --offset 30
# the cyclic loan history: PIN to read, records at exactly 48 bytes
R1=$(printf '%096d' 1)
R2=$(printf '%096d' 2)
run 0 "EF 0102: record of 48 bytes appended" "$M" ef append $LIB 0102 --keys library2 --data "$R1"
run 0 "EF 0102: record of 48 bytes appended" "$M" ef append $LIB 0102 --keys library2 --data "$R2"
run 2 "" "$M" ef append $LIB 0102 --keys library2 --data 0102
err_is "mnap: EF 0102 has records of 48 bytes: the data has 2 (records are written at exactly their length)"
run 1 "" "$M" ef read $LIB 0102 --keys library2
printf '1234\n' >"$T/pin"
run 0 "$R2
$R1" sh -c "\"$M\" ef read $LIB 0102 --keys library2 --pin-stdin <\"$T/pin\""
run 0 "$R1" sh -c "\"$M\" ef read $LIB 0102 --keys library2 --record 2 --pin-stdin <\"$T/pin\""
run 2 "" "$M" ef update $LIB 0102 --keys library2 --record 1 --data "$R1"
err_is "mnap: EF 0102 is cyclic: its records are only appended (ef append)"
run 2 "" "$M" ef update $LIB 0102 --keys library2 --data "$R1"
err_is "mnap: EF 0102 is cyclic: its records are only appended (ef append)"
run 1 "" "$M" ef read $LIB 0999 --keys library2
err_is "mnap: AP $LIB has no EF 0999"
run 2 "" "$M" ef read $LIB 01 --keys library2
err_is "mnap: FID: 4 hex digits, e.g. 0101 (got '01')"
run 2 "" "$M" ef read $LIB 0101
err_is "mnap: the AP's key set: --keys NAME"
# the write-NEVER file is refused by the card (6982)
run 1 "" "$M" ef update $LIB 0103 --keys library2 --data 00
# every ef and rotate-keys command left its audit line
N=$((N + 1)); [ "$(grep -c "	ef update	" "$T/audit.log")" -ge 4 ] || { echo "  FAIL: ef update audit lines"; FAILS=$((FAILS + 1)); }
N=$((N + 1)); grep -q "	ap rotate-keys	0102030405060708	$LIB	ok	" "$T/audit.log" || { echo "  FAIL: ap rotate-keys audit line: $(grep rotate "$T/audit.log")"; FAILS=$((FAILS + 1)); }

# MNAP_READER beside --reader: without a card image, the reader named there
# is used (no pcscd here, or no such reader: either way it is named).
unset MNAP_CARD_IMAGE
N=$((N + 1))
MNAP_READER="No Such Reader 99" "$M" info >"$T/out" 2>"$T/err"; rc=$?
if [ $rc != 3 ]; then echo "  FAIL: MNAP_READER: exit $rc: $(cat "$T/err")"; FAILS=$((FAILS + 1)); fi

if [ $FAILS -ne 0 ]; then
    echo "cli_verbs.sh: $FAILS of $N checks failed"
    exit 1
fi
echo "cli_verbs.sh: $N checks passed"
