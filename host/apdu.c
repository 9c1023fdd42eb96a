/* apdu.c: coding and parsing of command APDUs (ISO/IEC 7816-3/-4 cases 1
 * to 4, short and extended length). */
#include <string.h>

#include "mnap_int.h"

void mnap__apdu_init(mnap_apdu *a, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
    memset(a, 0, sizeof(*a));
    a->cla = cla;
    a->ins = ins;
    a->p1 = p1;
    a->p2 = p2;
}

size_t mnap__apdu_encode(const mnap_apdu *a, uint8_t *out, size_t cap)
{
    size_t n = 4, need;
    bool ext;

    if (a == NULL || out == NULL || a->lc > 65535 || a->ne > 65536 || (a->lc && !a->data))
        return 0;
    ext = a->extended || a->lc > 255 || a->ne > 256;
    need = 4 + (a->lc ? (ext ? 3 : 1) + a->lc : 0) + (a->ne ? (ext ? (a->lc ? 2 : 3) : 1) : 0);
    if (need > cap)
        return 0;
    out[0] = a->cla;
    out[1] = a->ins;
    out[2] = a->p1;
    out[3] = a->p2;
    if (a->lc) {
        if (ext) {
            out[n++] = 0;
            out[n++] = (uint8_t)(a->lc >> 8);
        }
        out[n++] = (uint8_t)a->lc;
        memcpy(out + n, a->data, a->lc);
        n += a->lc;
    }
    if (a->ne) {
        /* 256 and 65536 are coded as 00 and 00 00. */
        if (ext) {
            if (!a->lc)
                out[n++] = 0;
            out[n++] = (uint8_t)((a->ne >> 8) & 0xFF);
        }
        out[n++] = (uint8_t)(a->ne & 0xFF);
    }
    return n;
}

int mnap__apdu_parse(const uint8_t *b, size_t len, mnap_apdu *a)
{
    size_t lc;

    if (b == NULL || a == NULL || len < 4)
        return -1;
    memset(a, 0, sizeof(*a));
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    if (len == 4)
        return 0;
    if (len == 5) {
        a->ne = b[4] ? b[4] : 256;
        return 0;
    }
    if (b[4] != 0) {
        lc = b[4];
        if (len != 5 + lc && len != 6 + lc)
            return -1;
        a->data = b + 5;
        a->lc = lc;
        if (len == 6 + lc)
            a->ne = b[5 + lc] ? b[5 + lc] : 256;
        return 0;
    }
    /* Extended: Le alone is 3 bytes (00 Le1 Le2), Lc 3 bytes: a body of 2
     * (00 xx) is neither, and has no byte 6 to read. */
    if (len < 7)
        return -1;
    a->extended = 1;
    if (len == 7) {
        a->ne = ((size_t)b[5] << 8) | b[6];
        if (a->ne == 0)
            a->ne = 65536;
        return 0;
    }
    lc = ((size_t)b[5] << 8) | b[6];
    if (lc == 0 || (len != 7 + lc && len != 9 + lc))
        return -1;
    a->data = b + 7;
    a->lc = lc;
    if (len == 9 + lc) {
        a->ne = ((size_t)b[7 + lc] << 8) | b[8 + lc];
        if (a->ne == 0)
            a->ne = 65536;
    }
    return 0;
}

size_t mnap__apdu_t0_len(const uint8_t *buf, size_t len)
{
    mnap_apdu a;

    /* T=0 (ISO/IEC 7816-3 12.2) carries short APDUs only and has no case 4:
     * the header and the data go out, and the card announces its answer
     * with 61xx, which mnap__exchange fetches with GET RESPONSE. */
    if (mnap__apdu_parse(buf, len, &a) != 0 || a.extended)
        return 0;
    return (a.lc && a.ne) ? 5 + a.lc : len;
}
