#!/bin/sh
# test/tools/p11.sh: the `mnap` command line with its keys in a PKCS#11 token
# (--keystore / MNAP_KEYSTORE 'pkcs11:token=...'), on SoftHSMv2 and on the
# NSS softoken, each made here in a temporary directory: token check, card
# keys imported, master keys generated in the token and made by a two-officer
# ceremony, area set-up, AP load and the kiosk flow through the in-process
# card (--card-image); the token and the file key store derive the same card
# keys (same KCVs); and the same flows once more through OpenSC's
# pkcs11-spy.so, whose log must show no C_GetAttributeValue of CKA_VALUE on a
# master key object.  Starts no background process.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
EX="$(pwd)/tools/examples"
[ -x "$M" ] || { echo "p11.sh: $M not built"; exit 1; }
R=$(pwd)
T=$(mktemp -d /tmp/mnap-p11-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_KEYSTORE MNAP_AUDIT MNAP_OPERATOR MNAP_PASSPHRASE MNAP_TRACE \
      MNAP_PKCS11_MODULE MNAP_PKCS11_INIT_ARGS MNAP_PKCS11_KDF MNAP_PKCS11_XOR XDG_DATA_HOME \
      MNAP_SIMCARD_PULL_AT MNAP_SIMCARD_CUT_AT
export HOME="$T/home"
mkdir -p "$HOME"
# Under make check (ASan+LSan): OpenSC's logging module leaks a few bytes of
# its own at exit; mnap's and the tokens' allocations stay checked.
printf 'leak:pkcs11-spy.so\n' >"$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"

FAILS=0
N=0
LABEL=
fail() { echo "  FAIL [$LABEL]: $*"; FAILS=$((FAILS + 1)); }
run() { LABEL=$1; shift; N=$((N + 1)); "$@" >"$T/out" 2>"$T/err" </dev/null; RC=$?; }
run_in() { LABEL=$1; IN=$2; shift 2; N=$((N + 1)); printf '%b' "$IN" | "$@" >"$T/out" 2>"$T/err"; RC=$?; }
rc() { [ "$RC" = "$1" ] || fail "exit $RC, expected $1; stderr: $(cat "$T/err")"; }
same() { printf '%s\n' "$2" >"$T/want"; cmp -s "$T/want" "$1" || { fail "$(basename "$1") differs:"; diff "$T/want" "$1" | sed 's/^/      /'; }; }
out() { same "$T/out" "$1"; }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2': $(cat "$1")"; }
noerr() { [ ! -s "$T/err" ] || fail "unexpected stderr: $(cat "$T/err")"; }

PIN=2468-token-pin
SOFTHSM=$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so 2>/dev/null | head -1)
SOFTOKN=$(ls /usr/lib/*/libsoftokn3.so 2>/dev/null | head -1)
SPY=$(ls /usr/lib/*/pkcs11/pkcs11-spy.so 2>/dev/null | head -1)
for f in "$SOFTHSM" "$SOFTOKN" "$SPY"; do
    [ -n "$f" ] || { echo "p11.sh: softhsm2, libnss3 and opensc-pkcs11 are needed (make deps)"; exit 1; }
