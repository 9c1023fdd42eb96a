/* mnap/mnap_stoplist.h: the offline stop list (停止措置) a kiosk or business
 * system checks a card against without the registry.
 *
 * The registry exports the cards that may not be served (every card that is
 * not ACTIVE) as one signed file; libmnap checks it with the Ed25519 public
 * key alone (OpenSSL) and refuses a list that is malformed
 * (MNAP_E_STOPLIST_FORMAT), edited or signed by another key
 * (MNAP_E_STOPLIST_SIGNATURE) or outside its validity
 * (MNAP_E_STOPLIST_EXPIRED) rather than trusting it.
 *
 * File (all integers big-endian):
 *   "MNAPSTL1"                     8  magic and version
 *   issued_at                      8  seconds since 1970 (UTC)
 *   expires_at                     8  the list is refused from this second on
 *   municipality                   8  6 ASCII digits, 2 NUL
 *   count                          4
 *   count x { serial 8, state 1 }     serials strictly ascending; state 2
 *                                     SUSPENDED, 3 STOPPED, 4 TERMINATED
 *   signature                     64  Ed25519 over every byte before it
 * Lookup is a binary search (the entries are checked ascending on open). */
#ifndef MNAP_STOPLIST_H
#define MNAP_STOPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "mnap_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MNAP_STOPLIST_PUB_LEN 32  /* Ed25519 public key */
#define MNAP_STOPLIST_SEED_LEN 32 /* Ed25519 private key (seed) */
#define MNAP_STOPLIST_SIG_LEN 64
#define MNAP_STOPLIST_HEAD_LEN 36
#define MNAP_STOPLIST_ENTRY_LEN 9

typedef struct mnap_stoplist_entry {
    uint8_t serial[8];
    uint8_t state;               /* 2 SUSPENDED, 3 STOPPED, 4 TERMINATED */
} mnap_stoplist_entry;

typedef struct mnap_stoplist mnap_stoplist;

/* Checks data (the whole file) against pub at time now: format, signature,
 * validity (issued_at - 300 <= now < expires_at: five minutes of clock skew
 * are allowed before the issue time), ascending serials.  On success *out
 * holds a copy. */
mnap_err mnap_stoplist_open(mnap_stoplist **out, const uint8_t *data, size_t len,
                            const uint8_t pub[MNAP_STOPLIST_PUB_LEN], int64_t now);
/* The same for a file. */
mnap_err mnap_stoplist_load(mnap_stoplist **out, const char *path,
                            const uint8_t pub[MNAP_STOPLIST_PUB_LEN], int64_t now);
/* MNAP_E_CARD_STOPPED (and *state, when not NULL) when serial is on the
 * list; MNAP_OK when it is not. */
mnap_err mnap_stoplist_check(const mnap_stoplist *l, const uint8_t serial[8], uint8_t *state);
size_t mnap_stoplist_count(const mnap_stoplist *l);
int64_t mnap_stoplist_issued(const mnap_stoplist *l);
int64_t mnap_stoplist_expires(const mnap_stoplist *l);
/* The municipality code (6 digits). */
const char *mnap_stoplist_municipality(const mnap_stoplist *l);
void mnap_stoplist_free(mnap_stoplist *l);

/* Builds and signs a list (the registry side; entries in any order, sorted
 * here; a serial twice is MNAP_E_PARAM).  seed: the Ed25519 private key.
 * *out is malloc'd (free it). */
mnap_err mnap_stoplist_build(const mnap_stoplist_entry *entries, size_t n, int64_t issued_at,
                             int64_t expires_at, const char *municipality,
                             const uint8_t seed[MNAP_STOPLIST_SEED_LEN], uint8_t **out,
                             size_t *out_len);
/* The same, signed by Ed25519 key NAME of the key source (file store or
 * PKCS#11 token: mnap_keystore_ed25519_sign, mnap_keys.h). */
struct mnap_keystore;
mnap_err mnap_stoplist_build_ks(const mnap_stoplist_entry *entries, size_t n, int64_t issued_at,
                                int64_t expires_at, const char *municipality, const struct mnap_keystore *ks,
                                const char *name, uint8_t **out, size_t *out_len);
/* The public key of a seed. */
mnap_err mnap_stoplist_public_key(const uint8_t seed[MNAP_STOPLIST_SEED_LEN],
                                  uint8_t pub[MNAP_STOPLIST_PUB_LEN]);

#ifdef __cplusplus
}
#endif

#endif
