/* store_journal.c: transactions of the store (a redo journal).
 *
 * A transaction appends one record (header + data) per mc_store_write to the
 * journal, the first behind the open mark; the data space is untouched until
 * commit.  The journal's state is held by two control slots, A and B, each
 * with its own CRC-32; the valid one with the greater sequence number is the
 * active one, and every change of state writes the other (slot = sequence
 * number & 1).  A torn control write therefore leaves that slot invalid
 * whatever its interrupted byte holds, and the active slot, untouched, says
 * what it said before: no byte is a commit point on its own.  Commit writes
 * COMMITTED (the commit point), copies each record home, and writes CLEAR.
 * Recovery replays a COMMITTED journal after verifying every checksum, and
 * discards an open one.  Journal residue: a CLEAR slot keeps the committed
 * transaction's records (copies of what is now at home, used bytes) and
 * nothing else: every CLEAR slot is followed by the wipe of the record area
 * behind them (all of it after an abort or a discard), and start-up
 * finishes a wipe that a cut stopped.  A transaction's first write is its
 * first record's header with the open mark in front of it, so no byte of
 * it reaches the record area unless recovery will discard it, wiping all.
 * The store header, mc_store_format and mc_store_recover are at the end.
 * See docs/nvm.md. */
#include <string.h>

#include "crc.h"
#include "port.h"
#include "store_int.h"

static uint32_t ctl_off(uint32_t seq)
{
    return (seq & 1u) ? ST_CTL_B_OFF : ST_CTL_A_OFF;
}

/* A control slot, written by commit, clear, abort and discard into the slot
 * of its sequence number (never the active one: seq is the active one's + 1),
 * then flushed.  counts: the record count and the used bytes, the two 16-bit
 * fields at byte 8, as one little-endian word (nrec | used << 16). */
static void encode_ctl(uint8_t d[ST_DESC_LEN], uint32_t seq, uint8_t state, uint32_t counts)
{
    st_put16(d + 0, ST_DESC_MAGIC);
    d[2] = state;
    d[3] = 0;
    st_put32(d + 4, seq);
    st_put32(d + 8, counts);
    st_put32(d + 12, mc_crc32(d, 12));
}

static mc_status write_ctl(struct mc_card *card, uint32_t seq, uint8_t state, uint32_t counts)
{
    uint8_t d[ST_DESC_LEN];

    encode_ctl(d, seq, state, counts);
    return mc_st_nvm_write_flushed(card, ctl_off(seq), d, sizeof(d));
}

/* Journal residue (docs/nvm.md): sets the record area from byte keep on to
 * FF, one write per piece up to the next page boundary, only for the pieces
 * that are not FF yet (so a clean area costs reads only), then flushes.
 * Called once the journal is CLEAR: nothing reads the records any more, and
 * a cut here leaves the rest to the next start-up's wipe. */
static mc_status wipe_records(struct mc_card *card, uint32_t keep)
{
    return mc_st_fill(card, ST_REC_OFF + keep, 0xFF | ST_FILL_LAZY | ST_FILL_FLUSH,
                      ST_JNL_END - ST_REC_OFF - keep);
}

/* The CLEAR slot of sequence seq keeping the first keep bytes of records
 * (a committed transaction's; 0 after an abort or a discard), then the
 * wipe of the rest. */
static mc_status clear(struct mc_card *card, uint32_t seq, uint32_t keep)
{
    /* keep: a used length, < 2^16 */
    mc_status rc = write_ctl(card, seq, ST_STATE_CLEAR, keep << 16);

    if (rc == MC_OK)
        card->store.tx_seq = seq;
    return rc == MC_OK ? wipe_records(card, keep) : rc;
}

/* A control slot's fields. */
typedef struct {
    uint32_t seq;
    uint16_t nrec, used;
    uint8_t state;
} ctl_t;

/* Reads control slot 0 (A) or 1 (B): true when it is valid (magic, CRC-32,
 * state, lengths, and a sequence number of its slot's parity). */
static bool read_ctl(struct mc_card *card, unsigned slot, ctl_t *c, mc_status *rc)
{
    uint8_t d[ST_DESC_LEN];

    *rc = mc_st_nvm_read(card, ctl_off(slot), d, sizeof(d));
    if (*rc != MC_OK)
        return false;
    c->seq = st_get32(d + 4);
    c->state = d[2];
    c->nrec = st_get16(d + 8);
    c->used = st_get16(d + 10);
    return st_get16(d) == ST_DESC_MAGIC && d[3] == 0 && st_get32(d + 12) == mc_crc32(d, 12) &&
           (c->seq & 1u) == slot && c->used <= ST_REC_AREA &&
           (c->state == ST_STATE_CLEAR ? c->nrec == 0
                                       : c->state == ST_STATE_COMMITTED && c->nrec != 0 &&
                                             (uint32_t)c->nrec * ST_REC_HDR <= c->used);
}

