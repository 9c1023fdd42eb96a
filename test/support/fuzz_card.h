/* fuzz_card.h: the in-process card the APDU fuzzer drives
 * (test/fuzz/fuzz_card.c), built on card_harness.h.
 *
 * Four start states are built once per process and snapshotted (the whole
 * ch_card, RAM state of card and host channel included, plus the NVM image);
 * each fuzz input restores one with two memcpy's, so an execution costs only
 * the commands it sends.  Every command goes through fz_card_apdu, which
 * dumps the card's logical state after it and checks the rules of
 * fuzz_inv.h against the state before it.  fz_card_end power-cycles the card
 * and checks that start-up finds the NVM consistent and the state unchanged.
 *
 * The cast: the area manager (region keys of card_harness.h), AP A
 * (ch_ap_default(1)) whose keys the harness holds, and AP B
 * (ch_ap_default(2)) whose keys the harness never uses: B is the firewall's
 * witness. */
#ifndef FUZZ_CARD_H
#define FUZZ_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "card_harness.h"

enum {
    FZ_START_BLANK = 0,   /* fabricated, nothing selected */
    FZ_START_ACTIVE = 1,  /* area set up, APs A and B loaded, nothing selected */
    FZ_START_AM = 2,      /* as 1, with an AM channel open at level 33 */
    FZ_START_AP = 3,      /* as 1, with a channel on A at level 33 and A's PIN verified */
    FZ_START_COUNT = 4
};

enum {
    FZ_SEND_WRAPPED = 0,  /* wrapped in the harness's channel when open; GET RESPONSE */
    FZ_SEND_RAW = 1,      /* exactly these bytes */
    FZ_SEND_CHAINED = 2   /* wrapped, then cut in ISO chaining segments */
};

/* Restores start state `start` (building the snapshots on first use). */
void fz_card_begin(unsigned start);
/* Sends one command and checks the invariants.  seg: segment size for
 * FZ_SEND_CHAINED. */
uint16_t fz_card_apdu(int mode, const uint8_t *apdu, size_t len, size_t seg);
/* A harness operation selected by op[0] (see fuzz_card.c): open a channel
 * with keys the harness holds, VERIFY A's current PIN, AREA SETUP, load an
 * AP the harness builds, power cycle, warm reset, or arm a power cut for the
 * next command (the command runs whole first, then again from the same state
 * with the cut, and start-up is checked against PROTOCOL.md §8). */
void fz_card_op(const uint8_t *op, size_t n);
/* Power cycle and the after-restart checks. */
void fz_card_end(void);
/* The live card (for corpus generators). */
ch_card *fz_card_live(void);

#endif
