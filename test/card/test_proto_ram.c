/* test_proto_ram.c: the RAM side of the card, black-box through its
 * caller-owned struct (mc.h, ARCHITECTURE.md "all RAM state of a card lives
 * in one caller-owned mc_card"):
 *   - two cards in one process are independent (no hidden global state);
 *   - mc_power_off wipes all RAM state: no session key, static key or PIN is
 *     left in the mc_card bytes;
 *   - a channel's session keys do not outlive the channel (SELECT ends it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static int contains(const void *hay, size_t hn, const void *needle, size_t nn)
{
    const uint8_t *h = hay;
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(h + i, needle, nn) == 0)
            return 1;
    return 0;
}

#define ASSERT_NOT_IN_RAM(c, p, n, what)                                                   \
    do {                                                                                   \
        if (contains(&(c)->sc.card, sizeof((c)->sc.card), (p), (n))) {                           \
            print_error("%s:%d: %s still in the mc_card RAM\n", __FILE__, __LINE__, what); \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

static void test_two_cards_independent(void **state)
{
    ch_card *a = *state;
    ch_card *b = calloc(1, sizeof(*b));
    ch_ap ap;
    ch_rsp r;

    assert_non_null(b);
    assert_int_equal(ch_init_active(b), 0);
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_am(b), 0x9000);
    ASSERT_SW(ch_load_ap(b, &ap), 0x9000);
    /* channels open on both, interleaved */
    ASSERT_SW(ch_open_ap(a, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_open_ap(b, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(a, "0000"), 0x63C2);
    ASSERT_SW(ch_verify(b, NULL), 0x63C3);
    ASSERT_SW(ch_cmdx(a, "00B08100 02", &r), 0x9000);
    ASSERT_SW(ch_cmdx(b, "00D68100 02 AAAA", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(a, "00B08100 02", &r), 0x9000);
    ASSERT_DATA(&r, "0001");
    /* a power cycle of one leaves the other's channel open */
    assert_int_equal(ch_power_cycle(b), MC_OK);
    ASSERT_SW(ch_cmdx(a, "00B08100 02", &r), 0x9000);
    ch_free(b);
    free(b);
}

static void test_power_off_wipes_ram(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_keyset rk;
    cm_scp03 sess;
    const char *pin = "97531864";

    ch_region_keys(&rk);
    ch_ap_default(&ap, 2);
    ap.initial_pin = pin;
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, pin), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 04", NULL), 0x9000);
    sess = c->scp;
    /* non-vacuity: while the channel is open the card does hold S-MAC (the
     * SCP03 state is part of mc_card in this runtime) */
    assert_true(contains(&c->sc.card, sizeof(c->sc.card), sess.s_mac, 16));
    mc_power_off(&c->sc.card);
    ASSERT_NOT_IN_RAM(c, sess.s_enc, 16, "S-ENC");
    ASSERT_NOT_IN_RAM(c, sess.s_mac, 16, "S-MAC");
    ASSERT_NOT_IN_RAM(c, sess.s_rmac, 16, "S-RMAC");
    ASSERT_NOT_IN_RAM(c, ap.keys.enc, 16, "the AP's Key-ENC");
    ASSERT_NOT_IN_RAM(c, ap.keys.mac, 16, "the AP's Key-MAC");
    ASSERT_NOT_IN_RAM(c, ap.keys.dek, 16, "the AP's Key-DEK");
    ASSERT_NOT_IN_RAM(c, rk.dek, 16, "the region Key-DEK");
    ASSERT_NOT_IN_RAM(c, pin, 8, "the PIN");
    /* and the card powers on again normally */
    ch_forget(c);
    assert_int_equal(mc_power_on(&c->sc.card, &c->sc.sim), MC_OK);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static void test_session_keys_end_with_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_scp03 sess;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 02", NULL), 0x9000);
    sess = c->scp;
    assert_true(contains(&c->sc.card, sizeof(c->sc.card), sess.s_mac, 16));
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_NOT_IN_RAM(c, sess.s_enc, 16, "S-ENC after SELECT");
    ASSERT_NOT_IN_RAM(c, sess.s_mac, 16, "S-MAC after SELECT");
    ASSERT_NOT_IN_RAM(c, sess.s_rmac, 16, "S-RMAC after SELECT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_cards_independent, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_power_off_wipes_ram, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_session_keys_end_with_channel, ct_setup_ap,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_ram", tests, NULL, NULL);
}
