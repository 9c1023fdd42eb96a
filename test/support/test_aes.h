/* test_aes.h: the AES block function for tests of common/ (which has
 * no AES of its own), and small test helpers for hex. */
#ifndef TEST_AES_H
#define TEST_AES_H

#include <stddef.h>
#include <stdint.h>
#include "cm_aes.h"

int test_aes_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                   const uint8_t in[16], uint8_t out[16]);
/* A cm_aes over test_aes_block. */
cm_aes test_aes(void);
/* Decodes hex (NUL-terminated) into out; aborts the test program on bad hex. */
size_t test_unhex(const char *hex, uint8_t *out, size_t cap);

#endif
