/* test_proto_load.c: PROTOCOL.md §4 LOAD AP and §6 AP image held black-box:
 * single and multi-block loads, blocks out of order, a foreign command
 * between blocks, malformed images (each 6A80), an image that does not fit
 * (6A84), duplicate and prefix-colliding AIDs (6A89), the AP limit, and the
 * sequence counter of a reloaded AP.  After each refusal the visible area
 * (GET STATUS, DF20 free space and AP count) is as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static uint8_t img[CH_IMAGE_MAX];

/* ap's image in img. */
static size_t build(ch_card *c, const ch_ap *ap)
{
    return ct_build_image(c, ap, img, sizeof(img));
}

/* Removes the first top-level TLV with a one-byte tag from img. */
static size_t drop_tlv(size_t len, uint8_t tag)
{
    size_t pos = 0;
    while (pos < len) {
        size_t hl = 2, l = img[pos + 1];
        if (l == 0x81) {
            l = img[pos + 2];
            hl = 3;
        } else if (l == 0x82) {
            l = (size_t)img[pos + 2] << 8 | img[pos + 3];
            hl = 4;
        }
        if (img[pos] == tag) {
            memmove(img + pos, img + pos + hl + l, len - pos - hl - l);
            return len - hl - l;
        }
        pos += hl + l;
    }
    fail_msg("tag %02X not in image", tag);
    return len;
}

/* Loads img[0..n) in one block and expects sw; on a refusal the view of the
 * area must not change and the AP must not be selectable. */
static void load_refused(ch_card *c, size_t n, uint16_t sw, const char *what)
{
    static ct_area_view before;
    ct_take_area_view(c, &before);
    if (ch_load_image(c, img, n, n > 2048 ? 2048 : n, 0) != sw) {
        print_error("load of %s: expected %04X\n", what, sw);
        ASSERT_SW(ch_load_image(c, img, n, n > 2048 ? 2048 : n, 0), sw);
    }
    ct_assert_same_area_view(c, &before);
}

