/* fuzz_puppet.h: a libmnap transport whose card answers come from a fuzz
 * input (for test/fuzz/fuzz_host.c).
 *
 * The input is a list of response records [kind] [len] [len bytes]
 * (kind bit 7: len is 2 bytes); each transmit takes the next one, and an
 * exhausted input answers MNAP_E_CARD_REMOVED.  kind & 3:
 *   0, 3  honest: the puppet plays a card that holds the key set it was given.
 *         It answers INITIALIZE UPDATE with a correct cryptogram and card
 *         challenge (unless the record's first byte is odd: then the last
 *         two bytes are an error SW), checks EXTERNAL AUTHENTICATE, unwraps
 *         wrapped commands, and protects the record's data (all bytes but
 *         the last two, which are the SW; a record under 2 bytes means
 *         data || 9000) with R-ENC / R-MAC as the session level says.  So
 *         the fuzzer reaches the library's parsing of authenticated data.
 *   1     raw: the record is the whole response, as is (under 2 bytes: the
 *         transport fails with MNAP_E_TRANSPORT).
 *   2     transport error: one of the errors mnap_transport.h allows.
 * Segments of a chained wrapped command (CLA bit 10) are joined and the
 * whole is unwrapped with the last one, as the card does; an honest answer
 * to an earlier segment is 9000 with no data.
 * The puppet checks every command it receives is a well-formed ISO 7816
 * APDU (except the caller's own bytes given to mnap_transmit, raw_cmd), and records what the library should have refused: a raw answer to
 * INITIALIZE UPDATE, or a raw 9000/62xx/63xx answer to a wrapped command in
 * a session with R-MAC (the fuzzer cannot compute a MAC). */
#ifndef FUZZ_PUPPET_H
#define FUZZ_PUPPET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_scp03.h"
#include "mnap/mnap.h"

typedef struct fz_puppet {
    const uint8_t *in;
    size_t n, pos;
    cm_aes aes;
    cm_keyset keys;              /* the card's static keys (already diversified) */
    uint8_t div[10];
    uint8_t sel_aid[16];
    size_t sel_len;
    uint32_t seq;
    bool iu_pending, open;
    uint8_t hc[8], cc[8];
    cm_scp03 scp;
    size_t chain_len;            /* wrapped data of ISO chaining segments so far */
    /* what the checks need */
    bool iu_raw;                 /* the last INITIALIZE UPDATE got a raw answer */
    unsigned forged;             /* raw answers that needed an R-MAC (see above) */
    unsigned transmits;
    bool raw_cmd;                /* the script passes raw bytes to mnap_transmit: the
                                    first command may be malformed (not the library's) */
    /* Corpus generation (test/fuzz/gen_corpus.c): when the input runs out,
     * auto_answer writes an honest record body for the command (returns its
     * length), and every record used is appended to rec (when rec_cap). */
    size_t (*auto_answer)(const uint8_t *cmd, size_t len, uint8_t *body, size_t cap);
    uint8_t *rec;
    size_t rec_len, rec_cap;
} fz_puppet;

/* ks: the card's static keys; div: its diversification data. */
void fz_puppet_init(fz_puppet *p, const uint8_t *in, size_t n, const cm_keyset *ks,
                    const uint8_t div[10]);
mnap_transport fz_puppet_transport(fz_puppet *p);
/* Called from inside the puppet when the library sent a malformed APDU. */
void fz_puppet_violation(const char *msg, const uint8_t *cmd, size_t len)
    __attribute__((noreturn));

#endif
