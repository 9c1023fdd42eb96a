/* arm_sim_nvm.c: the NVM functions of card/port.h for the card suites on
 * the QEMU targets.
 *
 * The card suites and their harness create cards through the simulator's
 * type mc_sim (card/port/sim/mc_sim.h) and read its fields directly
 * (sim.nvm, sim.writes, sim.power_cut ...), so the port context of a card
 * under test must be an mc_sim: this file is the simulator's NVM rebuilt for
 * the target (the QEMU port's own NVM, with its own context, is
 * card/port/qemu/mq_nvm.c: the firmware images use it).  NVM is either a RAM buffer
 * (sim->nvm, mps2-an385) or a host file reached through ARM semihosting
 * (sim->nvm == NULL, sim->fd the semihosting handle: the microbit, whose
 * 16 KiB of RAM cannot hold a 64 KiB NVM).
 *
 * Tear model (port.h): writes are byte-granular on both; the power-cut
 * injector and the tear interface are the simulator's own
 * (card/port/sim/sim_tear.c, compiled here too): the Nth write lands only its
 * first K bytes (in address order), the interrupted byte takes the model's
 * value, and it and every later write fail until mc_sim_power_restore.  Reads keep working after a cut, as on the
 * simulator.  A real flash part would tear at its program granularity and
 * must split a write page by page in address order (docs/porting.md). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "mc_card.h"
#include "mc_sim.h"
#include "mq_port.h"
#include "port.h"
#include "arm_sim.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_SEEK 0x0A
#define SYS_FLEN 0x0C

static mc_sim *sim_of(struct mc_card *card)
{
    return card != NULL ? (mc_sim *)card->port : NULL;
}

static bool in_range(const mc_sim *sim, uint32_t addr, size_t len)
{
    return addr <= sim->nvm_size && len <= sim->nvm_size - addr;
}

static int host_seek(int fd, uint32_t pos)
{
    uint32_t a[2] = { (uint32_t)fd, pos };
    return mq_semihost(SYS_SEEK, a) == 0 ? 0 : -1;
}

static int host_read(int fd, uint32_t pos, uint8_t *buf, size_t len)
{
    uint32_t a[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len };
    if (host_seek(fd, pos) != 0)
        return -1;
    return mq_semihost(SYS_READ, a) == 0 ? 0 : -1; /* returns the bytes NOT read */
}

static int host_write(int fd, uint32_t pos, const uint8_t *buf, size_t len)
{
    uint32_t a[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len };
    if (host_seek(fd, pos) != 0)
        return -1;
    return mq_semihost(SYS_WRITE, a) == 0 ? 0 : -1;
}

int arm_sim_open_host(mc_sim *sim, const char *path, uint32_t size)
{
    static const uint8_t ff[64] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    };
    uint32_t a[3] = { (uint32_t)(uintptr_t)path, 7 /* "w+b": a new, erased image */,
                      (uint32_t)strlen(path) };
    int fd = mq_semihost(SYS_OPEN, a);
    if (fd < 0)
        return -1;
    memset(sim, 0, sizeof(*sim));
    sim->fd = fd;
    sim->nvm = NULL;
    sim->nvm_size = size;
    for (uint32_t off = 0; off < size; off += sizeof(ff))
        if (host_write(fd, off, ff, size - off < sizeof(ff) ? size - off : sizeof(ff)) != 0)
            return -1;
    return 0;
}

void arm_sim_close_host(mc_sim *sim)
{
    if (sim->nvm == NULL && sim->fd >= 0) {
        uint32_t a[1] = { (uint32_t)sim->fd };
        (void)mq_semihost(SYS_CLOSE, a);
    }
    sim->fd = -1;
}

uint32_t mc_port_nvm_size(struct mc_card *card)
{
    mc_sim *sim = sim_of(card);
    return sim != NULL ? sim->nvm_size : 0;
}

int mc_port_nvm_read(struct mc_card *card, uint32_t addr, uint8_t *buf, size_t len)
{
    mc_sim *sim = sim_of(card);
    if (sim == NULL || (buf == NULL && len > 0) || !in_range(sim, addr, len))
        return -1;
    sim->reads++;
    if (len == 0)
        return 0;
    if (sim->nvm != NULL) {
        memcpy(buf, sim->nvm + addr, len);
        return 0;
    }
    return host_read(sim->fd, addr, buf, len);
}

int mc_port_nvm_write(struct mc_card *card, uint32_t addr, const uint8_t *buf, size_t len)
{
    mc_sim *sim = sim_of(card);
    size_t landed;
    bool cut, torn;
    uint8_t v = 0;

    if (sim == NULL || (buf == NULL && len > 0) || !in_range(sim, addr, len))
        return -1;
    if (sim->nvm == NULL && sim->fd < 0)
        return -1;
    if (sim->power_cut)
        return -1; /* the power is off: this write never happens */
    if (len == 0)
        return 0;
    /* How much lands, and the interrupted byte: card/port/sim/sim_tear.c. */
    cut = mc_sim_tear_plan(sim, buf, len, &landed, &torn, &v);
    if (landed > 0) {
        if (sim->nvm != NULL)
            memcpy(sim->nvm + addr, buf, landed);
        else if (host_write(sim->fd, addr, buf, landed) != 0)
            return -1;
    }
    if (torn) {
        if (sim->nvm != NULL)
            sim->nvm[addr + landed] = v;
        else if (host_write(sim->fd, addr + (uint32_t)landed, &v, 1) != 0)
            return -1;
    }
    mc_sim_tear_done(sim, addr, len, landed, cut);
    return cut ? -1 : 0;
}

int mc_port_nvm_flush(struct mc_card *card)
{
    mc_sim *sim = sim_of(card);
    if (sim == NULL || sim->power_cut)
        return -1;
    sim->flushes++;
    return 0; /* RAM and semihosting writes are synchronous */
}

void mc_port_power_off(struct mc_card *card)
{
    (void)card; /* no crypto engine: BearSSL's key schedule lives on the stack and is wiped */
}
