/* mc_file.c: the file commands of an AP (PROTOCOL.md §5): READ / UPDATE
 * BINARY, READ / UPDATE / APPEND RECORD.  Files are reached only inside the
 * selected AP (F3), through its current EF or a short EF identifier, under
 * the EF's read or write rule. */
#include "mc_int.h"
#include "cm_ct.h"
#include "crc.h"
#include "port.h"

/* Which command, for the checks shared by all five. */
#define F_READ   0x01
#define F_RECORD 0x02
_Static_assert(F_READ == 1 && offsetof(mc_ef_rec, read_rule) + 1 == offsetof(mc_ef_rec, write_rule),
               "access rule by F_READ");

/* Finds the AP's EF whose FID is fid (not NULL: SELECT EF) or whose SFI is
 * sfi, and makes it current; 6A82 when there is none. */
mc_sw mc_ef_find(mc_card *card, const mc_slot_rec *s, const uint8_t *fid, unsigned sfi,
                 mc_ef_rec *e)
{
    unsigned i;
    mc_status st;

    for (i = 0; i < s->ef_count; i++) {
        st = mc_ef_read(card, s, i, e);
        if (st != MC_OK)
            return mc_sw_of(st);
        if (fid != NULL ? memcmp(e->fid, fid, 2) == 0 : e->sfi == sfi) {
            card->ef = (uint8_t)i;
            return MC_SW_OK;
        }
    }
    return MC_SW_NOT_FOUND;
}

/* Finds the EF by SFI (making it current) or takes the current one. */
static mc_sw resolve(mc_card *card, const mc_slot_rec *s, unsigned sfi, mc_ef_rec *e)
{
    /* No SFI: the current EF, which mc_gate (MC_G_NOEF) found set. */
    if (sfi == 0)
        return mc_sw_of(mc_ef_read(card, s, card->ef, e));
    return mc_ef_find(card, s, NULL, sfi, e);
}

static mc_sw access_ok(const mc_card *card, const mc_slot_rec *s, uint8_t rule)
{
    if (rule == MC_RULE_SM)
        return MC_SW_OK;
    if (rule != MC_RULE_PIN)
        return MC_SW_SECURITY_STATUS;
    if (s->pin_tries == 0)
        return MC_SW_AUTH_BLOCKED;       /* AP BLOCKED: PIN-rule files (§5) */
    return card->pin_ok ? MC_SW_OK : MC_SW_SECURITY_STATUS;
}

/* Reads n bytes of EF data into the response. */
static mc_sw read_out(mc_card *card, mc_cmd *c, uint32_t off, uint32_t avail)
{
    uint32_t n = avail;

    if (n > c->ne)
        n = c->ne;
    if (n > MC_MAX_RESPONSE_DATA)
        n = MC_MAX_RESPONSE_DATA;
    c->rlen = n;
    return mc_sw_of(mc_store_read(card, off, card->buf, n));
}

/* UPDATE BINARY: one journaled transaction (it overwrites in place). */
static mc_sw write_tx(mc_card *card, uint32_t off, const uint8_t *d, size_t len)
{
    mc_status st = mc_store_begin(card);

    if (st == MC_OK)
        st = mc_store_write(card, off, d, len);
    return mc_sw_of(mc_store_end(card, st));
}

/* Record EFs commit their records themselves (docs/nvm.md): rec_count + 1
 * slots of data, sequence number (3), record number (1; linear fixed only,
 * cyclic EFs order by sequence number), CRC-32 (4) over the rest; a slot is valid when its CRC-32 matches
 * and its sequence number is not 0.  A write goes once into a slot that is
 * not visible (the spare); a torn slot fails its check and is ignored.
 * Each slot starts on a page and owns its pages (MC_REC_STRIDE): a torn
 * page spoils only the spare.  The write is still the slot's own bytes. */
#define REC_OVH MC_REC_OVH
/* slot_get reads a slot (a record of at most 254 bytes and its overhead)
 * behind the first 256 bytes of card->buf, where the command's plain data
 * (a record at most) stays. */
_Static_assert(MC_BUF_SIZE >= 256 + 254 + MC_REC_OVH, "card->buf too small for a record slot");

