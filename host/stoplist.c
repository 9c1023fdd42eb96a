/* stoplist.c: the offline stop list (mnap/mnap_stoplist.h): Ed25519 through
 * OpenSSL, sorted entries, binary search. */
#include "mnap/mnap_stoplist.h"
#include "mnap/mnap_keys.h"
#include "mnap_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t magic[8] = { 'M', 'N', 'A', 'P', 'S', 'T', 'L', '1' };
#define SKEW 300

struct mnap_stoplist {
    int64_t issued, expires;
    char municipality[8];
    size_t count;
    uint8_t *entries;           /* count * 9 */
};

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static mnap_err ed_verify(const uint8_t pub[MNAP_STOPLIST_PUB_LEN], const uint8_t *msg, size_t len,
                          const uint8_t sig[MNAP_STOPLIST_SIG_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, MNAP_STOPLIST_PUB_LEN);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    mnap_err e = MNAP_E_CRYPTO;

    if (k != NULL && md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1) {
        e = EVP_DigestVerify(md, sig, MNAP_STOPLIST_SIG_LEN, msg, len) == 1 ? MNAP_OK
                                                                              : MNAP_E_STOPLIST_SIGNATURE;
    } else if (k == NULL) {
        e = MNAP_E_PARAM;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return e;
}

mnap_err mnap_stoplist_open(mnap_stoplist **out, const uint8_t *data, size_t len,
                            const uint8_t pub[MNAP_STOPLIST_PUB_LEN], int64_t now)
{
    mnap_stoplist *l;
    uint64_t count;
    mnap_err e;

    if (out == NULL || pub == NULL || (data == NULL && len != 0)) {
        return MNAP_E_PARAM;
    }
    *out = NULL;
    if (len < MNAP_STOPLIST_HEAD_LEN + MNAP_STOPLIST_SIG_LEN || memcmp(data, magic, 8) != 0) {
        return MNAP_E_STOPLIST_FORMAT;
    }
    count = get_be(data + 32, 4);
    if ((len - MNAP_STOPLIST_HEAD_LEN - MNAP_STOPLIST_SIG_LEN) / MNAP_STOPLIST_ENTRY_LEN != count ||
        (len - MNAP_STOPLIST_HEAD_LEN - MNAP_STOPLIST_SIG_LEN) % MNAP_STOPLIST_ENTRY_LEN != 0) {
        return MNAP_E_STOPLIST_FORMAT;
    }
    /* The signature first: nothing of an unverified file is trusted. */
    e = ed_verify(pub, data, len - MNAP_STOPLIST_SIG_LEN, data + len - MNAP_STOPLIST_SIG_LEN);
    if (e != MNAP_OK) {
        return e;
    }
    int64_t issued = (int64_t)get_be(data + 8, 8), expires = (int64_t)get_be(data + 16, 8);
    /* issued - SKEW <= now: for an issue time within SKEW of INT64_MIN that
     * difference is below every now (and would overflow). */
    if (now >= expires || (issued >= INT64_MIN + SKEW && now < issued - SKEW) || expires <= issued) {
        return MNAP_E_STOPLIST_EXPIRED;
    }
    const uint8_t *ent = data + MNAP_STOPLIST_HEAD_LEN;
    for (uint64_t i = 0; i < count; i++) {
        uint8_t st = ent[i * 9 + 8];
        if (st < 2 || st > 4 || (i > 0 && memcmp(ent + (i - 1) * 9, ent + i * 9, 8) >= 0)) {
            return MNAP_E_STOPLIST_FORMAT;
        }
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        return MNAP_E_NOMEM;
    }
    l->entries = malloc(count == 0 ? 1 : count * 9);
    if (l->entries == NULL) {
        free(l);
        return MNAP_E_NOMEM;
    }
    memcpy(l->entries, ent, count * 9);
    l->count = count;
    l->issued = issued;
    l->expires = expires;
    memcpy(l->municipality, data + 24, 8);
    l->municipality[7] = '\0';
    *out = l;
    return MNAP_OK;
}

mnap_err mnap_stoplist_load(mnap_stoplist **out, const char *path,
                            const uint8_t pub[MNAP_STOPLIST_PUB_LEN], int64_t now)
{
    FILE *f;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    mnap_err e = MNAP_OK;

    if (out == NULL || path == NULL) {
        return MNAP_E_PARAM;
    }
    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        return MNAP_E_IO;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                e = MNAP_E_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                e = MNAP_E_IO;
            }
            break;
        }
    }
    fclose(f);
    if (e == MNAP_OK) {
        e = mnap_stoplist_open(out, buf, len, pub, now);
    }
    free(buf);
    return e;
}

