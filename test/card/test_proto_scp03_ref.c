/* test_proto_scp03_ref.c: the card's SCP03 on the wire, checked with an
 * independent host written here on OpenSSL alone (EVP CMAC and AES), not on
 * common/: the card and the harness host share common/'s SCP03 code, so a
 * mistake there would cancel out in every other test.  Amendment D §4.1.5
 * derivation (label 11 x 00 || constant, 00, L, i, context), card challenge
 * (PROTOCOL.md §3), session keys, card and host cryptograms, the C-MAC of
 * EXTERNAL AUTHENTICATE and of a command, R-MAC and R-ENC of the response. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "card_test.h"

static void cmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                 uint8_t out[16])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    char cipher[16] = "AES-128-CBC";
    OSSL_PARAM params[2];
    size_t olen = 0;

    assert_non_null(ctx);
    if (klen == 24)
        memcpy(cipher, "AES-192-CBC", 12);
    else if (klen == 32)
        memcpy(cipher, "AES-256-CBC", 12);
    params[0] = OSSL_PARAM_construct_utf8_string("cipher", cipher, 0);
    params[1] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_MAC_init(ctx, key, klen, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, msg, mlen), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &olen, 16), 1);
    assert_int_equal(olen, 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

/* SCP03 data derivation (Amendment D §4.1.5). */
static void kdf(const uint8_t *key, size_t klen, uint8_t constant, const uint8_t *ctx,
                size_t ctx_len, uint8_t *out, size_t bits)
{
    uint8_t msg[16 + 64], blk[16];
    size_t done = 0;

    assert_true(ctx_len <= 64);
    for (uint8_t i = 1; done < bits / 8; i++) {
        memset(msg, 0, 11);
        msg[11] = constant;
        msg[12] = 0x00;
        msg[13] = (uint8_t)(bits >> 8);
        msg[14] = (uint8_t)bits;
        msg[15] = i;
        memcpy(msg + 16, ctx, ctx_len);
        cmac(key, klen, msg, 16 + ctx_len, blk);
        memcpy(out + done, blk, bits / 8 - done < 16 ? bits / 8 - done : 16);
        done += 16;
    }
}

static void aes_ecb(const uint8_t *key, const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    assert_non_null(x);
    assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_128_ecb(), NULL, key, NULL), 1);
    EVP_CIPHER_CTX_set_padding(x, 0);
    assert_int_equal(EVP_EncryptUpdate(x, out, &l1, in, 16), 1);
    assert_int_equal(EVP_EncryptFinal_ex(x, out + l1, &l2), 1);
    EVP_CIPHER_CTX_free(x);
}

static void aes_cbc_decrypt(const uint8_t *key, const uint8_t iv[16], uint8_t *buf, size_t len)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    uint8_t out[CH_RSP_MAX];
    int l1 = 0, l2 = 0;
    assert_non_null(x);
    assert_int_equal(EVP_DecryptInit_ex(x, EVP_aes_128_cbc(), NULL, key, iv), 1);
    EVP_CIPHER_CTX_set_padding(x, 0);
    assert_int_equal(EVP_DecryptUpdate(x, out, &l1, buf, (int)len), 1);
    assert_int_equal(EVP_DecryptFinal_ex(x, out + l1, &l2), 1);
    memcpy(buf, out, len);
    EVP_CIPHER_CTX_free(x);
}

