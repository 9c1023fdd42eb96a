#!/bin/sh
# test/arm/run.sh SUITE...: runs the card suites built by `make arm` on the
# QEMU machines (qemu-system-arm, ARM semihosting for stdio, files and exit
# status); any failing suite, fault or timeout fails the run.
#
#   mps2      -M mps2-an385, Cortex-M3: every suite given (test/card/'s
#             CMocka suites through the shim of test/arm/cmocka.h).
#   microbit  -M microbit, Cortex-M0, 16 KiB RAM, NVM in a host file:
#             mb_unaligned (negative control: an unaligned load must fault),
#             then mb_replay: the runtime on the QEMU port proper replays
#             test/arm/record.c's script (setup, LOAD AP, kiosk flows, a power
#             cut at every NVM write of a kiosk flow) and must give the host
#             card's responses byte for byte; then mb_tear: the one tear
#             runner (test/support/tear_runner.c) tears the same runtime
#             through the QEMU port's own card/port_tear.h at a sample of
#             the NVM writes of four cases (area setup, LOAD AP, kiosk flow,
#             wrong and right VERIFY) with every interrupted-byte model,
#             NVM snapshots in a second host file (mb_tear.c; MB_TEAR=long:
#             every write and model, make test-long).  None of the CMocka suites fits
#             16 KiB: their harness (test/support/card_harness.c) keeps
#             ~240-320 KiB of static buffers (assembled responses, image
#             builders) and every card of a suite is a 64 KiB memory NVM plus
#             newlib's stdio; the linker refuses 28 of them (make
#             arm-microbit-suites shows it), and the two that link
#             (test_internal_transcript, test_store_tear) cannot allocate
#             the 64 KiB NVM copies they take at run time.
#
# Not run on the target at all (the Makefile's ARM_SKIP): test_sim (the
# simulator's own image files), test_proto_scp03_ref (an independent
# OpenSSL reference: the target has no OpenSSL), test_store (its
# file-image test needs the host's file system; the store's tearing suite
# test_store_tear runs).
set -u
ARM_BUILD=${ARM_BUILD:-build-arm}
QEMU=${QEMU:-qemu-system-arm}
ARM_TIMEOUT=${ARM_TIMEOUT:-600}
ARM_MACHINES=${ARM_MACHINES:-mps2 microbit}
root=$(pwd)
fails=0
# Waits until fewer than $jobs of the $started background suites run (POSIX
# sh has no wait -n: each suite writes its .rc file when it ends).
wait_slot() {
  while [ $((started - $(ls "$root/$work"/*.rc 2>/dev/null | wc -l))) -ge "$jobs" ]; do sleep 0.2; done
}
run() { # machine elf log
  case $1 in
    mps2) m=mps2-an385 ;;
    microbit) m=microbit ;;
  esac
  timeout "$ARM_TIMEOUT" "$QEMU" -M "$m" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$2" >"$3" 2>&1
}
microbit() {
  work=$ARM_BUILD/microbit/run
  rm -rf "$work"; mkdir -p "$work"
  run microbit "$root/$ARM_BUILD/microbit/mb_unaligned.elf" "$work/mb_unaligned.log"
  rc=$?
  if [ $rc = 1 ] && grep -q '^mq: HardFault' "$work/mb_unaligned.log"; then
    echo "  arm microbit mb_unaligned: the unaligned load faulted, as it must on a Cortex-M0"
  else
    echo "  arm microbit mb_unaligned: FAILED: no HardFault (exit $rc)"; cat "$work/mb_unaligned.log"
    fails=$((fails + 1))
  fi
  cp "$ARM_BUILD/microbit/mb-script.bin" "$work/"
  t0=$(date +%s)
  (cd "$work" && run microbit "$root/$ARM_BUILD/microbit/mb_replay.elf" mb_replay.log)
  rc=$?
  t1=$(date +%s)
  if [ $rc = 0 ] && grep -q 'every response as on the host' "$work/mb_replay.log"; then
    echo "  arm microbit mb_replay: $(sed -n 's/^mb_replay: //p' "$work/mb_replay.log") ($((t1 - t0)) s)"
  else
    echo "  arm microbit mb_replay: FAILED (exit $rc):"; cat "$work/mb_replay.log"
    fails=$((fails + 1))
  fi
  # the one tear runner on the QEMU port's own card/port_tear.h (mb_tear.c):
  # MB_TEAR=long runs record.c's tear-long script (make test-long)
  cp "$ARM_BUILD/microbit/mb-tear${MB_TEAR:+-$MB_TEAR}.bin" "$work/mb-tear.bin" || fails=$((fails + 1))
  t0=$(date +%s)
  (cd "$work" && run microbit "$root/$ARM_BUILD/microbit/mb_tear.elf" mb_tear.log)
  rc=$?
  t1=$(date +%s)
  if [ $rc = 0 ] && grep -q 'cut points, every one before, after' "$work/mb_tear.log" &&
     ! grep -q 'FAILED\|^mq: ' "$work/mb_tear.log"; then
    sed -n 's/^mb_tear: /  arm microbit mb_tear: /p' "$work/mb_tear.log" | sed '$s/$/ ('"$((t1 - t0))"' s)/'
  else
    echo "  arm microbit mb_tear: FAILED (exit $rc):"; cat "$work/mb_tear.log"
    fails=$((fails + 1))
  fi
}
for mach in $ARM_MACHINES; do
  if [ "$mach" = microbit ]; then microbit; continue; fi
  work=$ARM_BUILD/$mach/run
  rm -rf "$work"; mkdir -p "$work"
  # ARM_JOBS suites at a time (each QEMU is one host thread); the longest
  # (the tearing suites) start first.  Results are reported in order.
  jobs=${ARM_JOBS:-2}
  order=$(for s in "$@"; do case $s in test_tearing|test_internal_tear) echo "0 $s" ;; *) echo "1 $s" ;; esac; done |
          sort -s -k1,1 | cut -d' ' -f2)
  started=0
  for s in $order; do
    elf=$root/$ARM_BUILD/$mach/$s.elf
    log=$root/$work/$s.log
    [ -f "$elf" ] || { echo "test-arm: $elf missing (make arm)"; fails=$((fails + 1)); continue; }
    # from the project root (suites read vectors/)
    ( t0=$(date +%s); cd "$root" && run "$mach" "$elf" "$log"; rc=$?
      echo "$rc $(( $(date +%s) - t0 ))" > "$log.rc" ) &
    started=$((started + 1))
    wait_slot
  done
  wait
  for s in "$@"; do
    log=$root/$work/$s.log
    [ -f "$log.rc" ] || continue
    read -r rc secs < "$log.rc"
    n=$(grep -c '^\[       OK \]' "$log")
    if [ "$rc" = 0 ] && ! grep -q '^\[  FAILED  \]\|^\[  ERROR   \]\|^mq: ' "$log"; then
      echo "  arm $mach $s: $n passed ($secs s)"
    else
      echo "  arm $mach $s: FAILED (exit $rc), log $log:"; grep -B3 -A1 'error:\|FAILED\|ERROR\|^mq: ' "$log" | head -30
      fails=$((fails + 1))
    fi
  done
done
if [ $fails != 0 ]; then echo "make test-arm: $fails suite(s) failed on the target"; exit 1; fi
echo "make test-arm: all suites passed on the target"
