/* inproc/mnap_inproc.h: the in-process transport: a simulated mnap card (the card
 * runtime and its simulator port) running inside the calling process.
 *
 * For tests and tools only; it lives in libmnapinproc.a, not in libmnap.
 * Each mnap_inproc owns one card (the simulated-card holder of
 * card/port/sim/sim_card.h), with memory NVM or in an image file (the mnap
 * CLI's --card-image: this header is all the CLI sees of the card).  It also offers what tests
 * need around a card: power cycles, power-cut injection, removal.
 *
 * mnap_fault wraps any transport and injects faults into its responses, for
 * the library's error-path tests. */
#ifndef MNAP_INPROC_H
#define MNAP_INPROC_H

#include <stddef.h>
#include <stdint.h>
#include "mnap/mnap_err.h"
#include "mnap/mnap_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mnap_inproc mnap_inproc;

/* A new card, fabricated: blank area, transport key set KVN FF with the
 * given key (key_len 16/24/32 bytes, the same key for ENC, MAC and DEK; NULL
 * = the simulator's test key 40 41 .. 4F), serial (8 bytes; NULL = 00..07),
 * diversification data serial || 00 01, nvm_size bytes of NVM (0 = 64 KiB).
 * The card is powered on. */
mnap_err mnap_inproc_new(mnap_inproc **out, const uint8_t *serial, const uint8_t *transport_key,
                         size_t key_len, uint32_t nvm_size);
/* A new image file at path (the format mnap-vcard serves, refused when the
 * file exists) holding a fabricated blank card: transport key set KVN FF =
 * the simulator's test key 40 41 .. 4F (ENC = MAC = DEK), serial (8 bytes),
 * key-set family 00 01, nvm_size bytes of NVM (0 = 64 KiB).  The image is
 * locked while it is made and closed afterwards; no half-made file stays.
 * MNAP_OK, or an error with a message in err. */
mnap_err mnap_inproc_create_image(const char *path, const uint8_t serial[8], uint32_t nvm_size,
                                  char *err, size_t err_cap);
/* The card of an image file, locked against a second process for as long as
 * the mnap_inproc lives, and powered on (start-up recovery; a corrupt image
 * gives a card that answers 6581).  MNAP_OK, or an error with a message. */
mnap_err mnap_inproc_open_image(mnap_inproc **out, const char *path, char *err, size_t err_cap);
/* Powers the card off and frees it (an image file is closed and unlocked). */
void mnap_inproc_free(mnap_inproc *ip);
mnap_transport mnap_inproc_transport(mnap_inproc *ip);

/* The transport the card is reached by (PROTOCOL.md §10; the values of
 * card/mc.h's MC_TRANSPORT_*): the card runtime is told (now and at every
 * insertion), the transport's protocol() reports MNAP_PROTO_T0 for T=0 and
 * MNAP_PROTO_T1 for the two others, and over T=0 transmit does what a PC/SC
 * T=0 reader does: a case-4 command goes without its Le, an extended APDU
 * is refused (MNAP_E_PARAM).  A new card is T=1.  MNAP_E_PARAM for another
 * value.  The ATR stays the T=1 one. */
#define MNAP_INPROC_T1 0
#define MNAP_INPROC_T0 1
#define MNAP_INPROC_CL 2
mnap_err mnap_inproc_set_transport(mnap_inproc *ip, unsigned transport);

/* Removes the card (transmit gives MNAP_E_CARD_REMOVED) or inserts it again
 * (power-on with start-up recovery; the next transmit gives MNAP_E_CARD_RESET
 * once, as PC/SC would). */
void mnap_inproc_remove(mnap_inproc *ip);
mnap_err mnap_inproc_insert(mnap_inproc *ip);
/* 1 while the card is in the reader and powered: not removed, and not gone
 * mute in a power cut. */
int mnap_inproc_present(const mnap_inproc *ip);
/* Cuts the power during the nth NVM write from now, after k bytes of it: the
 * card goes mute, transmit gives MNAP_E_CARD_REMOVED until insert. */
void mnap_inproc_arm_power_cut(mnap_inproc *ip, uint64_t nth_write, size_t k_bytes);
/* Number of NVM writes since creation. */
uint64_t mnap_inproc_nvm_writes(const mnap_inproc *ip);
/* Number of APDUs the card processed since creation. */
uint64_t mnap_inproc_apdus(const mnap_inproc *ip);

/* --- fault injection ------------------------------------------------- */
typedef enum mnap_fault_kind {
    MNAP_FAULT_NONE = 0,
    MNAP_FAULT_FLIP,        /* flips bit 0 of response byte `arg` (counted from the
                               start; a negative arg counts from the end) */
    MNAP_FAULT_TRUNCATE,    /* cuts the response data to `arg` bytes, keeping the
                               status word */
    MNAP_FAULT_SHORT,       /* cuts the whole response to `arg` bytes (0 or 1: not
                               even a status word) */
    MNAP_FAULT_DROP         /* the card disappears: this and every later transmit
                               give MNAP_E_CARD_REMOVED (the command is not sent) */
} mnap_fault_kind;

typedef struct mnap_fault {
    mnap_transport inner;
    mnap_fault_kind kind;
    uint64_t at;            /* 1-based index of the transmit to hit (0: never) */
    long arg;
    uint64_t count;         /* transmits seen so far */
    int dropped;
} mnap_fault;

/* Wraps inner; arm with mnap_fault_arm.  The mnap_fault is caller-owned. */
void mnap_fault_init(mnap_fault *f, const mnap_transport *inner);
/* Hits the nth transmit from now (1 = the next one). */
void mnap_fault_arm(mnap_fault *f, mnap_fault_kind kind, uint64_t nth, long arg);
mnap_transport mnap_fault_transport(mnap_fault *f);

#ifdef __cplusplus
}
#endif

#endif
