/* test_proto_files.c: PROTOCOL.md §2 (SELECT EF, FCP) and §5 file commands
 * held black-box on the default AP (card_harness.h ch_ap_default): READ and
 * UPDATE BINARY (offsets, SFI, Le, 6B00), records (linear fixed and cyclic,
 * APPEND to full, 6A83, exact lengths), 6986 / 6981, access rules SM, PIN
 * and NEVER, and that refusals leave the state unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

/* Fixture: default AP 1 loaded, its channel open at 33. */
static int setup_ap_channel(void **state)
{
    ch_ap ap;
    if (ct_setup_ap(state) != 0)
        return -1;
    ch_ap_default(&ap, 1);
    return ch_open_ap(*state, &ap, 0x33) == 0x9000 ? 0 : -1;
}

static void test_select_ef_fcp(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0101 00", &r), 0x9000);
    ASSERT_DATA(&r, "6211 80020040 820101 83020101 880108 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0201 00", &r), 0x9000);
    ASSERT_DATA(&r, "6215 80020030 82050221001003 83020201 880120 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0301 00", &r), 0x9000);
    ASSERT_DATA(&r, "6215 80020018 82050621000803 83020301 880128 8A0105");
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0103", &r), 0x9000);
    assert_int_equal(r.len, 0);
}

static void test_select_ef_refusals(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0999 00", NULL), 0x6A82);
    ASSERT_SW(ch_cmdx(c, "00A40204 02 0101 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "00A40200 03 010100 00", NULL), 0x6700);
}

static void test_read_binary(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 10", &r), 0x9000);
    ASSERT_DATA(&r, "000102030405060708090A0B0C0D0E0F");
    /* Le larger than what is left: the rest */
    ASSERT_SW(ch_cmdx(c, "00B00030 20", &r), 0x9000);
    ASSERT_DATA(&r, "303132333435363738393A3B3C3D3E3F");
    /* Le 00: up to 256, here the whole file */
    ASSERT_SW(ch_cmdx(c, "00B00000 00", &r), 0x9000);
    assert_int_equal(r.len, 64);
    assert_int_equal(r.data[63], 0x3F);
    /* extended Le 0000 */
    ASSERT_SW(ch_cmdx(c, "00B00000 000000", &r), 0x9000);
    assert_int_equal(r.len, 64);
    /* SFI form: P1 80|SFI, offset in P2 */
    ASSERT_SW(ch_cmdx(c, "00B08110 04", &r), 0x9000);
    ASSERT_DATA(&r, "10111213");
    ASSERT_SW(ch_cmdx(c, "00B08300 02", &r), 0x9000);
    ASSERT_DATA(&r, "AAAA");
    /* past the end */
    ASSERT_SW(ch_cmdx(c, "00B00041 01", NULL), 0x6B00);
    ASSERT_SW(ch_cmdx(c, "00B00100 01", NULL), 0x6B00);
    ASSERT_SW(ch_cmdx(c, "00B08150 01", NULL), 0x6B00);
}

static void test_update_binary(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ct_snap s;

    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00D60002 03 AABBCC", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 06", &r), 0x9000);
    ASSERT_DATA(&r, "0001AABBCC05");
    ASSERT_SW(ch_cmdx(c, "00D68140 01 77", NULL), 0x6B00);
    /* running past the end: refused as a whole, nothing written */
    s = ct_snapshot(c);
    ASSERT_SW(ch_cmdx(c, "00D6003F 02 1122", NULL), 0x6B00);
    ASSERT_SW(ch_cmdx(c, "00D60041 01 11", NULL), 0x6B00);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_cmdx(c, "00B0003E 02", &r), 0x9000);
    ASSERT_DATA(&r, "3E3F");
    /* SFI form, up to the last byte */
    ASSERT_SW(ch_cmdx(c, "00D6813F 01 77", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B0813E 02", &r), 0x9000);
    ASSERT_DATA(&r, "3E77");
    /* a write survives a power cycle */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    {
        ch_ap ap;
        ch_ap_default(&ap, 1);
        ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    }
    ASSERT_SW(ch_cmdx(c, "00B08100 06", &r), 0x9000);
    ASSERT_DATA(&r, "0001AABBCC05");
}

static void test_no_current_ef(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "00B00000 04", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00D60000 01 00", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00B20104 00", NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "00E20000 10 00000000000000000000000000000000", NULL), 0x6986);
}

static void test_incompatible_structure(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "00B08400 04", NULL), 0x6981);     /* binary on SFI 4 (records) */
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0201", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", NULL), 0x6981);
    ASSERT_SW(ch_cmdx(c, "00D60000 01 00", NULL), 0x6981);
    ASSERT_SW(ch_cmdx(c, "00B2010C 00", NULL), 0x6981);     /* record on SFI 1 (binary) */
    ASSERT_SW(ch_cmdx(c, "00E20008 04 00000000", NULL), 0x6981);
}

