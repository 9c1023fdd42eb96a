/* cm_apdu.c: command APDU parsing and coding (see cm_apdu.h). */
#include <string.h>

#include "cm_apdu.h"

static size_t get16(const uint8_t *b)
{
    return ((size_t)b[0] << 8) | b[1];
}

int cm_apdu_parse(const uint8_t *b, size_t len, cm_apdu *a)
{
    size_t nc;

    if (b == NULL || a == NULL)
        return CM_E_PARAM;
    memset(a, 0, sizeof(*a));
    if (len < 4)
        return CM_E_FORMAT;
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    a->kase = 1;
    if (len == 4)
        return CM_OK;
    if (len == 5) {                                     /* case 2 short */
        a->kase = 2;
        a->ne = b[4] ? b[4] : 256;
        return CM_OK;
    }
    if (b[4] != 0) {                                    /* case 3 or 4 short */
        nc = b[4];
        if (len != 5 + nc && len != 6 + nc)
            goto bad;
        a->data = b + 5;
        a->nc = nc;
        a->kase = 3;
        if (len == 6 + nc) {
            a->kase = 4;
            a->ne = b[5 + nc] ? b[5 + nc] : 256;
        }
        return CM_OK;
    }
    /* Extended: 00 then Le1 Le2 alone, or Lc1 Lc2 data [Le1 Le2].  A body
     * of 2 (00 xx) is neither. */
    if (len < 7)
        goto bad;
    a->extended = 1;
    if (len == 7) {                                     /* case 2E */
        a->kase = 2;
        a->ne = get16(b + 5) ? get16(b + 5) : 65536;
        return CM_OK;
    }
    nc = get16(b + 5);
    if (nc == 0 || (len != 7 + nc && len != 9 + nc))
        goto bad;
    a->data = b + 7;
    a->nc = nc;
    a->kase = 3;
    if (len == 9 + nc) {
        a->kase = 4;
        a->ne = get16(b + 7 + nc) ? get16(b + 7 + nc) : 65536;
    }
    return CM_OK;
bad:
    a->data = NULL;
    a->nc = 0;
    a->ne = 0;
    a->kase = 0;
    a->extended = 0;
    return CM_E_FORMAT;
}

int cm_apdu_is_extended(const cm_apdu *a)
{
    /* Case 1 has no length field to be extended. */
    if (a->nc == 0 && a->ne == 0)
        return 0;
    return a->extended || a->nc > 255 || a->ne > 256;
}

size_t cm_apdu_head_len(const cm_apdu *a)
{
    return a->nc ? (cm_apdu_is_extended(a) ? 7u : 5u) : 4u;
}

size_t cm_apdu_encoded_len(const cm_apdu *a)
{
    int ext;

    if (a == NULL || a->nc > CM_APDU_MAX_NC || a->ne > CM_APDU_MAX_NE)
        return 0;
    ext = cm_apdu_is_extended(a);
    return cm_apdu_head_len(a) + a->nc + (a->ne ? (ext ? (a->nc ? 2u : 3u) : 1u) : 0u);
}

size_t cm_apdu_encode(const cm_apdu *a, uint8_t *out, size_t cap)
{
    size_t n = 4, need = cm_apdu_encoded_len(a);
    int ext;

    if (need == 0 || out == NULL || need > cap)
        return 0;
    ext = cm_apdu_is_extended(a);
    out[0] = a->cla;
    out[1] = a->ins;
    out[2] = a->p1;
    out[3] = a->p2;
    if (a->nc) {
        if (ext) {
            out[n++] = 0;
            out[n++] = (uint8_t)(a->nc >> 8);
        }
        out[n++] = (uint8_t)a->nc;
        if (a->data != NULL)
            memcpy(out + n, a->data, a->nc);
        n += a->nc;
    }
    if (a->ne) {
        /* 256 and 65536 are coded as 00 and 00 00. */
        if (ext) {
            if (!a->nc)
                out[n++] = 0;
            out[n++] = (uint8_t)((a->ne >> 8) & 0xFF);
        }
        out[n++] = (uint8_t)(a->ne & 0xFF);
    }
    return n;
}
