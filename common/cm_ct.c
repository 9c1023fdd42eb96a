/* cm_ct.c: constant-time compare and a wipe that survives optimisation. */
#include "cm_ct.h"

int cm_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = (const volatile uint8_t *)a;
    const volatile uint8_t *y = (const volatile uint8_t *)b;
    uint8_t diff = 0;
    size_t i;

    for (i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    /* Map 0 -> 1 and 1..255 -> 0 without a branch on diff. */
    return (int)(1u & (((unsigned)diff - 1u) >> 8));
}

uint8_t cm_ct_eq_byte_mask(uint8_t x, uint8_t y)
{
    unsigned d = (unsigned)(x ^ y);
    /* d == 0 -> (0 - 1) >> 8 has all low bits set; d in 1..255 -> 0. */
    return (uint8_t)(((d - 1u) >> 8) & 0xFFu);
}

void cm_wipe(void *p, size_t len)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    size_t i;

    for (i = 0; i < len; i++)
        v[i] = 0;
#if defined(__GNUC__) || defined(__clang__)
    /* Tell the compiler the memory is observed, so the stores stay. */
    __asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}
