/* test_proto_wear.c: PROTOCOL.md §3 "the NVM store must spread counter
 * writes so that 2^24 increments stay within the part's endurance", checked
 * from outside: N INITIALIZE UPDATEs, and after each the NVM bytes that
 * changed are counted.  The busiest byte's count, scaled to 2^24 increments,
 * must stay within the endurance the store is designed for (docs/nvm.md:
 * 500 000 cycles per byte).  Counting changes undercounts writes (a write of
 * the same value is not seen), so this catches a counter kept in place (its
 * low byte changes at every increment), not every excess. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "mc_int.h"
#include "store_int.h"

#define ENDURANCE 500000.0
#define INCREMENTS 4800u


static void busiest_byte(ch_card *c, const uint8_t *aid, size_t aid_len, const cm_keyset *keys)
{
    uint32_t size = c->sc.sim.nvm_size;
    uint32_t *changes = calloc(size, sizeof(uint32_t));
    uint8_t *prev = ch_nvm_copy(c);
    uint32_t worst = 0, worst_at = 0, first_seq = 0;
    double scaled;

    assert_non_null(changes);
    assert_non_null(prev);
    for (unsigned i = 0; i < INCREMENTS; i++) {
        ASSERT_SW(ch_select(c, aid, aid_len, NULL), 0x9000);
        ASSERT_SW(ch_initialize_update(c, 0, keys, NULL), 0x9000);
        if (i == 0)
            first_seq = ch_last_seq(c);
        for (uint32_t a = 0; a < size; a++)
            if (c->sc.sim.nvm[a] != prev[a]) {
                changes[a]++;
                prev[a] = c->sc.sim.nvm[a];
            }
    }
    /* the counter really advanced once per initiation */
    assert_int_equal(ch_last_seq(c), first_seq + INCREMENTS - 1);
    for (uint32_t a = 0; a < size; a++)
        if (changes[a] > worst) {
            worst = changes[a];
            worst_at = a;
        }
    scaled = (double)worst * (16777216.0 / INCREMENTS);
    print_message("%u increments: busiest NVM byte %u changed %u times -> %.0f over 2^24\n",
                  INCREMENTS, (unsigned)worst_at, (unsigned)worst, scaled);
    assert_true(worst > 0);
    assert_true(scaled <= ENDURANCE);
    free(changes);
    free(prev);
}

static void test_am_counter_wear(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;
    ch_region_keys(&rk);
    busiest_byte(c, ch_am_aid, sizeof(ch_am_aid), &rk);
}

static void test_ap_counter_wear(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    busiest_byte(c, ap.aid, ap.aid_len, &ap.keys);
}

/* PROTOCOL.md §8 with issue #16's PIN try counter: a VERIFY with the right
 * PIN spends a try and restores it in two writes of a wear-levelled counter
 * cell.  THE CARD'S LIFE assumed here (and in test_pin_fail_log_wear) is the
 * counter's own: its 24-bit value advances by at most 4 per VERIFY
 * (docs/nvm.md), so the card takes at least 2^24 / 4 = 4 194 304 VERIFYs of
 * one AP (a resident verifying 10 times a day for 50 years makes 182 500).
 * Over that life the busiest NVM byte, counted over VERIFYS right VERIFYs
 * and scaled, must stay within 500 000 changes (ENDURANCE). */
#define VERIFYS 480u
#define PIN_LIFE 4194304.0

static void test_pin_counter_wear(void **state)
{
    ch_card *c = *state;
    uint32_t size = c->sc.sim.nvm_size;
    uint32_t *changes = calloc(size, sizeof(uint32_t));
    uint8_t *prev;
    uint32_t worst = 0, worst_at = 0;
    uint64_t w0;
    double scaled;
    ch_ap ap;

    assert_non_null(changes);
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    prev = ch_nvm_copy(c);
    assert_non_null(prev);
    w0 = c->sc.sim.writes;
    for (unsigned i = 0; i < VERIFYS; i++) {
        ASSERT_SW(ch_verify(c, "1234"), 0x9000);
        for (uint32_t a = 0; a < size; a++)
            if (c->sc.sim.nvm[a] != prev[a]) {
                changes[a]++;
                prev[a] = c->sc.sim.nvm[a];
            }
    }
    /* two writes per VERIFY: the try spent, the try restored */
    assert_int_equal(c->sc.sim.writes - w0, 2 * VERIFYS);
    for (uint32_t a = 0; a < size; a++)
        if (changes[a] > worst) {
            worst = changes[a];
            worst_at = a;
        }
    scaled = (double)worst * (PIN_LIFE / VERIFYS);
    print_message("%u right VERIFYs: busiest NVM byte %u changed %u times -> %.0f over "
                  "4 194 304 VERIFYs\n",
                  VERIFYS, (unsigned)worst_at, (unsigned)worst, scaled);
    assert_true(worst > 0);
    assert_true(scaled <= ENDURANCE);
    free(changes);
    free(prev);
}

