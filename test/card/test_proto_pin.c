/* test_proto_pin.c: PROTOCOL.md §5 VERIFY / CHANGE REFERENCE DATA, §4
 * RESET RETRY COUNTER and §8 PIN rules held black-box: tries counting and
 * blocking, policy refusals that use no try, PIN never set, unblocking, and a
 * power cut at every NVM write of a VERIFY (the try is never free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static ch_ap ap1;

static int setup_ap_channel(void **state)
{
    if (ct_setup_ap(state) != 0)
        return -1;
    ch_ap_default(&ap1, 1);
    return ch_open_ap(*state, &ap1, 0x33) == 0x9000 ? 0 : -1;
}

/* DF31 of AP idx seen from an AM channel (leaves the AM channel open). */
static int tries_in_status(ch_card *c)
{
    ch_rsp r;
    const uint8_t *e, *v;
    size_t el, vl;
    if (ch_open_am(c) != 0x9000 || ch_cmdx(c, "80F24002 02 4F00 00", &r) != 0x9000)
        return -1;
    e = ch_tlv_find(r.data, r.len, 0xE3, &el);
    if (!e || !(v = ch_tlv_find(e, el, 0xDF31, &vl)) || vl != 1)
        return -1;
    return v[0];
}

static void test_empty_verify(void **state)
{
    ch_card *c = *state;
    /* without a channel */
    ASSERT_SW(ch_select(c, ap1.aid, ap1.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x63C3);
    /* in a channel */
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x9000);
}

static void test_verify_needs_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select(c, ap1.aid, ap1.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00200081 04 31323334", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00240081 09 04 31323334 35363738", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x63C3);
}

static void test_verify_wrong_then_blocked(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_verify(c, "9999"), 0x63C2);
    ASSERT_SW(ch_verify(c, NULL), 0x63C2);
    ASSERT_SW(ch_verify(c, "99999"), 0x63C1);
    /* the last try blocks */
    ASSERT_SW(ch_verify(c, "0000"), 0x6983);
    ASSERT_SW(ch_verify(c, NULL), 0x6983);
    /* the right PIN no longer works, PIN files say blocked, SM files work */
    ASSERT_SW(ch_verify(c, "1234"), 0x6983);
    /* blocked is checked before the policy */
    ASSERT_SW(ch_verify(c, "12"), 0x6983);
    ASSERT_SW(ch_cmdx(c, "00B08200 04", NULL), 0x6983);
    ASSERT_SW(ch_cmdx(c, "00B08100 02", &r), 0x9000);
    ASSERT_DATA(&r, "0001");
    /* still blocked after a power cycle; GET STATUS shows 0 tries */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    assert_int_equal(tries_in_status(c), 0);
    {
        /* BLOCKED is not a state code: 9F70 stays 07 (§6) */
        ch_rsp st;
        const uint8_t *e;
        size_t el;
        ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", &st), 0x9000);
        e = ch_tlv_find(st.data, st.len, 0xE3, &el);
        assert_non_null(e);
        ASSERT_TLV(e, el, 0x9F70, "\x07", 1);
    }
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "1234"), 0x6983);
}

static void test_right_pin_resets_counter(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_verify(c, "9999"), 0x63C2);
    ASSERT_SW(ch_verify(c, "9999"), 0x63C1);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
}

static void test_policy_uses_no_try(void **state)
{
    ch_card *c = *state;
    ct_snap s = ct_snapshot(c);
    ASSERT_SW(ch_verify(c, "123"), 0x6A80);          /* shorter than 4 */
    ASSERT_SW(ch_verify(c, "123456789"), 0x6A80);    /* longer than 8 */
    ASSERT_SW(ch_verify(c, "12a4"), 0x6A80);         /* not digits */
    ASSERT_SW(ch_verify(c, "12 4"), 0x6A80);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
}

static void test_pin_never_set(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    ch_ap_default(&ap, 2);
    ap.initial_pin = NULL;
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    assert_int_equal(tries_in_status(c) , 3);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    /* never set comes before the policy check */
    ASSERT_SW(ch_verify(c, "1234"), 0x6984);
    ASSERT_SW(ch_verify(c, "12"), 0x6984);
    ASSERT_SW(ch_cmdx(c, "00B08200 01", NULL), 0x6982);
    /* the area manager sets it */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100002 DF0206 313133333535", -1), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
    ASSERT_SW(ch_verify(c, "113355"), 0x9000);
}

