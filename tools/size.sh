#!/bin/sh
# size.sh: the card runtime's footprint on a Cortex-M0+ (run by `make size`).
#
# Builds card/*.c (the interpreter and the store; not the simulator port, not
# the test-only card/mc_debug.c) and common/*.c with arm-none-eabi-gcc for
# Cortex-M0+ (-Os, Thumb, freestanding, one section per function), then prints
#   - text/data/bss of every object and their total,
#   - the linked size: the objects linked with --gc-sections behind a probe
#     that calls every entry point of card/mc.h, with the port functions as
#     empty stubs, and memcpy/memset/memcmp from card/mc_mem.c (weak: newlib's
#     are linked only if the runtime's were missing),
#   - sizeof(mc_card) (the caller-owned RAM) and the static data of the runtime,
#   - the worst stack depth along any call path from each entry point, from
#     GCC's -fstack-usage / -fcallgraph-info=su output (tools/stack_depth.py),
#     with the indirect calls it cannot follow by itself.
# Budgets (docs/porting.md): text < 24 KiB, mc_card + static data < 4 KiB,
# stack < 1 KiB, and the deepest handler path within MC_STACK_SCRUB.  Exit
# status 1 when a budget is exceeded.
set -eu

BUILD=${BUILD:-build}
CC_ARM=${CC_ARM:-arm-none-eabi-gcc}
OUT=$BUILD/size
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if ! command -v "$CC_ARM" >/dev/null 2>&1; then
    echo "size.sh: $CC_ARM not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi)" >&2
    exit 2
fi
SIZE=${CC_ARM%gcc}size
NM=${CC_ARM%gcc}nm

CFLAGS="-std=c11 -mcpu=cortex-m0plus -mthumb -Os -ffreestanding -fstack-usage \
-fcallgraph-info=su -ffunction-sections -fdata-sections -Wall -Wextra -Werror \
-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Icommon -Icard"

