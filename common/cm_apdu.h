/* cm_apdu.h: the one command-APDU codec of mnap (ISO/IEC 7816-4 5.1 and
 * 7816-3 12.1), shared by the card's framing (card/mc_apdu.c), SCP03 command
 * wrapping (cm_scp03.c), libmnap's APDU layer (host/apdu.c) and the test
 * harness.  Nothing else in the project parses or builds a command APDU.
 *
 * The four cases, short and extended:
 *   case 1   CLA INS P1 P2
 *   case 2   header Le               (short: 1 byte; extended: 00 Le1 Le2)
 *   case 3   header Lc data          (short: Lc 01..FF; extended: 00 Lc1 Lc2)
 *   case 4   header Lc data Le       (extended: 00 Lc1 Lc2 data Le1 Le2)
 * Le 00 means 256 (short) and 00 00 means 65536 (extended).  Malformed and
 * refused with CM_E_FORMAT: fewer than 4 bytes; a body of 2 bytes, or of 3
 * after an extended 00 that are not a case 2E Le; Lc 00 (short, it would be
 * the extended marker followed by too little) or 00 00 (extended); lengths
 * that do not add up (data shorter or longer than Lc, a trailing Le of the
 * wrong size for the form). */
#ifndef CM_APDU_H
#define CM_APDU_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "cm_err.h"

#define CM_APDU_MAX_NC 65535u
#define CM_APDU_MAX_NE 65536u

/* A view of one command APDU.  After cm_apdu_parse, data points into the
 * parsed buffer (NULL when Nc is 0). */
typedef struct cm_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t nc;          /* Nc: command data bytes, 0..65535 */
    size_t ne;          /* Ne: 0 when there is no Le field, else 1..65536 */
    uint8_t kase;       /* 1..4 (set by cm_apdu_parse; cm_apdu_encode ignores it) */
    uint8_t extended;   /* parse: the APDU came in the extended form.  encode:
                           code it extended even when the short form could
                           carry it (it is extended anyway for Nc > 255 or
                           Ne > 256) */
} cm_apdu;

/* Parses len bytes at buf.  CM_OK, or CM_E_FORMAT (then Nc, Ne and data are
 * 0 and only the header may be read), or CM_E_PARAM for NULL.  Inline: on
 * the card's path of every command its view stays in registers (no frame
 * of its own, nothing on the stack below the handlers). */
static inline int cm_apdu_parse(const uint8_t *buf, size_t len, cm_apdu *a);

/* Whether a is coded in the extended form (never case 1). */
int cm_apdu_is_extended(const cm_apdu *a);

/* Bytes before the command data: the header and the Lc field (4 for cases 1
 * and 2, 5 short, 7 extended). */
size_t cm_apdu_head_len(const cm_apdu *a);

/* Bytes of the whole coded APDU; 0 when a cannot be coded (Nc > 65535,
 * Ne > 65536). */
size_t cm_apdu_encoded_len(const cm_apdu *a);

/* Codes a into out (cap bytes): returns its length, or 0 when it cannot be
 * coded or does not fit.  With data NULL and Nc > 0 the Nc data bytes at
 * out + cm_apdu_head_len(a) are left for the caller to fill in (SCP03
 * wrapping encrypts and MACs them in place). */
size_t cm_apdu_encode(const cm_apdu *a, uint8_t *out, size_t cap);

/* --- the parser (inline) ------------------------------------------------ */

static inline size_t cm_apdu__get16(const uint8_t *p)
{
    return ((size_t)p[0] << 8) | p[1];
}

static inline int cm_apdu_parse(const uint8_t *b, size_t len, cm_apdu *a)
{
    size_t nc = 0, ne = 0, at = 5;
    uint8_t ext = 0;

    if (CM_NULL(b) || CM_NULL(a))
        return CM_E_PARAM;
    if (len < 4) {
        memset(a, 0, sizeof(*a));
        return CM_E_FORMAT;
    }
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    if (len == 5) {                                     /* case 2 short */
        ne = b[4] ? b[4] : 256;
    } else if (len > 5 && b[4] != 0) {                  /* case 3 or 4 short */
        nc = b[4];
        if (len == 6 + nc)
            ne = b[5 + nc] ? b[5 + nc] : 256;
        else if (len != 5 + nc)
            goto bad;                                   /* lengths do not add up */
    } else if (len > 5) {
        /* Extended: 00 then Le1 Le2 alone, or Lc1 Lc2 data [Le1 Le2].  A
         * body of 2 (00 xx) is neither; nor is Lc 00 00. */
        if (len < 7)
            goto bad;
        ext = 1;
        if (len == 7) {                                 /* case 2E */
            ne = cm_apdu__get16(b + 5);
            if (ne == 0)
                ne = 65536;
        } else {
            nc = cm_apdu__get16(b + 5);
            at = 7;
            if (nc == 0)
                goto bad;
            if (len == 9 + nc) {
                ne = cm_apdu__get16(b + 7 + nc);
                if (ne == 0)
                    ne = 65536;
            } else if (len != 7 + nc) {
                goto bad;
            }
        }
    }
    a->data = nc ? b + at : NULL;
    a->nc = nc;
    a->ne = ne;
    a->extended = ext;
    a->kase = (uint8_t)((nc ? 3 : 1) + (ne ? 1 : 0));
    return CM_OK;
bad:
    a->data = NULL;
    a->nc = 0;
    a->ne = 0;
    a->extended = 0;
    a->kase = 0;
    return CM_E_FORMAT;
}

#endif