static void test_linear_records(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ct_snap s;

    /* an empty record EF */
    ASSERT_SW(ch_cmdx(c, "00B20124 00", NULL), 0x6A83);
    ASSERT_SW(ch_cmdx(c, "00E20020 10 01010101010101010101010101010101", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00E20020 10 02020202020202020202020202020202", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B20324 00", NULL), 0x6A83);
    ASSERT_SW(ch_cmdx(c, "00DC0324 10 03030303030303030303030303030303", NULL), 0x6A83);
    ASSERT_SW(ch_cmdx(c, "00E20020 10 03030303030303030303030303030303", NULL), 0x9000);
    /* full */
    s = ct_snapshot(c);
    ASSERT_SW(ch_cmdx(c, "00E20020 10 04040404040404040404040404040404", NULL), 0x6A84);
    /* exact record length */
    ASSERT_SW(ch_cmdx(c, "00DC0224 0F 090909090909090909090909090909", NULL), 0x6700);
    ASSERT_SW(ch_cmdx(c, "00DC0224 11 0909090909090909090909090909090909", NULL), 0x6700);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_cmdx(c, "00B20124 00", &r), 0x9000);
    ASSERT_DATA(&r, "01010101010101010101010101010101");
    ASSERT_SW(ch_cmdx(c, "00B20324 00", &r), 0x9000);
    ASSERT_DATA(&r, "03030303030303030303030303030303");
    ASSERT_SW(ch_cmdx(c, "00DC0224 10 0A0B0C0D0E0F101112131415161718 19", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B20224 00", &r), 0x9000);
    ASSERT_DATA(&r, "0A0B0C0D0E0F10111213141516171819");
    /* Le shorter than the record */
    ASSERT_SW(ch_cmdx(c, "00B20224 04", &r), 0x9000);
    ASSERT_DATA(&r, "0A0B0C0D");
    /* by current EF (SFI 0) after SELECT */
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0201", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B20104 00", &r), 0x9000);
    ASSERT_DATA(&r, "01010101010101010101010101010101");
    /* record 00 is a P1 error (§5) */
    ASSERT_SW(ch_cmdx(c, "00B20004 00", NULL), 0x6A86);
}

