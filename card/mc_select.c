/* mc_select.c: SELECT by AID and SELECT EF (PROTOCOL.md §2), and GET DATA
 * (§4: area information DF20, security log DF21, key information 00E0). */
#include "mc_int.h"
#include "cm_tlv.h"

MC_ALWAYS_INLINE mc_sw select_aid(mc_card *card, mc_cmd *c, cm_tlv_writer *w)
{
    mc_area_rec a;
    mc_slot_rec s;
    unsigned slot = MC_MAX_APS;
    uint8_t state, aid[16];
    bool am;
    size_t len = c->lc;
    mc_status st;
    size_t m1, m2;

    if (c->too_long || len > 16)
        return MC_SW_WRONG_LENGTH;
    memcpy(aid, c->data, len);
    /* No AID: the default application, the AM (§2, GlobalPlatform
     * discovery), answered as a SELECT of the AM by AID. */
    if (len == 0) {
        len = MC_AM_AID_LEN;
        memcpy(aid, mc_am_aid, len);
    }
    MC_OPAQUE(len);
    st = mc_area_read(card, &a);
    am = len == MC_AM_AID_LEN && memcmp(aid, mc_am_aid, len) == 0;
    /* Never using a corrupt slot (SELECT still answers on a corrupt card,
     * §8). */
    if (!am && st == MC_OK && (a.state == MC_AREA_ACTIVE || a.state == MC_AREA_LOCKED))
        st = mc_find_aid(card, aid, len, &slot, &s, true);
    if (st == MC_ERR_NVM)
        return MC_SW_MUTE;
    if (am) {
        card->sel = MC_SEL_AM;
        /* A corrupt area record still lets the AM be selected; its state
         * then reads 00 (never a value taken from corrupt data). */
        state = st == MC_OK ? a.state : 0x00;
    } else {
        if (slot >= MC_MAX_APS)
            return MC_SW_NOT_FOUND;
        card->sel = (uint8_t)slot;
        state = s.state;
    }
    card->ef = 0xFF;
    m1 = cm_tlv_open(w, 0x6F);
    cm_tlv_put(w, 0x84, aid, len);
    m2 = cm_tlv_open(w, 0xA5);
    cm_tlv_put_u8(w, 0x9F70, state);
    cm_tlv_close(w, m2);
    cm_tlv_close(w, m1);
    return MC_SW_OK;
}

static mc_sw select_ef(mc_card *card, mc_cmd *c, cm_tlv_writer *w)
{
    mc_slot_rec s;
    mc_ef_rec e;
    mc_sw sw;
    size_t m;
    uint8_t d[5];

    if (c->lc != 2)                      /* (too long: lc 0) */
        return MC_SW_WRONG_LENGTH;
    /* An AP command: the AP's channel is needed (§5), its state is not; as
     * a SELECT it is not refused for corruption found elsewhere (§8). */
    sw = mc_gate(card, c->gate, NULL, &s);
    if (sw != MC_SW_OK)
        return sw;
    sw = mc_ef_find(card, &s, c->data, 0, &e);
    if (sw != MC_SW_OK)
        return sw;
    m = cm_tlv_open(w, 0x62);
    cm_tlv_put(w, 0x80, e.size, 2);
    d[0] = e.type;
    if (e.type == MC_EF_TRANSPARENT) {
        cm_tlv_put(w, 0x82, d, 1);
    } else {
        d[1] = 0x21;
        d[2] = 0x00;
        d[3] = e.rec_len;
        d[4] = e.rec_count;
        cm_tlv_put(w, 0x82, d, 5);
    }
    cm_tlv_put(w, 0x83, e.fid, 2);
    if (e.sfi)
        cm_tlv_put_u8(w, 0x88, (uint8_t)(e.sfi << 3));
    cm_tlv_put_u8(w, 0x8A, 0x05);
    cm_tlv_close(w, m);
    return MC_SW_OK;
}

mc_sw mc_cmd_select(mc_card *card, mc_cmd *c)
{
    cm_tlv_writer w;
    mc_sw sw;

    /* F1: by AID, the channel and the PIN state end first, whatever the
     * outcome. */
    if (c->p1 == 0x04)
        mc_chan_close(card);
    else if (c->p1 != 0x02)
        return MC_SW_WRONG_P1P2;
    if (c->p2 != 0x00 && c->p2 != 0x0C)
        return MC_SW_WRONG_P1P2;
    cm_tlv_writer_init(&w, c->data, MC_BUF_SIZE);
    sw = c->p1 == 0x04 ? select_aid(card, c, &w) : select_ef(card, c, &w);
    /* The FCI is built once selected; P2 0C asks for none. */
    if (sw == MC_SW_OK && c->p2 != 0x0C)
        c->rlen = w.pos;
    return sw;
}

