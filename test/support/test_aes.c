/* test_aes.c: the AES block function for common/ tests (the simulator port's
 * OpenSSL one: common/ has no AES of its own), and a hex helper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_sim.h"
#include "mt_json.h"
#include "test_aes.h"

int test_aes_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                   const uint8_t in[16], uint8_t out[16])
{
    return mc_sim_openssl_aes(ctx, decrypt, key, key_len, in, out);
}

cm_aes test_aes(void)
{
    cm_aes a = { mc_sim_openssl_aes, NULL };
    return a;
}

size_t test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (mt_hex_decode(hex, strlen(hex), out, cap, &n) != 0) {
        fprintf(stderr, "test_unhex: bad hex '%s'\n", hex);
        abort();
    }
    return n;
}