/* Where slot i of the EF whose slots start at base is. */
static uint32_t slot_at(const mc_ef_rec *e, uint32_t base, unsigned i)
{
    return base + i * MC_REC_STRIDE(e->rec_len);
}

/* The slot at "at": its sequence number (0: invalid) and record number as
 * one word, seq << 8 | recno, the slot's last four bytes before its CRC.
 * The slot is read into card->buf behind the command data (a record is at
 * most 254 bytes). */
static mc_status slot_get(mc_card *card, const mc_ef_rec *e, uint32_t at, uint32_t *sr)
{
    uint8_t *b = card->buf + 256;
    uint32_t n = e->rec_len + 4u;
    mc_status st = mc_store_read(card, at, b, n + 4u);

    *sr = st == MC_OK && mc_get32(b + n) == mc_crc32(b, n) ? mc_get32(b + n - 4) : b[n - 1];
    return st;
}

/* Computes the visible state; want: a record number (0: none).  Two passes
 * over the slots: the highest sequence number and the records present, then
 * the wanted record and the spare. */
static inline __attribute__((always_inline)) mc_status rec_scan(mc_card *card,
                                                                 const mc_ef_rec *e,
                                                                 uint32_t base, unsigned want,
                                                                 mc_rec_view *v)
{
    unsigned n = e->rec_count + 1u, i, top_rec = 0, pass;
    uint32_t seq, best = 0, sr, top = 0;   /* top, set at the end */
    unsigned r;
    bool cyc = e->type == MC_EF_CYCLIC;
    mc_status st = MC_OK;

    v->used = 0;
    v->found = n;
    v->spare = n;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; st == MC_OK && i < n; i++) {
            st = slot_get(card, e, slot_at(e, base, i), &sr);
            seq = sr >> 8;
            r = sr & 0xFFu;
            if (seq == 0) {
                if (pass && v->spare == n)
                    v->spare = i;
            } else if (!pass) {
                if (seq > top) {
                    top = seq;
                    top_rec = r;
                }
                if (!cyc && r > v->used)
                    v->used = r;
            } else {
                /* want 0 matches no slot: cyclic, top + 1; linear, record 0 */
                if (cyc ? seq == top - (want - 1u) : r == want && seq > best) {
                    v->found = i;
                    best = seq;
                }
                /* Cyclic: the oldest, top - rec_count (not visible).
                 * Linear: before an invalid slot, the stale version of the
                 * record written last; taking it first keeps it the only
                 * stale slot there can be (docs/nvm.md). */
                if (cyc ? seq == top - e->rec_count : r == top_rec && seq != top)
                    v->spare = i;
            }
        }
    }
    v->top = top;
    /* Cyclic: sequence numbers 1, 2, ... (a torn slot takes none), so
     * top - rec_count is the one valid slot that is not visible. */
    if (cyc)
        v->used = top < e->rec_count ? top : e->rec_count;
    /* A record present but not found, or no spare: damage. */
    if (st == MC_OK && ((want - 1u < v->used && v->found == n) || v->spare == n))
        st = MC_ERR_CORRUPT;
    return st;
}

/* The same, for the debug dump (mc_debug.c). */
mc_status mc_rec_scan(mc_card *card, const mc_ef_rec *e, uint32_t base, unsigned want,
                      mc_rec_view *v)
{
    return rec_scan(card, e, base, want, v);
}

