/* mc_install.c: checks a staged AP image and installs it (PROTOCOL.md §6).
 *
 * The image is read back from the staging area with a small BER-TLV header
 * reader over NVM, so an image of 32 KiB needs no more RAM than its EF table.
 * Checks, in order: the image itself (6A80), the AID against the AM and every
 * AP (6A89), then room (6A84).  The AP's region (EF table, then EF data with
 * initial contents) is written directly into free space that nothing refers
 * to; a single transaction then commits the slot record, the AP_LOADED log
 * entry and the wipe mark of the staging copy, which is wiped afterwards. */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_tlv.h"

/* Scratch inside card->buf (the block data is already in NVM). */
#define EFS(card)  ((mc_ef_rec *)(void *)(card)->buf)
#define AUX(card)  ((card)->buf + MC_MAX_EFS * sizeof(mc_ef_rec))   /* 6 bytes per EF */
#define TMP(card)  ((card)->buf + 1024)
#define TMP_CAP    (MC_BUF_SIZE - 1024)

typedef struct ntlv {
    uint16_t tag;
    uint32_t len;
    uint32_t val;     /* offset of the value in the data space */
} ntlv;

/* Next TLV in [*pos, end) of the data space: 0 ok, 1 end, 2 malformed, or
 * -1 when the store failed (*st). */
static int ntlv_next(mc_card *card, uint32_t *pos, uint32_t end, ntlv *t, mc_status *st)
{
    uint8_t h[5];
    uint32_t avail = end - *pos, n = avail < 5 ? avail : 5;
    size_t len, i;

    if (*pos >= end)
        return 1;
    *st = mc_store_read(card, *pos, h, n);
    if (*st != MC_OK)
        return -1;
    /* The header by the one BER-TLV codec (common/cm_tlv.h), the value
     * checked against the container here. */
    if (cm_tlv_header(h, n, &t->tag, &len, &i) != CM_OK || len > avail - i)
        return 2;
    t->len = (uint32_t)len;
    t->val = *pos + (uint32_t)i;
    *pos = t->val + t->len;
    return 0;
}

/* A small value read into v (len 1..cap). */
static int small(mc_card *card, const ntlv *t, uint8_t *v, size_t min, size_t cap,
                 mc_status *st)
{
    if (t->len < min || t->len > cap)
        return 2;
    *st = mc_store_read(card, t->val, v, t->len);
    return *st == MC_OK ? 0 : -1;
}

static bool rule_valid(uint8_t r)
{
    return r == MC_RULE_SM || r == MC_RULE_PIN || r == MC_RULE_NEVER;
}

