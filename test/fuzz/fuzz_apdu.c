/* fuzz_apdu.c: libFuzzer target for the command-APDU codec (common/cm_apdu.c).
 *
 * Two directions, both on every input:
 *  - the input as an APDU: parse it (from an exact-size heap copy, so
 *    AddressSanitizer sees any read past the end); when it parses, the data
 *    lies inside the input, the view is consistent (case, Nc, Ne), and
 *    encoding the view gives back the input byte for byte;
 *  - the input as a view x: the first bytes give the header, Nc, Ne and the
 *    extended flag, the rest the data; when x can be coded, encode(x) has
 *    the predicted length and parse(encode(x)) == x. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_apdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_apdu(const uint8_t *data, size_t size)
{
    uint8_t *in = malloc(size ? size : 1);
    uint8_t *out = malloc(size + 16);
    cm_apdu a;
    size_t n;

    if (in == NULL || out == NULL)
        abort();
    memcpy(in, data, size);
    if (cm_apdu_parse(in, size, &a) == CM_OK) {
        if (a.kase < 1 || a.kase > 4 || (a.nc != 0) != (a.kase >= 3) ||
            (a.ne != 0) != (a.kase == 2 || a.kase == 4) || a.ne > CM_APDU_MAX_NE)
            abort();
        if (a.nc && (a.data < in || a.data + a.nc > in + size))
            abort();
        n = cm_apdu_encode(&a, out, size + 16);
        if (n != size || memcmp(out, in, size) != 0)
            abort();
    }
    free(in);
    free(out);
}

static void as_view(const uint8_t *data, size_t size)
{
    cm_apdu x, y;
    uint8_t *out;
    size_t n, len;

    if (size < 9)
        return;
    memset(&x, 0, sizeof(x));
    x.cla = data[0];
    x.ins = data[1];
    x.p1 = data[2];
    x.p2 = data[3];
    x.nc = ((size_t)data[4] << 8 | data[5]) % (size - 9 + 1);   /* data that exists */
    x.ne = ((size_t)data[6] << 8 | data[7]) + (data[8] & 0x02 ? 1 : 0);
    if (x.ne > 0 && (data[8] & 0x04))
        x.ne = CM_APDU_MAX_NE;
    x.extended = data[8] & 0x01;
    x.data = x.nc ? data + 9 : NULL;
    len = cm_apdu_encoded_len(&x);
    if (len == 0)
        abort();                    /* every such view can be coded */
    out = malloc(len);
    if (out == NULL)
        abort();
    n = cm_apdu_encode(&x, out, len);
    if (n != len || cm_apdu_encode(&x, out, len - 1) != 0)
        abort();
    if (cm_apdu_parse(out, n, &y) != CM_OK)
        abort();
    if (y.cla != x.cla || y.ins != x.ins || y.p1 != x.p1 || y.p2 != x.p2 || y.nc != x.nc ||
        y.ne != x.ne || (x.nc && memcmp(y.data, x.data, x.nc) != 0) ||
        y.extended != cm_apdu_is_extended(&x) || y.kase != (x.nc ? 3 : 1) + (x.ne ? 1 : 0))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_apdu(data, size);
    as_view(data, size);
    return 0;
}
