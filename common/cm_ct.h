/* cm_ct.h: constant-time comparison and a wipe the compiler cannot remove.
 *
 * Use cm_ct_equal for anything secret (PINs, MACs, cryptograms, key check
 * values): its running time depends only on len, never on the data.  memcmp is
 * for non-secret data only. */
#ifndef CM_CT_H
#define CM_CT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the len bytes at a and b are equal, 0 otherwise; no data-dependent
 * branch or memory index. */
int cm_ct_equal(const void *a, const void *b, size_t len);

/* 0xFF when x == y, 0x00 otherwise, without branches. */
uint8_t cm_ct_eq_byte_mask(uint8_t x, uint8_t y);

/* Declassify: marks a value derived from secrets (the final accept/reject of
 * a constant-time comparison) as public, so the constant-time check (make
 * ctcheck: valgrind memcheck with the compared secrets marked undefined, the
 * ctgrind method) accepts the one branch that must depend on it.  A no-op in
 * every other build. */
#ifdef CM_CTGRIND
#include <valgrind/memcheck.h>
#define CM_CT_DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define CM_CT_DECLASSIFY(p, n) ((void)0)
#endif

/* Overwrite len bytes at p with zeros.  Writes through a volatile pointer and a
 * compiler barrier, so it survives dead-store elimination. */
void cm_wipe(void *p, size_t len);

#endif
