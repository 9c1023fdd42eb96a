/* port_tear.h: the tear interface, an optional part of the port contract
 * (card/port.h) used only by tests.  A port that provides these four
 * functions can be torn by the one tear runner (test/support/tear_runner.h):
 * "count the writes, cut at write N after K bytes, restart, compare", the
 * atomicity check of PROTOCOL.md §8, with no knowledge of the port's own
 * internals.  The simulator provides them (card/port/sim/sim_nvm.c); a
 * vendor or bare-metal port provides them in its test build (docs/porting.md,
 * "Test a new port").  The card runtime never calls them.
 *
 * Like port.h, each function receives the card and finds its port state
 * through card->port.  A write here means one call of mc_port_nvm_write with
 * len > 0; a write that failed because the power was already cut is not
 * counted. */
#ifndef MC_PORT_TEAR_H
#define MC_PORT_TEAR_H

#include <stddef.h>
#include <stdint.h>

struct mc_card;

/* The number of NVM writes so far (monotonic; only differences matter). */
uint64_t mc_port_tear_count(struct mc_card *card);

/* What the interrupted byte (byte k of the torn write) holds after the cut;
 * card/port.h allows any value there. */
#define MC_TEAR_OLD   0   /* its old value: a clean prefix of k new bytes */
#define MC_TEAR_NEW   1   /* the value being written (k + 1 new bytes) */
#define MC_TEAR_VALUE 2   /* the value given to mc_port_tear_arm */
#define MC_TEAR_RANDOM 3  /* page tearing: bytes of a generator seeded with
                           * value (byte tearing: like MC_TEAR_VALUE) */

/* Arms a power cut during the nth NVM write from now (1 = the next one),
 * after k of its bytes reached NVM; byte k then holds what `how` says
 * (MC_TEAR_*, with value for MC_TEAR_VALUE), the bytes after it keep their
 * old values.  k at least the write's length (SIZE_MAX) lets the whole write
 * land, then the power fails.  The torn write returns non-zero, and from then
 * on every NVM write and flush fails, changing nothing, until
 * mc_port_tear_restart.  A port whose part programs in pages tears a whole
 * page instead and documents it (docs/porting.md). */
void mc_port_tear_arm(struct mc_card *card, uint64_t nth, size_t k, int how, uint8_t value);

/* The length of the write the armed cut tore (all of it, not only the k
 * bytes that landed), and in *addr (when not NULL) its NVM address; 0 while
 * no cut happened since the last arm or restart. */
size_t mc_port_tear_cut(struct mc_card *card, uint32_t *addr);

/* Page-granular tearing, for a port whose part erases and programs whole
 * pages (flash, or EEPROM with page buffers): with page_size P (a power of
 * two; 0: byte tearing, the default), a cut during a write spoils the
 * whole aligned page of P bytes that holds the interrupted byte (byte k),
 * bytes of that page outside the write included: MC_TEAR_OLD leaves the
 * page as it was, MC_TEAR_VALUE fills it with value, MC_TEAR_RANDOM with
 * bytes seeded by value.  The pages of the write before it hold the new
 * bytes, the pages after it their old ones (card/port.h states what a
 * page-erasing port may leave).  The tear runner cuts at the first byte of
 * each page of a write in this mode (tr_case.page).  Optional: a port
 * without it tears bytes only, and the runner refuses page cases. */
void mc_port_tear_page(struct mc_card *card, uint32_t page_size);

/* The power is back: any armed cut is dropped and NVM writes work again.
 * The caller then starts the runtime again (mc_power_off, mc_power_on). */
void mc_port_tear_restart(struct mc_card *card);

#endif
