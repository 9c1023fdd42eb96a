/* test_attack_channel.c: attacks on the secure channel, from the position of
 * someone who records and alters APDUs between host and card (a malicious
 * kiosk or reader, docs/security.md):
 *
 *   - replay of a previous session's wrapped commands, into a new session,
 *     with no session, and inside the same session;
 *   - replay of a previous session's INITIALIZE UPDATE / EXTERNAL
 *     AUTHENTICATE pair;
 *   - a bit flipped in every byte of a wrapped command that the C-MAC
 *     covers (P1, P2, encrypted data, the C-MAC itself);
 *   - the security level changed in flight (EXTERNAL AUTHENTICATE P1) and a
 *     level below the AP's minimum;
 *   - an exhausted sequence counter.
 *
 * Each refusal is checked by its exact status word (PROTOCOL.md §3, §9) and
 * by the card's state being unchanged (ct_snapshot: mc_debug_dump or the raw
 * NVM).  The wrapped APDUs are built with common/'s SCP03 host side on the
 * harness's channel, then sent raw, exactly as a recorder would resend them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "cm_err.h"
#include "store.h"

/* Wraps hex on the open host channel (advancing its chain) into w. */
static size_t wrap(ch_card *c, const char *hex, uint8_t *w, size_t cap)
{
    uint8_t apdu[300];
    size_t n = ch_hex(hex, apdu, sizeof(apdu)), wn = 0;
    assert_true(n != (size_t)-1);
    assert_true(c->chan_open);
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, n, w, cap, &wn), CM_OK);
    return wn;
}

/* EF 0101 of the default AP (64 bytes) starts with these 4 bytes. */
static void assert_ef0101_starts(ch_card *c, const ch_ap *ap, const char *hex)
{
    ch_rsp r;
    ASSERT_SW(ch_open_ap(c, ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 04", &r), 0x9000);
    ASSERT_DATA(&r, hex);
}

static void test_replay_previous_session(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    uint8_t w1[64], w2[64], w3[64], ea1[21];
    size_t n1, n2, n3;
    ct_snap s;

    ch_ap_default(&ap, 1);
    /* Session 1, recorded: select EF 0101, write AA BB CC DD. */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    memcpy(ea1, c->last_ea, sizeof(ea1));
    n1 = wrap(c, "00A4020C 02 0101", w1, sizeof(w1));
    ASSERT_SW(ch_raw(c, w1, n1, NULL), 0x9000);
    n2 = wrap(c, "00D60000 04 AABBCCDD", w2, sizeof(w2));
    ASSERT_SW(ch_raw(c, w2, n2, NULL), 0x9000);
    /* Inside the same session, the same bytes again: the MAC chain moved. */
    ASSERT_SW(ch_raw(c, w2, n2, NULL), 0x6988);
    ch_forget(c);

    /* Session 2 writes 11 22 33 44; the recorder then replays session 1. */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00D60000 04 11223344", NULL), 0x9000);
    s = ct_snapshot(c);
    ASSERT_SW(ch_raw(c, w1, n1, NULL), 0x6988);   /* wrong MAC: the channel ends */
    ch_forget(c);
    ASSERT_SW(ch_raw(c, w2, n2, NULL), 0x6982);   /* SM with no channel */
    ASSERT_UNCHANGED(c, s);
    /* With no session at all (fresh selection): 6982 for each. */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_raw(c, w1, n1, NULL), 0x6982);
    ASSERT_SW(ch_raw(c, w2, n2, NULL), 0x6982);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);

    /* Session 1's EXTERNAL AUTHENTICATE after a new INITIALIZE UPDATE: the
     * card challenge differs (counter moved), so the cryptogram is wrong. */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
    c->iu_pending = false;
    ASSERT_SW(ch_raw(c, ea1, sizeof(ea1), NULL), 0x6300);
    n3 = ch_hex("84B08100 0C 0102030405060708090A0B0C", w3, sizeof(w3));
    ASSERT_SW(ch_raw(c, w3, n3, NULL), 0x6982);   /* no channel came of it */
    /* The file still holds session 2's write. */
    assert_ef0101_starts(c, &ap, "11223344");
}

/* One bit flipped in each byte the C-MAC covers: 6988, the channel ends,
 * nothing changes. */
