/* ap.c: the AP API of business systems (PROTOCOL.md §5): PIN status, verify
 * and change; EF selection; binary and record reads and writes, cut to the
 * card's limits; rotation of the AP's own key set. */
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_sw.h"
#include "cm_tlv.h"

#define PIN_MAX 64

/* Maps the status word of VERIFY / CHANGE REFERENCE DATA. */
static mnap_err pin_result(uint16_t sw, uint8_t *tries_left)
{
    if (sw == CM_SW_OK)
        return MNAP_OK;
    if ((sw & 0xFFF0) == 0x63C0) {
        if (tries_left != NULL)
            *tries_left = (uint8_t)(sw & 0x0F);
        return (sw & 0x0F) ? MNAP_E_PIN_WRONG : MNAP_E_PIN_BLOCKED;
    }
    if (sw == CM_SW_AUTH_BLOCKED) {
        if (tries_left != NULL)
            *tries_left = 0;
        return MNAP_E_PIN_BLOCKED;
    }
    if (sw == CM_SW_WRONG_DATA)
        return MNAP_E_PIN_POLICY;
    return mnap_err_from_sw(sw);
}

mnap_err mnap_ap_pin_status(mnap_ctx *ctx, mnap_pin_status *st)
{
    size_t rlen;
    uint16_t sw = 0;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || st == NULL)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 0);
    if (rc != MNAP_OK)
        return rc;
    memset(st, 0, sizeof(*st));
    mnap__apdu_init(&a, 0x00, 0x20, 0x00, 0x81);
    rc = mnap__send(ctx, &a, NULL, 0, &rlen, &sw);
    if (rc != MNAP_OK)
        return rc;
    if (sw == CM_SW_OK) {
        st->verified = 1;
        return MNAP_OK;
    }
    if ((sw & 0xFFF0) == 0x63C0) {
        st->tries_left = (uint8_t)(sw & 0x0F);
        st->blocked = st->tries_left == 0;
        return MNAP_OK;
    }
    if (sw == CM_SW_AUTH_BLOCKED) {
        st->blocked = 1;
        return MNAP_OK;
    }
    if (sw == CM_SW_REF_DATA_NOT_USABLE) {
        st->not_set = 1;
        return MNAP_OK;
    }
    return mnap_err_from_sw(sw);
}

mnap_err mnap_ap_verify_pin(mnap_ctx *ctx, const char *pin, size_t pin_len, uint8_t *tries_left)
{
    size_t rlen;
    uint16_t sw = 0;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || pin == NULL || pin_len == 0 || pin_len > PIN_MAX)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 0);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x00, 0x20, 0x00, 0x81);
    a.data = (const uint8_t *)pin;
    a.lc = pin_len;
    rc = mnap__send(ctx, &a, NULL, 0, &rlen, &sw);
    if (rc != MNAP_OK)
        return rc;
    return pin_result(sw, tries_left);
}

mnap_err mnap_ap_change_pin(mnap_ctx *ctx, const char *old_pin, size_t old_len,
                            const char *new_pin, size_t new_len, uint8_t *tries_left)
{
    uint8_t data[1 + 2 * PIN_MAX];
    size_t rlen;
    uint16_t sw = 0;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || old_pin == NULL || new_pin == NULL || old_len == 0 || new_len == 0 ||
        old_len > PIN_MAX || new_len > PIN_MAX)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 0);
    if (rc != MNAP_OK)
        return rc;
    data[0] = (uint8_t)old_len;
    memcpy(data + 1, old_pin, old_len);
    memcpy(data + 1 + old_len, new_pin, new_len);
    mnap__apdu_init(&a, 0x00, 0x24, 0x00, 0x81);
    a.data = data;
    a.lc = 1 + old_len + new_len;
    rc = mnap__send(ctx, &a, NULL, 0, &rlen, &sw);
    cm_wipe(data, sizeof(data));
    if (rc != MNAP_OK)
        return rc;
    return pin_result(sw, tries_left);
}

