/* test_proto_select.c: PROTOCOL.md §2 and §10 held black-box: SELECT by AID
 * (FCI, P2 0C, exact match, failed SELECT), SELECT EF without an AP, class
 * byte handling (6881, 6E00, 6884), unknown INS, P1/P2, length, extended
 * APDUs, the ATR and GET DATA DF20 outside a channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

#define AM_AID "F04D4E4150414D"

static void test_atr(void **state)
{
    uint8_t atr[40];
    size_t n = mc_atr(atr, sizeof(atr));
    uint8_t x = 0;
    bool t1 = false, mnap = false;
    size_t i = 1;
    uint8_t td;
    (void)state;

    assert_true(n >= 4 && n <= 33);
    assert_int_equal(atr[0], 0x3B);       /* direct convention */
    /* Walk the interface bytes to find T=1 among the offered protocols. */
    td = atr[1];
    i = 2;
    for (;;) {
        uint8_t y = td >> 4;
        i += (size_t)((y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1));
        if (!(y & 8))
            break;
        td = atr[i++];
        if ((td & 0x0F) == 1)
            t1 = true;
    }
    assert_true(t1);
    for (size_t k = 0; k + 4 <= n; k++)
        if (memcmp(atr + k, "MNAP", 4) == 0)
            mnap = true;
    assert_true(mnap);
    /* With T=1 offered the ATR ends with TCK: XOR of T0..TCK is zero. */
    for (size_t k = 1; k < n; k++)
        x ^= atr[k];
    assert_int_equal(x, 0);
}

static void test_select_am_fci_blank(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_rawx(c, "00A40400 07 " AM_AID " 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F 8407" AM_AID " A504 9F700101");
}

static void test_select_am_fci_active(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_rawx(c, "00A40400 07 " AM_AID " 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F 8407" AM_AID " A504 9F70010F");
}

static void test_select_p2_0c_no_data(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_rawx(c, "00A4040C 07 " AM_AID, &r), 0x9000);
    assert_int_equal(r.len, 0);
}

static void test_select_extended(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_rawx(c, "00A40400 000007 " AM_AID " 0000", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F 8407" AM_AID " A504 9F700101");
}

/* An extended-length SELECT of the AM, then a channel on it. */
static void test_select_extended_then_channel(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    ch_transport_keys(&tk);
    ASSERT_SW(ch_rawx(c, "00A4040C 000007 " AM_AID, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
}

static void test_select_exact_match_only(void **state)
{
    ch_card *c = *state;
    /* a prefix of the AM AID, the AM AID plus one byte, an unknown AID */
    ASSERT_SW(ch_rawx(c, "00A40400 06 F04D4E415041 00", NULL), 0x6A82);
    ASSERT_SW(ch_rawx(c, "00A40400 08 " AM_AID "00 00", NULL), 0x6A82);
    ASSERT_SW(ch_rawx(c, "00A40400 05 D392100001 00", NULL), 0x6A82);
}

static void test_select_ap_exact_match_only(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_rawx(c, "00A40400 05 D392100001 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0D 8405D392100001 A504 9F700107");
    ASSERT_SW(ch_rawx(c, "00A40400 04 D3921000 00", NULL), 0x6A82);
    ASSERT_SW(ch_rawx(c, "00A40400 06 D39210000100 00", NULL), 0x6A82);
}

/* A failed SELECT leaves the previous application selected, without channel. */
static void test_failed_select_keeps_selection_drops_channel(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint8_t *v;
    size_t vl;

    /* the fixture left an AM channel open: it works */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(ch_rawx(c, "00A40400 05 D3921000FF 00", NULL), 0x6A82);
    /* the host pretends its channel is still there: the card has none */
    c->chan_open = true;
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
    ch_forget(c);
    /* the AM is still selected: the open GET DATA answers, without the
     * channel-only tags */
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    assert_null(ch_tlv_find(v, vl, 0x81, &vl));
}

static void test_power_on_selects_nothing(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    /* nothing selected: SELECT EF and a file command have no application */
    ASSERT_SW(ch_rawx(c, "00A4020C 02 0101", NULL), 0x6986);
    ASSERT_SW(ch_rawx(c, "00B00000 10", NULL), 0x6986);
}

/* A warm reset ends the channel and selects nothing (§2). */
static void test_reset_clears_channel_and_selection(void **state)
{
    ch_card *c = *state;
    cm_scp03 saved = c->scp;
    ch_reset(c);
    c->scp = saved;
    c->chan_open = true;
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
    ch_forget(c);
    ASSERT_SW(ch_rawx(c, "00A4020C 02 0101", NULL), 0x6986);
}

static void test_select_ef_with_am_selected(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "00A40200 02 0101 00", NULL), 0x6986);
    ASSERT_SW(ch_rawx(c, "00A4020C 02 0101", NULL), 0x6986);
}

static void test_select_wrong_p1p2(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "00A40404 07 " AM_AID " 00", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "00A40401 07 " AM_AID " 00", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "00A40100 02 3F00 00", NULL), 0x6A86);
}