done
# spycheck LOG NAME...: fails when any C_GetAttributeValue in a pkcs11-spy.so
# log asks for CKA_VALUE of an object found under the label NAME/enc, NAME/mac
# or NAME/dek (master key sets).  Objects are tied to labels through the
# C_FindObjectsInit template and the handles C_FindObjects returned.
spycheck() (
log=$1; shift
hexes=
for n in "$@"; do
    hexes="$hexes $(printf '%s/' "$n" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
done
awk -v masters="$hexes" '
BEGIN { nm = split(masters, m, " ") }
/^[0-9]+: C_/ { fn = $2; want_hex = 0; intmpl = 0; next }
fn == "C_FindObjectsInit" && /CKA_LABEL/ { want_hex = 1; cur = ""; next }
fn == "C_FindObjectsInit" && want_hex == 1 { want_hex = 2; h = $0; gsub(/ /, "", h); cur = toupper(h); next }
fn == "C_FindObjects" && /^Object 0x[0-9a-fA-F]+ matches/ { label[$2] = cur; next }
fn == "C_GetAttributeValue" && /^\[in\] hObject/ { obj = $4; next }
fn == "C_GetAttributeValue" && /^\[in\] pTemplate/ { intmpl = 1; next }
fn == "C_GetAttributeValue" && /^\[out\]/ { intmpl = 0; next }
fn == "C_GetAttributeValue" && intmpl && /^ +CKA_VALUE / {
    for (i = 1; i <= nm; i++)
        if (index(label[obj], m[i]) == 1) { print "CKA_VALUE of master key object " obj " (label hex " label[obj] ")"; bad = 1 }
}
END { exit bad ? 1 : 0 }' "$log"
)

# kcv HEXKEY: first 3 bytes of AES-128(key, 16 x 01), from the openssl tool.
kcv() {
    printf '\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001' |
        openssl enc -aes-128-ecb -K "$1" -nopad | od -An -tx1 | tr -d ' \n' | cut -c1-6 | tr a-f A-F
}
LIB=D392F000014C4942
SERIAL=0A0B0C0D0E0F1011
DIV=0A0B0C0D0E0F10110001

echo "p11.sh: mnap with its keys in a PKCS#11 token (SoftHSMv2, NSS softoken)"

# make_token KIND DIR: a fresh token; sets URI and the module environment.
make_token() {
    mkdir -p "$2"
    unset MNAP_PKCS11_INIT_ARGS
    case $1 in
    softhsm2)
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$2" >"$2/softhsm2.conf"
        export SOFTHSM2_CONF="$2/softhsm2.conf"
        softhsm2-util --init-token --free --label mnap --so-pin 00000000 --pin "$PIN" >/dev/null || exit 1
        REAL=$SOFTHSM
        URI="pkcs11:token=mnap"
        ;;
    nss)
        printf '%s\n' "$PIN" >"$2/pw"
        certutil -N -d "sql:$2" -f "$2/pw" >/dev/null || exit 1
        REAL=$SOFTOKN
        export MNAP_PKCS11_INIT_ARGS="configdir='sql:$2' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
        URI="pkcs11:token=NSS%20Certificate%20DB"
        ;;
    esac
    export MNAP_PKCS11_MODULE="$REAL"
}

# flows KIND TAG: set-up, load and kiosk on a new card with the token's keys.
flows() {
    export MNAP_CARD_IMAGE="$T/$2.img"
    run "$2-sim" "$M" simcard create "$T/$2.img" --serial $SERIAL; rc 0
    run "$2-setup" "$M" area setup; rc 0
    out "area set up: region key set 'region' installed, area ACTIVE"
    run "$2-load" "$M" ap load "$EX/library.json"; rc 0; out "AP $LIB loaded (210 bytes)"; noerr
    run_in "$2-unblock" "1234\n1234\n" "$M" pin unblock $LIB --pin-stdin; rc 0
    run_in "$2-kiosk" "1234\n" "$M" kiosk library $LIB --pin-stdin --item BOOK-42; rc 0
    has "$T/out" "BOOK-42"
    run "$2-list" "$M" ap list; rc 0; has "$T/out" "$LIB"
}