mc_sw mc_cmd_file(mc_card *card, mc_cmd *c)
{
    /* The slot record holds the AP's keys and PIN: it goes with the stack
     * scrub after the command (mc_scrub_stack, mc_apdu.c). */
    mc_slot_rec sr, *s = &sr;
    mc_ef_rec e;
    unsigned kind, sfi = 0, rec = 0;
    uint32_t off = 0, base;
    mc_sw sw;

    switch (c->ins) {
    case 0xB0:
    case 0xD6:
        kind = 0;
        if (c->p1 & 0x80) {
            if (c->p1 - 0x81u > 0x9Fu - 0x81u)   /* 100x xxxx, SFI not 0 */
                return MC_SW_WRONG_P1P2;
            sfi = c->p1 & 0x1F;
            off = c->p2;
        } else {
            off = ((uint32_t)c->p1 << 8) | c->p2;
        }
        break;
    default: /* 0xB2, 0xDC by record number (P2 xxxxx100); 0xE2 APPEND (P1 00, P2 xxxxx000) */
        kind = F_RECORD;
        /* Record 00 (ISO: the current record) is never one of ours (§5);
         * SFI 1F is RFU.  P2's low bits and "P1 is 00" (bit 3) in one
         * compare: APPEND 08, the others 04. */
        if (((c->p2 & 0x07u) | (c->p1 == 0 ? 0x08u : 0u)) != (c->ins == 0xE2 ? 0x08u : 0x04u) ||
            (c->p2 >> 3) == 0x1F)
            return MC_SW_WRONG_P1P2;
        sfi = c->p2 >> 3;
        rec = c->p1;
        break;
    }
    /* The reads, B0 and B2, are the two INS without bit 0x40 (of B0, D6,
     * B2, DC, E2: the command table's rows for this handler). */
    kind |= (~(unsigned)c->ins >> 6) & F_READ;
    /* (too long: has_data, lc 0) */
    if ((kind & F_READ) ? (c->has_data || !c->has_le) : c->lc == 0)
        return MC_SW_WRONG_LENGTH;
    sw = mc_gate(card, sfi ? c->gate & ~MC_G_NOEF : c->gate, NULL, s);
    if (sw == MC_SW_OK)
        sw = resolve(card, s, sfi, &e);
    if (sw != MC_SW_OK)
        return sw;
    if (((kind & F_RECORD) != 0) != (e.type != MC_EF_TRANSPARENT) ||
        (c->ins == 0xDC && e.type == MC_EF_CYCLIC))
        return MC_SW_INCOMPATIBLE_FILE;
    /* the read rule for a read (F_READ 1), the write rule behind it else */
    sw = access_ok(card, s,
                   ((const uint8_t *)&e)[offsetof(mc_ef_rec, write_rule) - (kind & F_READ)]);
    if (sw != MC_SW_OK)
        return sw;
    base = mc_get32(s->region_off) + mc_get32(e.data_off);
    if (!(kind & F_RECORD)) {
        uint32_t size = mc_get16(e.size);
        /* a read (no data: lc 0) needs a byte at off, a write room for lc */
        if (off + c->lc + (kind & F_READ) > size)
            return MC_SW_WRONG_OFFSET;
        if (kind & F_READ)
            return read_out(card, c, base + off, size - off);
        return write_tx(card, base + off, c->data, c->lc);
    }
    if (!(kind & F_READ) && c->lc != e.rec_len)
        return MC_SW_WRONG_LENGTH;
    {
        mc_rec_view v;
        mc_status st = rec_scan(card, &e, base, rec, &v);   /* APPEND: rec 0, none */
        /* card->buf holds the command data (mc_apdu.c), room for 8 more: b,
         * the record's overhead behind it */
        uint8_t *b = card->buf + c->lc;

        if (st != MC_OK)
            return mc_sw_of(st);
        if (c->ins == 0xE2) {
            if (e.type == MC_EF_LINEAR && v.used >= e.rec_count)
                return MC_SW_NO_SPACE;
            rec = v.used + 1u; /* cyclic: kept, never read */
        } else if (rec > v.used) {
            return MC_SW_RECORD_NOT_FOUND;
        }
        /* A read: the record's slot.  A write: the new version, once, into
         * the spare (no journal). */
        base = slot_at(&e, base, (kind & F_READ) ? v.found : v.spare);
        if (kind & F_READ)
            return read_out(card, c, base, e.rec_len);
        if (v.top >= 0xFFFFFFu)
            return MC_SW_NO_SPACE;
        mc_put24(b, v.top + 1u);
        b[3] = (uint8_t)rec;
        mc_put32(b + 4, mc_crc32(card->buf, c->lc + 4));
        st = mc_store_write_direct(card, base, card->buf, c->lc + REC_OVH);
        return mc_sw_of(mc_store_flushed(card, st));
    }
}
