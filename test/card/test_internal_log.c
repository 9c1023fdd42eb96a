/* test_internal_log.c: the security log's wear bound (card/mc_log.c): a
 * flood of equal failures merges into one entry (PROTOCOL.md §8) and, once
 * its repeat count is saturated at 255, costs no NVM write at all; a new
 * event still takes a new entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

/* INITIALIZE UPDATE with the region keys, then EXTERNAL AUTHENTICATE with a
 * wrong host cryptogram: 6300 and an AUTH_FAIL.  Returns the NVM writes of
 * the EXTERNAL AUTHENTICATE alone. */
static uint64_t auth_fail(ch_card *c)
{
    cm_keyset rk;
    uint64_t w0;

    ch_region_keys(&rk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    w0 = c->sc.sim.writes;
    ASSERT_SW(ch_rawx(c, "84823300 10 00000000000000000000000000000000", NULL), 0x6300);
    return c->sc.sim.writes - w0;
}

static void test_saturated_entry_costs_nothing(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint8_t *log, *e, *v;
    size_t ll, el, vl;
    unsigned i;

    assert_true(auth_fail(c) > 0);
    for (i = 1; i < 255; i++)
        assert_true(auth_fail(c) > 0);
    /* saturated: no write any more */
    for (i = 0; i < 5; i++)
        assert_int_equal(auth_fail(c), 0);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    log = ch_tlv_find(r.data, r.len, 0xDF21, &ll);
    assert_non_null(log);
    e = ch_tlv_find(log, ll, 0xDF22, &el);
    assert_non_null(e);
    v = ch_tlv_find(e, el, 0x81, &vl);
    assert_non_null(v);
    assert_int_equal(v[0], 0x04);                 /* AUTH_FAIL */
    v = ch_tlv_find(e, el, 0x83, &vl);
    assert_non_null(v);
    assert_int_equal(v[0], 255);
    /* another event takes a new entry, newest first */
    ASSERT_SW(ch_cmdx(c, "80F0807F", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    log = ch_tlv_find(r.data, r.len, 0xDF21, &ll);
    e = ch_tlv_find(log, ll, 0xDF22, &el);
    v = ch_tlv_find(e, el, 0x81, &vl);
    assert_int_equal(v[0], 0x08);                 /* AREA_STATE */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_saturated_entry_costs_nothing, ct_setup_active,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_log", tests, NULL, NULL);
}
