/* mc_install.c: parses an AP image as it streams in and installs it
 * (PROTOCOL.md §6), writing every byte of the new AP once.
 *
 * mc_ld_feed takes the image's plain bytes block by block, in pieces of any
 * size (a TLV header or value may straddle two blocks).  EF contents (tag
 * 53) go straight to their place in the AP's region at the start of the
 * staging gap (mc_load.c); everything else is kept in card->ld (RAM): the
 * slot record being built (AID, PIN policy, key set), the EF table, and the
 * one small value being read.  The region is EF data in EF order, then the
 * EF table; the EF table, the zero tails of transparent EFs and the erased
 * slots of record EFs are written at the last block.  Checks, in order: the
 * image itself (6A80), the AID against the AM and every AP (6A89), then room
 * (6A84).  One transaction then commits the slot record, the AP_LOADED log
 * entry and the cleared wipe mark: that is the only journaled write. */
#include "mc_int.h"
#include "cm_ct.h"

_Static_assert(sizeof(mc_ef_rec) == MC_LD_EF && sizeof(mc_slot_rec) == MC_LD_SLOT &&
               MC_LD_EFS == MC_MAX_EFS, "mc_card.ld sizes");

#define LD_BAD  1    /* 6A80: the image is refused, parsing stops */
#define LD_ROOM 2    /* 6A84 unless the image is bad: nothing more is written */
/* seen: the tags met, by their place in begin_tlv's table: bits 0-8 those
 * of the current EF template, 9-13 the image's, 14-17 the PIN policy's.
 * tpl: the template being read: none, the PIN policy (A0), an EF's (A3). */
#define IN_PIN  1u
#define IN_EF   2u
#define TOP(b)  ((b) << 9)   /* the image's tag bits: 4F 1, A0 2, A1 4, A2 8, A3 16 */
#define PIN(b)  ((b) << 14)  /* the PIN policy's: 80 1, 81 2, 82 4, 83 8 */

#define EFS(L)  ((mc_ef_rec *)(void *)(L)->efs)
#define SLOT(L) ((mc_slot_rec *)(void *)(L)->slot)

/* Bytes an EF occupies in its region: a record EF keeps rec_count + 1 slots
 * of its records plus 8, each rounded up to whole pages (docs/nvm.md). */
MC_NOINLINE static uint32_t mc_ef_span(const mc_ef_rec *e)
{
    return e->type == MC_EF_TRANSPARENT ? mc_get16(e->size)
                                        : (e->rec_count + 1u) * MC_REC_STRIDE(e->rec_len);
}

uint32_t mc_ld_end(mc_card *card)
{
    mc_ld *L = &card->ld;
    return L->data + L->clen[L->ef_n];
}

/* EF content into the region at offset at: within the gap, and never over
 * the unread part of a staged chained block (mc_load.c). */
static mc_status put(mc_card *card, mc_ld *L, uint32_t at, const uint8_t *d, uint32_t n)
{
    if (L->err)
        return MC_OK;
    if (at + n > card->load_cap ||
        (at < card->chain_end && at + n > card->chain_rd)) {
        L->err = LD_ROOM;
        return MC_OK;
    }
    return mc_store_write_direct(card, card->load_off + at, d, n);
}

static bool rule_valid(uint8_t r)
{
    return r == MC_RULE_SM || r == MC_RULE_PIN || r == MC_RULE_NEVER;
}

/* The EF template that just ended: checked, laid out. */
MC_NOINLINE static bool close_ef(mc_ld *L)
{
    mc_ef_rec *e = &EFS(L)[L->ef_n], *f;
    unsigned seen = L->seen, fid = mc_get16(e->fid);
    uint32_t size = mc_get16(e->size);

    L->seen = seen & ~0x1FFu;
    if ((seen & 0x0C5) != 0x0C5 || ((seen & 0x002) && (e->sfi < 1 || e->sfi > 30)))
        return false;
    if (!rule_valid(e->read_rule) || !rule_valid(e->write_rule))
        return false;
    if (fid == 0x3F00 || fid == 0x3FFF || fid == 0xFFFF)
        return false;
    if (e->type == MC_EF_TRANSPARENT) {
        if ((seen & 0x038) != 0x008 || size < 1 || size > 32767 ||
            L->clen[L->ef_n] > size)
            return false;
    } else if (e->type == MC_EF_LINEAR || e->type == MC_EF_CYCLIC) {
        if ((seen & 0x138) != 0x030 || e->rec_len < 1 || e->rec_len > 254 || e->rec_count < 1 ||
            e->rec_count > 254)
            return false;
        mc_put16(e->size, (uint32_t)e->rec_len * e->rec_count);
        /* its slots start on a page (the region does): no slot shares a
         * page with anything else (docs/nvm.md, "Pages") */
        L->data = (L->data + MC_STORE_PAGE - 1u) & ~(MC_STORE_PAGE - 1u);
    } else {
        return false;
    }
    /* FIDs and SFIs unique inside the AP */
    for (f = EFS(L); f < e; f++)
        if (mc_get16(f->fid) == fid || (e->sfi && e->sfi == f->sfi))
            return false;
    mc_put32(e->data_off, L->data);
    L->data += mc_ef_span(e);
    L->ef_n++;
    return true;
}

