#!/bin/sh
# test/tools/cli_keys_race.sh: two or more terminals changing one key store
# at once (issue #21, item 1).  Every read-modify-write holds the store's
# lock, so no change is lost:
#   - 4 parallel `keys generate kN` (3 rounds): 4 more key sets each round;
#   - `keys generate x1` beside `keys remove y`: x1 is there, y is gone;
#   - a store held by another command: "waiting for" after a second, then
#     MNAP_E_KS_BUSY after MNAP_LOCK_TIMEOUT, the store unchanged;
#   - a save over a store another program changed since the load is refused
#     with MNAP_E_KS_STALE (test/host/test_keystore_lock covers the library).
# The scrypt cost is high enough (2^14) that unlocked runs overlap.
set -u
B=${BUILD:-build}
M="$(pwd)/$B/bin/mnap"
[ -x "$M" ] || { echo "cli_keys_race.sh: $M not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-ksrace-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
unset MNAP_CARD_IMAGE MNAP_AUDIT MNAP_OPERATOR MNAP_TRACE XDG_DATA_HOME MNAP_LOCK_TIMEOUT
export HOME="$T/home" MNAP_KEYSTORE="$T/ks.mks" MNAP_PASSPHRASE=pw LANG=C LC_ALL=C
mkdir -p "$HOME"
FAILS=0
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }
names() { "$M" keys list 2>&1 | awk '{print $1}' | sort | tr '\n' ' '; }

echo "cli_keys_race.sh: parallel changes to one key store ($M)"
"$M" keys init --kdf-cost 14 >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }

for round in 1 2 3; do
    pids=
    for n in a b c d; do
        "$M" keys generate "k$round$n" --kvn 01 >"$T/out.$n" 2>"$T/err.$n" &
        pids="$pids $!"
    done
    i=0
    for p in $pids; do
        wait "$p"; rc=$?
        [ $rc = 0 ] || fail "round $round: a parallel generate exited $rc: $(cat "$T"/err.*)"
    done
done
got=$(names)
want="k1a k1b k1c k1d k2a k2b k2c k2d k3a k3b k3c k3d "
[ "$got" = "$want" ] || fail "4 parallel generates x 3: key sets '$got', expected '$want'"
echo "  parallel generate: $(echo "$got" | wc -w) key sets kept"

# generate beside remove: both effects stay.
for round in 1 2 3; do
    "$M" keys generate "y$round" --kvn 01 >/dev/null 2>&1 || fail "generate y$round"
    "$M" keys generate "x$round" --kvn 01 >"$T/out.x" 2>"$T/err.x" &
    px=$!
    "$M" keys remove "y$round" >"$T/out.y" 2>"$T/err.y" &
    py=$!
    wait $px; rx=$?
    wait $py; ry=$?
    [ $rx = 0 ] && [ $ry = 0 ] || fail "generate x$round ($rx) beside remove y$round ($ry): $(cat "$T/err.x" "$T/err.y")"
    [ "$(cat "$T/out.y")" = "key set 'y$round' removed" ] || fail "remove said: $(cat "$T/out.y")"
    got=$(names)
    case " $got" in *" x$round "*) ;; *) fail "round $round: x$round lost beside remove: '$got'";; esac
    case " $got" in *" y$round "*) fail "round $round: y$round back after its remove: '$got'";; esac
done
echo "  generate beside remove: both effects kept"

# A store held by another command: the waiting line, then the named error.
# (flock(1) holds the lock file as another mnap command would.)
if command -v flock >/dev/null 2>&1; then
    before=$(names)
    flock "$T/ks.mks.lock" sh -c 'echo held; sleep 3' >"$T/hold.out" 2>&1 &
    ph=$!
    i=0; while [ ! -s "$T/hold.out" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    MNAP_LOCK_TIMEOUT=2 "$M" keys generate late --kvn 01 >"$T/out" 2>"$T/err"; rc=$?
    wait $ph
    [ $rc = 4 ] || fail "generate on a held store: exit $rc, expected 4: $(cat "$T/err")"
    exp1="mnap: waiting for the key store $T/ks.mks: another mnap command holds it (up to 2 s)"
    exp2="mnap: the key store $T/ks.mks is held by another mnap command: gave up after 2 s (MNAP_LOCK_TIMEOUT) [MNAP_E_KS_BUSY]"
    [ "$(sed -n 1p "$T/err")" = "$exp1" ] || fail "first line: '$(sed -n 1p "$T/err")', expected '$exp1'"
    [ "$(sed -n 2p "$T/err")" = "$exp2" ] || fail "second line: '$(sed -n 2p "$T/err")', expected '$exp2'"
    [ "$(wc -l <"$T/err" | tr -d ' ')" = 2 ] || fail "stderr has more than two lines: $(cat "$T/err")"
    [ "$(names)" = "$before" ] || fail "a refused generate changed the store"
    echo "  held store: waiting line, then MNAP_E_KS_BUSY"
fi

if [ $FAILS -ne 0 ]; then
    echo "cli_keys_race.sh: $FAILS check(s) failed"
    exit 1
fi
echo "cli_keys_race.sh: all checks passed"