for KIND in softhsm2 nss; do
    make_token $KIND "$T/$KIND"
    export MNAP_KEYSTORE="$URI" MNAP_PASSPHRASE="$PIN" MNAP_AUDIT="$T/$KIND-audit.log" MNAP_OPERATOR=clerk1

    run "$KIND-init" "$M" keys init; rc 0
    if [ $KIND = nss ]; then
        out "token $URI ready: 0 key set(s); diversification by C_Sign CKM_AES_CMAC; KCVs by CKM_SP800_108_COUNTER_KDF"
    else
        out "token $URI ready: 0 key set(s); diversification by C_Sign CKM_AES_CMAC"
    fi
    run "$KIND-wrong-pin" env MNAP_PASSPHRASE=0000 "$M" keys list; rc 4
    has "$T/err" "wrong key store passphrase"
    run "$KIND-no-token" env MNAP_KEYSTORE=pkcs11:token=nosuch "$M" keys list; rc 4
    has "$T/err" "PKCS#11: no module, no such token, or the token failed"

    # The simulator's transport keys (card keys, stored readable).
    run_in "$KIND-import-transport" "404142434445464748494A4B4C4D4E4F\n" "$M" keys import transport --kvn FF
    rc 0
    K=$(kcv 404142434445464748494A4B4C4D4E4F)
    out "transport                KVN FF  AES-128  card    KCV ENC $K MAC $K DEK $K"
    # Region master keys generated inside the token.
    run "$KIND-gen-region" "$M" keys generate region --kvn 01 --master; rc 0
    has "$T/out" "region                   KVN 01  AES-128  master"
    run "$KIND-gen-again" "$M" keys generate region --kvn 01 --master; rc 4
    has "$T/err" "key set 'region' exists (--force replaces it)"

    # The library's master keys from two officers' components.
    run_in "$KIND-ceremony-same-officer" "" "$M" keys ceremony library --kvn 21 --officer alice --officer alice
    rc 2
    run_in "$KIND-ceremony-short" "00112233445566778899AABBCCDDEEFF\n" \
        "$M" keys ceremony library --kvn 21 --officer alice --officer bob
    rc 2; has "$T/err" "officer alice: expected three lines of hex (ENC, MAC, DEK)"
    run_in "$KIND-ceremony" "00112233445566778899AABBCCDDEEFF\n0102030405060708090A0B0C0D0E0F10\n1111111111111111111111111111111F\nFFEEDDCCBBAA99887766554433221100\n1F1E1D1C1B1A19181716151413121110\n2222222222222222222222222222222F\n" \
        "$M" keys ceremony library --kvn 21 --officer alice --officer bob
    rc 0
    # Components, and their XOR FFFF..FF / 1E1C1E18..00 / 3333..3330 (KCVs
    # from OpenSSL, independent of the token).
    has "$T/out" "officer alice: component 1 of 2 KCV ENC "
    has "$T/out" "officer bob: component 2 of 2 KCV ENC "
    has "$T/out" "master key set 'library' KVN 21 AES-128 KCV ENC $(kcv FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF) MAC $(kcv 1E1C1E181E1C1E101E1C1E181E1C1E00) DEK $(kcv 33333333333333333333333333333330); components combined $([ $KIND = nss ] && echo "in the token (CKM_XOR_BASE_AND_DATA)" || echo "in host memory")"
    has "$T/$KIND-audit.log" "	alice	keys ceremony library	-	-	component 1/2 entered, KCV ENC "
    has "$T/$KIND-audit.log" "	bob	keys ceremony library	-	-	component 2/2 entered, KCV ENC "
    has "$T/$KIND-audit.log" "	clerk1	keys ceremony library	-	-	ok: master key set KVN 21 AES-128 KCV ENC "
    has "$T/$KIND-audit.log" ", combined $([ $KIND = nss ] && echo "in the token" || echo "in host memory")	"
    # The stop-list signing key: a key pair made in SoftHSMv2 (CKM_EDDSA);
    # the NSS softoken has no CKM_EDDSA and says so.  (SoftHSMv2 2.6 leaks a
    # few bytes of its own decoding an EdDSA key: no leak check under make
    # check for these two commands; test_p11 checks mnap's side.)
    NOLEAK="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    run "$KIND-ed25519" env "$NOLEAK" "$M" keys ed25519 stoplist
    if [ $KIND = softhsm2 ]; then
        rc 0; has "$T/out" "Ed25519 key stoplist: public key "
        run "$KIND-ed25519-again" env "$NOLEAK" "$M" keys ed25519 stoplist; rc 4
        has "$T/err" "a key pair of that name exists"
    else
        rc 4; has "$T/err" "PKCS#11: the token lacks a mechanism mnap needs"
    fi
    run "$KIND-list" "$M" keys list; rc 0
    has "$T/out" "library                  KVN 21  AES-128  master"
    has "$T/out" "transport                KVN FF  AES-128  card"

    # The token and the file store derive the same card keys.
    run_in "$KIND-import-m" "000102030405060708090A0B0C0D0E0F\n101112131415161718191A1B1C1D1E1F\n202122232425262728292A2B2C2D2E2F\n" \
        "$M" keys import cmp --kvn 30 --master
    rc 0
    run "$KIND-derive" "$M" keys derive cmp --div $DIV; rc 0
    cp "$T/out" "$T/derive-token"
    run "$KIND-file-init" env MNAP_KEYSTORE="$T/f.mks" "$M" keys init --kdf-cost 10 --force; rc 0
    run_in "$KIND-file-import" "000102030405060708090A0B0C0D0E0F\n101112131415161718191A1B1C1D1E1F\n202122232425262728292A2B2C2D2E2F\n" \
        env MNAP_KEYSTORE="$T/f.mks" "$M" keys import cmp --kvn 30 --master --force
    rc 0
    run "$KIND-file-derive" env MNAP_KEYSTORE="$T/f.mks" "$M" keys derive cmp --div $DIV; rc 0
    LABEL="$KIND-derive-same"; cmp -s "$T/out" "$T/derive-token" || fail "token and file store differ: $(cat "$T/derive-token") / $(cat "$T/out")"
    run "$KIND-remove" "$M" keys remove cmp; rc 0; out "key set 'cmp' removed"

    flows $KIND "$KIND-card"

    # Once more through the logging module: no CKA_VALUE of a master key.
    export PKCS11SPY="$REAL" PKCS11SPY_OUTPUT="$T/$KIND-spy.log" MNAP_PKCS11_MODULE="$SPY"
    flows $KIND "$KIND-spy"
    run "$KIND-spy-derive" "$M" keys derive region --div $DIV; rc 0
    run_in "$KIND-spy-ceremony" "$(printf '%032X\\n' 1 2 3 4 5 6 | tr -d '\n')" \
        "$M" keys ceremony lib2 --kvn 22 --officer carol --officer dave
    rc 0
    if [ $KIND = nss ]; then
        grep -q "CKM_XOR_BASE_AND_DATA" "$T/$KIND-spy.log" ||
            fail "the spy log shows no CKM_XOR_BASE_AND_DATA: the ceremony did not combine in the token"
    fi
    LABEL="$KIND-spy-log"
    grep -q "C_SignInit" "$T/$KIND-spy.log" || fail "the spy log shows no C_SignInit: the flows did not use the token"
    spycheck "$T/$KIND-spy.log" region library lib2 >"$T/spy.out" 2>&1 ||
        fail "$(cat "$T/spy.out")"
    # Control on the real log: the transport set's card keys are read (by
    # value or, in NSS, after CKR_ATTRIBUTE_SENSITIVE, wrapped), and the
    # checker sees it.
    LABEL="$KIND-spy-control"
    spycheck "$T/$KIND-spy.log" transport >/dev/null 2>&1 &&
        fail "the checker did not see the CKA_VALUE request of the transport keys"
    unset PKCS11SPY PKCS11SPY_OUTPUT