static mnap_err parse_fcp(const uint8_t *r, size_t rlen, mnap_ef_info *info)
{
    cm_tlv fcp, t;
    size_t pos = 0;
    int rc;

    memset(info, 0, sizeof(*info));
    if (cm_tlv_find(r, rlen, 0x62, &fcp) != CM_OK)
        return MNAP_E_PROTOCOL;
    while ((rc = cm_tlv_next(fcp.value, fcp.len, &pos, &t)) == CM_OK) {
        switch (t.tag) {
        case 0x80:
            if (t.len != 2) return MNAP_E_PROTOCOL;
            info->size = (uint16_t)((t.value[0] << 8) | t.value[1]);
            break;
        case 0x82:
            if (t.len < 1) return MNAP_E_PROTOCOL;
            info->type = t.value[0];
            if (t.len == 5) {
                /* 02/06, 21, record length (2), record count (1) */
                info->record_length = t.value[3];
                info->record_count = t.value[4];
            }
            break;
        case 0x83:
            if (t.len != 2) return MNAP_E_PROTOCOL;
            info->fid = (uint16_t)((t.value[0] << 8) | t.value[1]);
            break;
        case 0x88:
            if (t.len != 1) return MNAP_E_PROTOCOL;
            info->sfi = (uint8_t)(t.value[0] >> 3); /* ISO coding: bits 8-4 */
            break;
        default:
            break;
        }
    }
    return rc == 1 ? MNAP_OK : MNAP_E_PROTOCOL;
}

static mnap_err select_ef(mnap_ctx *ctx, uint16_t fid, mnap_ef_info *info)
{
    uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid }, r[256];
    size_t rlen;
    mnap_apdu a;
    mnap_err rc;

    rc = mnap__need_session(ctx, 0);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x00, 0xA4, 0x02, info != NULL ? 0x00 : 0x0C);
    a.data = f;
    a.lc = 2;
    a.ne = info != NULL ? 256 : 0;
    rc = mnap__send_ok(ctx, &a, r, sizeof(r), &rlen);
    if (rc != MNAP_OK || info == NULL)
        return rc;
    return parse_fcp(r, rlen, info);
}

mnap_err mnap_ap_select_ef(mnap_ctx *ctx, uint16_t fid, mnap_ef_info *info)
{
    mnap_ef_info tmp;

    if (ctx == NULL)
        return MNAP_E_PARAM;
    return select_ef(ctx, fid, info != NULL ? info : &tmp);
}

mnap_err mnap_ap_read_binary(mnap_ctx *ctx, uint16_t fid, size_t offset, uint8_t *buf,
                             size_t len, size_t *got)
{
    mnap_ef_info info;
    size_t done = 0, n, rlen, want;
    uint8_t piece[256];
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || got == NULL || (buf == NULL && len))
        return MNAP_E_PARAM;
    *got = 0;
    rc = select_ef(ctx, fid, &info);
    if (rc != MNAP_OK)
        return rc;
    if (info.type != 0x01)
        return MNAP_E_FILE_TYPE;
    if (offset > info.size)
        return MNAP_E_OFFSET;
    want = info.size - offset < len ? info.size - offset : len;
    while (done < want) {
        size_t off = offset + done;
        if (off > 0x7FFF)
            return MNAP_E_OFFSET; /* 15-bit offsets only (P1 bit 8 means SFI) */
        n = want - done < mnap__rsp_room(ctx) ? want - done : mnap__rsp_room(ctx);
        mnap__apdu_init(&a, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off);
        a.ne = n;
        if (n < sizeof(piece) && mnap__t0(ctx)) {
            /* Over T=0 a wrapped READ BINARY is case 4 and travels without
             * its Le (PROTOCOL.md §10): the card answers up to 256 bytes
             * whatever was asked.  Keep the part that was. */
            rc = mnap__send_ok(ctx, &a, piece, sizeof(piece), &rlen);
            if (rc == MNAP_OK) {
                if (rlen > n)
                    rlen = n;
                memcpy(buf + done, piece, rlen);
            }
            cm_wipe(piece, sizeof(piece));
        } else {
            rc = mnap__send_ok(ctx, &a, buf + done, n, &rlen);
        }
        if (rc != MNAP_OK) {
            cm_wipe(buf, done);
            return rc;
        }
        if (rlen == 0)
            break;
        done += rlen;
    }
    *got = done;
    return MNAP_OK;
}

