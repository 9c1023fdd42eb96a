/* test_internal_heap.c: the interpreter's heap of AP regions (card/mc_layout.c,
 * card/mc_install.c): free-byte accounting (GET DATA DF20 tag 81, GET STATUS
 * DF30), first-fit reuse of a deleted AP's hole, wiping of freed regions, the
 * in-place install of a large image over its own staging copy, 6A84 when no
 * run of free heap is large enough, and the full 16-AP table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "mc_int.h"

static uint32_t free_bytes(ch_card *c)
{
    ch_rsp r;
    const uint8_t *d, *v;
    size_t dl, vl;

    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    d = ch_tlv_find(r.data, r.len, 0xDF20, &dl);
    assert_non_null(d);
    v = ch_tlv_find(d, dl, 0x81, &vl);
    assert_non_null(v);
    assert_int_equal(vl, 4);
    return mc_get32(v);
}

static uint32_t heap_size(ch_card *c)
{
    return mc_store_data_size(&c->sc.card) - MC_OFF_HEAP;
}

/* The slot record of the AP with this AID (white-box). */
static void slot_of(ch_card *c, const ch_ap *ap, mc_slot_rec *s)
{
    unsigned slot;
    assert_int_equal(mc_find_aid(&c->sc.card, ap->aid, ap->aid_len, &slot, s, false), MC_OK);
    assert_true(slot < MC_MAX_APS);
}

static uint16_t delete_ap(ch_card *c, const ch_ap *ap)
{
    ASSERT_SW(ch_open_am(c), 0x9000);
    return ch_cmdf(c, NULL, "80E40000 07 4F05 %02X%02X%02X%02X%02X", ap->aid[0], ap->aid[1],
                   ap->aid[2], ap->aid[3], ap->aid[4]);
}

static void test_accounting_and_hole_reuse(void **state)
{
    ch_card *c = *state;
    ch_ap ap[4];
    mc_slot_rec s1, s2, s3, s4;
    uint32_t total = heap_size(c), r, i;
    uint8_t buf[64];

    assert_int_equal(free_bytes(c), total);
    for (i = 0; i < 3; i++) {
        ch_ap_default(&ap[i], 1 + i);
        ASSERT_SW(ch_open_am(c), 0x9000);
        ASSERT_SW(ch_load_ap(c, &ap[i]), 0x9000);
    }
    slot_of(c, &ap[0], &s1);
    slot_of(c, &ap[1], &s2);
    slot_of(c, &ap[2], &s3);
    r = mc_get32(s1.region_len);
    /* 6 EF records + 64 + 32 + 16 data bytes, and the record EFs 16 x 3,
     * 8 x 3 and 10 x 2 in rec_count + 1 slots of rec_len + 8 (docs/nvm.md) */
    assert_int_equal(r, 6 * sizeof(mc_ef_rec) + 64 + 32 + 16 + 4 * 24 + 4 * 16 + 3 * 18);
    assert_int_equal(mc_get32(s2.region_len), r);
    assert_int_equal(free_bytes(c), total - 3 * r);
    /* regions do not overlap */
    assert_true(mc_get32(s1.region_off) + r <= mc_get32(s2.region_off) ||
                mc_get32(s2.region_off) + r <= mc_get32(s1.region_off));
    /* delete the middle one: its region is wiped to FF */
    ASSERT_SW(delete_ap(c, &ap[1]), 0x9000);
    assert_int_equal(free_bytes(c), total - 2 * r);
    for (i = 0; i < r; i += sizeof(buf)) {
        uint32_t n = r - i < sizeof(buf) ? r - i : sizeof(buf), k;
        assert_int_equal(mc_store_read(&c->sc.card, mc_get32(s2.region_off) + i, buf, n), MC_OK);
        for (k = 0; k < n; k++)
            assert_int_equal(buf[k], 0xFF);
    }
    /* the next AP of the same shape goes into the hole (first fit) */
    ch_ap_default(&ap[3], 4);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap[3]), 0x9000);
    slot_of(c, &ap[3], &s4);
    /* between AP 1 and AP 3: the hole, merged with the free gap the staged
     * images left beside it, not the end of the heap */
    assert_true(mc_get32(s4.region_off) >= mc_get32(s1.region_off) + r);
    assert_true(mc_get32(s4.region_off) + r <= mc_get32(s3.region_off));
    assert_int_equal(free_bytes(c), total - 3 * r);
}

