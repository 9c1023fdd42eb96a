/* mc_scp.c: the card side of SCP03 (PROTOCOL.md §3): INITIALIZE UPDATE,
 * EXTERNAL AUTHENTICATE, and the key set data of PUT KEY and AP images.
 * The cryptography is common/cm_scp03; this file holds the card's rules:
 * which key set, which counter, which level, what is logged. */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_scp03.h"

mc_sw mc_cmd_init_update(mc_card *card, mc_cmd *c)
{
    mc_area_rec a;
    mc_slot_rec s;
    const mc_keyrec *k;
    bool am;
    uint8_t *r = card->buf;
    unsigned ctr;
    uint32_t seq;
    mc_sw sw;
    mc_status st;
    cm_aes aes;

    MC_OPAQUE(r);
    /* P2 00: the command table's (mc_apdu.c) */
    if (c->lc != 8)                      /* (too long: lc 0) */
        return MC_SW_WRONG_LENGTH;
    sw = mc_gate(card, c->gate, &a, &s);
    if (sw != MC_SW_OK)
        return sw;
    /* The selected application's key set and counter (after mc_gate): the
     * AM's (its AID, minimum level 33, counter 0) or the AP's slot's. */
    am = card->sel == MC_SEL_AM;
    k = am ? &a.am : &s.keys;
    ctr = am ? 0 : 1u + card->sel;
    if (c->p1 != 0x00 && c->p1 != k->kvn)
        return MC_SW_REF_NOT_FOUND;
    st = mc_seq_get(card, ctr, k, &seq);
    if (st != MC_OK)
        return mc_sw_of(st);
    if (seq >= 0xFFFFFFu)
        return MC_SW_CONDITIONS;
    /* The counter moves and is durable before anything is answered (§3). */
    st = mc_store_counter_set(card, ctr, seq + 1);
    if (st != MC_OK)
        return mc_sw_of(st);
    /* The response (§3): diversification data 10, KVN, 03 (SCP03), 70 (i
     * parameter), card challenge 8, card cryptogram 8, sequence counter 3,
     * built in place: the counter first, where the challenge's KDF reads it;
     * the command data (the host challenge, at r) is copied out before. */
    memcpy(card->host_chal, c->data, 8);
    mc_put24(r + 29, seq + 1);
    mc_aes(card, &aes);
    if (cm_scp03_card_challenge(&aes, k->enc, k->key_len, r + 29, am ? mc_am_aid : s.aid,
                                am ? MC_AM_AID_LEN : s.aid_len, card->card_chal) !=
            CM_OK ||
        cm_scp03_init(&card->scp, &aes, k->enc, k->mac, k->key_len, card->host_chal,
                      card->card_chal) != CM_OK ||
        cm_scp03_cryptogram(&card->scp, CM_DC_CARD_CRYPTOGRAM, card->host_chal, card->card_chal,
                            r + 21) != CM_OK) {
        mc_chan_close(card);
        return MC_SW_MEMORY_FAILURE;
    }
    card->chan = MC_CH_PENDING;
    card->chan_sel = card->sel;
    card->chan_min = am ? 0x33 : s.min_level;
    memcpy(card->chan_dek, k->dek, k->key_len);
    memcpy(r, a.div, MC_DIV_DATA_LEN);
    r[10] = k->kvn;
    r[11] = 0x03;
    r[12] = 0x70;
    memcpy(r + 13, card->card_chal, 8);
    c->rlen = 32;
    /* a.am and s.keys go with the stack scrub after the command
     * (mc_scrub_stack, mc_apdu.c). */
    return MC_SW_OK;
}

