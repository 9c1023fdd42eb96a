/* keystore.c: the key store file: named key sets, encrypted at rest.
 *
 * File layout (all integers big-endian; docs/host.md repeats it):
 *    0  8  magic "MNAPKS" 00 01 (format version 1)
 *    8  1  KDF: 01 = scrypt
 *    9  1  log2(N)     10  1  r     11  1  p
 *   12 16  salt
 *   28 12  GCM nonce
 *   40 16  passphrase verifier: SHA-256("mnap-ks-verify" || K2), first 16 bytes
 *   56  4  ciphertext length n
 *   60 32  SHA-256 of bytes 0..59 (tells a damaged header from a wrong passphrase)
 *   92  n  AES-256-GCM ciphertext, AAD = bytes 0..91, key K1
 * 92+n 16  GCM tag
 * K1 || K2 = scrypt(passphrase, salt, N, r, p, 64 bytes).
 * Plaintext: count (2), then per entry: name length (1), name, master (1),
 * KVN (1), key length (1), ENC, MAC, DEK.
 *
 * Saving writes a temp file next to the target, fsyncs it, renames it over
 * the target and fsyncs the directory: a crash leaves the old or the new
 * file, never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "mnap_int.h"
#include "cm_ct.h"

#define KS_MAGIC "MNAPKS\x00\x01"
#define KS_HDR 92u
#define KS_TAG 16u
#define KS_MAX_FILE (1u << 20)
#define KS_SCRYPT_MAXMEM (1u << 30)

typedef struct ks_entry {
    char name[MNAP_KS_NAME_MAX + 1];
    mnap_keyset set;
} ks_entry;

struct mnap_keystore {
    ks_entry *e;
    size_t n;
    uint8_t log2_n, r, p;
    void (*save_hook)(void *arg);   /* tests: runs between fsync and rename */
    void *save_hook_arg;
    mnap_p11 *p11;                  /* a PKCS#11 token instead of the file (p11.c) */
    int has_base;                   /* loaded from a file: base is that version */
    uint8_t base[32];               /* bytes 60..91 of the file read (its header hash) */
};

#define P11_PREFIX "pkcs11:"

static int is_uri(const char *path)
{
    return strncmp(path, P11_PREFIX, sizeof(P11_PREFIX) - 1) == 0;
}

void mnap__keystore_set_save_hook(mnap_keystore *ks, void (*fn)(void *arg), void *arg)
{
    if (ks != NULL) {
        ks->save_hook = fn;
        ks->save_hook_arg = arg;
    }
}

mnap_err mnap_keystore_new(mnap_keystore **out)
{
    mnap_keystore *ks;

    if (out == NULL)
        return MNAP_E_PARAM;
    *out = NULL;
    ks = calloc(1, sizeof(*ks));
    if (ks == NULL)
        return MNAP_E_NOMEM;
    ks->e = calloc(MNAP_KS_MAX_ENTRIES, sizeof(ks_entry));
    if (ks->e == NULL) {
        free(ks);
        return MNAP_E_NOMEM;
    }
    ks->log2_n = 15;
    ks->r = 8;
    ks->p = 1;
    *out = ks;
    return MNAP_OK;
}

/* The scrypt cost a store may use, or claim in its header.  The header is
 * readable and writable by whoever can write the file, so the cost bounds the
 * time (N * r * p: at most 16 times the default 2^15 * 8 * 1) and the memory
 * (128 * r * N) that opening any file can take, and stays inside what
 * OpenSSL's scrypt accepts (N < 2^(16 r)). */
#define KS_SCRYPT_MAXWORK (1ull << 22)

static int kdf_ok(unsigned log2_n, unsigned r, unsigned p)
{
    return log2_n >= 10 && log2_n <= 22 && r >= 1 && r <= 32 && p >= 1 && p <= 16 &&
           log2_n < 16u * r &&
           (1ull << log2_n) * r * p <= KS_SCRYPT_MAXWORK &&
           (128ull * r * (1ull << log2_n)) <= KS_SCRYPT_MAXMEM / 2;
}

