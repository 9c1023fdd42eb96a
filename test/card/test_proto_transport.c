/* test_proto_transport.c: PROTOCOL.md §10, the three transports, held
 * black-box through mc_set_transport (mc.h).  T=1 (the default after
 * fabrication and power-off) and contactless take short and extended APDUs
 * and answer a case-4 command directly; T=0 carries short APDUs only: an
 * extended one is 6700, and a case-4 command (also as T=0 sends it, without
 * its Le) is answered 61xx, its response (R-MAC included) then coming by
 * GET RESPONSE outside the MAC chain (§3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

#define AM_AID "F04D4E4150414D"
#define AM_FCI "6F0F 8407" AM_AID " A504 9F700101"

static uint8_t img[CH_IMAGE_MAX];
static uint8_t big[8192];

/* AP 1 with one more EF: 0B01, SFI 12, 6000 bytes of a pattern. */
static void big_ap(ch_ap *ap)
{
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + (i >> 8));
    ch_ap_default(ap, 1);
    ap->n_efs = 2;
    ap->efs[1] = (ch_ef){.fid = 0x0B01, .sfi = 12, .type = CH_EF_TRANSPARENT, .size = 6000,
                         .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM,
                         .content = big, .content_len = 6000};
}

/* ap's image in img. */
static size_t build(ch_card *c, const ch_ap *ap)
{
    return ct_build_image(c, ap, img, sizeof(img));
}

/* A fresh card is T=1: extended APDUs, case 4 answered at once. */
static void test_default_is_t1(void **state)
{
    ch_card *c = *state;
    static ch_rsp r, e;

    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID " 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &e), 0x9000);
    ASSERT_BYTES(e.data, e.len, r.data, r.len);
    /* Contactless is T=1 as far as APDUs go (§10). */
    mc_set_transport(&c->sc.card, MC_TRANSPORT_CL);
    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID " 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
    ASSERT_SW(ch_rawx(c, "00A40400 000007" AM_AID " 0000", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, e.data, e.len);
}

/* T=0: every extended APDU (cases 2E, 3E, 4E, GET RESPONSE too) is 6700
 * with no data, where T=1 answers it.  A T=0 link cannot carry one, so it
 * is refused as it arrives, as a framing error: after the class check only,
 * before secure messaging, instruction and P1/P2; it touches nothing but a
 * pending initiation, which any framing error ends (§3). */
static void test_t0_extended_is_6700(void **state)
{
    ch_card *c = *state;
    static ch_rsp r;
    cm_keyset tk;

    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x6700);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00A40400 000007" AM_AID, &r), 0x6700);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00A40400 000007" AM_AID " 0000", &r), 0x6700);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00A40400 000007" AM_AID " 0100", &r), 0x6700);
    ASSERT_SW(ch_rawx(c, "00C00000 000000", &r), 0x6700);
    /* The class check comes first; then this, before secure messaging
     * (6982 without a channel in T=1), instruction (6D00), P1/P2 (6A86). */
    ASSERT_SW(ch_rawx(c, "20CADF20 000000", &r), 0x6E00);
    ASSERT_SW(ch_rawx(c, "84B00000 000008 0102030405060708 0000", &r), 0x6700);
    ASSERT_SW(ch_rawx(c, "807E0000 000000", &r), 0x6700);
    ASSERT_SW(ch_rawx(c, "00C00100 000000", &r), 0x6700);
    /* Short forms still work, and a pending response survives an extended
     * APDU, GET RESPONSE or not. */
    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID, &r), 0x6111);
    ASSERT_SW(ch_rawx(c, "00C00000 000011", &r), 0x6700);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x6700);
    ASSERT_SW(ch_rawx(c, "00C00000 11", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
    /* Like any framing error it ends a pending initiation (§3); without it
     * the channel opens. */
    ch_transport_keys(&tk);
    ASSERT_SW(ch_initialize_update(c, 0xFF, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0xFF, &tk, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x6700);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x6985);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T1);
    ASSERT_SW(ch_rawx(c, "84B00000 000008 0102030405060708 0000", &r), 0x6982);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x9000);
}

/* T=0 in a channel: the card never looks at a wrapped extended APDU, so its
 * C-MAC is not checked and the card's MAC chain stays where it was: a bad
 * C-MAC is 6700 too and the channel goes on; a good one leaves the host's
 * chain ahead, and the next wrapped command is 6988 (channel closed). */