static void test_scp03_on_the_wire(void **state)
{
    ch_card *c = *state;
    static const uint8_t k[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                  0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
    static const uint8_t hc[8] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    uint8_t apdu[64], ctx[32], cc[8], exp[8], s_enc[16], s_mac[16], s_rmac[16];
    uint8_t chain[16], mac_in[64], full[16], icv_in[16], icv[16];
    ch_rsp r;
    size_t plain;

    /* INITIALIZE UPDATE */
    ASSERT_SW(ch_select_am(c), 0x9000);
    memcpy(apdu, "\x80\x50\x00\x00\x08", 5);
    memcpy(apdu + 5, hc, 8);
    apdu[13] = 0x00;
    ASSERT_SW(ch_raw(c, apdu, 14, &r), 0x9000);
    assert_int_equal(r.len, 32);
    ASSERT_BYTES(r.data, 13, "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\xFF\x03\x70", 13);
    memcpy(cc, r.data + 13, 8);
    /* card challenge = KDF(K-ENC, 02, seq || AID, 64) */
    memcpy(ctx, r.data + 29, 3);
    memcpy(ctx + 3, ch_am_aid, sizeof(ch_am_aid));
    kdf(k, 16, 0x02, ctx, 3 + sizeof(ch_am_aid), exp, 64);
    ASSERT_BYTES(cc, 8, exp, 8);
    /* session keys and the card cryptogram */
    memcpy(ctx, hc, 8);
    memcpy(ctx + 8, cc, 8);
    kdf(k, 16, 0x04, ctx, 16, s_enc, 128);
    kdf(k, 16, 0x06, ctx, 16, s_mac, 128);
    kdf(k, 16, 0x07, ctx, 16, s_rmac, 128);
    kdf(s_mac, 16, 0x00, ctx, 16, exp, 64);
    ASSERT_BYTES(r.data + 21, 8, exp, 8);

    /* EXTERNAL AUTHENTICATE at 33: host cryptogram, C-MAC over a zero chain */
    memset(chain, 0, 16);
    memcpy(mac_in, chain, 16);
    memcpy(mac_in + 16, "\x84\x82\x33\x00\x10", 5);
    kdf(s_mac, 16, 0x01, ctx, 16, mac_in + 21, 64);
    cmac(s_mac, 16, mac_in, 29, full);
    memcpy(chain, full, 16);
    memcpy(apdu, mac_in + 16, 13);
    memcpy(apdu + 13, full, 8);
    ASSERT_SW(ch_raw(c, apdu, 21, &r), 0x9000);
    assert_int_equal(r.len, 0);

    /* GET DATA DF20 wrapped: no data (nothing to encrypt, the counter still
     * counts 1), C-MAC over chain || 84 CA DF 20 08 */
    memcpy(mac_in, chain, 16);
    memcpy(mac_in + 16, "\x84\xCA\xDF\x20\x08", 5);
    cmac(s_mac, 16, mac_in, 21, full);
    memcpy(chain, full, 16);
    memcpy(apdu, "\x84\xCA\xDF\x20\x08", 5);
    memcpy(apdu + 5, full, 8);
    apdu[13] = 0x00;
    ASSERT_SW(ch_raw(c, apdu, 14, &r), 0x9000);
    assert_true(r.len > 8 && (r.len - 8) % 16 == 0);
    /* R-MAC = CMAC(S-RMAC, chain || data || SW) */
    {
        uint8_t rm_in[16 + CH_RSP_MAX + 2];
        memcpy(rm_in, chain, 16);
        memcpy(rm_in + 16, r.data, r.len - 8);
        rm_in[16 + r.len - 8] = 0x90;
        rm_in[16 + r.len - 7] = 0x00;
        cmac(s_rmac, 16, rm_in, 16 + r.len - 8 + 2, full);
        ASSERT_BYTES(r.data + r.len - 8, 8, full, 8);
    }
    /* R-ENC: ICV = AES(S-ENC, 80 || 0.. || counter 1), CBC, 80 00.. padding */
    memset(icv_in, 0, 16);
    icv_in[0] = 0x80;
    icv_in[15] = 0x01;
    aes_ecb(s_enc, icv_in, icv);
    aes_cbc_decrypt(s_enc, icv, r.data, r.len - 8);
    plain = r.len - 8;
    while (plain > 0 && r.data[plain - 1] == 0x00)
        plain--;
    assert_true(plain > 0);
    assert_int_equal(r.data[plain - 1], 0x80);
    plain--;
    assert_int_equal(r.data[0], 0xDF);
    assert_int_equal(r.data[1], 0x20);
    assert_int_equal(plain, 3u + r.data[2]);
    ASSERT_TLV(r.data + 3, plain - 3, 0x85, ch_serial, 8);
    ASSERT_TLV(r.data + 3, plain - 3, 0x80, "\x01", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scp03_on_the_wire, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_scp03_ref", tests, NULL, NULL);
}