/* The security log's slots (docs/nvm.md): a wrong VERIFY writes its entry
 * once into the spare of 33 slots.  Worst case for the log over the same
 * life of 4 194 304 VERIFYs: every other VERIFY wrong, each followed by a
 * failed EXTERNAL AUTHENTICATE of the AP, so that no entry merges with the
 * one before (a merge would saturate at 255 and stop writing): every event
 * is a new entry.  One cycle: open the AP channel (sequence counter), a
 * wrong VERIFY (PIN counter, PIN_FAIL), a right one (PIN counter twice), a
 * failed authentication (sequence counter, AUTH_FAIL).  Over CYCLES cycles
 * the busiest NVM byte (black-box: log slots, counter rings, all of it),
 * scaled to 4 194 304 / 2 cycles, must stay within 500 000 changes. */
#define CYCLES 132u

static void test_pin_fail_log_wear(void **state)
{
    ch_card *c = *state;
    uint32_t size = c->sc.sim.nvm_size;
    uint32_t *changes = calloc(size, sizeof(uint32_t));
    uint8_t *prev, bad[8] = {0}, apdu[21];
    uint32_t worst = 0, worst_at = 0;
    uint64_t w0;
    double scaled;
    ch_ap ap;

    assert_non_null(changes);
    ch_ap_default(&ap, 1);
    prev = ch_nvm_copy(c);
    assert_non_null(prev);
    for (unsigned i = 0; i < CYCLES; i++) {
        ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
        w0 = c->sc.sim.writes;
        ASSERT_SW(ch_verify(c, "0000"), 0x63C2);
        /* the wrong-PIN floor: the try spent, the entry */
        assert_int_equal(c->sc.sim.writes - w0, 2);
        ASSERT_SW(ch_verify(c, "1234"), 0x9000);
        ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
        ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
        memset(apdu, 0, sizeof(apdu));
        apdu[0] = 0x84;
        apdu[1] = 0x82;
        apdu[2] = 0x33;
        apdu[4] = 0x10;
        assert_int_equal(cm_scp03_external_auth(&c->scp, 0x33, bad, apdu + 5), 0);
        w0 = c->sc.sim.writes;
        ASSERT_SW(ch_raw(c, apdu, sizeof(apdu), NULL), 0x6300);
        assert_int_equal(c->sc.sim.writes - w0, 1);   /* the AUTH_FAIL entry alone */
        for (uint32_t a = 0; a < size; a++)
            if (c->sc.sim.nvm[a] != prev[a]) {
                changes[a]++;
                prev[a] = c->sc.sim.nvm[a];
            }
    }
    for (uint32_t a = 0; a < size; a++)
        if (changes[a] > worst) {
            worst = changes[a];
            worst_at = a;
        }
    scaled = (double)worst * (PIN_LIFE / 2 / CYCLES);
    print_message("%u cycles of a wrong and a right VERIFY and a failed authentication: busiest "
                  "NVM byte %u changed %u times -> %.0f over 4 194 304 VERIFYs\n",
                  CYCLES, (unsigned)worst_at, (unsigned)worst, scaled);
    assert_true(worst > 0);
    assert_true(scaled <= ENDURANCE);
    /* the log's slots alone (white-box: where docs/nvm.md puts them): 2
     * entries a cycle go round the 33 slots */
    worst = 0;
    for (uint32_t a = ST_DATA_OFF + MC_OFF_LOG; a < ST_DATA_OFF + MC_OFF_LOG + MC_LOG_SLOTS * MC_LOG_STRIDE;
         a++)
        if (changes[a] > worst) {
            worst = changes[a];
            worst_at = a;
        }
    scaled = (double)worst * (PIN_LIFE / 2 / CYCLES);
    print_message("  of the log slots: byte %u changed %u times -> %.0f\n", (unsigned)worst_at,
                  (unsigned)worst, scaled);
    assert_true(worst >= 2 * CYCLES / MC_LOG_SLOTS);
    assert_true(scaled <= ENDURANCE);
    free(changes);
    free(prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_am_counter_wear, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ap_counter_wear, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_counter_wear, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_fail_log_wear, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_wear", tests, NULL, NULL);
}