mnap_err mnap_ap_update_binary(mnap_ctx *ctx, uint16_t fid, size_t offset, const uint8_t *data,
                               size_t len)
{
    size_t done = 0, n;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || (data == NULL && len) || len == 0)
        return MNAP_E_PARAM;
    rc = select_ef(ctx, fid, NULL);
    if (rc != MNAP_OK)
        return rc;
    while (done < len) {
        size_t off = offset + done;
        if (off > 0x7FFF)
            return MNAP_E_OFFSET;
        n = len - done < mnap__cmd_room(ctx) ? len - done : mnap__cmd_room(ctx);
        mnap__apdu_init(&a, 0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off);
        a.data = data + done;
        a.lc = n;
        rc = mnap__send_ok(ctx, &a, NULL, 0, NULL);
        if (rc != MNAP_OK)
            return rc;
        done += n;
    }
    return MNAP_OK;
}

mnap_err mnap_ap_read_record(mnap_ctx *ctx, uint16_t fid, uint8_t rec, uint8_t *buf, size_t cap,
                             size_t *len)
{
    uint8_t piece[256];
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || buf == NULL || len == NULL || cap == 0 || rec == 0)
        return MNAP_E_PARAM;
    *len = 0;
    rc = select_ef(ctx, fid, NULL);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x00, 0xB2, rec, 0x04);   /* P2 04: current EF, record rec */
    a.ne = cap < mnap__rsp_room(ctx) ? cap : mnap__rsp_room(ctx);
    if (cap < sizeof(piece) && mnap__t0(ctx)) {
        /* Over T=0 the card cannot see this Le (case 4): it answers the
         * whole record, cut here to cap as Ne would over T=1. */
        rc = mnap__send_ok(ctx, &a, piece, sizeof(piece), len);
        if (rc == MNAP_OK) {
            if (*len > cap)
                *len = cap;
            memcpy(buf, piece, *len);
        }
        cm_wipe(piece, sizeof(piece));
        return rc;
    }
    return mnap__send_ok(ctx, &a, buf, cap, len);
}

mnap_err mnap_ap_update_record(mnap_ctx *ctx, uint16_t fid, uint8_t rec, const uint8_t *data,
                               size_t len)
{
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || data == NULL || len == 0 || len > 255 || rec == 0)
        return MNAP_E_PARAM;
    rc = select_ef(ctx, fid, NULL);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x00, 0xDC, rec, 0x04);
    a.data = data;
    a.lc = len;
    return mnap__send_ok(ctx, &a, NULL, 0, NULL);
}

mnap_err mnap_ap_append_record(mnap_ctx *ctx, uint16_t fid, const uint8_t *data, size_t len)
{
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || data == NULL || len == 0 || len > 255)
        return MNAP_E_PARAM;
    rc = select_ef(ctx, fid, NULL);
    if (rc != MNAP_OK)
        return rc;
    mnap__apdu_init(&a, 0x00, 0xE2, 0x00, 0x00);   /* P2 00: current EF */
    a.data = data;
    a.lc = len;
    return mnap__send_ok(ctx, &a, NULL, 0, NULL);
}

mnap_err mnap_ap_rotate_keys(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *new_keys)
{
    return mnap__replace_keys(ctx, 0, old_kvn, new_keys);
}
