/* names.h: printable names of the card's state codes (PROTOCOL.md §6). */
#ifndef MNAP_NAMES_H
#define MNAP_NAMES_H

#include <stdint.h>

/* "BLANK", "ACTIVE", "LOCKED", "TERMINATED" or "UNKNOWN". */
const char *area_state_name(uint8_t state);
/* "ACTIVE", "SUSPENDED" or "UNKNOWN" (the life-cycle code alone; a blocked
 * PIN is told by the try counter). */
const char *ap_state_name(uint8_t state);

#endif
