/* mc_log.c: the security log (PROTOCOL.md §8) in MC_LOG_SLOTS = 33
 * self-checking slots, one more than the 32 entries it shows (docs/nvm.md,
 * "The security log's slots").
 *
 * A slot holds an entry and a CRC-32; one whose check fails is empty.  An
 * entry's version is (sequence number, repeat count).  The visible log is,
 * for each of the sequence numbers top - 31 .. top (top: the highest valid
 * one), its valid slot with the highest repeat count.  Every change, a new
 * entry (top + 1, repeat 1) or a merge (the newest entry again, same
 * sequence number, repeat + 1), is one write of one slot into the spare, a
 * slot that is not visible: the stale version of the newest entry, else an
 * empty slot, else one whose sequence number is at most top - 32.  A torn
 * write fails its check and leaves the log as it was; a whole one is the
 * state after.  AREA_STATE and AP_STATE are never merged; a saturated count
 * (255) writes nothing. */
#include "mc_int.h"
#include "crc.h"

/* Where the log stands: its newest sequence number and the spare slot. */
typedef struct {
    uint32_t top;
    unsigned spare;
} log_pos;

/* want 0: two passes over the slots: the newest sequence number (top) and
 * its highest repeat count; then the spare (at->spare), which visible sequence
 * numbers have a slot, and in *e the newest entry (seq 0: an empty log).
 * No spare, or a visible entry missing, is damage: a torn write leaves
 * neither.  at->top: the newest sequence number.  want != 0: one pass,
 * the best version of entry want into *e (checking only the slots that
 * hold that sequence number). */
static mc_status scan(mc_card *card, uint32_t want, mc_log_rec *e, log_pos *at)
{
    mc_log_rec t;
    uint32_t s, seen = 0, top = want;
    unsigned i, pass, rank = 4, r, spare = 0;
    uint8_t rep = 0;
    mc_status st;

    memset(e, 0, sizeof(*e));
    /* top = want != 0: pass 1 alone, its entry as if it were the newest */
    for (pass = want != 0; pass < 2; pass++)
        for (i = 0; i < MC_LOG_SLOTS; i++) {
            st = mc_store_read(card, MC_OFF_LOG + i * MC_LOG_STRIDE, &t, sizeof(t));
            if (st != MC_OK)
                return st;
            /* (looking for want: no check of the other slots; an erased
             * slot fails on its AID length before its CRC) */
            s = mc_get32(t.seq);
            if ((want != 0 && s != want) || t.aid_len > 16 ||
                mc_get32(t.crc) != mc_crc32(&t, sizeof(t) - 4))
                s = 0;
            if (pass == 0) {
                if (s > top || (s == top && t.repeat > rep)) {
                    top = s;
                    rep = t.repeat;
                }
                continue;
            }
            /* spare order: the newest entry's stale version, an empty slot,
             * an entry that dropped out of the visible 32 */
            r = s == 0 ? 2 : s == top && t.repeat < rep ? 1 : s + MC_LOG_ENTRIES <= top ? 3 : 4;
            if (r < rank) {
                rank = r;
                spare = i;
            }
            if (r == 4) {
                seen |= (uint32_t)1 << (top - s);
                if (s == top && t.repeat >= e->repeat)
                    *e = t;
            }
        }
    at->top = top;
    at->spare = spare;
    if (want != 0)
        return MC_OK;
    if (rank == 4 || seen != (top >= MC_LOG_ENTRIES ? 0xFFFFFFFFu : ((uint32_t)1 << top) - 1u)) {
        card->corrupt = true;
        return MC_ERR_CORRUPT;
    }
    return MC_OK;
}

mc_status mc_log_read(mc_card *card, uint32_t seq, mc_log_rec *e)
{
    log_pos at;

    return scan(card, seq, e, &at);
}

/* how: the event, plus PUT_DIRECT from mc_log_event, for a write outside
 * any transaction (four arguments, all in registers, and no wrapper's
 * frame on PUT KEY's path: make size). */
#define PUT_DIRECT 0x100u

mc_status mc_log_add(mc_card *card, unsigned how, const uint8_t *aid, size_t aid_len)
{
    unsigned event = how & 0xFFu;
    mc_log_rec e;
    uint32_t off;
    log_pos at;
    mc_status st = scan(card, 0, &e, &at);

    if (st != MC_OK)
        return st;
    /* (an empty log: e is all zero, and no event is 0) */
    if (e.event == event && e.aid_len == aid_len &&
        (aid_len == 0 || memcmp(e.aid, aid, aid_len) == 0) && event != MC_EV_AREA_STATE &&
        event != MC_EV_AP_STATE) {
        /* Saturated: nothing changes, and nothing is written, so a flood of
         * failures costs at most 255 writes (wear). */
        if (e.repeat == 255)
            return MC_OK;
        e.repeat++;
    } else {
        memset(&e, 0, sizeof(e));
        mc_put32(e.seq, at.top + 1);
        e.event = event;
        e.repeat = 1;
        e.aid_len = (uint8_t)aid_len;
        if (aid_len)
            memcpy(e.aid, aid, aid_len);
    }
    mc_put32(e.crc, mc_crc32(&e, sizeof(e) - 4));
    off = MC_OFF_LOG + at.spare * MC_LOG_STRIDE;
    if (!(how & PUT_DIRECT))   /* the slot owns its page: its bytes alone are journaled */
        return mc_store_write_own(card, off, &e, sizeof(e));
    st = mc_store_write_direct(card, off, &e, sizeof(e));
    return mc_store_flushed(card, st);
}

mc_status mc_log_event(mc_card *card, uint8_t event, const uint8_t *aid, size_t aid_len)
{
    return mc_log_add(card, event | PUT_DIRECT, aid, aid_len);
}