mnap_err mnap_keystore_set_kdf(mnap_keystore *ks, unsigned log2_n, unsigned r, unsigned p)
{
    if (ks == NULL || !kdf_ok(log2_n, r, p))
        return MNAP_E_PARAM;
    ks->log2_n = (uint8_t)log2_n;
    ks->r = (uint8_t)r;
    ks->p = (uint8_t)p;
    return MNAP_OK;
}

void mnap_keystore_free(mnap_keystore *ks)
{
    if (ks == NULL)
        return;
    mnap__p11_close(ks->p11);
    cm_wipe(ks->e, MNAP_KS_MAX_ENTRIES * sizeof(ks_entry));
    free(ks->e);
    free(ks);
}

int mnap__ks_name_ok(const char *name)
{
    size_t i, n;

    if (name == NULL)
        return 0;
    n = strlen(name);
    if (n == 0 || n > MNAP_KS_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (name[i] < 0x21 || name[i] > 0x7E)
            return 0;
    return 1;
}

static ks_entry *find(const mnap_keystore *ks, const char *name)
{
    size_t i;

    for (i = 0; i < ks->n; i++)
        if (strcmp(ks->e[i].name, name) == 0)
            return &ks->e[i];
    return NULL;
}

mnap_err mnap_keystore_put(mnap_keystore *ks, const char *name, const mnap_keyset *set)
{
    ks_entry *e;

    if (ks == NULL || !mnap__ks_name_ok(name) || set == NULL || set->src != NULL ||
        (set->key_len != 16 && set->key_len != 24 && set->key_len != 32))
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return mnap__p11_put(ks->p11, name, set);
    e = find(ks, name);
    if (e == NULL) {
        if (ks->n >= MNAP_KS_MAX_ENTRIES)
            return MNAP_E_KS_FULL;
        e = &ks->e[ks->n++];
        strcpy(e->name, name);
    }
    e->set = *set;
    e->set.src = NULL;
    memset(e->set.obj, 0, sizeof(e->set.obj));
    return MNAP_OK;
}

mnap_err mnap_keystore_get(const mnap_keystore *ks, const char *name, mnap_keyset *out)
{
    const ks_entry *e;

    if (ks == NULL || name == NULL || out == NULL)
        return MNAP_E_PARAM;
    if (ks->p11 != NULL) {
        mnap_err rc = mnap__p11_get(ks->p11, name, out);
        if (rc == MNAP_OK && out->master)
            out->src = (struct mnap_keystore *)ks;
        return rc;
    }
    e = find(ks, name);
    if (e == NULL)
        return MNAP_E_KS_NOT_FOUND;
    *out = e->set;
    return MNAP_OK;
}

mnap_err mnap_keystore_remove(mnap_keystore *ks, const char *name)
{
    ks_entry *e;
    size_t i;

    if (ks == NULL || name == NULL)
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return mnap__p11_remove(ks->p11, name);
    e = find(ks, name);
    if (e == NULL)
        return MNAP_E_KS_NOT_FOUND;
    i = (size_t)(e - ks->e);
    memmove(&ks->e[i], &ks->e[i + 1], (ks->n - i - 1) * sizeof(ks_entry));
    ks->n--;
    cm_wipe(&ks->e[ks->n], sizeof(ks_entry));
    return MNAP_OK;
}

size_t mnap_keystore_count(const mnap_keystore *ks)
{
    if (ks != NULL && ks->p11 != NULL)
        return mnap__p11_count(ks->p11);
    return ks ? ks->n : 0;
}

const char *mnap_keystore_name(const mnap_keystore *ks, size_t i)
{
    if (ks != NULL && ks->p11 != NULL)
        return mnap__p11_name(ks->p11, i);
    return (ks != NULL && i < ks->n) ? ks->e[i].name : NULL;
}

/* --- the key source interface beyond get and put ------------------------ */
int mnap_keystore_is_token(const mnap_keystore *ks)
{
    return ks != NULL && ks->p11 != NULL;
}

const char *mnap_keystore_method(const mnap_keystore *ks)
{
    if (ks != NULL && ks->p11 != NULL)
        return mnap__p11_method(ks->p11);
    return "host memory (file key store)";
}

mnap_err mnap_keystore_generate(mnap_keystore *ks, const char *name, uint8_t kvn, size_t key_len,
                                int master)
{
    mnap_keyset set;
    mnap_err rc;

    if (ks == NULL || !mnap__ks_name_ok(name) || (key_len != 16 && key_len != 24 && key_len != 32))
        return MNAP_E_PARAM;
    if (ks->p11 != NULL && master)
        return mnap__p11_generate(ks->p11, name, kvn, key_len);
    /* Card keys must be readable by the host anyway: made here, in a token
     * stored as extractable objects. */
    rc = mnap_keyset_random(&set, kvn, key_len);
    if (rc == MNAP_OK) {
        set.master = master ? 1 : 0;
        rc = mnap_keystore_put(ks, name, &set);
    }
    mnap_keyset_wipe(&set);
    return rc;
}

static mnap_p11 *token_of(const mnap_keyset *ks)
{
    return (ks != NULL && ks->src != NULL) ? ks->src->p11 : NULL;
}

mnap_p11 *mnap__keyset_token(const mnap_keyset *ks)
{
    return token_of(ks);
}

mnap_err mnap_keyset_diversify_kcv(const mnap_keyset *master, const uint8_t div[MNAP_DIV_DATA_LEN],
                                   uint8_t kcv_enc[3], uint8_t kcv_mac[3], uint8_t kcv_dek[3])
{
    mnap_p11 *t = token_of(master);
    mnap_keyset card;
    mnap_err rc;

    if (master == NULL || div == NULL || kcv_enc == NULL || kcv_mac == NULL || kcv_dek == NULL ||
        !master->master)
        return MNAP_E_PARAM;
    if (t != NULL && mnap__p11_has_kdf(t)) {
        uint8_t k[3][3];
        rc = mnap__p11_kdf_check(t, master, div, k, NULL, 0, NULL);
        if (rc == MNAP_OK) {
            memcpy(kcv_enc, k[0], 3);
            memcpy(kcv_mac, k[1], 3);
            memcpy(kcv_dek, k[2], 3);
        }
        return rc;
    }
    rc = mnap_keyset_diversify(master, div, &card);
    if (rc == MNAP_OK)
        rc = mnap_keyset_kcv(&card, kcv_enc, kcv_mac, kcv_dek);
    mnap_keyset_wipe(&card);
    return rc;
}

mnap_err mnap__keystore_diversify(const mnap_keyset *master, const uint8_t *div, mnap_keyset *out)
{
    mnap_p11 *t = token_of(master);

    if (t == NULL || !master->master)
        return MNAP_E_PARAM;
    return mnap__p11_diversify(t, master, div, out);
}

mnap_err mnap__keystore_kcv(const mnap_keyset *ks, uint8_t kcv[3][3])
{
    mnap_p11 *t = token_of(ks);

    if (t == NULL)
        return MNAP_E_PARAM;
    return mnap__p11_kcv(t, ks, kcv);
}

struct mnap_ceremony {
    mnap_keystore *ks;
    mnap_p11_cer *tok;                  /* token store */
    uint8_t acc[3][MNAP_KEY_MAX];       /* file store: the running XOR */
    size_t key_len;
    unsigned parts;
};

mnap_err mnap_ceremony_begin(mnap_keystore *ks, size_t key_len, mnap_ceremony **out)
{
    mnap_ceremony *c;
    mnap_err rc;

    if (ks == NULL || out == NULL || (key_len != 16 && key_len != 24 && key_len != 32))
        return MNAP_E_PARAM;
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return MNAP_E_NOMEM;
    c->ks = ks;
    c->key_len = key_len;
    if (ks->p11 != NULL) {
        rc = mnap__p11_cer_begin(ks->p11, key_len, &c->tok);
        if (rc != MNAP_OK) {
            free(c);
            return rc;
        }
    }
    *out = c;
    return MNAP_OK;
}

int mnap_ceremony_in_token(const mnap_ceremony *c)
{
    return c != NULL && c->tok != NULL && mnap__p11_cer_in_token(c->tok);
}

mnap_err mnap_ceremony_add(mnap_ceremony *c, const mnap_keyset *part)
{
    const uint8_t *src[3];
    mnap_err rc;
    size_t i, j;

    if (c == NULL || part == NULL || part->src != NULL || part->key_len != c->key_len ||
        c->parts >= 3)
        return MNAP_E_PARAM;
    if (c->tok != NULL) {
        rc = mnap__p11_cer_add(c->tok, part);
        if (rc != MNAP_OK)
            return rc;
    } else {
        src[0] = part->enc;
        src[1] = part->mac;
        src[2] = part->dek;
        for (i = 0; i < 3; i++)
            for (j = 0; j < c->key_len; j++)
                c->acc[i][j] ^= src[i][j];
    }
    c->parts++;
    return MNAP_OK;
}

mnap_err mnap_ceremony_finish(mnap_ceremony *c, const char *name, uint8_t kvn)
{
    mnap_keyset set;
    mnap_err rc;

    if (c == NULL || !mnap__ks_name_ok(name) || c->parts < 2)
        return MNAP_E_PARAM;
    if (c->tok != NULL)
        return mnap__p11_cer_finish(c->tok, name, kvn);
    rc = mnap_keyset_set(&set, kvn, c->acc[0], c->acc[1], c->acc[2], c->key_len, 1);
    cm_wipe(c->acc, sizeof(c->acc));
    if (rc == MNAP_OK)
        rc = mnap_keystore_put(c->ks, name, &set);
    mnap_keyset_wipe(&set);
    return rc;
}

void mnap_ceremony_free(mnap_ceremony *c)
{
    if (c == NULL)
        return;
    mnap__p11_cer_free(c->tok);
    cm_wipe(c, sizeof(*c));
    free(c);
}

/* --- crypto helpers ---------------------------------------------------- */
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok;

    if (m == NULL)
        return 0;
    ok = EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(m, a, alen) == 1 &&
         (blen == 0 || EVP_DigestUpdate(m, b, blen) == 1) &&
         EVP_DigestFinal_ex(m, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(m);
    return ok;
}

/* K1 || K2 from the passphrase and the header's salt and cost. */
static int derive(const char *pass, size_t pass_len, const uint8_t *hdr, uint8_t k[64])
{
    return EVP_PBE_scrypt(pass, pass_len, hdr + 12, 16, (uint64_t)1 << hdr[9], hdr[10], hdr[11],
                          KS_SCRYPT_MAXMEM, k, 64) == 1;
}

static int verifier(const uint8_t k2[32], uint8_t out[32])
{
    static const uint8_t label[] = "mnap-ks-verify";
    return sha256(label, sizeof(label) - 1, k2, 32, out);
}

static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, f = 0, ok;

    if (c == NULL || len > 0x7FFFFFFF)
        return 0;
    ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
         EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1 &&
         (len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)len) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(c, out + (len ? (size_t)n : 0), &f) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* --- load --------------------------------------------------------------- */
