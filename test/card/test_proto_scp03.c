/* test_proto_scp03.c: PROTOCOL.md §3 and §9 (EXTERNAL AUTHENTICATE order)
 * held black-box: INITIALIZE UPDATE response and sequence counter, EXTERNAL
 * AUTHENTICATE refusals (level, length, no initiation, replay, level below
 * minimum, bad cryptogram, bad C-MAC), SM rules inside and outside a channel,
 * the security levels 01/03/11/13/33 seen in the responses, key sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "cm_cbc.h"

static void test_iu_response_and_counter(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    ch_rsp r;

    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    /* the harness checks div data, key info FF 03 70, challenge, cryptogram */
    ASSERT_SW(ch_initialize_update(c, 0x00, &tk, &r), 0x9000);
    assert_int_equal(r.len, 32);
    ASSERT_BYTES(r.data, 13, "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\xFF\x03\x70", 13);
    /* a fresh card's counter is 0: the first initiation reports 1 */
    assert_int_equal(ch_last_seq(c), 1);
    ASSERT_SW(ch_initialize_update(c, 0xFF, &tk, &r), 0x9000);
    assert_int_equal(ch_last_seq(c), 2);
    /* the counter is committed before the answer: it survives a power cycle */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0x00, &tk, &r), 0x9000);
    assert_int_equal(ch_last_seq(c), 3);
}

static void test_iu_unknown_kvn(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80500500 08 0102030405060708 00", NULL), 0x6A88);
    ASSERT_SW(ch_rawx(c, "80500100 08 0102030405060708 00", NULL), 0x6A88);
}

static void test_iu_with_sm(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "84500000 10 01020304050607080102030405060708 00", NULL), 0x6882);
}

static void test_iu_p2_and_length(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80500001 08 0102030405060708 00", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "80500000 07 01020304050607 00", NULL), 0x6700);
}

static void test_ea_without_iu(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "84823300 10 00000000000000000000000000000000", NULL), 0x6985);
}

static void test_ea_level_not_accepted(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    /* with and without a pending initiation: the level is checked first */
    ASSERT_SW(ch_rawx(c, "84820200 10 00000000000000000000000000000000", NULL), 0x6A86);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "84823100 10 00000000000000000000000000000000", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "84820000 10 00000000000000000000000000000000", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "84822300 10 00000000000000000000000000000000", NULL), 0x6A86);
}

static void test_ea_wrong_length(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "84823300 0F 000000000000000000000000000000", NULL), 0x6700);
}

static void test_ea_bad_cryptogram(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    uint8_t data[16], bad[8] = {0};
    uint8_t apdu[21] = {0x84, 0x82, 0x33, 0x00, 0x10};

    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    /* a properly MACed EXTERNAL AUTHENTICATE carrying a wrong cryptogram */
    assert_int_equal(cm_scp03_external_auth(&c->scp, 0x33, bad, data), 0);
    memcpy(apdu + 5, data, 16);
    ASSERT_SW(ch_raw(c, apdu, sizeof(apdu), NULL), 0x6300);
    /* no channel, and no pending initiation any more */
    ASSERT_SW(ch_rawx(c, "84CADF20 08 0000000000000000 00", NULL), 0x6982);
    ASSERT_SW(ch_raw(c, apdu, sizeof(apdu), NULL), 0x6985);
}

static void test_ea_bad_mac(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    uint8_t apdu[21];

    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    /* build the right EXTERNAL AUTHENTICATE, then damage its C-MAC */
    {
        uint8_t hc[8];
        assert_int_equal(cm_scp03_cryptogram(&c->scp, CM_DC_HOST_CRYPTOGRAM, c->host_challenge,
                                             c->card_challenge, hc), 0);
        apdu[0] = 0x84; apdu[1] = 0x82; apdu[2] = 0x33; apdu[3] = 0x00; apdu[4] = 0x10;
        assert_int_equal(cm_scp03_external_auth(&c->scp, 0x33, hc, apdu + 5), 0);
    }
    apdu[20] ^= 0x01;
    ASSERT_SW(ch_raw(c, apdu, sizeof(apdu), NULL), 0x6300);
    ASSERT_SW(ch_rawx(c, "84CADF20 08 0000000000000000 00", NULL), 0x6982);
}

