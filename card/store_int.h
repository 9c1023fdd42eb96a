/* store_int.h: private to the store modules (store.c, store_journal.c,
 * store_counter.c): the NVM layout, record formats and small helpers.
 * docs/nvm.md describes the same layout for readers; keep them in step. */
#ifndef MC_STORE_INT_H
#define MC_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "mc_card.h"
#include "store.h"

/* Copies and fills move through a stack buffer of this many bytes. */
#define ST_CHUNK 64u
/* The page the layout is aligned to: every commit-point structure (the
 * header, each journal control slot, the record area, each counter ring)
 * starts on a page of its own, so that a port whose torn write spoils the
 * whole page being programmed (card/port.h) spoils nothing else; a counter
 * ring's consecutive slots lie in different pages (docs/nvm.md). */
#define ST_PAGE  MC_STORE_PAGE

/* ---- store header (NVM offset 0) ------------------------------------- */
#define ST_HDR_OFF   0u
#define ST_HDR_LEN   36u
#define ST_HDR_MAGIC 0x5453434Du      /* "MCST" */
#define ST_VERSION   4u              /* 2: journal control in two slots; 3: record slots, log slots (issue #16); 4: record slots own their pages */

/* ---- counter rings ----------------------------------------------------
 * MC_STORE_COUNTERS rings of ST_RING slots of ST_SLOT bytes. */
#define ST_RING      48u
#define ST_SLOT      8u
#define ST_CTR_OFF   64u
#define ST_CTR_LEN   (MC_STORE_COUNTERS * ST_RING * ST_SLOT)
#define ST_CTR_MAX   0xFFFFFFu        /* 24-bit SCP03 sequence counters */
/* The PIN try counters: MC_STORE_PIN_COUNTERS rings of ST_PIN_RING slots
 * (same slot format) right after the sequence counters. */
#define ST_PIN_RING  24u
#define ST_PIN_OFF   (ST_CTR_OFF + ST_CTR_LEN)
#define ST_PIN_LEN   (MC_STORE_PIN_COUNTERS * ST_PIN_RING * ST_SLOT)
_Static_assert(ST_CTR_OFF % ST_PAGE == 0 && ST_RING * ST_SLOT % ST_PAGE == 0 &&
                   ST_PIN_RING * ST_SLOT % ST_PAGE == 0,
               "counter rings must fill whole pages");

/* ---- journal ------------------------------------------------------------
 * Control slot A [16] at ST_JNL_OFF, control slot B [16] on the next page,
 * then [open mark 1][records ...] from the page after; a record is a
 * 14-byte header and its data.  The capacity counts one record header.
 * No single byte is a commit point: the journal's state is the valid
 * control slot with the greater sequence number (docs/nvm.md). */
#define ST_JNL_OFF    (ST_PIN_OFF + ST_PIN_LEN)
#define ST_CTL_A_OFF  ST_JNL_OFF
#define ST_CTL_B_OFF  (ST_JNL_OFF + ST_PAGE)
#define ST_DESC_LEN   16u             /* one control slot */
#define ST_DESC_MAGIC 0x324Au         /* "J2" */
#define ST_MARK_OFF   (ST_JNL_OFF + 2u * ST_PAGE)
#define ST_REC_OFF    (ST_MARK_OFF + 1u)
#define ST_REC_HDR    14u
#define ST_TX_CAP     3072u
#define ST_REC_AREA   (ST_TX_CAP + ST_REC_HDR)
#define ST_JNL_END    (ST_REC_OFF + ST_REC_AREA)

/* Journal states, in a control slot (covered by its CRC-32).  OPEN is no
 * state of a slot: an open transaction is the open mark of the next
 * sequence number in front of its first record. */
#define ST_STATE_CLEAR     0x3Cu
#define ST_STATE_COMMITTED 0xA5u
/* The open mark of a transaction whose records carry sequence seq. */
#define ST_MARK(seq)       ((uint8_t)(seq))

/* ---- data space ---------------------------------------------------------- */
#define ST_DATA_OFF   ((ST_JNL_END + ST_PAGE - 1u) & ~(ST_PAGE - 1u))
/* Smallest data space format accepts. */
#define ST_DATA_MIN   1024u

static inline void st_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void st_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t st_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t st_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Port calls mapped to mc_status (MC_ERR_NVM on any port failure). */
mc_status mc_st_nvm_read(struct mc_card *card, uint32_t addr, void *buf, size_t len);
mc_status mc_st_nvm_write(struct mc_card *card, uint32_t addr, const void *buf, size_t len);
/* The same, then the port's flush (mc_store_flushed). */
mc_status mc_st_nvm_write_flushed(struct mc_card *card, uint32_t addr, const void *buf,
                                  size_t len);
/* The port's flush alone (mc_store_flushed with nothing failed before). */
#define mc_st_nvm_flush(card) mc_store_flushed((card), MC_OK)
/* Sets NVM [addr, addr + len) to the value in how's low byte (store.c);
 * ST_FILL_LAZY: only the pieces that do not hold it already; ST_FILL_FLUSH:
 * then a flush, when a piece was written. */
#define ST_FILL_LAZY  0x100u
#define ST_FILL_FLUSH 0x200u
mc_status mc_st_fill(struct mc_card *card, uint32_t addr, unsigned how, size_t len);
/* Size of the data space for this port's NVM (0 when too small): the
 * public mc_store_data_size itself. */
#define mc_st_data_size mc_store_data_size
/* The checks of a data-space access (store.c): MC_ERR_CORRUPT, then
 * MC_ERR_PARAM for a NULL buffer of len > 0 or a range outside. */
mc_status mc_st_data_ok(struct mc_card *card, uint32_t off, const void *buf, size_t len);
/* true when [off, off+len) lies inside the data space. */
bool mc_st_data_range_ok(struct mc_card *card, uint32_t off, size_t len);

/* Journal (store_journal.c). */
/* The active control slot (tests, docs/nvm.md): 0 (A) or 1 (B), its
 * sequence number and state; -1 when neither slot is valid. */
int mc_st_journal_active(struct mc_card *card, uint32_t *seq, uint8_t *state);

/* Counters (store_counter.c). */
mc_status mc_st_counters_load(struct mc_card *card);

#endif