static void test_cla_logical_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "01A40400 07 " AM_AID " 00", NULL), 0x6881);
    ASSERT_SW(ch_rawx(c, "03A40400 07 " AM_AID " 00", NULL), 0x6881);
    ASSERT_SW(ch_rawx(c, "81CADF20 00", NULL), 0x6881);
    ASSERT_SW(ch_rawx(c, "02A40400 07 " AM_AID " 00", NULL), 0x6881);
}

static void test_cla_unknown(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "A0A40400 07 " AM_AID " 00", NULL), 0x6E00);
    ASSERT_SW(ch_rawx(c, "20A40400 07 " AM_AID " 00", NULL), 0x6E00);
    /* (C0-CF are left out: GlobalPlatform reads them as further logical
     * channels, so 6881 would be as defensible as 6E00) */
}

static void test_cla_chaining_outside_load(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "10A40400 07 " AM_AID " 00", NULL), 0x6884);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "90CADF20 00", NULL), 0x6884);
}

static void test_unknown_ins(void **state)
{
    ch_card *c = *state;
    /* nothing selected, then with the AM selected */
    ASSERT_SW(ch_rawx(c, "80120000", NULL), 0x6D00);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80120000", NULL), 0x6D00);
    ASSERT_SW(ch_rawx(c, "00120000 00", NULL), 0x6D00);
    ASSERT_SW(ch_rawx(c, "80FE0000", NULL), 0x6D00);
}

static void test_wrong_length(void **state)
{
    ch_card *c = *state;
    /* Lc announces 7 bytes, 2 follow */
    ASSERT_SW(ch_rawx(c, "00A40400 07 F04D", NULL), 0x6700);
    ASSERT_SW(ch_select_am(c), 0x9000);
    /* GET DATA takes no data */
    ASSERT_SW(ch_rawx(c, "80CADF20 02 AAAA 00", NULL), 0x6700);
}

/* GET DATA DF20 outside a channel: only the open tags, ascending. */
static void test_get_data_df20_open_blank(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint8_t *v;
    size_t vl, l;

    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    assert_int_equal(r.len, vl + 3);
    /* 80 01 01 | 83 01 10 | 84 02 xx xx | 87 02 08 00 | 88 02 08 00 */
    assert_int_equal(vl, 3 + 3 + 4 + 4 + 4);
    ASSERT_BYTES(v, 6, "\x80\x01\x01\x83\x01\x10", 6);
    assert_int_equal(v[6], 0x84);
    assert_int_equal(v[7], 0x02);
    ASSERT_BYTES(v + 10, 8, "\x87\x02\x08\x00\x88\x02\x08\x00", 8);
    (void)l;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atr),
        cmocka_unit_test_setup_teardown(test_select_am_fci_blank, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_am_fci_active, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_p2_0c_no_data, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_extended, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_extended_then_channel, ct_setup_blank,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_exact_match_only, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_ap_exact_match_only, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_failed_select_keeps_selection_drops_channel,
                                        ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_power_on_selects_nothing, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_ef_with_am_selected, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_reset_clears_channel_and_selection, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_wrong_p1p2, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_cla_logical_channel, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_cla_unknown, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_cla_chaining_outside_load, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ins, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_length, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_data_df20_open_blank, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_select", tests, NULL, NULL);
}
