/* test_aes.c: OpenSSL AES-ECB single blocks for common/ tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "test_aes.h"
#include "mnap_json.h"

int test_aes_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                   const uint8_t in[16], uint8_t out[16])
{
    const EVP_CIPHER *c;
    EVP_CIPHER_CTX *x;
    int n = 0, ok;

    (void)ctx;
    switch (key_len) {
    case 16: c = EVP_aes_128_ecb(); break;
    case 24: c = EVP_aes_192_ecb(); break;
    case 32: c = EVP_aes_256_ecb(); break;
    default: return -1;
    }
    x = EVP_CIPHER_CTX_new();
    if (x == NULL)
        return -1;
    ok = EVP_CipherInit_ex(x, c, NULL, key, NULL, decrypt ? 0 : 1) == 1 &&
         EVP_CIPHER_CTX_set_padding(x, 0) == 1 &&
         EVP_CipherUpdate(x, out, &n, in, 16) == 1 && n == 16;
    EVP_CIPHER_CTX_free(x);
    return ok ? 0 : -1;
}

cm_aes test_aes(void)
{
    cm_aes a = { test_aes_block, NULL };
    return a;
}

size_t test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (mnap_hex_decode(hex, strlen(hex), out, cap, &n) != 0) {
        fprintf(stderr, "test_unhex: bad hex '%s'\n", hex);
        abort();
    }
    return n;
}