/* The PIN policy (A0) that just ended: 80 tries, 81 min, 82 max, each
 * once, and 83 the initial PIN, if any (value_done stored them). */
MC_NOINLINE static bool close_pin(mc_ld *L)
{
    mc_slot_rec *s = SLOT(L);
    unsigned seen = L->seen;

    if ((seen & PIN(7)) != PIN(7) || s->pin_max_tries < 1 || s->pin_max_tries > 3 ||
        s->pin_min < 4 || s->pin_max > 12 || s->pin_min > s->pin_max ||
        (s->pin_len && !mc_pin_fits(s, s->pin, s->pin_len)))
        return false;
    s->pin_tries = s->pin_max_tries;
    return true;
}

/* Where each EF field ends in mc_ef_rec, less 2, in begin_tlv's tag order
 * (a value of n bytes ends 2 - n bytes further: 83 fid, 80 size; 53 none). */
static const uint8_t ef_field[9] = { 0, 1, 2, 8, 3, 4, 5, 6, 0 };
_Static_assert(offsetof(mc_ef_rec, sfi) == 2 && offsetof(mc_ef_rec, type) == 3 &&
               offsetof(mc_ef_rec, size) == 8 && offsetof(mc_ef_rec, rec_len) == 4 &&
               offsetof(mc_ef_rec, write_rule) == 7, "ef_field");

/* A small value is complete in ld.val. */
MC_NOINLINE static bool value_done(mc_card *card, mc_ld *L)
{
    mc_slot_rec *s = SLOT(L);
    mc_ef_rec *e = &EFS(L)[L->ef_n];
    uint8_t *v = L->val, kcv[9];
    size_t n = L->vn;
    unsigned fi = L->fi;
    bool ok = true;

    /* (by ranges: a switch's table would link libgcc's case helper) */
    if (fi < 9) {
        /* an EF field (begin_tlv checked its length) into its place in the
         * EF record, a 1-byte size right-aligned; 53: the content is in NVM
         * (none in val: n is 0) */
        memcpy((uint8_t *)e + ef_field[fi] + 2 - n, v, n);
    } else if (fi >= 14) {
        /* A0's 80, 81, 82: one byte each, in this order in the record; 83
         * the initial PIN */
        if (fi == 17)
            mc_pin_set(s, v, n);
        else
            ((uint8_t *)s)[offsetof(mc_slot_rec, pin_max_tries) + fi - 14] = v[0];
    } else if (fi == 9) {
        /* 4F (5 to 16 bytes: begin_tlv) */
        s->aid_len = (uint8_t)n;
        memcpy(s->aid, v, n);
    } else if (fi == 11) {
        /* A1 */
        ok = mc_parse_keyset(card, v, n, &s->keys, kcv) == MC_SW_OK;
    } else {
        /* A2: { 80 01 level } (3 bytes: begin_tlv) */
        ok = v[0] == 0x80 && v[1] == 1 && mc_level_valid(v[2]);
        s->min_level = v[2];
    }
    cm_wipe(v, MC_LD_VAL);
    L->vn = 0;
    return ok;
}

