/* tear_models.c: see tear_models.h. */
#include "tear_models.h"

#include <stdlib.h>

#include "mc_card.h"
#include "store_int.h"

unsigned ct_tear_store_codes(struct mc_card *c, uint32_t addr, uint8_t *out, unsigned cap)
{
    uint32_t seq = c->store.tx_seq;
    unsigned n = 0;

    if (cap < 3)
        return 0;
    if (addr == ST_MARK_OFF) {
        out[n++] = ST_MARK(seq);
        out[n++] = ST_MARK(seq + 1u);
        out[n++] = ST_MARK(seq + 2u);
    } else if (addr == ST_CTL_A_OFF + 2 || addr == ST_CTL_B_OFF + 2) {
        out[n++] = ST_STATE_CLEAR;
        out[n++] = ST_STATE_COMMITTED;
    } else if (addr == ST_CTL_A_OFF || addr == ST_CTL_B_OFF) {
        out[n++] = (uint8_t)ST_DESC_MAGIC;
    } else if (addr == ST_CTL_A_OFF + 1 || addr == ST_CTL_B_OFF + 1) {
        out[n++] = (uint8_t)(ST_DESC_MAGIC >> 8);
    }
    return n;
}

unsigned ct_tear_sample(void)
{
    const char *e = getenv("MNAP_TEAR_LONG");
    return e != NULL && *e != '\0' && *e != '0' ? 1u : CT_TEAR_SAMPLE;
}

void ct_tear_models(tr_case *tc)
{
    tc->values = TR_V_ALL;
    tc->randoms = CT_TEAR_RANDOMS;
    tc->seed = CT_TEAR_SEED;
    tc->sample = ct_tear_sample();
    tc->codes = ct_tear_store_codes;
}

uint32_t ct_tear_page(void)
{
    const char *e = getenv("MNAP_TEAR_PAGE");
    unsigned long v = e != NULL ? strtoul(e, NULL, 0) : 0;
    return v != 0 && (v & (v - 1)) == 0 && v <= 4096 ? (uint32_t)v : CT_TEAR_PAGE;
}

void ct_tear_page_models(tr_case *tc)
{
    ct_tear_models(tc);
    tc->values = TR_V_OLD | TR_V_00 | TR_V_FF | TR_V_RANDOM;
    tc->page = ct_tear_page();
    tc->kset = TR_K_WHOLE | TR_K_EVERY;
    if (tc->sample > 1) {
        tc->stride = CT_TEAR_PAGE_STRIDE;
        tc->keep_ends = 2;
        tc->randoms = 2;
    }
}