mc_sw mc_cmd_ext_auth(mc_card *card, mc_cmd *c)
{
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    const uint8_t *aid = NULL;
    size_t aid_len = 0;
    bool pending = card->chan == MC_CH_PENDING, used;
    mc_sw sw;
    int ok;
    mc_status st = MC_OK;

    /* Its own order (§9): level 6A86 › length 6700 › no pending initiation
     * 6985 › level below the minimum 6982 › cryptogram or C-MAC 6300; no
     * selection, area-state or AP-state check (a pending initiation implies
     * them).  Every EXTERNAL AUTHENTICATE ends a pending initiation; one
     * without a pending initiation leaves an open channel as it is. */
    if (!mc_level_valid(c->p1) || c->p2 != 0x00)
        sw = MC_SW_WRONG_P1P2;
    else if (c->lc != 16)                /* (too long: lc 0) */
        sw = MC_SW_WRONG_LENGTH;
    else if (!pending)
        return MC_SW_CONDITIONS;
    else if ((c->p1 & card->chan_min) != card->chan_min)
        sw = MC_SW_SECURITY_STATUS;
    else
        sw = MC_SW_OK;
    if (sw != MC_SW_OK) {
        if (pending)
            mc_chan_close(card);
        return sw;
    }
    ok = cm_scp03_check_cryptogram(&card->scp, CM_DC_HOST_CRYPTOGRAM, card->host_chal,
                                   card->card_chal, c->data) == CM_OK;
    if (ok)
        ok = cm_scp03_verify_external_auth(&card->scp, c->hdr, c->data, c->ext) == CM_OK;
    if (!ok) {
        mc_chan_close(card);
        /* The initiation was on the selected application (any other
         * command in between ended it). */
        if (MC_SEL_IS_AP(card->sel)) {
            st = mc_slot_read(card, card->sel, s, &used);
            aid = s->aid;
            aid_len = s->aid_len;
        }
        if (st == MC_OK)
            st = mc_log_event(card, MC_EV_AUTH_FAIL, aid, aid_len);
        return st == MC_OK ? MC_SW_VERIFY_FAIL : mc_sw_of(st);
    }
    card->chan = MC_CH_OPEN;
    card->pin_ok = false;
    return MC_SW_OK;
}

mc_sw mc_parse_keyset(mc_card *card, const uint8_t *d, size_t len, mc_keyrec *k,
                      uint8_t kcv_out[9])
{
    cm_keyset ks;
    cm_aes aes;
    int rc;

    mc_aes(card, &aes);
    memset(k, 0, sizeof(*k));
    /* Format, unwrapping and the constant-time KCV check are common/'s; any
     * failure is wrong data (§3: a wrong KCV gives 6A80 and changes nothing). */
    rc = cm_scp03_keyset_parse(&aes, card->chan_dek, card->scp.key_len, d, len, &ks, kcv_out);
    if (rc == CM_OK) {
        k->kvn = ks.kvn;
        k->key_len = ks.key_len;
        /* enc, mac, dek: consecutive in both records, zeros past key_len. */
        memcpy(k->enc, ks.enc, sizeof(k->enc) + sizeof(k->mac) + sizeof(k->dek));
    }
    /* ks goes with the stack scrub after the command (mc_scrub_stack). */
    return rc == CM_OK ? MC_SW_OK : MC_SW_WRONG_DATA;
}

mc_sw mc_cmd_put_key(mc_card *card, mc_cmd *c)
{
    mc_area_rec a;
    mc_slot_rec s;
    uint8_t kcv[9];
    unsigned flags = c->gate;
    mc_keyrec *k;
    bool setup;
    uint32_t hwm;
    mc_sw sw;
    mc_status st;

    /* P2 81 and data: the command table's (mc_apdu.c).  In BLANK only AREA
     * SETUP (old KVN FF) passes the area-state rule (§6). */
    if (c->p1 == 0xFF)
        flags |= MC_G_BLANK;
    sw = mc_gate(card, flags, &a, &s);
    if (sw != MC_SW_OK)
        return sw;
    setup = card->sel == MC_SEL_AM && a.state == MC_AREA_BLANK;
    /* The key set being replaced, parsed over in place (a failure commits
     * nothing). */
    k = card->sel == MC_SEL_AM ? &a.am : &s.keys;
    if (c->p1 != k->kvn)
        return MC_SW_REF_NOT_FOUND;
    sw = mc_parse_keyset(card, c->data, c->lc, k, kcv);
    if (sw != MC_SW_OK)
        return sw;
    st = mc_seq_hwm(card, &hwm);
    if (st != MC_OK)
        return mc_sw_of(st);
    mc_put24(k->seq_base, hwm);
    if (card->sel == MC_SEL_AM) {
        if (setup)
            a.state = MC_AREA_ACTIVE;
        st = mc_store_begin(card);
        if (st == MC_OK)
            st = mc_area_write(card, &a);
        if (st == MC_OK)
            st = mc_log_add(card, MC_EV_KEY_CHANGED, NULL, 0);
        if (st == MC_OK && setup)
            st = mc_log_add(card, MC_EV_AREA_STATE, NULL, 0);
        sw = mc_sw_of(mc_store_end(card, st));
    } else {
        sw = mc_slot_commit(card, card->sel, &s, MC_EV_KEY_CHANGED);
    }
    c->data[0] = k->kvn;
    memcpy(c->data + 1, kcv, 9);
    /* a.am and s go with the stack scrub after the command
     * (mc_scrub_stack, mc_apdu.c). */
    if (sw == MC_SW_OK)
        c->rlen = 10;
    return sw;
}
