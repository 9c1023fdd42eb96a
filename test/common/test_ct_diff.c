/* test_ct_diff.c: the constant-time helpers, and differential tests of the
 * CMAC and CBC code against OpenSSL's own (EVP_MAC "CMAC", EVP AES-CBC) on
 * 10,000 random keys, lengths and messages each; plus a random round trip of
 * SCP03 wrapping (host wrap -> card unwrap, card wrap -> host unwrap) at
 * every accepted level. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "cm_cbc.h"
#include "cm_cmac.h"
#include "cm_ct.h"
#include "cm_err.h"
#include "cm_scp03.h"
#include "test_aes.h"

#define ROUNDS 10000

static const char *cbc_name(size_t kl)
{
    return kl == 16 ? "AES-128-CBC" : kl == 24 ? "AES-192-CBC" : "AES-256-CBC";
}

static size_t rnd(size_t mod)
{
    uint32_t r;
    assert_int_equal(RAND_bytes((unsigned char *)&r, sizeof r), 1);
    return r % mod;
}

static void test_ct_equal(void **state)
{
    uint8_t a[33], b[33];
    size_t i;
    (void)state;
    memset(a, 0x5A, sizeof a);
    memcpy(b, a, sizeof b);
    assert_int_equal(cm_ct_equal(a, b, sizeof a), 1);
    assert_int_equal(cm_ct_equal(a, b, 0), 1);
    for (i = 0; i < sizeof a; i++) {
        b[i] ^= 0x80;
        assert_int_equal(cm_ct_equal(a, b, sizeof a), 0);
        b[i] ^= 0x81;
        assert_int_equal(cm_ct_equal(a, b, sizeof a), 0);
        b[i] ^= 0x01;
    }
    assert_int_equal(cm_ct_eq_byte_mask(7, 7), 0xFF);
    assert_int_equal(cm_ct_eq_byte_mask(0, 0x80), 0x00);
    assert_int_equal(cm_ct_eq_byte_mask(0xFF, 0xFE), 0x00);
}

static void test_wipe(void **state)
{
    uint8_t s[40], zero[40] = { 0 };
    (void)state;
    memset(s, 0xA5, sizeof s);
    cm_wipe(s, sizeof s);
    assert_memory_equal(s, zero, sizeof s);
}

static void test_padding(void **state)
{
    uint8_t b[32];
    size_t n;
    (void)state;
    assert_int_equal(cm_pad_m2_len(0), 16);
    assert_int_equal(cm_pad_m2_len(15), 16);
    assert_int_equal(cm_pad_m2_len(16), 32);
    memset(b, 0x11, sizeof b);
    assert_int_equal(cm_pad_m2(b, 15, 16), 16);
    assert_int_equal(b[15], 0x80);
    assert_int_equal(cm_unpad_m2(b, 16, &n), CM_OK);
    assert_int_equal(n, 15);
    assert_int_equal(cm_pad_m2(b, 16, 16), 0);               /* no room for a full pad block */
    memset(b, 0, 16);
    assert_int_equal(cm_unpad_m2(b, 16, &n), CM_E_PADDING);  /* no 80 at all */
    b[3] = 0x80; b[9] = 0x01;
    assert_int_equal(cm_unpad_m2(b, 16, &n), CM_E_PADDING);  /* junk after the 80 */
    b[9] = 0;
    assert_int_equal(cm_unpad_m2(b, 16, &n), CM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(cm_unpad_m2(b, 15, &n), CM_E_PADDING);  /* not a block multiple */
}

static void test_cmac_vs_openssl(void **state)
{
    cm_aes aes = test_aes();
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    int i;
    (void)state;
    assert_non_null(mac);
    for (i = 0; i < ROUNDS; i++) {
        static const size_t kls[] = { 16, 24, 32 };
        uint8_t key[32], msg[300], ours[16], theirs[16];
        size_t kl = kls[rnd(3)], ml = rnd(sizeof msg + 1), outl = 0;
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
        OSSL_PARAM params[2];

        assert_non_null(c);
        assert_int_equal(RAND_bytes(key, (int)kl), 1);
        if (ml)
            assert_int_equal(RAND_bytes(msg, (int)ml), 1);
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)cbc_name(kl), 0);
        params[1] = OSSL_PARAM_construct_end();
        assert_int_equal(EVP_MAC_init(c, key, kl, params), 1);
        assert_int_equal(EVP_MAC_update(c, msg, ml), 1);
        assert_int_equal(EVP_MAC_final(c, theirs, &outl, sizeof theirs), 1);
        EVP_MAC_CTX_free(c);
        assert_int_equal(outl, 16);
        assert_int_equal(cm_cmac(&aes, key, kl, msg, ml, ours), CM_OK);
        assert_memory_equal(ours, theirs, 16);
    }
    EVP_MAC_free(mac);
}

