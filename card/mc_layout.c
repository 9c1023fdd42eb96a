/* mc_layout.c: the logical layout of the store's data space.
 *
 *   security log (33 slots, one per page) | area record | wipe record | AP slots (16) | heap
 *
 * The heap holds one region per AP (its EF data, then its EF table) and,
 * while a LOAD AP runs, the region being written in free space.  Every metadata record
 * is sealed with a magic byte and a CRC-16 and checked on every read; data
 * (EF contents) is not.  A new AP's region goes to the start of the largest
 * free run of the heap, on a page of its own (mc_heap_run). */
#include "mc_int.h"
#include "cm_ct.h"
#include "crc.h"
#include "port.h"

const uint8_t mc_am_aid[MC_AM_AID_LEN] = { 0xF0, 0x4D, 0x4E, 0x41, 0x50, 0x41, 0x4D };

void mc_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void mc_put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    mc_put16(p + 1, v);
}

void mc_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    mc_put24(p + 1, v);
}

uint32_t mc_get16(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

uint32_t mc_get24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | mc_get16(p + 1);
}

uint32_t mc_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | mc_get24(p + 1);
}

/* Every record ends with magic (1) and CRC (2). */
void mc_seal(void *rec, size_t size, uint8_t magic)
{
    uint8_t *p = rec;

    p[size - 3] = magic;
    mc_put16(p + size - 2, mc_crc16(p, size - 2));
}

bool mc_check(const void *rec, size_t size, uint8_t magic)
{
    const uint8_t *p = rec;

    return p[size - 3] == magic && mc_get16(p + size - 2) == mc_crc16(p, size - 2);
}

/* Reads a record and checks it against one of two magics. */
static mc_status read_rec(mc_card *card, uint32_t off, void *rec, size_t size, uint8_t magic,
                          uint8_t alt_magic, bool *is_alt)
{
    mc_status st = mc_store_read(card, off, rec, size);

    if (st != MC_OK)
        return st;
    if (is_alt != NULL)
        *is_alt = mc_check(rec, size, alt_magic);
    if (mc_check(rec, size, magic) || (is_alt != NULL && *is_alt))
        return MC_OK;
    card->corrupt = true;
    return MC_ERR_CORRUPT;
}

mc_status mc_rec_direct(mc_card *card, uint32_t off, void *rec, size_t size, uint8_t magic)
{
    mc_seal(rec, size, magic);
    return mc_store_write_direct(card, off, rec, size);
}

static mc_status write_rec(mc_card *card, uint32_t off, void *rec, size_t size, uint8_t magic)
{
    mc_seal(rec, size, magic);
    return mc_store_write(card, off, rec, size);
}

mc_status mc_area_read(mc_card *card, mc_area_rec *a)
{
    return read_rec(card, MC_OFF_AREA, a, sizeof(*a), MC_MAGIC_AREA, 0, NULL);
}

mc_status mc_area_write(mc_card *card, mc_area_rec *a)
{
    return write_rec(card, MC_OFF_AREA, a, sizeof(*a), MC_MAGIC_AREA);
}

_Static_assert(sizeof(mc_wipe_rec) == 4 + 4 + 1 + 2, "mc_wipe_rec: offset, length, seal");

mc_status mc_wipe_write(mc_card *card, uint32_t off, uint32_t len, bool direct)
{
    mc_wipe_rec w;   /* every byte set: offset, length, then the seal */

    mc_put32(w.off, off);
    mc_put32(w.len, len);
    mc_seal(&w, sizeof(w), MC_MAGIC_WIPE);
    if (direct)
        return mc_store_flushed(card, mc_store_write_direct(card, MC_OFF_WIPE, &w, sizeof(w)));
    return mc_store_write(card, MC_OFF_WIPE, &w, sizeof(w));
}

