/* vc_card.h: the card behind one mnap-vcard slot: the card runtime on the
 * simulator port with a file image, and the power state a reader sees.
 *
 * The image is opened (or fabricated) once, locked against a second process,
 * and written through by the simulator port, which fsyncs at every commit:
 * when vc_card_apdu returns, every transaction the command committed is on
 * disk, before the caller sends the response. */
#ifndef VC_CARD_H
#define VC_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc.h"
#include "sim_card.h"

#define VC_ATR_MAX 33

typedef struct vc_card {
    mc_simcard sc;             /* the card, its image and power (card/port/sim/sim_card.h);
                                  sc.transport (MC_TRANSPORT_*): the ATR and the card's
                                  APDU rules */
    bool corrupt;              /* the last power-on found corrupt NVM */
    uint8_t atr[VC_ATR_MAX];   /* computed once: get-ATR is polled constantly */
    size_t atr_len;
    /* test hooks (--die-at, --cut-at): the Nth APDU with this INS ends the
     * process, or cuts the power and the card stays in the reader */
    int die_ins;               /* -1 off */
    unsigned die_count;
    unsigned die_write;        /* 0: before processing; W: cut at its Wth NVM write */
    bool cut_only;             /* --cut-at: go mute instead of exiting */
    unsigned ins_seen;
    uint64_t last_writes;      /* NVM writes of the last APDU (for the log) */
} vc_card;


/* Creates a new image of nvm_size bytes at path (refused when the file exists
 * unless overwrite) and fabricates a blank card with serial.  0, or -1 with a
 * message in err.  The card is left powered off. */
int vc_card_create(vc_card *vc, const char *path, uint32_t nvm_size,
                   const uint8_t serial[MC_SERIAL_LEN], bool overwrite,
                   char *err, size_t err_cap);
/* Opens an existing image: refused with a message when its header (magic,
 * version, size) is bad or another process holds it.  Corrupt content is not
 * refused: the card is served and answers 6581 (PROTOCOL.md §8).  Powers the
 * card on once to run start-up recovery, then off. */
int vc_card_open(vc_card *vc, const char *path, char *err, size_t err_cap);
void vc_card_close(vc_card *vc);

/* The ATR a reader shows for the card over transport (MC_TRANSPORT_*):
 * T=1 mc_atr; T=0 the same historical bytes with T=0 only (3B 06 ...);
 * contactless the ATR a PC/SC reader synthesises for an ISO/IEC 14443-4
 * Type B card (PC/SC Part 3): 3B 88 80 01, the application data (4) and
 * protocol info (3) of the card's ATQB, MBLI/CID, TCK.  Returns the length,
 * 0 for an unknown transport or too small a buffer. */
size_t vc_atr(uint8_t transport, uint8_t *out, size_t cap);
/* Serves the card over transport (MC_TRANSPORT_*): its ATR, and the card
 * runtime told at every power-on (mc_set_transport).  -1 when unknown. */
int vc_card_set_transport(vc_card *vc, uint8_t transport);

/* Reader events.  Each clears all RAM security state of the card. */
void vc_card_power_on(vc_card *vc);
void vc_card_power_off(vc_card *vc);
void vc_card_reset(vc_card *vc);

/* Result of one APDU. */
typedef enum {
    VC_APDU_OK,     /* rsp holds the response */
    VC_APDU_MUTE,   /* the card went mute (an NVM write failed): power-cycle it */
    VC_APDU_DIE     /* the --die-at hook fired: exit at once, as if killed */
} vc_apdu_result;

/* Runs one command APDU; powers the card on first if the reader did not. */
vc_apdu_result vc_card_apdu(vc_card *vc, const uint8_t *cmd, size_t cmd_len,
                            uint8_t *rsp, size_t rsp_cap, size_t *rsp_len);

#endif
