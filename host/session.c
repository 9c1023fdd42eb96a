/* session.c: the host side of SCP03 (PROTOCOL.md §3): SELECT, INITIALIZE
 * UPDATE, the card cryptogram check (before anything else is sent), EXTERNAL
 * AUTHENTICATE at the chosen level, and closing. */
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_err.h"
#include "cm_sw.h"

#define IU_RSP_LEN 32

mnap_err mnap__select_aid(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len)
{
    uint8_t dummy[1];
    size_t n;
    uint16_t sw = 0;
    mnap_apdu a;
    mnap_err rc;

    if (aid == NULL || aid_len < MNAP_AID_MIN || aid_len > MNAP_AID_MAX)
        return MNAP_E_PARAM;
    /* Every SELECT by AID ends the card's channel (rule F1), whatever its
     * outcome, and is itself sent without secure messaging. */
    mnap__session_drop(ctx);
    mnap__apdu_init(&a, 0x00, 0xA4, 0x04, 0x0C);
    a.data = aid;
    a.lc = aid_len;
    rc = mnap__send(ctx, &a, dummy, sizeof(dummy), &n, &sw);
    if (rc != MNAP_OK)
        return rc;
    if (sw != CM_SW_OK)
        return mnap_err_from_sw(sw);
    ctx->selected = true;
    memcpy(ctx->sel_aid, aid, aid_len);
    ctx->sel_aid_len = aid_len;
    ctx->am_selected = aid_len == MNAP_AM_AID_LEN && memcmp(aid, mnap_am_aid, aid_len) == 0;
    return MNAP_OK;
}

static mnap_err map_auth_sw(uint16_t sw)
{
    switch (sw) {
    case CM_SW_SECURITY_STATUS: return MNAP_E_LEVEL;
    case CM_SW_VERIFY_FAIL: return MNAP_E_AUTH_FAILED;
    default: return mnap_err_from_sw(sw);
    }
}

