/* test_stoplist.c: the offline stop list (mnap/mnap_stoplist.h): a card on
 * the list is refused, one not on it passes; a list that is expired, not yet
 * valid, edited (any byte), truncated, or signed by another key is refused
 * with its named error; the clock is a parameter, never waited for. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mnap/mnap.h"

static const uint8_t seed_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t seed_b[32] = { 9 };
#define T0 1800000000

static void make(uint8_t **buf, size_t *len, const uint8_t *seed)
{
    mnap_stoplist_entry e[3] = {
        { { 0x30, 0, 0, 0, 0, 0, 0, 0x02 }, 3 },
        { { 0x10, 0, 0, 0, 0, 0, 0, 0x01 }, 2 },
        { { 0x20, 0, 0, 0, 0, 0, 0, 0x09 }, 4 },
    };
    assert_int_equal(mnap_stoplist_build(e, 3, T0, T0 + 86400, "131016", seed, buf, len), MNAP_OK);
}

static void test_lookup(void **state)
{
    uint8_t *buf, pub[32], st = 0;
    size_t len;
    mnap_stoplist *l;
    const uint8_t on[8] = { 0x20, 0, 0, 0, 0, 0, 0, 0x09 }, off[8] = { 0x20, 0, 0, 0, 0, 0, 0, 0x08 };

    (void)state;
    make(&buf, &len, seed_a);
    assert_int_equal(len, 36 + 27 + 64);
    assert_int_equal(mnap_stoplist_public_key(seed_a, pub), MNAP_OK);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 10), MNAP_OK);
    assert_int_equal(mnap_stoplist_count(l), 3);
    assert_string_equal(mnap_stoplist_municipality(l), "131016");
    assert_int_equal(mnap_stoplist_check(l, on, &st), MNAP_E_CARD_STOPPED);
    assert_int_equal(st, 4);
    assert_int_equal(mnap_stoplist_check(l, off, &st), MNAP_OK);
    mnap_stoplist_free(l);
    /* The five minutes of skew before the issue time, and not one second more. */
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 - 300), MNAP_OK);
    mnap_stoplist_free(l);
    free(buf);
}

static void test_expired(void **state)
{
    uint8_t *buf, pub[32];
    size_t len;
    mnap_stoplist *l = (mnap_stoplist *)1;

    (void)state;
    make(&buf, &len, seed_a);
    assert_int_equal(mnap_stoplist_public_key(seed_a, pub), MNAP_OK);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 86400), MNAP_E_STOPLIST_EXPIRED);
    assert_null(l);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 86399), MNAP_OK);
    mnap_stoplist_free(l);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 - 301), MNAP_E_STOPLIST_EXPIRED);
    free(buf);
}

static void test_tampered(void **state)
{
    uint8_t *buf, pub[32];
    size_t len;
    mnap_stoplist *l;

    (void)state;
    make(&buf, &len, seed_a);
    assert_int_equal(mnap_stoplist_public_key(seed_a, pub), MNAP_OK);
    /* Every byte after the magic and count: an edit is a bad signature. */
    for (size_t i = 8; i < len; i++) {
        if (i >= 32 && i < 36) {
            continue; /* the count: a format error (below) */
        }
        buf[i] ^= 0x01;
        assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 10), MNAP_E_STOPLIST_SIGNATURE);
        buf[i] ^= 0x01;
    }
    buf[35] ^= 1;
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 10), MNAP_E_STOPLIST_FORMAT);
    buf[35] ^= 1;
    buf[0] = 'X';
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 10), MNAP_E_STOPLIST_FORMAT);
    buf[0] = 'M';
    assert_int_equal(mnap_stoplist_open(&l, buf, len - 9, pub, T0 + 10), MNAP_E_STOPLIST_FORMAT);
    assert_int_equal(mnap_stoplist_open(&l, buf, 50, pub, T0 + 10), MNAP_E_STOPLIST_FORMAT);
    free(buf);
    /* Signed by another key. */
    make(&buf, &len, seed_b);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 10), MNAP_E_STOPLIST_SIGNATURE);
    free(buf);
}

