/* cm_apdu.c: command APDU parsing and coding (see cm_apdu.h). */
#include <string.h>

#include "cm_apdu.h"

/* A length field of w bytes (1 short, 2 extended after the 00 marker). */
static size_t field(const uint8_t *p, size_t w)
{
    return w == 2 ? ((size_t)p[0] << 8 | p[1]) : p[0];
}

/* An Le field: 00 is 256, 00 00 is 65536. */
static size_t le_field(const uint8_t *p, size_t w)
{
    size_t f = field(p, w);

    return f ? f : (size_t)256 << (8 * (w - 1));
}

int cm_apdu_parse(const uint8_t *b, size_t len, cm_apdu *a)
{
    const uint8_t *p = b + 4;
    size_t body, w = 1, nc = 0, ne = 0;

    if (b == NULL || a == NULL)
        return CM_E_PARAM;
    memset(a, 0, sizeof(*a));
    if (len < 4)
        return CM_E_FORMAT;
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    body = len - 4;
    if (body > 1 && b[4] == 0) {
        /* Extended: 00 then Le1 Le2 alone, or Lc1 Lc2 data [Le1 Le2].  A
         * body of 2 (00 xx) is neither.  (A short Lc is never 00.) */
        if (body < 3)
            return CM_E_FORMAT;
        a->extended = 1;
        w = 2;
        p++;
        body--;
    }
    if (body == w) {                                   /* case 2 */
        ne = le_field(p, w);
    } else if (body != 0) {                            /* case 3 or 4 */
        nc = field(p, w);
        if (nc == 0)
            return CM_E_FORMAT;                        /* Lc 00 00 */
        if (body == w + nc + w)
            ne = le_field(p + w + nc, w);
        else if (body != w + nc)
            return CM_E_FORMAT;                        /* lengths do not add up */
        a->data = p + w;
    }
    a->nc = nc;
    a->ne = ne;
    a->kase = (uint8_t)((nc ? 3 : 1) + (ne ? 1 : 0));
    return CM_OK;
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
