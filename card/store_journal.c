/* store_journal.c: transactions of the store (a redo journal).
 *
 * A transaction appends one record (header + data) per mc_store_write to the
 * journal; the data space is untouched until commit.  Commit writes the
 * descriptor and the COMMITTED state byte in one write (the state byte last,
 * so a torn commit leaves the state OPEN), copies each record home, and sets
 * the state byte back to CLEAR.  Recovery replays a COMMITTED journal after
 * verifying every checksum, and discards an OPEN one.  See docs/nvm.md. */
#include <string.h>

#include "crc.h"
#include "store_int.h"

/* Descriptor + state byte, as written by commit, abort and discard. */
static mc_status write_desc_state(struct mc_card *card, uint32_t seq, uint16_t nrec,
                                  uint16_t used, uint8_t state)
{
    uint8_t d[ST_DESC_LEN + 1];

    st_put32(d + 0, ST_DESC_MAGIC);
    st_put32(d + 4, seq);
    st_put16(d + 8, nrec);
    st_put16(d + 10, used);
    st_put32(d + 12, mc_crc32(d, 12));
    d[ST_DESC_LEN] = state;
    return mc_st_nvm_write(card, ST_JNL_OFF, d, sizeof(d));
}

mc_status mc_st_journal_format(struct mc_card *card)
{
    return write_desc_state(card, 0, 0, 0, ST_STATE_CLEAR);
}

