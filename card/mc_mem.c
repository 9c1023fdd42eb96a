/* mc_mem.c: memcpy, memset and memcmp for a firmware that has none.
 *
 * GCC requires a freestanding environment to provide these functions (the
 * runtime calls them, and the compiler emits calls to them for structure
 * copies).  A card firmware often has no C library at all; a newlib
 * firmware gets newlib's, which are unrolled for speed (376 bytes on
 * Cortex-M0+).  These are byte loops (a few dozen bytes): the runtime copies
 * at most a few hundred bytes per command, and an NVM write costs far more
 * than the copy (docs/size.md, docs/porting.md).
 *
 * They are weak: a firmware that links its own (a strong definition in an
 * object file) keeps its own.  The host build leaves this file out (the
 * Makefile's CARD_FW_SRC): the host's C library serves the simulator, and
 * the sanitizers intercept its functions.  test/card/test_internal_mem.c checks these
 * loops on the host under other names.
 *
 * Each loop stays a loop: GCC could recognise one and turn it into a call
 * to the function being defined, so the pointer is made opaque to the
 * optimiser once per step (CM_OPAQUE emits no instruction).  Without it, GCC
 * at -O2 turns these loops into calls to memcpy and memset (checked: the
 * host test's copies; a firmware built without -ffreestanding would call
 * itself). */
#include <stddef.h>
#include <string.h>
#include "cm_err.h"

#ifndef MC_MEM_NAME
#define MC_MEM_NAME(f) f
#if defined(__GNUC__) || defined(__clang__)
#define MC_MEM_ATTR __attribute__((weak))
#else
#define MC_MEM_ATTR     /* a compiler without weak symbols: leave this file out if the firmware has its own */
#endif
#endif

MC_MEM_ATTR void *MC_MEM_NAME(memcpy)(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n-- > 0) {
        CM_OPAQUE(d);
        *d++ = *s++;
    }
    return dst;
}

MC_MEM_ATTR void *MC_MEM_NAME(memset)(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    while (n-- > 0) {
        CM_OPAQUE(d);
        *d++ = (unsigned char)c;
    }
    return dst;
}

MC_MEM_ATTR int MC_MEM_NAME(memcmp)(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (; n > 0; n--, p++, q++) {
        if (*p != *q)
            return *p - *q;
    }
    return 0;
}
