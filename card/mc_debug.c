/* mc_debug.c: test-only state dump and hooks (see mc_debug.h).  Freestanding
 * like the rest of card/, but never part of a firmware's footprint. */
#include "mc_debug.h"
#include "mc_int.h"
#include "crc.h"

typedef struct dump {
    uint8_t *out;
    size_t cap;
    size_t len;
    mc_debug_sink sink;   /* instead of out, when not NULL */
    void *ctx;
} dump;

static void put(dump *d, const void *p, size_t n)
{
    size_t i;

    if (d->sink != NULL) {
        if (n > 0)
            d->sink(d->ctx, p, n);
        d->len += n;
        return;
    }
    for (i = 0; i < n; i++, d->len++)
        if (d->len < d->cap)
            d->out[d->len] = ((const uint8_t *)p)[i];
}

static void put8(dump *d, uint8_t v)
{
    put(d, &v, 1);
}

static void put32(dump *d, uint32_t v)
{
    uint8_t b[4];

    mc_put32(b, v);
    put(d, b, 4);
}

static void put_keys(dump *d, const mc_keyrec *k)
{
    put8(d, k->kvn);
    put8(d, k->key_len);
    put(d, k->enc, k->key_len);
    put(d, k->mac, k->key_len);
    put(d, k->dek, k->key_len);
}

/* Copies n bytes of EF data into the dump through a small window. */
static mc_status put_nvm(mc_card *card, dump *d, uint32_t off, uint32_t n)
{
    uint8_t tmp[64];
    uint32_t k;
    mc_status st = MC_OK;

    while (n > 0 && st == MC_OK) {
        k = n < sizeof(tmp) ? n : (uint32_t)sizeof(tmp);
        st = mc_store_read(card, off, tmp, k);
        put(d, tmp, k);
        off += k;
        n -= k;
    }
    return st;
}

static mc_status dump_ap(mc_card *card, dump *d, unsigned slot, const mc_slot_rec *s)
{
    mc_ef_rec e;
    mc_rec_view rv;
    uint32_t v, base, r, n;
    unsigned i;
    mc_status st = mc_seq_get(card, 1 + slot, &s->keys, &v);

    put8(d, 'P');
    put8(d, s->aid_len);
    put(d, s->aid, s->aid_len);
    put8(d, s->state);
    put8(d, s->min_level);
    put8(d, s->pin_max_tries);
    put8(d, s->pin_min);
    put8(d, s->pin_max);
    put8(d, s->pin_len);
    put(d, s->pin, s->pin_len);
    put8(d, s->pin_tries);
    put_keys(d, &s->keys);
    put32(d, v);
    put8(d, s->ef_count);
    for (i = 0; st == MC_OK && i < s->ef_count; i++) {
        st = mc_ef_read(card, s, i, &e);
        if (st != MC_OK)
            break;
        put(d, e.fid, 2);
        put8(d, e.sfi);
        put8(d, e.type);
        put8(d, e.rec_len);
        put8(d, e.rec_count);
        put8(d, e.read_rule);
        put8(d, e.write_rule);
        put(d, e.size, 2);
        base = mc_get32(s->region_off) + mc_get32(e.data_off);
        if (e.type == MC_EF_TRANSPARENT) {
            st = put_nvm(card, d, base, mc_get16(e.size));
            continue;
        }
        /* Records in logical order (record 1 first), as the file commands
         * see them (mc_rec_scan). */
        st = mc_rec_scan(card, &e, base, 0, &rv);
        if (st != MC_OK)
            break;
        put8(d, rv.used);
        for (r = 1, n = rv.used; st == MC_OK && r <= n; r++) {
            st = mc_rec_scan(card, &e, base, r, &rv);
            if (st == MC_OK && rv.found > e.rec_count)
                st = MC_ERR_CORRUPT;
            if (st == MC_OK)
                st = put_nvm(card, d, base + rv.found * MC_REC_STRIDE(e.rec_len), e.rec_len);
        }
    }
    return st;
}

/* The log newest first, as mc_log_read gives it, from one read and one
 * check of each slot (the tear tests dump the state twice at every cut),
 * with mc_log_read's damage rule: every visible sequence number present. */
