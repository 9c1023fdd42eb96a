/* mc_am.c: area manager commands of PROTOCOL.md §4 other than GET DATA,
 * PUT KEY and LOAD AP: GET STATUS, DELETE, SET STATUS (AP and area) and
 * RESET RETRY COUNTER.  Each state change is one transaction with its log
 * entry; DELETE and TERMINATE then wipe the freed space (§8). */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_tlv.h"

/* Parses `4F len AID` at the start of d; returns its total length or 0. */
static size_t parse_aid(const uint8_t *d, size_t len)
{
    if (len < 2 || d[0] != 0x4F || d[1] < 1 || d[1] > 16 || (size_t)d[1] + 2 > len)
        return 0;
    return (size_t)d[1] + 2;
}

bool mc_pin_fits(const mc_slot_rec *s, const uint8_t *pin, size_t len)
{
    size_t i;

    if (len < s->pin_min || len > s->pin_max)
        return false;
    for (i = 0; i < len; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return true;
}

void mc_pin_set(mc_slot_rec *s, const uint8_t *pin, size_t len)
{
    memset(s->pin, 0, sizeof(s->pin));
    memcpy(s->pin, pin, len);
    s->pin_len = (uint8_t)len;
}

/* Runs the open transaction's commit, or aborts it after a failure. */
static mc_sw finish(mc_card *card, mc_status st)
{
    return mc_sw_of(mc_store_end(card, st));
}

/* The AP that the command data's leading `4F len AID` names: 9000 and its
 * slot, 6A88 when no AP has that AID, 6581 or mute.  DELETE, SET STATUS and
 * RESET RETRY COUNTER; whole: the data is `4F len AID` and no more (else
 * 6A80), DELETE and SET STATUS (RESET RETRY COUNTER checked its data). */
static mc_sw named_ap(mc_card *card, const mc_cmd *c, bool whole, unsigned *slot,
                      mc_slot_rec *s)
{
    mc_status st;

    if (whole && parse_aid(c->data, c->lc) != c->lc)
        return MC_SW_WRONG_DATA;
    st = mc_find_aid(card, c->data + 2, c->data[1], slot, s, false);
    if (st != MC_OK)
        return mc_sw_of(st);
    return *slot < MC_MAX_APS ? MC_SW_OK : MC_SW_REF_NOT_FOUND;
}

/* One GET STATUS entry: E3 { 4F AID, 9F70 state, then for the AM (s NULL)
 * its privileges C5, for an AP its region size DF30 and tries left DF31 }. */
static void status_entry(cm_tlv_writer *w, const uint8_t *aid, size_t aid_len, uint8_t state,
                         const mc_slot_rec *s)
{
    size_t m = cm_tlv_open(w, 0xE3);

    cm_tlv_put(w, 0x4F, aid, aid_len);
    cm_tlv_put_u8(w, 0x9F70, state);
    if (s == NULL) {
        /* security domain, card lock, card terminate, default selected */
        cm_tlv_put(w, 0xC5, (const uint8_t *)"\x9C\x00\x00", 3);
    } else {
        cm_tlv_put_u32(w, 0xDF30, mc_get32(s->region_len));
        cm_tlv_put_u8(w, 0xDF31, s->pin_tries);
    }
    cm_tlv_close(w, m);
}

/* --- GET STATUS ----------------------------------------------------------- */

/* Slots of the APs in load order; returns their number. */
static mc_status load_order(mc_card *card, uint8_t order[MC_MAX_APS], unsigned *n)
{
    uint32_t seq[MC_MAX_APS];
    mc_slot_rec *sp = MC_SCRATCH_SLOT(card);
    unsigned i, j, k = 0;
    uint32_t ls;
    bool used;
    mc_status st;

    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, sp, &used);
        if (st != MC_OK)
            return st;
        if (!used)
            continue;
        /* Insertion by load sequence. */
        ls = mc_get32(sp->load_seq);
        for (j = k; j > 0 && seq[j - 1] > ls; j--) {
            seq[j] = seq[j - 1];
            order[j] = order[j - 1];
        }
        seq[j] = ls;
        order[j] = (uint8_t)i;
        k++;
    }
    *n = k;
    return MC_OK;
}

/* Does aid start with the GET STATUS search prefix d[2..] (d = 4F len ...)? */
static bool aid_matches(const uint8_t *d, const uint8_t *aid, size_t aid_len)
{
    return d[1] <= aid_len && memcmp(aid, d + 2, d[1]) == 0;
}

