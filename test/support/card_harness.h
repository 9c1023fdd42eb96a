/* card_harness.h: an in-process mnap card for tests, fuzzers and benchmarks,
 * with a test-side SCP03 host written on common/ only.
 *
 * The harness owns one simulated card (the holder mc_simcard of
 * card/port/sim/sim_card.h: mc_sim with memory NVM + mc_card),
 * fabricated like a blank card from the vendor: transport key set KVN FF with
 * the test key 40..4F for ENC, MAC and DEK, serial 01..08, family 00 01.  It
 * sends APDUs given as bytes or hex, keeps the host half of one secure channel
 * (INITIALIZE UPDATE, card cryptogram and card challenge checks, EXTERNAL
 * AUTHENTICATE, command wrapping, response unwrapping, 61xx / GET RESPONSE),
 * builds key set data and AP images per PROTOCOL.md §3 and §6, loads them,
 * and power-cycles the card.
 *
 * Implemented in card_harness.c (card, APDUs, channel, snapshots) and
 * card_setup.c (key set data, area setup, AP images and loading); CMocka
 * assertions and fixtures built on it are in card_test.h.
 *
 * Not reentrant: the send functions use static buffers, so one thread drives
 * the harness (any number of ch_card values, used in turn).
 *
 * Nothing here reads the card runtime's internals: the card is reached only
 * through mc.h (and mc_debug_dump when the runtime provides it), so the tests
 * built on this harness hold the card to PROTOCOL.md, not to its code. */
#ifndef CARD_HARNESS_H
#define CARD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_scp03.h"
#include "mc.h"
#include "sim_card.h"

#define CH_AM_AID_LEN 7
extern const uint8_t ch_am_aid[CH_AM_AID_LEN];
extern const uint8_t ch_serial[8];
extern const uint8_t ch_family[2];
extern const uint8_t ch_div_data[10];

/* Room for any response the harness assembles (GET RESPONSE parts joined). */
#define CH_RSP_MAX 8192
/* Largest AP image the builder writes (PROTOCOL.md §6: 32 KiB). */
#define CH_IMAGE_MAX 32768
/* Pseudo status words of the harness itself (never sent by a card). */
#define CH_SW_MUTE    0x0001   /* mc_process returned 0: the card went mute */
#define CH_SW_HARNESS 0x0002   /* the harness could not build or check something */
#define CH_SW_RMAC    0x0003   /* response R-MAC missing or wrong, or R-ENC bad */
#define CH_SW_CRYPTO  0x0004   /* card cryptogram or card challenge did not verify */

typedef struct ch_rsp {
    uint8_t data[CH_RSP_MAX];  /* response data (unwrapped when sent in a channel) */
    size_t len;
    uint16_t sw;
    size_t raw_len;            /* data length as received, before unwrapping */
} ch_rsp;

typedef struct ch_card {
    mc_simcard sc;                /* the card: sc.card on sc.sim (card/port/sim/sim_card.h) */
    cm_aes aes;
    /* host side of the secure channel */
    bool chan_open;
    cm_scp03 scp;
    cm_keyset chan_keys;          /* static keys the channel was opened with */
    uint8_t selected_aid[16];     /* what the harness last selected (host view) */
    size_t selected_aid_len;
    /* pending INITIALIZE UPDATE */
    bool iu_pending;
    uint8_t host_challenge[8];
    uint8_t card_challenge[8];
    uint8_t iu_seq[3];            /* sequence counter of the last INITIALIZE UPDATE */
    uint8_t iu_kvn;               /* KVN the card reported */
    uint32_t challenge_counter;   /* makes host challenges differ */
    uint8_t last_ea[21];          /* the last EXTERNAL AUTHENTICATE sent (replay tests) */
} ch_card;

/* --- keys ----------------------------------------------------------------- */
/* The simulator's transport key set: 40..4F for all three keys, KVN FF. */
void ch_transport_keys(cm_keyset *ks);
/* A key set with distinct keys derived from seed: enc = seed, seed+1, ...
 * mac = seed+0x40.., dek = seed+0x80..; key_len 16, 24 or 32. */
void ch_make_keys(cm_keyset *ks, uint8_t kvn, uint8_t seed, uint8_t key_len);
/* The default region key set of the tests (KVN 01, AES-128). */
void ch_region_keys(cm_keyset *ks);

/* --- life ----------------------------------------------------------------- */
/* A fabricated blank card with nvm_size bytes of memory NVM (0: 64 KiB),
 * deterministic random, powered on.  Returns 0 or -1. */
int ch_init(ch_card *c, uint32_t nvm_size);
void ch_free(ch_card *c);
/* Power off, restore power (clears a pending cut), power on: start-up
 * recovery runs.  The host forgets its channel.  Returns mc_power_on's status. */
mc_status ch_power_cycle(ch_card *c);
/* The runtime's restart alone (mc_power_off, mc_power_on; the host forgets
 * its channel), leaving the port's power as it is: the tear runner's restart
 * (test/support/tear_runner.h), which may cut it. */
