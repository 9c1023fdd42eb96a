/* fuzz_manifest.c: libFuzzer target for the AP manifest compiler
 * (tools/lib/manifest*.c and its JSON reader).
 *
 * The input is the manifest text.  Checked: no crash, leak or out-of-bounds
 * access; the report is consistent (problems sorted by position, at most
 * cap kept, messages terminated, count >= kept, an invalid manifest reports
 * at least one problem); a manifest that passes the check builds (unless
 * its key set is the one name the callback does not know) into an image of
 * exactly mt_manifest_image_size() bytes, at most 32 KiB, that is valid
 * BER-TLV; and the card (the in-process runtime, restored to an active area
 * with an AM channel, see test/support/fuzz_card.h) accepts that image with
 * LOAD AP, or refuses it only for room (6A84) or an AID clash (6A89): the
 * compiler must not pass what the card calls wrong data.  The load also runs
 * the card invariants of fuzz_card. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_tlv.h"
#include "fuzz_card.h"
#include "manifest.h"
#include "mc_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPORT_CAP 8

static void fail(const char *msg)
{
    fprintf(stderr, "\n*** manifest invariant violated: %s\n", msg);
    abort();
}

/* Every key set name resolves (to 16-byte keys) except "missing". */
static int keys(void *ctx, const char *name, cm_keyset *out)
{
    (void)ctx;
    if (strcmp(name, "missing") == 0)
        return 1;
    ch_make_keys(out, 0x31, 0x60, 16);
    return 0;
}

static void check_report(const mt_manifest_report *r, int rc)
{
    size_t kept = r->count < r->cap ? r->count : r->cap;

    if (rc == MT_MANIFEST_E_INVALID && r->count == 0)
        fail("an invalid manifest with no problem reported");
    for (size_t i = 0; i < kept; i++) {
        const mt_manifest_problem *p = &r->items[i];
        if (memchr(p->message, '\0', sizeof(p->message)) == NULL || p->message[0] == '\0')
            fail("a problem without a terminated message");
        if (p->line < 0 || p->column < 0)
            fail("a negative position");
        if (i > 0 && (r->items[i - 1].line > p->line ||
                      (r->items[i - 1].line == p->line && r->items[i - 1].column > p->column)))
            fail("problems not sorted by position");
    }
}

/* Loads the image on the card in blocks of 2048 through the AM channel. */
static void load_on_card(const uint8_t *img, size_t len)
{
    static uint8_t apdu[2100];
    uint16_t sw = 0x9000;

    fz_card_begin(FZ_START_AM);
    for (size_t off = 0, blk = 0; off < len; off += 2048, blk++) {
        size_t k = len - off < 2048 ? len - off : 2048;
        size_t n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, off + k == len ? 0x80 : 0x00,
                           (uint8_t)blk, img + off, k, -1);
        if (n == 0)
            fail("cannot frame LOAD AP");
        sw = fz_card_apdu(FZ_SEND_WRAPPED, apdu, n, 0);
        if (sw != 0x9000)
            break;
    }
    if (getenv("FUZZ_MANIFEST_VERBOSE") != NULL)
        fprintf(stderr, "LOAD AP of a %zu-byte image: %04X\n", len, sw);
    if (sw != 0x9000 && sw != 0x6A84 && sw != 0x6A89) {
        fprintf(stderr, "card answered %04X to LOAD AP of a checked manifest's image\n", sw);
        fail("the compiler passed an image the card refuses");
    }
    fz_card_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mt_manifest m;
    static uint8_t img[MT_MANIFEST_MAX_IMAGE + 1024];
    mt_manifest_problem items[REPORT_CAP];
    mt_manifest_report r;
    cm_keyset region;
    cm_aes aes = {mc_sim_openssl_aes, NULL};
    char *text = malloc(size ? size : 1);
    size_t out_len = 0;
    int rc;

    if (text == NULL)
        abort();
    memcpy(text, data, size);   /* exact size, not terminated: ASan sees overreads */
    mt_manifest_report_init(&r, items, REPORT_CAP);
    rc = mt_manifest_check(text, size, &m, &r);
    check_report(&r, rc);
    if (rc == MT_MANIFEST_OK) {
        if (r.count != 0)
            fail("a valid manifest with problems reported");
        ch_region_keys(&region);
        mt_manifest_report_init(&r, items, REPORT_CAP);
        rc = mt_manifest_build(&m, keys, NULL, &aes, region.dek, region.key_len, img,
                                 sizeof(img), &out_len, &r);
        check_report(&r, rc);
        if (rc == MT_MANIFEST_OK) {
            if (out_len != mt_manifest_image_size(&m, 16))
                fail("image size differs from mt_manifest_image_size");
            if (out_len > MT_MANIFEST_MAX_IMAGE)
                fail("image larger than 32 KiB");
            /* Depth 0: A1 is constructed by its tag but holds key set data. */
            if (cm_tlv_validate(img, out_len, 0) != CM_OK)
                fail("image is not valid BER-TLV");
            load_on_card(img, out_len);
        } else if (rc != MT_MANIFEST_E_KEY || strcmp(m.key_set, "missing") != 0) {
            fprintf(stderr, "build returned %d\n", rc);
            fail("a checked manifest did not build");
        }
        mt_manifest_wipe(&m);
    } else if (rc != MT_MANIFEST_E_INVALID) {
        fprintf(stderr, "check returned %d\n", rc);
        fail("check returned neither OK nor INVALID for text input");
    }
    free(text);
    return 0;
}
