#!/bin/sh
# rammap.sh ELF: the RAM map of a firmware image, printed at link time:
# .data and .bss with their largest objects, what is left for the stack, and
# the check that the stack the port reserves fits (the linker script's ASSERT).
set -eu
elf=$1
nm=arm-none-eabi-nm
eval "$($nm "$elf" | awk '$3=="_sdata"{print "sdata=0x"$1} $3=="_ebss"{print "ebss=0x"$1} $3=="_estack"{print "estack=0x"$1} $3=="_edata"{print "edata=0x"$1}')"
ram=$((estack - 0x20000000))
used=$((ebss - sdata))
echo "  RAM map of $elf ($ram bytes of RAM at 0x20000000):"
$nm -S --size-sort -t d "$elf" | awk '$3 ~ /^[bBdD]$/ {printf "    %6d  %s %s\n", $2, ($3 ~ /[dD]/ ? ".data" : ".bss "), $4}' | sort -rn | head -8
printf '    %6d  .data + .bss in all\n' "$used"
printf "    %6d  left for the stack (the linker script asks for 3072: the runtime's 944-byte worst path, BearSSL's 1,040 bytes under mc_port_aes, the 2,048-byte scrub; docs/porting.md)\n" $((ram - used))
