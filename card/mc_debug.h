/* mc_debug.h: test-only views of a card's state.  Not part of a firmware:
 * card/mc_debug.c is left out of the footprint (tools/size.sh) and a vendor
 * build may drop it.
 *
 * mc_debug_dump writes a canonical serialization of the LOGICAL NVM state:
 * area state, serial, diversification data, the AM key set and its effective
 * sequence counter, the global counter high-water mark, every AP in load order
 * (AID, state, PIN policy, PIN value, try counter, key set, effective sequence
 * counter, minimum level, every EF with its descriptor, record count and
 * contents), and the security log newest first without TEAR_RECOVERED
 * entries.  Two cards in the same logical state give the same bytes whatever
 * their physical layout; tearing tests compare dumps before and after. */
#ifndef MC_DEBUG_H
#define MC_DEBUG_H

#include <stddef.h>
#include <stdint.h>
#include "mc.h"

/* Writes at most cap bytes of the dump to out and returns its full length
 * (call again with a larger buffer when the result exceeds cap).  A corrupt
 * record is dumped as the marker bytes "CORRUPT" and ends the dump. */
size_t mc_debug_dump(mc_card *card, uint8_t *out, size_t cap);

/* The same bytes handed to sink piece by piece, in order, as they are made
 * (a part with little RAM digests or compares them without holding the
 * whole dump: test/arm/mb_tear.c); returns the full length. */
typedef void (*mc_debug_sink)(void *ctx, const uint8_t *p, size_t n);
size_t mc_debug_dump_to(mc_card *card, mc_debug_sink sink, void *ctx);

/* The selected application: -1 nothing, -2 the area manager, else the AP slot. */
int mc_debug_selected(const mc_card *card);
/* 0 no channel, 1 initiation pending, 2 channel open. */
int mc_debug_channel(const mc_card *card);
/* The level of the open channel (0 when none). */
uint8_t mc_debug_level(const mc_card *card);
/* True when the card has marked its NVM corrupt. */
int mc_debug_corrupt(const mc_card *card);

#endif