static mc_status dump_log(mc_card *card, dump *d)
{
    static mc_log_rec slots[MC_LOG_SLOTS];
    uint32_t top = 0, s;
    unsigned n, i, best;
    mc_status st;

    for (i = 0; i < MC_LOG_SLOTS; i++) {
        st = mc_store_read(card, MC_OFF_LOG + i * MC_LOG_STRIDE, &slots[i], sizeof(slots[i]));
        if (st != MC_OK)
            return st;
        if (slots[i].aid_len > 16 ||
            mc_get32(slots[i].crc) != mc_crc32(&slots[i], sizeof(slots[i]) - 4))
            memset(&slots[i], 0, sizeof(slots[i]));
        if (mc_get32(slots[i].seq) > top)
            top = mc_get32(slots[i].seq);
    }
    put8(d, 'L');
    for (n = 0; n < MC_LOG_ENTRIES && n < top; n++) {
        best = MC_LOG_SLOTS;
        for (i = 0; i < MC_LOG_SLOTS; i++) {
            s = mc_get32(slots[i].seq);
            if (s == top - n && (best == MC_LOG_SLOTS || slots[i].repeat > slots[best].repeat))
                best = i;
        }
        if (best == MC_LOG_SLOTS)
            return MC_ERR_CORRUPT;   /* a visible entry missing: damage */
        if (slots[best].event == MC_EV_TEAR_RECOVERED)
            continue;
        put8(d, slots[best].event);
        put8(d, slots[best].repeat);
        put8(d, slots[best].aid_len);
        put(d, slots[best].aid, slots[best].aid_len);
    }
    return MC_OK;
}

static size_t dump_all(mc_card *card, dump *dd)
{
    dump d = *dd;
    mc_area_rec a;
    mc_slot_rec s;
    uint32_t v, seqs[MC_MAX_APS], last = 0, best;
    unsigned i, k, pick;
    bool used;
    mc_status st;

    if (card == NULL)
        return 0;
    put(&d, "MNAPDUMP1", 9);
    st = mc_area_read(card, &a);
    if (st == MC_OK)
        st = mc_seq_get(card, 0, &a.am, &v);
    if (st == MC_OK) {
        put8(&d, a.state);
        put(&d, a.serial, MC_SERIAL_LEN);
        put(&d, a.div, MC_DIV_DATA_LEN);
        put_keys(&d, &a.am);
        put32(&d, v);
        st = a.state == MC_AREA_TERMINATED ? MC_OK : mc_seq_hwm(card, &v);
        put32(&d, a.state == MC_AREA_TERMINATED ? 0 : v);
    }
    /* APs in load order: the slot an AP sits in is not logical state. */
    for (i = 0; st == MC_OK && a.state != MC_AREA_TERMINATED && i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, &s, &used);
        seqs[i] = st == MC_OK && used ? mc_get32(s.load_seq) : 0;
    }
    for (k = 0; st == MC_OK && a.state != MC_AREA_TERMINATED && k < MC_MAX_APS; k++) {
        pick = MC_MAX_APS;
        best = 0xFFFFFFFFu;
        for (i = 0; i < MC_MAX_APS; i++)
            if (seqs[i] > last && seqs[i] < best) {
                best = seqs[i];
                pick = i;
            }
        if (pick == MC_MAX_APS)
            break;
        last = best;
        st = mc_slot_read(card, pick, &s, &used);
        if (st == MC_OK)
            st = dump_ap(card, &d, pick, &s);
    }
    if (st == MC_OK)
        st = dump_log(card, &d);
    if (st != MC_OK)
        put(&d, "CORRUPT", 7);
    return d.len;
}

size_t mc_debug_dump(mc_card *card, uint8_t *out, size_t cap)
{
    dump d = { out, out != NULL ? cap : 0, 0, NULL, NULL };

    return dump_all(card, &d);
}

size_t mc_debug_dump_to(mc_card *card, mc_debug_sink sink, void *ctx)
{
    dump d = { NULL, 0, 0, sink, ctx };

    return sink != NULL ? dump_all(card, &d) : 0;
}

int mc_debug_selected(const mc_card *card)
{
    if (card->sel == MC_SEL_NONE)
        return -1;
    if (card->sel == MC_SEL_AM)
        return -2;
    return card->sel;
}

int mc_debug_channel(const mc_card *card)
{
    return card->chan;
}

uint8_t mc_debug_level(const mc_card *card)
{
    return card->chan == MC_CH_OPEN ? card->scp.level : 0;
}

int mc_debug_corrupt(const mc_card *card)
{
    return card->corrupt;
}
