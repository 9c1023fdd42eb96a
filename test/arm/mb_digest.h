/* mb_digest.h: the digest of a logical-state dump (card/mc_debug.h) that the
 * recorder (test/arm/record.c, on the host) writes into the microbit's tear
 * script and the microbit's tear runner (test/arm/mb_tear.c) computes from
 * its own card: 64-bit FNV-1a over the dump's bytes, then its length.  A
 * test digest, not a cryptographic one: it tells apart states that differ
 * by accident (a torn or lost write), with 2^-64 odds of missing one. */
#ifndef MB_DIGEST_H
#define MB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_digest {
    uint64_t h;
    uint32_t len;
} mb_digest;

static inline void mb_digest_init(mb_digest *d)
{
    d->h = 0xcbf29ce484222325ull;
    d->len = 0;
}

/* An mc_debug_sink. */
static inline void mb_digest_put(void *ctx, const uint8_t *p, size_t n)
{
    mb_digest *d = ctx;
    for (size_t i = 0; i < n; i++) {
        d->h ^= p[i];
        d->h *= 0x100000001b3ull;
    }
    d->len += (uint32_t)n;
}

/* The value the script carries: the hash with the length folded in. */
static inline uint64_t mb_digest_final(const mb_digest *d)
{
    mb_digest x = *d;
    uint8_t l[4] = { (uint8_t)(d->len >> 24), (uint8_t)(d->len >> 16), (uint8_t)(d->len >> 8),
                     (uint8_t)d->len };
    mb_digest_put(&x, l, 4);
    return x.h;
}

#endif