/* A replayed EXTERNAL AUTHENTICATE is refused and leaves the channel open. */
static void test_ea_replay(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;
    ch_rsp r;
    uint8_t ea[21];
    size_t vl;

    ch_transport_keys(&tk);
    ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0xFF, &tk, 0x33), 0x9000);
    memcpy(ea, c->last_ea, sizeof(ea));
    ASSERT_SW(ch_raw(c, ea, sizeof(ea), NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    assert_non_null(ch_tlv_find(r.data, r.len, 0xDF20, &vl));
}

static void test_ea_level_below_minimum(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;

    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    /* the AM's minimum is 33: 13 lacks R-ENC */
    ASSERT_SW(ch_external_authenticate(c, 0x13), 0x6982);
    /* the initiation ended with it */
    c->iu_pending = true;
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x6985);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x01), 0x6982);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
}

/* Every EXTERNAL AUTHENTICATE ends a pending initiation, also one refused
 * for its level (6A86) or its length (6700) (§9). */
static void test_every_ea_ends_initiation(void **state)
{
    ch_card *c = *state;
    cm_keyset tk;

    ch_transport_keys(&tk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "84820200 10 00000000000000000000000000000000", NULL), 0x6A86);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x6985);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "84823300 0F 000000000000000000000000000000", NULL), 0x6700);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x6985);
    ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
}

/* A level is sufficient when it holds every bit of the minimum (§3): an AP
 * with minimum 13 takes 13 and 33, refuses 01, 03 and 11. */
static void test_level_bits(void **state)
{
    ch_card *c = *state;
    static const uint8_t lv[5] = {0x01, 0x03, 0x11, 0x13, 0x33};
    static const uint16_t sw[5] = {0x6982, 0x6982, 0x6982, 0x9000, 0x9000};
    ch_ap ap;

    ch_ap_default(&ap, 2);
    ap.min_level = 0x13;
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    for (unsigned i = 0; i < 5; i++) {
        ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
        ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
        ASSERT_SW(ch_external_authenticate(c, lv[i]), sw[i]);
    }
}

/* Builds VERIFY by hand from one plain block: C-DECRYPTION with the next
 * counter's ICV, then the C-MAC through the streaming API. */
static uint16_t manual_verify(ch_card *c, const uint8_t block[16])
{
    uint8_t hdr[4] = {0x04, 0x20, 0x00, 0x81};
    uint8_t data[16 + 8], icv[16], chain[16], apdu[64];
    cm_cmac_ctx m;

    memcpy(data, block, 16);
    c->scp.counter++;
    if (cm_scp03_icv(&c->scp, 0, icv) != 0 ||
        cm_cbc_encrypt(&c->aes, c->scp.s_enc, c->scp.key_len, icv, data, data, 16) != 0 ||
        cm_scp03_cmac_begin(&c->scp, &m, hdr, 16, 0) != 0 || cm_cmac_update(&m, data, 16) != 0 ||
        cm_scp03_cmac_end(&m, chain, data + 16) != 0)
        return CH_SW_HARNESS;
    memcpy(c->scp.mac_chain, chain, 16);
    memcpy(apdu, hdr, 4);
    apdu[4] = 24;
    memcpy(apdu + 5, data, 24);
    return ch_raw(c, apdu, 29, NULL);
}

/* C-DECRYPTION with a good C-MAC over data whose padding is wrong: 6988 and
 * the channel closes (§3).  The same construction with good padding is
 * accepted first, so the 6988 is the padding's. */
static void test_bad_padding(void **state)
{
    ch_card *c = *state;
    static const uint8_t good[16] = {0x31, 0x32, 0x33, 0x34, 0x80};
    uint8_t bad[16];
    ch_ap ap;

    memset(bad, 0x31, sizeof(bad));
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(manual_verify(c, good), 0x9000);
    ASSERT_SW(manual_verify(c, bad), 0x6988);
    ch_forget(c);
    ASSERT_SW(ch_rawx(c, "04B08100 08 0102030405060708 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x63C3);   /* and no try was used */
}

static void test_plain_command_in_channel_closes_it(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x6982);
    /* the card has no channel any more: a wrapped command is refused too */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
}

static void test_bad_cmac_closes_channel(void **state)
{
    ch_card *c = *state;
    uint8_t apdu[64], w[128];
    size_t n, wn;

    n = ch_hex("80CADF20 00", apdu, sizeof(apdu));
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, n, w, sizeof(w), &wn), 0);
    w[wn - 2] ^= 0x80;   /* last MAC byte (Le follows) */
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6988);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
}