static void test_t0_extended_in_channel(void **state)
{
    ch_card *c = *state;
    static ch_rsp r;
    ch_ap ap;

    ch_ap_default(&ap, 1);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", &r), 0x9000);
    /* Neither side moved its chain. */
    ASSERT_SW(ch_rawx(c, "04B00000 000008 0102030405060708 0000", &r), 0x6700);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x9000);
    ASSERT_DATA(&r, "00010203");
    /* The host wrapped (its chain moved), the card did not look. */
    ASSERT_SW(ch_cmd_nogr(c, (const uint8_t *)"\x00\xB0\x00\x00\x00\x01\x00", 7, &r), 0x6700);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x6988);
    ASSERT_SW(ch_rawx(c, "04B00000 08 0102030405060708 00", &r), 0x6982);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", &r), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x9000);
    ASSERT_DATA(&r, "00010203");
}

/* T=0: a case-4 command is answered 61xx (with or without its Le on the
 * wire), the data then by GET RESPONSE; a case-4 command with nothing to
 * return gets its status word at once; case 2 is answered directly. */
static void test_t0_case4_is_61xx(void **state)
{
    ch_card *c = *state;
    static ch_rsp r, e;

    ASSERT_SW(ch_rawx(c, "00A4040C 07" AM_AID, &r), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &e), 0x9000);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID " 00", &r), 0x6111);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00C00000 11", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
    /* As T=0 transmits a case-4 command: Le left out (ISO 7816-3 12.2). */
    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID, &r), 0x6111);
    assert_int_equal(r.len, 0);
    /* GET RESPONSE in parts: 61xx counts what is left. */
    ASSERT_SW(ch_rawx(c, "00C00000 05", &r), 0x610C);
    ASSERT_DATA(&r, "6F0F 8407 F0");
    ASSERT_SW(ch_rawx(c, "00C00000 0C", &r), 0x9000);
    ASSERT_DATA(&r, "4D4E4150414D A504 9F700101");
    ASSERT_SW(ch_rawx(c, "00C00000 01", &r), 0x6985);
    /* Nothing to return: the status word at once. */
    ASSERT_SW(ch_rawx(c, "00A40400 05 D392100009 00", &r), 0x6A82);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00A4040C 07" AM_AID, &r), 0x9000);
    assert_int_equal(r.len, 0);
    /* Case 2: directly, as in T=1. */
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, e.data, e.len);
    /* T=1 answers the same case-4 command at once. */
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T1);
    ASSERT_SW(ch_rawx(c, "00A40400 07" AM_AID " 00", &r), 0x9000);
    ASSERT_DATA(&r, AM_FCI);
}

/* T=0 in a channel: the channel opens (INITIALIZE UPDATE answered 6120),
 * wrapped commands come back by 61xx / GET RESPONSE with their R-MAC, and
 * GET RESPONSE stays outside the MAC chain: the channel goes on. */
