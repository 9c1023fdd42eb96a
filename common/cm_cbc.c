/* cm_cbc.c: AES-CBC and ISO/IEC 9797-1 padding method 2. */
#include <string.h>
#include "cm_cbc.h"
#include "cm_ct.h"
#include "cm_err.h"

static int check(const cm_aes *aes, const uint8_t *key, size_t key_len, size_t len)
{
    if (CM_NULL(aes) || aes->fn == NULL || CM_NULL(key) || !cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    if (len % CM_AES_BLOCK != 0)
        return CM_E_PARAM;
    return CM_OK;
}

/* The one CBC core of both directions.  Each input block is copied first, so
 * out may alias in. */
static int cbc(const cm_aes *aes, const uint8_t *key, size_t key_len, const uint8_t *iv,
               const uint8_t *in, uint8_t *out, size_t len, int decrypt)
{
    uint8_t chain[16], cur[16];
    size_t off;
    int i, rc = check(aes, key, key_len, len);

    if (rc != CM_OK)
        return rc;
    if (iv != NULL)
        memcpy(chain, iv, 16);
    else
        memset(chain, 0, 16);
    for (off = 0; off < len; off += 16) {
        memcpy(cur, in + off, 16);
        if (!decrypt)
            for (i = 0; i < 16; i++)
                cur[i] ^= chain[i];
        if (aes->fn(aes->ctx, decrypt, key, key_len, cur, out + off) != 0) {
            rc = CM_E_CIPHER;
            break;
        }
        if (decrypt) {
            for (i = 0; i < 16; i++)
                out[off + (size_t)i] ^= chain[i];
            memcpy(chain, cur, 16);            /* the ciphertext block chains */
        } else {
            memcpy(chain, out + off, 16);
        }
    }
    cm_wipe(chain, sizeof(chain));
    cm_wipe(cur, sizeof(cur));
    return rc;
}

int cm_cbc_encrypt(const cm_aes *aes, const uint8_t *key, size_t key_len,
                   const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, uint8_t *out, size_t len)
{
    return cbc(aes, key, key_len, iv, in, out, len, 0);
}

int cm_cbc_decrypt(const cm_aes *aes, const uint8_t *key, size_t key_len,
                   const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, uint8_t *out, size_t len)
{
    return cbc(aes, key, key_len, iv, in, out, len, 1);
}

size_t cm_pad_m2_len(size_t len)
{
    return (len / 16 + 1) * 16;
}

size_t cm_pad_m2(uint8_t *buf, size_t len, size_t cap)
{
    size_t n = cm_pad_m2_len(len);

    if (CM_NULL(buf) || n > cap || n < len)
        return 0;
    buf[len] = 0x80;
    memset(buf + len + 1, 0, n - len - 1);
    return n;
}

int cm_unpad_m2(const uint8_t *buf, size_t len, size_t *data_len)
{
    /* Walk the last block from the end keeping, without early exit, the
     * position of the last 0x80 that follows only zeros. */
    size_t i, pos = 0;
    uint8_t found = 0, only_zeros = 0xFF;

    if (CM_NULL(buf) || CM_NULL(data_len) || len == 0 || len % 16 != 0)
        return CM_E_PADDING;
    for (i = 0; i < 16; i++) {
        size_t idx = len - 1 - i;
        uint8_t b = buf[idx];
        uint8_t is80 = cm_ct_eq_byte_mask(b, 0x80);
        uint8_t is0 = cm_ct_eq_byte_mask(b, 0x00);
        uint8_t take = (uint8_t)(is80 & only_zeros & (uint8_t)~found);
        /* pos = take ? idx : pos, branch-free */
        size_t m = (size_t)0 - (size_t)(take & 1u);
        pos = (pos & ~m) | (idx & m);
        found |= take;
        only_zeros &= is0;
    }
    CM_CT_DECLASSIFY(&found, sizeof found);
    if (!found)
        return CM_E_PADDING;
    *data_len = pos;
    return CM_OK;
}

int cm_cbc_encrypt_pad(const cm_aes *aes, const uint8_t *key, size_t key_len,
                       const uint8_t iv[CM_AES_BLOCK], const uint8_t *in, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = cm_pad_m2_len(len);

    if (CM_NULL(out) || CM_NULL(out_len) || (CM_NULL(in) && len > 0))
        return CM_E_PARAM;
    if (n > cap)
        return CM_E_SPACE;
    /* in and out are the same buffer or do not overlap (cm_cbc.h). */
    if (len > 0 && out != in)
        memcpy(out, in, len);
    if (cm_pad_m2(out, len, cap) != n)
        return CM_E_SPACE;
    *out_len = n;
    return cm_cbc_encrypt(aes, key, key_len, iv, out, out, n);
}

int cm_cbc_decrypt_unpad(const cm_aes *aes, const uint8_t *key, size_t key_len,
                         const uint8_t iv[CM_AES_BLOCK], uint8_t *buf, size_t len,
                         size_t *data_len)
{
    int rc;

    if (CM_NULL(buf) || CM_NULL(data_len))
        return CM_E_PARAM;
    if (len == 0 || len % 16 != 0)
        return CM_E_PADDING;
    rc = cm_cbc_decrypt(aes, key, key_len, iv, buf, buf, len);
    if (rc != CM_OK)
        return rc;
    return cm_unpad_m2(buf, len, data_len);
}
