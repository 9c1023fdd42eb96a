/* cm_apdu.c: command APDU parsing and coding (see cm_apdu.h). */
#include <string.h>

#include "cm_apdu.h"

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