mnap_err mnap_stoplist_check(const mnap_stoplist *l, const uint8_t serial[8], uint8_t *state)
{
    size_t lo = 0, hi;

    if (l == NULL || serial == NULL) {
        return MNAP_E_PARAM;
    }
    hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(l->entries + mid * 9, serial, 8);
        if (c == 0) {
            if (state != NULL) {
                *state = l->entries[mid * 9 + 8];
            }
            return MNAP_E_CARD_STOPPED;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return MNAP_OK;
}

size_t mnap_stoplist_count(const mnap_stoplist *l) { return l != NULL ? l->count : 0; }
int64_t mnap_stoplist_issued(const mnap_stoplist *l) { return l != NULL ? l->issued : 0; }
int64_t mnap_stoplist_expires(const mnap_stoplist *l) { return l != NULL ? l->expires : 0; }
const char *mnap_stoplist_municipality(const mnap_stoplist *l) { return l != NULL ? l->municipality : ""; }

void mnap_stoplist_free(mnap_stoplist *l)
{
    if (l != NULL) {
        free(l->entries);
        free(l);
    }
}

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

mnap_err mnap_stoplist_public_key(const uint8_t seed[MNAP_STOPLIST_SEED_LEN],
                                  uint8_t pub[MNAP_STOPLIST_PUB_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, MNAP_STOPLIST_SEED_LEN);
    size_t n = MNAP_STOPLIST_PUB_LEN;
    mnap_err e = MNAP_E_CRYPTO;

    if (k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == MNAP_STOPLIST_PUB_LEN) {
        e = MNAP_OK;
    }
    EVP_PKEY_free(k);
    return e;
}

mnap_err mnap__ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t len, uint8_t sig[64])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 64;
    mnap_err e = MNAP_E_CRYPTO;

    if (k != NULL && md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestSign(md, sig, &siglen, msg, len) == 1 && siglen == 64) {
        e = MNAP_OK;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k); /* frees (and cleanses) OpenSSL's copy of the key */
    return e;
}

typedef mnap_err (*signer)(const void *user, const uint8_t *msg, size_t len, uint8_t sig[64]);

static mnap_err build(const mnap_stoplist_entry *entries, size_t n, int64_t issued_at, int64_t expires_at,
                      const char *municipality, signer sign, const void *user, uint8_t **out, size_t *out_len)
{
    size_t body, len;
    uint8_t *buf;
    mnap_err e;

    if (out == NULL || out_len == NULL || municipality == NULL || strlen(municipality) != 6 ||
        (entries == NULL && n != 0) || n > 0xFFFFFFFFu || expires_at <= issued_at || issued_at < 0) {
        return MNAP_E_PARAM;
    }
    *out = NULL;
    *out_len = 0;
    body = MNAP_STOPLIST_HEAD_LEN + n * MNAP_STOPLIST_ENTRY_LEN;
    len = body + MNAP_STOPLIST_SIG_LEN;
    buf = calloc(1, len);
    if (buf == NULL) {
        return MNAP_E_NOMEM;
    }
    memcpy(buf, magic, 8);
    put_be(buf + 8, (uint64_t)issued_at, 8);
    put_be(buf + 16, (uint64_t)expires_at, 8);
    memcpy(buf + 24, municipality, 6);
    put_be(buf + 32, n, 4);
    for (size_t i = 0; i < n; i++) {
        if (entries[i].state < 2 || entries[i].state > 4) {
            free(buf);
            return MNAP_E_PARAM;
        }
        memcpy(buf + MNAP_STOPLIST_HEAD_LEN + i * 9, entries[i].serial, 8);
        buf[MNAP_STOPLIST_HEAD_LEN + i * 9 + 8] = entries[i].state;
    }
    qsort(buf + MNAP_STOPLIST_HEAD_LEN, n, 9, cmp_entry);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(buf + MNAP_STOPLIST_HEAD_LEN + (i - 1) * 9, buf + MNAP_STOPLIST_HEAD_LEN + i * 9, 8) == 0) {
            free(buf);
            return MNAP_E_PARAM;
        }
    }
    e = sign(user, buf, body, buf + body);
    if (e != MNAP_OK) {
        free(buf);
        return e;
    }
    *out = buf;
    *out_len = len;
    return MNAP_OK;
}

static mnap_err sign_seed(const void *user, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    return mnap__ed25519_sign(user, msg, len, sig);
}

mnap_err mnap_stoplist_build(const mnap_stoplist_entry *entries, size_t n, int64_t issued_at,
                             int64_t expires_at, const char *municipality,
                             const uint8_t seed[MNAP_STOPLIST_SEED_LEN], uint8_t **out,
                             size_t *out_len)
{
    if (seed == NULL) {
        return MNAP_E_PARAM;
    }
    return build(entries, n, issued_at, expires_at, municipality, sign_seed, seed, out, out_len);
}

typedef struct ks_signer {
    const mnap_keystore *ks;
    const char *name;
} ks_signer;

static mnap_err sign_ks(const void *user, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    const ks_signer *k = user;
    return mnap_keystore_ed25519_sign(k->ks, k->name, msg, len, sig);
}

mnap_err mnap_stoplist_build_ks(const mnap_stoplist_entry *entries, size_t n, int64_t issued_at,
                                int64_t expires_at, const char *municipality, const mnap_keystore *ks,
                                const char *name, uint8_t **out, size_t *out_len)
{
    ks_signer k = { ks, name };

    if (ks == NULL || name == NULL) {
        return MNAP_E_PARAM;
    }
    return build(entries, n, issued_at, expires_at, municipality, sign_ks, &k, out, out_len);
}