static mnap_err parse_plain(mnap_keystore *ks, const uint8_t *p, size_t len)
{
    size_t pos = 2, count, i, nl, kl;

    if (len < 2)
        return MNAP_E_KS_CORRUPT;
    count = ((size_t)p[0] << 8) | p[1];
    if (count > MNAP_KS_MAX_ENTRIES)
        return MNAP_E_KS_CORRUPT;
    for (i = 0; i < count; i++) {
        ks_entry *e = &ks->e[i];
        if (pos >= len)
            return MNAP_E_KS_CORRUPT;
        nl = p[pos++];
        if (nl == 0 || nl > MNAP_KS_NAME_MAX || len - pos < nl + 3)
            return MNAP_E_KS_CORRUPT;
        memcpy(e->name, p + pos, nl);
        e->name[nl] = '\0';
        pos += nl;
        /* A NUL inside the name would silently shorten it; a repeated name
         * would make get and remove see only its first entry. */
        if (!mnap__ks_name_ok(e->name) || strlen(e->name) != nl || find(ks, e->name) != NULL)
            return MNAP_E_KS_CORRUPT;
        e->set.master = p[pos++];
        e->set.kvn = p[pos++];
        kl = p[pos++];
        if ((kl != 16 && kl != 24 && kl != 32) || e->set.master > 1 || len - pos < 3 * kl)
            return MNAP_E_KS_CORRUPT;
        e->set.key_len = (uint8_t)kl;
        memcpy(e->set.enc, p + pos, kl);
        memcpy(e->set.mac, p + pos + kl, kl);
        memcpy(e->set.dek, p + pos + 2 * kl, kl);
        pos += 3 * kl;
        ks->n = i + 1;
    }
    return pos == len ? MNAP_OK : MNAP_E_KS_CORRUPT;
}

