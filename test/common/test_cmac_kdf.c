/* test_cmac_kdf.c: AES-CMAC against RFC 4493 / SP 800-38B and the SP 800-108
 * CMAC KDF against the NIST CAVP vectors, all read from vectors/. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cm_cbc.h"
#include "cm_cmac.h"
#include "cm_err.h"
#include "cm_kdf.h"
#include "mt_json.h"
#include "test_aes.h"

static size_t hex_field(mj_doc *d, int obj, const char *key, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int t = mj_get(d, obj, key);
    assert_true(t >= 0);
    assert_int_equal(mj_hex(d, t, out, cap, &n), 0);
    return n;
}

static void test_cmac_vectors(void **state)
{
    mj_doc d;
    int vecs, i, n;
    cm_aes aes = test_aes();
    (void)state;

    assert_int_equal(mj_load_file(&d, "vectors/cmac_aes.json"), 0);
    vecs = mj_get(&d, 0, "vectors");
    n = mj_size(&d, vecs);
    assert_int_equal(n, 12);
    for (i = 0; i < n; i++) {
        int v = mj_array_at(&d, vecs, i);
        uint8_t key[32], msg[64], mac[16], tag[16];
        size_t kl = hex_field(&d, v, "key", key, sizeof key);
        size_t ml = hex_field(&d, v, "message", msg, sizeof msg);
        size_t split;

        assert_int_equal(hex_field(&d, v, "mac", mac, sizeof mac), 16);
        assert_int_equal(cm_cmac(&aes, key, kl, msg, ml, tag), 0);
        assert_memory_equal(tag, mac, 16);
        /* The streaming form gives the same tag whatever the split. */
        for (split = 0; split <= ml; split++) {
            cm_cmac_ctx c;
            assert_int_equal(cm_cmac_init(&c, &aes, key, kl), 0);
            assert_int_equal(cm_cmac_update(&c, msg, split), 0);
            assert_int_equal(cm_cmac_update(&c, msg + split, ml - split), 0);
            assert_int_equal(cm_cmac_final(&c, tag), 0);
            assert_memory_equal(tag, mac, 16);
        }
        /* One flipped message bit changes the tag. */
        if (ml > 0) {
            msg[ml / 2] ^= 0x01;
            assert_int_equal(cm_cmac(&aes, key, kl, msg, ml, tag), 0);
            assert_memory_not_equal(tag, mac, 16);
        }
    }
    mj_free(&d);
}

/* The subkeys of the vector file: K1 and K2 show in the tags of a one-block
 * and an empty message, so check L, K1, K2 through them: CMAC(M, 16 bytes) =
 * AES(M ^ K1) and CMAC("") = AES(80 00.. ^ K2). */
static void test_cmac_subkeys(void **state)
{
    static const char *names[] = { "AES128", "AES192", "AES256" };
    mj_doc d;
    cm_aes aes = test_aes();
    int sub, i;
    (void)state;

    assert_int_equal(mj_load_file(&d, "vectors/cmac_aes.json"), 0);
    sub = mj_get(&d, mj_get(&d, 0, "derived"), "subkeys");
    assert_true(sub >= 0);
    for (i = 0; i < 3; i++) {
        int o = mj_get(&d, sub, names[i]);
        uint8_t key[32], l[16], k1[16], k2[16], blk[16], want[16], tag[16], zero[16] = { 0 };
        size_t kl = hex_field(&d, o, "key", key, sizeof key);
        hex_field(&d, o, "L", l, 16);
        hex_field(&d, o, "K1", k1, 16);
        hex_field(&d, o, "K2", k2, 16);
        assert_int_equal(test_aes_block(NULL, 0, key, kl, zero, blk), 0);
        assert_memory_equal(blk, l, 16);
        /* one full block of zeros: tag = AES(K1) */
        assert_int_equal(test_aes_block(NULL, 0, key, kl, k1, want), 0);
        assert_int_equal(cm_cmac(&aes, key, kl, zero, 16, tag), 0);
        assert_memory_equal(tag, want, 16);
        /* empty message: tag = AES(80 00.. ^ K2) */
        memcpy(blk, k2, 16);
        blk[0] ^= 0x80;
        assert_int_equal(test_aes_block(NULL, 0, key, kl, blk, want), 0);
        assert_int_equal(cm_cmac(&aes, key, kl, NULL, 0, tag), 0);
        assert_memory_equal(tag, want, 16);
    }
    mj_free(&d);
}