/* One A3 EF template into EFS[n] (AUX[n]: content offset and length). */
MC_NOINLINE static int parse_ef(mc_card *card, const ntlv *ef, unsigned n, mc_status *st)
{
    mc_ef_rec *e = &EFS(card)[n];
    uint8_t *aux = AUX(card) + 6 * n, v[2];
    uint32_t pos = ef->val, end = ef->val + ef->len, size = 0;
    unsigned seen = 0, bit;
    ntlv t;
    int rc;

    memset(e, 0, sizeof(*e));
    memset(aux, 0, 6);
    while ((rc = ntlv_next(card, &pos, end, &t, st)) == 0) {
        switch (t.tag) {
        case 0x83: bit = 0x001; break;
        case 0x88: bit = 0x002; break;
        case 0x82: bit = 0x004; break;
        case 0x80: bit = 0x008; break;
        case 0x84: bit = 0x010; break;
        case 0x85: bit = 0x020; break;
        case 0x86: bit = 0x040; break;
        case 0x87: bit = 0x080; break;
        case 0x53: bit = 0x100; break;
        default: return 2;
        }
        if (seen & bit)
            return 2;
        seen |= bit;
        if (t.tag == 0x53) {
            mc_put32(aux, t.val);
            mc_put16(aux + 4, t.len);
            continue;
        }
        rc = small(card, &t, v, t.tag == 0x83 ? 2 : 1, t.tag == 0x83 || t.tag == 0x80 ? 2 : 1,
                   st);
        if (rc != 0)
            return rc;
        if (t.tag == 0x83) {
            if (t.len != 2)
                return 2;
            memcpy(e->fid, v, 2);
        } else if (t.tag == 0x88) {
            e->sfi = v[0];
        } else if (t.tag == 0x82) {
            e->type = v[0];
        } else if (t.tag == 0x80) {
            size = t.len == 2 ? mc_get16(v) : v[0];
        } else if (t.tag == 0x84) {
            e->rec_len = v[0];
        } else if (t.tag == 0x85) {
            e->rec_count = v[0];
        } else if (t.tag == 0x86) {
            e->read_rule = v[0];
        } else {
            e->write_rule = v[0];
        }
    }
    if (rc != 1)
        return rc;
    if ((seen & 0x0C5) != 0x0C5 || ((seen & 0x002) && (e->sfi < 1 || e->sfi > 30)))
        return 2;
    if (!rule_valid(e->read_rule) || !rule_valid(e->write_rule))
        return 2;
    if (mc_get16(e->fid) == 0x3F00 || mc_get16(e->fid) == 0x3FFF || mc_get16(e->fid) == 0xFFFF)
        return 2;
    if (e->type == MC_EF_TRANSPARENT) {
        if ((seen & 0x038) != 0x008 || size < 1 || size > 32767 || mc_get16(aux + 4) > size)
            return 2;
    } else if (e->type == MC_EF_LINEAR || e->type == MC_EF_CYCLIC) {
        if ((seen & 0x138) != 0x030 || e->rec_len < 1 || e->rec_len > 254 || e->rec_count < 1 ||
            e->rec_count > 254)
            return 2;
        size = (uint32_t)e->rec_len * e->rec_count;
    } else {
        return 2;
    }
    mc_put16(e->size, size);
    return 0;
}

static bool prefix_clash(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return memcmp(a, b, al < bl ? al : bl) == 0;
}

/* Parses the whole image: slot fields, key set, EF table.  0, 2 (6A80), or
 * -1 (store failure in *st). */
MC_NOINLINE static int parse_image(mc_card *card, mc_slot_rec *s, mc_status *st)
{
    uint32_t pos = card->load_off, end = card->load_off + card->load_len;
    uint8_t *tmp = TMP(card), kcv[9];
    unsigned seen = 0, bit, i, j;
    ntlv t;
    cm_tlv v;
    size_t p;
    int rc;
    mc_ef_rec *efs = EFS(card);

    memset(s, 0, sizeof(*s));
    s->min_level = 0x33;
    while ((rc = ntlv_next(card, &pos, end, &t, st)) == 0) {
        bit = t.tag == 0x4F ? 1 : t.tag == 0xA0 ? 2 : t.tag == 0xA1 ? 4 : t.tag == 0xA2 ? 8 :
              t.tag == 0xA3 ? 16 : 0;
        if (bit == 0 || (bit != 16 && (seen & bit)))
            return 2;
        seen |= bit;
        if (t.tag == 0xA3) {
            if (s->ef_count >= MC_MAX_EFS)
                return 2;
            rc = parse_ef(card, &t, s->ef_count, st);
            if (rc != 0)
                return rc;
            s->ef_count++;
            continue;
        }
        rc = small(card, &t, tmp, 1, t.tag == 0x4F ? 16 : 255, st);
        if (rc != 0)
            return rc;
        if (t.tag == 0x4F) {
            if (t.len < 5)
                return 2;
            s->aid_len = (uint8_t)t.len;
            memcpy(s->aid, tmp, t.len);
        } else if (t.tag == 0xA1) {
            if (mc_parse_keyset(card, tmp, t.len, &s->keys, kcv) != CM_SW_OK)
                return 2;
            cm_wipe(tmp, t.len);
        } else if (t.tag == 0xA2) {
            p = 0;
            rc = cm_tlv_next(tmp, t.len, &p, &v);
            if (rc != CM_OK || v.tag != 0x80 || v.len != 1 || p != t.len ||
                !mc_level_valid(v.value[0]))
                return 2;
            s->min_level = v.value[0];
        } else {
            /* A0: PIN policy. */
            unsigned pseen = 0;
            p = 0;
            while ((rc = cm_tlv_next(tmp, t.len, &p, &v)) == CM_OK) {
                if (v.tag < 0x80 || v.tag > 0x83 || (pseen & (1u << (v.tag - 0x80))))
                    return 2;
                pseen |= 1u << (v.tag - 0x80);
                if (v.tag == 0x83) {
                    if (v.len < 1 || v.len > 12)
                        return 2;
                    memcpy(s->pin, v.value, v.len);
                    s->pin_len = (uint8_t)v.len;
                    continue;
                }
                if (v.len != 1)
                    return 2;
                if (v.tag == 0x80)
                    s->pin_max_tries = v.value[0];
                else if (v.tag == 0x81)
                    s->pin_min = v.value[0];
                else
                    s->pin_max = v.value[0];
            }
            cm_wipe(tmp, t.len);
            if (rc != 1 || (pseen & 7) != 7 || s->pin_max_tries < 1 || s->pin_max_tries > 3 ||
                s->pin_min < 4 || s->pin_max > 12 || s->pin_min > s->pin_max ||
                (s->pin_len && !mc_pin_fits(s, s->pin, s->pin_len)))
                return 2;
            s->pin_tries = s->pin_max_tries;
        }
    }
    if (rc != 1)
        return rc;
    if ((seen & 7) != 7)
        return 2;
    for (i = 0; i < s->ef_count; i++)
        for (j = 0; j < i; j++)
            if (memcmp(efs[i].fid, efs[j].fid, 2) == 0 || (efs[i].sfi && efs[i].sfi == efs[j].sfi))
                return 2;
    return 0;
}

