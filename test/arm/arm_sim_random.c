/* arm_sim_random.c: mc_port_random for the card suites on the QEMU targets
 * (port context: the simulator's mc_sim, see arm_sim_nvm.c).
 *
 * THIS IS NOT A TRUE RANDOM NUMBER GENERATOR.  QEMU's mps2 and microbit
 * models give a bare-metal program no entropy source worth the name (the
 * nRF51 RNG peripheral is not modelled), so this port uses a documented TEST
 * SOURCE: when the test API set a seed (mc_sim_set_deterministic_random),
 * AES-128(seed, counter) blocks, the same stream as the simulator port so
 * transcripts agree; otherwise xorshift128+ from a fixed seed.  Both are
 * fully predictable.  A real card must use its TRNG here (the reference
 * runtime does not call mc_port_random today; docs/porting.md). */
#include <string.h>
#include "cm_ct.h"
#include "mc_card.h"
#include "mc_sim.h"
#include "port.h"

int mc_port_random(struct mc_card *card, uint8_t *buf, size_t len)
{
    mc_sim *sim = card != NULL ? (mc_sim *)card->port : NULL;
    if (buf == NULL && len > 0)
        return -1;
    if (sim != NULL && sim->det_random)
        return mc_sim_det_bytes(sim, buf, len); /* card/port/sim/sim_det.c */
    /* xorshift128+ test source, kept in the port context's det_counter and
     * det_seed (no static mutable data, like the runtime). */
    if (sim == NULL)
        return -1;
    uint64_t s0, s1;
    if (sim->det_counter == 0) {
        s0 = 0x6D6E61702D746573ull; /* "mnap-tes" */
        s1 = 0x742D736F75726365ull; /* "t-source" */
    } else {
        memcpy(&s0, sim->det_seed, 8);
        memcpy(&s1, sim->det_seed + 8, 8);
    }
    for (size_t i = 0; i < len; i++) {
        uint64_t x = s0, y = s1;
        s0 = y;
        x ^= x << 23;
        s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
        buf[i] = (uint8_t)((s1 + y) >> 56);
    }
    memcpy(sim->det_seed, &s0, 8);
    memcpy(sim->det_seed + 8, &s1, 8);
    sim->det_counter = 1;
    return 0;
}