static void test_cbc_vs_openssl(void **state)
{
    cm_aes aes = test_aes();
    int i;
    (void)state;
    for (i = 0; i < ROUNDS; i++) {
        static const size_t kls[] = { 16, 24, 32 };
        uint8_t key[32], iv[16], msg[320], ours[336], theirs[336], back[336];
        size_t kl = kls[rnd(3)], ml = rnd(sizeof msg + 1), padded, outl;
        int pad = (int)rnd(2), n1 = 0, n2 = 0;
        EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, cbc_name(kl), NULL);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

        assert_non_null(ciph);
        assert_non_null(c);
        assert_int_equal(RAND_bytes(key, (int)kl), 1);
        assert_int_equal(RAND_bytes(iv, 16), 1);
        if (!pad)
            ml -= ml % 16;
        if (ml)
            assert_int_equal(RAND_bytes(msg, (int)ml), 1);
        /* OpenSSL has no ISO 9797-1 M2 padding: pad by hand for it. */
        memcpy(theirs, msg, ml);
        padded = pad ? cm_pad_m2(theirs, ml, sizeof theirs) : ml;
        assert_int_equal(EVP_EncryptInit_ex2(c, ciph, key, iv, NULL), 1);
        assert_int_equal(EVP_CIPHER_CTX_set_padding(c, 0), 1);
        assert_int_equal(EVP_EncryptUpdate(c, theirs, &n1, theirs, (int)padded), 1);
        assert_int_equal(EVP_EncryptFinal_ex(c, theirs + n1, &n2), 1);
        assert_int_equal((size_t)(n1 + n2), padded);
        EVP_CIPHER_CTX_free(c);
        EVP_CIPHER_free(ciph);
        if (pad) {
            assert_int_equal(cm_cbc_encrypt_pad(&aes, key, kl, iv, msg, ml, ours, sizeof ours, &outl), CM_OK);
            assert_int_equal(outl, padded);
        } else {
            assert_int_equal(cm_cbc_encrypt(&aes, key, kl, iv, msg, ours, ml), CM_OK);
        }
        assert_memory_equal(ours, theirs, padded);
        memcpy(back, ours, padded);
        if (pad) {
            assert_int_equal(cm_cbc_decrypt_unpad(&aes, key, kl, iv, back, padded, &outl), CM_OK);
            assert_int_equal(outl, ml);
        } else {
            assert_int_equal(cm_cbc_decrypt(&aes, key, kl, iv, back, back, padded), CM_OK);
        }
        assert_memory_equal(back, msg, ml);
    }
}

