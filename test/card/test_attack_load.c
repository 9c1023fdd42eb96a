/* test_attack_load.c: LOAD AP abuse by a (compromised or careless) loading
 * terminal that holds the region keys (docs/security.md):
 *
 *   - two loads interleaved block by block: the second block 00 is out of
 *     order (6A86), both loads are dropped;
 *   - an image over 32 KiB: 6A80, nothing installed;
 *   - an image whose EF table overlaps: an A3 template whose length swallows
 *     the next one, the last one running past the end of the image, an EF
 *     field running past its template: 6A80 each;
 *   - an AID that exists, or is a prefix of one (with test_proto_load.c's
 *     test_load_aid_collisions): 6A89.
 *
 * Every refusal leaves the card's state unchanged (ct_snapshot), and the
 * correct image still loads after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static uint8_t img[CH_IMAGE_MAX + 4096];
static uint8_t blk[4096];

static size_t build(ch_card *c, const ch_ap *ap, uint8_t *out)
{
    return ct_build_image(c, ap, out, CH_IMAGE_MAX);
}

/* LOAD AP block number p2 with data, wrapped on the open AM channel. */
static uint16_t block(ch_card *c, uint8_t p1, uint8_t p2, const uint8_t *data, size_t len)
{
    size_t n = ch_apdu(blk, sizeof(blk), 0x80, 0xE8, p1, p2, data, len, -1);
    assert_true(n > 0);
    return ch_cmd(c, blk, n, NULL);
}

static void test_interleaved_loads(void **state)
{
    ch_card *c = *state;
    ch_ap a, b;
    static uint8_t ib[CH_IMAGE_MAX];
    size_t na, nb;
    ct_snap s;

    ch_ap_default(&a, 2);
    ch_ap_default(&b, 3);
    na = build(c, &a, img);
    nb = build(c, &b, ib);
    s = ct_snapshot(c);
    ASSERT_SW(block(c, 0x00, 0x00, img, 100), 0x9000);
    ASSERT_SW(block(c, 0x00, 0x00, ib, 100), 0x6A86);       /* a second load starts */
    ASSERT_SW(block(c, 0x80, 0x01, img + 100, na - 100), 0x6A86);
    ASSERT_SW(block(c, 0x80, 0x01, ib + 100, nb - 100), 0x6A86);
    ASSERT_SW(ch_select(c, a.aid, a.aid_len, NULL), 0x6A82);
    ASSERT_SW(ch_select(c, b.aid, b.aid_len, NULL), 0x6A82);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    /* One after the other, both load. */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, na, 100, 0), 0x9000);
    ASSERT_SW(ch_load_image(c, ib, nb, 100, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &a, 0x33), 0x9000);
    ASSERT_SW(ch_open_ap(c, &b, 0x33), 0x9000);
}

/* 32 KiB plus one byte, in blocks of 2048: refused with 6A80 no later than
 * the last block, nothing installed. */
static void test_oversize_image(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n, off = 0;
    uint8_t p2 = 0;
    uint16_t sw = 0x9000;
    ct_snap s;

    ch_ap_default(&ap, 2);
    n = build(c, &ap, img);
    /* A real image at the front, then filler up to 32769 bytes. */
    memset(img + n, 0x00, CH_IMAGE_MAX + 1 - n);
    n = CH_IMAGE_MAX + 1;
    s = ct_snapshot(c);
    while (off < n && sw == 0x9000) {
        size_t len = n - off < 2048 ? n - off : 2048;
        sw = block(c, off + len == n ? 0x80 : 0x00, p2++, img + off, len);
        off += len;
    }
    ASSERT_SW(sw, 0x6A80);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x6A82);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
}

/* Offset of the length byte of the k-th top-level TLV with tag (one-byte
 * tags; lengths in one byte or 81 xx). */
static size_t tlv_len_at(const uint8_t *p, size_t n, uint8_t tag, unsigned k, size_t *vlen)
{
    size_t pos = 0;
    while (pos + 2 <= n) {
        size_t la = pos + 1, hl = 2, l = p[pos + 1];
        if (l == 0x81) {
            la = pos + 2;
            l = p[pos + 2];
            hl = 3;
        } else if (l == 0x82) {
            l = (size_t)p[pos + 2] << 8 | p[pos + 3];
            hl = 4;
            la = 0;
        }
        if (p[pos] == tag && k-- == 0) {
            assert_true(la != 0);
            *vlen = l;
            return la;
        }
        pos += hl + l;
    }
    fail_msg("TLV %02X not found", tag);
    return 0;
}

/* Loads img[0..n) refused with 6A80, state unchanged. */
static void refused(ch_card *c, size_t n, const char *what)
{
    ct_snap s = ct_snapshot(c);
    uint16_t sw = ch_load_image(c, img, n, 2048, 0);
    if (sw != 0x6A80)
        print_error("%s: SW %04X, expected 6A80\n", what, sw);
    ASSERT_SW(sw, 0x6A80);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
}

static void test_overlapping_ef_table(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n, la, vl;
    unsigned last;

    ch_ap_default(&ap, 2);
    last = (unsigned)ap.n_efs - 1;

    /* The first EF template swallows the start of the second. */
    n = build(c, &ap, img);
    la = tlv_len_at(img, n, 0xA3, 0, &vl);
    assert_true(vl + 4 <= 0xFF);
    img[la] = (uint8_t)(vl + 4);
    if (vl < 0x80 && vl + 4 >= 0x80)
        fail_msg("length form would change");
    refused(c, n, "A3 overlapping the next A3");

    /* The last template runs past the end of the image. */
    n = build(c, &ap, img);
    la = tlv_len_at(img, n, 0xA3, last, &vl);
    img[la] = (uint8_t)(vl + 1);
    refused(c, n, "last A3 past the end of the image");

    /* A field inside the first template (83 FID) runs past the template. */
    n = build(c, &ap, img);
    la = tlv_len_at(img, n, 0xA3, 0, &vl);
    assert_int_equal(img[la + 1], 0x83);
    img[la + 2] = (uint8_t)(vl + 1);
    refused(c, n, "FID field past its A3");

    /* Two EFs on one FID, or on one SFI (their data would be one file). */
    ch_ap_default(&ap, 2);
    ap.efs[1].fid = ap.efs[0].fid;
    refused(c, build(c, &ap, img), "duplicate FID");
    ch_ap_default(&ap, 2);
    ap.efs[1].sfi = ap.efs[0].sfi;
    refused(c, build(c, &ap, img), "duplicate SFI");

    /* The intact image loads. */
    ch_ap_default(&ap, 2);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap, img), 2048, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

/* The loaded AP 1's AID again, and AIDs prefixing it or prefixed by it. */
static void test_duplicate_aid(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ct_snap s = ct_snapshot(c);

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap, img), 2048, 0), 0x6A89);
    ap.aid[ap.aid_len++] = 0x01;                              /* AP 1's AID + 1 byte */
    ASSERT_SW(ch_load_image(c, img, build(c, &ap, img), 2048, 0), 0x6A89);
    ch_ap_default(&ap, 1);
    memcpy(ap.aid, ch_am_aid, sizeof(ch_am_aid));             /* the AM's AID */
    ap.aid_len = sizeof(ch_am_aid);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap, img), 2048, 0), 0x6A89);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interleaved_loads, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_oversize_image, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_overlapping_ef_table, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_aid, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("attack_load", tests, NULL, NULL);
}
