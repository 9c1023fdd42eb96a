/* test_derive.c: per-card key diversification (PROTOCOL.md §7).  Keys
 * derived for two serials differ; each card authenticates only its own keys;
 * a master key set used directly is diversified by the library; the
 * derivation matches an independent SP 800-108 computation with OpenSSL's
 * CMAC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "host_fixture.h"

static const uint8_t serial_a[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
static const uint8_t serial_b[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x89 };

/* SCP03 KDF with OpenSSL's CMAC: label 11 x 00 || c, 00, L (16 bits),
 * counter i, context; output key_len bytes. */
static void ref_kdf(const uint8_t *key, size_t key_len, uint8_t c, const uint8_t div[10],
                    uint8_t *out)
{
    uint8_t msg[32], blk[16];
    size_t i, n = 0;
    const char *cipher = key_len == 16 ? "AES-128-CBC" : key_len == 24 ? "AES-192-CBC"
                                                                       : "AES-256-CBC";
    for (i = 1; n < key_len; i++) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
        EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
        OSSL_PARAM p[2];
        size_t ol = 0, take;
        memset(msg, 0, 11);
        msg[11] = c;
        msg[12] = 0x00;
        msg[13] = (uint8_t)((key_len * 8) >> 8);
        msg[14] = (uint8_t)(key_len * 8);
        msg[15] = (uint8_t)i;
        memcpy(msg + 16, div, 10);
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)cipher, 0);
        p[1] = OSSL_PARAM_construct_end();
        assert_int_equal(EVP_MAC_init(m, key, key_len, p), 1);
        assert_int_equal(EVP_MAC_update(m, msg, 26), 1);
        assert_int_equal(EVP_MAC_final(m, blk, &ol, sizeof(blk)), 1);
        take = key_len - n < 16 ? key_len - n : 16;
        memcpy(out + n, blk, take);
        n += take;
        EVP_MAC_CTX_free(m);
        EVP_MAC_free(mac);
    }
}

static void test_reference_derivation(void **state)
{
    mnap_keyset master, d;
    uint8_t div[10], ref[32];
    size_t len;
    (void)state;
    memcpy(div, serial_a, 8);
    div[8] = 0x00;
    div[9] = 0x01;
    for (len = 16; len <= 32; len += 8) {
        fx_keys(&master, 0x01, 0x3A, len);
        master.master = 1;
        assert_int_equal(mnap_keyset_diversify(&master, div, &d), MNAP_OK);
        assert_int_equal(d.key_len, len);
        assert_int_equal(d.kvn, 0x01);
        assert_int_equal(d.master, 0);
        ref_kdf(master.enc, len, 0x11, div, ref);
        assert_memory_equal(d.enc, ref, len);
        ref_kdf(master.mac, len, 0x12, div, ref);
        assert_memory_equal(d.mac, ref, len);
        ref_kdf(master.dek, len, 0x13, div, ref);
        assert_memory_equal(d.dek, ref, len);
    }
    mnap_keyset_wipe(&master);
    mnap_keyset_wipe(&d);
}