done

# The file key store's ceremony: the same XOR, combined in host memory, saved.
export MNAP_KEYSTORE="$T/cer.mks" MNAP_PASSPHRASE=file-pass MNAP_AUDIT="$T/file-audit.log"
run file-cer-init "$M" keys init --kdf-cost 10; rc 0
run_in file-cer "00112233445566778899AABBCCDDEEFF\n0102030405060708090A0B0C0D0E0F10\n1111111111111111111111111111111F\nFFEEDDCCBBAA99887766554433221100\n1F1E1D1C1B1A19181716151413121110\n2222222222222222222222222222222F\n" \
    "$M" keys ceremony library --kvn 21 --officer alice --officer bob
rc 0
has "$T/out" "master key set 'library' KVN 21 AES-128 KCV ENC $(kcv FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF) MAC $(kcv 1E1C1E181E1C1E101E1C1E181E1C1E00) DEK $(kcv 33333333333333333333333333333330); components combined in host memory"
run file-cer-list "$M" keys list; rc 0
has "$T/out" "library                  KVN 21  AES-128  master  KCV ENC $(kcv FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)"
# Broken off after the first officer: recorded, nothing made.
run_in file-cer-broken "00112233445566778899AABBCCDDEEFF\n0102030405060708090A0B0C0D0E0F10\n1111111111111111111111111111111F\nzz\n" \
    "$M" keys ceremony other --kvn 22 --officer alice --officer bob