static void test_t0_channel(void **state)
{
    ch_card *c = *state;
    static ch_rsp r;
    ch_ap ap;
    cm_keyset rk;
    uint8_t iu[14] = {0x80, 0x50, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};

    ch_ap_default(&ap, 1);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    /* INITIALIZE UPDATE, plain case 4: 61 20, then its 32 bytes. */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_raw(c, iu, sizeof(iu) - 1, &r), 0x6120);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00C00000 20", &r), 0x9000);
    assert_int_equal(r.len, 32);
    /* A channel at 33 (the harness follows 61xx). */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    /* Wrapped SELECT EF with P2 0C: no data, but an R-MAC: 61 08. */
    ASSERT_SW(ch_cmd_nogr(c, (const uint8_t *)"\x00\xA4\x02\x0C\x02\x01\x01", 7, &r), 0x6108);
    ASSERT_SW(ch_rawx(c, "00C00000 08", &r), 0x9000);
    assert_int_equal(r.len, 8);
    /* Wrapped READ BINARY as T=0 sends it (no Le): Ne 256; 64 bytes, R-ENC
     * padding to 80, R-MAC: 61 58. */
    ASSERT_SW(ch_cmd_nogr(c, (const uint8_t *)"\x00\xB0\x00\x00", 4, &r), 0x6158);
    ASSERT_SW(ch_rawx(c, "00C00000 58", &r), 0x9000);
    assert_int_equal(r.len, 88);
    /* The channel goes on, and the harness checks R-MAC and R-ENC. */
    ASSERT_SW(ch_cmdx(c, "00B00000", &r), 0x9000);
    ASSERT_DATA(&r, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
                    "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F");
    ASSERT_SW(ch_cmdx(c, "00B00000 10", &r), 0x9000);
    ASSERT_DATA(&r, "000102030405060708090A0B0C0D0E0F");
    ASSERT_SW(ch_cmdx(c, "00D60000 02 CAFE", &r), 0x9000);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x9000);
    ASSERT_DATA(&r, "CAFE0203");
    /* The same wrapped READ BINARY without Le is a wrong length in T=1. */
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T1);
    ASSERT_SW(ch_cmdx(c, "00B00000", &r), 0x6700);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x9000);
    ASSERT_DATA(&r, "CAFE0203");
    /* And the AM channel opens in T=0 too. */
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ch_region_keys(&rk);
    ASSERT_SW(ch_open(c, ch_am_aid, CH_AM_AID_LEN, 0x01, &rk, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
}

/* T=0: a large file in reads of at most 256 bytes; an extended read is
 * refused; LOAD AP blocks longer than 255 bytes go in chained short
 * segments (the last answered 61 08, its R-MAC by GET RESPONSE). */
static void test_t0_large_file_and_chained_load(void **state)
{
    ch_card *c = *state;
    static ch_rsp r;
    static uint8_t got[6000];
    ch_ap ap;
    size_t n, off;

    big_ap(&ap);
    n = build(c, &ap);
    assert_true(n > 6000);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ASSERT_SW(ch_open_am(c), 0x9000);
    /* One block: an extended Lc, refused. */
    ASSERT_SW(ch_load_image(c, img, n, 2048, 0), 0x6700);
    ch_forget(c);   /* the card did not check that C-MAC: the chains differ */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, 2048, 255), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0B01", NULL), 0x9000);
    for (off = 0; off < 6000; off += r.len) {
        ASSERT_SW(ch_cmdf(c, &r, "00B0%04X 00", (unsigned)off), 0x9000);
        assert_int_equal(r.len, 6000 - off < 256 ? 6000 - off : 256);
        memcpy(got + off, r.data, r.len);
    }
    ASSERT_BYTES(got, sizeof(got), big, 6000);
    /* The first read as it goes on the wire: 256 bytes, 16 of padding and
     * the R-MAC are 280: 61 00, then 61 18. */
    ASSERT_SW(ch_cmd_nogr(c, (const uint8_t *)"\x00\xB0\x00\x00\x00", 5, &r), 0x6100);
    ASSERT_SW(ch_rawx(c, "00C00000 00", &r), 0x6118);
    assert_int_equal(r.len, 256);
    ASSERT_SW(ch_rawx(c, "00C00000 18", &r), 0x9000);
    assert_int_equal(r.len, 24);
}

/* T=0: a GET DATA object longer than 256 bytes (the security log) comes by
 * 61 00 and GET RESPONSE, the same object T=1 returns for extended Le. */
static void test_t0_long_object(void **state)
{
    ch_card *c = *state;
    static ch_rsp t1, t0;
    ch_ap ap;
    uint8_t ga[] = {0x80, 0xCA, 0xDF, 0x21, 0x00};
    size_t prot;

    ch_ap_default(&ap, 1);
    /* AP_LOADED / AP_DELETED alternate: one log entry each. */
    for (int i = 0; i < 8; i++) {
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
        ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    }
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &t1), 0x9000);
    assert_true(t1.len > 256);
    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ASSERT_SW(ch_open_am(c), 0x9000);
    /* Protected: the log, R-ENC padding to a multiple of 16, the R-MAC. */
    prot = (t1.len / 16 + 1) * 16 + 8;
    assert_true(prot - 256 < 256);
    ASSERT_SW(ch_cmd_nogr(c, ga, sizeof(ga), &t0), 0x6100);
    ASSERT_SW(ch_rawx(c, "00C00000 00", &t0), 0x6100 | (prot - 256));
    assert_int_equal(t0.len, 256);
    /* A new command drops the rest; the channel goes on. */
    ASSERT_SW(ch_cmd(c, ga, 4, &t0), 0x9000);          /* Le left out, as T=0 sends it */
    ASSERT_BYTES(t0.data, t0.len, t1.data, t1.len);
    ASSERT_SW(ch_cmd(c, ga, sizeof(ga), &t0), 0x9000);
    ASSERT_BYTES(t0.data, t0.len, t1.data, t1.len);
}

/* The transport is the port's: a warm reset keeps it, a power cycle (power
 * off wipes all RAM state) brings back T=1; unknown values change nothing. */
static void test_transport_life(void **state)
{
    ch_card *c = *state;
    static ch_rsp r;

    mc_set_transport(&c->sc.card, MC_TRANSPORT_T0);
    ch_reset(c);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x6700);
    mc_set_transport(&c->sc.card, 3);
    mc_set_transport(&c->sc.card, 0xFF);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x6700);
    mc_set_transport(NULL, MC_TRANSPORT_T1);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_rawx(c, "00A4040C 07" AM_AID, &r), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", &r), 0x9000);
    assert_true(r.len > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_is_t1, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_extended_is_6700, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_extended_in_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_case4_is_61xx, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_large_file_and_chained_load, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_t0_long_object, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_transport_life, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
