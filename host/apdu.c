/* apdu.c: libmnap's public mnap_apdu over the one codec of common/cm_apdu.c
 * (ISO/IEC 7816-3/-4 cases 1 to 4, short and extended length), and what
 * T=0 sends of a coded APDU. */
#include <string.h>

#include "cm_apdu.h"
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
    cm_apdu v;

    if (a == NULL || (a->lc && !a->data))
        return 0;
    memset(&v, 0, sizeof(v));
    v.cla = a->cla;
    v.ins = a->ins;
    v.p1 = a->p1;
    v.p2 = a->p2;
    v.data = a->data;
    v.nc = a->lc;
    v.ne = a->ne;
    v.extended = a->extended != 0;
    return cm_apdu_encode(&v, out, cap);
}

int mnap__apdu_parse(const uint8_t *b, size_t len, mnap_apdu *a)
{
    cm_apdu v;

    if (a == NULL || cm_apdu_parse(b, len, &v) != CM_OK)
        return -1;
    memset(a, 0, sizeof(*a));
    a->cla = v.cla;
    a->ins = v.ins;
    a->p1 = v.p1;
    a->p2 = v.p2;
    a->data = v.data;
    a->lc = v.nc;
    a->ne = v.ne;
    a->extended = v.extended;
    return 0;
}

size_t mnap__apdu_t0_len(const uint8_t *buf, size_t len)
{
    cm_apdu a;

    /* T=0 (ISO/IEC 7816-3 12.2) carries short APDUs only and has no case 4:
     * the header and the data go out, and the card announces its answer
     * with 61xx, which mnap__exchange fetches with GET RESPONSE. */
    if (cm_apdu_parse(buf, len, &a) != CM_OK || a.extended)
        return 0;
    return a.kase == 4 ? cm_apdu_head_len(&a) + a.nc : len;
}
