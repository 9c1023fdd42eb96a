#!/bin/sh
# test/arm/run.sh SUITE...: runs the card suites built by `make arm` on the
# QEMU machines (qemu-system-arm, ARM semihosting for stdio, files and exit
# status); any failing suite, fault or timeout fails the run.
#
#   mps2      -M mps2-an385, Cortex-M3: every suite given.
#   microbit  -M microbit, Cortex-M0, 16 KiB RAM, NVM in a host file: the
#             suites of ARM_MICROBIT (default: the ones that fit, see below).
#
# Not run on the target at all (the Makefile's ARM_SKIP): test_sim (the
# simulator's own image files), test_proto_scp03_ref (an independent
# OpenSSL reference: the target has no OpenSSL), test_store (its
# file-image test needs the host's file system; the store's tearing suite
# test_store_tear runs).
set -u
ARM_BUILD=${ARM_BUILD:-build-arm}
QEMU=${QEMU:-qemu-system-arm}
ARM_TIMEOUT=${ARM_TIMEOUT:-300}
ARM_MACHINES=${ARM_MACHINES:-mps2 microbit}
root=$(pwd)
fails=0
run() { # machine elf log
  case $1 in
    mps2) m=mps2-an385 ;;
    microbit) m=microbit ;;
  esac
  timeout "$ARM_TIMEOUT" "$QEMU" -M "$m" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$2" >"$3" 2>&1
}
for mach in $ARM_MACHINES; do
  if [ "$mach" = microbit ]; then set -- ${ARM_MICROBIT:-$*}; fi
  work=$ARM_BUILD/$mach/run
  rm -rf "$work"; mkdir -p "$work"
  for s in "$@"; do
    elf=$root/$ARM_BUILD/$mach/$s.elf
    log=$root/$work/$s.log
    [ -f "$elf" ] || { echo "test-arm: $elf missing (make arm)"; fails=$((fails + 1)); continue; }
    t0=$(date +%s)
    # from the project root (suites read vectors/); file NVM goes to $work
    (cd "$root" && MQ_DIR=$work run "$mach" "$elf" "$log")
    rc=$?
    t1=$(date +%s)
    n=$(grep -c '^\[       OK \]' "$log")
    if [ $rc = 0 ] && ! grep -q '^\[  FAILED  \]\|^\[  ERROR   \]\|^mq: ' "$log"; then
      echo "  arm $mach $s: $n passed ($((t1 - t0)) s)"
    else
      echo "  arm $mach $s: FAILED (exit $rc), log $log:"; grep -B3 -A1 'error:\|FAILED\|ERROR\|^mq: ' "$log" | head -30
      fails=$((fails + 1))
    fi
  done
done
if [ $fails != 0 ]; then echo "make test-arm: $fails suite(s) failed on the target"; exit 1; fi
echo "make test-arm: all suites passed on the target"