static void test_cyclic_records(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_cmdx(c, "00B2012C 00", NULL), 0x6A83);
    ASSERT_SW(ch_cmdx(c, "00E20028 08 AAAAAAAAAAAAAAAA", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B2012C 00", &r), 0x9000);
    ASSERT_DATA(&r, "AAAAAAAAAAAAAAAA");
    ASSERT_SW(ch_cmdx(c, "00B2022C 00", NULL), 0x6A83);
    ASSERT_SW(ch_cmdx(c, "00E20028 08 BBBBBBBBBBBBBBBB", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00E20028 08 CCCCCCCCCCCCCCCC", NULL), 0x9000);
    /* full: the oldest is overwritten, record 1 is the newest */
    ASSERT_SW(ch_cmdx(c, "00E20028 08 DDDDDDDDDDDDDDDD", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B2012C 00", &r), 0x9000);
    ASSERT_DATA(&r, "DDDDDDDDDDDDDDDD");
    ASSERT_SW(ch_cmdx(c, "00B2022C 00", &r), 0x9000);
    ASSERT_DATA(&r, "CCCCCCCCCCCCCCCC");
    ASSERT_SW(ch_cmdx(c, "00B2032C 00", &r), 0x9000);
    ASSERT_DATA(&r, "BBBBBBBBBBBBBBBB");
    ASSERT_SW(ch_cmdx(c, "00B2042C 00", NULL), 0x6A83);
    /* UPDATE RECORD is for linear fixed EFs only; lengths are exact */
    ASSERT_SW(ch_cmdx(c, "00DC012C 08 EEEEEEEEEEEEEEEE", NULL), 0x6981);
    ASSERT_SW(ch_cmdx(c, "00E20028 07 EEEEEEEEEEEEEE", NULL), 0x6700);
}

/* Records commit themselves into a spare slot (docs/nvm.md): after each of
 * 200 mixed APPENDs and UPDATEs, power cycles among them, every record reads
 * as a model of the EF says (linear 16 x 3, cyclic 8 x 3; the spare moves
 * through every slot, stale versions included). */
static void test_records_spare_slot_model(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    uint8_t lin[3][16], cyc[3][8], d[16];
    unsigned nlin = 0, ncyc = 0, i, k, x = 12345;

    ch_ap_default(&ap, 1);
    for (i = 0; i < 200; i++) {
        x = x * 1103515245u + 12345u;
        memset(d, (int)(i & 0xFF), sizeof(d));
        d[0] = (uint8_t)(x >> 16);
        if ((x >> 8) % 3 == 0) {                    /* APPEND cyclic */
            ASSERT_SW(ch_cmdf(c, NULL, "00E20028 08 %02X%02X%02X%02X%02X%02X%02X%02X", d[0], d[1],
                              d[2], d[3], d[4], d[5], d[6], d[7]), 0x9000);
            memmove(cyc[1], cyc[0], 2 * 8);
            memcpy(cyc[0], d, 8);
            if (ncyc < 3)
                ncyc++;
        } else if (nlin < 3 && (x >> 12) % 2 == 0) { /* APPEND linear */
            ASSERT_SW(ch_cmdf(c, NULL, "00E20020 10 %02X%02X%02X%02X%02X%02X%02X%02X"
                                       "%02X%02X%02X%02X%02X%02X%02X%02X",
                              d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10],
                              d[11], d[12], d[13], d[14], d[15]), 0x9000);
            memcpy(lin[nlin++], d, 16);
        } else if (nlin > 0) {                      /* UPDATE linear */
            k = 1 + (x >> 20) % nlin;
            ASSERT_SW(ch_cmdf(c, NULL, "00DC%02X24 10 %02X%02X%02X%02X%02X%02X%02X%02X"
                                       "%02X%02X%02X%02X%02X%02X%02X%02X",
                              k, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10],
                              d[11], d[12], d[13], d[14], d[15]), 0x9000);
            memcpy(lin[k - 1], d, 16);
        }
        if (i % 37 == 36) {
            ASSERT_SW(ch_power_cycle(c), MC_OK);
            ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
        }
        for (k = 1; k <= 3; k++) {
            if (k <= nlin) {
                ASSERT_SW(ch_cmdf(c, &r, "00B2%02X24 00", k), 0x9000);
                ASSERT_BYTES(r.data, r.len, lin[k - 1], 16);
            } else {
                ASSERT_SW(ch_cmdf(c, &r, "00B2%02X24 00", k), 0x6A83);
            }
            if (k <= ncyc) {
                ASSERT_SW(ch_cmdf(c, &r, "00B2%02X2C 00", k), 0x9000);
                ASSERT_BYTES(r.data, r.len, cyc[k - 1], 8);
            } else {
                ASSERT_SW(ch_cmdf(c, &r, "00B2%02X2C 00", k), 0x6A83);
            }
        }
    }
    ASSERT_SW(ch_cmdx(c, "00E20020 10 00000000000000000000000000000000", NULL), 0x6A84);
}

static void test_access_rules(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ct_snap s = ct_snapshot(c);

    /* PIN rule without the PIN */
    ASSERT_SW(ch_cmdx(c, "00B08200 04", NULL), 0x6982);
    ASSERT_SW(ch_cmdx(c, "00D68200 01 00", NULL), 0x6982);
    ASSERT_SW(ch_cmdx(c, "00E20030 0A 00000000000000000000", NULL), 0x6982);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0102", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", NULL), 0x6982);
    /* NEVER */
    ASSERT_SW(ch_cmdx(c, "00D68300 01 00", NULL), 0x6982);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 06", &r), 0x9000);
    ASSERT_DATA(&r, "736563726574");   /* "secret" */
    ASSERT_SW(ch_cmdx(c, "00D68200 02 5858", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00E20030 0A 30313233343536373839", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B20134 00", &r), 0x9000);
    ASSERT_DATA(&r, "30313233343536373839");
    /* NEVER stays never, even with the PIN */
    ASSERT_SW(ch_cmdx(c, "00D68300 01 00", NULL), 0x6982);
    ASSERT_SW(ch_cmdx(c, "00B08300 01", &r), 0x9000);
    ASSERT_DATA(&r, "AA");
}

/* Writes and VERIFY answer exactly 9000 with nothing but the R-MAC. */
static void test_success_without_data(void **state)
{
    ch_card *c = *state;
    static const char *const cmds[] = {
        "00A4020C 02 0101",
        "00D68100 02 0102",
        "00E20020 10 01010101010101010101010101010101",
        "00DC0124 10 02020202020202020202020202020202",
        "00E20028 08 0303030303030303",
        "00200081 04 31323334",
        "00240081 09 04 31323334 35363738",
    };
    ch_rsp r;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        ASSERT_SW(ch_cmdx(c, cmds[i], &r), 0x9000);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.raw_len, 8);
    }
}

/* File commands need the channel: plain ones after SELECT give 6982. */
static void test_file_commands_need_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00B08100 04", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00A40200 02 0101 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00D68100 01 00", NULL), 0x6982);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select_ef_fcp, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_ef_refusals, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_read_binary, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_update_binary, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_no_current_ef, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_incompatible_structure, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_linear_records, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_cyclic_records, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_records_spare_slot_model, setup_ap_channel,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_access_rules, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_file_commands_need_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_success_without_data, setup_ap_channel, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_files", tests, NULL, NULL);
}