rm -rf "$OUT"
mkdir -p "$OUT/obj"
SRCS=""
for f in card/*.c common/*.c; do
    case "$f" in
    card/mc_debug.c) continue ;;   # test-only state dump
    esac
    SRCS="$SRCS $f"
done
OBJS=""
for f in $SRCS; do
    o=$OUT/obj/$(echo "$f" | tr / _ | sed 's/\.c$//')
    $CC_ARM $CFLAGS -c "$f" -o "$o.o" -dumpbase "$o"
    OBJS="$OBJS $o.o"
done

# The probe: every entry point reachable, port functions stubbed, and one
# mc_card in .bss so that its size shows.
cat > "$OUT/probe.c" <<'EOF'
#include "mc.h"
#include "port.h"
mc_card mc_probe_card;
static uint8_t probe_io[MC_RSP_BUF_SIZE];
uint32_t mc_port_nvm_size(struct mc_card *card) { (void)card; return 65536; }
int mc_port_nvm_read(struct mc_card *card, uint32_t a, uint8_t *b, size_t n)
{ (void)card; (void)a; (void)b; (void)n; return 0; }
int mc_port_nvm_write(struct mc_card *card, uint32_t a, const uint8_t *b, size_t n)
{ (void)card; (void)a; (void)b; (void)n; return 0; }
int mc_port_nvm_flush(struct mc_card *card) { (void)card; return 0; }
int mc_port_random(struct mc_card *card, uint8_t *b, size_t n) { (void)card; (void)b; (void)n; return 0; }
int mc_port_aes(void *card, int d, const uint8_t *k, size_t kl, const uint8_t in[16], uint8_t out[16])
{ (void)card; (void)d; (void)k; (void)kl; (void)in; (void)out; return 0; }
void mc_port_power_off(struct mc_card *card) { (void)card; }
void probe_entry(void);
void probe_entry(void)
{
    static const uint8_t k[16];
    uint8_t atr[16];
    mc_fabricate(&mc_probe_card, 0, k, k, k, k, k, 16);
    mc_power_on(&mc_probe_card, 0);
    mc_process(&mc_probe_card, probe_io, 4, probe_io, sizeof(probe_io));
    mc_reset(&mc_probe_card);
    mc_power_off(&mc_probe_card);
    mc_atr(atr, sizeof(atr));
    for (;;) { }
}
EOF
$CC_ARM $CFLAGS -c "$OUT/probe.c" -o "$OUT/probe.o"
$CC_ARM -mcpu=cortex-m0plus -mthumb -nostartfiles -Wl,--gc-sections -Wl,-e,probe_entry \
    -o "$OUT/probe.elf" "$OUT/probe.o" $OBJS -lc -lgcc

echo "== card runtime footprint (Cortex-M0+, -Os, Thumb; $($CC_ARM -dumpversion))"
echo "-- objects (card/*.c without mc_debug.c, common/*.c):"
$SIZE -t $OBJS | sed "s|$OUT/obj/||"
echo "-- linked behind a probe of every entry point (--gc-sections; port stubs, card/mc_mem.c's mem*):"
$SIZE "$OUT/probe.elf"
TEXT=$($SIZE -A "$OUT/probe.elf" | awk '$1==".text"||$1==".rodata"{s+=$2} END{print s+0}')
CARD=$(printf '%d' "0x$($NM -S "$OUT/probe.elf" | awk '$4=="mc_probe_card"{print $2}')")
IO=$(printf '%d' "0x$($NM -S "$OUT/probe.elf" | awk '$4=="probe_io"{print $2}')")
# Static data of the runtime itself: .data + .bss of the objects (the probe's
# own card and I/O buffer excluded).
STATIC=$($SIZE -t $OBJS | awk 'END{print $2+$3}')
echo "-- RAM:"
echo "   sizeof(mc_card)                 $CARD bytes (caller-owned: one per card)"
echo "   static data of the runtime      $STATIC bytes (.data + .bss of the objects)"
echo "   probe I/O buffer (not counted)  $IO bytes"
echo "-- stack (worst call path, tools/stack_depth.py):"
python3 tools/stack_depth.py --indirect mc_port_aes --table card/mc_apdu.c:mc_commands "$OUT"/obj/*.ci > "$OUT/stack.txt"
cat "$OUT/stack.txt"
STACK=$(awk '/^deepest path/{gsub(/[(),]/," "); for(i=1;i<=NF;i++) if($i=="bytes") print $(i-1)}' "$OUT/stack.txt")
# The stack scrub after each command (mc_scrub_stack, card/mc_apdu.c) must
# reach as deep as any handler went, dispatch's own frame included, or a
# key or PIN copy below it outlives the command (docs/porting.md).
python3 tools/stack_depth.py --indirect mc_port_aes --table card/mc_apdu.c:mc_commands --root dispatch \
    "$OUT"/obj/*.ci > "$OUT/stack-dispatch.txt"
HANDLERS=$(awk '/^deepest path/{gsub(/[(),]/," "); for(i=1;i<=NF;i++) if($i=="bytes") print $(i-1)}' "$OUT/stack-dispatch.txt")
SCRUB=$(awk '/^#define MC_STACK_SCRUB /{print $3}' card/mc_apdu.c)
echo "   deepest handler path below mc_process (from dispatch): ${HANDLERS:-?} bytes; MC_STACK_SCRUB $SCRUB"

echo "-- budgets:"
FAIL=0
check() {
    if [ "$2" -lt "$3" ]; then r=ok; else r=OVER; FAIL=1; fi
    printf "   %-34s %6d / %6d  %s\n" "$1" "$2" "$3" "$r"
}
check "text+rodata (linked)" "$TEXT" 24576
check "mc_card + static data" $((CARD + STATIC)) 4096
check "stack (worst path, port excluded)" "${STACK:-0}" 1024
if [ -n "$HANDLERS" ] && [ "$HANDLERS" -le "$SCRUB" ]; then r=ok; else r=OVER; FAIL=1; fi
printf "   %-34s %6d / %6d  %s\n" "handler path under the stack scrub" "${HANDLERS:-0}" "$SCRUB" "$r"
exit $FAIL
