/* test_internal_log.c: the security log (card/mc_log.c, docs/nvm.md "The
 * security log's slots"): its wear bound (a flood of equal failures merges
 * into one entry, PROTOCOL.md §8, and once its repeat count is saturated at
 * 255 costs no NVM write at all; a new event still takes a new entry), the
 * wrong VERIFY's two writes (the try spent, the entry written once into the
 * spare slot), and the visible log against a model over many laps of the
 * 33 slots with power cycles. */
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

/* A wrong VERIFY: the try spent (one 8-byte counter slot), then the PIN_FAIL
 * entry written once into the log's spare slot (27 bytes): 2 writes, 35
 * bytes (issue #16: at most 2 writes and 48 bytes).  A merge (the second
 * wrong try) costs the same: the raised repeat count goes into the spare. */
static void test_wrong_verify_two_writes(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    uint64_t w0, b0;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    w0 = c->sc.sim.writes;
    b0 = c->sc.sim.bytes_written;
    ASSERT_SW(ch_verify(c, "0000"), 0x63C2);
    assert_int_equal(c->sc.sim.writes - w0, 2);
    assert_int_equal(c->sc.sim.bytes_written - b0, 8 + 27);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    w0 = c->sc.sim.writes;
    b0 = c->sc.sim.bytes_written;
    ASSERT_SW(ch_verify(c, "0000"), 0x63C1);
    assert_int_equal(c->sc.sim.writes - w0, 2);
    assert_int_equal(c->sc.sim.bytes_written - b0, 8 + 27);
    /* the blocking try logs PIN_BLOCKED, a new entry: the same cost */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    w0 = c->sc.sim.writes;
    b0 = c->sc.sim.bytes_written;
    ASSERT_SW(ch_verify(c, "0000"), 0x6983);
    assert_int_equal(c->sc.sim.writes - w0, 2);
    assert_int_equal(c->sc.sim.bytes_written - b0, 8 + 27);
}

typedef struct log_entry {
    uint32_t seq;
    uint8_t ev, rep;
} log_entry;

/* GET DATA DF21 through an AM channel: the entries, newest first. */
static size_t read_log(ch_card *c, log_entry *e, size_t max)
{
    static ch_rsp r;
    const uint8_t *log, *f, *x;
    size_t ll, fl, xl, pos = 0, n = 0;

    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    log = ch_tlv_find(r.data, r.len, 0xDF21, &ll);
    assert_non_null(log);
    while (pos < ll) {
        size_t hl = 3;
        assert_true(n < max);
        assert_int_equal(log[pos], 0xDF);
        assert_int_equal(log[pos + 1], 0x22);
        fl = log[pos + 2];
        if (fl == 0x81) {
            fl = log[pos + 3];
            hl = 4;
        }
        f = log + pos + hl;
        x = ch_tlv_find(f, fl, 0x80, &xl);
        assert_non_null(x);
        e[n].seq = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
        x = ch_tlv_find(f, fl, 0x81, &xl);
        assert_non_null(x);
        e[n].ev = x[0];
        x = ch_tlv_find(f, fl, 0x83, &xl);
        assert_non_null(x);
        e[n].rep = x[0];
        n++;
        pos += hl + fl;
    }
    return n;
}

/* 300 events in a fixed pseudo-random mix of merged ones (AUTH_FAIL, which
 * raises the newest entry's count and so moves it to another slot) and
 * never-merged ones (AP_STATE), with a power cycle every 7: after each, the
 * log read through GET DATA DF21 equals a model of PROTOCOL.md §8's 32-entry
 * log, sequence numbers and repeat counts included. */
static void test_log_model_many_laps(void **state)
{
    ch_card *c = *state;
    static log_entry model[400], got[40];
    size_t nm = 0, n, i, want;
    uint32_t rng = 0x16C0FFEEu;
    unsigned step;

    /* the log after setup: its entries are the model's start */
    n = read_log(c, got, 40);
    for (i = n; i-- > 0;)
        model[nm++] = got[i];
    for (step = 0; step < 300; step++) {
        rng = rng * 1103515245u + 12345u;
        if ((rng >> 16) % 3 == 0) {
            (void)auth_fail(c);
            if (nm > 0 && model[nm - 1].ev == 0x04) {
                if (model[nm - 1].rep < 255)
                    model[nm - 1].rep++;
            } else {
                model[nm].seq = nm > 0 ? model[nm - 1].seq + 1 : 1;
                model[nm].ev = 0x04;
                model[nm++].rep = 1;
            }
        } else {
            ASSERT_SW(ch_open_am(c), 0x9000);
            ASSERT_SW(ch_cmdx(c, step & 1 ? "80F04083 07 4F05D392100001"
                                          : "80F04007 07 4F05D392100001",
                              NULL),
                      0x9000);
            model[nm].seq = nm > 0 ? model[nm - 1].seq + 1 : 1;
            model[nm].ev = 0x09;
            model[nm++].rep = 1;
        }
        if (step % 7 == 6)
            assert_int_equal(ch_power_cycle(c), MC_OK);
        n = read_log(c, got, 40);
        want = nm < 32 ? nm : 32;
        assert_int_equal(n, want);
        for (i = 0; i < n; i++) {
            if (got[i].seq != model[nm - 1 - i].seq || got[i].ev != model[nm - 1 - i].ev ||
                got[i].rep != model[nm - 1 - i].rep)
                fail_msg("step %u entry %zu: seq %u ev %02X rep %u, model seq %u ev %02X rep %u",
                         step, i, (unsigned)got[i].seq, got[i].ev, got[i].rep,
                         (unsigned)model[nm - 1 - i].seq, model[nm - 1 - i].ev,
                         model[nm - 1 - i].rep);
        }
        assert_true(nm < 400);
    }
    assert_true(model[nm - 1].seq > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_verify_two_writes, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_log_model_many_laps, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_saturated_entry_costs_nothing, ct_setup_active,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_log", tests, NULL, NULL);
}