/* A TLV header is complete: tag and value length. */
static bool begin_tlv(mc_ld *L, unsigned tag, uint32_t len)
{
    /* the EF template's tags (seen bits 0-8), the image's (9-13), the PIN
     * policy's (14-17), and the lengths each may have (lmax 0: any) */
    static const uint8_t tags[18] = { 0x83, 0x88, 0x82, 0x80, 0x84, 0x85, 0x86, 0x87, 0x53,
                                      0x4F, 0xA0, 0xA1, 0xA2, 0xA3, 0x80, 0x81, 0x82, 0x83 };
    static const uint8_t lmin[18] = { 2, 1, 1, 1, 1, 1, 1, 1, 0, 5, 1, 1, 3, 0, 1, 1, 1, 1 };
    static const uint8_t lmax[18] = { 2, 1, 1, 2, 1, 1, 1, 1, 0, 16, MC_LD_VAL, MC_LD_VAL, 3,
                                      0, 1, 1, 1, 12 };
    /* where each context's tags are: the image's, A0's, A3's */
    static const uint8_t first[3] = { 9, 14, 0 }, last[3] = { 14, 18, 9 };
    unsigned seen = L->seen, tpl = L->tpl, i = first[tpl], end = last[tpl];

    for (;; i++) {
        if (i == end)
            return false;
        if (tags[i] == tag)
            break;
    }
    L->fi = (uint8_t)i;
    L->tag = (uint8_t)tag;
    L->left = len;
    /* each tag once, but A3 */
    if ((seen >> i & 1) && i != 13)
        return false;
    seen |= 1u << i;
    L->seen = seen;
    if ((tpl && len > L->tleft) || len < lmin[i] || (lmax[i] && len > lmax[i]))
        return false;
    if (i == 10 || i == 13) {
        /* A0, A3: their TLVs are read as they come */
        if (i == 13 && L->ef_n >= MC_MAX_EFS)
            return false;
        L->tpl = i == 13 ? IN_EF : IN_PIN;
        L->tleft = len;
        L->tag = 0;
    }
    return true;
}

/* A header byte is in hdr: header incomplete, complete (begin_tlv), or bad. */
static bool header_byte(mc_ld *L)
{
    const uint8_t *h = L->hdr;
    unsigned n = L->hn;

    if ((h[0] & 0x1F) == 0x1F)
        return false;
    if (n < 2 || (h[1] == 0x81 && n < 3) || (h[1] == 0x82 && n < 4))
        return L->tpl == 0 || L->tleft > 0;
    if (h[1] > 0x82 || h[1] == 0x80)
        return false;
    L->hn = 0;
    return begin_tlv(L, h[0], h[1] < 0x80 ? h[1] : h[1] == 0x81 ? h[2] : mc_get16(h + 2));
}

mc_status mc_ld_feed(mc_card *card, const uint8_t *d, size_t len)
{
    mc_ld *L = &card->ld;
    mc_status st = MC_OK;
    uint32_t n;

    MC_OPAQUE(L);

    while (len > 0 && st == MC_OK && L->err != LD_BAD) {
        if (L->tag == 0) {
            L->hdr[L->hn++] = *d++;
            len--;
            L->tleft--;   /* meaningful inside a template only */
            if (!header_byte(L))
                goto bad;
        } else {
            n = L->left < len ? L->left : (uint32_t)len;
            if (L->tag == 0x53) {
                st = put(card, L, L->data + L->clen[L->ef_n], d, n);
                L->clen[L->ef_n] += (uint16_t)n;
            } else {
                memcpy(L->val + L->vn, d, n);
                L->vn += (uint8_t)n;
            }
            L->left -= n;
            L->tleft -= n;
            d += n;
            len -= n;
        }
        /* A value complete (or empty); a template ended.  (Inside one, no
         * value is longer than what is left of it, so none is open when
         * nothing is left, nor is a header: header_byte refused it.) */
        if (L->tag != 0 && L->left == 0) {
            if (!value_done(card, L))
                goto bad;
            L->tag = 0;
        }
        if (L->tpl && L->tleft == 0) {
            n = L->tpl;
            L->tpl = 0;
            if (!(n == IN_EF ? close_ef(L) : close_pin(L)))
                goto bad;
        }
        continue;
bad:
        /* refused: parsing stops (mc_install answers 6A80) */
        L->err = LD_BAD;
    }
    return st;
}

static bool prefix_clash(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return memcmp(a, b, al < bl ? al : bl) == 0;
}

/* AID rules (§2, §4): not the AM AID, no prefix relation with any AID
 * (6A89); then a free slot (6A84) and the next load sequence number. */