mc_sw mc_cmd_get_status(mc_card *card, mc_cmd *c)
{
    mc_slot_rec s;
    uint8_t order[MC_MAX_APS];
    mc_area_rec *area = (mc_area_rec *)(void *)card->scratch;
    uint8_t d[2 + 16], state;
    const uint8_t *aid;
    const mc_slot_rec *sp;
    size_t aid_len;
    unsigned n, r;
    bool used;
    size_t limit, start, plen;
    mc_sw sw;
    mc_status st;
    cm_tlv_writer w;

    MC_OPAQUE(area);
    /* P1 80 (the ISD), 20 and 10 (load files) take P2 02 only; P2 03
     * (next occurrence) goes with P1 40 only (§4). */
    if ((c->p1 & (c->p1 - 1u)) != 0 || c->p1 < 0x10 ||   /* one of 10, 20, 40, 80 */
        (c->p2 != 0x02 && (c->p2 != 0x03 || c->p1 != 0x40)))
        return MC_SW_WRONG_P1P2;
    /* Data (too long: lc 0, mc_apdu.c).  The area record goes to the
     * scratch (wiped after the command; an AM instruction's gate does not
     * use the scratch slot). */
    if (c->lc == 0)
        return MC_SW_WRONG_LENGTH;
    sw = mc_gate(card, c->gate, area, NULL);
    if (sw != MC_SW_OK)
        return sw;
    /* The search criterion: 4F and an AID prefix of 0 to 16 bytes. */
    plen = c->lc - 2;                    /* (lc 1: too large) */
    if (plen > 16 || c->data[0] != 0x4F || c->data[1] != plen)
        return MC_SW_WRONG_DATA;
    /* The response is built where the command data is. */
    memcpy(d, c->data, c->lc);
    cm_tlv_writer_init(&w, c->data, MC_MAX_RESPONSE_DATA);
    r = 0;
    sp = &s;                                 /* NULL: the AM's entry */
    if (c->p1 == 0x80) {
        sp = NULL;
        /* The AM as the issuer security domain, the one entry: security
         * domain, card lock, card terminate, default selected. */
        n = 1;
    } else {
        if (c->p1 != 0x40)
            return MC_SW_REF_NOT_FOUND;          /* no load files */
        if (c->p2 == 0x03) {
            if (card->gs_next == 0xFF)
                return MC_SW_REF_NOT_FOUND;
            r = card->gs_next;
        }
        card->gs_next = 0xFF;
        st = load_order(card, order, &n);
        if (st != MC_OK)
            return mc_sw_of(st);
    }
    limit = c->ne < MC_MAX_RESPONSE_DATA ? c->ne : MC_MAX_RESPONSE_DATA;
    for (; r < n; r++) {
        if (sp == NULL) {
            aid = mc_am_aid;
            aid_len = MC_AM_AID_LEN;
            state = area->state;
        } else {
            st = mc_slot_read(card, order[r], &s, &used);
            if (st != MC_OK)
                return mc_sw_of(st);
            aid = s.aid;
            aid_len = s.aid_len;
            state = s.state;
        }
        if (!aid_matches(d, aid, aid_len))
            continue;
        start = w.pos;
        status_entry(&w, aid, aid_len, state, sp);
        /* Whole entries only; a first entry longer than Ne still goes out
         * (then through 61xx). */
        if (w.pos > limit && start > 0) {
            w.pos = start;
            break;
        }
    }
    if (w.pos == 0)
        return MC_SW_REF_NOT_FOUND;          /* no AP matches */
    c->rlen = w.pos;
    if (r < n) {
        card->gs_next = (uint8_t)r;
        return MC_SW_MORE_DATA;
    }
    return MC_SW_OK;
}

/* --- DELETE --------------------------------------------------------------- */

mc_sw mc_cmd_delete(mc_card *card, mc_cmd *c)
{
    mc_slot_rec s;
    unsigned slot;
    uint32_t off, len;
    mc_sw sw;
    mc_status st;

    /* P1 00 P2 00, data, then mc_gate: the command table's (mc_apdu.c) */
    sw = named_ap(card, c, true, &slot, &s);
    if (sw != MC_SW_OK)
        return sw;
    off = mc_get32(s.region_off);
    len = mc_get32(s.region_len);
    /* The removal and the wipe mark commit together; the wipe follows, and
     * recovery finishes it after a cut (§4). */
    st = mc_store_begin(card);
    if (st == MC_OK)
        st = mc_slot_free(card, slot);
    if (st == MC_OK)
        st = mc_log_add(card, MC_EV_AP_DELETED, s.aid, s.aid_len);
    if (st == MC_OK)
        st = mc_wipe_write(card, off, len, false);
    sw = finish(card, st);
    if (sw != MC_SW_OK)
        return sw;
    return mc_sw_of(mc_wipe_now(card, off, len));
}