static void test_wrapped_lc_below_8(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "84CADF20 04 01020304 00", NULL), 0x6988);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
}

static void test_sm_without_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "84CADF20 08 0102030405060708 00", NULL), 0x6982);
}

static void test_get_response_with_sm(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "04C00000 00", NULL), 0x6882);
    /* C0 in the GP class is not GET RESPONSE (§2): SM without a channel */
    ASSERT_SW(ch_rawx(c, "84C00000 00", NULL), 0x6982);
}

/* INITIALIZE UPDATE inside a channel ends it and starts a new initiation. */
static void test_iu_inside_channel(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;
    cm_scp03 old;
    ch_rsp r;

    ch_region_keys(&rk);
    old = c->scp;
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    {
        /* the old channel is gone: a command wrapped with its keys fails */
        cm_scp03 newer = c->scp;
        c->scp = old;
        c->chan_open = true;
        ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
        c->chan_open = false;
        c->scp = newer;
    }
    /* GlobalPlatform aborts an initiation on any command other than
     * EXTERNAL AUTHENTICATE, so authenticate on a fresh one. */
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
}

/* INITIALIZE UPDATE inside a channel ends it whatever its outcome (§3). */
static void test_failed_iu_inside_channel_ends_it(void **state)
{
    ch_card *c = *state;
    cm_scp03 old = c->scp;

    ASSERT_SW(ch_rawx(c, "80507700 08 0102030405060708 00", NULL), 0x6A88);
    c->scp = old;
    c->chan_open = true;
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
    ch_forget(c);
    ASSERT_SW(ch_rawx(c, "80500001 08 0102030405060708 00", NULL), 0x6A86);
}

/* Sequence counters never repeat: a PUT KEY key set starts at the card's
 * high-water mark. */
static void test_seq_counter_new_keyset_not_below(void **state)
{
    ch_card *c = *state;
    cm_keyset tk, rk;
    uint32_t s_transport;

    ch_transport_keys(&tk);
    ch_region_keys(&rk);
    for (int i = 0; i < 5; i++) {
        ASSERT_SW(ch_select_am(c), 0x9000);
        ASSERT_SW(ch_initialize_update(c, 0, &tk, NULL), 0x9000);
    }
    ASSERT_SW(ch_area_setup(c, &rk), 0x9000);
    s_transport = ch_last_seq(c);
    assert_int_equal(s_transport, 6);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    assert_true(ch_last_seq(c) > s_transport);
}

/* An AP with min_level 01 accepts every level; each level shows in the
 * responses: no R-MAC (01, 03), R-MAC (11, 13), R-MAC and R-ENC (33). */
static void test_levels_on_ap(void **state)
{
    ch_card *c = *state;
    static const uint8_t levels[5] = {0x01, 0x03, 0x11, 0x13, 0x33};
    ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 2);
    ap.min_level = 0x01;
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    for (unsigned i = 0; i < 5; i++) {
        size_t raw;
        ASSERT_SW(ch_open_ap(c, &ap, levels[i]), 0x9000);
        /* C-DECRYPTION carries the PIN encrypted when the level has it */
        ASSERT_SW(ch_verify(c, "1234"), 0x9000);
        ASSERT_SW(ch_cmdx(c, "00B08100 05", &r), 0x9000);
        ASSERT_DATA(&r, "0001020304");
        raw = r.raw_len;
        if (levels[i] & CM_SL_RENC)
            assert_int_equal(raw, 16 + 8);
        else if (levels[i] & CM_SL_RMAC)
            assert_int_equal(raw, 5 + 8);
        else
            assert_int_equal(raw, 5);
    }
}

/* R-MAC only on 9000, 62xx and 63xx (§3): a wrong VERIFY (63C2) carries
 * one, a refusal (6A82, 6B00, 6982) carries nothing at all. */
