/* keys.c: key sets in host memory: filling, per-card diversification
 * (PROTOCOL.md §7), key check values, and the key set data of PUT KEY and
 * of an AP image's tag A1 (PROTOCOL.md §3). */
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_err.h"

static int key_len_ok(size_t n)
{
    return n == 16 || n == 24 || n == 32;
}

mnap_err mnap_keyset_set(mnap_keyset *ks, uint8_t kvn, const uint8_t *enc, const uint8_t *mac,
                         const uint8_t *dek, size_t key_len, int master)
{
    if (ks == NULL || enc == NULL || mac == NULL || dek == NULL || !key_len_ok(key_len))
        return MNAP_E_PARAM;
    memset(ks, 0, sizeof(*ks));
    memcpy(ks->enc, enc, key_len);
    memcpy(ks->mac, mac, key_len);
    memcpy(ks->dek, dek, key_len);
    ks->key_len = (uint8_t)key_len;
    ks->kvn = kvn;
    ks->master = master ? 1 : 0;
    return MNAP_OK;
}

mnap_err mnap_keyset_diversify(const mnap_keyset *master, const uint8_t div[MNAP_DIV_DATA_LEN],
                               mnap_keyset *out)
{
    cm_aes aes;
    mnap_keyset k;
    int rc;

    if (master == NULL || div == NULL || out == NULL || !key_len_ok(master->key_len))
        return MNAP_E_PARAM;
    if (master->src != NULL)
        return mnap__keystore_diversify(master, div, out);
    mnap__aes_init(&aes);
    memset(&k, 0, sizeof(k));
    rc = cm_scp03_diversify(&aes, master->enc, master->key_len, CM_DC_DIV_ENC, div,
                            MNAP_DIV_DATA_LEN, k.enc);
    if (rc == CM_OK)
        rc = cm_scp03_diversify(&aes, master->mac, master->key_len, CM_DC_DIV_MAC, div,
                                MNAP_DIV_DATA_LEN, k.mac);
    if (rc == CM_OK)
        rc = cm_scp03_diversify(&aes, master->dek, master->key_len, CM_DC_DIV_DEK, div,
                                MNAP_DIV_DATA_LEN, k.dek);
    if (rc != CM_OK) {
        cm_wipe(&k, sizeof(k));
        return MNAP_E_CRYPTO;
    }
    k.key_len = master->key_len;
    k.kvn = master->kvn;
    k.master = 0;
    *out = k;
    cm_wipe(&k, sizeof(k));
    return MNAP_OK;
}

mnap_err mnap_keyset_random(mnap_keyset *ks, uint8_t kvn, size_t key_len)
{
    mnap_err rc;

    if (ks == NULL || !key_len_ok(key_len))
        return MNAP_E_PARAM;
    memset(ks, 0, sizeof(*ks));
    rc = mnap__random(ks->enc, key_len);
    if (rc == MNAP_OK)
        rc = mnap__random(ks->mac, key_len);
    if (rc == MNAP_OK)
        rc = mnap__random(ks->dek, key_len);
    if (rc != MNAP_OK) {
        cm_wipe(ks, sizeof(*ks));
        return rc;
    }
    ks->key_len = (uint8_t)key_len;
    ks->kvn = kvn;
    return MNAP_OK;
}

mnap_err mnap_keyset_kcv(const mnap_keyset *ks, uint8_t kcv_enc[3], uint8_t kcv_mac[3],
                         uint8_t kcv_dek[3])
{
    cm_aes aes;

    if (ks == NULL || kcv_enc == NULL || kcv_mac == NULL || kcv_dek == NULL ||
        !key_len_ok(ks->key_len))
        return MNAP_E_PARAM;
    if (ks->src != NULL) {
        uint8_t k[3][3];
        mnap_err rc = mnap__keystore_kcv(ks, k);
        if (rc == MNAP_OK) {
            memcpy(kcv_enc, k[0], 3);
            memcpy(kcv_mac, k[1], 3);
            memcpy(kcv_dek, k[2], 3);
        }
        return rc;
    }
    mnap__aes_init(&aes);
    if (cm_kcv(&aes, ks->enc, ks->key_len, kcv_enc) != CM_OK ||
        cm_kcv(&aes, ks->mac, ks->key_len, kcv_mac) != CM_OK ||
        cm_kcv(&aes, ks->dek, ks->key_len, kcv_dek) != CM_OK)
        return MNAP_E_CRYPTO;
    return MNAP_OK;
}