mc_status ch_restart(ch_card *c);
/* A second card whose NVM is a copy of src's, powered on (start-up recovery
 * runs on the copy): for looking at a state without changing src.  Free it
 * with ch_free.  Returns mc_power_on's status, or MC_ERR_PARAM. */
mc_status ch_clone(ch_card *dst, const ch_card *src);
/* Warm reset (mc_reset); the host forgets its channel. */
void ch_reset(ch_card *c);
/* The host forgets its channel (after the card closed it). */
void ch_forget(ch_card *c);

/* --- raw APDUs ------------------------------------------------------------ */
/* Hex to bytes; spaces ignored.  Returns the length or (size_t)-1. */
size_t ch_hex(const char *hex, uint8_t *out, size_t cap);
/* Sends exactly these bytes: no wrapping, no GET RESPONSE.  rsp may be NULL.
 * Returns the SW (CH_SW_MUTE when the card went mute).  A SELECT by AID or an
 * INITIALIZE UPDATE makes the host forget its channel (the card ends it). */
uint16_t ch_raw(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp);
uint16_t ch_rawx(ch_card *c, const char *hex, ch_rsp *rsp);

/* Sends a plain command the way a host does: wrapped when the host has a
 * channel open, then 61xx answered with GET RESPONSE until the end, then the
 * response unwrapped (R-MAC checked, R-ENC removed).  Returns the final SW,
 * CH_SW_RMAC if the protection of a response did not verify. */
