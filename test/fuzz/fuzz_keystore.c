/* fuzz_keystore.c: libFuzzer target for the key store file reader
 * (host/keystore.c, mnap_keystore_load), which has no in-memory loader: each
 * input is written to a per-process temporary file.
 *
 * Byte 0 picks a mode (modulo 3); the rest is the payload:
 *   0  the payload is the whole file.  So that the fuzzer gets past the
 *      header's SHA-256 (an integrity check, not a secret), the target
 *      rewrites bytes 60..91 with the right hash unless bit 7 of byte 0 is
 *      set, and clamps the claimed scrypt cost to at most N = 2^12, r = 8,
 *      p = 1 so that an execution stays fast (the loader's own bound, up to
 *      512 MiB of scrypt memory, is measured separately: docs/fuzzing.md).
 *   1  the payload is the decrypted body: the target builds a valid file
 *      around it (passphrase "fuzz-pass", N = 2^10, r = 1, p = 1, fixed salt
 *      and nonce; K1 || K2 derived once per process), so the fuzzer reaches
 *      the plaintext parser.
 *   2  the payload describes entries ([name length] [name] [key length
 *      selector] [KVN] [master] [key bytes]...), put through the API, saved
 *      and loaded back.
 * Checked after a successful load: every name is 1..64 printable bytes and
 * unique, every key length is 16/24/32; the same file with a wrong
 * passphrase gives MNAP_E_KS_PASSPHRASE; saving and loading again gives the
 * same names and keys (mode 2: the same as were put).  Every result is a
 * named error; no crash, leak or out-of-bounds access. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mnap/mnap_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASS "fuzz-pass"
#define HDR 92u
#define MAX_FILE (1u << 20)

static char path[64], path2[64];
static uint8_t k64[64];       /* scrypt(PASS, salt, 2^10, 1, 1) for mode 1 */
static const uint8_t salt[16] = "fuzz-salt-16byte";
static const uint8_t nonce[12] = "fuzz-nonce12";

static void fail(const char *msg, int rc)
{
    fprintf(stderr, "\n*** key store invariant violated: %s (rc %d)\n", msg, rc);
    abort();
}

static void sha256(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, uint8_t out[32])
{
    unsigned int n = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    if (m == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(m, a, an) != 1 || (bn && EVP_DigestUpdate(m, b, bn) != 1) ||
        EVP_DigestFinal_ex(m, out, &n) != 1)
        abort();
    EVP_MD_CTX_free(m);
}

static void cleanup(void)
{
    unlink(path);
    unlink(path2);
}

