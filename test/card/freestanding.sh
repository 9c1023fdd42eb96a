#!/bin/sh
# freestanding.sh: the card runtime and common/ stay freestanding
# (ARCHITECTURE.md "Dependency rules"), checked on the built archives with nm:
#
#   1. neither $BUILD/lib/libmnapcard.a nor $BUILD/lib/libmnapcommon.a
#      references an allocator, stdio, or other hosted libc / OpenSSL symbol;
#   2. every undefined symbol of libmnapcommon.a is defined in
#      libmnapcommon.a itself or is memcpy, memset or memcmp;
#   3. every undefined symbol of libmnapcard.a is defined in libmnapcard.a
#      or libmnapcommon.a, is a port function (mc_port_*, card/port.h), or is
#      memcpy, memset or memcmp.
#
# Besides those, only these toolchain symbols are accepted, by name:
#   _GLOBAL_OFFSET_TABLE_   the GOT of -fPIC code, provided by the linker
#   __stack_chk_fail        stack protector (toolchains that enable it by default)
#   __asan_* __ubsan_* __sanitizer_*   instrumentation of `make check` (SAN=1)
#
# Run by the card suite with BUILD set (make test-card); exits 1 on a finding.
set -u
BUILD=${BUILD:-build}
NM=${NM:-nm}
CARD=$BUILD/lib/libmnapcard.a
COMMON=$BUILD/lib/libmnapcommon.a
status=0

for lib in "$CARD" "$COMMON"; do
    if [ ! -f "$lib" ]; then
        echo "freestanding.sh: $lib is missing (build it: make BUILD=$BUILD $lib)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Global symbols defined (any type but U) and undefined, one per line, sorted.
defined() { "$NM" -P -g "$1" | awk 'NF >= 2 && $2 != "U" && $1 !~ /:$/ { print $1 }' | sort -u; }
undefined() { "$NM" -P -u "$1" | awk 'NF >= 2 && $1 !~ /:$/ { print $1 }' | sort -u; }

defined "$CARD" > "$tmp/card.def"
defined "$COMMON" > "$tmp/common.def"
undefined "$CARD" > "$tmp/card.und"
undefined "$COMMON" > "$tmp/common.und"

if [ ! -s "$tmp/common.def" ]; then
    echo "freestanding.sh: $COMMON defines no symbol: nothing to check" >&2
    exit 1
fi

# 1. Hosted symbols that must never appear.
forbidden='^(malloc|calloc|realloc|reallocarray|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|strdup|strndup|alloca|printf|fprintf|sprintf|snprintf|dprintf|vprintf|vfprintf|vsprintf|vsnprintf|vdprintf|asprintf|vasprintf|puts|fputs|putchar|fputc|putc|fwrite|fread|fgets|fgetc|getc|getchar|scanf|fscanf|sscanf|fopen|fdopen|freopen|fclose|fflush|fseek|ftell|rewind|perror|setvbuf|stdin|stdout|stderr|open|read|write|close|lseek|fsync|exit|_exit|abort|atexit|getenv|system|time|clock|rand|srand|random|__printf_chk|__fprintf_chk|__sprintf_chk|__snprintf_chk|__vfprintf_chk|__vsnprintf_chk|__memcpy_chk|__memset_chk)$|^(EVP_|OPENSSL_|CRYPTO_|AES_|RAND_)'
for which in card common; do
    hits=$(grep -E "$forbidden" "$tmp/$which.und" || true)
    if [ -n "$hits" ]; then
        echo "freestanding.sh: libmnap$which.a references hosted symbols:" $hits >&2
        status=1
    fi
done

toolchain='^(_GLOBAL_OFFSET_TABLE_|__stack_chk_fail)$|^(__asan_|__ubsan_|__sanitizer_)'

# 2. common/: only memcpy, memset, memcmp from outside.
extra=$(comm -23 "$tmp/common.und" "$tmp/common.def" |
        grep -Ev '^(memcpy|memset|memcmp)$' | grep -Ev "$toolchain" || true)
if [ -n "$extra" ]; then
    echo "freestanding.sh: libmnapcommon.a needs symbols beyond memcpy/memset/memcmp:" $extra >&2
    status=1
fi

# 3. card/: itself, common/, the port contract, memcpy/memset/memcmp.
sort -u "$tmp/card.def" "$tmp/common.def" > "$tmp/both.def"
extra=$(comm -23 "$tmp/card.und" "$tmp/both.def" |
        grep -Ev '^mc_port_' | grep -Ev '^(memcpy|memset|memcmp)$' | grep -Ev "$toolchain" || true)
if [ -n "$extra" ]; then
    echo "freestanding.sh: libmnapcard.a needs symbols outside card/, common/, port.h and memcpy/memset/memcmp:" $extra >&2
    status=1
fi

# The port functions the card calls must all be declared in card/port.h.
for sym in $(grep -E '^mc_port_' "$tmp/card.und" || true); do
    if ! grep -q "$sym" card/port.h; then
        echo "freestanding.sh: libmnapcard.a calls $sym, which card/port.h does not declare" >&2
        status=1
    fi
done

if [ "$status" -eq 0 ]; then
    echo "freestanding.sh: card ($(wc -l < "$tmp/card.def") symbols) and common ($(wc -l < "$tmp/common.def") symbols) are freestanding"
fi
exit $status