static mnap_err read_file(const char *path, uint8_t **out, size_t *len)
{
    uint8_t *buf;
    size_t n = 0;
    ssize_t r;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MNAP_E_IO;
    buf = malloc(KS_MAX_FILE + 1);
    if (buf == NULL) {
        close(fd);
        return MNAP_E_NOMEM;
    }
    for (;;) {
        r = read(fd, buf + n, KS_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            free(buf);
            return MNAP_E_IO;
        }
        if (r == 0 || (n += (size_t)r) > KS_MAX_FILE)
            break;
    }
    close(fd);
    if (n > KS_MAX_FILE) {
        free(buf);
        return MNAP_E_KS_CORRUPT;
    }
    *out = buf;
    *len = n;
    return MNAP_OK;
}

mnap_err mnap_keystore_load(mnap_keystore **out, const char *path, const char *pass,
                            size_t pass_len)
{
    uint8_t *file = NULL, *plain = NULL, k[64], v[32], h[32];
    mnap_keystore *ks = NULL;
    size_t flen = 0, clen;
    mnap_err rc;

    if (out == NULL || path == NULL || (pass == NULL && pass_len))
        return MNAP_E_PARAM;
    *out = NULL;
    if (is_uri(path)) {
        rc = mnap_keystore_new(&ks);
        if (rc != MNAP_OK)
            return rc;
        rc = mnap__p11_open(&ks->p11, path, pass, pass_len);
        if (rc != MNAP_OK) {
            mnap_keystore_free(ks);
            return rc;
        }
        *out = ks;
        return MNAP_OK;
    }
    rc = read_file(path, &file, &flen);
    if (rc != MNAP_OK)
        return rc;
    rc = MNAP_E_KS_CORRUPT;
    if (flen < KS_HDR + KS_TAG || memcmp(file, KS_MAGIC, 8) != 0 || file[8] != 0x01)
        goto out;
    if (!sha256(file, 60, NULL, 0, h)) {
        rc = MNAP_E_CRYPTO;
        goto out;
    }
    if (memcmp(h, file + 60, 32) != 0)
        goto out;
    clen = ((size_t)file[56] << 24) | ((size_t)file[57] << 16) | ((size_t)file[58] << 8) | file[59];
    if (clen != flen - KS_HDR - KS_TAG || !kdf_ok(file[9], file[10], file[11]))
        goto out;
    if (!derive(pass ? pass : "", pass_len, file, k)) {
        rc = MNAP_E_CRYPTO;
        goto out;
    }
    if (!verifier(k + 32, v)) {
        rc = MNAP_E_CRYPTO;
        goto out;
    }
    if (!cm_ct_equal(v, file + 40, 16)) {
        rc = MNAP_E_KS_PASSPHRASE;
        goto out;
    }
    plain = malloc(clen ? clen : 1);
    if (plain == NULL) {
        rc = MNAP_E_NOMEM;
        goto out;
    }
    if (!gcm(0, k, file + 28, file, KS_HDR, file + KS_HDR, clen, plain, file + KS_HDR + clen))
        goto out; /* right passphrase, wrong tag: the body was damaged */
    rc = mnap_keystore_new(&ks);
    if (rc != MNAP_OK)
        goto out;
    rc = mnap_keystore_set_kdf(ks, file[9], file[10], file[11]);
    if (rc == MNAP_OK)
        rc = parse_plain(ks, plain, clen);
    if (rc != MNAP_OK) {
        mnap_keystore_free(ks);
        ks = NULL;
        goto out;
    }
    memcpy(ks->base, file + 60, 32);
    ks->has_base = 1;
    *out = ks;
    rc = MNAP_OK;
out:
    cm_wipe(k, sizeof(k));
    cm_wipe(v, sizeof(v));
    if (plain != NULL) {
        cm_wipe(plain, clen);
        free(plain);
    }
    if (file != NULL) {
        cm_wipe(file, flen);
        free(file);
    }
    return rc;
}

