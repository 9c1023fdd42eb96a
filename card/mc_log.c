/* mc_log.c: the security log (PROTOCOL.md §8): 32 entries in a ring, the
 * newest being the one with the highest sequence number.  An event equal to
 * the newest entry's event and AID raises that entry's repeat count instead
 * of taking a new entry (saturating at 255), except AREA_STATE and AP_STATE,
 * so a flood of failures cannot push older events out. */
#include "mc_int.h"

mc_status mc_log_newest(mc_card *card, unsigned *idx, mc_log_rec *e)
{
    mc_log_rec t;
    uint32_t best = 0;
    unsigned i;
    mc_status st;

    *idx = MC_LOG_ENTRIES;
    for (i = 0; i < MC_LOG_ENTRIES; i++) {
        st = mc_log_read(card, i, &t);
        if (st != MC_OK)
            return st;
        if (mc_get32(t.seq) > best) {
            best = mc_get32(t.seq);
            *idx = i;
            *e = t;
        }
    }
    return MC_OK;
}

mc_status mc_log_add(mc_card *card, uint8_t event, const uint8_t *aid, size_t aid_len)
{
    mc_log_rec e;
    unsigned idx;
    uint32_t seq = 0;
    mc_status st = mc_log_newest(card, &idx, &e);

    if (st != MC_OK)
        return st;
    if (idx < MC_LOG_ENTRIES) {
        seq = mc_get32(e.seq);
        if (e.event == event && e.aid_len == aid_len &&
            (aid_len == 0 || memcmp(e.aid, aid, aid_len) == 0) &&
            event != MC_EV_AREA_STATE && event != MC_EV_AP_STATE) {
            /* Saturated: nothing changes, and nothing is written, so a flood
             * of failures costs at most 255 writes of one entry (wear). */
            if (e.repeat == 255)
                return MC_OK;
            e.repeat++;
            return mc_log_write(card, idx, &e);
        }
        idx = (idx + 1) % MC_LOG_ENTRIES;
    } else {
        idx = 0;
    }
    memset(&e, 0, sizeof(e));
    mc_put32(e.seq, seq + 1);
    e.event = event;
    e.repeat = 1;
    e.aid_len = (uint8_t)aid_len;
    if (aid_len)
        memcpy(e.aid, aid, aid_len);
    return mc_log_write(card, idx, &e);
}

mc_status mc_log_event(mc_card *card, uint8_t event, const uint8_t *aid, size_t aid_len)
{
    mc_status st = mc_store_begin(card);

    if (st == MC_OK)
        st = mc_log_add(card, event, aid, aid_len);
    return mc_store_end(card, st);
}