/* An image of ~31 KiB whose EF content is nearly all of it: the region is
 * built over the staging copy, so it loads on a card whose heap could not
 * hold both at once. */
static void test_large_image_in_place(void **state)
{
    ch_card *c = *state;
    static uint8_t content[30000], img[CH_IMAGE_MAX];
    ch_ap ap;
    cm_keyset rk;
    size_t n, i;
    ch_rsp r;
    uint32_t total = heap_size(c);

    for (i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 7 + (i >> 8));
    ch_ap_default(&ap, 5);
    ap.n_efs = 1;
    ap.efs[0].size = sizeof(content);
    ap.efs[0].content = content;
    ap.efs[0].content_len = sizeof(content);
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    assert_true(n > sizeof(content));
    /* both copies at once would not fit */
    assert_true(2 * n > total);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, 2000, 0), 0x9000);
    assert_int_equal(free_bytes(c), total - (sizeof(mc_ef_rec) + sizeof(content)));
    /* the content reads back whole */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    for (i = 0; i < sizeof(content); i += 2000) {
        size_t k = sizeof(content) - i < 2000 ? sizeof(content) - i : 2000;
        ASSERT_SW(ch_cmdf(c, &r, "00B0%04X 00%04X", (unsigned)i, (unsigned)k), 0x9000);
        ASSERT_BYTES(r.data, r.len, content + i, k);
    }
    /* the same load chained in one block works as well, after a delete */
    ASSERT_SW(delete_ap(c, &ap), 0x9000);
    assert_int_equal(free_bytes(c), total);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, n, 255), 0x9000);
    assert_int_equal(free_bytes(c), total - (sizeof(mc_ef_rec) + sizeof(content)));
}

/* No free run large enough: 6A84, nothing changes, and a smaller AP still
 * loads. */
static void test_no_room(void **state)
{
    ch_card *c = *state;
    static uint8_t img[CH_IMAGE_MAX];
    ch_ap ap;
    cm_keyset rk;
    size_t n;
    unsigned k = 0;
    uint16_t sw;
    ct_snap snap;

    ch_region_keys(&rk);
    /* fill the heap with 30000-byte EFs (no initial content) */
    for (;;) {
        ch_ap_default(&ap, 6 + k);
        ap.n_efs = 1;
        ap.efs[0].size = 30000;
        ap.efs[0].content = NULL;
        ap.efs[0].content_len = 0;
        n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
        ASSERT_SW(ch_open_am(c), 0x9000);
        snap = ct_snapshot(c);
        sw = ch_load_image(c, img, n, 2000, 0);
        if (sw != 0x9000)
            break;
        ct_snap_free(&snap);
        k++;
    }
    ASSERT_SW(sw, 0x6A84);
    assert_true(k >= 1);
    ASSERT_UNCHANGED(c, snap);
    ct_snap_free(&snap);
    ch_ap_default(&ap, 15);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
}

/* 16 APs fill the table; the 17th is 6A84; a delete makes room again. */
static void test_sixteen_aps(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    unsigned i;

    for (i = 0; i < MC_MAX_APS; i++) {
        ch_ap_default(&ap, 0x20 + i);
        ASSERT_SW(ch_open_am(c), 0x9000);
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    }
    ch_ap_default(&ap, 0x40);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x6A84);
    ch_ap_default(&ap, 0x25);
    ASSERT_SW(delete_ap(c, &ap), 0x9000);
    ch_ap_default(&ap, 0x40);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accounting_and_hole_reuse, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_large_image_in_place, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_no_room, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_sixteen_aps, ct_setup_active, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_heap", tests, NULL, NULL);
}
