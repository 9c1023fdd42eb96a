/* mc_pin.c: VERIFY and CHANGE REFERENCE DATA (PROTOCOL.md §5, §8).
 *
 * The counted comparison: a try is spent in one write of the slot's PIN
 * counter (a wear-levelled counter cell of the store, mc_layout.c), then the
 * PIN is compared in constant time, then a match restores the tries: VERIFY
 * in one more counter write, CHANGE in the transaction that sets the new PIN
 * (the record's base moves with it); a mismatch logs PIN_FAIL or, on the
 * blocking try, PIN_BLOCKED.  A power cut at any point leaves at most the
 * try spent: never a free try. */
#include "mc_int.h"
#include "cm_ct.h"

bool mc_pin_equal(const uint8_t stored[12], size_t stored_len, const uint8_t *pin, size_t len)
{
    uint8_t a[13], b[13];
    size_t i;
    int eq;

    /* Both padded to 12 bytes and the lengths folded in, so neither a length
     * nor a digit decides a branch.  The stored PIN's length is secret too:
     * all 12 stored bytes are read, masked by position, never a copy of
     * stored_len bytes (the presented length is the command's, public). */
    for (i = 0; i < 12; i++) {
        /* 0xFF when i < stored_len, else 0x00, without a comparison */
        uint8_t keep = (uint8_t)(0u - (((uint32_t)i - (uint32_t)stored_len) >> 31));
        a[i] = (uint8_t)((stored[i] & keep) | (0xFF & ~keep));
    }
    memset(b, 0xFF, sizeof(b));
    memcpy(b, pin, len);
    a[12] = (uint8_t)stored_len;
    b[12] = (uint8_t)len;
    eq = cm_ct_equal(a, b, sizeof(a));
    /* The match decides the answer: the one thing made public. */
    CM_CT_DECLASSIFY(&eq, sizeof eq);
    cm_wipe(a, sizeof(a));
    cm_wipe(b, sizeof(b));
    return eq != 0;
}

static mc_sw counted_try(mc_card *card, mc_slot_rec *s, const uint8_t *pin, size_t len,
                         const uint8_t *new_pin, size_t new_len)
{
    unsigned idx = MC_STORE_COUNTERS + card->sel;
    uint32_t v, up;
    mc_sw sw;
    mc_status st;

    card->pin_ok = false;
    st = mc_store_counter_get(card, idx, &v);
    /* A restore: up to the next value above v whose distance from the base
     * (the counter's value less the tries already spent, mod 4) is a
     * multiple of 4: v + 1 + ((base - v - 1) mod 4), and base - v is minus
     * the tries spent, pin_tries - pin_max_tries. */
    up = v + 1u + ((uint32_t)(s->pin_tries - s->pin_max_tries - 1) & 3u);
    if (st == MC_OK)
        st = mc_store_counter_set(card, idx, v + 1u);
    sw = mc_sw_of(st);
    if (sw != MC_SW_OK)
        return sw;
    s->pin_tries--;
    if (!mc_pin_equal(s->pin, s->pin_len, pin, len)) {
        /* The record already holds the spent try: only the log changes. */
        sw = mc_sw_of(mc_log_event(card, s->pin_tries == 0 ? MC_EV_PIN_BLOCKED : MC_EV_PIN_FAIL,
                                   s->aid, s->aid_len));
        if (sw != MC_SW_OK)
            return sw;
        return s->pin_tries == 0 ? MC_SW_AUTH_BLOCKED : (mc_sw)MC_SW_PIN_TRIES(s->pin_tries);
    }
    s->pin_tries = s->pin_max_tries;
    if (new_pin != NULL) {
        mc_pin_set(s, new_pin, new_len);
        sw = mc_slot_commit(card, card->sel, s, 0);
    } else {
        /* no try spent */
        sw = mc_sw_of(mc_store_counter_set(card, idx, up));
    }
    if (sw == MC_SW_OK)
        card->pin_ok = true;
    return sw;
}

/* VERIFY (INS 20) and CHANGE REFERENCE DATA (INS 24; data: old PIN length,
 * old PIN, new PIN), one handler for both. */
mc_sw mc_cmd_pin(mc_card *card, mc_cmd *c)
{
    bool change = c->ins == 0x24;
    mc_slot_rec s;
    const uint8_t *d = c->data, *np = NULL;
    size_t lc = c->lc, old_len = lc, new_len = 0;
    mc_sw sw;

    /* P1 00 P2 81, data that fits (CHANGE: some): the command table's
     * (mc_apdu.c).  The empty VERIFY asks for the state and needs no channel. */
    sw = mc_gate(card, lc ? c->gate : c->gate & ~MC_G_CHAN, NULL, &s);
    if (sw != MC_SW_OK)
        return sw;
    if (change) {
        old_len = *d++;
        new_len = lc - 1 - old_len;   /* used once old_len + 1 <= lc */
        np = d + old_len;
    }
    if (s.pin_len == 0)
        sw = MC_SW_REF_DATA_NOT_USABLE;
    else if (s.pin_tries == 0)
        sw = MC_SW_AUTH_BLOCKED;
    else if (lc == 0)
        sw = card->pin_ok && mc_chan_on(card, card->sel) ? MC_SW_OK
                                                          : (mc_sw)MC_SW_PIN_TRIES(s.pin_tries);
    else if (old_len + (change ? 1u : 0u) > lc || !mc_pin_fits(&s, d, old_len) ||
             (change && !mc_pin_fits(&s, np, new_len)))
        sw = MC_SW_WRONG_DATA;
    else
        sw = counted_try(card, &s, d, old_len, np, new_len);
    cm_wipe(&s, sizeof(s));
    return sw;
}