/* --- the store's lock ---------------------------------------------------- */
struct mnap_kslock {
    int fd;                         /* -1: a token (nothing held) */
    dev_t dev;
    ino_t ino;
    struct mnap_kslock *next;
};

/* The locks this process holds, so that a save inside a read-modify-write
 * does not wait for its own lock (flock locks of two descriptors conflict
 * even in one process). */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static mnap_kslock *held;

static char *lock_path_of(const char *path)
{
    size_t n = strlen(path);
    char *lp = malloc(n + 6);

    if (lp != NULL) {
        memcpy(lp, path, n);
        memcpy(lp + n, ".lock", 6);
    }
    return lp;
}

static unsigned env_timeout(void)
{
    const char *env = getenv("MNAP_LOCK_TIMEOUT");
    char *end = NULL;
    long v;

    if (env == NULL || env[0] == '\0')
        return 60;
    errno = 0;
    v = strtol(env, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 3600)
        return 60;
    return (unsigned)v;
}

mnap_err mnap_keystore_lock(const char *path, unsigned timeout_s, mnap_lock_wait_fn waiting,
                            void *arg, mnap_kslock **out)
{
    const struct timespec step = { 0, 50 * 1000 * 1000 };
    unsigned long waited = 0, limit;
    mnap_kslock *l;
    struct stat st;
    char *lp;
    int fd;

    if (out == NULL || path == NULL || path[0] == '\0' || timeout_s > 3600)
        return MNAP_E_PARAM;
    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return MNAP_E_NOMEM;
    l->fd = -1;
    if (is_uri(path)) {
        *out = l;
        return MNAP_OK;
    }
    lp = lock_path_of(path);
    if (lp == NULL) {
        free(l);
        return MNAP_E_NOMEM;
    }
    fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        free(lp);
        free(l);
        return MNAP_E_IO;
    }
    limit = (unsigned long)timeout_s * 20u;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK || waited >= limit) {
            mnap_err e = errno == EWOULDBLOCK ? MNAP_E_KS_BUSY : MNAP_E_IO;
            close(fd);
            free(lp);
            free(l);
            return e;
        }
        if (waited == 20 && waiting != NULL)
            waiting(arg, lp, timeout_s);
        (void)nanosleep(&step, NULL);
        waited++;
    }
    free(lp);
    l->fd = fd;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    pthread_mutex_lock(&held_mu);
    l->next = held;
    held = l;
    pthread_mutex_unlock(&held_mu);
    *out = l;
    return MNAP_OK;
}