/* DF20: the open part always; the rest in an AM channel only (F5). */
static mc_sw area_info(mc_card *card, cm_tlv_writer *w)
{
    mc_area_rec a;
    uint32_t free_bytes = 0;
    unsigned i, count = 0;
    bool used, full;
    mc_slot_rec s;
    mc_status st = card->corrupt ? MC_ERR_CORRUPT : mc_area_read(card, &a);
    size_t m;

    if (st == MC_ERR_NVM)
        return MC_SW_MUTE;
    full = st == MC_OK && mc_chan_on(card, MC_SEL_AM);
    if (full && a.state != MC_AREA_TERMINATED) {
        /* After TERMINATED the slots are wiped: nothing to count.  One pass
         * counts the APs and the heap their regions leave free. */
        free_bytes = mc_store_data_size(card) - MC_OFF_HEAP;
        for (i = 0; st == MC_OK && i < MC_MAX_APS; i++) {
            st = mc_slot_read(card, i, &s, &used);
            if (st == MC_OK && used) {
                count++;
                free_bytes -= mc_get32(s.region_len);
            }
        }
        if (st == MC_ERR_NVM)
            return MC_SW_MUTE;
        /* Corruption found while counting: DF20 still answers (§8), with
         * the open part only, like any DF20 on a corrupt card. */
        full = st == MC_OK;
    }
    m = cm_tlv_open(w, 0xDF20);
    cm_tlv_put_u8(w, 0x80, card->corrupt ? 0x00 : a.state);
    if (full) {
        cm_tlv_put_u32(w, 0x81, free_bytes);
        cm_tlv_put_u8(w, 0x82, (uint8_t)count);
    }
    cm_tlv_put_u8(w, 0x83, MC_MAX_APS);
    cm_tlv_put_u16(w, 0x84, (MC_VERSION_MAJOR << 8) | MC_VERSION_MINOR);
    if (full) {
        cm_tlv_put(w, 0x85, a.serial, MC_SERIAL_LEN);
        cm_tlv_put(w, 0x86, a.div, MC_DIV_DATA_LEN);
    }
    cm_tlv_put_u16(w, 0x87, MC_MAX_RESPONSE_DATA);
    cm_tlv_put_u16(w, 0x88, MC_MAX_COMMAND_DATA);
    cm_tlv_close(w, m);
    return MC_SW_OK;
}

/* DF21: newest entry first (mc_log_read: the newest, then by sequence
 * number). */
static mc_sw security_log(mc_card *card, cm_tlv_writer *w)
{
    mc_log_rec e;
    uint32_t top = 0;
    unsigned n;
    mc_status st = MC_OK;
    size_t m, m2;

    m = cm_tlv_open(w, 0xDF21);
    for (n = 0; n < MC_LOG_ENTRIES && (n == 0 || n < top); n++) {
        st = mc_log_read(card, top - n, &e);     /* (0 first: top is 0) */
        if (st != MC_OK)
            return mc_sw_of(st);
        top = mc_get32(e.seq);
        if (top == 0)
            break;
        top += n;
        m2 = cm_tlv_open(w, 0xDF22);
        cm_tlv_put(w, 0x80, e.seq, 4);
        cm_tlv_put_u8(w, 0x81, e.event);
        if (e.aid_len)
            cm_tlv_put(w, 0x82, e.aid, e.aid_len);
        cm_tlv_put_u8(w, 0x83, e.repeat);
        cm_tlv_close(w, m2);
    }
    cm_tlv_close(w, m);
    return MC_SW_OK;
}

/* 00E0: GP key information template, one C0 per key (ID, KVN, type, length). */
static void key_info(cm_tlv_writer *w, const mc_area_rec *a)
{
    uint8_t d[4];
    size_t m;
    unsigned id;

    m = cm_tlv_open(w, 0xE0);
    for (id = 1; id <= 3; id++) {
        d[0] = (uint8_t)id;
        d[1] = a->am.kvn;
        d[2] = 0x88;
        d[3] = a->am.key_len;
        cm_tlv_put(w, 0xC0, d, 4);
    }
    cm_tlv_close(w, m);
}

mc_sw mc_cmd_get_data(mc_card *card, mc_cmd *c)
{
    mc_area_rec a;
    uint16_t tag = (uint16_t)((c->p1 << 8) | c->p2);
    mc_sw sw;
    cm_tlv_writer w;

    /* (opaque: the tag is then built once and compared as it is, so the
     * literals DF20 and DF21 serve both the tests and the TLV writer;
     * otherwise GCC compares P1 P2 as a byte-swapped halfword, with
     * literals of its own) */
    MC_OPAQUE(tag);
    /* One writer for the three responses; c->rlen is set on success only. */
    cm_tlv_writer_init(&w, c->data, MC_BUF_SIZE);
    /* No data: the command table's (mc_apdu.c).  DF20 is open, but the
     * AM's: it needs the AM selected (§4). */
    if (tag == 0xDF20) {
        sw = card->sel == MC_SEL_AM ? area_info(card, &w) : MC_SW_NO_CURRENT_EF;
    } else {
        /* Any other tag is the AM's: area state, selection and channel come
         * before the tag's own check (PROTOCOL.md §9). */
        sw = mc_gate(card, c->gate, &a, NULL);
        if (sw == MC_SW_OK) {
            if (tag == 0xDF21)
                sw = security_log(card, &w);
            else if (tag == 0x00E0)
                key_info(&w, &a);
            else
                sw = MC_SW_REF_NOT_FOUND;
        }
    }
    if (sw == MC_SW_OK)
        c->rlen = w.pos;
    return sw;
}