static void setup(void)
{

    /* tmpfs when there is one: the save's fsyncs then cost nothing. */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(path, sizeof(path), "%s/fuzz_keystore.%ld", dir, (long)getpid());
    snprintf(path2, sizeof(path2), "%s/fuzz_keystore2.%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    close(fd);
    atexit(cleanup);
    if (EVP_PBE_scrypt(PASS, strlen(PASS), salt, sizeof(salt), 1024, 1, 1, 0, k64, 64) != 1)
        abort();
}

static void write_file(const char *p, const uint8_t *d, size_t n)
{
    FILE *f = fopen(p, "wb");

    if (f == NULL || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

/* A valid store file around a plaintext body (the layout of keystore.c). */
static size_t wrap_body(const uint8_t *body, size_t n, uint8_t *out)
{
    static const uint8_t label[] = "mnap-ks-verify";
    uint8_t v[32];
    int m = 0, f = 0;
    EVP_CIPHER_CTX *c;

    memcpy(out, "MNAPKS\x00\x01", 8);
    out[8] = 1;
    out[9] = 10;
    out[10] = 1;
    out[11] = 1;
    memcpy(out + 12, salt, 16);
    memcpy(out + 28, nonce, 12);
    sha256(label, sizeof(label) - 1, k64 + 32, 32, v);
    memcpy(out + 40, v, 16);
    out[56] = (uint8_t)(n >> 24);
    out[57] = (uint8_t)(n >> 16);
    out[58] = (uint8_t)(n >> 8);
    out[59] = (uint8_t)n;
    sha256(out, 60, NULL, 0, out + 60);
    c = EVP_CIPHER_CTX_new();
    if (c == NULL || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, k64, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &m, out, HDR) != 1 ||
        (n && EVP_EncryptUpdate(c, out + HDR, &m, body, (int)n) != 1) ||
        EVP_EncryptFinal_ex(c, out + HDR + n, &f) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + HDR + n) != 1)
        abort();
    EVP_CIPHER_CTX_free(c);
    return HDR + n + 16;
}

static void check_named(int rc)
{
    if (rc != MNAP_OK && strcmp(mnap_strerror((mnap_err)rc), mnap_strerror((mnap_err)-9999)) == 0)
        fail("unnamed error code", rc);
}

static void check_store(const mnap_keystore *ks)
{
    size_t n = mnap_keystore_count(ks);

    if (n > MNAP_KS_MAX_ENTRIES)
        fail("more entries than MNAP_KS_MAX_ENTRIES", (int)n);
    for (size_t i = 0; i < n; i++) {
        const char *name = mnap_keystore_name(ks, i);
        mnap_keyset set;
        size_t len;
        if (name == NULL)
            fail("an entry without a name", (int)i);
        len = strlen(name);
        if (len == 0 || len > MNAP_KS_NAME_MAX)
            fail("a name of bad length", (int)len);
        for (size_t k = 0; k < len; k++)
            if (name[k] < 0x21 || name[k] > 0x7E)
                fail("a name with a non-printable byte", (int)i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(name, mnap_keystore_name(ks, j)) == 0)
                fail("two entries with the same name (loaded from a file)", (int)i);
        if (mnap_keystore_get(ks, name, &set) != MNAP_OK)
            fail("get of a listed name failed", (int)i);
        if (set.key_len != 16 && set.key_len != 24 && set.key_len != 32)
            fail("a key set of bad length", set.key_len);
        mnap_keyset_wipe(&set);
    }
}

/* Same names, in the same order, with the same keys. */
static void check_same(const mnap_keystore *a, const mnap_keystore *b)
{
    size_t n = mnap_keystore_count(a);

    if (mnap_keystore_count(b) != n)
        fail("save and load changed the number of entries", (int)n);
    for (size_t i = 0; i < n; i++) {
        mnap_keyset x, y;
        const char *name = mnap_keystore_name(a, i);
        if (strcmp(name, mnap_keystore_name(b, i)) != 0 || mnap_keystore_get(a, name, &x) ||
            mnap_keystore_get(b, name, &y))
            fail("save and load changed a name", (int)i);
        if (x.key_len != y.key_len || x.kvn != y.kvn || x.master != y.master ||
            memcmp(x.enc, y.enc, x.key_len) || memcmp(x.mac, y.mac, x.key_len) ||
            memcmp(x.dek, y.dek, x.key_len))
            fail("save and load changed a key set", (int)i);
    }
}

/* Saves ks (cheap cost) to path2, loads it back and compares. */
static void round_trip(mnap_keystore *ks)
{
    mnap_keystore *again = NULL;
    int rc;

    if (mnap_keystore_set_kdf(ks, 10, 1, 1) != MNAP_OK)
        fail("set_kdf(10, 1, 1) refused", 0);
    /* A fresh target: a save refuses to overwrite a store file other than
     * the version it was loaded from (MNAP_E_KS_STALE, issue #21), and path2
     * still holds the previous input's store. */
    (void)unlink(path2);
    rc = mnap_keystore_save(ks, path2, PASS, strlen(PASS));
    if (rc != MNAP_OK)
        fail("save of a loaded store failed", rc);
    rc = mnap_keystore_load(&again, path2, PASS, strlen(PASS));
    if (rc != MNAP_OK)
        fail("load of a saved store failed", rc);
    check_same(ks, again);
    mnap_keystore_free(again);
}

static void load_and_check(int mode)
{
    mnap_keystore *ks = NULL;
    int rc = mnap_keystore_load(&ks, path, PASS, strlen(PASS));

    check_named(rc);
    if (rc != MNAP_OK) {
        if (ks != NULL)
            fail("*out not NULL on error", rc);
        return;
    }
    check_store(ks);
    if (mode == 1) {
        mnap_keystore *w = NULL;
        rc = mnap_keystore_load(&w, path, "fuzz-pasS", 9);
        if (rc != MNAP_E_KS_PASSPHRASE)
            fail("a wrong passphrase was not MNAP_E_KS_PASSPHRASE", rc);
    }
    round_trip(ks);
    mnap_keystore_free(ks);
}

/* Mode 2: entries from the payload, through the API. */
static void entries(const uint8_t *d, size_t n)
{
    static const uint8_t lens[3] = {16, 24, 32};
    mnap_keystore *ks = NULL;
    size_t pos = 0;

    if (mnap_keystore_new(&ks) != MNAP_OK)
        abort();
    while (pos + 4 <= n) {
        char name[80];
        size_t nl = d[pos++] % 70;
        mnap_keyset set;
        uint8_t key[96] = {0};
        size_t kl;
        int rc;
        if (nl > n - pos)
            nl = n - pos;
        memcpy(name, d + pos, nl);
        name[nl] = '\0';
        pos += nl;
        if (pos + 3 > n)
            break;
        kl = lens[d[pos] % 3];
        memcpy(key, d + pos, n - pos < sizeof(key) ? n - pos : sizeof(key));
        rc = mnap_keyset_set(&set, d[pos + 1], key, key + 32, key + 64, kl, d[pos + 2] & 1);
        pos += 3;
        if (rc != MNAP_OK)
            continue;
        check_named(mnap_keystore_put(ks, name, &set));
    }
    check_store(ks);
    round_trip(ks);
    mnap_keystore_free(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t file[MAX_FILE + HDR + 16];
    static int ready;
    size_t n;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1 || size - 1 > MAX_FILE)
        return 0;
    switch (data[0] % 3) {
    case 0:
        n = size - 1;
        memcpy(file, data + 1, n);
        if (n >= HDR) {
            if (file[9] > 12)
                file[9] = 12;
            if (file[10] > 8)
                file[10] = 8;
            if (file[11] > 1)
                file[11] = 1;
            if (!(data[0] & 0x80))
                sha256(file, 60, NULL, 0, file + 60);
        }
        write_file(path, file, n);
        load_and_check(0);
        break;
    case 1:
        n = wrap_body(data + 1, size - 1, file);
        write_file(path, file, n);
        load_and_check(1);
        break;
    default:
        entries(data + 1, size - 1);
        break;
    }
    return 0;
}