void mnap_keystore_unlock(mnap_kslock *lock)
{
    mnap_kslock **pp;

    if (lock == NULL)
        return;
    if (lock->fd >= 0) {
        pthread_mutex_lock(&held_mu);
        for (pp = &held; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == lock) {
                *pp = lock->next;
                break;
            }
        }
        pthread_mutex_unlock(&held_mu);
        (void)flock(lock->fd, LOCK_UN);
        close(lock->fd);
    }
    free(lock);
}

/* 1 when this process holds path's lock (its lock file is one we hold). */
static int lock_held(const char *path)
{
    char *lp = lock_path_of(path);
    struct stat st;
    mnap_kslock *l;
    int yes = 0;

    if (lp == NULL)
        return 0;
    if (stat(lp, &st) == 0) {
        pthread_mutex_lock(&held_mu);
        for (l = held; l != NULL; l = l->next)
            if (l->dev == st.st_dev && l->ino == st.st_ino)
                yes = 1;
        pthread_mutex_unlock(&held_mu);
    }
    free(lp);
    return yes;
}

/* MNAP_OK when path is absent, or ks has no base, or path is the version ks
 * was loaded from; MNAP_E_KS_STALE otherwise. */
static mnap_err check_base(const mnap_keystore *ks, const char *path)
{
    uint8_t hdr[KS_HDR];
    size_t n = 0;
    ssize_t r;
    int fd;

    if (!ks->has_base)
        return MNAP_OK;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MNAP_OK : MNAP_E_IO;
    while (n < KS_HDR) {
        r = read(fd, hdr + n, KS_HDR - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n < KS_HDR || memcmp(hdr + 60, ks->base, 32) != 0)
        return MNAP_E_KS_STALE;
    return MNAP_OK;
}

/* --- save --------------------------------------------------------------- */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir))
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

