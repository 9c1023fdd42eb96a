/* cm_cmac.c: AES-CMAC (NIST SP 800-38B / RFC 4493) over the cm_aes interface.
 *
 * The last block (complete or not) must be treated specially, so update()
 * always keeps between 1 and 16 bytes back in buf and only processes a block
 * once more data follows it. */
#include <string.h>
#include "cm_cmac.h"
#include "cm_cbc.h"
#include "cm_ct.h"
#include "cm_err.h"

/* Doubling in GF(2^128) with the CMAC polynomial (Rb = 0x87), in place
 * (each byte reads its successor before the successor changes). */
static void gf_double(uint8_t b[16])
{
    uint8_t carry = (uint8_t)(b[0] >> 7);
    int i;

    for (i = 0; i < 15; i++)
        b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
    /* Constant time: mask instead of a branch on the top bit. */
    b[15] = (uint8_t)((b[15] << 1) ^ (0x87 & (uint8_t)(0u - carry)));
}

static void xor_block(uint8_t *dst, const uint8_t *src)
{
    int i;
    for (i = 0; i < 16; i++)
        dst[i] ^= src[i];
}

static int encrypt_block(cm_cmac_ctx *ctx, uint8_t block[16])
{
    if (ctx->aes.fn(ctx->aes.ctx, 0, ctx->key, ctx->key_len, block, block) != 0) {
        ctx->error = 1;
        return CM_E_CIPHER;
    }
    return CM_OK;
}

int cm_cmac_init(cm_cmac_ctx *ctx, const cm_aes *aes, const uint8_t *key, size_t key_len)
{
    if (CM_NULL(ctx) || CM_NULL(aes) || aes->fn == NULL || CM_NULL(key) ||
        !cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    memset(ctx, 0, sizeof(*ctx));
    ctx->aes = *aes;
    ctx->key = key;
    ctx->key_len = key_len;
    return CM_OK;
}

int cm_cmac_update(cm_cmac_ctx *ctx, const uint8_t *data, size_t len)
{
    if (CM_NULL(ctx) || (CM_NULL(data) && len > 0))
        return CM_E_PARAM;
    while (len > 0) {
        size_t take;
        if (ctx->buf_len == 16) {
            /* More data follows, so the buffered block is not the last one. */
            xor_block(ctx->x, ctx->buf);
            if (encrypt_block(ctx, ctx->x) != CM_OK)
                return CM_E_CIPHER;
            ctx->buf_len = 0;
        }
        take = 16 - ctx->buf_len;
        if (take > len)
            take = len;
        memcpy(ctx->buf + ctx->buf_len, data, take);
        ctx->buf_len += take;
        data += take;
        len -= take;
    }
    return ctx->error ? CM_E_CIPHER : CM_OK;
}

int cm_cmac_final(cm_cmac_ctx *ctx, uint8_t tag[CM_AES_BLOCK])
{
    uint8_t k[16];
    int rc = CM_OK;

    if (CM_NULL(ctx) || CM_NULL(tag))
        return CM_E_PARAM;
    memset(k, 0, sizeof(k));
    if (ctx->error || encrypt_block(ctx, k) != CM_OK) {   /* L = E(0) */
        rc = CM_E_CIPHER;
        goto out;
    }
    gf_double(k);                    /* K1 */
    if (ctx->buf_len < 16) {
        gf_double(k);                /* K2, for an incomplete (or empty) last block */
        cm_pad_m2(ctx->buf, ctx->buf_len, 16);
    }
    xor_block(ctx->buf, k);
    xor_block(ctx->x, ctx->buf);
    if (encrypt_block(ctx, ctx->x) != CM_OK) {
        rc = CM_E_CIPHER;
        goto out;
    }
    memcpy(tag, ctx->x, 16);
out:
    cm_wipe(k, sizeof(k));
    cm_wipe(ctx, sizeof(*ctx));
    return rc;
}

int cm_cmac(const cm_aes *aes, const uint8_t *key, size_t key_len,
            const uint8_t *msg, size_t len, uint8_t tag[CM_AES_BLOCK])
{
    cm_cmac_ctx ctx;
    int rc = cm_cmac_init(&ctx, aes, key, key_len);

    if (rc != CM_OK)
        return rc;
    rc = cm_cmac_update(&ctx, msg, len);
    if (rc != CM_OK) {
        cm_wipe(&ctx, sizeof(ctx));
        return rc;
    }
    return cm_cmac_final(&ctx, tag);
}
