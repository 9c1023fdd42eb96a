/* cm_kdf.c: SP 800-108 counter-mode KDF with AES-CMAC, and its SCP03 form. */
#include <string.h>
#include "cm_kdf.h"
#include "cm_cmac.h"
#include "cm_ct.h"
#include "cm_err.h"

/* The body of cm_kdf_ctr_cmac, inlined into cm_scp03_kdf (the card's one
 * caller). */
CM_ALWAYS_INLINE int kdf(const cm_aes *aes, const uint8_t *key, size_t key_len,
                         const uint8_t *before, size_t before_len, const uint8_t *after,
                         size_t after_len, uint8_t *out, size_t out_len)
{
    uint8_t block[16];
    size_t done = 0;
    unsigned i;
    int rc = CM_OK;

    if (CM_NULL(out) || out_len == 0 || out_len > 255u * 16u ||
        (CM_NULL(before) && before_len) || (CM_NULL(after) && after_len))
        return CM_E_PARAM;
    for (i = 1; done < out_len; i++) {
        cm_cmac_ctx ctx;
        uint8_t ctr = (uint8_t)i;
        size_t take;

        /* cm_cmac_update fails only with what init already refused, and a
         * cipher fault is sticky: final reports both. */
        rc = cm_cmac_init(&ctx, aes, key, key_len);
        if (rc != CM_OK)
            break;
        cm_cmac_update(&ctx, before, before_len);
        cm_cmac_update(&ctx, &ctr, 1);
        cm_cmac_update(&ctx, after, after_len);
        rc = cm_cmac_final(&ctx, block);
        if (rc != CM_OK)
            break;
        take = out_len - done;
        if (take > 16)
            take = 16;
        memcpy(out + done, block, take);
        done += take;
    }
    cm_wipe(block, sizeof(block));
    if (rc != CM_OK)
        cm_wipe(out, out_len);
    return rc;
}

int cm_kdf_ctr_cmac(const cm_aes *aes, const uint8_t *key, size_t key_len,
                    const uint8_t *before, size_t before_len,
                    const uint8_t *after, size_t after_len,
                    uint8_t *out, size_t out_len)
{
    return kdf(aes, key, key_len, before, before_len, after, after_len, out, out_len);
}

int cm_scp03_kdf(const cm_aes *aes, const uint8_t *key, size_t key_len, uint8_t constant,
                 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_bits)
{
    /* Amendment D §4.1.5: 11 zero bytes, the constant (12-byte label), a zero
     * separator, L on two bytes; the counter follows, then the context. */
    uint8_t before[15];

    /* 64, 128, 192 or 256 */
    if ((out_bits & 63u) != 0 || out_bits - 64u > 192u)
        return CM_E_PARAM;
    memset(before, 0, sizeof(before));
    before[11] = constant;
    before[12] = 0x00;
    before[13] = (uint8_t)(out_bits >> 8);
    before[14] = (uint8_t)out_bits;
    return kdf(aes, key, key_len, before, sizeof(before), context, context_len, out,
               out_bits / 8);
}