static void test_bitflip_every_covered_byte(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    uint8_t w[96];
    size_t n = 0;
    ct_snap s;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    n = wrap(c, "00D60000 10 000102030405060708090A0B0C0D0E0F", w, sizeof(w));
    /* 4 header bytes, Lc, 32 bytes of C-DECRYPTION data, 8 of C-MAC */
    assert_int_equal(n, 5 + 32 + 8);
    ch_forget(c);
    for (size_t i = 2; i < n; i++) {
        uint8_t bad[96];
        if (i == 4)
            continue;   /* Lc: a framing error (test_attack_framing.c) */
        ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
        ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
        n = wrap(c, "00D60000 10 FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", w, sizeof(w));
        memcpy(bad, w, n);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        s = ct_snapshot(c);
        ASSERT_SW(ch_raw(c, bad, n, NULL), 0x6988);
        ch_forget(c);
        /* the channel is gone: the untouched command is now refused too */
        ASSERT_SW(ch_raw(c, w, n, NULL), 0x6982);
        ASSERT_UNCHANGED(c, s);
        ct_snap_free(&s);
    }
    /* The file was never written. */
    assert_ef0101_starts(c, &ap, "00010203");
}

/* EXTERNAL AUTHENTICATE with the host's level-33 C-MAC, P1 replaced by
 * level in flight.  Returns the card's SW. */
static uint16_t ea_tampered(ch_card *c, const ch_ap *ap, uint8_t level)
{
    uint8_t ea[21] = { 0x84, 0x82, 0x33, 0x00, 0x10 }, hc[8];
    uint16_t sw;

    ASSERT_SW(ch_select(c, ap->aid, ap->aid_len, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap->keys, NULL), 0x9000);
    c->iu_pending = false;
    assert_int_equal(cm_scp03_cryptogram(&c->scp, CM_DC_HOST_CRYPTOGRAM, c->host_challenge,
                                         c->card_challenge, hc), CM_OK);
    assert_int_equal(cm_scp03_external_auth(&c->scp, 0x33, hc, ea + 5), CM_OK);
    ea[2] = level;                                      /* the tampering */
    sw = ch_raw(c, ea, sizeof(ea), NULL);
    ea[2] = 0x33;                                       /* the original, late */
    ASSERT_SW(ch_raw(c, ea, sizeof(ea), NULL), 0x6985);
    /* no channel came of either */
    ASSERT_SW(ch_rawx(c, "84B08100 0C 0102030405060708090A0B0C", NULL), 0x6982);
    return sw;
}

/* Security level downgrade.  The level is covered by EXTERNAL
 * AUTHENTICATE's C-MAC, so a man in the middle who lowers it gets 6300 where
 * the lower level would be allowed (an AP whose minimum is 01), and 6982
 * where it is below the minimum (6982 comes first, §9); an honest request
 * below the minimum is 6982.  No channel in any case. */
static void test_level_downgrade(void **state)
{
    ch_card *c = *state;
    ch_ap ap, low;
    static const uint8_t lower[] = { 0x01, 0x03, 0x11, 0x13 };

    ch_ap_default(&ap, 1);
    ch_ap_default(&low, 2);
    low.min_level = 0x01;
    ASSERT_SW(ch_load_ap(c, &low), 0x9000);
    for (size_t k = 0; k < sizeof(lower); k++) {
        ASSERT_SW(ea_tampered(c, &low, lower[k]), 0x6300);
        ASSERT_SW(ea_tampered(c, &ap, lower[k]), 0x6982);
    }
    for (size_t k = 0; k < sizeof(lower); k++) {
        ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
        ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
        ASSERT_SW(ch_external_authenticate(c, lower[k]), 0x6982);
        ASSERT_SW(ch_rawx(c, "84B08100 0C 0102030405060708090A0B0C", NULL), 0x6982);
    }
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_open_ap(c, &low, 0x33), 0x9000);
}

/* A sequence counter at FFFFFF: INITIALIZE UPDATE gives 6985, changes
 * nothing, and stays refused after a power cycle; other applications keep
 * their own counters.  2^24 real initiations take too long for a unit test,
 * so the AM's counter (store counter 0) is moved to FFFFFE through the store
 * API; the rate itself is test_proto_wear.c's subject. */
static void test_seq_counter_exhausted(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;
    ch_ap ap;
    ct_snap s;

    ch_region_keys(&rk);
    ch_ap_default(&ap, 1);
    assert_int_equal(mc_store_counter_set(&c->sc.card, 0, 0xFFFFFE), MC_OK);
    /* The last value is still usable. */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    assert_int_equal(ch_last_seq(c), 0xFFFFFF);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
    /* Then never again. */
    ASSERT_SW(ch_select_am(c), 0x9000);
    s = ct_snapshot(c);
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80500100 08 0102030405060708 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "84823300 10 00000000000000000000000000000000", NULL), 0x6985);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6985);
    /* The AP's counter is its own. */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_previous_session, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_bitflip_every_covered_byte, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_level_downgrade, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_seq_counter_exhausted, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("attack_channel", tests, NULL, NULL);
}
