/* mq_tear.c: the tear interface of card/port_tear.h on the QEMU port, for
 * tests only (the runtime never calls it; --gc-sections drops it from a
 * firmware that does not either).  Written from card/port_tear.h and
 * docs/porting.md, "Test a new port".
 *
 * The port's NVM (mq_nvm.c: RAM or a semihosting host file) writes byte by
 * byte in address order as far as tearing goes, so a cut tears at byte
 * granularity: the planned write lands its first k bytes, byte k holds its
 * old value, the new one or the given value, the rest stays old; the write
 * fails, and every write and flush after it fails too, changing nothing,
 * until mc_port_tear_restart.  Reads keep working (the runtime's recovery
 * reads after the restart anyway). */
#include "mc_card.h"
#include "mq_port.h"
#include "port.h"
#include "port_tear.h"

static mq_port *tear_port(struct mc_card *card)
{
    return card != NULL ? (mq_port *)card->port : NULL;
}

bool mq_tear_plan(mq_port *p, const uint8_t *buf, size_t len, size_t *landed, bool *torn,
                  uint8_t *value)
{
    bool cut = false;

    *landed = len;
    *torn = false;
    p->writes++;
    if (p->cut_at != 0 && p->writes == p->cut_at) {
        cut = true;
        if (p->cut_after < len)
            *landed = p->cut_after;
    }
    if (cut && *landed < len && p->cut_how != MC_TEAR_OLD) {
        *torn = true;
        *value = p->cut_how == MC_TEAR_NEW ? buf[*landed] : p->cut_value;
    }
    return cut;
}

void mq_tear_done(mq_port *p, uint32_t addr, size_t len)
{
    p->power_cut = true;
    p->cut_at = 0;
    p->cut_len = len;
    p->cut_addr = addr;
}

uint64_t mc_port_tear_count(struct mc_card *card)
{
    mq_port *p = tear_port(card);
    return p != NULL ? p->writes : 0;
}

void mc_port_tear_arm(struct mc_card *card, uint64_t nth, size_t k, int how, uint8_t value)
{
    mq_port *p = tear_port(card);
    if (p == NULL)
        return;
    p->cut_at = nth != 0 ? p->writes + nth : 0;
    p->cut_after = k;
    p->cut_how = how;
    p->cut_value = value;
    p->cut_len = 0;
}

size_t mc_port_tear_cut(struct mc_card *card, uint32_t *addr)
{
    mq_port *p = tear_port(card);
    if (p == NULL || !p->power_cut)
        return 0;
    if (addr != NULL)
        *addr = p->cut_addr;
    return p->cut_len;
}

void mc_port_tear_restart(struct mc_card *card)
{
    mq_port *p = tear_port(card);
    if (p == NULL)
        return;
    p->power_cut = false;
    p->cut_at = 0;
    p->cut_after = 0;
    p->cut_len = 0;
}
