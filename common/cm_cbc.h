/* cm_cbc.h: AES-CBC over the cm_aes block interface, and ISO/IEC 9797-1
 * padding method 2 (append 0x80, then zeros to a block boundary). */
#ifndef CM_CBC_H
#define CM_CBC_H

#include "cm_aes.h"

/* len must be a multiple of 16; in and out may be the same buffer.  iv is
 * read, never written (NULL means a zero ICV). */
int cm_cbc_encrypt(const cm_aes *aes, const uint8_t *key, size_t key_len,
                   const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, uint8_t *out, size_t len);
int cm_cbc_decrypt(const cm_aes *aes, const uint8_t *key, size_t key_len,
                   const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, uint8_t *out, size_t len);

/* Length after method-2 padding of len bytes: always at least one byte more. */
size_t cm_pad_m2_len(size_t len);
/* Pads buf (len bytes used, cap available) in place; returns the new length
 * or 0 when cap is too small. */
size_t cm_pad_m2(uint8_t *buf, size_t len, size_t cap);
/* Finds the padding of a decrypted buffer (len a non-zero multiple of 16).
 * Sets *data_len and returns CM_OK, or CM_E_PADDING.  Scans the last block
 * without a data-dependent early exit. */
int cm_unpad_m2(const uint8_t *buf, size_t len, size_t *data_len);

/* CBC with method-2 padding: out must hold cm_pad_m2_len(len) bytes; in and
 * out are the same buffer or do not overlap at all. */
int cm_cbc_encrypt_pad(const cm_aes *aes, const uint8_t *key, size_t key_len,
                       const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len);
/* Decrypts in place and strips method-2 padding. */
int cm_cbc_decrypt_unpad(const cm_aes *aes, const uint8_t *key, size_t key_len,
                         const uint8_t iv[CM_AES_BLOCK], uint8_t *buf, size_t len,
                         size_t *data_len);

#endif
