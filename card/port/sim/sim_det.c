/* sim_det.c: the simulator's deterministic random source, for tests that
 * need repeatable card challenges and transcripts: AES-128(seed, counter)
 * blocks (mc_sim_set_deterministic_random).  THIS IS NOT A RANDOM NUMBER
 * GENERATOR: the stream is fully predictable from the seed.
 *
 * One copy for every build of the simulator: the host's (sim_crypto.c, AES
 * from OpenSSL) and the QEMU targets' (test/arm/arm_sim_random.c, AES from
 * BearSSL), both through mc_sim_openssl_aes, so transcripts agree. */
#include <stdint.h>
#include <string.h>

#include "cm_ct.h"
#include "mc_sim.h"

void mc_sim_set_deterministic_random(mc_sim *sim, const uint8_t seed[16])
{
    memcpy(sim->det_seed, seed, sizeof(sim->det_seed));
    sim->det_counter = 0;
    sim->det_random = true;
}

/* Counter mode over the seed: block i is AES-128(seed, 0^8 || BE64(i)).  A
 * partly used block is dropped, so each call starts on a fresh block. */
int mc_sim_det_bytes(mc_sim *sim, uint8_t *buf, size_t len)
{
    uint8_t ctr[16], blk[16];

    while (len > 0) {
        size_t n = len < 16 ? len : 16;
        uint64_t c = sim->det_counter++;
        memset(ctr, 0, 8);
        for (int i = 0; i < 8; i++)
            ctr[15 - i] = (uint8_t)(c >> (8 * i));
        if (mc_sim_openssl_aes(NULL, 0, sim->det_seed, 16, ctr, blk) != 0)
            return -1;
        memcpy(buf, blk, n);
        buf += n;
        len -= n;
    }
    cm_wipe(blk, sizeof(blk));
    return 0;
}