rc 2
has "$T/file-audit.log" "	alice	keys ceremony other	-	-	component 1/2 entered, KCV ENC "
has "$T/file-audit.log" "keys ceremony other	-	-	error: exit 2, no key set made	"
run file-cer-none "$M" keys list; rc 0
grep -q "^other " "$T/out" && fail "a broken-off ceremony left a key set"

# On a terminal: each key prompted with echo off, nothing typed shown.
if command -v script >/dev/null 2>&1; then
    LABEL=file-cer-tty; N=$((N + 1))
    : >"$T/tty.out"
    # Each line goes only once its prompt is on the screen (echo is turned
    # off, and pending input flushed, before the prompt is written).
    feed() {
        k=0
        for l in 00112233445566778899AABBCCDDEEFF 0102030405060708090A0B0C0D0E0F10 \
                 1111111111111111111111111111111F FFEEDDCCBBAA99887766554433221100 \
                 1F1E1D1C1B1A19181716151413121110 2222222222222222222222222222222F; do
            k=$((k + 1)); w=0
            while [ "$(grep -o '(hex): ' "$T/tty.out" | wc -l)" -lt $k ] && [ $w -lt 300 ]; do
                sleep 0.1; w=$((w + 1))
            done
            printf '%s\n' $l
        done
        w=0
        while ! grep -q "master key set" "$T/tty.out" && [ $w -lt 300 ]; do sleep 0.1; w=$((w + 1)); done
    }
    feed | script -qec "'$M' keys ceremony ttylib --kvn 23 --officer alice --officer bob" /dev/null >"$T/tty.out" 2>&1
    has "$T/tty.out" "officer alice, component ENC (hex): "
    has "$T/tty.out" "officer bob, component DEK (hex): "
    has "$T/tty.out" "master key set 'ttylib' KVN 23 AES-128 KCV ENC $(kcv FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)"
    grep -q "00112233445566778899" "$T/tty.out" && fail "a typed component was echoed"
else
    echo "  (no script(1): the ceremony on a terminal not tested)"
fi

# The checker must be able to fail: a log in which a master key's value is asked for.
LABEL=spycheck-negative
cat >"$T/bad.log" <<'EOF'
1: C_FindObjectsInit
[in] hSession = 0x1
[in] pTemplate[2]: 
    CKA_CLASS             CKO_SECRET_KEY       
    CKA_LABEL             00007ffd00000000 / 10
    72656769 6F6E2F65 6E63
     r e g i  o n / e  n c
Returned:  0 CKR_OK

2: C_FindObjects
[in] hSession = 0x1
[in] ulMaxObjectCount = 0x2
[out] ulObjectCount = 0x1
Object 0x2a matches
Returned:  0 CKR_OK

3: C_GetAttributeValue
[in] hSession = 0x1
[in] hObject = 0x2a
[in] pTemplate[1]: 
    CKA_VALUE             00007ffd00000000 / 16
Returned:  17 CKR_ATTRIBUTE_SENSITIVE
EOF
spycheck "$T/bad.log" region >/dev/null 2>&1 && fail "a CKA_VALUE request on region/enc was not flagged"

echo "p11.sh: $N commands, $FAILS failed"
[ "$FAILS" -eq 0 ]
