/* mc_file.c: the file commands of an AP (PROTOCOL.md §5): READ / UPDATE
 * BINARY, READ / UPDATE / APPEND RECORD.  Files are reached only inside the
 * selected AP (F3), through its current EF or a short EF identifier, under
 * the EF's read or write rule. */
#include "mc_int.h"
#include "cm_ct.h"

/* Which command, for the checks shared by all five. */
#define F_READ   0x01
#define F_RECORD 0x02

/* Finds the EF by SFI (making it current) or takes the current one. */
static uint16_t resolve(mc_card *card, const mc_slot_rec *s, unsigned sfi, mc_ef_rec *e)
{
    unsigned i;
    mc_status st;

    /* No SFI: the current EF, which mc_gate (MC_G_NOEF) found set. */
    if (sfi == 0)
        return mc_sw_of(mc_ef_read(card, s, card->ef, e));
    for (i = 0; i < s->ef_count; i++) {
        st = mc_ef_read(card, s, i, e);
        if (st != MC_OK)
            return mc_sw_of(st);
        if (e->sfi == sfi) {
            card->ef = (uint8_t)i;
            return CM_SW_OK;
        }
    }
    return CM_SW_NOT_FOUND;
}

static uint16_t access_ok(const mc_card *card, const mc_slot_rec *s, uint8_t rule)
{
    if (rule == MC_RULE_SM)
        return CM_SW_OK;
    if (rule != MC_RULE_PIN)
        return CM_SW_SECURITY_STATUS;
    if (s->pin_tries == 0)
        return CM_SW_AUTH_BLOCKED;       /* AP BLOCKED: PIN-rule files (§5) */
    return card->pin_ok ? CM_SW_OK : CM_SW_SECURITY_STATUS;
}

/* Reads n bytes of EF data into the response. */
static uint16_t read_out(mc_card *card, mc_cmd *c, uint32_t off, uint32_t avail)
{
    uint32_t n = avail;

    if (n > c->ne)
        n = c->ne;
    if (n > MC_MAX_RESPONSE_DATA)
        n = MC_MAX_RESPONSE_DATA;
    c->rlen = n;
    return mc_sw_of(mc_store_read(card, off, card->buf, n));
}

/* Writes data (and the EF record when it changed) in one transaction. */
static uint16_t write_tx(mc_card *card, const mc_slot_rec *s, uint32_t off, const uint8_t *d,
                         size_t len, mc_ef_rec *e)
{
    mc_status st = mc_store_begin(card);

    if (st == MC_OK)
        st = mc_store_write(card, off, d, len);
    if (st == MC_OK && e != NULL)
        st = mc_ef_write(card, s, card->ef, e, false);
    return mc_sw_of(mc_store_end(card, st));
}

/* Physical slot of record number rec (1-based; cyclic: 1 is the newest). */
static uint32_t rec_slot(const mc_ef_rec *e, unsigned rec)
{
    if (e->type == MC_EF_CYCLIC)
        return (e->newest + e->rec_count - (rec - 1)) % e->rec_count;
    return rec - 1;
}

static uint16_t file_cmd(mc_card *card, mc_cmd *c, mc_slot_rec *s)
{
    mc_ef_rec e;
    unsigned kind, sfi = 0, rec = 0;
    uint32_t off = 0, base;
    uint16_t sw;

    switch (c->ins) {
    case 0xB0:
    case 0xD6:
        kind = c->ins == 0xB0 ? F_READ : 0;
        if (c->p1 & 0x80) {
            if ((c->p1 & 0x60) || (c->p1 & 0x1F) == 0)
                return CM_SW_WRONG_P1P2;
            sfi = c->p1 & 0x1F;
            off = c->p2;
        } else {
            off = ((uint32_t)c->p1 << 8) | c->p2;
        }
        break;
    case 0xB2:
    case 0xDC:
        kind = F_RECORD | (c->ins == 0xB2 ? F_READ : 0);
        /* Record 00 (ISO: the current record) is never one of ours (§5). */
        if ((c->p2 & 0x07) != 0x04 || (c->p2 >> 3) == 0x1F || c->p1 == 0)
            return CM_SW_WRONG_P1P2;
        sfi = c->p2 >> 3;
        rec = c->p1;
        break;
    default: /* 0xE2 APPEND RECORD */
        kind = F_RECORD;
        if (c->p1 != 0 || (c->p2 & 0x07) != 0 || (c->p2 >> 3) == 0x1F)
            return CM_SW_WRONG_P1P2;
        sfi = c->p2 >> 3;
        break;
    }
    if (c->too_long)
        return CM_SW_WRONG_LENGTH;
    if ((kind & F_READ) ? (c->has_data || !c->has_le) : c->lc == 0)
        return CM_SW_WRONG_LENGTH;
    sw = mc_gate(card, sfi ? c->gate & ~MC_G_NOEF : c->gate, NULL, s);
    if (sw == CM_SW_OK)
        sw = resolve(card, s, sfi, &e);
    if (sw != CM_SW_OK)
        return sw;
    if (((kind & F_RECORD) != 0) != (e.type != MC_EF_TRANSPARENT) ||
        (c->ins == 0xDC && e.type == MC_EF_CYCLIC))
        return CM_SW_INCOMPATIBLE_FILE;
    sw = access_ok(card, s, (kind & F_READ) ? e.read_rule : e.write_rule);
    if (sw != CM_SW_OK)
        return sw;
    base = mc_get32(s->region_off) + mc_get32(e.data_off);
    if (!(kind & F_RECORD)) {
        uint32_t size = mc_get16(e.size);
        if ((kind & F_READ) ? off >= size : off + c->lc > size)
            return CM_SW_WRONG_OFFSET;
        if (kind & F_READ)
            return read_out(card, c, base + off, size - off);
        return write_tx(card, s, base + off, c->data, c->lc, NULL);
    }
    if (!(kind & F_READ) && c->lc != e.rec_len)
        return CM_SW_WRONG_LENGTH;
    if (c->ins == 0xE2) {
        if (e.type == MC_EF_LINEAR) {
            if (e.used >= e.rec_count)
                return CM_SW_NO_SPACE;
            off = e.used;
        } else {
            off = e.used == 0 ? 0 : (e.newest + 1u) % e.rec_count;
            e.newest = (uint8_t)off;
        }
        if (e.used < e.rec_count)
            e.used++;
        return write_tx(card, s, base + off * e.rec_len, c->data, c->lc, &e);
    }
    if (rec > e.used)
        return CM_SW_RECORD_NOT_FOUND;
    off = base + rec_slot(&e, rec) * e.rec_len;
    if (kind & F_READ)
        return read_out(card, c, off, e.rec_len);
    return write_tx(card, s, off, c->data, c->lc, NULL);
}

uint16_t mc_cmd_file(mc_card *card, mc_cmd *c)
{
    mc_slot_rec s;
    uint16_t sw = file_cmd(card, c, &s);

    /* The slot record holds the AP's keys and PIN. */
    cm_wipe(&s, sizeof(s));
    return sw;
}
