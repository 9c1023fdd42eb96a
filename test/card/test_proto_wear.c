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
 * cell.  The card's life assumed here is the counter's own: its 24-bit value
 * advances by at most 4 per VERIFY (docs/nvm.md), so the card takes at least
 * 2^24 / 4 = 4 194 304 VERIFYs (a resident verifying 10 times a day for 50
 * years makes 182 500).  Over that life the busiest NVM byte, counted over
 * VERIFYS right VERIFYs and scaled, must stay within 500 000 changes. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_am_counter_wear, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ap_counter_wear, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_counter_wear, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_wear", tests, NULL, NULL);
}