mnap_err mnap_keystore_save(mnap_keystore *ks, const char *path, const char *pass,
                            size_t pass_len)
{
    uint8_t *plain = NULL, *file = NULL, k[64], v[32];
    size_t plen = 2, i, pos, flen = 0;
    mnap_kslock *own = NULL;
    char *tmp = NULL;
    mnap_err rc;
    int fd = -1;

    if (ks == NULL || path == NULL || (pass == NULL && pass_len))
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return MNAP_OK;   /* a token applies every change at once */
    for (i = 0; i < ks->n; i++)
        plen += 1 + strlen(ks->e[i].name) + 3 + 3u * ks->e[i].set.key_len;
    plain = malloc(plen);
    flen = KS_HDR + plen + KS_TAG;
    file = malloc(flen);
    tmp = malloc(strlen(path) + 16);
    if (plain == NULL || file == NULL || tmp == NULL) {
        rc = MNAP_E_NOMEM;
        goto out;
    }
    plain[0] = (uint8_t)(ks->n >> 8);
    plain[1] = (uint8_t)ks->n;
    for (i = 0, pos = 2; i < ks->n; i++) {
        const ks_entry *e = &ks->e[i];
        size_t nl = strlen(e->name), kl = e->set.key_len;
        plain[pos++] = (uint8_t)nl;
        memcpy(plain + pos, e->name, nl);
        pos += nl;
        plain[pos++] = e->set.master;
        plain[pos++] = e->set.kvn;
        plain[pos++] = (uint8_t)kl;
        memcpy(plain + pos, e->set.enc, kl);
        memcpy(plain + pos + kl, e->set.mac, kl);
        memcpy(plain + pos + 2 * kl, e->set.dek, kl);
        pos += 3 * kl;
    }
    memcpy(file, KS_MAGIC, 8);
    file[8] = 0x01;
    file[9] = ks->log2_n;
    file[10] = ks->r;
    file[11] = ks->p;
    rc = mnap__random(file + 12, 16 + 12);       /* salt and nonce, fresh every save */
    if (rc != MNAP_OK)
        goto out;
    rc = MNAP_E_CRYPTO;
    if (!derive(pass ? pass : "", pass_len, file, k) || !verifier(k + 32, v))
        goto out;
    memcpy(file + 40, v, 16);
    put32(file + 56, (uint32_t)plen);
    if (!sha256(file, 60, NULL, 0, file + 60))
        goto out;
    if (!gcm(1, k, file + 28, file, KS_HDR, plain, plen, file + KS_HDR, file + KS_HDR + plen))
        goto out;

    rc = MNAP_E_IO;
    sprintf(tmp, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        goto out;
    if (fchmod(fd, 0600) != 0 || write_all(fd, file, flen) != 0 || fsync(fd) != 0) {
        close(fd);
        fd = -1;
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        unlink(tmp);
        goto out;
    }
    fd = -1;
    if (ks->save_hook != NULL)
        ks->save_hook(ks->save_hook_arg);
    /* Check that path is still the version loaded, and rename, under the
     * lock: no other save can slip in between. */
    if (!lock_held(path)) {
        rc = mnap_keystore_lock(path, env_timeout(), NULL, NULL, &own);
        if (rc != MNAP_OK) {
            unlink(tmp);
            goto out;
        }
    }
    rc = check_base(ks, path);
    if (rc != MNAP_OK) {
        unlink(tmp);
        goto out;
    }
    rc = MNAP_E_IO;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    fsync_dir(path);
    memcpy(ks->base, file + 60, 32);
    ks->has_base = 1;
    rc = MNAP_OK;
out:
    mnap_keystore_unlock(own);
    cm_wipe(k, sizeof(k));
    cm_wipe(v, sizeof(v));
    if (plain != NULL) {
        cm_wipe(plain, plen);
        free(plain);
    }
    free(file);
    free(tmp);
    return rc;
}

/* --- Ed25519 signing keys ------------------------------------------------------ */
mnap_err mnap_keystore_ed25519_generate(mnap_keystore *ks, const char *name)
{
    if (ks == NULL || name == NULL)
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return mnap__p11_ed_generate(ks->p11, name);
    return mnap_keystore_generate(ks, name, 0x01, 32, 0);
}

/* The private key of a file store's key set (wipe it). */
static mnap_err ed_seed(const mnap_keystore *ks, const char *name, uint8_t seed[32])
{
    mnap_keyset set;
    mnap_err rc = mnap_keystore_get(ks, name, &set);

    if (rc != MNAP_OK)
        return rc;
    if (set.key_len != 32 || set.master) {
        mnap_keyset_wipe(&set);
        return MNAP_E_PARAM;
    }
    memcpy(seed, set.enc, 32);
    mnap_keyset_wipe(&set);
    return MNAP_OK;
}

mnap_err mnap_keystore_ed25519_public(const mnap_keystore *ks, const char *name, uint8_t pub[32])
{
    uint8_t seed[32];
    mnap_err rc;

    if (ks == NULL || name == NULL || pub == NULL)
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return mnap__p11_ed_public(ks->p11, name, pub);
    rc = ed_seed(ks, name, seed);
    if (rc == MNAP_OK)
        rc = mnap_stoplist_public_key(seed, pub);
    cm_wipe(seed, sizeof(seed));
    return rc;
}

mnap_err mnap_keystore_ed25519_sign(const mnap_keystore *ks, const char *name, const uint8_t *msg, size_t len,
                                    uint8_t sig[64])
{
    uint8_t seed[32];
    mnap_err rc;

    if (ks == NULL || name == NULL || (msg == NULL && len != 0) || sig == NULL)
        return MNAP_E_PARAM;
    if (ks->p11 != NULL)
        return mnap__p11_ed_sign(ks->p11, name, msg, len, sig);
    rc = ed_seed(ks, name, seed);
    if (rc == MNAP_OK)
        rc = mnap__ed25519_sign(seed, msg, len, sig);
    cm_wipe(seed, sizeof(seed));
    return rc;
}
