/* test_proto_firewall.c: PROTOCOL.md §8 firewall rules F1-F4 held
 * black-box with two APs: AP A's channel cannot select, read or write AP B's
 * files nor change B's keys; the AM channel reaches no AP file; SELECT of
 * another AID ends the channel and clears the PIN state; AM commands need the
 * AM channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static ch_ap apA, apB;

/* A = default AP 1; B = AP 2 with its own FIDs 0A01 (SFI 10) and 0A02 (PIN,
 * SFI 11) and no files in common with A. */
static int setup_two_aps(void **state)
{
    static const uint8_t bdata[8] = {0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7};
    ch_card *c;

    if (ct_setup_active(state) != 0)
        return -1;
    c = *state;
    ch_ap_default(&apA, 1);
    ch_ap_default(&apB, 2);
    apB.n_efs = 2;
    apB.efs[0] = (ch_ef){.fid = 0x0A01, .sfi = 10, .type = CH_EF_TRANSPARENT, .size = 8,
                         .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM,
                         .content = bdata, .content_len = sizeof(bdata)};
    apB.efs[1] = (ch_ef){.fid = 0x0A02, .sfi = 11, .type = CH_EF_TRANSPARENT, .size = 8,
                         .read_rule = CH_RULE_PIN, .write_rule = CH_RULE_PIN};
    apB.initial_pin = "2468";
    if (ch_load_ap(c, &apA) != 0x9000 || ch_load_ap(c, &apB) != 0x9000)
        return -1;
    return 0;
}

static void test_a_cannot_reach_b_files(void **state)
{
    ch_card *c = *state;
    ct_snap s;

    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    s = ct_snapshot(c);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0A01 00", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00B08A00 04", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00D68A00 01 00", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00B08B00 04", NULL), 0x6A82);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    /* and B cannot reach A's */
    ASSERT_SW(ch_open_ap(c, &apB, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0101 00", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00B08100 04", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00B08A00 04", NULL), 0x9000);
}

/* A's channel cannot change B's keys: PUT KEY names B's KVN in vain. */
static void test_a_cannot_change_b_keys(void **state)
{
    ch_card *c = *state;
    cm_keyset k;
    uint8_t exp[10];
    ch_rsp r;

    ch_make_keys(&k, 0x45, 0x21, 16);
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_put_key(c, apB.keys.kvn, &k, NULL), 0x6A88);
    ASSERT_SW(ch_open_ap(c, &apB, 0x33), 0x9000);
    /* A rotates its own keys */
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_put_key(c, apA.keys.kvn, &k, &r), 0x9000);
    ch_put_key_expected(c, &k, exp);
    ASSERT_BYTES(r.data, r.len, exp, 10);
    ASSERT_SW(ch_open(c, apA.aid, apA.aid_len, 0x45, &k, 0x33), 0x9000);
    ASSERT_SW(ch_open_ap(c, &apB, 0x33), 0x9000);
}

static void test_am_reaches_no_ap_file(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0101 00", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0A01 00", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00D60000 01 00", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00B20104 00", NULL), 0x6986);
}

/* The AM channel cannot change an AP's keys (only its own KVN is known). */
static void test_am_cannot_change_ap_keys(void **state)
{
    ch_card *c = *state;
    cm_keyset k;
    ch_make_keys(&k, 0x45, 0x21, 16);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_put_key(c, apA.keys.kvn, &k, NULL), 0x6A88);
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
}

/* F1: SELECT of another AID clears the PIN state; selecting back and opening
 * a new channel, the PIN file is refused. */
static void test_select_clears_pin_state(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 01", &r), 0x9000);
    ASSERT_SW(ch_select(c, apB.aid, apB.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 01", NULL), 0x6982);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
    /* a failed SELECT clears it as well */
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_rawx(c, "00A40400 05 D3921000EE 00", NULL), 0x6A82);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x63C3);
    /* and a re-SELECT of the same AP */
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_select(c, apA.aid, apA.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x63C3);
}

/* F1/F2: SELECT ends the channel; the old session is useless on B. */
static void test_select_ends_channel(void **state)
{
    ch_card *c = *state;
    cm_scp03 a_scp;

    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    a_scp = c->scp;
    ASSERT_SW(ch_select(c, apB.aid, apB.aid_len, NULL), 0x9000);
    c->scp = a_scp;
    c->chan_open = true;
    ASSERT_SW(ch_cmdx(c, "00B08A00 04", NULL), 0x6982);
    ch_forget(c);
}

/* AM commands from an AP channel are refused: they need the AM selected
 * (PROTOCOL.md §4, 6986). */
static void test_ap_channel_no_am_commands(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_open_ap(c, &apA, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100002", NULL), 0x6986);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100002 DF0204 31313131", -1), 0x6986);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100002", NULL), 0x6986);
    /* F5: an unknown AID gets the same answers as B's */
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D3921000EE", NULL), 0x6986);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D3921000EE DF0204 31313131", -1), 0x6986);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D3921000EE", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6986);
    ASSERT_SW(ch_open_ap(c, &apB, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "2468"), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_cannot_reach_b_files, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_a_cannot_change_b_keys, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_am_reaches_no_ap_file, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_am_cannot_change_ap_keys, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_clears_pin_state, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_ends_channel, setup_two_aps, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ap_channel_no_am_commands, setup_two_aps, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_firewall", tests, NULL, NULL);
}
