/* tear_models.h: what the host tests hand the tear runner (tear_runner.h)
 * for the interrupted-byte models of card/port.h: the valid codes of the
 * store's commit-point bytes, and how much of the model space a run covers
 * (make test samples it with a fixed seed, make test-long runs all of it). */
#ifndef TEAR_MODELS_H
#define TEAR_MODELS_H

#include <stdint.h>

#include "tear_runner.h"

/* The runner's codes callback for a card whose store is the card runtime's
 * (card/store_int.h): at the open mark, the marks of the current, next and
 * next-but-one sequence numbers; at a control slot's state byte, CLEAR and
 * COMMITTED; at its magic, the magic's byte.  ctx is the struct mc_card *. */
unsigned ct_tear_store_codes(struct mc_card *card, uint32_t addr, uint8_t *out, unsigned cap);

/* Sample factor for tr_case.sample: 1 (every cut) when MNAP_TEAR_LONG is
 * set in the environment (make test-long), else CT_TEAR_SAMPLE. */
#define CT_TEAR_SAMPLE 8u
unsigned ct_tear_sample(void);

/* Random values per cut (TR_V_RANDOM) and the fixed seed. */
#define CT_TEAR_RANDOMS 4u
#define CT_TEAR_SEED 0x16A5C3E1u

struct mc_card;

/* Page tearing (card/port_tear.h mc_port_tear_page): the page size of the
 * page cases, CT_TEAR_PAGE unless MNAP_TEAR_PAGE (a power of two) says
 * otherwise, and how finely make test samples them (one write in
 * CT_TEAR_PAGE_STRIDE, the first and last two always, 2 random fills of
 * which about one in CT_TEAR_SAMPLE runs; make test-long: every write, 4
 * random fills, all of them). */
#define CT_TEAR_PAGE 64u
#define CT_TEAR_PAGE_STRIDE 8u
uint32_t ct_tear_page(void);
/* Makes tc a page case: pages of ct_tear_page(), every page of every write
 * (sampled in make test), the interrupted page old, 00, FF, random. */
void ct_tear_page_models(tr_case *tc);

/* Sets the models of a case: every one of TR_V_ALL, the store's codes,
 * CT_TEAR_RANDOMS random values from CT_TEAR_SEED, ct_tear_sample(). */
void ct_tear_models(tr_case *tc);

#endif