/* The active control slot: the valid one with the greater sequence number
 * (serial order).  -1: neither is valid (damage). */
static int active_ctl(struct mc_card *card, ctl_t *c, mc_status *rc)
{
    ctl_t x[2];
    bool ok[2];
    unsigned i;

    for (i = 0; i < 2; i++) {
        ok[i] = read_ctl(card, i, &x[i], rc);
        if (*rc != MC_OK)
            return -1;
    }
    if (!ok[0] && !ok[1])
        return -1;
    i = ok[1] && (!ok[0] || (int32_t)(x[1].seq - x[0].seq) > 0);
    *c = x[i];
    return (int)i;
}

int mc_st_journal_active(struct mc_card *card, uint32_t *seq, uint8_t *state)
{
    ctl_t c;
    mc_status rc;
    int i = active_ctl(card, &c, &rc);

    if (i >= 0) {
        *seq = c.seq;
        *state = c.state;
    }
    return i;
}

static mc_status mc_st_journal_format(struct mc_card *card)
{
    uint8_t d[ST_DESC_LEN];
    mc_status rc;

    /* Slot B is erased (invalid) by format's fill; an open mark that is no
     * transaction's (recovery compares it with the next sequence number, 1),
     * then slot A CLEAR with sequence 0. */
    d[0] = ST_MARK(0);
    rc = mc_st_nvm_write(card, ST_MARK_OFF, d, 1);
    encode_ctl(d, 0, ST_STATE_CLEAR, 0);
    if (rc == MC_OK)
        rc = mc_st_nvm_write(card, ST_CTL_A_OFF, d, sizeof(d));
    return rc;
}

mc_status mc_store_begin(struct mc_card *card)
{
    mc_store *st = &card->store;

    if (st->corrupt)
        return MC_ERR_CORRUPT;
    if (st->in_tx)
        return MC_ERR_PARAM;
    /* Nothing reaches NVM until the first write: an empty transaction costs
     * no write at all. */
    st->in_tx = true;
    st->journal_records = 0;
    st->journal_used = 0;
    return MC_OK;
}

/* tx_write's one capacity test (the data space ends below 2^32 by more
 * than the record area, so used + header + length cannot wrap). */
_Static_assert(ST_REC_AREA == ST_TX_CAP + ST_REC_HDR && ST_DATA_OFF > ST_REC_AREA,
               "tx_write capacity test");

