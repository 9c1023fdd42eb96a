/* store_counter.c: monotonic, wear-levelled counters (SCP03 sequence
 * counters) of the store.
 *
 * Each counter owns a ring of ST_RING slots of 8 bytes:
 *   value (3, LE) | ~value (3) | CRC-16 over (counter index, slot index, bytes 0-5) (2, LE)
 * A set writes the next slot of the ring (one 8-byte write, then a flush);
 * the counter's value is the largest valid slot.  Values only grow, so the
 * newest slot is the largest and older slots are never needed again.
 *
 * Why a torn slot can never produce a value that was not written: a tear
 * leaves a prefix of the new slot over the slot's previous content (an
 * earlier valid slot or erased FF).  If the value bytes are mixed, the
 * complement bytes are all old and match only if the mixture equals the old
 * value; if the complement is mixed, the value bytes are all new and match
 * only if the mixture equals the new complement.  The CRC, written last,
 * further rejects anything but a complete slot or the untouched old one.
 * docs/nvm.md gives the endurance arithmetic. */
#include <string.h>

#include "crc.h"
#include "store_int.h"

/* Sequence counters have rings of ST_RING slots, PIN try counters rings of
 * ST_PIN_RING right behind them. */
static unsigned ring_len(unsigned idx)
{
    return idx < MC_STORE_COUNTERS ? ST_RING : ST_PIN_RING;
}

/* Ring position pos lies in page pos mod (pages of the ring): consecutive
 * positions are in different pages, so a torn page never holds the newest
 * slot while the next one is written (docs/nvm.md).  The quotient and
 * remainder by subtraction (at most 16 steps): Cortex-M0+ has no divider,
 * and `%` or `/` by the ring's 3 or 6 pages links libgcc's (280 bytes). */
static uint32_t slot_addr(unsigned idx, unsigned pos)
{
    unsigned pages = ring_len(idx) * ST_SLOT / ST_PAGE, q = 0;
    uint32_t base = idx < MC_STORE_COUNTERS
                        ? ST_CTR_OFF + (uint32_t)idx * ST_RING * ST_SLOT
                        : ST_PIN_OFF + (uint32_t)(idx - MC_STORE_COUNTERS) * ST_PIN_RING * ST_SLOT;

    while (pos >= pages) {
        pos -= pages;
        q++;
    }
    return base + pos * ST_PAGE + q * ST_SLOT;
}

/* The slot after pos in ring idx (pos < its length), without a division
 * (Cortex-M0+ has none: `%` links the 280-byte libgcc divider). */
static unsigned ring_next(unsigned idx, unsigned pos)
{
    return pos + 1u == ring_len(idx) ? 0u : pos + 1u;
}

static uint16_t slot_crc(unsigned idx, unsigned pos, const uint8_t s[6])
{
    const uint8_t where[2] = {(uint8_t)idx, (uint8_t)pos};
    return mc_crc16_update(mc_crc16(where, sizeof(where)), s, 6);
}

static void slot_encode(unsigned idx, unsigned pos, uint32_t value, uint8_t s[ST_SLOT])
{
    for (int i = 0; i < 3; i++) {
        s[i] = (uint8_t)(value >> (8 * i));
        s[3 + i] = (uint8_t)~s[i];
    }
    st_put16(s + 6, slot_crc(idx, pos, s));
}

/* The slot's value, or 0 when it is erased, torn or damaged (a set never
 * writes 0): the slot must be what a set of its value bytes writes there
 * (complement and CRC-16). */
static uint32_t slot_value(unsigned idx, unsigned pos, const uint8_t s[ST_SLOT])
{
    uint8_t t[ST_SLOT];
    uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16;

    slot_encode(idx, pos, v, t);
    return memcmp(s, t, sizeof(t)) == 0 ? v : 0;
}

/* Loads one ring: its largest valid slot.  A slot that fails its checks
 * holds no value: a torn set (or, on a page-erasing part, the other slots of
 * the page it tore) and damage look alike, so neither is reported. */
static mc_status load_ring(struct mc_card *card, unsigned idx)
{
    mc_store *st = &card->store;
    uint8_t s[ST_SLOT];
    unsigned ring = ring_len(idx), pos;
    uint32_t v;

    CM_OPAQUE(st);   /* card->store addressed from its own pointer */
    st->counter_cache[idx] = 0;
    st->counter_slot[idx] = (uint8_t)(ring - 1);   /* so the first set uses slot 0 */
    for (pos = 0; pos < ring; pos++) {
        mc_status rc = mc_st_nvm_read(card, slot_addr(idx, pos), s, sizeof(s));
        if (rc != MC_OK)
            return rc;
        v = slot_value(idx, pos, s);
        if (v > st->counter_cache[idx]) {
            st->counter_cache[idx] = v;
            st->counter_slot[idx] = (uint8_t)pos;
        }
    }
    return MC_OK;
}

mc_status mc_st_counters_load(struct mc_card *card)
{
    for (unsigned i = 0; i < MC_STORE_ALL_COUNTERS; i++) {
        mc_status rc = load_ring(card, i);
        if (rc != MC_OK)
            return rc;
    }
    return MC_OK;
}

mc_status mc_store_counter_get(struct mc_card *card, unsigned idx, uint32_t *value)
{
    const mc_store *st = &card->store;

    if (st->corrupt)
        return MC_ERR_CORRUPT;
    if (idx >= MC_STORE_ALL_COUNTERS || value == NULL)
        return MC_ERR_PARAM;
    *value = st->counter_cache[idx];
    return MC_OK;
}

mc_status mc_store_counter_set(struct mc_card *card, unsigned idx, uint32_t value)
{
    mc_store *st = &card->store;
    uint8_t s[ST_SLOT];
    unsigned pos;
    mc_status rc;

    CM_OPAQUE(st);   /* card->store addressed from its own pointer */
    if (st->corrupt)
        return MC_ERR_CORRUPT;
    if (idx >= MC_STORE_ALL_COUNTERS || value > ST_CTR_MAX || value < st->counter_cache[idx])
        return MC_ERR_PARAM;
    if (value == st->counter_cache[idx])
        return MC_OK;          /* already durable: no write */
    pos = ring_next(idx, st->counter_slot[idx]);
    slot_encode(idx, pos, value, s);
    rc = mc_st_nvm_write_flushed(card, slot_addr(idx, pos), s, sizeof(s));
    if (rc != MC_OK)
        return rc;
    st->counter_cache[idx] = value;
    st->counter_slot[idx] = (uint8_t)pos;
    return MC_OK;
}
