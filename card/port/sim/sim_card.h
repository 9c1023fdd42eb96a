/* sim_card.h: the one simulated-card holder.  An mc_simcard is a card
 * runtime (mc_card) on the simulator port (mc_sim) with memory or file NVM,
 * and the reader-side life of that card: create (fabricate) or open an
 * image under the one-process lock, power on / off / reset, process an APDU
 * with "the card went mute" when a power cut tore an NVM write, cut the power
 * at a chosen write, pull the card and insert it again.
 *
 * It is the only caller of mc_fabricate for the programs around the card:
 * the in-process transport (host/inproc/, which the mnap CLI's --card-image
 * reaches through mnap_inproc.h), mnap-vcard, the card test harness and the
 * card benchmark all build on it.  It is host code (libc, the simulator
 * port), not part of the card runtime. */
#ifndef MC_SIM_CARD_H
#define MC_SIM_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc.h"
#include "mc_sim.h"

typedef struct mc_simcard {
    mc_sim sim;
    mc_card card;
    bool open;          /* sim holds an image (memory or file) */
    bool powered;       /* the card is powered (it may be mute) */
    bool mute;          /* a power cut tore an NVM write: silent until powered on again */
    uint8_t transport;  /* MC_TRANSPORT_*: told to the card at every power-on */
    uint64_t apdus;     /* APDUs handed to mc_process */
} mc_simcard;

/* Failures of create / open (negative, so 0 is success). */
#define MC_SIMCARD_E_CREATE    (-1)  /* the image could not be made (errno says why) */
#define MC_SIMCARD_E_OPEN      (-2)  /* not a usable image: msg has the simulator's reason */
#define MC_SIMCARD_E_LOCK      (-3)  /* in use by another process: msg has the message */
#define MC_SIMCARD_E_FABRICATE (-4)  /* mc_fabricate failed: *status says how */
#define MC_SIMCARD_E_MEMORY    (-5)

/* The card's identity and transport key set (KVN FF, the same key for ENC,
 * MAC and DEK unless dek/mac differ) for fabrication.  NULL keys and family:
 * the simulator's test key 40 41 .. 4F and family 00 01. */
typedef struct mc_simcard_make {
    const uint8_t *serial;          /* MC_SERIAL_LEN bytes */
    const uint8_t *family;          /* 2 bytes, or NULL */
    const uint8_t *enc, *mac, *dek; /* key_len bytes each, or NULL */
    size_t key_len;
    const uint8_t *det_seed;        /* 16 bytes: deterministic random from this seed
                                       (transcripts, tests), set before fabrication;
                                       NULL: OpenSSL's */
} mc_simcard_make;

/* A fresh holder (no image). */
void mc_simcard_init(mc_simcard *sc);

/* A new card in memory NVM of nvm_size bytes (0: MC_SIM_DEFAULT_NVM_SIZE),
 * fabricated and left powered on.  0, MC_SIMCARD_E_MEMORY, or
 * MC_SIMCARD_E_FABRICATE with *status (status may be NULL). */
int mc_simcard_new_mem(mc_simcard *sc, uint32_t nvm_size, const mc_simcard_make *mk,
                       mc_status *status);

/* dst becomes a second card with a memory copy of src's NVM (and src's
 * deterministic-random seed, if any), powered on: the mc_power_on status,
 * or MC_ERR_PARAM when there is no memory. */
mc_status mc_simcard_clone_mem(mc_simcard *dst, const mc_simcard *src);

/* A new file image at path (truncate: overwrite an existing file), locked,
 * fabricated and left powered off and open.  On a failure after the file
 * was made, no half-made image stays behind (unless another process holds
 * the lock: not ours to remove).  msg (may be NULL) takes the lock message. */
int mc_simcard_create_file(mc_simcard *sc, const char *path, uint32_t nvm_size, bool truncate,
                           const mc_simcard_make *mk, mc_status *status, char *msg,
                           size_t msg_cap);

/* Opens an image file and takes its lock; the card stays powered off. */
int mc_simcard_open_file(mc_simcard *sc, const char *path, char *msg, size_t msg_cap);

/* Powers off and closes the image (a file's lock goes with it). */
void mc_simcard_close(mc_simcard *sc);

/* Power-on: (after a power-off if powered) the power comes back, any armed
 * cut is disarmed, start-up recovery runs and the card learns its
 * transport.  The mc_power_on status (MC_ERR_CORRUPT: a card that answers
 * 6581, still powered). */
mc_status mc_simcard_power_on(mc_simcard *sc);
void mc_simcard_power_off(mc_simcard *sc);
/* Warm reset: clears the card's RAM security state. */
void mc_simcard_reset(mc_simcard *sc);
/* The transport for this and every later power-on (MC_TRANSPORT_*). */
void mc_simcard_set_transport(mc_simcard *sc, uint8_t transport);

/* One command APDU.  Returns the response length (data and SW), or 0 when
 * the card is silent: not powered, or mute because a power cut tore an NVM
 * write (then sc->mute is set until the next power-on). */
size_t mc_simcard_process(mc_simcard *sc, const uint8_t *cmd, size_t len, uint8_t *rsp,
                          size_t cap);

/* Cuts the power during the nth NVM write from now, after k bytes of it. */
void mc_simcard_arm_cut(mc_simcard *sc, uint64_t nth_write, size_t k_bytes);

#endif