static mc_status tx_write(struct mc_card *card, uint32_t off, const void *buf, size_t len,
                          bool own)
{
    mc_store *st = &card->store;
    uint8_t b[ST_PAGE], hd[1 + ST_REC_HDR];
    uint32_t lo, hi, p, a, z, n, addr, crc, end = off + (uint32_t)len;
    uint32_t h, pass;
    mc_status rc;

    rc = mc_st_data_ok(card, off, buf, len);
    if (rc == MC_OK && !st->in_tx)
        rc = MC_ERR_PARAM;
    if (rc != MC_OK || len == 0)
        return rc;
    /* The record holds the whole pages the write touches (ST_PAGE) with
     * their new content: its home copy rewrites every byte of each page it
     * writes, so replay rewrites a page that a page-erasing part tore
     * (docs/nvm.md).  The data space's size is a multiple of ST_PAGE.  A
     * write that owns its pages (mc_store_write_own) holds only its bytes. */
    lo = own ? off : off & ~(ST_PAGE - 1u);
    hi = own ? end : (end + ST_PAGE - 1u) & ~(ST_PAGE - 1u);
    /* Over capacity: refused, the transaction is unchanged.  (One test
     * covers hi - lo > ST_TX_CAP too: ST_REC_AREA is ST_TX_CAP + ST_REC_HDR,
     * and hi - lo, at most the data space's size, cannot wrap the sum.) */
    if (st->journal_used + ST_REC_HDR + (hi - lo) > ST_REC_AREA)
        return MC_ERR_PARAM;
    addr = ST_REC_OFF + st->journal_used;
    hd[0] = ST_MARK(st->tx_seq + 1u);
    /* A record header: sequence number, offset, length, CRC-32 (set below). */
    st_put32(hd + 1, st->tx_seq + 1u);
    st_put32(hd + 5, lo);
    st_put16(hd + 9, (uint16_t)(hi - lo));
    crc = mc_crc32_update(MC_CRC32_INIT, hd + 1, 10);
    /* Two passes over the transaction's view of the pages (the new bytes
     * laid over it): the first seals them in the header, which is written
     * first, the second writes them, one write each.  The first record's
     * header goes with the open mark in front of it: the transaction's
     * first write, so no byte of it reaches the record area unless
     * recovery will see that it began (then it discards, and wipes all the
     * records: docs/nvm.md, "Journal residue").  A torn mark is harmless:
     * recovery discards (nothing to undo) or ignores it, and the state is
     * "before" either way. */
    for (pass = 0;; pass++) {
        for (p = lo; p < hi; p += ST_PAGE) {
            n = hi - p < ST_PAGE ? hi - p : ST_PAGE;
            a = off > p ? off : p;
            z = end < p + n ? end : p + n;
            rc = mc_store_read(card, p, b, n);
            if (rc != MC_OK)
                return rc;
            memcpy(b + (a - p), (const uint8_t *)buf + (a - off), z - a);
            if (pass == 0)
                crc = mc_crc32_update(crc, b, n);
            else if ((rc = mc_st_nvm_write(card, addr + ST_REC_HDR + (p - lo), b, n)) != MC_OK)
                return rc;
        }
        if (pass != 0)
            break;
        st_put32(hd + 11, mc_crc32_final(crc));
        h = st->journal_records == 0 ? 1u : 0u;
        rc = mc_st_nvm_write(card, addr - h, hd + 1 - h, h + ST_REC_HDR);
        if (rc != MC_OK)
            return rc;
    }
    st->journal_records++;
    st->journal_used += ST_REC_HDR + (hi - lo);
    return MC_OK;
}

mc_status mc_store_write(struct mc_card *card, uint32_t off, const void *buf, size_t len)
{
    return tx_write(card, off, buf, len, false);
}

mc_status mc_store_write_own(struct mc_card *card, uint32_t off, const void *buf, size_t len)
{
    return tx_write(card, off, buf, len, true);
}

/* The nrec records of a COMMITTED journal (sequence number seq, used
 * bytes), in one walk (make size).  apply false: checks them completely
 * before anything of them is applied: every record must carry seq, fit the
 * data space and the used length, and match its CRC-32.  apply true: copies
 * each to its home in the data space, with the same checks but the CRC-32
 * (commit's records were just written; recovery checked them first). */
static mc_status walk_records(struct mc_card *card, const ctl_t *c, bool apply)
{
    uint8_t h[ST_REC_HDR], chunk[ST_CHUNK];
    uint32_t pos = ST_REC_OFF, end = ST_REC_OFF + c->used;

    for (unsigned i = c->nrec; i != 0; i--) {
        uint32_t off, len, crc, done = 0;
        mc_status rc;

        if (end - pos < ST_REC_HDR)
            return MC_ERR_CORRUPT;
        rc = mc_st_nvm_read(card, pos, h, sizeof(h));
        if (rc != MC_OK)
            return rc;
        off = st_get32(h + 4);
        len = st_get16(h + 8);
        pos += ST_REC_HDR;
        if (st_get32(h) != c->seq || len == 0 || len > end - pos ||
            !mc_st_data_range_ok(card, off, len))
            return MC_ERR_CORRUPT;
        crc = mc_crc32_update(MC_CRC32_INIT, h, 10);
        while (done < len) {
            uint32_t k = len - done < ST_CHUNK ? len - done : ST_CHUNK;
            rc = mc_st_nvm_read(card, pos + done, chunk, k);
            if (rc == MC_OK && apply)
                rc = mc_st_nvm_write(card, ST_DATA_OFF + off + done, chunk, k);
            if (rc != MC_OK)
                return rc;
            if (!apply)
                crc = mc_crc32_update(crc, chunk, k);
            done += k;
        }
        if (!apply && mc_crc32_final(crc) != st_get32(h + 10))
            return MC_ERR_CORRUPT;
        pos += len;
    }
    return pos == end ? MC_OK : MC_ERR_CORRUPT;
}

/* A COMMITTED journal home (check: its records verified first, at
 * recovery), flushed, then the CLEAR slot of the next sequence number
 * keeping its records, and the rest of the area wiped. */