uint16_t ch_cmd(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp);
uint16_t ch_cmdx(ch_card *c, const char *hex, ch_rsp *rsp);
/* printf-style hex. */
uint16_t ch_cmdf(ch_card *c, ch_rsp *rsp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Header (4 bytes in hex) + data (hex, Lc computed) + Le (-1: none), sent
 * with ch_cmd. */
uint16_t ch_cmdl(ch_card *c, ch_rsp *rsp, const char *hdr_hex, const char *data_hex, long le);
/* Wraps (if a channel is open) and sends without GET RESPONSE handling; the
 * response is unwrapped only when it is final (not 61xx). */
uint16_t ch_cmd_nogr(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp);
/* Wraps the whole command (if a channel is open), then sends it in ISO
 * chaining segments of at most seg bytes of data (CLA bit 10 on all but the
 * last).  Each earlier segment must be answered 9000 with no data (else its SW
 * is returned).  The plain apdu may use short or extended Lc. */
uint16_t ch_cmd_chained(ch_card *c, const uint8_t *apdu, size_t len, size_t seg, ch_rsp *rsp);
/* Builds an APDU from header, data (may be NULL/0) and Le (-1: none; 0..256
 * short, 257..65536 forces extended; extended forced for Lc > 255). */
size_t ch_apdu(uint8_t *out, size_t cap, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
               const uint8_t *data, size_t data_len, long le);

/* --- selection and secure channel ----------------------------------------- */
uint16_t ch_select(ch_card *c, const uint8_t *aid, size_t aid_len, ch_rsp *rsp);
uint16_t ch_select_am(ch_card *c);
/* INITIALIZE UPDATE to the selected application with kvn (00: current) and
 * keys; checks the response layout, key information (kvn_expected unless 0),
 * card challenge (from the sequence counter and the selected AID) and card
 * cryptogram.  9000, the card's SW, or CH_SW_CRYPTO / CH_SW_HARNESS. */
uint16_t ch_initialize_update(ch_card *c, uint8_t kvn, const cm_keyset *keys, ch_rsp *rsp);
/* EXTERNAL AUTHENTICATE at level after a successful ch_initialize_update;
 * opens the host channel on 9000. */
uint16_t ch_external_authenticate(ch_card *c, uint8_t level);
/* Select aid, INITIALIZE UPDATE (kvn), EXTERNAL AUTHENTICATE (level). */
uint16_t ch_open(ch_card *c, const uint8_t *aid, size_t aid_len, uint8_t kvn,
                 const cm_keyset *keys, uint8_t level);
/* The sequence counter of the last INITIALIZE UPDATE, as a number. */
uint32_t ch_last_seq(const ch_card *c);

/* --- key set data (PROTOCOL.md §3) ---------------------------------------- */
/* new-KVN || 3 x (88 Ll Lk E(key) 03 KCV) with keys wrapped under dek. */
size_t ch_keyset_data(ch_card *c, const uint8_t *dek, size_t dek_len, const cm_keyset *nks,
                      uint8_t *out, size_t cap);
/* PUT KEY old_kvn P2 81 with the new key set, wrapped with the Key-DEK of
 * the channel's static keys.  Checks nothing; rsp gets new-KVN || 3 KCVs. */
uint16_t ch_put_key(ch_card *c, uint8_t old_kvn, const cm_keyset *nks, ch_rsp *rsp);
/* Expected PUT KEY response: new-KVN || KCV(enc) || KCV(mac) || KCV(dek). */
void ch_put_key_expected(ch_card *c, const cm_keyset *nks, uint8_t out[10]);
/* AREA SETUP: AM channel with the transport keys (KVN FF, level 33), PUT KEY
 * FF -> region.  Leaves that channel open.  Returns the first non-9000 SW. */
uint16_t ch_area_setup(ch_card *c, const cm_keyset *region);
/* ch_init + ch_area_setup with ch_region_keys: the card most tests start from.
 * The AM channel is left open at level 33 with the transport keys' session. */
int ch_init_active(ch_card *c);
/* Opens an AM channel with the region keys at level 33. */
uint16_t ch_open_am(ch_card *c);

/* --- AP images (PROTOCOL.md §6) ------------------------------------------- */
#define CH_EF_TRANSPARENT 0x01
#define CH_EF_LINEAR      0x02
#define CH_EF_CYCLIC      0x06
#define CH_RULE_SM    0x00
#define CH_RULE_PIN   0x01
#define CH_RULE_NEVER 0xFF
#define CH_MAX_EFS 40

typedef struct ch_ef {
    uint16_t fid;
    uint8_t sfi;             /* 0: none */
    uint8_t type;            /* CH_EF_* */
    uint16_t size;           /* transparent */
    uint8_t rec_len;         /* record EFs */
    uint8_t rec_count;
    uint8_t read_rule;
    uint8_t write_rule;
    const uint8_t *content;  /* initial content (53), NULL: none */
    size_t content_len;
} ch_ef;

typedef struct ch_ap {
    uint8_t aid[16];
    size_t aid_len;
    uint8_t max_tries;
    uint8_t min_len;
    uint8_t max_len;
    const char *initial_pin;  /* NULL: PIN unset */
    cm_keyset keys;           /* the AP's key set (its KVN included) */
    int min_level;            /* -1: no A2 options (default 33) */
    ch_ef efs[CH_MAX_EFS];
    size_t n_efs;
} ch_ap;

/* A standard AP: AID D3 92 10 00 0n (5 bytes, n = idx), PIN policy 3 tries,
 * 4..8 digits, initial PIN "1234", keys ch_make_keys(0x30+idx, 0xA0+idx*3),
 * no options, and EFs:
 *   0101 SFI 1 transparent 64 bytes, read SM, write SM, content 00 01 .. 3F
 *   0102 SFI 2 transparent 32 bytes, read PIN, write PIN, content "secret" ..
 *   0103 SFI 3 transparent 16 bytes, read SM, write NEVER, content AA..
 *   0201 SFI 4 linear fixed 16 x 3, read SM, write SM
 *   0301 SFI 5 cyclic 8 x 3, read SM, write SM
 *   0202 SFI 6 linear fixed 10 x 2, read PIN, write PIN */
void ch_ap_default(ch_ap *ap, unsigned idx);
/* Writes the image (4F, A0, A1 wrapped with region_dek, A2 if min_level >= 0,
 * A3 per EF).  Returns its length, 0 if it does not fit. */
size_t ch_build_image(ch_card *c, const uint8_t *region_dek, size_t dek_len, const ch_ap *ap,
                      uint8_t *out, size_t cap);
/* LOAD AP of img in blocks of at most block bytes (P2 = block number, P1 80 on
 * the last); each block sent with ch_cmd, or with ch_cmd_chained in segments
 * of seg bytes when seg != 0.  Returns the SW of the last block or the first
 * non-9000 SW. */
uint16_t ch_load_image(ch_card *c, const uint8_t *img, size_t len, size_t block, size_t seg);
/* Builds ap with the default region keys and loads it in one block through
 * the open (AM) channel. */
uint16_t ch_load_ap(ch_card *c, const ch_ap *ap);
/* Opens a channel on ap at level (KVN 00). */
uint16_t ch_open_ap(ch_card *c, const ch_ap *ap, uint8_t level);
/* VERIFY with an ASCII PIN (NULL: the empty form). */
uint16_t ch_verify(ch_card *c, const char *pin);

/* --- TLV helpers for assertions ------------------------------------------- */
/* Finds tag at the top level of buf; returns a pointer to the value and its
 * length, or NULL. */
const uint8_t *ch_tlv_find(const uint8_t *buf, size_t len, uint16_t tag, size_t *vlen);

/* --- state snapshots ------------------------------------------------------ */
/* A copy of the raw NVM image (malloc'ed; free it). */
uint8_t *ch_nvm_copy(const ch_card *c);
bool ch_nvm_equal(const ch_card *c, const uint8_t *copy);
/* True when the runtime provides mc_debug_dump (card/mc_debug.h). */
bool ch_have_debug_dump(void);
/* The runtime's canonical state dump (mc_debug_dump) into a malloc'ed buffer;
 * without mc_debug_dump, the raw NVM image. */
uint8_t *ch_dump(ch_card *c, size_t *len);

#endif
