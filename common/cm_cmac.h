/* cm_cmac.h: AES-CMAC (NIST SP 800-38B, RFC 4493), one-shot and streaming.
 *
 * The streaming form lets a card MAC data it reads back from NVM piece by
 * piece (a chained LOAD AP block does not fit in RAM).  The context keeps a
 * pointer to the key, not a copy: the key must stay valid until final. */
#ifndef CM_CMAC_H
#define CM_CMAC_H

#include "cm_aes.h"

typedef struct cm_cmac_ctx {
    cm_aes aes;
    const uint8_t *key;
    size_t key_len;
    uint8_t x[CM_AES_BLOCK];    /* running CBC-MAC state */
    uint8_t buf[CM_AES_BLOCK];  /* pending bytes, always kept back until final */
    size_t buf_len;
    int error;                  /* sticky: a cipher fault anywhere fails final */
} cm_cmac_ctx;

int cm_cmac_init(cm_cmac_ctx *ctx, const cm_aes *aes, const uint8_t *key, size_t key_len);
int cm_cmac_update(cm_cmac_ctx *ctx, const uint8_t *data, size_t len);
/* Writes the full 16-byte tag and wipes the context. */
int cm_cmac_final(cm_cmac_ctx *ctx, uint8_t tag[CM_AES_BLOCK]);

int cm_cmac(const cm_aes *aes, const uint8_t *key, size_t key_len,
            const uint8_t *msg, size_t len, uint8_t tag[CM_AES_BLOCK]);

#endif
