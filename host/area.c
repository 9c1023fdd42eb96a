/* area.c: the area API of the loading terminal (PROTOCOL.md §4): area
 * information, set-up, key rotation, AP list, suspend/resume, delete, PIN
 * unblock, security log, lock/unlock/terminate.  AP loading is in load.c. */
#include <stdlib.h>
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_sw.h"
#include "cm_tlv.h"

static uint32_t be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static mnap_err parse_df20(const uint8_t *r, size_t rlen, mnap_area_info *info)
{
    cm_tlv outer, t;
    size_t pos = 0;
    int rc, seen = 0;

    memset(info, 0, sizeof(*info));
    if (cm_tlv_find(r, rlen, 0xDF20, &outer) != CM_OK)
        return MNAP_E_PROTOCOL;
    while ((rc = cm_tlv_next(outer.value, outer.len, &pos, &t)) == CM_OK) {
        switch (t.tag) {
        case 0x80: if (t.len != 1) return MNAP_E_PROTOCOL; info->state = t.value[0]; seen |= 1; break;
        case 0x81: if (t.len != 4) return MNAP_E_PROTOCOL; info->free_nvm = be(t.value, 4); info->have_am_fields = 1; break;
        case 0x82: if (t.len != 1) return MNAP_E_PROTOCOL; info->ap_count = t.value[0]; break;
        case 0x83: if (t.len != 1) return MNAP_E_PROTOCOL; info->max_aps = t.value[0]; break;
        case 0x84:
            if (t.len != 2) return MNAP_E_PROTOCOL;
            info->version_major = t.value[0];
            info->version_minor = t.value[1];
            break;
        case 0x85: if (t.len != 8) return MNAP_E_PROTOCOL; memcpy(info->serial, t.value, 8); break;
        case 0x86:
            if (t.len != MNAP_DIV_DATA_LEN) return MNAP_E_PROTOCOL;
            memcpy(info->div_data, t.value, MNAP_DIV_DATA_LEN);
            break;
        case 0x87: if (t.len != 2) return MNAP_E_PROTOCOL; info->max_response = (uint16_t)be(t.value, 2); seen |= 2; break;
        case 0x88: if (t.len != 2) return MNAP_E_PROTOCOL; info->max_command = (uint16_t)be(t.value, 2); seen |= 4; break;
        default: break; /* a later version may add tags */
        }
    }
    if (rc != 1 || seen != 7 || info->max_response == 0 || info->max_command == 0)
        return MNAP_E_PROTOCOL;
    return MNAP_OK;
}

/* GET DATA DF20 with whatever is selected / open now. */
static mnap_err get_df20(mnap_ctx *ctx, mnap_area_info *info)
{
    uint8_t r[512];
    size_t rlen;
    mnap_apdu a;
    mnap_err rc;

    mnap__apdu_init(&a, 0x80, 0xCA, 0xDF, 0x20);
    a.ne = 256;
    rc = mnap__send_ok(ctx, &a, r, sizeof(r), &rlen);
    if (rc != MNAP_OK)
        return rc;
    rc = parse_df20(r, rlen, info);
    if (rc != MNAP_OK)
        return rc;
    ctx->max_rsp = info->max_response;
    ctx->max_cmd = info->max_command;
    ctx->have_limits = true;
    return MNAP_OK;
}

mnap_err mnap__read_limits(mnap_ctx *ctx)
{
    mnap_area_info info;

    if (ctx->have_limits)
        return MNAP_OK;
    return get_df20(ctx, &info);
}

mnap_err mnap_area_info_get(mnap_ctx *ctx, mnap_area_info *info)
{
    mnap_err rc;

    if (ctx == NULL || info == NULL)
        return MNAP_E_PARAM;
    if (ctx->open && !ctx->am_selected)
        return MNAP_E_STATE;
    mnap__op_begin(ctx);
    rc = MNAP_OK;
    if (!ctx->open && !ctx->am_selected)
        rc = mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
    if (rc == MNAP_OK)
        rc = get_df20(ctx, info);
    mnap__op_end(ctx);
    return rc;
}

mnap_err mnap_area_setup(mnap_ctx *ctx, const mnap_keyset *region)
{
    /* AREA SETUP is PUT KEY from the transport key set (KVN FF). */
    return mnap__replace_keys(ctx, 1, 0xFF, region);
}

mnap_err mnap_area_rotate_keys(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *region)
{
    return mnap__replace_keys(ctx, 1, old_kvn, region);
}

/* 4F len AID into buf; returns the length. */
static size_t put_aid(uint8_t *buf, const uint8_t *aid, size_t aid_len)
{
    buf[0] = 0x4F;
    buf[1] = (uint8_t)aid_len;
    memcpy(buf + 2, aid, aid_len);
    return 2 + aid_len;
}

