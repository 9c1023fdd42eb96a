/* test_proto_gp.c: discovery and listing by GlobalPlatform tools
 * (PROTOCOL.md §2, §4): SELECT with no AID selects the AM (the default
 * application), GET STATUS P1 80 gives the AM as the issuer security domain,
 * P1 20 / 10 give 6A88, GET DATA 9F7F (CPLC) and 0066 (card data) give 6A88,
 * and the whole listing sequence of a GP tool (GlobalPlatformPro -l) on a card
 * whose area is set up, with extended Le 0000 inside a level-33 channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

/* FCI of the AM in an ACTIVE area: 6F { 84 AM AID, A5 { 9F70 0F } } */
#define AM_FCI_ACTIVE "6F0F 8407F04D4E4150414D A504 9F70010F"
/* The ISD entry of GET STATUS P1 80 in an ACTIVE area. */
#define ISD_ACTIVE "E312 4F07F04D4E4150414D 9F70010F C5039C0000"

static void test_select_no_aid(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    /* Le present, no body: exactly SELECT AM with P2 00 */
    ASSERT_SW(ch_rawx(c, "00A40400 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
    ASSERT_SW(ch_rawx(c, "00A40400 07 F04D4E4150414D 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
    /* no Le at all (case 1): as SELECT AM by AID without Le (case 3), the
     * FCI waits for GET RESPONSE (§3, §10) */
    ASSERT_SW(ch_rawx(c, "00A40400 07 F04D4E4150414D", &r), 0x6111);
    ASSERT_SW(ch_rawx(c, "00A40400", &r), 0x6111);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00C00000 11", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
    /* P2 0C: selects, returns nothing */
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x6986);      /* nothing selected */
    ASSERT_SW(ch_rawx(c, "00A4040C", &r), 0x9000);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x9000);      /* the AM is */
    /* P2 0C with Le (docs/protocol.md, a choice): selects, nothing returned */
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_rawx(c, "00A4040C 00", &r), 0x9000);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x9000);
    /* other P2: 6A86, as for a SELECT by AID */
    ASSERT_SW(ch_rawx(c, "00A40404", NULL), 0x6A86);
    /* extended Le, still no body */
    ASSERT_SW(ch_rawx(c, "00A40400 000000", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
}

/* F1: a SELECT with no AID ends the channel and the PIN state, like any
 * SELECT by AID; it also ends an AP's channel and selects the AM. */
static void test_select_no_aid_f1(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);     /* the AM channel is open */
    ASSERT_SW(ch_rawx(c, "00A40400 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
    ASSERT_SW(ch_rawx(c, "84CADF20 08 0102030405060708 00", NULL), 0x6982);   /* no channel */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_rawx(c, "00A4040C", NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00B08100 04", NULL), 0x6986);      /* the AM is selected */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00B08100 04", NULL), 0x6982);      /* the AP, no channel */
}

static void test_get_status_isd_and_load_files(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_cmdx(c, "80F28002 02 4F00 00", &r), 0x9000);
    ASSERT_DATA(&r, ISD_ACTIVE);
    /* the AID prefix filters the ISD too */
    ASSERT_SW(ch_cmdx(c, "80F28002 05 4F03F04D4E 00", &r), 0x9000);
    ASSERT_DATA(&r, ISD_ACTIVE);
    ASSERT_SW(ch_cmdx(c, "80F28002 09 4F07F04D4E4150414D 00", &r), 0x9000);
    ASSERT_DATA(&r, ISD_ACTIVE);
    ASSERT_SW(ch_cmdx(c, "80F28002 04 4F02D392 00", NULL), 0x6A88);
    /* no load files */
    ASSERT_SW(ch_cmdx(c, "80F22002 02 4F00 00", NULL), 0x6A88);
    ASSERT_SW(ch_cmdx(c, "80F21002 02 4F00 00", NULL), 0x6A88);
    /* P2 02 only for 80, 20, 10 */
    ASSERT_SW(ch_cmdx(c, "80F28003 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F22000 02 4F00 00", NULL), 0x6A86);
    /* a locked area: the ISD state reads 7F */
    ASSERT_SW(ch_cmdx(c, "80F0807F", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F28002 02 4F00 00", &r), 0x9000);
    ASSERT_DATA(&r, "E312 4F07F04D4E4150414D 9F70017F C5039C0000");
    /* GET STATUS needs the AM channel, like every AM command */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80F28002 02 4F00 00", NULL), 0x6982);
}

/* In a BLANK area GET STATUS is refused like every AM command but set-up,
 * so a GP tool lists a card once its area is set up (§4, §6). */
static void test_get_status_blank(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    cm_keyset tk;

    ASSERT_SW(ch_rawx(c, "00A40400 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F 8407F04D4E4150414D A504 9F700101");
    ch_transport_keys(&tk);
    ASSERT_SW(ch_initialize_update(c, 0xFF, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F28002 02 4F00 00", NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80CA9F7F 00", NULL), 0x6985);
}

/* The listing sequence of a GP tool, replayed on a card with its area set up
 * and two APs: every command after EXTERNAL AUTHENTICATE is wrapped (level
 * 33) with extended Le 0000, so each C-MAC covers a 3-byte Lc (§3). */
static void test_gp_listing_sequence(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;
    ch_ap ap;
    ch_rsp r;
    size_t l;
    const uint8_t *v;

    ch_ap_default(&ap, 2);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ch_power_cycle(c);
    ASSERT_SW(ch_rawx(c, "00A40400 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI_ACTIVE);
    ch_region_keys(&rk);
    ASSERT_SW(ch_initialize_update(c, 0x00, &rk, &r), 0x9000);
    assert_int_equal(r.data[10], 0x01);                       /* KVN */
    assert_int_equal(r.data[11], 0x03);                       /* SCP03 */
    assert_int_equal(r.data[12], 0x70);                       /* i */
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdl(c, &r, "80CA9F7F", "", 65536), 0x6A88);
    ASSERT_SW(ch_cmdl(c, &r, "80CA0066", "", 65536), 0x6A88);
    ASSERT_SW(ch_cmdl(c, &r, "80CA00E0", "", 65536), 0x9000);
    ASSERT_DATA(&r, "E012 C00401018810 C00402018810 C00403018810");
    ASSERT_SW(ch_cmdl(c, &r, "80F28002", "4F00", 65536), 0x9000);
    ASSERT_DATA(&r, ISD_ACTIVE);
    ASSERT_SW(ch_cmdl(c, &r, "80F24002", "4F00", 65536), 0x9000);
    assert_int_equal(r.len, 2 * 24);
    v = ch_tlv_find(r.data, r.len, 0xE3, &l);
    assert_non_null(v);
    ASSERT_TLV(v, l, 0x4F, "\xD3\x92\x10\x00\x01", 5);
    ASSERT_TLV(r.data + 24 + 2, 22, 0x4F, "\xD3\x92\x10\x00\x02", 5);
    ASSERT_SW(ch_cmdl(c, &r, "80F22002", "4F00", 65536), 0x6A88);
    ASSERT_SW(ch_cmdl(c, &r, "80F21002", "4F00", 65536), 0x6A88);
    /* the same with a short Le that splits the AP list: 6310, then 40 03 */
    ASSERT_SW(ch_cmdl(c, &r, "80F24002", "4F00", 24), 0x6310);
    ASSERT_TLV(r.data + 2, 22, 0x4F, "\xD3\x92\x10\x00\x01", 5);
    ASSERT_SW(ch_cmdl(c, &r, "80F24003", "4F00", 24), 0x9000);
    ASSERT_TLV(r.data + 2, 22, 0x4F, "\xD3\x92\x10\x00\x02", 5);
    ASSERT_SW(ch_cmdl(c, &r, "80F24003", "4F00", 65536), 0x6A88);
    /* and the channel is still good */
    ASSERT_SW(ch_cmdl(c, &r, "80CADF20", "", 65536), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select_no_aid, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_no_aid_f1, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_isd_and_load_files, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_blank, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_gp_listing_sequence, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_gp", tests, NULL, NULL);
}
