/* mnap_keys.h: SCP03 key sets in host memory, per-card diversification, and
 * the encrypted key store file.
 *
 * A key set is three AES keys of one length (ENC, MAC, DEK) and a KVN.  It is
 * either the card's own static keys (master == 0) or master keys from which
 * the library derives each card's keys when it opens a channel
 * (PROTOCOL.md §7: SP 800-108 KDF, constants 11/12/13, context = the card's
 * 10-byte diversification data).  Wipe key sets with mnap_keyset_wipe.
 *
 * The key store is a file of named key sets, encrypted at rest (AES-256-GCM
 * under a key derived from a passphrase with scrypt; the parameters are in
 * the file), saved atomically (temp file, fsync, rename, fsync of the
 * directory).  docs/host.md gives the file format.  Names used by the tools:
 * "transport", "region", and for an AP the key_set name of its manifest
 * (e.g. "library"); any name of 1 to 64 printable ASCII characters other
 * than the space is accepted.
 *
 * A key store is a key source with two implementations, chosen by the path
 * given to mnap_keystore_load: a file path opens the file key store, a
 * PKCS#11 URI (RFC 7512, "pkcs11:token=LABEL", optionally
 * "?module-path=/path/to/module.so") opens a token through p11-kit, the
 * passphrase being the token's user PIN.  Both give the same key sets for
 * the same names and the same card keys for the same master keys and card.
 * In a token a key set NAME is three AES secret-key objects labelled
 * NAME/enc, NAME/mac and NAME/dek with CKA_ID = KVN || kind (01 master,
 * 00 card keys); master keys are sensitive and not extractable, and every
 * operation on them (diversification, key check values, the ceremony's
 * XOR) runs in the token.  docs/host.md gives the set-up, the environment
 * (MNAP_PKCS11_MODULE, MNAP_PKCS11_INIT_ARGS) and which values reach host
 * memory.
 *
 * Threads: a key store object is not locked; use one per thread or lock it. */
#ifndef MNAP_KEYS_H
#define MNAP_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "mnap_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MNAP_KEY_MAX 32
#define MNAP_DIV_DATA_LEN 10

typedef struct mnap_keyset {
    uint8_t enc[MNAP_KEY_MAX];
    uint8_t mac[MNAP_KEY_MAX];
    uint8_t dek[MNAP_KEY_MAX];
    uint8_t key_len;   /* 16, 24 or 32 */
    uint8_t kvn;       /* 01..7F, FF (transport); 00 = "the card's current key set" */
    uint8_t master;    /* 1: master keys, diversified per card at channel opening */
    /* Master keys held in a PKCS#11 token (mnap_keystore_get of a token
     * store): enc/mac/dek stay zero, obj are the token's object handles and
     * diversification and KCVs run in the token through src.  Valid while
     * that store is open; NULL for keys held in memory. */
    struct mnap_keystore *src;
    unsigned long obj[3];
} mnap_keyset;

/* Fills ks from three keys of key_len bytes.  MNAP_E_PARAM on a bad length. */
mnap_err mnap_keyset_set(mnap_keyset *ks, uint8_t kvn, const uint8_t *enc, const uint8_t *mac,
                         const uint8_t *dek, size_t key_len, int master);
/* Derives a card's static key set from master keys and the card's 10 bytes of
 * diversification data (PROTOCOL.md §7).  out gets master == 0 and the KVN of
 * the master set. */
mnap_err mnap_keyset_diversify(const mnap_keyset *master, const uint8_t div[MNAP_DIV_DATA_LEN],
                               mnap_keyset *out);
/* The KCVs of the card keys mnap_keyset_diversify would give.  Master keys
 * in a token with CKM_SP800_108_COUNTER_KDF (the NSS softoken) are
 * diversified by that mechanism into non-extractable session objects whose
 * KCVs the token computes: the card keys never leave it.  Otherwise the card
 * keys are derived, their KCVs computed, and wiped. */