static void test_scp03_round_trip(void **state)
{
    static const uint8_t levels[] = { 0x01, 0x03, 0x11, 0x13, 0x33 };
    cm_aes aes = test_aes();
    int i;
    (void)state;
    for (i = 0; i < 2000; i++) {
        static const size_t kls[] = { 16, 24, 32 };
        uint8_t kenc[32], kmac[32], hc[8], cc[8], hcrypt[8], ea[16], hdr[4] = { 0x84, 0x82, 0, 0 };
        uint8_t apdu[7 + 600 + 2], wr[700], rsp[700], orig[600];
        size_t kl = kls[rnd(3)], lc = rnd(4) ? rnd(300) : rnd(600), wl, pl, al = 0, rl;
        uint8_t level = levels[rnd(sizeof levels)];
        const uint8_t *data;
        size_t dl;
        int ext;
        cm_scp03 host, card;
        uint16_t sw = rnd(2) ? 0x9000 : 0x6A82;

        assert_int_equal(RAND_bytes(kenc, (int)kl), 1);
        assert_int_equal(RAND_bytes(kmac, (int)kl), 1);
        assert_int_equal(RAND_bytes(hc, 8), 1);
        assert_int_equal(RAND_bytes(cc, 8), 1);
        assert_int_equal(cm_scp03_init(&host, &aes, kenc, kmac, kl, hc, cc), CM_OK);
        assert_int_equal(cm_scp03_init(&card, &aes, kenc, kmac, kl, hc, cc), CM_OK);
        assert_int_equal(cm_scp03_cryptogram(&host, CM_DC_HOST_CRYPTOGRAM, hc, cc, hcrypt), CM_OK);
        assert_int_equal(cm_scp03_external_auth(&host, level, hcrypt, ea), CM_OK);
        hdr[2] = level;
        assert_int_equal(cm_scp03_verify_external_auth(&card, hdr, ea, 0), CM_OK);

        /* a plain APDU of a random case and length form */
        apdu[al++] = 0x80; apdu[al++] = 0xCA; apdu[al++] = 0x00; apdu[al++] = 0x66;
        if (lc > 0) {
            if (lc > 255) {
                apdu[al++] = 0; apdu[al++] = (uint8_t)(lc >> 8); apdu[al++] = (uint8_t)lc;
            } else {
                apdu[al++] = (uint8_t)lc;
            }
            assert_int_equal(RAND_bytes(apdu + al, (int)lc), 1);
            memcpy(orig, apdu + al, lc);
            al += lc;
        }
        if (rnd(2)) {                 /* Le; two bytes when the APDU is extended */
            apdu[al++] = 0x00;
            if (lc > 255)
                apdu[al++] = 0x00;
        }
        assert_int_equal(cm_scp03_wrap_command(&host, apdu, al, wr, sizeof wr, &wl), CM_OK);
        ext = wr[4] == 0 && wl >= 7;
        if (ext) {
            dl = ((size_t)wr[5] << 8) | wr[6];
            data = wr + 7;
        } else {
            dl = wr[4];
            data = wr + 5;
        }
        memcpy(rsp, data, dl);
        /* a flipped bit is refused without touching the card state */
        if (i % 7 == 0) {
            cm_scp03 before = card;
            rsp[rnd(dl)] ^= 0x04;
            assert_int_equal(cm_scp03_unwrap_command(&card, wr, rsp, dl, ext, &pl), CM_E_MAC);
            assert_memory_equal(&before, &card, sizeof card);
            memcpy(rsp, data, dl);
        }
        assert_int_equal(cm_scp03_unwrap_command(&card, wr, rsp, dl, ext, &pl), CM_OK);
        assert_int_equal(pl, lc);
        assert_memory_equal(rsp, orig, lc);

        /* response of random length back */
        rl = rnd(600);
        assert_int_equal(RAND_bytes(rsp, 8), 1);
        memset(rsp + 8, 0x3C, 600 - 8);
        memcpy(orig, rsp, rl);
        assert_int_equal(cm_scp03_wrap_response(&card, rsp, rl, sizeof rsp, sw, &wl), CM_OK);
        assert_int_equal(cm_scp03_unwrap_response(&host, rsp, wl, sw, &pl), CM_OK);
        assert_int_equal(pl, rl);
        assert_memory_equal(rsp, orig, rl);
        cm_scp03_close(&host);
        cm_scp03_close(&card);
    }
}