static mc_status replay(struct mc_card *card, const ctl_t *c, bool check)
{
    mc_status rc = check ? walk_records(card, c, false) : MC_OK;

    if (rc == MC_OK)
        rc = walk_records(card, c, true);
    /* Home copies durable before the journal may be forgotten. */
    rc = mc_store_flushed(card, rc);
    return rc == MC_OK ? clear(card, c->seq + 1u, c->used) : rc;
}

/* Commit (st MC_OK) or abort (st, a failure, returned), one body: the
 * runtime ends every transaction here (make size); mc_store_commit and
 * mc_store_abort are its two cases. */
mc_status mc_store_end(struct mc_card *card, mc_status st)
{
    mc_store *s = &card->store;
    ctl_t c;
    mc_status rc;

    c.nrec = s->journal_records;
    c.used = (uint16_t)s->journal_used;
    if (st == MC_OK) {
        if (s->corrupt)
            return MC_ERR_CORRUPT;
        if (!s->in_tx)
            return MC_ERR_PARAM;
    }
    /* From here the transaction is over whatever happens: a commit either
     * reaches the commit point, or a failed write has cut the power and
     * recovery will discard or finish it. */
    s->in_tx = false;
    s->journal_records = 0;
    s->journal_used = 0;
    if (c.nrec == 0)   /* (records only inside a transaction) */
        return st;
    if (st != MC_OK) {
        /* Abort: records in NVM left the open mark: a CLEAR slot of the
         * next sequence number closes it, so the next start-up does not
         * report a torn transaction, and the records are wiped.  A failure
         * here is harmless: recovery discards an open journal and wipes
         * the records. */
        if (!s->corrupt)
            (void)clear(card, s->tx_seq + 1u, 0);
        return st;
    }
    /* The records must be durable before the commit mark can be. */
    rc = mc_st_nvm_flush(card);
    if (rc == MC_OK)
        rc = write_ctl(card, s->tx_seq + 1u, ST_STATE_COMMITTED,
                       c.nrec | (uint32_t)c.used << 16);
    if (rc != MC_OK)
        return rc;
    /* Commit point passed: the transaction survives any later power cut. */
    c.seq = ++s->tx_seq;
    return replay(card, &c, false);
}

mc_status mc_store_commit(struct mc_card *card)
{
    return mc_store_end(card, MC_OK);
}

void mc_store_abort(struct mc_card *card)
{
    (void)mc_store_end(card, MC_ERR_PARAM);
}

uint32_t mc_store_tx_capacity(struct mc_card *card)
{
    (void)card;
    return ST_TX_CAP;
}

/* Overlays the open transaction's records on buf (data-space [off, off+len)):
 * mc_store_read's, here so that it is inlined there (make size; the PUT KEY
 * path through tx_write's reads is 32 bytes shallower). */
static mc_status mc_st_journal_overlay(struct mc_card *card, uint32_t off, uint8_t *buf,
                                       size_t len)
{
    const mc_store *st = &card->store;
    uint8_t h[ST_REC_HDR];
    uint32_t pos = ST_REC_OFF;
    uint32_t end = off + (uint32_t)len;

    /* Records in write order, so a later write of the same bytes wins. */
    for (unsigned i = st->journal_records; i != 0; i--) {
        mc_status rc = mc_st_nvm_read(card, pos, h, sizeof(h));
        uint32_t roff = st_get32(h + 4), rlen = st_get16(h + 8);
        uint32_t lo, hi;

        if (rc != MC_OK)
            return rc;
        lo = roff > off ? roff : off;
        hi = roff + rlen < end ? roff + rlen : end;
        if (lo < hi) {
            rc = mc_st_nvm_read(card, pos + ST_REC_HDR + (lo - roff), buf + (lo - off), hi - lo);
            if (rc != MC_OK)
                return rc;
        }
        pos += ST_REC_HDR + rlen;
    }
    return MC_OK;
}

mc_status mc_store_read(struct mc_card *card, uint32_t off, void *buf, size_t len)
{
    mc_store *st = &card->store;
    mc_status rc;

    rc = mc_st_data_ok(card, off, buf, len);
    if (rc != MC_OK || len == 0)
        return rc;
    rc = mc_st_nvm_read(card, ST_DATA_OFF + off, buf, len);
    /* (records only while a transaction is open: begin, commit and abort
     * zero the count, tx_write counts only inside one) */
    if (rc == MC_OK && st->journal_records > 0)
        rc = mc_st_journal_overlay(card, off, buf, len);
    return rc;
}