static void test_reset_retry_counter_unblocks(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    ASSERT_SW(ch_verify(c, "0000"), 0x63C2);
    ASSERT_SW(ch_verify(c, "0000"), 0x63C1);
    ASSERT_SW(ch_verify(c, "0000"), 0x6983);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0204 35363738", -1), 0x9000);
    assert_int_equal(tries_in_status(c), 3);
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
    ASSERT_SW(ch_verify(c, "1234"), 0x63C2);
    ASSERT_SW(ch_verify(c, "5678"), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 06", &r), 0x9000);
    ASSERT_DATA(&r, "736563726574");
}

static void test_change_reference_data(void **state)
{
    ch_card *c = *state;
    ch_rsp r;

    /* wrong old PIN counts a try */
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 39393939 35363738", NULL), 0x63C2);
    /* new PIN against the policy: no try used */
    ASSERT_SW(ch_cmdx(c, "00240081 08 04 31323334 353637", NULL), 0x6A80);
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 31323334 3536373A", NULL), 0x6A80);
    ASSERT_SW(ch_verify(c, NULL), 0x63C2);
    /* success: verified in this channel right away */
    ASSERT_SW(ch_cmdx(c, "00240081 0B 04 31323334 353637383930", NULL), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 06", &r), 0x9000);
    ASSERT_DATA(&r, "736563726574");
    /* a new channel: the new PIN counts, the old one is wrong */
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
    ASSERT_SW(ch_verify(c, "1234"), 0x63C2);
    ASSERT_SW(ch_verify(c, "567890"), 0x9000);
}

static void test_change_blocks_on_last_try(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 39393939 35363738", NULL), 0x63C2);
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 39393939 35363738", NULL), 0x63C1);
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 39393939 35363738", NULL), 0x6983);
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 31323334 35363738", NULL), 0x6983);
}

/* max tries 1: the first wrong PIN blocks (§4, §8). */
static void test_single_try_policy(void **state)
{
    ch_card *c = *state;
    ch_ap ap;

    ch_ap_default(&ap, 3);
    ap.max_tries = 1;
    ap.min_len = 6;
    ap.max_len = 6;
    ap.initial_pin = "246810";
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, NULL), 0x63C1);
    ASSERT_SW(ch_verify(c, "2468"), 0x6A80);     /* policy is exactly 6 digits */
    ASSERT_SW(ch_verify(c, "246811"), 0x6983);
    ASSERT_SW(ch_verify(c, "246810"), 0x6983);
}

/* The PIN state is per channel: a new channel on the same AP starts
 * unverified. */
static void test_pin_state_per_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap1.keys, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08200 01", NULL), 0x6982);
    ASSERT_SW(ch_verify(c, NULL), 0x63C3);
}

/* Power cut right after each NVM write of a VERIFY (write n+1 gets no byte):
 * after restart the tries left are the state before or before minus one
 * (§8), never anything else, and once the decrement reached NVM every later
 * cut point keeps it: the try is counted before the card can reveal the
 * comparison. */
static void cut_every_write(ch_card *c, const char *pin, int after_uncut)
{
    uint8_t *pre;
    uint64_t w0, writes;
    int prev = 3;

    /* reference state: AP channel about to send VERIFY */
    ASSERT_SW(ch_select(c, ap1.aid, ap1.aid_len, NULL), 0x9000);
    pre = ch_nvm_copy(c);
    assert_non_null(pre);
    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    w0 = c->sc.sim.writes;
    ASSERT_SW(ch_verify(c, pin), after_uncut == 3 ? 0x9000 : 0x63C2);
    writes = c->sc.sim.writes - w0;
    assert_true(writes >= 1);
    for (uint64_t n = 0; n < writes; n++) {
        uint16_t sw;
        int tries;
        memcpy(c->sc.sim.nvm, pre, c->sc.sim.nvm_size);
        assert_int_equal(ch_power_cycle(c), MC_OK);
        ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
        /* writes 1..n complete, write n+1 gets no byte */
        mc_sim_arm_cut(&c->sc.sim, n + 1, 0);
        sw = ch_verify(c, pin);
        assert_int_equal(sw, CH_SW_MUTE);
        assert_int_equal(ch_power_cycle(c), MC_OK);
        ASSERT_SW(ch_select(c, ap1.aid, ap1.aid_len, NULL), 0x9000);
        sw = ch_rawx(c, "00200081", NULL);
        assert_true((sw & 0xFFF0) == 0x63C0);
        tries = sw & 0x0F;
        /* before, or before with the try counted: nothing else */
        assert_true(tries == 3 || tries == 2);
        /* a wrong PIN: once counted, counted for every later cut point (a
         * right PIN sets the counter back, so it may go up again) */
        if (after_uncut == 2)
            assert_true(tries <= prev);
        prev = tries;
    }
    /* uncut, the card ends where the dry run ended */
    assert_int_equal(prev == 2 || after_uncut == 3, 1);
    free(pre);
}

