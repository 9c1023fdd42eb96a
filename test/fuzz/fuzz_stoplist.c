/* fuzz_stoplist.c: libFuzzer target for the signed offline stop list
 * (host/stoplist.c: mnap_stoplist_open, _load, _check, _build).
 *
 * Byte 0's low six bits pick a mode (modulo 3; bits 6 and 7 are flags); bytes 1..8 are the clock of the check
 * ("now", big-endian, as a signed 64-bit number); the rest is the payload:
 *   0  the payload is the whole file, checked against the public key of the
 *      target's fixed seed (the seed corpus holds lists signed with it, so
 *      the fuzzer starts from files that open).  Bit 6 of byte 0: the file
 *      goes through a temporary file and mnap_stoplist_load, which must give
 *      what mnap_stoplist_open gives.
 *   1  the payload is the signed part (header and entries): the target
 *      writes the count the length implies (unless bit 7 of byte 0 is set)
 *      and appends the fixed seed's signature, so that the fuzzer gets past
 *      the signature to the checks behind it (validity times, states, order).
 *   2  the payload is issued_at (8), expires_at (8) and entries of 9 bytes
 *      (serial, state) for mnap_stoplist_build; a list it builds must open at
 *      issued_at with every entry on it.
 * Checked: the result of mnap_stoplist_open is the one an independent model
 * of the format (mnap/mnap_stoplist.h) gives, the signature verified by the
 * target itself; on an error *out is NULL; on success the count, times and
 * municipality are the file's, every entry is found with its state, a serial
 * next to an entry that is not on the list is not found, and the validity
 * holds (issued_at - 300 <= now < expires_at, computed without overflow).
 * Mode 2: mnap_stoplist_build refuses (MNAP_E_PARAM) exactly the lists it
 * must (a state outside 2..4, a serial twice, expires_at <= issued_at,
 * issued_at < 0).  No crash, leak, undefined behaviour or out-of-bounds
 * access.  FUZZ_STOPLIST_VERBOSE=1 prints every open's result. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mnap/mnap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD MNAP_STOPLIST_HEAD_LEN
#define SIG MNAP_STOPLIST_SIG_LEN
#define ENT MNAP_STOPLIST_ENTRY_LEN
#define MAX_FILE (1u << 20)

/* The key of the seed corpus (gen_corpus.c signs with the same seed). */
static const uint8_t seed[32] = "mnap fuzz stop list seed 32 byte";
static uint8_t pub[32];
static char path[64];
static int verbose;

static void fail(const char *msg, long v)
{
    fprintf(stderr, "\n*** stop list invariant violated: %s (%ld)\n", msg, v);
    abort();
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

static void cleanup(void)
{
    unlink(path);
}

static void setup(void)
{
    /* tmpfs when there is one. */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(path, sizeof(path), "%s/fuzz_stoplist.%ld", dir, (long)getpid());
    atexit(cleanup);
    verbose = getenv("FUZZ_STOPLIST_VERBOSE") != NULL;
    if (mnap_stoplist_public_key(seed, pub) != MNAP_OK)
        abort();
}

static void sign(const uint8_t *msg, size_t len, uint8_t sig[SIG])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = SIG;

    if (k == NULL || md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(md, sig, &n, msg, len) != 1 || n != SIG)
        abort();
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
}

static bool verifies(const uint8_t *d, size_t n)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok;

    if (k == NULL || md == NULL || EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) != 1)
        abort();
    ok = EVP_DigestVerify(md, d + n - SIG, SIG, d, n - SIG) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return ok;
}

/* issued_at - 300 <= now < expires_at, and expires_at > issued_at, in
 * arithmetic that cannot overflow. */
static bool valid_at(int64_t issued, int64_t expires, int64_t now)
{
    return expires > issued && now < expires && (__int128)now >= (__int128)issued - 300;
}

/* What mnap_stoplist_open must answer for the file d[0..n) (sig_ok: its
 * signature verifies under pub). */
static mnap_err model(const uint8_t *d, size_t n, int64_t now, bool sig_ok)
{
    uint64_t count;

    if (n < HEAD + SIG || memcmp(d, "MNAPSTL1", 8) != 0)
        return MNAP_E_STOPLIST_FORMAT;
    count = be(d + 32, 4);
    if (n - HEAD - SIG != count * ENT)
        return MNAP_E_STOPLIST_FORMAT;
    if (!sig_ok)
        return MNAP_E_STOPLIST_SIGNATURE;
    if (!valid_at((int64_t)be(d + 8, 8), (int64_t)be(d + 16, 8), now))
        return MNAP_E_STOPLIST_EXPIRED;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = d + HEAD + i * ENT;
        if (e[8] < 2 || e[8] > 4 || (i > 0 && memcmp(e - ENT, e, 8) >= 0))
            return MNAP_E_STOPLIST_FORMAT;
    }
    return MNAP_OK;
}

static bool listed(const uint8_t *ent, size_t count, const uint8_t serial[8])
{
    for (size_t i = 0; i < count; i++)
        if (memcmp(ent + i * ENT, serial, 8) == 0)
            return true;
    return false;
}