static void rec_header(uint8_t h[ST_REC_HDR], uint32_t seq, uint32_t off, uint16_t len,
                       const void *data)
{
    st_put32(h + 0, seq);
    st_put32(h + 4, off);
    st_put16(h + 8, len);
    st_put32(h + 10, mc_crc32_final(mc_crc32_update(mc_crc32_update(MC_CRC32_INIT, h, 10),
                                                    data, len)));
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

mc_status mc_store_write(struct mc_card *card, uint32_t off, const void *buf, size_t len)
{
    mc_store *st = &card->store;
    uint8_t b[ST_CHUNK];
    size_t n = 0;
    uint32_t addr;
    mc_status rc;

    if (st->corrupt)
        return MC_ERR_CORRUPT;
    if (!st->in_tx || (buf == NULL && len > 0) || !mc_st_data_range_ok(card, off, len))
        return MC_ERR_PARAM;
    if (len == 0)
        return MC_OK;
    if (len > ST_TX_CAP || st->journal_used + ST_REC_HDR + len > ST_REC_AREA)
        return MC_ERR_PARAM;   /* over capacity: refused, the transaction is unchanged */

    addr = ST_REC_OFF + st->journal_used;
    if (st->journal_records == 0) {
        /* The first write of a transaction starts with the OPEN state byte
         * (which sits right before the first record), so a transaction has
         * left a trace in NVM exactly when its first byte landed. */
        b[n++] = ST_STATE_OPEN;
        addr = ST_STATE_OFF;
    }
    rec_header(b + n, st->tx_seq + 1u, off, (uint16_t)len, buf);
    n += ST_REC_HDR;
    if (n + len <= sizeof(b)) {
        /* Small record: header and data in one port write. */
        memcpy(b + n, buf, len);
        rc = mc_st_nvm_write(card, addr, b, n + len);
    } else {
        rc = mc_st_nvm_write(card, addr, b, n);
        if (rc == MC_OK)
            rc = mc_st_nvm_write(card, addr + (uint32_t)n, buf, len);
    }
    if (rc != MC_OK)
        return rc;
    st->journal_records++;
    st->journal_used += ST_REC_HDR + (uint32_t)len;
    return MC_OK;
}

/* Copies the nrec records of the journal to their home in the data space. */
static mc_status apply_records(struct mc_card *card, uint16_t nrec)
{
    uint8_t h[ST_REC_HDR], chunk[ST_CHUNK];
    uint32_t pos = ST_REC_OFF;

    for (uint16_t i = 0; i < nrec; i++) {
        mc_status rc = mc_st_nvm_read(card, pos, h, sizeof(h));
        uint32_t off = st_get32(h + 4), len = st_get16(h + 8), done = 0;

        if (rc != MC_OK)
            return rc;
        pos += ST_REC_HDR;
        while (done < len) {
            uint32_t k = len - done < ST_CHUNK ? len - done : ST_CHUNK;
            rc = mc_st_nvm_read(card, pos + done, chunk, k);
            if (rc == MC_OK)
                rc = mc_st_nvm_write(card, ST_DATA_OFF + off + done, chunk, k);
            if (rc != MC_OK)
                return rc;
            done += k;
        }
        pos += len;
    }
    return MC_OK;
}

mc_status mc_store_commit(struct mc_card *card)
{
    mc_store *st = &card->store;
    uint16_t nrec = st->journal_records;
    uint16_t used = (uint16_t)st->journal_used;
    mc_status rc;

    if (st->corrupt)
        return MC_ERR_CORRUPT;
    if (!st->in_tx)
        return MC_ERR_PARAM;
    /* From here the transaction is over whatever happens: either it reaches
     * the commit point, or a failed write has cut the power and recovery will
     * discard or finish it. */
    st->in_tx = false;
    st->journal_records = 0;
    st->journal_used = 0;
    if (nrec == 0)
        return MC_OK;
    /* The records must be durable before the commit mark can be. */
    rc = mc_st_nvm_flush(card);
    if (rc == MC_OK)
        rc = write_desc_state(card, st->tx_seq + 1u, nrec, used, ST_STATE_COMMITTED);
    if (rc == MC_OK)
        rc = mc_st_nvm_flush(card);
    if (rc != MC_OK)
        return rc;
    /* Commit point passed: the transaction survives any later power cut. */
    st->tx_seq++;
    rc = apply_records(card, nrec);
    /* Home copies durable before the journal may be forgotten. */
    if (rc == MC_OK)
        rc = mc_st_nvm_flush(card);
    if (rc == MC_OK) {
        const uint8_t clear = ST_STATE_CLEAR;
        rc = mc_st_nvm_write(card, ST_STATE_OFF, &clear, 1);
    }
    if (rc == MC_OK)
        rc = mc_st_nvm_flush(card);
    return rc;
}

void mc_store_abort(struct mc_card *card)
{
    mc_store *st = &card->store;
    bool wrote = st->in_tx && st->journal_records > 0;

    st->in_tx = false;
    st->journal_records = 0;
    st->journal_used = 0;
    /* Records in NVM left the state OPEN: close it, so the next start-up does
     * not report a torn transaction.  The descriptor is rewritten with the
     * state byte (one write) to keep "CLEAR implies a valid descriptor" true
     * whatever happened before.  A failure here is harmless: recovery
     * discards an OPEN journal. */
    if (wrote && !st->corrupt && write_desc_state(card, st->tx_seq, 0, 0, ST_STATE_CLEAR) == MC_OK)
        (void)mc_st_nvm_flush(card);
}

mc_status mc_store_end(struct mc_card *card, mc_status st)
{
    if (st == MC_OK)
        return mc_store_commit(card);
    mc_store_abort(card);
    return st;
}

uint32_t mc_store_tx_capacity(struct mc_card *card)
{
    (void)card;
    return ST_TX_CAP;
}

mc_status mc_st_journal_overlay(struct mc_card *card, uint32_t off, uint8_t *buf, size_t len)
{
    const mc_store *st = &card->store;
    uint8_t h[ST_REC_HDR];
    uint32_t pos = ST_REC_OFF;
    uint32_t end = off + (uint32_t)len;

    /* Records in write order, so a later write of the same bytes wins. */
    for (uint16_t i = 0; i < st->journal_records; i++) {
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

/* Checks a COMMITTED journal completely before anything of it is applied:
 * every record must carry the descriptor's sequence number, fit the data
 * space and the used length, and match its CRC-32. */
static mc_status verify_records(struct mc_card *card, uint32_t seq, uint16_t nrec, uint16_t used)
{
    uint8_t h[ST_REC_HDR], chunk[ST_CHUNK];
    uint32_t pos = ST_REC_OFF, end = ST_REC_OFF + used;

    for (uint16_t i = 0; i < nrec; i++) {
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
        if (st_get32(h) != seq || len == 0 || len > end - pos ||
            !mc_st_data_range_ok(card, off, len))
            return MC_ERR_CORRUPT;
        crc = mc_crc32_update(MC_CRC32_INIT, h, 10);
        while (done < len) {
            uint32_t k = len - done < ST_CHUNK ? len - done : ST_CHUNK;
            rc = mc_st_nvm_read(card, pos + done, chunk, k);
            if (rc != MC_OK)
                return rc;
            crc = mc_crc32_update(crc, chunk, k);
            done += k;
        }
        if (mc_crc32_final(crc) != st_get32(h + 10))
            return MC_ERR_CORRUPT;
        pos += len;
    }
    return pos == end ? MC_OK : MC_ERR_CORRUPT;
}

mc_status mc_st_journal_recover(struct mc_card *card, bool *recovered)
{
    mc_store *st = &card->store;
    uint8_t d[ST_DESC_LEN + 1];
    uint32_t seq;
    uint16_t nrec, used;
    bool desc_ok;
    mc_status rc = mc_st_nvm_read(card, ST_JNL_OFF, d, sizeof(d));

    if (rc != MC_OK)
        return rc;
    seq = st_get32(d + 4);
    nrec = st_get16(d + 8);
    used = st_get16(d + 10);
    desc_ok = st_get32(d) == ST_DESC_MAGIC && st_get32(d + 12) == mc_crc32(d, 12) &&
              used <= ST_REC_AREA && (uint32_t)nrec * ST_REC_HDR <= used;

    switch (d[ST_DESC_LEN]) {
    case ST_STATE_CLEAR:
        /* Every write that sets CLEAR rewrites the descriptor with it, or
         * follows a commit that did: a bad descriptor here is damage. */
        if (!desc_ok)
            return MC_ERR_CORRUPT;
        st->tx_seq = seq;
        return MC_OK;

    case ST_STATE_OPEN:
        /* Interrupted before its commit point: discard.  A torn commit write
         * may have damaged the descriptor; its sequence number is then taken
         * from the first record header, complete in that case (it was
         * written before the commit began), minus one. */
        if (!desc_ok) {
            uint8_t h[4];
            rc = mc_st_nvm_read(card, ST_REC_OFF, h, sizeof(h));
            if (rc != MC_OK)
                return rc;
            seq = st_get32(h) - 1u;
        }
        st->tx_seq = seq;
        rc = write_desc_state(card, seq, 0, 0, ST_STATE_CLEAR);
        if (rc == MC_OK)
            rc = mc_st_nvm_flush(card);
        if (rc == MC_OK && recovered != NULL)
            *recovered = true;
        return rc;

    case ST_STATE_COMMITTED:
        /* Committed, perhaps not (fully) copied home: verify everything,
         * then replay (copying again what already arrived is harmless). */
        if (!desc_ok)
            return MC_ERR_CORRUPT;
        rc = verify_records(card, seq, nrec, used);
        if (rc == MC_OK)
            rc = apply_records(card, nrec);
        if (rc == MC_OK)
            rc = mc_st_nvm_flush(card);
        if (rc == MC_OK) {
            const uint8_t clear = ST_STATE_CLEAR;
            rc = mc_st_nvm_write(card, ST_STATE_OFF, &clear, 1);
        }
        if (rc == MC_OK)
            rc = mc_st_nvm_flush(card);
        if (rc != MC_OK)
            return rc;
        st->tx_seq = seq;
        if (recovered != NULL)
            *recovered = true;
        return MC_OK;

    default:
        return MC_ERR_CORRUPT;
    }
}