mnap_err mnap_keyset_diversify_kcv(const mnap_keyset *master, const uint8_t div[MNAP_DIV_DATA_LEN],
                                   uint8_t kcv_enc[3], uint8_t kcv_mac[3], uint8_t kcv_dek[3]);
/* Fresh random keys (RAND_bytes). */
mnap_err mnap_keyset_random(mnap_keyset *ks, uint8_t kvn, size_t key_len);
/* Key check value of each key: first 3 bytes of AES(key, 16 x 01). */
mnap_err mnap_keyset_kcv(const mnap_keyset *ks, uint8_t kcv_enc[3], uint8_t kcv_mac[3],
                         uint8_t kcv_dek[3]);
void mnap_keyset_wipe(mnap_keyset *ks);

/* --- key store ---------------------------------------------------------- */
#define MNAP_KS_NAME_MAX 64
#define MNAP_KS_MAX_ENTRIES 256

typedef struct mnap_keystore mnap_keystore;

/* An empty store with the default scrypt cost (N = 2^15, r = 8, p = 1). */
mnap_err mnap_keystore_new(mnap_keystore **out);
/* Sets the scrypt cost used by the next save: log2_n 10..22, r 1..32, p 1..16,
 * N < 2^(16 r), and N * r * p at most 2^22 (16 times the default work; so at
 * r = 8, p = 1, log2_n at most 19).  MNAP_E_PARAM otherwise. */
mnap_err mnap_keystore_set_kdf(mnap_keystore *ks, unsigned log2_n, unsigned r, unsigned p);
/* Reads and decrypts a store.  MNAP_E_IO (cannot read), MNAP_E_KS_PASSPHRASE
 * (wrong passphrase), MNAP_E_KS_CORRUPT (truncated, damaged, not a store).
 * On error *out is NULL and no key material is left in memory. */
mnap_err mnap_keystore_load(mnap_keystore **out, const char *path, const char *pass,
                            size_t pass_len);
/* Encrypts and writes the store atomically: path is either the old file or
 * the complete new one, whatever happens during the save.
 *
 * A save never loses another program's update: a store loaded from a file
 * remembers which version of the file it read (each save gives the file a
 * fresh salt, so versions never repeat), and saving it over a file that is
 * now another version fails with MNAP_E_KS_STALE, writing nothing.  A store
 * from mnap_keystore_new has no such version and replaces whatever is at
 * path.  The check and the rename run under the store's lock
 * (mnap_keystore_lock): taken here for the moment of the save unless this
 * process already holds it, waiting at most MNAP_LOCK_TIMEOUT seconds
 * (environment, 0..3600, default 60), then MNAP_E_KS_BUSY. */
mnap_err mnap_keystore_save(mnap_keystore *ks, const char *path, const char *pass,
                            size_t pass_len);

/* A read-modify-write of a key store file (load, put/remove, save) holds the
 * store's lock from before the load to after the save, so that two programs
 * changing one store take turns instead of failing with MNAP_E_KS_STALE.
 * The lock is flock(2) on PATH.lock (created 0600 next to the store, left
 * in place).  mnap_keystore_lock tries at once, calls waiting (if not NULL)
 * once after a second of waiting so a program can tell its user what it
 * waits for, and gives up after timeout_s seconds with MNAP_E_KS_BUSY.  A
 * PKCS#11 URI needs no lock (the token applies each change by itself): the
 * call succeeds with a lock that holds nothing.  The lock is released by
 * mnap_keystore_unlock (or when the process ends). */
typedef struct mnap_kslock mnap_kslock;
typedef void (*mnap_lock_wait_fn)(void *arg, const char *lock_path, unsigned timeout_s);
mnap_err mnap_keystore_lock(const char *path, unsigned timeout_s, mnap_lock_wait_fn waiting,
                            void *arg, mnap_kslock **out);