/* AID rules (§2, §4): not the AM AID, no prefix relation with any AID. */
MC_NOINLINE static uint16_t check_aid(mc_card *card, const mc_slot_rec *n)
{
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    unsigned i;
    bool used;
    mc_status st;

    if (prefix_clash(n->aid, n->aid_len, mc_am_aid, MC_AM_AID_LEN))
        return CM_SW_ALREADY_EXISTS;
    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        if (st != MC_OK)
            return mc_sw_of(st);
        if (used && prefix_clash(n->aid, n->aid_len, s->aid, s->aid_len))
            return CM_SW_ALREADY_EXISTS;
    }
    return CM_SW_OK;
}

/* A free slot and the next load sequence number. */
MC_NOINLINE static uint16_t pick_slot(mc_card *card, unsigned *slot, uint32_t *seq)
{
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    unsigned i;
    bool used;
    mc_status st;

    *slot = MC_MAX_APS;
    *seq = 1;
    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        if (st != MC_OK)
            return mc_sw_of(st);
        if (!used && *slot == MC_MAX_APS)
            *slot = i;
        if (used && mc_get32(s->load_seq) >= *seq)
            *seq = mc_get32(s->load_seq) + 1;
    }
    return *slot < MC_MAX_APS ? CM_SW_OK : CM_SW_NO_SPACE;
}

/* Bytes an EF occupies in its region: a record EF keeps rec_count + 1 slots
 * of its records plus 8 (docs/nvm.md). */
MC_NOINLINE static uint32_t mc_ef_span(const mc_ef_rec *e)
{
    return e->type == MC_EF_TRANSPARENT ? mc_get16(e->size)
                                        : (e->rec_count + 1u) * (e->rec_len + MC_REC_OVH);
}

/* Lays out the region: EF table, then EF data in EF order; sets data_off. */
static uint32_t layout_region(mc_card *card, unsigned n)
{
    uint32_t off = n * (uint32_t)sizeof(mc_ef_rec);
    unsigned i;

    for (i = 0; i < n; i++) {
        mc_put32(EFS(card)[i].data_off, off);
        off += mc_ef_span(&EFS(card)[i]);
    }
    return off;
}

/* May the region at base overlap the staged image?  Only when every EF's
 * data lands at or above its initial content in the image, so that copying
 * the EFs from the last to the first never overwrites content not yet
 * copied. */
static bool overlap_ok(mc_card *card, unsigned n, uint32_t base)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (mc_get16(AUX(card) + 6 * i + 4) != 0 &&
            base + mc_get32(EFS(card)[i].data_off) < mc_get32(AUX(card) + 6 * i))
            return false;
    return true;
}