/* --- SET STATUS ----------------------------------------------------------- */

static mc_sw set_ap_status(mc_card *card, mc_cmd *c)
{
    mc_slot_rec s;
    unsigned slot;
    mc_sw sw;

    sw = named_ap(card, c, true, &slot, &s);
    if (sw != MC_SW_OK)
        return sw;
    s.state = c->p2;
    return mc_slot_commit(card, slot, &s, MC_EV_AP_STATE);
}

static mc_sw set_area_status(mc_card *card, mc_area_rec *a, uint8_t state)
{
    uint32_t end = mc_store_data_size(card);
    mc_sw sw;
    mc_status st;

    if (a->state == state)
        return MC_SW_OK;     /* nothing changes, nothing is logged */
    a->state = state;
    if (state == MC_AREA_TERMINATED)
        cm_wipe(&a->am, sizeof(a->am));
    st = mc_store_begin(card);
    if (st == MC_OK)
        st = mc_area_write(card, a);
    if (st == MC_OK)
        st = mc_log_add(card, MC_EV_AREA_STATE, NULL, 0);
    /* TERMINATED: every AP slot and region goes; the slots are never read
     * again in that state, so the wipe may leave them unsealed. */
    if (st == MC_OK && state == MC_AREA_TERMINATED)
        st = mc_wipe_write(card, MC_OFF_SLOTS, end - MC_OFF_SLOTS, false);
    sw = finish(card, st);
    if (sw != MC_SW_OK || state != MC_AREA_TERMINATED)
        return sw;
    return mc_sw_of(mc_wipe_now(card, MC_OFF_SLOTS, end - MC_OFF_SLOTS));
}

mc_sw mc_cmd_set_status(mc_card *card, mc_cmd *c)
{
    mc_area_rec a;
    mc_sw sw;

    if (c->p1 == 0x40) {
        if (c->p2 != MC_AP_ACTIVE && c->p2 != MC_AP_SUSPENDED)
            return MC_SW_WRONG_P1P2;
        if (c->lc == 0)              /* (too long: lc 0) */
            return MC_SW_WRONG_LENGTH;
    } else if (c->p1 == 0x80) {
        if (c->p2 != MC_AREA_LOCKED && c->p2 != MC_AREA_ACTIVE && c->p2 != MC_AREA_TERMINATED)
            return MC_SW_WRONG_P1P2;
        if (c->has_data)
            return MC_SW_WRONG_LENGTH;
    } else {
        return MC_SW_WRONG_P1P2;
    }
    sw = mc_gate(card, c->gate, &a, NULL);
    if (sw != MC_SW_OK)
        return sw;
    /* Terminating ends the channel once its answer is sent (§4). */
    c->end_chan = c->p2 == MC_AREA_TERMINATED;
    if (c->p1 == 0x40)
        sw = set_ap_status(card, c);
    else
        sw = set_area_status(card, &a, c->p2);
    /* The slot and area records (keys, PINs) of these commands go with the
     * stack scrub after the command (mc_scrub_stack, mc_apdu.c). */
    return sw;
}

/* --- RESET RETRY COUNTER -------------------------------------------------- */

mc_sw mc_cmd_reset_retry(mc_card *card, mc_cmd *c)
{
    mc_slot_rec s;
    unsigned slot;
    size_t n;
    const uint8_t *pin;
    size_t pin_len;
    mc_sw sw;

    /* P1 00 P2 81, data, then mc_gate: the command table's (mc_apdu.c) */
    n = parse_aid(c->data, c->lc);
    if (n == 0 || c->lc - n < 3 || c->data[n] != 0xDF || c->data[n + 1] != 0x02 ||
        (size_t)c->data[n + 2] + n + 3 != c->lc)
        return MC_SW_WRONG_DATA;
    pin = c->data + n + 3;
    pin_len = c->data[n + 2];
    sw = named_ap(card, c, false, &slot, &s);
    if (sw != MC_SW_OK)
        return sw;
    if (!mc_pin_fits(&s, pin, pin_len))
        return MC_SW_WRONG_DATA;
    mc_pin_set(&s, pin, pin_len);
    s.pin_tries = s.pin_max_tries;
    return mc_slot_commit(card, slot, &s, MC_EV_PIN_RESET);
}