static mnap_err aid_command(mnap_ctx *ctx, uint8_t ins, uint8_t p1, uint8_t p2,
                            const uint8_t *aid, size_t aid_len)
{
    uint8_t data[2 + MNAP_AID_MAX];
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || aid == NULL || aid_len < MNAP_AID_MIN || aid_len > MNAP_AID_MAX)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 1);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x80, ins, p1, p2);
    a.data = data;
    a.lc = put_aid(data, aid, aid_len);
    return mnap__send_ok(ctx, &a, NULL, 0, NULL);
}

mnap_err mnap_area_delete_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len)
{
    return aid_command(ctx, 0xE4, 0x00, 0x00, aid, aid_len);
}

mnap_err mnap_area_suspend_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len)
{
    return aid_command(ctx, 0xF0, 0x40, MNAP_AP_SUSPENDED, aid, aid_len);
}

mnap_err mnap_area_resume_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len)
{
    return aid_command(ctx, 0xF0, 0x40, MNAP_AP_ACTIVE, aid, aid_len);
}

static mnap_err parse_e3(const cm_tlv *e3, mnap_ap_entry *e)
{
    cm_tlv t;
    size_t pos = 0;
    int rc, seen = 0;

    memset(e, 0, sizeof(*e));
    while ((rc = cm_tlv_next(e3->value, e3->len, &pos, &t)) == CM_OK) {
        if (t.tag == 0x4F) {
            if (t.len < MNAP_AID_MIN || t.len > MNAP_AID_MAX)
                return MNAP_E_PROTOCOL;
            memcpy(e->aid, t.value, t.len);
            e->aid_len = (uint8_t)t.len;
            seen |= 1;
        } else if (t.tag == 0x9F70 && t.len == 1) {
            e->state = t.value[0];
            seen |= 2;
        } else if (t.tag == 0xDF30 && t.len == 4) {
            e->nvm_used = be(t.value, 4);
            seen |= 4;
        } else if (t.tag == 0xDF31 && t.len == 1) {
            e->pin_tries = t.value[0];
            seen |= 8;
        }
    }
    return (rc == 1 && seen == 15) ? MNAP_OK : MNAP_E_PROTOCOL;
}

mnap_err mnap_area_list_aps(mnap_ctx *ctx, mnap_ap_entry *list, size_t cap, size_t *count)
{
    static const uint8_t filter[2] = { 0x4F, 0x00 };
    uint8_t *buf;
    size_t rlen, pos, n = 0;
    uint16_t sw;
    mnap_apdu a;
    mnap_err rc;
    cm_tlv t;
    int trc, first = 1;

    if (ctx == NULL || count == NULL || (list == NULL && cap))
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 1);
    if (rc != MNAP_OK)
        return rc;
    *count = 0;
    /* A part holds up to the card's max response (65536 at most). */
    buf = malloc(65536);
    if (buf == NULL)
        return MNAP_E_NOMEM;
    for (;;) {
        /* First part P2 02, next parts P2 03 (PROTOCOL.md §4); extended Le
         * 0000 so that the card fills its maximum response. */
        mnap__apdu_init(&a, 0x80, 0xF2, 0x40, first ? 0x02 : 0x03);
        a.data = filter;
        a.lc = sizeof(filter);
        a.ne = 65536;
        rc = mnap__send(ctx, &a, buf, 65536, &rlen, &sw);
        if (rc != MNAP_OK)
            goto out;
        if (first && sw == CM_SW_REF_NOT_FOUND)
            break;              /* no AP at all */
        if (sw != CM_SW_OK && sw != CM_SW_MORE_DATA) {
            rc = mnap_err_from_sw(sw);
            goto out;
        }
        pos = 0;
        while ((trc = cm_tlv_next(buf, rlen, &pos, &t)) == CM_OK) {
            if (t.tag != 0xE3) {
                rc = MNAP_E_PROTOCOL;
                goto out;
            }
            if (n < cap) {
                rc = parse_e3(&t, &list[n]);
                if (rc != MNAP_OK)
                    goto out;
            }
            n++;
        }
        if (trc != 1 || (sw == CM_SW_MORE_DATA && rlen == 0)) {
            rc = MNAP_E_PROTOCOL;  /* malformed, or 6310 without progress */
            goto out;
        }
        if (sw == CM_SW_OK)
            break;
        first = 0;
    }
    *count = n;
    rc = n > cap ? MNAP_E_BUFFER : MNAP_OK;
out:
    free(buf);
    return rc;
}

