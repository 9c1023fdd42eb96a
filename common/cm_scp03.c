/* cm_scp03.c: GlobalPlatform SCP03 (Amendment D, S8 mode) for both sides of
 * the channel.  See cm_scp03.h for the contract of each function. */
#include <string.h>
#include "cm_scp03.h"
#include "cm_apdu.h"
#include "cm_cbc.h"
#include "cm_ct.h"
#include "cm_err.h"
#include "cm_kdf.h"

/* The session keys sit one after the other (cm_scp03_init derives them in a
 * loop). */
_Static_assert(offsetof(cm_scp03, s_mac) == offsetof(cm_scp03, s_enc) + CM_SCP03_MAX_KEY &&
                   offsetof(cm_scp03, s_rmac) == offsetof(cm_scp03, s_mac) + CM_SCP03_MAX_KEY,
               "S-ENC, S-MAC, S-RMAC not consecutive");
/* Likewise the keys of a key set (cm_scp03_keyset_parse). */
_Static_assert(offsetof(cm_keyset, mac) == offsetof(cm_keyset, enc) + CM_SCP03_MAX_KEY &&
                   offsetof(cm_keyset, dek) == offsetof(cm_keyset, mac) + CM_SCP03_MAX_KEY,
               "key set keys not consecutive");

/* Session key i (0 S-ENC, 1 S-MAC, 2 S-RMAC), addressed from the start of
 * the structure: stepping s->s_enc past its own 32 bytes would be undefined
 * behaviour (and UBSan's bounds check says so). */
static uint8_t *session_key(cm_scp03 *s, unsigned i)
{
    return (uint8_t *)s + offsetof(cm_scp03, s_enc) + i * CM_SCP03_MAX_KEY;
}

int cm_scp03_init(cm_scp03 *s, const cm_aes *aes, const uint8_t *k_enc, const uint8_t *k_mac,
                  size_t key_len, const uint8_t host_challenge[8], const uint8_t card_challenge[8])
{
    /* S-ENC from K-ENC, S-MAC and S-RMAC from K-MAC (Amendment D §6.2.1). */
    static const uint8_t constants[3] = { CM_DC_S_ENC, CM_DC_S_MAC, CM_DC_S_RMAC };
    uint8_t context[16];
    unsigned i;
    int rc = CM_OK;

    if (CM_NULL(s) || CM_NULL(aes) || CM_NULL(k_enc) || CM_NULL(k_mac) ||
        !cm_aes_valid_key_len(key_len) || CM_NULL(host_challenge) || CM_NULL(card_challenge))
        return CM_E_PARAM;
    memset(s, 0, sizeof(*s));
    s->aes = *aes;
    s->key_len = (uint8_t)key_len;
    memcpy(context, host_challenge, 8);
    memcpy(context + 8, card_challenge, 8);
    for (i = 0; rc == CM_OK && i < 3; i++)
        rc = cm_scp03_kdf(aes, i ? k_mac : k_enc, key_len, constants[i], context, 16,
                          session_key(s, i), key_len * 8);
    if (rc != CM_OK)
        cm_scp03_close(s);
    return rc;
}

int cm_scp03_cryptogram(const cm_scp03 *s, uint8_t constant, const uint8_t host_challenge[8],
                        const uint8_t card_challenge[8], uint8_t out[8])
{
    uint8_t context[16];

    if (CM_NULL(s) || CM_NULL(host_challenge) || CM_NULL(card_challenge) || CM_NULL(out))
        return CM_E_PARAM;
    memcpy(context, host_challenge, 8);
    memcpy(context + 8, card_challenge, 8);
    return cm_scp03_kdf(&s->aes, s->s_mac, s->key_len, constant, context, 16, out, 64);
}

/* The verdict of a constant-time comparison of a computed value with a
 * received one, the one thing made public; the computed copy is wiped.  One
 * copy for every cryptogram, MAC and KCV check. */
