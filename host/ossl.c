/* ossl.c: the OpenSSL pieces common/ needs on the host: one AES block as a
 * cm_aes_fn (EVP, ECB, no padding) and random bytes.  No state is kept
 * between calls, so this is safe from any thread. */
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mnap_int.h"
#include "cm_err.h"

int mnap_aes_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                   const uint8_t in[16], uint8_t out[16])
{
    const EVP_CIPHER *c;
    EVP_CIPHER_CTX *e;
    int n = 0, ok;

    (void)ctx;
    switch (key_len) {
    case 16: c = EVP_aes_128_ecb(); break;
    case 24: c = EVP_aes_192_ecb(); break;
    case 32: c = EVP_aes_256_ecb(); break;
    default: return CM_E_PARAM;
    }
    e = EVP_CIPHER_CTX_new();
    if (e == NULL)
        return CM_E_CIPHER;
    ok = EVP_CipherInit_ex(e, c, NULL, key, NULL, decrypt ? 0 : 1) == 1 &&
         EVP_CIPHER_CTX_set_padding(e, 0) == 1 &&
         EVP_CipherUpdate(e, out, &n, in, 16) == 1 && n == 16;
    /* EVP_CIPHER_CTX_free clears the key schedule. */
    EVP_CIPHER_CTX_free(e);
    return ok ? CM_OK : CM_E_CIPHER;
}

void mnap__aes_init(cm_aes *aes)
{
    aes->fn = mnap_aes_block;
    aes->ctx = NULL;
}

mnap_err mnap__random(uint8_t *out, size_t len)
{
    if (len > (size_t)0x7FFFFFFF)
        return MNAP_E_PARAM;
    return RAND_bytes(out, (int)len) == 1 ? MNAP_OK : MNAP_E_CRYPTO;
}
