#!/bin/sh
# common/ is compiled into the card firmware: it must link against nothing but
# memcpy, memset and memcmp (issue #2).  Lists the archive's undefined symbols
# that no member defines and fails on anything else.
set -eu
B=${BUILD:-build}
LIB="$B/lib/libmnapcommon.a"
[ -f "$LIB" ] || { echo "freestanding: $LIB not built"; exit 1; }
defined=$(nm --defined-only "$LIB" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u)
undef=$(nm -u "$LIB" 2>/dev/null | awk 'NF==2 {print $2}' | sort -u)
# Sanitizer builds add their own runtime hooks, and position-independent code
# (-fPIC, some builds) names the linker-provided _GLOBAL_OFFSET_TABLE_; neither
# is a library dependency, so only those are set aside.
extern=$(for s in $undef; do echo "$defined" | grep -qx "$s" || echo "$s"; done | grep -v -e '^__\(asan\|ubsan\|sanitizer\)' -e '^_GLOBAL_OFFSET_TABLE_$' || true)
bad=$(echo "$extern" | grep -vx -e memcpy -e memset -e memcmp -e '' || true)
echo "common/ external symbols: $(echo $extern)"
if [ -n "$bad" ]; then
    echo "freestanding: common/ references symbols outside memcpy/memset/memcmp: $bad"
    exit 1
fi
echo "freestanding: common/ ok"
