/* cm_aes.h: the block-cipher interface that everything in common/ runs on.
 *
 * common/ never implements AES: the card gets it from its port (hardware on a
 * real card), the host from OpenSSL.  Both hand common/ a cm_aes: one function
 * that encrypts or decrypts a single 16-byte block under a 128/192/256-bit key,
 * plus an opaque context for that function.  The key is passed on every call so
 * that no key schedule has to live in RAM between calls (a card keeps keys in
 * NVM and loads them into its crypto engine per operation). */
#ifndef CM_AES_H
#define CM_AES_H

#include <stddef.h>
#include <stdint.h>

#define CM_AES_BLOCK 16

/* Encrypt (decrypt == 0) or decrypt (decrypt != 0) one block.  key_len is 16,
 * 24 or 32.  in and out may be the same buffer.  Returns 0 on success, non-zero
 * on failure (wrong key length, engine fault). */
typedef int (*cm_aes_fn)(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                         const uint8_t in[CM_AES_BLOCK], uint8_t out[CM_AES_BLOCK]);

typedef struct cm_aes {
    cm_aes_fn fn;
    void *ctx;
} cm_aes;

static inline int cm_aes_valid_key_len(size_t key_len)
{
    /* 16, 24 or 32: a multiple of 8 from 16 to 32 */
    return key_len - 16u <= 16u && (key_len & 7u) == 0;
}

#endif