static void test_load_single_block(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    ASSERT_SW(ch_load_image(c, img, n, n, 0), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", &r), 0x9000);
    assert_int_equal(r.len, 24);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 04", &r), 0x9000);
    ASSERT_DATA(&r, "00010203");
}

static void test_load_multi_block(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    assert_true(n > 5 * 37);
    ASSERT_SW(ch_load_image(c, img, n, 37, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static uint16_t send_block(ch_card *c, uint8_t p1, uint8_t p2, size_t off, size_t n)
{
    uint8_t apdu[2100];
    size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, p1, p2, img + off, n, -1);
    return ch_cmd(c, apdu, an, NULL);
}

static void test_load_block_out_of_order(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    assert_true(n > 200);
    /* the first block must be 00 */
    ASSERT_SW(send_block(c, 0x00, 0x01, 0, 100), 0x6A86);
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    ASSERT_SW(send_block(c, 0x00, 0x02, 100, 100), 0x6A86);
    /* the load was dropped: block 01 is out of order now too */
    ASSERT_SW(send_block(c, 0x80, 0x01, 100, n - 100), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6A88);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x6A82);
    /* a repeated block is out of order as well */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x6A86);
    /* and a complete load from 00 works */
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    ASSERT_SW(send_block(c, 0x80, 0x01, 100, n - 100), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static void test_load_foreign_command_between_blocks(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
    ASSERT_SW(send_block(c, 0x80, 0x01, 100, n - 100), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6A88);
}

/* GET RESPONSE is the one command allowed between blocks (§4): whatever it
 * answers with nothing pending, the load goes on. */
static void test_load_get_response_between_blocks(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    (void)ch_rawx(c, "00C00000 00", NULL);
    ASSERT_SW(send_block(c, 0x80, 0x01, 100, n - 100), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static void test_load_wrong_p1(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    assert_true(n > 200);
    ASSERT_SW(send_block(c, 0x01, 0x00, 0, 200), 0x6A86);
    ASSERT_SW(send_block(c, 0x81, 0x00, 0, 200), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6A88);
}

static void test_load_malformed(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;
    cm_keyset other;

    ch_ap_default(&ap, 1);
    n = build(c, &ap);
    load_refused(c, n - 1, 0x6A80, "truncated image");
    load_refused(c, drop_tlv(build(c, &ap), 0x4F), 0x6A80, "no 4F");
    load_refused(c, drop_tlv(build(c, &ap), 0xA0), 0x6A80, "no A0");
    load_refused(c, drop_tlv(build(c, &ap), 0xA1), 0x6A80, "no A1");

    /* key set wrapped with another DEK: the KCVs do not match */
    ch_make_keys(&other, 0x01, 0x77, 16);
    n = ch_build_image(c, other.dek, 16, &ap, img, sizeof(img));
    load_refused(c, n, 0x6A80, "A1 under a foreign DEK");

    /* PIN policy */
    ch_ap_default(&ap, 1); ap.max_tries = 0;
    load_refused(c, build(c, &ap), 0x6A80, "max tries 0");
    ch_ap_default(&ap, 1); ap.max_tries = 4;
    load_refused(c, build(c, &ap), 0x6A80, "max tries 4");
    ch_ap_default(&ap, 1); ap.min_len = 3;
    load_refused(c, build(c, &ap), 0x6A80, "min length 3");
    ch_ap_default(&ap, 1); ap.max_len = 13;
    load_refused(c, build(c, &ap), 0x6A80, "max length 13");
    ch_ap_default(&ap, 1); ap.min_len = 9; ap.max_len = 8;
    load_refused(c, build(c, &ap), 0x6A80, "min above max");
    ch_ap_default(&ap, 1); ap.initial_pin = "12a4";
    load_refused(c, build(c, &ap), 0x6A80, "initial PIN not digits");
    ch_ap_default(&ap, 1); ap.initial_pin = "123";
    load_refused(c, build(c, &ap), 0x6A80, "initial PIN too short");
    ch_ap_default(&ap, 1); ap.initial_pin = "123456789";
    load_refused(c, build(c, &ap), 0x6A80, "initial PIN too long");

    /* options */
    ch_ap_default(&ap, 1); ap.min_level = 0x02;
    load_refused(c, build(c, &ap), 0x6A80, "min level 02");
    ch_ap_default(&ap, 1); ap.min_level = 0x00;
    load_refused(c, build(c, &ap), 0x6A80, "min level 00");

    /* AID length */
    ch_ap_default(&ap, 1); ap.aid_len = 4;
    load_refused(c, build(c, &ap), 0x6A80, "AID of 4 bytes");

    /* EFs */
    ch_ap_default(&ap, 1); ap.efs[0].fid = 0x3F00;
    load_refused(c, build(c, &ap), 0x6A80, "FID 3F00");
    ch_ap_default(&ap, 1); ap.efs[0].fid = 0x3FFF;
    load_refused(c, build(c, &ap), 0x6A80, "FID 3FFF");
    ch_ap_default(&ap, 1); ap.efs[0].fid = 0xFFFF;
    load_refused(c, build(c, &ap), 0x6A80, "FID FFFF");
    ch_ap_default(&ap, 1); ap.efs[1].fid = 0x0101;
    load_refused(c, build(c, &ap), 0x6A80, "duplicate FID");
    ch_ap_default(&ap, 1); ap.efs[1].sfi = 1;
    load_refused(c, build(c, &ap), 0x6A80, "duplicate SFI");
    ch_ap_default(&ap, 1); ap.efs[1].sfi = 31;
    load_refused(c, build(c, &ap), 0x6A80, "SFI 31");
    ch_ap_default(&ap, 1); ap.efs[0].type = 0x03;
    load_refused(c, build(c, &ap), 0x6A80, "EF type 03");
    ch_ap_default(&ap, 1); ap.efs[0].read_rule = 0x02;
    load_refused(c, build(c, &ap), 0x6A80, "read rule 02");
    ch_ap_default(&ap, 1); ap.efs[0].write_rule = 0x80;
    load_refused(c, build(c, &ap), 0x6A80, "write rule 80");
    ch_ap_default(&ap, 1); ap.efs[0].size = 32768; ap.efs[0].content = NULL;
    load_refused(c, build(c, &ap), 0x6A80, "transparent EF of 32768");
    ch_ap_default(&ap, 1); ap.efs[3].rec_len = 255;
    load_refused(c, build(c, &ap), 0x6A80, "record length 255");
    ch_ap_default(&ap, 1); ap.efs[3].rec_count = 255;
    load_refused(c, build(c, &ap), 0x6A80, "record count 255");
    ch_ap_default(&ap, 1); ap.efs[3].content = (const uint8_t *)"abcd"; ap.efs[3].content_len = 4;
    load_refused(c, build(c, &ap), 0x6A80, "content on a record EF");
    ch_ap_default(&ap, 1); ap.efs[2].size = 8;
    load_refused(c, build(c, &ap), 0x6A80, "content longer than the EF");

    /* after all that, the good image still loads */
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap), 4096, 0), 0x9000);
}

/* The limits themselves load (§6): 32 EFs, a transparent EF of 32767 bytes,
 * records of 254 bytes, SFI 30; then, in a second AP (a record slot owns
 * whole pages, docs/nvm.md: 255 slots of a 1-byte record take 16 320 bytes,
 * which do not fit beside the first AP on a 64 KiB card), 254 records. */
static void test_load_at_the_limits(void **state)
{
    ch_card *c = *state;
    static ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 1);
    ap.n_efs = 32;
    for (unsigned i = 0; i < 32; i++)
        ap.efs[i] = (ch_ef){.fid = (uint16_t)(0x1000 + i), .sfi = (uint8_t)(i < 30 ? i + 1 : 0),
                            .type = CH_EF_TRANSPARENT, .size = 4,
                            .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    ap.efs[0].size = 32767;
    ap.efs[1] = (ch_ef){.fid = 0x2001, .sfi = 2, .type = CH_EF_LINEAR, .rec_len = 254,
                        .rec_count = 2, .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    ap.efs[2] = (ch_ef){.fid = 0x2002, .sfi = 3, .type = CH_EF_CYCLIC, .rec_len = 1,
                        .rec_count = 2, .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 1000 00", &r), 0x9000);
    ASSERT_DATA(&r, "6211 80027FFF 820101 83021000 880108 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A40200 02 101D 00", &r), 0x9000);     /* SFI 30 */
    ASSERT_DATA(&r, "6211 80020004 820101 8302101D 8801F0 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A40200 02 101F 00", &r), 0x9000);     /* no SFI */
    ASSERT_DATA(&r, "620E 80020004 820101 8302101F 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A40200 02 2001 00", &r), 0x9000);
    ASSERT_DATA(&r, "6215 800201FC 8205022100FE02 83022001 880110 8A0105");
    /* the last byte of the 32767-byte EF */
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 1000", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B07FFE 000000", &r), 0x9000);
    assert_int_equal(r.len, 1);
    ASSERT_SW(ch_cmdx(c, "00D67FFE 01 5A", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B07FFE 01", &r), 0x9000);
    ASSERT_DATA(&r, "5A");
    /* a record of 254 bytes, written and read back */
    ASSERT_SW(ch_cmdf(c, NULL, "00E20010 FE %0508d", 0), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B20114 00", &r), 0x9000);
    assert_int_equal(r.len, 254);

    /* 254 records: the cyclic EF of 1-byte records, in an AP of its own */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    ch_ap_default(&ap, 2);
    ap.n_efs = 1;
    ap.efs[0] = (ch_ef){.fid = 0x2002, .sfi = 3, .type = CH_EF_CYCLIC, .rec_len = 1,
                        .rec_count = 254, .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 2002 00", &r), 0x9000);
    ASSERT_DATA(&r, "6215 800200FE 820506210001FE 83022002 880118 8A0105");
    for (unsigned i = 0; i < 255; i++)
        ASSERT_SW(ch_cmdf(c, NULL, "00E20018 01 %02X", i), 0x9000);
    /* the oldest went: record 1 the newest (FE), record 254 the second (01) */
    ASSERT_SW(ch_cmdx(c, "00B2011C 00", &r), 0x9000);
    ASSERT_DATA(&r, "FE");
    ASSERT_SW(ch_cmdx(c, "00B2FE1C 00", &r), 0x9000);
    ASSERT_DATA(&r, "01");
}

static void test_load_no_room(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    ch_ap_default(&ap, 1);
    ap.n_efs = 2;
    ap.efs[0].size = 32767;
    ap.efs[1] = ap.efs[0];
    ap.efs[1].fid = 0x0104;
    ap.efs[1].sfi = 7;
    ap.efs[0].content = ap.efs[1].content = NULL;
    load_refused(c, build(c, &ap), 0x6A84, "64 KiB of EFs");
}

static void load_with_aid(ch_card *c, const char *aid_hex, unsigned idx, uint16_t sw)
{
    ch_ap ap;
    ch_ap_default(&ap, idx);
    ap.aid_len = ch_hex(aid_hex, ap.aid, sizeof(ap.aid));
    if (sw == 0x9000)
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    else
        load_refused(c, build(c, &ap), sw, aid_hex);
}

static void test_load_aid_collisions(void **state)
{
    ch_card *c = *state;
    load_with_aid(c, "D3921000010203", 1, 0x9000);
    load_with_aid(c, "D3921000010203", 2, 0x6A89);     /* the same AID */
    load_with_aid(c, "D392100001", 3, 0x6A89);         /* a prefix of it */
    load_with_aid(c, "D392100001020304", 4, 0x6A89);   /* prefixed by it */
    load_with_aid(c, "F04D4E4150414D", 5, 0x6A89);     /* the AM AID */
    load_with_aid(c, "F04D4E4150", 6, 0x6A89);         /* a prefix of the AM AID */
    load_with_aid(c, "F04D4E4150414D01", 7, 0x6A89);   /* prefixed by the AM AID */
    load_with_aid(c, "D392100002", 8, 0x9000);         /* a neighbour is fine */
}

/* 16 APs fit; the 17th gives 6A84. */
static void test_load_ap_limit(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    for (unsigned i = 1; i <= 16; i++) {
        ch_ap_default(&ap, i);
        ap.n_efs = 1;
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    }
    ch_ap_default(&ap, 17);
    ap.n_efs = 1;
    load_refused(c, build(c, &ap), 0x6A84, "17th AP");
}

/* A reloaded AP with the same keys never repeats a sequence counter or a
 * card challenge (§3). */
static void test_reload_counter_never_repeats(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    uint32_t s_last = 0;
    uint8_t ch_seen[4][8];

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    for (int i = 0; i < 3; i++) {
        ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
        assert_true(ch_last_seq(c) > s_last);
        s_last = ch_last_seq(c);
        memcpy(ch_seen[i], c->card_challenge, 8);
    }
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    assert_true(ch_last_seq(c) > s_last);
    memcpy(ch_seen[3], c->card_challenge, 8);
    for (int i = 0; i < 3; i++)
        assert_memory_not_equal(ch_seen[i], ch_seen[3], 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_single_block, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_multi_block, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_block_out_of_order, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_foreign_command_between_blocks, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_get_response_between_blocks, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_wrong_p1, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_malformed, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_at_the_limits, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_no_room, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_aid_collisions, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_ap_limit, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_reload_counter_never_repeats, ct_setup_active,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_load", tests, NULL, NULL);
}
