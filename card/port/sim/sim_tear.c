/* sim_tear.c: the simulator's power-cut injector and the tear interface of
 * card/port_tear.h over an mc_sim, with no I/O of its own.
 *
 * One copy for every build of the simulator's NVM: the host's (sim_nvm.c,
 * memory and file image) and the one the QEMU targets rebuild for the card
 * suites (test/arm/arm_sim_nvm.c, RAM or semihosting).  Each NVM write asks
 * mc_sim_tear_plan how much of it lands and what the interrupted byte
 * holds, stores exactly that, then calls mc_sim_tear_done. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_card.h"
#include "mc_sim.h"
#include "port_tear.h"

void mc_sim_arm_cut(mc_sim *sim, uint64_t nth_write_from_now, size_t k_bytes)
{
    if (nth_write_from_now == 0) {
        mc_sim_disarm(sim);
        return;
    }
    sim->cut_at_write = sim->writes + nth_write_from_now;
    sim->cut_after_bytes = k_bytes;
    sim->cut_len = 0;
    sim->cut_how = 0;
    sim->cut_value = 0;
}

void mc_sim_disarm(mc_sim *sim)
{
    sim->cut_at_write = 0;
    sim->cut_after_bytes = 0;
}

void mc_sim_power_restore(mc_sim *sim)
{
    sim->power_cut = false;
    mc_sim_disarm(sim);
    sim->cut_len = 0;
}

void mc_sim_reset_counters(mc_sim *sim)
{
    /* cut_at_write is absolute in the write count: keep an armed cut at the
     * same distance from now. */
    if (sim->cut_at_write != 0)
        sim->cut_at_write -= sim->writes;
    sim->writes = 0;
    sim->bytes_written = 0;
    sim->reads = 0;
    sim->flushes = 0;
}

bool mc_sim_tear_plan(mc_sim *sim, const uint8_t *buf, size_t len, size_t *landed,
                      bool *torn, uint8_t *torn_value)
{
    bool cut = false;

    *landed = len;
    *torn = false;
    sim->writes++;
    if (sim->cut_at_write != 0 && sim->writes == sim->cut_at_write) {
        cut = true;
        if (sim->cut_after_bytes < len)
            *landed = sim->cut_after_bytes;
    }
    if (cut && *landed < len && sim->cut_how != MC_TEAR_OLD && sim->tear_page == 0) {
        /* the interrupted byte: any value (card/port.h) */
        *torn = true;
        *torn_value = sim->cut_how == MC_TEAR_NEW ? buf[*landed] : sim->cut_value;
    }
    return cut;
}

/* Page-granular tearing: the whole aligned page holding the interrupted
 * byte (addr + landed) set to the value, or to bytes of a generator seeded
 * with it (MC_TEAR_RANDOM), including its bytes outside the write; the
 * pages before it hold what landed, the pages after it their old bytes.
 * MC_TEAR_OLD leaves the page as it was (the runner cuts at the page's
 * first byte).  The memory image only (sim->nvm). */
static void tear_page(mc_sim *sim, uint32_t addr, size_t landed)
{
    uint32_t p = sim->tear_page, start = (addr + (uint32_t)landed) & ~(p - 1u), x;

    if (sim->nvm == NULL || sim->cut_how == MC_TEAR_OLD || start >= sim->nvm_size)
        return;
    x = 0x9E3779B9u ^ ((uint32_t)sim->cut_value * 0x01000193u) ^ start;
    for (uint32_t i = 0; i < p && start + i < sim->nvm_size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        sim->nvm[start + i] = sim->cut_how == MC_TEAR_RANDOM ? (uint8_t)(x >> 24) : sim->cut_value;
    }
}

void mc_sim_tear_done(mc_sim *sim, uint32_t addr, size_t len, size_t landed, bool cut)
{
    sim->bytes_written += landed;
    if (cut && sim->tear_page != 0 && landed < len)
        tear_page(sim, addr, landed);
    if (cut) {
        sim->cut_len = len;
        sim->cut_addr = addr;
        sim->power_cut = true;
        sim->cut_at_write = 0;
    }
}

/* ---- the tear interface (card/port_tear.h) ---------------------------- */

static mc_sim *tear_sim(struct mc_card *card)
{
    return card != NULL ? (mc_sim *)card->port : NULL;
}

uint64_t mc_port_tear_count(struct mc_card *card)
{
    mc_sim *sim = tear_sim(card);
    return sim != NULL ? sim->writes : 0;
}

void mc_port_tear_arm(struct mc_card *card, uint64_t nth, size_t k, int how, uint8_t value)
{
    mc_sim *sim = tear_sim(card);
    if (sim == NULL)
        return;
    mc_sim_arm_cut(sim, nth, k);
    sim->cut_how = how;
    sim->cut_value = value;
}

size_t mc_port_tear_cut(struct mc_card *card, uint32_t *addr)
{
    mc_sim *sim = tear_sim(card);
    if (sim == NULL || !sim->power_cut)
        return 0;
    if (addr != NULL)
        *addr = sim->cut_addr;
    return sim->cut_len;
}

void mc_port_tear_page(struct mc_card *card, uint32_t page_size)
{
    mc_sim *sim = tear_sim(card);
    if (sim != NULL)
        sim->tear_page = page_size != 0 && (page_size & (page_size - 1u)) == 0 ? page_size : 0;
}

void mc_port_tear_restart(struct mc_card *card)
{
    mc_sim *sim = tear_sim(card);
    if (sim != NULL)
        mc_sim_power_restore(sim);
}