void mnap_keyset_wipe(mnap_keyset *ks)
{
    if (ks != NULL)
        cm_wipe(ks, sizeof(*ks));
}

mnap_err mnap__static_keys(const mnap_keyset *ks, const uint8_t *div, mnap_keyset *out)
{
    if (ks == NULL || out == NULL || !key_len_ok(ks->key_len))
        return MNAP_E_PARAM;
    if (!ks->master) {
        *out = *ks;
        return MNAP_OK;
    }
    if (div == NULL)
        return MNAP_E_STATE;
    return mnap_keyset_diversify(ks, div, out);
}

mnap_err mnap__keyset_data(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                           const mnap_keyset *keys, uint8_t *out, size_t cap, size_t *out_len,
                           uint8_t kcv[9])
{
    cm_keyset ks;
    size_t block, i;
    int rc;

    if (aes == NULL || dek == NULL || keys == NULL || out == NULL || out_len == NULL ||
        !key_len_ok(keys->key_len) || keys->master)
        return MNAP_E_PARAM;
    memset(&ks, 0, sizeof(ks));
    memcpy(ks.enc, keys->enc, keys->key_len);
    memcpy(ks.mac, keys->mac, keys->key_len);
    memcpy(ks.dek, keys->dek, keys->key_len);
    ks.key_len = keys->key_len;
    ks.kvn = keys->kvn;
    rc = cm_scp03_keyset_data(aes, dek, dek_len, &ks, out, cap, out_len);
    cm_wipe(&ks, sizeof(ks));
    if (rc == CM_E_SPACE)
        return MNAP_E_BUFFER;
    if (rc != CM_OK)
        return MNAP_E_CRYPTO;
    if (kcv != NULL) {
        /* KVN, then three blocks 88 Ll Lk E(key) 03 KCV: the KCV ends each. */
        block = (*out_len - 1) / 3;
        for (i = 0; i < 3; i++)
            memcpy(kcv + 3 * i, out + 1 + block * (i + 1) - 3, 3);
    }
    return MNAP_OK;
}

mnap_err mnap__put_key(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *keys)
{
    uint8_t data[CM_KEYSET_DATA_MAX], kcv[9], rsp[16];
    size_t dlen, rlen;
    mnap_apdu a;
    mnap_err rc;

    if (!ctx->open || ctx->dek_len == 0)
        return MNAP_E_STATE;
    rc = mnap__keyset_data(&ctx->aes, ctx->dek, ctx->dek_len, keys, data, sizeof(data), &dlen,
                           kcv);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x80, 0xD8, old_kvn, 0x81);
    a.data = data;
    a.lc = dlen;
    a.ne = 256;
    rc = mnap__send_ok(ctx, &a, rsp, sizeof(rsp), &rlen);
    cm_wipe(data, sizeof(data));
    if (rc != MNAP_OK)
        return rc;
    /* The card answers new-KVN || three KCVs: proof it stored our keys. */
    if (rlen != 10 || rsp[0] != keys->kvn)
        return MNAP_E_PROTOCOL;
    if (!cm_ct_equal(rsp + 1, kcv, 9))
        return MNAP_E_KCV;
    return MNAP_OK;
}

mnap_err mnap__replace_keys(mnap_ctx *ctx, int am, uint8_t old_kvn, const mnap_keyset *keys)
{
    mnap_keyset sk;
    mnap_err rc;

    if (ctx == NULL || keys == NULL || keys->kvn < 0x01 || keys->kvn > 0x7F)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, am);
    if (rc != MNAP_OK)
        return rc;
    /* Master keys become this card's own before they are sent. */
    rc = mnap__static_keys(keys, ctx->have_div ? ctx->div : NULL, &sk);
    if (rc != MNAP_OK)
        return rc;
    rc = mnap__put_key(ctx, old_kvn, &sk);
    mnap_keyset_wipe(&sk);
    return rc;
}
