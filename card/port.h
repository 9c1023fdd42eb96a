/* port.h: the whole contract between the mnap card runtime and a card
 * platform.  A vendor port implements exactly these functions; the runtime
 * calls nothing else outside common/ and freestanding C.
 *
 * Every function receives the card, so one process can run many cards: the
 * port finds its own state through card->port (set by mc_power_on or
 * mc_fabricate).  A firmware has one static card and may ignore it.
 *
 * Return values: 0 is success; any non-zero value is a failure that the
 * runtime treats as fatal for the current command (it answers 6581 if it still
 * can, and never uses data it could not read).  See docs/porting.md. */
#ifndef MC_PORT_H
#define MC_PORT_H

#include <stddef.h>
#include <stdint.h>

struct mc_card;

/* --- NVM ------------------------------------------------------------------
 * The runtime addresses NVM as bytes 0 .. mc_port_nvm_size()-1.  The erased
 * value is 0xFF, but the runtime never relies on erase: it only reads and
 * writes.  A write may be torn by a power cut at any byte k: afterwards its
 * first k bytes hold the new values, byte k (the one being programmed at the
 * cut) holds ANY value, and the bytes after it hold their old values
 * (PROTOCOL.md §11).  Writes of other addresses are never disturbed.  The
 * runtime survives such a cut at every write: no byte is a commit point on
 * its own (docs/nvm.md); the simulator models every case (old, new, 00, FF,
 * the valid codes of the byte, random values).
 *
 * A page-erasing port (flash, or an EEPROM that erases and programs whole
 * pages): a cut may spoil the WHOLE aligned page being programmed, bytes of
 * it outside the write included (any content: old, erased, 00, random);
 * the pages of the write before it hold the new bytes, the later ones their
 * old bytes (a port programs a multi-page write in ascending address order,
 * each page completely before the next).  The store is laid out for pages of
 * up to MC_STORE_PAGE (64) bytes, a power of two: the header, each journal
 * control slot, the journal's records, each security-log slot, the heap and
 * each AP region start on pages of their own, a counter ring's consecutive
 * slots are in different pages, and a transaction journals the whole pages
 * it writes, so that such a cut spoils nothing that recovery cannot rebuild
 * (docs/nvm.md, "Pages"); each slot of a linear-fixed or cyclic EF starts
 * on a page and owns its pages (format version 4).
 * The runtime keeps single writes small (at most one page of
 * metadata or one command's data) and calls mc_port_nvm_flush at each commit
 * point.
 * Tests tear a port through the tear interface of card/port_tear.h (count
 * the writes, cut during write N after K bytes, restart), which a port
 * provides in its test build; the runtime never calls it. */
uint32_t mc_port_nvm_size(struct mc_card *card);
int mc_port_nvm_read(struct mc_card *card, uint32_t addr, uint8_t *buf, size_t len);
int mc_port_nvm_write(struct mc_card *card, uint32_t addr, const uint8_t *buf, size_t len);
/* Barrier: every earlier write is durable when it returns (a no-op on parts
 * whose writes are synchronous). */
int mc_port_nvm_flush(struct mc_card *card);

/* --- random ---------------------------------------------------------------
 * len bytes from the platform's true random number generator (a DRBG seeded
 * from one is fine).  Used for nothing that must be reproducible. */
int mc_port_random(struct mc_card *card, uint8_t *buf, size_t len);

/* --- AES ------------------------------------------------------------------
 * One block, key length 16, 24 or 32; decrypt selects the direction; in and
 * out may alias.  Same shape as cm_aes_fn so the runtime can hand it to
 * common/ directly (the ctx argument is the card). */
int mc_port_aes(void *card, int decrypt, const uint8_t *key, size_t key_len,
                const uint8_t in[16], uint8_t out[16]);

/* --- power ----------------------------------------------------------------
 * Called by mc_power_off after the runtime wiped its own RAM state: a port
 * may clear crypto-engine registers or other RAM here.  May do nothing. */
void mc_port_power_off(struct mc_card *card);

#endif