void mnap_keystore_unlock(mnap_kslock *lock);
/* Adds or replaces the key set name. */
mnap_err mnap_keystore_put(mnap_keystore *ks, const char *name, const mnap_keyset *set);
/* Copies the key set name to *out (wipe it after use).  MNAP_E_KS_NOT_FOUND. */
mnap_err mnap_keystore_get(const mnap_keystore *ks, const char *name, mnap_keyset *out);
mnap_err mnap_keystore_remove(mnap_keystore *ks, const char *name);
size_t mnap_keystore_count(const mnap_keystore *ks);
/* The name of entry i (0 <= i < count), or NULL. */
const char *mnap_keystore_name(const mnap_keystore *ks, size_t i);
/* Wipes every key and frees the store (a token store: closes its session;
 * key sets got from it may no longer be used). */
void mnap_keystore_free(mnap_keystore *ks);

/* Ed25519 signing keys held by the key source (the offline stop list, the
 * audit checkpoints and exports):
 *   file store:     key set NAME of 32-byte keys; its ENC key is the private
 *                   key (encrypted and wiped like every key set);
 *   PKCS#11 token:  a key pair labelled "NAME/ed25519" made in the token by
 *                   mnap_keystore_ed25519_generate (CKM_EC_EDWARDS_KEY_PAIR_GEN;
 *                   the private key sensitive and never extractable), signing
 *                   with CKM_EDDSA in the token.  MNAP_E_KS_MECHANISM when the
 *                   token lacks them.
 * generate on a file store makes key set NAME (KVN 01, random 32-byte keys). */
mnap_err mnap_keystore_ed25519_generate(mnap_keystore *ks, const char *name);
mnap_err mnap_keystore_ed25519_public(const mnap_keystore *ks, const char *name, uint8_t pub[32]);
mnap_err mnap_keystore_ed25519_sign(const mnap_keystore *ks, const char *name, const uint8_t *msg, size_t len,
                                    uint8_t sig[64]);

/* 1 when ks is a PKCS#11 token, 0 for the file store. */
int mnap_keystore_is_token(const mnap_keystore *ks);
/* How a token store diversifies: "C_Sign CKM_AES_CMAC" (card keys that
 * reach host memory), with "; KCVs by CKM_SP800_108_COUNTER_KDF" when the
 * token has that mechanism (mnap_keyset_diversify_kcv; MNAP_PKCS11_KDF=sign
 * turns it off); "host memory (file key store)" for a file. */
const char *mnap_keystore_method(const mnap_keystore *ks);
/* Adds or replaces the key set name with fresh random keys: in a token,
 * master keys are generated inside it (C_GenerateKey, never in host
 * memory); otherwise RAND_bytes.  A file store still needs its save. */
mnap_err mnap_keystore_generate(mnap_keystore *ks, const char *name, uint8_t kvn, size_t key_len,
                                int master);

/* --- key ceremony ------------------------------------------------------- */
/* A master key set made of 2 or 3 components, one per officer, each a key set
 * (ENC, MAC, DEK) of one length: the master keys are the XOR of the
 * components.  In a token with CKM_XOR_BASE_AND_DATA (the NSS softoken) the
 * first component is imported as a sensitive session key and each further
 * one XORed into it by C_DeriveKey, so the combined keys exist only in the
 * token; a token without it (SoftHSMv2) and the file store combine in host
 * memory, wiped at the end (mnap_ceremony_in_token says which).  Wipe each
 * component after mnap_ceremony_add. */
typedef struct mnap_ceremony mnap_ceremony;
mnap_err mnap_ceremony_begin(mnap_keystore *ks, size_t key_len, mnap_ceremony **out);
mnap_err mnap_ceremony_add(mnap_ceremony *c, const mnap_keyset *component);
/* 1 when the components are combined inside a token. */
int mnap_ceremony_in_token(const mnap_ceremony *c);
/* Stores the result as master key set name (replacing one of that name); a
 * file store still needs its save.  MNAP_E_PARAM before two components. */
mnap_err mnap_ceremony_finish(mnap_ceremony *c, const char *name, uint8_t kvn);
void mnap_ceremony_free(mnap_ceremony *c);

#ifdef __cplusplus
}
#endif

#endif