static int ct_verdict(uint8_t *computed, const uint8_t *received, size_t n, int err)
{
    int ok = cm_ct_equal(computed, received, n);

    CM_CT_DECLASSIFY(&ok, sizeof ok);
    cm_wipe(computed, n);
    return ok ? CM_OK : err;
}

int cm_scp03_check_cryptogram(const cm_scp03 *s, uint8_t constant, const uint8_t host_challenge[8],
                              const uint8_t card_challenge[8], const uint8_t received[8])
{
    uint8_t expect[8];
    int rc;

    if (CM_NULL(received))
        return CM_E_PARAM;
    rc = cm_scp03_cryptogram(s, constant, host_challenge, card_challenge, expect);
    if (rc != CM_OK)
        return rc;
    return ct_verdict(expect, received, 8, CM_E_MAC);
}

int cm_scp03_card_challenge(const cm_aes *aes, const uint8_t *k_enc, size_t key_len,
                            const uint8_t seq[3], const uint8_t *aid, size_t aid_len,
                            uint8_t out[8])
{
    uint8_t context[3 + 16];

    if (CM_NULL(seq) || CM_NULL(aid) || aid_len > 16 || CM_NULL(out))
        return CM_E_PARAM;
    memcpy(context, seq, 3);
    memcpy(context + 3, aid, aid_len);
    return cm_scp03_kdf(aes, k_enc, key_len, CM_DC_CARD_CHALLENGE, context, 3 + aid_len, out, 64);
}

