/* fuzz_tlv.c: libFuzzer target for the BER-TLV reader (common/cm_tlv.c).
 *
 * The input is copied into an exact-size heap block so AddressSanitizer sees
 * any read past the end.  Invariants checked: walking the top level never
 * goes backwards or past the end; every value lies inside the input; a list
 * that validates at depth d also validates at every depth below d; the
 * writer reproduces what the reader parsed, byte for byte, for canonical
 * length encodings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = malloc(size ? size : 1);
    uint8_t *out = malloc(size + 16);
    size_t pos = 0;
    cm_tlv t;
    int rc, valid_deep, d;
    cm_tlv_writer w;

    if (in == NULL || out == NULL)
        abort();
    memcpy(in, data, size);
    cm_tlv_writer_init(&w, out, size + 16);
    while ((rc = cm_tlv_next(in, size, &pos, &t)) == CM_OK) {
        if (t.value < in || t.value + t.len > in + size || pos > size)
            abort();
        cm_tlv_put(&w, t.tag, t.value, t.len);
    }
    if (rc == 1 && pos != size)
        abort();
    /* Re-encoding is exact when every length used its shortest form. */
    if (rc == 1 && w.error == CM_OK && w.pos == size && memcmp(out, in, size) != 0)
        abort();
    valid_deep = cm_tlv_validate(in, size, 8) == CM_OK;
    for (d = 0; d < 8 && valid_deep; d++)
        if (cm_tlv_validate(in, size, (unsigned)d) != CM_OK)
            abort();
    (void)cm_tlv_find(in, size, 0x4F, &t);
    free(in);
    free(out);
    return 0;
}