static void test_rmac_only_on_success_and_warnings(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    uint8_t apdu[32];
    size_t n;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    n = ch_hex("00200081 04 39393939", apdu, sizeof(apdu));
    ASSERT_SW(ch_cmd(c, apdu, n, &r), 0x63C2);
    assert_int_equal(r.raw_len, 8);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_cmdx(c, "00A40200 02 0999 00", &r), 0x6A82);
    assert_int_equal(r.raw_len, 0);
    ASSERT_SW(ch_cmdx(c, "00B08141 01", &r), 0x6B00);
    assert_int_equal(r.raw_len, 0);
    ASSERT_SW(ch_cmdx(c, "00B08200 01", &r), 0x6982);
    assert_int_equal(r.raw_len, 0);
    ASSERT_SW(ch_cmdx(c, "00B08100 01", &r), 0x9000);
    assert_int_equal(r.raw_len, 16 + 8);
}

static void test_ap_default_min_level_33(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x13), 0x6982);
    ASSERT_SW(ch_initialize_update(c, ap.keys.kvn, &ap.keys, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    /* another KVN than the AP's */
    ASSERT_SW(ch_rawx(c, "80507F00 08 0102030405060708 00", NULL), 0x6A88);
}

static void test_channel_bound_to_application(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    cm_scp03 am_scp;

    ch_ap_default(&ap, 1);
    am_scp = c->scp;
    /* SELECT of the AP ends the AM channel (F1, F2) */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    c->scp = am_scp;
    c->chan_open = true;
    ASSERT_SW(ch_cmdx(c, "00B08100 05", &r), 0x6982);
    ch_forget(c);
    /* the AP's channel needs the AP's keys: the region keys do not verify */
    {
        cm_keyset rk;
        ch_region_keys(&rk);
        ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), CH_SW_CRYPTO);
    }
}

static void test_keys_192_and_256(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;
    ch_rsp r;
    uint8_t exp[10];

    ch_make_keys(&rk, 0x01, 0x20, 32);
    ASSERT_SW(ch_area_setup(c, &rk), 0x9000);
    ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0x01, &rk, 0x33), 0x9000);
    /* AM key rotation to AES-192 */
    {
        cm_keyset k2;
        ch_make_keys(&k2, 0x02, 0x60, 24);
        ASSERT_SW(ch_put_key(c, 0x01, &k2, &r), 0x9000);
        ch_put_key_expected(c, &k2, exp);
        ASSERT_BYTES(r.data, r.len, exp, 10);
        ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0x02, &k2, 0x33), 0x9000);
        ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    }
    /* APs with AES-192 and AES-256 key sets, wrapped in the image with the
     * region DEK (the 24-byte keys padded 80 00..) */
    {
        ch_ap ap;
        static const uint8_t lens[2] = {24, 32};
        cm_keyset am_keys = c->chan_keys;   /* AES-192, KVN 02 */
        for (unsigned i = 0; i < 2; i++) {
            ch_ap_default(&ap, 4 + i);
            ch_make_keys(&ap.keys, (uint8_t)(0x50 + i), (uint8_t)(0x31 * (i + 1)), lens[i]);
            ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0x00, &am_keys, 0x33), 0x9000);
            {
                static uint8_t img[CH_IMAGE_MAX];
                size_t n = ch_build_image(c, am_keys.dek, am_keys.key_len, &ap, img,
                                          sizeof(img));
                assert_true(n > 0);
                ASSERT_SW(ch_load_image(c, img, n, n, 0), 0x9000);
            }
            ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
            ASSERT_SW(ch_cmdx(c, "00B08100 02", &r), 0x9000);
            ASSERT_DATA(&r, "0001");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_iu_response_and_counter, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_iu_unknown_kvn, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_iu_with_sm, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_iu_p2_and_length, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_without_iu, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_level_not_accepted, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_wrong_length, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_bad_cryptogram, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_bad_mac, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_replay, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ea_level_below_minimum, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_every_ea_ends_initiation, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_level_bits, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_bad_padding, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_plain_command_in_channel_closes_it, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_bad_cmac_closes_channel, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_wrapped_lc_below_8, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_sm_without_channel, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_response_with_sm, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_iu_inside_channel, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_failed_iu_inside_channel_ends_it, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_seq_counter_new_keyset_not_below, ct_setup_blank,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_levels_on_ap, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ap_default_min_level_33, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_rmac_only_on_success_and_warnings, ct_setup_ap,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_channel_bound_to_application, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_keys_192_and_256, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_scp03", tests, NULL, NULL);
}