int cm_scp03_diversify(const cm_aes *aes, const uint8_t *master, size_t key_len, uint8_t constant,
                       const uint8_t *div_data, size_t div_len, uint8_t *out)
{
    if (!cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    return cm_scp03_kdf(aes, master, key_len, constant, div_data, div_len, out, key_len * 8);
}

/* Lc of the MACed command: data plus the 8 MAC bytes, coded as the APDU
 * that carries the MAC codes it (PROTOCOL.md §3): 1 byte in a short APDU,
 * 00 Lc1 Lc2 in an extended one (ext_lc), which any Lc above 255 needs. */
static size_t put_lc(uint8_t *p, size_t lc, int ext_lc)
{
    if (!ext_lc && lc <= 255) {
        p[0] = (uint8_t)lc;
        return 1;
    }
    p[0] = 0;
    p[1] = (uint8_t)(lc >> 8);
    p[2] = (uint8_t)lc;
    return 3;
}

/* A CMAC under key (S-MAC or S-RMAC) that starts with the MAC chain: the
 * start of both the C-MAC and the R-MAC. */
static int chain_begin(const cm_scp03 *s, cm_cmac_ctx *ctx, const uint8_t *key)
{
    int rc = cm_cmac_init(ctx, &s->aes, key, s->key_len);

    if (rc == CM_OK)
        rc = cm_cmac_update(ctx, s->mac_chain, 16);
    return rc;
}

int cm_scp03_cmac_begin(const cm_scp03 *s, cm_cmac_ctx *ctx, const uint8_t hdr[4], size_t data_len,
                        int ext_lc)
{
    uint8_t lc[3];
    size_t lc_len;
    int rc;

    if (CM_NULL(s) || CM_NULL(ctx) || CM_NULL(hdr) || data_len > 65535 - 8)
        return CM_E_PARAM;
    lc_len = put_lc(lc, data_len + CM_SCP03_MAC_LEN, ext_lc);
    rc = chain_begin(s, ctx, s->s_mac);
    if (rc == CM_OK)
        rc = cm_cmac_update(ctx, hdr, 4);
    if (rc == CM_OK)
        rc = cm_cmac_update(ctx, lc, lc_len);
    return rc;
}

int cm_scp03_cmac_end(cm_cmac_ctx *ctx, uint8_t chain_out[16], uint8_t mac[8])
{
    uint8_t tag[16];
    int rc = cm_cmac_final(ctx, tag);

    if (rc == CM_OK) {
        memcpy(chain_out, tag, 16);
        memcpy(mac, tag, 8);
    }
    cm_wipe(tag, sizeof(tag));
    return rc;
}

/* The body of cm_scp03_accept_command, inlined into cm_scp03_cmac_verify
 * (the card's one caller). */
CM_ALWAYS_INLINE void accept(cm_scp03 *s, const uint8_t chain[16])
{
    memcpy(s->mac_chain, chain, 16);
    s->counter++;
}

int cm_scp03_cmac_verify(cm_scp03 *s, cm_cmac_ctx *ctx, const uint8_t received[8])
{
    uint8_t chain[16], mac[8];
    int rc = cm_scp03_cmac_end(ctx, chain, mac);

    if (rc == CM_OK)
        rc = ct_verdict(mac, received, CM_SCP03_MAC_LEN, CM_E_MAC);
    if (rc == CM_OK)
        accept(s, chain);
    cm_wipe(chain, sizeof(chain));
    return rc;
}

int cm_scp03_verify_command(cm_scp03 *s, const uint8_t hdr[4], const uint8_t *data, size_t len,
                            int ext_lc)
{
    cm_cmac_ctx ctx;
    int rc;

    if (len < CM_SCP03_MAC_LEN)
        return CM_E_FORMAT;
    len -= CM_SCP03_MAC_LEN;
    rc = cm_scp03_cmac_begin(s, &ctx, hdr, len, ext_lc);
    if (rc == CM_OK)
        rc = cm_cmac_update(&ctx, data, len);
    if (rc == CM_OK)
        rc = cm_scp03_cmac_verify(s, &ctx, data + len);
    cm_wipe(&ctx, sizeof(ctx));
    return rc;
}

/* MAC of a whole command held in memory. */
static int command_mac(const cm_scp03 *s, const uint8_t hdr[4], const uint8_t *data, size_t len,
                       int ext_lc, uint8_t chain_out[16], uint8_t mac[8])
{
    cm_cmac_ctx ctx;
    int rc = cm_scp03_cmac_begin(s, &ctx, hdr, len, ext_lc);

    if (rc == CM_OK)
        rc = cm_cmac_update(&ctx, data, len);
    if (rc != CM_OK) {
        cm_wipe(&ctx, sizeof(ctx));
        return rc;
    }
    return cm_scp03_cmac_end(&ctx, chain_out, mac);
}

int cm_scp03_external_auth(cm_scp03 *s, uint8_t level, const uint8_t host_cryptogram[8],
                           uint8_t out_data[16])
{
    uint8_t hdr[4] = { 0x84, 0x82, 0x00, 0x00 };
    uint8_t chain[16];
    int rc;

    if (CM_NULL(s) || CM_NULL(host_cryptogram) || CM_NULL(out_data))
        return CM_E_PARAM;
    hdr[2] = level;
    memset(s->mac_chain, 0, 16);
    rc = command_mac(s, hdr, host_cryptogram, 8, 0, chain, out_data + 8);
    if (rc != CM_OK)
        return rc;
    memcpy(out_data, host_cryptogram, 8);
    memcpy(s->mac_chain, chain, 16);
    s->level = level;
    s->counter = 0;
    return CM_OK;
}

int cm_scp03_verify_external_auth(cm_scp03 *s, const uint8_t hdr[4], const uint8_t data[16],
                                  int ext_lc)
{
    int rc;

    if (CM_NULL(s) || CM_NULL(hdr) || CM_NULL(data))
        return CM_E_PARAM;
    /* The chain starts from zero at EXTERNAL AUTHENTICATE, whatever s holds;
     * the check of any command adopts the new chain value on a match only. */
    memset(s->mac_chain, 0, 16);
    rc = cm_scp03_verify_command(s, hdr, data, 16, ext_lc);
    if (rc != CM_OK)
        return rc;
    s->level = hdr[2];
    s->counter = 0;
    return CM_OK;
}

int cm_scp03_icv(const cm_scp03 *s, int response, uint8_t icv[16])
{
    uint8_t block[16];

    if (CM_NULL(s) || CM_NULL(icv))
        return CM_E_PARAM;
    memset(block, 0, sizeof(block));
    /* R-ENCRYPTION marks its counter block with 80 in the first byte. */
    if (response)
        block[0] = 0x80;
    block[12] = (uint8_t)(s->counter >> 24);
    block[13] = (uint8_t)(s->counter >> 16);
    block[14] = (uint8_t)(s->counter >> 8);
    block[15] = (uint8_t)s->counter;
    if (s->aes.fn(s->aes.ctx, 0, s->s_enc, s->key_len, block, icv) != 0)
        return CM_E_CIPHER;
    return CM_OK;
}

/* C-DECRYPTION (response 0) or R-ENCRYPTION (response 1) of buf[0..len) in
 * place, under S-ENC with the counter's ICV: encrypts when plain_len is
 * NULL, else decrypts and strips the padding (len a multiple of 16, else
 * CM_E_PADDING).  The one CBC path of both directions of the channel. */
static int session_cbc(const cm_scp03 *s, int response, uint8_t *buf, size_t len,
                       size_t *plain_len)
{
    uint8_t icv[16];
    int rc;

    if (plain_len != NULL && len % 16 != 0)
        return CM_E_PADDING;
    rc = cm_scp03_icv(s, response, icv);
    if (rc == CM_OK)
        rc = plain_len == NULL
                 ? cm_cbc_encrypt(&s->aes, s->s_enc, s->key_len, icv, buf, buf, len)
                 : cm_cbc_decrypt_unpad(&s->aes, s->s_enc, s->key_len, icv, buf, len, plain_len);
    cm_wipe(icv, sizeof(icv));
    return rc;
}

int cm_scp03_wrap_command(cm_scp03 *s, const uint8_t *apdu, size_t len,
                          uint8_t *out, size_t cap, size_t *out_len)
{
    cm_apdu v, w;
    uint8_t hdr[4], chain[16];
    size_t body_len, lc_new, pos, n;
    int rc;

    if (CM_NULL(s) || CM_NULL(apdu) || CM_NULL(out) || CM_NULL(out_len))
        return CM_E_PARAM;
    rc = cm_apdu_parse(apdu, len, &v);
    if (rc != CM_OK)
        return rc;
    body_len = v.nc;
    if ((s->level & CM_SL_CDEC) && v.nc > 0)
        body_len = cm_pad_m2_len(v.nc);
    lc_new = body_len + CM_SCP03_MAC_LEN;
    if (lc_new > CM_APDU_MAX_NC)
        return CM_E_PARAM;

    /* The wrapped APDU: CLA with the SM bit, the same Le, and a body of the
     * (encrypted) data and the MAC, filled in below.  It stays extended
     * when the plain one was. */
    w = v;
    w.cla = (uint8_t)(v.cla | 0x04);
    w.data = NULL;
    w.nc = lc_new;
    n = cm_apdu_encode(&w, out, cap);
    if (n == 0)
        return CM_E_SPACE;
    memcpy(hdr, out, 4);
    pos = cm_apdu_head_len(&w);
    /* The counter advances for every command, with or without data. */
    s->counter++;
    if (v.nc > 0) {
        memcpy(out + pos, v.data, v.nc);   /* apdu and out never overlap */
        if (s->level & CM_SL_CDEC) {
            size_t p = cm_pad_m2(out + pos, v.nc, body_len);
            if (p != body_len)
                return CM_E_SPACE;
            rc = session_cbc(s, 0, out + pos, p, NULL);
            if (rc != CM_OK)
                return rc;
        }
    }
    rc = command_mac(s, hdr, out + pos, body_len, cm_apdu_is_extended(&w), chain,
                     out + pos + body_len);
    if (rc != CM_OK)
        return rc;
    memcpy(s->mac_chain, chain, 16);
    *out_len = n;
    return CM_OK;
}

int cm_scp03_unwrap_command(cm_scp03 *s, const uint8_t hdr[4], uint8_t *data, size_t len,
                            int ext_lc, size_t *plain_len)
{
    size_t body_len;
    int rc;

    if (CM_NULL(s) || CM_NULL(hdr) || (CM_NULL(data) && len) || CM_NULL(plain_len))
        return CM_E_PARAM;
    rc = cm_scp03_verify_command(s, hdr, data, len, ext_lc);
    if (rc != CM_OK)
        return rc;
    body_len = len - CM_SCP03_MAC_LEN;
    *plain_len = body_len;
    if ((s->level & CM_SL_CDEC) && body_len > 0)
        return session_cbc(s, 0, data, body_len, plain_len);
    return CM_OK;
}

void cm_scp03_accept_command(cm_scp03 *s, const uint8_t chain[16])
{
    accept(s, chain);
}

static int sw_carries_rmac(uint16_t sw)
{
    return sw == 0x9000 || (sw & 0xFF00) == 0x6200 || (sw & 0xFF00) == 0x6300;
}

/* Inline: the card links cm_scp03_wrap_response only, the host both. */
CM_ALWAYS_INLINE int response_mac(const cm_scp03 *s, const uint8_t *data, size_t len,
                                  uint16_t sw, uint8_t mac[8])
{
    cm_cmac_ctx ctx;
    uint8_t tag[16], swb[2];
    int rc;

    swb[0] = (uint8_t)(sw >> 8);
    swb[1] = (uint8_t)sw;
    rc = chain_begin(s, &ctx, s->s_rmac);
    if (rc == CM_OK)
        rc = cm_cmac_update(&ctx, data, len);
    if (rc == CM_OK)
        rc = cm_cmac_update(&ctx, swb, 2);
    if (rc == CM_OK)
        rc = cm_scp03_cmac_end(&ctx, tag, mac);
    else
        cm_wipe(&ctx, sizeof(ctx));
    cm_wipe(tag, sizeof(tag));
    return rc;
}

int cm_scp03_wrap_response(const cm_scp03 *s, uint8_t *buf, size_t len, size_t cap, uint16_t sw,
                           size_t *out_len)
{
    size_t n = len;
    int rc;

    if (CM_NULL(s) || (CM_NULL(buf) && (len || cap)) || CM_NULL(out_len) || len > cap)
        return CM_E_PARAM;
    if ((s->level & CM_SL_RENC) && len > 0) {
        n = cm_pad_m2(buf, len, cap);
        if (n == 0)
            return CM_E_SPACE;
        rc = session_cbc(s, 1, buf, n, NULL);
        if (rc != CM_OK)
            return rc;
    }
    if ((s->level & CM_SL_RMAC) && sw_carries_rmac(sw)) {
        if (n + CM_SCP03_MAC_LEN > cap)
            return CM_E_SPACE;
        rc = response_mac(s, buf, n, sw, buf + n);
        if (rc != CM_OK)
            return rc;
        n += CM_SCP03_MAC_LEN;
    }
    *out_len = n;
    return CM_OK;
}

int cm_scp03_unwrap_response(const cm_scp03 *s, uint8_t *buf, size_t len, uint16_t sw,
                             size_t *plain_len)
{
    uint8_t mac[8];
    size_t n = len;
    int rc;

    if (CM_NULL(s) || (CM_NULL(buf) && len) || CM_NULL(plain_len))
        return CM_E_PARAM;
    if ((s->level & CM_SL_RMAC) && sw_carries_rmac(sw)) {
        if (len < CM_SCP03_MAC_LEN)
            return CM_E_MAC;
        n = len - CM_SCP03_MAC_LEN;
        rc = response_mac(s, buf, n, sw, mac);
        if (rc == CM_OK)
            rc = ct_verdict(mac, buf + n, CM_SCP03_MAC_LEN, CM_E_MAC);
        if (rc != CM_OK)
            return rc;
    }
    *plain_len = n;
    if ((s->level & CM_SL_RENC) && n > 0)
        return session_cbc(s, 1, buf, n, plain_len);
    return CM_OK;
}

int cm_scp03_wrap_key(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                      const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len)
{
    uint8_t block[32];
    size_t n;
    int rc;

    if (CM_NULL(key) || CM_NULL(out) || CM_NULL(out_len) || !cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    memcpy(block, key, key_len);
    n = key_len;
    /* Only AES-192 keys need padding to a block multiple. */
    if (key_len % 16 != 0)
        n = cm_pad_m2(block, key_len, sizeof(block));
    rc = cm_cbc_encrypt(aes, dek, dek_len, NULL, block, out, n);
    cm_wipe(block, sizeof(block));
    if (rc == CM_OK)
        *out_len = n;
    return rc;
}

/* The body of cm_scp03_unwrap_key, inlined into the key-set parser (the
 * card's one caller). */
CM_ALWAYS_INLINE int unwrap_key(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                                const uint8_t *in, size_t in_len, size_t key_len, uint8_t *key)
{
    uint8_t block[32];
    size_t expect, i;
    uint8_t bad = 0;
    int rc;

    if (CM_NULL(in) || CM_NULL(key) || !cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    expect = (key_len + 15) & ~(size_t)15;   /* padded to a block multiple */
    if (in_len != expect)
        return CM_E_FORMAT;
    rc = cm_cbc_decrypt(aes, dek, dek_len, NULL, in, block, in_len);
    if (rc == CM_OK && expect != key_len) {
        bad |= (uint8_t)(block[key_len] ^ 0x80);
        for (i = key_len + 1; i < expect; i++)
            bad |= block[i];
        CM_CT_DECLASSIFY(&bad, sizeof bad);
        if (bad)
            rc = CM_E_FORMAT;
    }
    if (rc == CM_OK)
        memcpy(key, block, key_len);
    cm_wipe(block, sizeof(block));
    return rc;
}

int cm_scp03_unwrap_key(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                        const uint8_t *in, size_t in_len, size_t key_len, uint8_t *key)
{
    return unwrap_key(aes, dek, dek_len, in, in_len, key_len, key);
}

/* The body of cm_kcv, inlined into cm_kcv_check (the card's one caller). */
CM_ALWAYS_INLINE int kcv_of(const cm_aes *aes, const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    uint8_t block[16];

    if (CM_NULL(aes) || aes->fn == NULL || CM_NULL(key) || CM_NULL(kcv) ||
        !cm_aes_valid_key_len(key_len))
        return CM_E_PARAM;
    memset(block, 0x01, sizeof(block));
    if (aes->fn(aes->ctx, 0, key, key_len, block, block) != 0)
        return CM_E_CIPHER;
    memcpy(kcv, block, 3);
    cm_wipe(block, sizeof(block));
    return CM_OK;
}

int cm_kcv(const cm_aes *aes, const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    return kcv_of(aes, key, key_len, kcv);
}

/* The body of cm_kcv_check, inlined into the key-set parser (the card's one
 * caller). */
CM_ALWAYS_INLINE int kcv_check(const cm_aes *aes, const uint8_t *key, size_t key_len,
                               const uint8_t expected[3])
{
    uint8_t kcv[3];
    int rc;

    if (CM_NULL(expected))
        return CM_E_PARAM;
    rc = kcv_of(aes, key, key_len, kcv);
    if (rc != CM_OK)
        return rc;
    return ct_verdict(kcv, expected, 3, CM_E_KCV);
}

int cm_kcv_check(const cm_aes *aes, const uint8_t *key, size_t key_len, const uint8_t expected[3])
{
    return kcv_check(aes, key, key_len, expected);
}

int cm_scp03_keyset_data(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                         const cm_keyset *ks, uint8_t *out, size_t cap, size_t *out_len)
{
    const uint8_t *keys[3];
    size_t n = 0, elen, i;
    int rc = CM_OK;

    if (CM_NULL(ks) || CM_NULL(out) || CM_NULL(out_len) || !cm_aes_valid_key_len(ks->key_len))
        return CM_E_PARAM;
    keys[0] = ks->enc;
    keys[1] = ks->mac;
    keys[2] = ks->dek;
    elen = ks->key_len % 16 ? cm_pad_m2_len(ks->key_len) : ks->key_len;
    if (cap < 1 + 3 * (3 + elen + 4))
        return CM_E_SPACE;
    out[n++] = ks->kvn;
    for (i = 0; i < 3 && rc == CM_OK; i++) {
        rc = cm_scp03_wrap_key(aes, dek, dek_len, keys[i], ks->key_len, out + n + 3, &elen);
        if (rc != CM_OK)
            break;
        out[n] = 0x88;
        out[n + 1] = (uint8_t)(1 + elen);
        out[n + 2] = ks->key_len;
        n += 3 + elen;
        out[n++] = 0x03;
        rc = cm_kcv(aes, keys[i], ks->key_len, out + n);
        n += 3;
    }
    if (rc != CM_OK) {
        cm_wipe(out, cap);
        return rc;
    }
    *out_len = n;
    return CM_OK;
}

int cm_scp03_keyset_parse(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                          const uint8_t *data, size_t len, cm_keyset *out, uint8_t kcv_out[9])
{
    size_t pos = 1, klen, elen, i;
    int rc = CM_OK, kcv_bad = 0;

    if (CM_NULL(data) || CM_NULL(out))
        return CM_E_PARAM;
    memset(out, 0, sizeof(*out));
    /* (shorter than KVN 88 Ll Lk: no key set) */
    if (len < 4 || data[0] < 0x01 || data[0] > 0x7F)
        return CM_E_FORMAT;
    klen = data[3];
    for (i = 0; i < 3; i++) {
        /* 88 Ll Lk E(key) 03 KCV, every key of the first one's length. */
        const uint8_t *p = data + pos;
        /* enc, mac, dek: addressed from the start of the structure, since
         * stepping a pointer past the end of out->enc is undefined. */
        uint8_t *key = (uint8_t *)out + offsetof(cm_keyset, enc) + i * CM_SCP03_MAX_KEY;

        if (len - pos < 3 || p[0] != 0x88) {
            rc = CM_E_FORMAT;
            break;
        }
        elen = (klen + 15) & ~(size_t)15;      /* E(key): padded to a block multiple */
        if (p[2] != klen || !cm_aes_valid_key_len(klen) || p[1] != elen + 1 ||
            len - pos < 3 + elen + 4 || p[3 + elen] != 0x03) {
            rc = CM_E_FORMAT;
            break;
        }
        rc = unwrap_key(aes, dek, dek_len, p + 3, elen, klen, key);
        if (rc != CM_OK)
            break;
        /* Check every KCV (no early exit), report once at the end. */
        rc = kcv_check(aes, key, klen, p + 4 + elen);
        if (rc == CM_E_KCV)
            kcv_bad = 1;
        else if (rc != CM_OK)
            break;
        rc = CM_OK;
        if (kcv_out != NULL)
            memcpy(kcv_out + 3 * i, p + 4 + elen, 3);
        pos += 3 + elen + 4;
    }
    if (rc == CM_OK && pos != len)
        rc = CM_E_FORMAT;
    if (rc == CM_OK && kcv_bad)
        rc = CM_E_KCV;
    if (rc != CM_OK) {
        cm_wipe(out, sizeof(*out));
        return rc;
    }
    out->kvn = data[0];
    out->key_len = (uint8_t)klen;
    return CM_OK;
}

void cm_scp03_close(cm_scp03 *s)
{
    if (!CM_NULL(s))
        cm_wipe(s, sizeof(*s));
}