static void test_build_refuses(void **state)
{
    mnap_stoplist_entry e[2] = { { { 1 }, 3 }, { { 1 }, 2 } };
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_int_equal(mnap_stoplist_build(e, 2, T0, T0 + 1, "131016", seed_a, &buf, &len), MNAP_E_PARAM);
    assert_int_equal(mnap_stoplist_build(e, 1, T0, T0, "131016", seed_a, &buf, &len), MNAP_E_PARAM);
    assert_int_equal(mnap_stoplist_build(e, 1, T0, T0 + 1, "1310", seed_a, &buf, &len), MNAP_E_PARAM);
    e[0].state = 1; /* ACTIVE is never on a stop list */
    assert_int_equal(mnap_stoplist_build(e, 1, T0, T0 + 1, "131016", seed_a, &buf, &len), MNAP_E_PARAM);
    assert_string_equal(mnap_err_name(MNAP_E_STOPLIST_EXPIRED), "MNAP_E_STOPLIST_EXPIRED");
    assert_string_equal(mnap_err_name(MNAP_E_CARD_STOPPED), "MNAP_E_CARD_STOPPED");
}

/* The file key store as the key source: key set NAME's ENC key signs. */
static void test_keystore_file(void **state)
{
    mnap_keystore *ks = NULL;
    mnap_stoplist *l = NULL;
    mnap_stoplist_entry e = { { 9, 9, 9, 9, 9, 9, 9, 9 }, 2 };
    mnap_keyset set;
    uint8_t pub[32], pub2[32], *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(mnap_keystore_new(&ks), MNAP_OK);
    assert_int_equal(mnap_keystore_ed25519_generate(ks, "stoplist"), MNAP_OK);
    assert_int_equal(mnap_keystore_ed25519_public(ks, "stoplist", pub), MNAP_OK);
    assert_int_equal(mnap_keystore_get(ks, "stoplist", &set), MNAP_OK);
    assert_int_equal(set.key_len, 32);
    assert_int_equal(mnap_stoplist_public_key(set.enc, pub2), MNAP_OK);
    mnap_keyset_wipe(&set);
    assert_memory_equal(pub, pub2, 32);
    assert_int_equal(mnap_stoplist_build_ks(&e, 1, T0, T0 + 60, "131016", ks, "stoplist", &buf, &len), MNAP_OK);
    assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0), MNAP_OK);
    assert_int_equal(mnap_stoplist_check(l, e.serial, NULL), MNAP_E_CARD_STOPPED);
    mnap_stoplist_free(l);
    free(buf);
    /* A key set of 16-byte keys is no Ed25519 key; an absent one is named. */
    assert_int_equal(mnap_keystore_generate(ks, "short", 1, 16, 0), MNAP_OK);
    assert_int_equal(mnap_keystore_ed25519_public(ks, "short", pub), MNAP_E_PARAM);
    assert_int_equal(mnap_stoplist_build_ks(&e, 1, T0, T0 + 60, "131016", ks, "none", &buf, &len), MNAP_E_KS_NOT_FOUND);
    mnap_keystore_free(ks);
}

/* A list signed by the right key whose issue time is near the smallest
 * 64-bit number (only a key holder can make one: the builder refuses
 * issued_at < 0): the rule issued_at - 300 <= now < expires_at holds for any
 * now before expires_at.  The check computed issued_at - 300 and overflowed
 * (undefined behaviour; found with fuzz_stoplist, its reproducer in
 * test/fuzz/repro/stoplist/). */
static void resign(uint8_t *buf, size_t len, const uint8_t *seed)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = 64;

    assert_non_null(k);
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, buf + len - 64, &n, buf, len - 64), 1);
    assert_int_equal(n, 64);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
}

static void test_issued_near_int64_min(void **state)
{
    static const uint8_t issued[3][8] = {
        { 0x80, 0, 0, 0, 0, 0, 0, 0 },          /* INT64_MIN */
        { 0x80, 0, 0, 0, 0, 0, 0x01, 0x2B },    /* INT64_MIN + 299 */
        { 0x80, 0, 0, 0, 0, 0, 0x01, 0x2C },    /* INT64_MIN + 300 */
    };
    uint8_t *buf, pub[32];
    size_t len;
    mnap_stoplist *l = NULL;

    (void)state;
    make(&buf, &len, seed_a);
    assert_int_equal(mnap_stoplist_public_key(seed_a, pub), MNAP_OK);
    for (size_t i = 0; i < 3; i++) {
        memcpy(buf + 8, issued[i], 8);
        resign(buf, len, seed_a);
        assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0), MNAP_OK);
        assert_int_equal(mnap_stoplist_count(l), 3);
        mnap_stoplist_free(l);
        l = NULL;
        assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, INT64_MIN), MNAP_OK);
        mnap_stoplist_free(l);
        l = NULL;
        assert_int_equal(mnap_stoplist_open(&l, buf, len, pub, T0 + 86400), MNAP_E_STOPLIST_EXPIRED);
        assert_null(l);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_keystore_file),
        cmocka_unit_test(test_issued_near_int64_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
