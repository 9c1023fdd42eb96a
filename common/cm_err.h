/* cm_err.h: return codes of common/.  0 is success; every failure is negative
 * and named, so callers can map it to a status word or a host error. */
#ifndef CM_ERR_H
#define CM_ERR_H

enum {
    CM_OK = 0,
    CM_E_PARAM = -1,    /* bad argument: key length, NULL, length not a block multiple */
    CM_E_CIPHER = -2,   /* the block cipher reported a fault */
    CM_E_SPACE = -3,    /* output buffer too small */
    CM_E_MAC = -4,      /* MAC or cryptogram did not verify */
    CM_E_PADDING = -5,  /* ISO 9797-1 method 2 padding malformed */
    CM_E_FORMAT = -6,   /* malformed input (TLV, APDU) */
    CM_E_KCV = -7       /* key check value did not match */
};

/* CM_NULL(p): is the pointer argument p NULL?  The functions of common/
 * refuse a NULL pointer argument (CM_E_PARAM) when CM_CHECK_NULL is defined
 * or the build is hosted: the Makefile defines it for every host build of
 * common/ and card/ (libmnap, the host tools, the simulator, every test and
 * fuzzer), where the callers are many.  A firmware build (freestanding,
 * CM_CHECK_NULL not defined: `make size`, a vendor's card build) has one
 * caller, the runtime, which hands them the address of an object every
 * time, and the checks are left out: 388 bytes of Cortex-M0+ code
 * (docs/size.md).  Checks of values (lengths, key sizes, a wiped context's
 * cipher) stay in both. */
#if defined(CM_CHECK_NULL) || !defined(__STDC_HOSTED__) || __STDC_HOSTED__ != 0
#define CM_NULL(p) ((p) == NULL)
#else
#define CM_NULL(p) ((void)(p), 0)
#endif

/* A static helper inlined into each of its callers: for a helper (or the
 * body of a public function) of which the card links one caller only, so
 * that the card has one copy and no call (docs/size.md). */
#if defined(__GNUC__) || defined(__clang__)
#define CM_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define CM_ALWAYS_INLINE static inline
#endif

/* Makes the pointer p opaque to the optimiser: a record or structure is
 * then addressed from p, with short offsets, instead of from its container
 * with a 4-byte literal for each field beyond Thumb's reach (docs/size.md).
 * No instruction is emitted. */
#if defined(__GNUC__) || defined(__clang__)
#define CM_OPAQUE(p) __asm__("" : "+r"(p))
#else
#define CM_OPAQUE(p) ((void)0)
#endif

#endif
