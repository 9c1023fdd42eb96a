/* cm_kdf.h: NIST SP 800-108 key derivation in counter mode with AES-CMAC as
 * PRF, with the counter placed between two fixed-data parts (this covers the
 * NIST "before fixed" layout with an empty first part, and the GlobalPlatform
 * SCP03 layout of Amendment D §4.1.5). */
#ifndef CM_KDF_H
#define CM_KDF_H

#include "cm_aes.h"

/* K(i) = CMAC(key, before || [i]_8 || after), i = 1.., out = first out_len
 * bytes of K(1) || K(2) || ...  out_len at most 255 * 16. */
int cm_kdf_ctr_cmac(const cm_aes *aes, const uint8_t *key, size_t key_len,
                    const uint8_t *before, size_t before_len,
                    const uint8_t *after, size_t after_len,
                    uint8_t *out, size_t out_len);

/* The SCP03 data derivation: label = 11 zero bytes || constant, separator 00,
 * L = out_bits as 16-bit big endian, counter, context.  out_bits is 64, 128,
 * 192 or 256. */
int cm_scp03_kdf(const cm_aes *aes, const uint8_t *key, size_t key_len, uint8_t constant,
                 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_bits);

#endif
