/* sim_crypto.c: AES and random bytes of the simulator port, from OpenSSL.
 *
 * mc_port_aes / mc_sim_openssl_aes run one AES-ECB block through the EVP
 * interface (no key schedule kept between calls, like a card engine).
 * mc_port_random gives RAND_bytes, or, once mc_sim_set_deterministic_random
 * was called, AES-128(seed, counter) blocks so transcripts are reproducible. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cm_ct.h"
#include "mc_card.h"
#include "mc_sim.h"
#include "port.h"

int mc_sim_openssl_aes(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                       const uint8_t in[16], uint8_t out[16])
{
    const EVP_CIPHER *cipher;
    EVP_CIPHER_CTX *c;
    uint8_t tmp[16];
    int n1 = 0, n2 = 0, ok;

    (void)ctx;
    if (key == NULL || in == NULL || out == NULL)
        return -1;
    switch (key_len) {
    case 16: cipher = EVP_aes_128_ecb(); break;
    case 24: cipher = EVP_aes_192_ecb(); break;
    case 32: cipher = EVP_aes_256_ecb(); break;
    default: return -1;
    }
    c = EVP_CIPHER_CTX_new();
    if (c == NULL)
        return -1;
    ok = EVP_CipherInit_ex(c, cipher, NULL, key, NULL, decrypt ? 0 : 1) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
         EVP_CipherUpdate(c, tmp, &n1, in, 16) == 1 &&
         EVP_CipherFinal_ex(c, tmp + n1, &n2) == 1 && n1 + n2 == 16;
    EVP_CIPHER_CTX_free(c);
    if (ok)
        memcpy(out, tmp, 16);   /* via tmp: in and out may alias */
    cm_wipe(tmp, sizeof(tmp));
    return ok ? 0 : -1;
}

int mc_port_aes(void *card, int decrypt, const uint8_t *key, size_t key_len,
                const uint8_t in[16], uint8_t out[16])
{
    return mc_sim_openssl_aes(card, decrypt, key, key_len, in, out);
}

int mc_port_random(struct mc_card *card, uint8_t *buf, size_t len)
{
    mc_sim *sim = card != NULL ? (mc_sim *)card->port : NULL;

    if (buf == NULL && len > 0)
        return -1;
    if (len == 0)
        return 0;
    if (sim != NULL && sim->det_random)
        return mc_sim_det_bytes(sim, buf, len);
    if (len > (size_t)0x7FFFFFFF)
        return -1;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}
