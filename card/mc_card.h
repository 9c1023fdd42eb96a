/* mc_card.h: the caller-owned RAM state of one card.  PLACEHOLDER: the card
 * runtime fills this in; callers only allocate it (statically, or one per
 * simulated card) and pass it to the mc_* entry points. */
#ifndef MC_CARD_H
#define MC_CARD_H

#include <stddef.h>
#include <stdint.h>

/* Declared before store.h so its prototypes name this same struct. */
struct mc_card;
#include "store.h"

typedef struct mc_card {
    void *port;   /* the port's own context, handed back by the port functions */
    mc_store store;  /* the transactional NVM store (card/store.c) */
} mc_card;

#endif