static void test_two_cards(void **state)
{
    fx a, b;
    mnap_keyset master, ka, kb;
    uint8_t div_a[10], div_b[10];
    (void)state;
    fx_new(&a, serial_a, 0);
    fx_new(&b, serial_b, 0);
    fx_keys(&master, 0x01, 0x77, 16);
    master.master = 1;

    /* set up both areas with the same master keys: each gets its own */
    assert_int_equal(mnap_am_open(a.ctx, &a.transport, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_card_div_data(a.ctx, div_a), MNAP_OK);
    assert_int_equal(mnap_area_setup(a.ctx, &master), MNAP_OK);
    assert_int_equal(mnap_am_open(b.ctx, &b.transport, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_card_div_data(b.ctx, div_b), MNAP_OK);
    assert_int_equal(mnap_area_setup(b.ctx, &master), MNAP_OK);
    assert_memory_equal(div_a, serial_a, 8);
    assert_memory_equal(div_a + 8, "\x00\x01", 2);
    assert_memory_equal(div_b, serial_b, 8);

    assert_int_equal(mnap_keyset_diversify(&master, div_a, &ka), MNAP_OK);
    assert_int_equal(mnap_keyset_diversify(&master, div_b, &kb), MNAP_OK);
    assert_memory_not_equal(ka.enc, kb.enc, 16);
    assert_memory_not_equal(ka.mac, kb.mac, 16);
    assert_memory_not_equal(ka.dek, kb.dek, 16);
    assert_memory_not_equal(ka.enc, master.enc, 16);

    /* each card takes its own keys only */
    assert_int_equal(mnap_am_open(a.ctx, &ka, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_am_open(a.ctx, &kb, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    assert_int_equal(mnap_am_open(b.ctx, &kb, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_am_open(b.ctx, &ka, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    /* the master keys themselves are not a card's keys... */
    master.master = 0;
    assert_int_equal(mnap_am_open(a.ctx, &master, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    /* ...but flagged as master they are diversified for whichever card */
    master.master = 1;
    assert_int_equal(mnap_am_open(a.ctx, &master, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_am_open(b.ctx, &master, MNAP_LEVEL_FULL), MNAP_OK);

    /* AP keys from master keys too: loaded per card, opened per card */
    {
        mnap_keyset apm, apa;
        uint8_t img[4096];
        size_t n = fx_std_image(img, sizeof(img), 1, -1);
        fx_keys(&apm, 0x21, 0x42, 16);
        apm.master = 1;
        assert_int_equal(mnap_area_load_ap(a.ctx, img, n, &apm, NULL), MNAP_OK);
        assert_int_equal(mnap_area_load_ap(b.ctx, img, n, &apm, NULL), MNAP_OK);
        assert_int_equal(fx_open_ap(&a, 1, &apm, MNAP_LEVEL_FULL), MNAP_OK);
        assert_int_equal(fx_open_ap(&b, 1, &apm, MNAP_LEVEL_FULL), MNAP_OK);
        assert_int_equal(mnap_keyset_diversify(&apm, div_a, &apa), MNAP_OK);
        assert_int_equal(fx_open_ap(&a, 1, &apa, MNAP_LEVEL_FULL), MNAP_OK);
        assert_int_equal(fx_open_ap(&b, 1, &apa, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
        mnap_keyset_wipe(&apm);
        mnap_keyset_wipe(&apa);
    }
    mnap_keyset_wipe(&master);
    mnap_keyset_wipe(&ka);
    mnap_keyset_wipe(&kb);
    fx_free(&a);
    fx_free(&b);
}

static void test_keyset_helpers(void **state)
{
    mnap_keyset k, r1, r2;
    uint8_t a[3], b[3], c[3];
    uint8_t key[16] = { 0 };
    (void)state;
    assert_int_equal(mnap_keyset_set(&k, 1, key, key, key, 20, 0), MNAP_E_PARAM);
    assert_int_equal(mnap_keyset_set(&k, 1, key, key, key, 16, 0), MNAP_OK);
    /* KCV of the all-zero AES-128 key: AES(0, 01..01) starts with 7A... */
    assert_int_equal(mnap_keyset_kcv(&k, a, b, c), MNAP_OK);
    assert_memory_equal(a, b, 3);
    {
        /* independent: OpenSSL AES-128-ECB of 16 x 01 */
        uint8_t in[16], out[32];
        int ol = 0;
        EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
        memset(in, 1, 16);
        assert_int_equal(EVP_EncryptInit_ex(e, EVP_aes_128_ecb(), NULL, key, NULL), 1);
        EVP_CIPHER_CTX_set_padding(e, 0);
        assert_int_equal(EVP_EncryptUpdate(e, out, &ol, in, 16), 1);
        EVP_CIPHER_CTX_free(e);
        assert_memory_equal(a, out, 3);
    }
    assert_int_equal(mnap_keyset_random(&r1, 5, 32), MNAP_OK);
    assert_int_equal(mnap_keyset_random(&r2, 5, 32), MNAP_OK);
    assert_memory_not_equal(r1.enc, r2.enc, 32);
    assert_memory_not_equal(r1.enc, r1.mac, 32);
    assert_int_equal(mnap_keyset_random(&r1, 5, 17), MNAP_E_PARAM);
    mnap_keyset_wipe(&r2);
    assert_int_equal(r2.key_len, 0);
    assert_int_equal(r2.enc[0] | r2.enc[31], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_derivation),
        cmocka_unit_test(test_two_cards),
        cmocka_unit_test(test_keyset_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