static mc_sw pick_slot(mc_card *card, const mc_slot_rec *n, unsigned *slot, uint32_t *seq)
{
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    uint32_t ls;
    unsigned i;
    bool used;
    mc_status st;

    MC_OPAQUE(s);
    if (prefix_clash(n->aid, n->aid_len, mc_am_aid, MC_AM_AID_LEN))
        return MC_SW_ALREADY_EXISTS;
    *slot = MC_MAX_APS;
    *seq = 1;
    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        if (st != MC_OK)
            return mc_sw_of(st);
        if (!used && *slot == MC_MAX_APS)
            *slot = i;
        if (used && prefix_clash(n->aid, n->aid_len, s->aid, s->aid_len))
            return MC_SW_ALREADY_EXISTS;
        ls = mc_get32(s->load_seq);
        if (used && ls >= *seq)
            *seq = ls + 1;
    }
    return *slot < MC_MAX_APS ? MC_SW_OK : MC_SW_NO_SPACE;
}

/* The table of the EFs and the parts of their data that no content wrote:
 * zeros after a transparent EF's initial content, erased slots of a record
 * EF (all FF: a CRC-32 that never matches, docs/nvm.md), written only where
 * the free space does not hold them already. */
MC_NOINLINE static mc_status write_region(mc_card *card, mc_ld *L, uint32_t base, unsigned n)
{
    mc_ef_rec *e = EFS(L);
    uint32_t at, clen;
    unsigned i;
    mc_status st = MC_OK;

    for (i = 0; st == MC_OK && i < n; i++, e++) {
        at = base + mc_get32(e->data_off);
        clen = L->clen[i];   /* 0 for a record EF (close_ef: no 53) */
        st = mc_store_fill_lazy(card, at + clen, e->type == MC_EF_TRANSPARENT ? 0x00 : 0xFF,
                          mc_ef_span(e) - clen);
        mc_seal(e, sizeof(*e), MC_MAGIC_EF);
    }
    if (st == MC_OK && n)
        st = mc_store_write_direct(card, base + L->data, EFS(L), n * sizeof(*e));
    return st;
}

mc_sw mc_install(mc_card *card)
{
    mc_ld *L = &card->ld;
    mc_slot_rec *s;
    unsigned slot = MC_MAX_APS, n;
    uint32_t seq = 0, hwm = 0, need;
    mc_status st = MC_OK;
    mc_sw sw;

    MC_OPAQUE(L);
    s = SLOT(L);
    MC_OPAQUE(s);
    n = L->ef_n;
    need = L->data + n * (uint32_t)sizeof(mc_ef_rec);

    /* Refused, or it ended inside a TLV, or lacks AID, PIN policy or key
     * set (the load is dropped then: card->ld is wiped). */
    if (L->err == LD_BAD || L->hn || L->tag || L->tpl || (L->seen & TOP(7)) != TOP(7))
        return MC_SW_WRONG_DATA;
    sw = pick_slot(card, s, &slot, &seq);
    if (sw == MC_SW_OK && (L->err || need > card->load_cap))
        sw = MC_SW_NO_SPACE;
    if (sw == MC_SW_OK)
        st = mc_seq_hwm(card, &hwm);
    if (sw != MC_SW_OK || st != MC_OK)
        return sw != MC_SW_OK ? sw : mc_sw_of(st);
    s->state = MC_AP_ACTIVE;
    s->ef_count = (uint8_t)n;
    if (!(L->seen & TOP(8)))
        s->min_level = 0x33;   /* no A2: the default */
    mc_put32(s->load_seq, seq);
    mc_put32(s->region_off, need ? card->load_off : 0);
    mc_put32(s->region_len, need);
    mc_put24(s->keys.seq_base, hwm);
    st = write_region(card, L, card->load_off, n);
    /* The one journaled step: the slot record and its log entry.  Then the
     * mark is cleared by a direct write: from the commit on the region is
     * visible, so a cut before the clear only makes recovery wipe free
     * space, which no longer holds it (docs/nvm.md).  Journaling the clear
     * would cost the wipe record's page twice (page-sized records). */
    sw = st == MC_OK ? mc_slot_commit(card, slot, s, MC_EV_AP_LOADED) : mc_sw_of(st);
    if (sw == MC_SW_OK)
        sw = mc_sw_of(mc_load_mark(card, 0, 0));
    if (sw != MC_SW_OK)
        return sw;
    /* Installed: the region is no longer ours to wipe. */
    card->load_active = false;
    card->load_marked = false;
    cm_wipe(L, sizeof(*L));
    return MC_SW_OK;
}