/* The PIN try counter of an AP slot is a wear-levelled counter of the store
 * (counter MC_STORE_COUNTERS + slot, docs/nvm.md): each spent try adds 1, a
 * restore raises it to the next value whose distance from the record's base
 * is a multiple of 4.  The record keeps the base (the counter's value mod 4
 * when no try was spent), so tries spent = (counter - base) mod 4 (max tries
 * is at most 3, §6).  In RAM the record holds the tries left instead: read
 * converts, write converts back, so a record written in a transaction (PUT
 * KEY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) sets the tries left
 * atomically with the rest of it. */
mc_status mc_slot_read(mc_card *card, unsigned slot, mc_slot_rec *s, bool *used)
{
    bool is_free = false;
    uint32_t v;
    unsigned spent;
    mc_status st = read_rec(card, MC_OFF_SLOTS + slot * (uint32_t)sizeof(*s), s, sizeof(*s),
                            MC_MAGIC_SLOT, MC_MAGIC_FREE, &is_free);

    *used = st == MC_OK && !is_free;
    if (!*used)
        return st;
    st = mc_store_counter_get(card, MC_STORE_COUNTERS + slot, &v);
    spent = (v - s->pin_tries) & 3u;
    s->pin_tries = (uint8_t)(spent < s->pin_max_tries ? s->pin_max_tries - spent : 0);
    return st;
}

mc_status mc_slot_write(mc_card *card, unsigned slot, mc_slot_rec *s)
{
    uint8_t tries = s->pin_tries;
    uint32_t v;
    mc_status st = mc_store_counter_get(card, MC_STORE_COUNTERS + slot, &v);

    if (st != MC_OK)
        return st;
    s->pin_tries = (uint8_t)((v - (uint32_t)(s->pin_max_tries - tries)) & 3u);
    st = write_rec(card, MC_OFF_SLOTS + slot * (uint32_t)sizeof(*s), s, sizeof(*s),
                   MC_MAGIC_SLOT);
    s->pin_tries = tries;
    return st;
}

mc_sw mc_slot_commit(mc_card *card, unsigned slot, mc_slot_rec *s, uint8_t event)
{
    mc_status st = mc_store_begin(card);

    if (st == MC_OK)
        st = mc_slot_write(card, slot, s);
    if (st == MC_OK && event != 0)
        st = mc_log_add(card, event, s->aid, s->aid_len);
    return mc_sw_of(mc_store_end(card, st));
}

mc_status mc_slot_free(mc_card *card, unsigned slot)
{
    mc_slot_rec s;

    memset(&s, 0, sizeof(s));
    return write_rec(card, MC_OFF_SLOTS + slot * (uint32_t)sizeof(s), &s, sizeof(s),
                     MC_MAGIC_FREE);
}

/* The EF table closes the region (mc_install.c writes the data first). */
static uint32_t ef_off(const mc_slot_rec *s, unsigned idx)
{
    return mc_get32(s->region_off) + mc_get32(s->region_len) -
           (s->ef_count - idx) * (uint32_t)sizeof(mc_ef_rec);
}

mc_status mc_ef_read(mc_card *card, const mc_slot_rec *s, unsigned idx, mc_ef_rec *e)
{
    return read_rec(card, ef_off(s, idx), e, sizeof(*e), MC_MAGIC_EF, 0, NULL);
}

mc_status mc_find_aid(mc_card *card, const uint8_t *aid, size_t aid_len, unsigned *slot,
                      mc_slot_rec *s, bool skip_corrupt)
{
    unsigned i;
    bool used;
    mc_status st;

    *slot = MC_MAX_APS;
    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        if (st == MC_ERR_NVM || (st != MC_OK && !skip_corrupt))
            return st;
        if (st == MC_OK && used && s->aid_len == aid_len && memcmp(s->aid, aid, aid_len) == 0) {
            *slot = i;
            return MC_OK;
        }
    }
    return MC_OK;
}

