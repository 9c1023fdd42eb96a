/* store.h: the transactional NVM store of the card runtime.
 *
 * The store owns the raw NVM (through port.h) and offers the interpreter:
 *   - a data space of mc_store_data_size() bytes, addressed from 0, whose
 *     layout belongs to the interpreter (area header, AP table, EF data, log);
 *   - transactions over that data space: begin, write..., commit.  Either all
 *     writes of a transaction survive a power cut at any NVM write, or none;
 *     start-up recovery (mc_store_recover) finishes or discards an interrupted
 *     one.  Reads inside a transaction see its own pending writes;
 *   - direct (non-journaled) writes, for staging data into space that no
 *     committed state references yet (a LOAD AP image), and for wiping freed
 *     space; a power cut may leave them half done, which is harmless there;
 *   - monotonic counters with wear levelling (SCP03 sequence counters): each
 *     set is its own atomic step, a value never goes back, even after a torn
 *     write, and 2^24 increments of one counter stay within NVM endurance.
 *
 * Every function returns MC_OK, MC_ERR_NVM (the port failed: power cut) or
 * MC_ERR_CORRUPT (a checksum failed: never use the data).  docs/nvm.md gives
 * the on-NVM format. */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mc_types.h"

struct mc_card;   /* so this header also stands alone (mc_card.h includes it) */

/* The page the store's layout is aligned to (docs/nvm.md): the data space
 * starts on a page boundary, so data-space offsets that are multiples of it
 * start a page of the part (a port's pages of at most this size). */
#define MC_STORE_PAGE 64u

#define MC_STORE_COUNTERS 17     /* counter 0: area manager; 1..16: AP slots */
/* PIN try counters of the AP slots 0..15: counters MC_STORE_COUNTERS + slot
 * (mc_store_counter_get/set), in rings of their own (docs/nvm.md). */
#define MC_STORE_PIN_COUNTERS 16
#define MC_STORE_ALL_COUNTERS (MC_STORE_COUNTERS + MC_STORE_PIN_COUNTERS)

/* RAM state of the store, embedded in mc_card as card->store. */
typedef struct mc_store {
    bool in_tx;
    bool corrupt;                    /* set by recovery or a failed check */
    uint16_t journal_records;        /* records written in the open transaction */
    uint32_t journal_used;           /* bytes of the journal area in use */
    uint32_t tx_seq;                 /* sequence number of the last commit */
    uint32_t counter_cache[MC_STORE_ALL_COUNTERS];  /* current values (recovered at power-on) */
    uint8_t counter_slot[MC_STORE_ALL_COUNTERS];    /* ring position of each counter's newest value */
} mc_store;

/* Fabrication: lays out a fresh store (empty journal, counters at 0) and
 * fills the data space with 0xFF... or leaves it, as docs/nvm.md says. */
mc_status mc_store_format(struct mc_card *card);

/* Power-on: validates the store header, replays a committed-but-unapplied
 * journal or discards an uncommitted one, loads counters.  *recovered is set
 * when a transaction was completed or discarded (the interpreter logs
 * TEAR_RECOVERED).  MC_ERR_CORRUPT when the header or journal is damaged. */
mc_status mc_store_recover(struct mc_card *card, bool *recovered);

uint32_t mc_store_data_size(struct mc_card *card);

mc_status mc_store_read(struct mc_card *card, uint32_t off, void *buf, size_t len);

mc_status mc_store_begin(struct mc_card *card);
mc_status mc_store_write(struct mc_card *card, uint32_t off, const void *buf, size_t len);
/* The same for a write that owns the pages it touches (nothing else on them
 * is ever read: a security-log slot): its record holds only its own bytes,
 * not the whole pages, since a torn home page then spoils nothing that
 * replay must restore (docs/nvm.md, "Pages"). */
mc_status mc_store_write_own(struct mc_card *card, uint32_t off, const void *buf, size_t len);
mc_status mc_store_commit(struct mc_card *card);
/* Drops the open transaction: nothing of it reaches the data space. */
void mc_store_abort(struct mc_card *card);
/* Ends the open transaction: commits it when st (the outcome of its begin
 * and writes) is MC_OK, otherwise aborts it and returns st. */
mc_status mc_store_end(struct mc_card *card, mc_status st);
/* Largest total of bytes one transaction may write (journal capacity). */
uint32_t mc_store_tx_capacity(struct mc_card *card);

mc_status mc_store_write_direct(struct mc_card *card, uint32_t off, const void *buf, size_t len);
/* After direct writes whose outcome is st: when st is MC_OK, the port's
 * flush (MC_ERR_NVM if it fails); otherwise st. */
mc_status mc_store_flushed(struct mc_card *card, mc_status st);
/* Fills len bytes from off with value, directly (wipes). */
mc_status mc_store_fill_direct(struct mc_card *card, uint32_t off, uint8_t value, size_t len);
/* The same, writing only the pieces (up to a page boundary, at most 64
 * bytes) that do not hold value already; outside a transaction. */
mc_status mc_store_fill_lazy(struct mc_card *card, uint32_t off, uint8_t value, size_t len);

mc_status mc_store_counter_get(struct mc_card *card, unsigned idx, uint32_t *value);
/* Sets counter idx to value (value >= the current one, else MC_ERR_PARAM),
 * durably, before returning. */
mc_status mc_store_counter_set(struct mc_card *card, unsigned idx, uint32_t value);

#endif