static mc_status mc_st_journal_recover(struct mc_card *card, bool *recovered)
{
    mc_store *st = &card->store;
    ctl_t c;
    uint8_t mark;
    mc_status rc;

    /* Neither control slot valid: no tear can do that (a torn control write
     * spoils only the inactive slot), so it is damage. */
    if (active_ctl(card, &c, &rc) < 0)
        return rc != MC_OK ? rc : MC_ERR_CORRUPT;
    st->tx_seq = c.seq;
    if (c.state == ST_STATE_CLEAR) {
        /* The open mark of the next sequence number: a transaction began and
         * did not reach its commit point.  Nothing of it is home: discard
         * (a CLEAR slot of that number).  Any other mark, torn or not, is
         * no open transaction. */
        rc = mc_st_nvm_read(card, ST_MARK_OFF, &mark, 1);
        if (rc != MC_OK || mark != ST_MARK(c.seq + 1u))
            return rc != MC_OK ? rc : wipe_records(card, c.used);
        /* CLEAR keeping no records, and all of them wiped. */
        rc = clear(card, c.seq + 1u, 0);
    } else {
        /* Committed, perhaps not (fully) copied home: verify everything,
         * then replay (copying again what already arrived is harmless). */
        rc = replay(card, &c, true);
    }
    if (rc == MC_OK && recovered != NULL)
        *recovered = true;
    return rc;
}

/* ---- the store header, format and start-up ------------------------------
 * Here, beside the journal's format and recovery, which they call once
 * each (one file: GCC inlines those into them; make size). */

/* The header records every layout constant, so an image made by a build
 * with another layout is refused instead of misread. */
#define ST_LE32(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), (uint8_t)((x) >> 24)

static void header_encode(uint8_t h[ST_HDR_LEN], uint32_t nvm_size)
{
    /* magic; version, counters; ring, slot size (16 bits each); NVM size
     * (set below); counter rings; journal; record area; data space
     * (docs/nvm.md); little-endian words */
    static const uint8_t f[32] = {
        ST_LE32(ST_HDR_MAGIC), ST_LE32(ST_VERSION | (uint32_t)MC_STORE_COUNTERS << 16),
        ST_LE32(ST_RING | ST_SLOT << 16), ST_LE32(0u), ST_LE32(ST_CTR_OFF), ST_LE32(ST_JNL_OFF),
        ST_LE32(ST_REC_AREA), ST_LE32(ST_DATA_OFF)};

    memcpy(h, f, sizeof(f));
    st_put32(h + 12, nvm_size);
    st_put32(h + 32, mc_crc32(h, ST_HDR_LEN - 4));
}

mc_status mc_store_format(struct mc_card *card)
{
    mc_store *st = &card->store;
    uint8_t h[ST_HDR_LEN];
    uint32_t nvm_size = mc_port_nvm_size(card), size = mc_st_data_size(card);
    mc_status rc;

    memset(st, 0, sizeof(*st));
    if (size == 0)
        return MC_ERR_PARAM;
    /* Everything erased from the header on (its first write invalidates the
     * header: a format torn anywhere leaves no valid header, so the
     * half-made store is reported corrupt, never used; every counter reads
     * 0, journal slot B is invalid), then the journal, then the header. */
    rc = mc_st_fill(card, ST_HDR_OFF, 0xFF, ST_DATA_OFF + size);
    if (rc == MC_OK)
        rc = mc_st_journal_format(card);
    rc = mc_store_flushed(card, rc);
    if (rc != MC_OK)
        return rc;
    header_encode(h, nvm_size);
    return mc_st_nvm_write_flushed(card, ST_HDR_OFF, h, sizeof(h));
}

mc_status mc_store_recover(struct mc_card *card, bool *recovered)
{
    mc_store *st = &card->store;
    uint8_t h[ST_HDR_LEN], want[ST_HDR_LEN];
    mc_status rc;

    memset(st, 0, sizeof(*st));
    if (recovered != NULL)
        *recovered = false;
    rc = mc_st_nvm_read(card, ST_HDR_OFF, h, sizeof(h));
    if (rc != MC_OK)
        return rc;
    header_encode(want, mc_port_nvm_size(card));
    /* Header fields are public layout constants, so memcmp is fine here. */
    if (mc_st_data_size(card) == 0 || memcmp(h, want, sizeof(h)) != 0) {
        st->corrupt = true;
        return MC_ERR_CORRUPT;
    }
    rc = mc_st_journal_recover(card, recovered);
    if (rc == MC_OK)
        rc = mc_st_counters_load(card);
    if (rc == MC_ERR_CORRUPT)
        st->corrupt = true;
    return rc;
}