mnap_err mnap_area_unblock_pin(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len,
                               const char *new_pin, size_t pin_len)
{
    uint8_t data[2 + MNAP_AID_MAX + 3 + 64];
    size_t n;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || aid == NULL || new_pin == NULL || aid_len < MNAP_AID_MIN ||
        aid_len > MNAP_AID_MAX || pin_len == 0 || pin_len > 64)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 1);
    if (rc != MNAP_OK)
        return rc;
    n = put_aid(data, aid, aid_len);
    data[n++] = 0xDF;
    data[n++] = 0x02;
    data[n++] = (uint8_t)pin_len;
    memcpy(data + n, new_pin, pin_len);
    n += pin_len;
    mnap__apdu_init(&a, 0x80, 0x2C, 0x00, 0x81);
    a.data = data;
    a.lc = n;
    rc = mnap__send_ok(ctx, &a, NULL, 0, NULL);
    cm_wipe(data, sizeof(data));
    return rc == MNAP_E_WRONG_DATA ? MNAP_E_PIN_POLICY : rc;
}

static mnap_err parse_df22(const cm_tlv *e, mnap_log_entry *le)
{
    cm_tlv t;
    size_t pos = 0;
    int rc, seen = 0;

    memset(le, 0, sizeof(*le));
    while ((rc = cm_tlv_next(e->value, e->len, &pos, &t)) == CM_OK) {
        if (t.tag == 0x80 && t.len == 4) {
            le->seq = be(t.value, 4);
            seen |= 1;
        } else if (t.tag == 0x81 && t.len == 1) {
            le->event = t.value[0];
            seen |= 2;
        } else if (t.tag == 0x82 && t.len <= MNAP_AID_MAX) {
            memcpy(le->aid, t.value, t.len);
            le->aid_len = (uint8_t)t.len;
        } else if (t.tag == 0x83 && t.len == 1) {
            le->repeat = t.value[0];
            seen |= 4;
        }
    }
    return (rc == 1 && seen == 7) ? MNAP_OK : MNAP_E_PROTOCOL;
}

mnap_err mnap_area_read_log(mnap_ctx *ctx, mnap_log_entry *log, size_t cap, size_t *count)
{
    uint8_t *buf;
    size_t rlen, pos = 0, n = 0;
    mnap_apdu a;
    mnap_err rc;
    cm_tlv outer, t;
    int trc;

    if (ctx == NULL || count == NULL || (log == NULL && cap))
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 1);
    if (rc != MNAP_OK)
        return rc;
    *count = 0;
    buf = malloc(65536);
    if (buf == NULL)
        return MNAP_E_NOMEM;
    mnap__apdu_init(&a, 0x80, 0xCA, 0xDF, 0x21);
    a.ne = 65536;
    rc = mnap__send_ok(ctx, &a, buf, 65536, &rlen);
    if (rc != MNAP_OK)
        goto out;
    rc = MNAP_E_PROTOCOL;
    if (cm_tlv_find(buf, rlen, 0xDF21, &outer) != CM_OK)
        goto out;
    while ((trc = cm_tlv_next(outer.value, outer.len, &pos, &t)) == CM_OK) {
        if (t.tag != 0xDF22)
            goto out;
        if (n < cap) {
            if (parse_df22(&t, &log[n]) != MNAP_OK)
                goto out;
            n++;
        }
    }
    if (trc != 1)
        goto out;
    *count = n;
    rc = MNAP_OK;
out:
    free(buf);
    return rc;
}

const char *mnap_log_event_name(uint8_t event)
{
    static const char *const names[] = {
        "UNKNOWN", "PIN_FAIL", "PIN_BLOCKED", "PIN_RESET", "AUTH_FAIL", "AP_LOADED",
        "AP_DELETED", "KEY_CHANGED", "AREA_STATE", "AP_STATE", "TEAR_RECOVERED", "NVM_CORRUPT"
    };
    return event < sizeof(names) / sizeof(names[0]) ? names[event] : "UNKNOWN";
}

static mnap_err area_state(mnap_ctx *ctx, uint8_t state)
{
    mnap_apdu a;
    mnap_err rc = mnap__need_session(ctx, 1);

    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x80, 0xF0, 0x80, state);
    return mnap__send_ok(ctx, &a, NULL, 0, NULL);
}

mnap_err mnap_area_lock(mnap_ctx *ctx)
{
    return area_state(ctx, MNAP_AREA_LOCKED);
}

mnap_err mnap_area_unlock(mnap_ctx *ctx)
{
    return area_state(ctx, MNAP_AREA_ACTIVE);
}

mnap_err mnap_area_terminate(mnap_ctx *ctx)
{
    mnap_err rc = area_state(ctx, MNAP_AREA_TERMINATED);

    /* The card ends the channel once it has answered (PROTOCOL.md §4). */
    if (rc == MNAP_OK)
        mnap__session_drop(ctx);
    return rc;
}
