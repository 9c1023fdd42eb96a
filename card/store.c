/* store.c: the store's port calls, fills and direct data-space access.
 *
 * Gives direct (unjournaled) access to the data space.  Transactions, reads
 * (mc_store_read lays the open transaction's records over what it reads),
 * and the store header with format and start-up recovery (journal first,
 * then the counter rings) are in store_journal.c, counters in
 * store_counter.c; docs/nvm.md has the on-NVM format. */
#include <string.h>

#include "cm_ct.h"
#include "crc.h"
#include "port.h"
#include "store_int.h"

mc_status mc_st_nvm_read(struct mc_card *card, uint32_t addr, void *buf, size_t len)
{
    return mc_port_nvm_read(card, addr, buf, len) == 0 ? MC_OK : MC_ERR_NVM;
}

mc_status mc_st_nvm_write(struct mc_card *card, uint32_t addr, const void *buf, size_t len)
{
    return mc_port_nvm_write(card, addr, buf, len) == 0 ? MC_OK : MC_ERR_NVM;
}

mc_status mc_store_flushed(struct mc_card *card, mc_status st)
{
    if (st != MC_OK)
        return st;
    return mc_port_nvm_flush(card) == 0 ? MC_OK : MC_ERR_NVM;
}

mc_status mc_st_nvm_write_flushed(struct mc_card *card, uint32_t addr, const void *buf,
                                  size_t len)
{
    return mc_store_flushed(card, mc_st_nvm_write(card, addr, buf, len));
}

/* Whole pages only, so that a journal record's pages never pass its end. */
uint32_t mc_store_data_size(struct mc_card *card)
{
    uint32_t n = mc_port_nvm_size(card) & ~(ST_PAGE - 1u);
    return n >= ST_DATA_OFF + ST_DATA_MIN ? n - ST_DATA_OFF : 0;
}

bool mc_st_data_range_ok(struct mc_card *card, uint32_t off, size_t len)
{
    uint32_t size = mc_st_data_size(card);
    return off <= size && len <= (size_t)(size - off);
}

/* Sets NVM [addr, addr + len) to how's low byte, one write per piece up to
 * the next page boundary (at most ST_CHUNK bytes).  ST_FILL_LAZY: a piece
 * is read first and written only when it does not hold the value already
 * (a clean range costs reads only); ST_FILL_FLUSH: a flush after the last
 * piece when one was written.  The buffer, which may have read anything,
 * is wiped. */
mc_status mc_st_fill(struct mc_card *card, uint32_t addr, unsigned how, size_t len)
{
    uint8_t b[ST_CHUNK];
    uint32_t n, i, value = how & 0xFFu;
    mc_status rc = MC_OK;
    unsigned flush = 0;

    while (len > 0 && rc == MC_OK) {
        n = ST_PAGE - (addr & (ST_PAGE - 1u));
        if (n > ST_CHUNK)
            n = ST_CHUNK;
        if (n > len)
            n = (uint32_t)len;
        i = 0;
        if (how & ST_FILL_LAZY)
            for (rc = mc_st_nvm_read(card, addr, b, n); rc == MC_OK && i < n && b[i] == value;
                 i++)
                ;
        if (rc == MC_OK && i < n) {
            memset(b, value, n);
            rc = mc_st_nvm_write(card, addr, b, n);
            flush = how & ST_FILL_FLUSH;
        }
        addr += n;
        len -= n;
    }
    cm_wipe(b, sizeof(b));
    return flush ? mc_store_flushed(card, rc) : rc;
}

/* The checks of a data-space access: the store is sound (MC_ERR_CORRUPT),
 * a buffer when there are bytes, the range inside the data space
 * (MC_ERR_PARAM). */
mc_status mc_st_data_ok(struct mc_card *card, uint32_t off, const void *buf, size_t len)
{
    if (card->store.corrupt)
        return MC_ERR_CORRUPT;
    if ((buf == NULL && len > 0) || !mc_st_data_range_ok(card, off, len))
        return MC_ERR_PARAM;
    return MC_OK;
}

mc_status mc_store_write_direct(struct mc_card *card, uint32_t off, const void *buf, size_t len)
{
    mc_status rc = mc_st_data_ok(card, off, buf, len);

    if (rc != MC_OK || len == 0)
        return rc;
    return mc_st_nvm_write(card, ST_DATA_OFF + off, buf, len);
}

static mc_status data_fill(struct mc_card *card, uint32_t off, uint8_t value, size_t len,
                           bool lazy)
{
    mc_status rc = mc_st_data_ok(card, off, card, len);   /* no buffer: not NULL */

    if (rc != MC_OK)
        return rc;
    return mc_st_fill(card, ST_DATA_OFF + off, value | (lazy ? ST_FILL_LAZY : 0u), len);
}

mc_status mc_store_fill_direct(struct mc_card *card, uint32_t off, uint8_t value, size_t len)
{
    return data_fill(card, off, value, len, false);
}

mc_status mc_store_fill_lazy(struct mc_card *card, uint32_t off, uint8_t value, size_t len)
{
    return data_fill(card, off, value, len, true);
}