static void test_key_wrap_and_kcv(void **state)
{
    cm_aes aes = test_aes();
    uint8_t dek[16], key[32], out[32], back[32], kcv[3], blk[16];
    size_t n, kl;
    (void)state;
    memset(dek, 0x40, sizeof dek);
    for (kl = 16; kl <= 32; kl += 8) {
        memset(key, (int)kl, sizeof key);
        assert_int_equal(cm_scp03_wrap_key(&aes, dek, 16, key, kl, out, &n), CM_OK);
        assert_int_equal(n, kl == 24 ? 32 : kl);
        assert_int_equal(cm_scp03_unwrap_key(&aes, dek, 16, out, n, kl, back), CM_OK);
        assert_memory_equal(back, key, kl);
        /* a wrapped length that does not match the key length is refused */
        assert_int_equal(cm_scp03_unwrap_key(&aes, dek, 16, out, n == 16 ? 32 : 16, kl, back), CM_E_FORMAT);
        /* KCV = first 3 bytes of AES(key, 16 x 01) */
        memset(blk, 0x01, 16);
        assert_int_equal(test_aes_block(NULL, 0, key, kl, blk, blk), 0);
        assert_int_equal(cm_kcv(&aes, key, kl, kcv), CM_OK);
        assert_memory_equal(kcv, blk, 3);
        assert_int_equal(cm_kcv_check(&aes, key, kl, blk), CM_OK);
        blk[2] ^= 0x20;
        assert_int_equal(cm_kcv_check(&aes, key, kl, blk), CM_E_KCV);
    }
    /* AES-192: bad padding after decryption is refused */
    memset(key, 0x18, 32);
    assert_int_equal(cm_scp03_wrap_key(&aes, dek, 16, key, 24, out, &n), CM_OK);
    out[31] ^= 1;
    assert_int_equal(cm_scp03_unwrap_key(&aes, dek, 16, out, 32, 24, back), CM_E_FORMAT);
}

static void test_keyset_data(void **state)
{
    cm_aes aes = test_aes();
    uint8_t dek[32], data[CM_KEYSET_DATA_MAX + 1], kcvs[9], want_kcv[3];   /* +1: a trailing byte */
    size_t n, kl;
    cm_keyset ks, back;
    (void)state;
    memset(dek, 0x40, sizeof dek);
    for (kl = 16; kl <= 32; kl += 8) {
        memset(&ks, 0, sizeof ks);
        memset(ks.enc, 0x11, kl);
        memset(ks.mac, 0x22, kl);
        memset(ks.dek, 0x33, kl);
        ks.key_len = (uint8_t)kl;
        ks.kvn = 0x21;
        assert_int_equal(cm_scp03_keyset_data(&aes, dek, 16, &ks, data, sizeof data, &n), CM_OK);
        /* KVN, then three blocks of 88 Ll Lk E(key) 03 KCV */
        assert_int_equal(n, 1 + 3 * (3 + (kl == 24 ? 32 : kl) + 4));
        assert_int_equal(data[0], 0x21);
        assert_int_equal(data[1], 0x88);
        assert_int_equal(data[2], 1 + (kl == 24 ? 32 : kl));
        assert_int_equal(data[3], kl);
        assert_int_equal(cm_kcv(&aes, ks.mac, kl, want_kcv), CM_OK);
        assert_memory_equal(data + 1 + 2 * (3 + data[2] - 1 + 4) - 3, want_kcv, 3);
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n, &back, kcvs), CM_OK);
        assert_int_equal(back.kvn, 0x21);
        assert_int_equal(back.key_len, kl);
        assert_memory_equal(back.enc, ks.enc, kl);
        assert_memory_equal(back.mac, ks.mac, kl);
        assert_memory_equal(back.dek, ks.dek, kl);
        assert_memory_equal(kcvs + 3, want_kcv, 3);
        /* a wrong KCV, a wrong DEK, a trailing byte, a short block: refused, wiped */
        data[n - 1] ^= 1;
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n, &back, NULL), CM_E_KCV);
        assert_int_equal(back.key_len, 0);
        data[n - 1] ^= 1;
        dek[0] ^= 1;
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n, &back, NULL),
                         kl == 24 ? CM_E_FORMAT : CM_E_KCV);   /* AES-192 fails its padding first */
        dek[0] ^= 1;
        data[n] = 0;
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n + 1, &back, NULL), CM_E_FORMAT);
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n - 1, &back, NULL), CM_E_FORMAT);
        data[0] = 0x80;
        assert_int_equal(cm_scp03_keyset_parse(&aes, dek, 16, data, n, &back, NULL), CM_E_FORMAT);
    }
    assert_int_equal(cm_scp03_keyset_data(&aes, dek, 16, &ks, data, 10, &n), CM_E_SPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_cmac_vs_openssl),
        cmocka_unit_test(test_cbc_vs_openssl),
        cmocka_unit_test(test_scp03_round_trip),
        cmocka_unit_test(test_key_wrap_and_kcv),
        cmocka_unit_test(test_keyset_data),
    };
    return cmocka_run_group_tests_name("common: ct, padding, differential vs OpenSSL", tests, NULL, NULL);
}
