/* simcard.h: the in-process card over a simulator image file
 * (`--card-image PATH`), so that the CLI can be used and tested without
 * pcscd.
 *
 * libmnap's own in-process transport (mnap_inproc.h) keeps its card in
 * memory, which dies with the process; a command line needs the card to
 * persist from one command to the next, like a real card in a reader.  This
 * transport runs the card runtime on the simulator port with a file image
 * (the same image format mnap-vcard serves), locked against a second
 * process.  Every command opens the image (a power-on with start-up
 * recovery) and closes it at the end (a power-off).
 *
 * Test hooks (environment, documented in docs/cli.md):
 *   MNAP_SIMCARD_PULL_AT=N   the Nth APDU finds the card pulled out: that and
 *                            every later transmit give MNAP_E_CARD_REMOVED
 *   MNAP_SIMCARD_CUT_AT=N    power cut at the Nth NVM write from the start of
 *                            the command (torn after one byte): the card goes
 *                            mute, as a card pulled mid-write would */
#ifndef MNAP_SIMCARD_H
#define MNAP_SIMCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mnap/mnap_transport.h"

typedef struct simcard simcard;

/* Creates a new image at path with a blank fabricated card: transport key set
 * KVN FF = 40 41 .. 4F (ENC = MAC = DEK), serial (8 bytes), key-set family
 * 00 01.  Refuses an existing file.  0, or -1 with a message in err. */
int simcard_create(const char *path, const uint8_t serial[8], uint32_t nvm_size, char *err,
                   size_t err_cap);
/* Opens an image and powers the card on.  0, or -1 with a message. */
int simcard_open(simcard **out, const char *path, char *err, size_t err_cap);
void simcard_close(simcard *s);
mnap_transport simcard_transport(simcard *s);

#endif
