/* mq_random.c: mc_port_random on the QEMU port.
 *
 * THIS IS NOT A TRUE RANDOM NUMBER GENERATOR.  It is a documented TEST
 * SOURCE: xorshift128+ from a fixed seed kept in the port context, fully
 * predictable and the same on every run.  QEMU's mps2-an385 has no RNG and
 * its microbit model does not model the nRF51's RNG peripheral, so there is
 * nothing better to draw from here.  A real card must use its TRNG (or a
 * DRBG seeded from one).  The reference runtime does not call mc_port_random
 * today (docs/porting.md). */
#include "mc_card.h"
#include "mq_port.h"
#include "port.h"

int mc_port_random(struct mc_card *card, uint8_t *buf, size_t len)
{
    mq_port *p = card != NULL ? (mq_port *)card->port : NULL;
    if (p == NULL || (buf == NULL && len > 0))
        return -1;
    if (p->rng[0] == 0 && p->rng[1] == 0) {
        p->rng[0] = 0x6D6E61702D746573ull; /* "mnap-tes" */
        p->rng[1] = 0x742D736F75726365ull; /* "t-source" */
    }
    for (size_t i = 0; i < len; i++) {
        uint64_t x = p->rng[0], y = p->rng[1];
        p->rng[0] = y;
        x ^= x << 23;
        p->rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        buf[i] = (uint8_t)((p->rng[1] + y) >> 56);
    }
    return 0;
}