static mnap_err open_channel(mnap_ctx *ctx, const mnap_keyset *ks, uint8_t level)
{
    uint8_t cmd[14], r[IU_RSP_LEN + 8], hc[8], crypt[8], chal[8], ea[16];
    const uint8_t *div, *info, *cc, *ccrypt, *seq;
    mnap_apdu a;
    size_t n;
    mnap_keyset sk;
    size_t rlen;
    uint16_t sw = 0;
    mnap_err rc;
    int ok;

    rc = mnap__random(hc, sizeof(hc));
    if (rc != MNAP_OK)
        return rc;
    /* INITIALIZE UPDATE, always plain: host challenge, Le 00. */
    mnap__apdu_init(&a, 0x80, 0x50, ks->kvn, 0x00);
    a.data = hc;
    a.lc = sizeof(hc);
    a.ne = 256;
    n = mnap__apdu_encode(&a, cmd, sizeof(cmd));
    if (n != sizeof(cmd))
        return MNAP_E_PARAM;
    rc = mnap__exchange(ctx, cmd, n, r, sizeof(r), &rlen, &sw);
    if (rc != MNAP_OK)
        return rc;
    if (sw != CM_SW_OK)
        return mnap_err_from_sw(sw);
    if (rlen != IU_RSP_LEN)
        return MNAP_E_PROTOCOL;
    div = r;
    info = r + 10;
    cc = r + 13;
    ccrypt = r + 21;
    seq = r + 29;
    memcpy(ctx->div, div, MNAP_DIV_DATA_LEN);
    ctx->have_div = true;
    if (info[1] != 0x03 || info[2] != 0x70 || (ks->kvn != 0 && info[0] != ks->kvn))
        return MNAP_E_KEY_INFO;

    rc = mnap__static_keys(ks, div, &sk);
    if (rc != MNAP_OK)
        return rc;
    if (sk.key_len != ks->key_len) {
        mnap_keyset_wipe(&sk);
        return MNAP_E_PARAM;
    }
    if (cm_scp03_init(&ctx->scp, &ctx->aes, sk.enc, sk.mac, sk.key_len, hc, cc) != CM_OK ||
        cm_scp03_card_challenge(&ctx->aes, sk.enc, sk.key_len, seq, ctx->sel_aid,
                                ctx->sel_aid_len, chal) != CM_OK) {
        rc = MNAP_E_CRYPTO;
        goto out;
    }
    /* The card proves it holds the keys before we send anything under
     * them; its challenge must be the one its counter and AID give, so a
     * replayed INITIALIZE UPDATE answer is refused too. */
    ok = cm_scp03_check_cryptogram(&ctx->scp, CM_DC_CARD_CRYPTOGRAM, hc, cc, ccrypt) == CM_OK;
    ok &= cm_ct_equal(chal, cc, 8);
    if (!ok) {
        mnap__trace_text(ctx, "card cryptogram did not verify");
        rc = MNAP_E_CARD_AUTH;
        goto out;
    }
    if (cm_scp03_cryptogram(&ctx->scp, CM_DC_HOST_CRYPTOGRAM, hc, cc, crypt) != CM_OK ||
        cm_scp03_external_auth(&ctx->scp, level, crypt, ea) != CM_OK) {
        rc = MNAP_E_PARAM;
        goto out;
    }
    /* EXTERNAL AUTHENTICATE: host cryptogram and its C-MAC (ea), no Le. */
    {
        uint8_t ext[4 + 1 + 16];

        mnap__apdu_init(&a, 0x84, 0x82, level, 0x00);
        a.data = ea;
        a.lc = sizeof(ea);
        n = mnap__apdu_encode(&a, ext, sizeof(ext));
        rc = n == sizeof(ext) ? mnap__exchange(ctx, ext, n, r, sizeof(r), &rlen, &sw)
                              : MNAP_E_PARAM;
    }
    if (rc != MNAP_OK)
        goto out;
    if (sw != CM_SW_OK) {
        rc = map_auth_sw(sw);
        goto out;
    }
    ctx->open = true;
    ctx->level = level;
    memcpy(ctx->dek, sk.dek, sk.key_len);
    ctx->dek_len = sk.key_len;
    ctx->pin_verified = false;
    rc = MNAP_OK;
out:
    mnap_keyset_wipe(&sk);
    cm_wipe(crypt, sizeof(crypt));
    cm_wipe(ea, sizeof(ea));
    if (rc != MNAP_OK)
        mnap__session_drop(ctx);
    return rc;
}

/* The card is held from the first SELECT to the end of the session
 * (mnap_close, or any error that ends it): no other program's command can
 * come between. */
mnap_err mnap_am_open(mnap_ctx *ctx, const mnap_keyset *ks, uint8_t level)
{
    mnap_err rc;

    if (ctx == NULL || ks == NULL)
        return MNAP_E_PARAM;
    mnap__op_begin(ctx);
    rc = mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
    if (rc == MNAP_OK)
        rc = mnap__read_limits(ctx);
    if (rc == MNAP_OK)
        rc = open_channel(ctx, ks, level);
    mnap__op_end(ctx);
    return rc;
}

mnap_err mnap_ap_open(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len, const mnap_keyset *ks,
                      uint8_t level)
{
    mnap_err rc = MNAP_OK;

    if (ctx == NULL || ks == NULL || aid == NULL)
        return MNAP_E_PARAM;
    mnap__op_begin(ctx);
    if (!ctx->have_limits) {
        /* The limits come from the AM's GET DATA DF20, once per context. */
        rc = mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
        if (rc == MNAP_OK)
            rc = mnap__read_limits(ctx);
    }
    if (rc == MNAP_OK)
        rc = mnap__select_aid(ctx, aid, aid_len);
    if (rc == MNAP_OK)
        rc = open_channel(ctx, ks, level);
    mnap__op_end(ctx);
    return rc;
}

mnap_err mnap_close(mnap_ctx *ctx)
{
    if (ctx == NULL)
        return MNAP_E_PARAM;
    if (!ctx->open && !ctx->selected)
        return MNAP_OK;
    return mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
}

mnap_err mnap__need_session(const mnap_ctx *ctx, int am)
{
    if (ctx == NULL)
        return MNAP_E_PARAM;
    if (!ctx->open || (am ? !ctx->am_selected : ctx->am_selected))
        return MNAP_E_STATE;
    return MNAP_OK;
}
