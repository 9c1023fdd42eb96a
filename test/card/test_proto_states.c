/* test_proto_states.c: PROTOCOL.md §6 and §9 area and AP states held
 * black-box: every AM command in a BLANK area, AREA SETUP, LOCKED (what the
 * AM still accepts, what the APs answer), TERMINATED (only SELECT and GET
 * DATA DF20), and a SUSPENDED AP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

/* The AM commands other than INITIALIZE UPDATE, EXTERNAL AUTHENTICATE,
 * GET DATA DF20 and PUT KEY, in plain form (ch_cmd wraps them in a channel). */
static const char *const am_cmds[] = {
    "80CADF21 00",                                   /* GET DATA log */
    "80CA00E0 00",                                   /* GET DATA key information */
    "80F24002 02 4F00 00",                           /* GET STATUS */
    "80E88000 05 4F03010203",                        /* LOAD AP */
    "80E40000 07 4F05D392100001",                    /* DELETE */
    "80F04083 07 4F05D392100001",                    /* SET STATUS AP */
    "80F0807F",                                      /* SET STATUS area */
    "802C0081 0E 4F05D392100001 DF0204 31323334",    /* RESET RETRY COUNTER */
};

static void all_am_cmds(ch_card *c, uint16_t sw)
{
    for (size_t i = 0; i < sizeof(am_cmds) / sizeof(am_cmds[0]); i++) {
        uint16_t got = ch_cmdx(c, am_cmds[i], NULL);
        if (got != sw) {
            print_error("%s: %04X, expected %04X\n", am_cmds[i], got, sw);
            fail();
        }
    }
}

static void test_blank_refuses_am_commands(void **state)
{
    ch_card *c = *state;
    cm_keyset tk, rk;
    ch_rsp r;

    ch_transport_keys(&tk);
    ch_region_keys(&rk);
    /* without a channel (area state comes before the channel check) */
    ASSERT_SW(ch_select_am(c), 0x9000);
    all_am_cmds(c, 0x6985);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    /* and in the transport channel */
    ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0xFF, &tk, 0x33), 0x9000);
    all_am_cmds(c, 0x6985);
    /* PUT KEY whose old KVN is not FF */
    ASSERT_SW(ch_put_key(c, 0x01, &rk, NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    /* nothing happened: the area is still blank and set up normally */
    ASSERT_SW(ch_put_key(c, 0xFF, &rk, &r), 0x9000);
}

static void test_area_setup(void **state)
{
    ch_card *c = *state;
    cm_keyset tk, rk;
    ch_rsp r;
    uint8_t exp[10];
    const uint8_t *v;
    size_t vl;

    ch_transport_keys(&tk);
    ch_region_keys(&rk);
    ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0xFF, &tk, 0x33), 0x9000);
    ASSERT_SW(ch_put_key(c, 0xFF, &rk, &r), 0x9000);
    ch_put_key_expected(c, &rk, exp);
    ASSERT_BYTES(r.data, r.len, exp, 10);
    /* the channel goes on with its session keys */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    ASSERT_TLV(v, vl, 0x80, "\x0F", 1);
    /* the transport key set is gone, the region key set answers */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "8050FF00 08 0102030405060708 00", NULL), 0x6A88);
    ASSERT_SW(ch_open_am(c), 0x9000);
    /* and a second AREA SETUP is a PUT KEY with an unknown old KVN */
    ASSERT_SW(ch_put_key(c, 0xFF, &rk, NULL), 0x6A88);
}

/* LOCKED: the AM keeps INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, GET DATA,
 * GET STATUS and SET STATUS; APs answer 6A81 to INITIALIZE UPDATE and the
 * empty VERIFY; SELECT still works. */
static void test_locked(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    cm_keyset k;

    ch_ap_default(&ap, 1);
    ch_make_keys(&k, 0x02, 0x70, 16);
    ASSERT_SW(ch_cmdx(c, "80F0807F", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CA00E0 00", &r), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", &r), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E88000 05 4F03010203", NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x6985);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0204 31323334", -1), 0x6985);
    ASSERT_SW(ch_put_key(c, 0x01, &k, NULL), 0x6985);
    /* a lock outlives a power cycle; the AM channel opens again */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F04007 07 4F05D392100001", NULL), 0x9000);
    /* area state comes before the channel: plain LOAD AP */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80E88000 05 4F03010203", NULL), 0x6985);
    /* the AP */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, &r), 0x9000);
    ASSERT_DATA(&r, "6F0D 8405D392100001 A504 9F700107");
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6A81);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x6A81);
    ASSERT_SW(ch_rawx(c, "00B08100 01", NULL), 0x6982);
    /* unlock */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F0800F", NULL), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 01", &r), 0x9000);
}

static void test_terminated(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    const uint8_t *v;
    size_t vl;
    cm_keyset rk;

    ch_ap_default(&ap, 1);
    ch_region_keys(&rk);
    ASSERT_SW(ch_cmdx(c, "80F080FF", NULL), 0x9000);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_rawx(c, "00A40400 07 F04D4E4150414D 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F 8407F04D4E4150414D A504 9F7001FF");
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    ASSERT_TLV(v, vl, 0x80, "\xFF", 1);
    /* every other command: 6985 */
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80500100 08 0102030405060708 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "84823300 10 00000000000000000000000000000000", NULL), 0x6985);
    all_am_cmds(c, 0x6985);
    ASSERT_SW(ch_rawx(c, "80F0800F", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80D80181 01 02", NULL), 0x6985);
    /* the APs are wiped */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x6A82);
}

static void test_suspended_ap(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    /* commands that need a channel answer 6982 first */
    ASSERT_SW(ch_rawx(c, "00B08100 01", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00200081 04 31323334", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00A40200 02 0101 00", NULL), 0x6982);
    /* no channel can be opened */
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6A81);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x6A81);
    /* the suspension outlives a power cycle */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6A81);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blank_refuses_am_commands, ct_setup_blank,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_area_setup, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_locked, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_terminated, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_suspended_ap, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_states", tests, NULL, NULL);
}