static void test_kdf_vectors(void **state)
{
    mj_doc d;
    cm_aes aes = test_aes();
    int vecs, i, n, middle = 0;
    (void)state;

    assert_int_equal(mj_load_file(&d, "vectors/kdf_sp800_108_cmac.json"), 0);
    vecs = mj_get(&d, 0, "vectors");
    n = mj_size(&d, vecs);
    assert_int_equal(n, 11);
    for (i = 0; i < n; i++) {
        int v = mj_array_at(&d, vecs, i);
        uint8_t ki[32], before[128], after[128], ko[64], out[64];
        size_t kil = hex_field(&d, v, "ki", ki, sizeof ki), bl = 0, al = 0, kol;
        long long lbits;

        assert_int_equal(mj_int(&d, mj_get(&d, v, "l_bits"), &lbits), 0);
        kol = hex_field(&d, v, "ko", ko, sizeof ko);
        assert_int_equal((size_t)lbits / 8, kol);
        if (mj_eq(&d, mj_get(&d, v, "ctr_location"), "BEFORE_FIXED")) {
            al = hex_field(&d, v, "fixed_input_data", after, sizeof after);
        } else {
            assert_true(mj_eq(&d, mj_get(&d, v, "ctr_location"), "MIDDLE_FIXED"));
            bl = hex_field(&d, v, "data_before_ctr", before, sizeof before);
            al = hex_field(&d, v, "data_after_ctr", after, sizeof after);
            middle++;
        }
        assert_int_equal(cm_kdf_ctr_cmac(&aes, ki, kil, before, bl, after, al, out, kol), 0);
        assert_memory_equal(out, ko, kol);
    }
    assert_int_equal(middle, 2);
    mj_free(&d);
}

static void test_kdf_refuses_bad_params(void **state)
{
    cm_aes aes = test_aes();
    uint8_t key[16] = { 0 }, out[16];
    (void)state;
    assert_int_equal(cm_kdf_ctr_cmac(&aes, key, 15, NULL, 0, NULL, 0, out, 16), CM_E_PARAM);
    assert_int_equal(cm_kdf_ctr_cmac(&aes, key, 16, NULL, 0, NULL, 0, out, 0), CM_E_PARAM);
    assert_int_equal(cm_scp03_kdf(&aes, key, 16, 0x04, NULL, 0, out, 100), CM_E_PARAM);
    assert_int_equal(cm_cmac(&aes, key, 20, NULL, 0, out), CM_E_PARAM);
}

/* NULL pointer arguments, each the only thing wrong with the call, are
 * refused in a host build (CM_CHECK_NULL, common/cm_err.h): the host's
 * callers are many.  Fails if the host build ever loses the define. */
static void test_null_pointers_refused(void **state)
{
    cm_aes aes = test_aes();
    cm_cmac_ctx ctx;
    uint8_t key[16] = { 0 }, data[16] = { 0 }, out[16];
    (void)state;
    assert_int_equal(cm_cmac(&aes, NULL, 16, data, 16, out), CM_E_PARAM);
    assert_int_equal(cm_cmac(NULL, key, 16, data, 16, out), CM_E_PARAM);
    assert_int_equal(cm_cmac(&aes, key, 16, NULL, 16, out), CM_E_PARAM);
    assert_int_equal(cm_cmac_init(NULL, &aes, key, 16), CM_E_PARAM);
    assert_int_equal(cm_cmac_init(&ctx, &aes, key, 16), CM_OK);
    assert_int_equal(cm_cmac_final(&ctx, NULL), CM_E_PARAM);
    assert_int_equal(cm_kdf_ctr_cmac(&aes, key, 16, NULL, 4, NULL, 0, out, 16), CM_E_PARAM);
    assert_int_equal(cm_kdf_ctr_cmac(&aes, key, 16, NULL, 0, NULL, 0, NULL, 16), CM_E_PARAM);
    assert_int_equal(cm_cbc_encrypt(&aes, NULL, 16, NULL, data, out, 16), CM_E_PARAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmac_vectors),
        cmocka_unit_test(test_cmac_subkeys),
        cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_kdf_refuses_bad_params),
        cmocka_unit_test(test_null_pointers_refused),
    };
    return cmocka_run_group_tests_name("common: CMAC and KDF vectors", tests, NULL, NULL);
}