/* No free try (§8), without knowing the NVM layout: record the NVM image
 * after each write of a right and of a wrong VERIFY from the same starting
 * point.  Up to the first write where the two differ, the card cannot have
 * acted on the comparison; so the image just before that write must already
 * hold the decremented counter (a restart from it shows one try less). */
static void no_free_try(ch_card *c, const char *const cmds[2])
{
    uint8_t *start_img, *img[2][64];
    uint64_t writes[2], w0, n, d;
    uint32_t size = c->sc.sim.nvm_size;
    uint16_t sw;

    ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
    start_img = ch_nvm_copy(c);
    assert_non_null(start_img);
    for (int p = 0; p < 2; p++) {
        memcpy(c->sc.sim.nvm, start_img, size);
        assert_int_equal(ch_power_cycle(c), MC_OK);
        ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
        w0 = c->sc.sim.writes;
        ASSERT_SW(ch_cmdx(c, cmds[p], NULL), p == 0 ? 0x9000 : 0x63C2);
        writes[p] = c->sc.sim.writes - w0;
        assert_true(writes[p] >= 1 && writes[p] <= 64);
        for (n = 1; n <= writes[p]; n++) {
            memcpy(c->sc.sim.nvm, start_img, size);
            assert_int_equal(ch_power_cycle(c), MC_OK);
            ASSERT_SW(ch_open_ap(c, &ap1, 0x33), 0x9000);
            mc_sim_arm_cut(&c->sc.sim, n, (size_t)-1);
            ASSERT_SW(ch_cmdx(c, cmds[p], NULL), CH_SW_MUTE);
            img[p][n - 1] = ch_nvm_copy(c);   /* writes 1..n landed */
            assert_non_null(img[p][n - 1]);
        }
    }
    /* the first write where a right and a wrong PIN part ways */
    for (d = 1; d <= writes[0] && d <= writes[1]; d++)
        if (memcmp(img[0][d - 1], img[1][d - 1], size) != 0)
            break;
    print_message("%.8s: right PIN %llu writes, wrong PIN %llu writes, first difference at write "
                  "%llu\n", cmds[0], (unsigned long long)writes[0], (unsigned long long)writes[1],
                  (unsigned long long)d);
    /* restart from the last common image: the try must be counted there */
    if (d == 1) {
        /* the very first write already depends on the comparison: the image
         * before it is the starting one, where the try is not counted */
        fail_msg("the first NVM write already depends on the PIN");
    }
    memcpy(c->sc.sim.nvm, img[0][d - 2], size);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_select(c, ap1.aid, ap1.aid_len, NULL), 0x9000);
    sw = ch_rawx(c, "00200081", NULL);
    ASSERT_SW(sw, 0x63C2);
    for (int p = 0; p < 2; p++)
        for (n = 0; n < writes[p]; n++)
            free(img[p][n]);
    free(start_img);
}

static void test_no_free_try_verify(void **state)
{
    static const char *const cmds[2] = {"00200081 04 31323334", "00200081 04 39393939"};
    no_free_try(*state, cmds);
}

static void test_no_free_try_change(void **state)
{
    static const char *const cmds[2] = {"00240081 09 04 31323334 35363738",
                                        "00240081 09 04 39393939 35363738"};
    no_free_try(*state, cmds);
}

static void test_power_cut_wrong_verify(void **state)
{
    cut_every_write(*state, "9999", 2);
}

static void test_power_cut_right_verify(void **state)
{
    cut_every_write(*state, "1234", 3);
}

int main(void)
{
    ch_ap_default(&ap1, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_verify, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_verify_needs_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_verify_wrong_then_blocked, setup_ap_channel,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_right_pin_resets_counter, setup_ap_channel,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_policy_uses_no_try, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_never_set, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_reset_retry_counter_unblocks, setup_ap_channel,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_change_reference_data, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_change_blocks_on_last_try, setup_ap_channel,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_state_per_channel, setup_ap_channel, ct_teardown),
        cmocka_unit_test_setup_teardown(test_single_try_policy, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_no_free_try_verify, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_no_free_try_change, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_wrong_verify, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_right_verify, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_pin", tests, NULL, NULL);
}