/* An opened list against the file it came from. */
static void check_list(const mnap_stoplist *l, const uint8_t *d, size_t n, int64_t now)
{
    size_t count = (n - HEAD - SIG) / ENT;
    const uint8_t *ent = d + HEAD;
    char muni[8];

    if (mnap_stoplist_count(l) != count || count != be(d + 32, 4))
        fail("count is not the file's", (long)mnap_stoplist_count(l));
    if (mnap_stoplist_issued(l) != (int64_t)be(d + 8, 8) || mnap_stoplist_expires(l) != (int64_t)be(d + 16, 8))
        fail("validity times are not the file's", 0);
    if (!valid_at(mnap_stoplist_issued(l), mnap_stoplist_expires(l), now))
        fail("a list opened outside its validity", (long)now);
    memcpy(muni, d + 24, 7);
    muni[7] = '\0';
    if (strcmp(mnap_stoplist_municipality(l), muni) != 0)
        fail("municipality is not the file's", 0);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = ent + i * ENT;
        uint8_t st = 0xEE, next[8];
        if (i == 1024)
            break; /* the linear search below is quadratic */
        if (mnap_stoplist_check(l, e, &st) != MNAP_E_CARD_STOPPED || st != e[8])
            fail("an entry of the file is not found with its state", (long)i);
        if (st < 2 || st > 4)
            fail("an entry with a state outside 2..4", st);
        if (mnap_stoplist_check(l, e, NULL) != MNAP_E_CARD_STOPPED)
            fail("an entry is not found without a state pointer", (long)i);
        /* The serial one above (big-endian, wrapping): found exactly when it
         * is on the list. */
        memcpy(next, e, 8);
        for (int k = 7; k >= 0 && ++next[k] == 0; k--)
            ;
        st = 0xEE;
        if ((mnap_stoplist_check(l, next, &st) == MNAP_E_CARD_STOPPED) != listed(ent, count, next))
            fail("a lookup disagrees with a linear search", (long)i);
        if (!listed(ent, count, next) && st != 0xEE)
            fail("a serial not on the list wrote a state", (long)i);
    }
}

static void write_file(const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

/* Opens d[0..n) (through a file when via_file) and checks the result. */
static void open_and_check(const uint8_t *d, size_t n, int64_t now, bool sig_ok, bool via_file)
{
    mnap_stoplist *l = (mnap_stoplist *)&l;
    mnap_err want = model(d, n, now, sig_ok), got;

    if (via_file) {
        write_file(d, n);
        got = mnap_stoplist_load(&l, path, pub, now);
    } else {
        got = mnap_stoplist_open(&l, d, n, pub, now);
    }
    if (verbose)
        fprintf(stderr, "stoplist: %zu bytes at %lld%s: %s\n", n, (long long)now, via_file ? " (file)" : "",
                mnap_err_name(got));
    if (got != want) {
        fprintf(stderr, "open: %s, the model: %s\n", mnap_err_name(got), mnap_err_name(want));
        fail("mnap_stoplist_open does not answer as the format says", got);
    }
    if (got != MNAP_OK) {
        if (l != NULL)
            fail("*out not NULL on error", got);
        return;
    }
    check_list(l, d, n, now);
    mnap_stoplist_free(l);
}

/* Mode 2: [issued 8] [expires 8] then entries through mnap_stoplist_build. */
static void build(const uint8_t *d, size_t n)
{
    static mnap_stoplist_entry e[MAX_FILE / ENT];
    int64_t issued, expires;
    size_t count;
    bool ok = true;
    uint8_t *file = NULL;
    size_t len = 0;
    mnap_err rc;

    if (n < 16)
        return;
    issued = (int64_t)be(d, 8);
    expires = (int64_t)be(d + 8, 8);
    d += 16;
    count = (n - 16) / ENT;
    if (count > 512)
        count = 512; /* the duplicate check below is quadratic */
    for (size_t i = 0; i < count; i++) {
        memcpy(e[i].serial, d + i * ENT, 8);
        e[i].state = d[i * ENT + 8];
        if (e[i].state < 2 || e[i].state > 4)
            ok = false;
        for (size_t j = 0; j < i && ok; j++)
            if (memcmp(e[j].serial, e[i].serial, 8) == 0)
                ok = false;
    }
    if (expires <= issued || issued < 0)
        ok = false;
    rc = mnap_stoplist_build(e, count, issued, expires, "131016", seed, &file, &len);
    if (rc != (ok ? MNAP_OK : MNAP_E_PARAM))
        fail("mnap_stoplist_build refused a good list or built a bad one", rc);
    if (rc != MNAP_OK)
        return;
    if (len != HEAD + count * ENT + SIG)
        fail("a built list of the wrong length", (long)len);
    open_and_check(file, len, issued, true, false);
    open_and_check(file, len, issued - 300, true, false);
    open_and_check(file, len, issued - 301, true, false);
    open_and_check(file, len, expires - 1, true, false);
    open_and_check(file, len, expires, true, false);
    {
        mnap_stoplist *l = NULL;
        if (mnap_stoplist_open(&l, file, len, pub, issued) != MNAP_OK)
            fail("a built list does not open at its issue time", 0);
        for (size_t i = 0; i < count; i++) {
            uint8_t st = 0;
            if (mnap_stoplist_check(l, e[i].serial, &st) != MNAP_E_CARD_STOPPED || st != e[i].state)
                fail("a built entry is not on the opened list", (long)i);
        }
        mnap_stoplist_free(l);
    }
    free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t file[MAX_FILE + SIG];
    static int ready;
    int64_t now;
    size_t n;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 9 || size - 9 > MAX_FILE)
        return 0;
    now = (int64_t)be(data + 1, 8);
    n = size - 9;
    switch ((data[0] & 0x3F) % 3) {
    case 0:
        open_and_check(data + 9, n, now, n >= HEAD + SIG && verifies(data + 9, n), (data[0] & 0x40) != 0);
        break;
    case 1:
        memcpy(file, data + 9, n);
        if (n >= HEAD && !(data[0] & 0x80))
            put_be(file + 32, (n - HEAD) / ENT, 4);
        sign(file, n, file + n);
        open_and_check(file, n + SIG, now, true, false);
        break;
    default:
        build(data + 9, n);
        break;
    }
    return 0;
}
