#!/bin/bash
# test/python/run.sh: the mnap Python binding (python/mnap) through a real
# pcscd: a private pcscd with a vpcd reader (the helpers of test/e2e/lib.sh),
# mnap-vcard on a fresh card, the card set up with the mnap CLI over PC/SC
# (area, the library example AP, its PIN), then test/python/test_mnap.py with
# Debian's /usr/bin/python3 and MNAP_LIBRARY=$BUILD/lib/libmnap.so.  A
# Python suite: `make test` runs it once (test-python), `make check` does not.
# Every process it starts is stopped by PID.  Skips (exit 0 with a note;
# a failure in CI) where it cannot run: not root, no pcscd or vpcd, another
# pcscd running.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac
VCARD=$BDIR/bin/mnap-vcard
E2E_PCSC=$BDIR/test/e2e/e2e_pcsc
M=$BDIR/bin/mnap
PY=/usr/bin/python3

. "$ROOT/test/e2e/lib.sh"

skip() {
    echo "test-python: SKIPPED: $*"
    if [ -n "${CI:-}" ]; then echo "test-python: a skip is a failure in CI"; exit 1; fi
    exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (pcscd's socket)"
command -v pcscd >/dev/null 2>&1 || skip "no pcscd"
[ -r "$VPCD_DRIVER" ] || skip "no vpcd driver at $VPCD_DRIVER"
[ -x "$VCARD" ] && [ -x "$E2E_PCSC" ] && [ -x "$M" ] || { echo "test-python: build first"; exit 1; }
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] && skip "another pcscd is running"
done

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mnap-python.XXXXXX") || exit 1
RC=1
trap 'e2e_cleanup; [ "$RC" = 0 ] && rm -rf "$E2E_TMP"' EXIT
E2E_NAME="mnap-python"
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"
e2e_pick_port
e2e_write_conf
start_pcscd
fresh_card 0 || { tail -20 "$E2E_TMP/vcard0.log" >&2; exit 1; }

unset MNAP_CARD_IMAGE MNAP_REGISTRY MNAP_READER LANGUAGE
export HOME="$E2E_TMP/home" MNAP_KEYSTORE="$E2E_TMP/keys.mks" MNAP_AUDIT="$E2E_TMP/audit.log" \
       MNAP_PASSPHRASE=pw MNAP_OPERATOR=python-test LANG=C.UTF-8 LC_ALL=C.UTF-8
mkdir -p "$HOME"
{ "$M" keys init --kdf-cost 10 &&
  printf '404142434445464748494A4B4C4D4E4F\n' | "$M" keys import transport --kvn FF &&
  "$M" keys generate region --kvn 01 --master &&
  "$M" keys generate library --kvn 01 --master &&
  "$M" --reader "$READER0" area setup &&
  "$M" --reader "$READER0" ap load "$ROOT/tools/examples/library.json" &&
  printf '1234\n1234\n' | "$M" --reader "$READER0" pin unblock D392F000014C4942 --pin-stdin
} > "$E2E_TMP/setup.log" 2>&1 || { echo "test-python: card set-up failed:"; cat "$E2E_TMP/setup.log"; exit 1; }

# docs/host.md's C example (tools/examples/host_example.c) first, on the same card.
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I"$ROOT/host/include" "$ROOT/tools/examples/host_example.c" \
    "$BDIR/lib/libmnap.so" -Wl,-rpath,"$E2E_TMP" -o "$E2E_TMP/host_example" ||
    { echo "test-python: docs/host.md's C example does not build"; exit 1; }
ln -s "$BDIR/lib/libmnap.so" "$E2E_TMP/libmnap.so.1"   # its soname
MNAP_PASSPHRASE=pw "$M" --reader "$READER0" ef update D392F000014C4942 0101 --keys library \
    --data 504154524F4E2D30303037 > /dev/null || { echo "test-python: patron ID not written"; exit 1; }
out=$(MNAP_PASSPHRASE=pw "$E2E_TMP/host_example" "$MNAP_KEYSTORE" 9999 2>"$E2E_TMP/ex.err"); rc=$?
[ "$out" = "libmnap 1.0.0" ] && [ "$(cat "$E2E_TMP/ex.err")" = "wrong PIN: 2 tries left" ] && [ $rc = 1 ] ||
    { echo "test-python: the C example with a wrong PIN: exit $rc, '$out' '$(cat "$E2E_TMP/ex.err")'"; exit 1; }
out=$(MNAP_PASSPHRASE=pw "$E2E_TMP/host_example" "$MNAP_KEYSTORE" 1234 2>&1)
want="libmnap 1.0.0
patron ID: PATRON-0007
loan recorded"
[ "$out" = "$want" ] || { echo "test-python: the C example printed '$out', want '$want'"; exit 1; }
echo "test-python: docs/host.md's C example ran (a loan recorded; a wrong PIN named)"

echo "test-python: python/mnap against $READER0 (libmnap $BDIR/lib/libmnap.so)"
if MNAP_LIBRARY="$BDIR/lib/libmnap.so" MNAP_TEST_READER="$READER0" PYTHONPATH="$ROOT/python" \
   PYTHONDONTWRITEBYTECODE=1 "$PY" "$HERE/test_mnap.py" 2>&1 | tee "$E2E_TMP/py.log" | tail -3 &&
   grep -q '^OK' "$E2E_TMP/py.log"; then
    RC=0
else
    cat "$E2E_TMP/py.log"
    log "test-python: logs in $E2E_TMP"
fi
exit $RC