/* Writes the EF data of the region from the last EF to the first, then the
 * EF table (direct writes: nothing refers to this space yet). */
MC_NOINLINE static mc_status write_region(mc_card *card, const mc_slot_rec *s)
{
    mc_ef_rec *efs = EFS(card);
    uint32_t base = mc_get32(s->region_off), at, size, clen, pos;
    unsigned i;
    mc_status st = MC_OK;

    for (i = s->ef_count; st == MC_OK && i-- > 0;) {
        size = mc_ef_span(&efs[i]);
        clen = mc_get16(AUX(card) + 6 * i + 4);
        at = base + mc_get32(efs[i].data_off);
        if (clen)
            st = mc_copy_direct(card, at, mc_get32(AUX(card) + 6 * i), clen);
        /* Transparent EFs read 00 beyond their initial content; record EFs
         * start empty: every slot zero, invalid by its sequence number. */
        for (pos = clen; st == MC_OK && pos < size; pos += 256)
            st = mc_store_fill_direct(card, at + pos, 0x00, size - pos < 256 ? size - pos : 256);
    }
    for (i = 0; st == MC_OK && i < s->ef_count; i++)
        st = mc_ef_write(card, s, i, &efs[i]);
    return st;
}

uint16_t mc_install(mc_card *card)
{
    mc_slot_rec s;
    unsigned slot = MC_MAX_APS;
    uint32_t seq = 0, hwm = 0, need, goff = 0, glen = 0, wipe_len;
    mc_status st = MC_OK;
    uint16_t sw;
    int rc = parse_image(card, &s, &st);

    if (rc != 0) {
        cm_wipe(&s, sizeof(s));
        return rc < 0 ? mc_sw_of(st) : CM_SW_WRONG_DATA;
    }
    sw = check_aid(card, &s);
    if (sw == CM_SW_OK)
        sw = pick_slot(card, &slot, &seq);
    need = layout_region(card, s.ef_count);
    wipe_len = card->load_len;
    if (sw == CM_SW_OK) {
        /* Free space beside the staged image first; failing that, the end of
         * the staging gap itself, over the image (a 32 KiB image then needs
         * little more than its own size). */
        st = mc_heap_gap(card, card->load_off, card->load_len, &goff, &glen, need, true);
        if (st == MC_OK && glen < need && need <= card->load_cap &&
            overlap_ok(card, s.ef_count, card->load_off + card->load_cap - need)) {
            goff = card->load_off + card->load_cap - need;
            glen = need;
            if (goff - card->load_off < wipe_len)
                wipe_len = goff - card->load_off;
        }
        sw = st != MC_OK ? mc_sw_of(st) : glen < need ? CM_SW_NO_SPACE : CM_SW_OK;
    }
    if (sw == CM_SW_OK)
        st = mc_seq_hwm(card, &hwm);
    if (sw != CM_SW_OK || st != MC_OK) {
        cm_wipe(&s, sizeof(s));
        return sw != CM_SW_OK ? sw : mc_sw_of(st);
    }
    s.state = MC_AP_ACTIVE;
    mc_put32(s.load_seq, seq);
    mc_put32(s.region_off, need ? goff : 0);
    mc_put32(s.region_len, need);
    mc_put24(s.keys.seq_base, hwm);
    st = write_region(card, &s);
    if (st == MC_OK)
        st = mc_store_begin(card);
    if (st == MC_OK) {
        st = mc_slot_write(card, slot, &s);
        if (st == MC_OK)
            st = mc_log_add(card, MC_EV_AP_LOADED, s.aid, s.aid_len);
        if (st == MC_OK)
            st = mc_wipe_write(card, card->load_off, wipe_len);
        st = mc_store_end(card, st);
    }
    cm_wipe(&s, sizeof(s));
    if (st != MC_OK)
        return mc_sw_of(st);
    /* Installed: the staging copy is no longer ours to drop. */
    card->load_active = false;
    card->load_marked = false;
    st = mc_wipe_now(card, card->load_off, wipe_len);
    card->load_len = 0;
    if (st == MC_ERR_NVM)
        card->muted = true;
    return mc_sw_of(st);
}