/* Candidate starts are from and every region end at or above it, rounded
 * up to a page (MC_STORE_PAGE: regions share no page, so a torn page of one
 * region, or of a load's staged space, never spoils another); the run from
 * a candidate that lies in no region goes to the nearest region start above
 * it; the lowest such candidate wins (whatever the order they are tried
 * in: the same candidate gives the same run).  Every region starts on a page: at
 * MC_OFF_HEAP or at such a candidate (load_begin, mc_load.c). */
mc_status mc_heap_run(mc_card *card, uint32_t from, uint32_t *run_off, uint32_t *run_len)
{
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    struct {
        uint32_t off, len;
    } r[MC_MAX_APS];   /* the regions (len 0: a free slot) */
    uint32_t end = mc_store_data_size(card), c, lim;
    unsigned i, j;
    bool used;
    mc_status st = MC_OK;

    *run_off = 0;
    *run_len = 0;
    for (i = 0; i < MC_MAX_APS && st == MC_OK; i++) {
        st = mc_slot_read(card, i, s, &used);
        r[i].off = mc_get32(s->region_off);
        r[i].len = used ? mc_get32(s->region_len) : 0;
    }
    for (i = MC_MAX_APS + 1; i-- != 0 && st == MC_OK;) {
        c = i == MC_MAX_APS ? from
                            : (r[i].off + r[i].len + MC_STORE_PAGE - 1u) & ~(MC_STORE_PAGE - 1u);
        if ((i < MC_MAX_APS && r[i].len == 0) || c < from || c >= end ||
            (*run_len != 0 && c >= *run_off))
            continue;
        lim = end;
        for (j = 0; j < MC_MAX_APS; j++) {
            if (r[j].len == 0)
                continue;
            if (r[j].off <= c && c < r[j].off + r[j].len)
                break;
            if (r[j].off > c && r[j].off < lim)
                lim = r[j].off;
        }
        if (j == MC_MAX_APS) {
            *run_off = c;
            *run_len = lim - c;
        }
    }
    return st;
}

mc_status mc_seq_get(mc_card *card, unsigned idx, const mc_keyrec *k, uint32_t *value)
{
    uint32_t v, base = mc_get24(k->seq_base);
    mc_status st = mc_store_counter_get(card, idx, &v);

    if (st != MC_OK)
        return st;
    *value = v > base ? v : base;
    return MC_OK;
}

mc_status mc_seq_hwm(mc_card *card, uint32_t *hwm)
{
    mc_area_rec *a = (mc_area_rec *)(void *)card->scratch;
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    uint32_t v, m = 0;
    unsigned i;
    bool used;
    mc_status st;

    MC_OPAQUE(a);
    MC_OPAQUE(s);
    /* Counters of free slots count too: they are never reset (§3). */
    for (i = MC_STORE_COUNTERS; i-- != 0;) {
        st = mc_store_counter_get(card, i, &v);
        if (st != MC_OK)
            return st;
        if (v > m)
            m = v;
    }
    st = mc_area_read(card, a);
    if (st != MC_OK)
        return st;
    if (mc_get24(a->am.seq_base) > m)
        m = mc_get24(a->am.seq_base);
    for (i = 0; i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        if (st != MC_OK)
            return st;
        if (used && mc_get24(s->keys.seq_base) > m)
            m = mc_get24(s->keys.seq_base);
    }
    cm_wipe(card->scratch, sizeof(card->scratch));
    *hwm = m;
    return MC_OK;
}

mc_status mc_wipe_now(mc_card *card, uint32_t off, uint32_t len)
{
    mc_status st = mc_store_fill_lazy(card, off, 0xFF, len);

    if (st != MC_OK)
        return st;
    st = mc_store_begin(card);
    if (st == MC_OK)
        st = mc_wipe_write(card, 0, 0, false);
    return mc_store_end(card, st);
}

void mc_aes(mc_card *card, cm_aes *aes)
{
    aes->fn = mc_port_aes;
    aes->ctx = card;
}
