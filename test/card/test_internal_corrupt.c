/* test_internal_corrupt.c: corrupt metadata (PROTOCOL.md §8) seen from the
 * inside: a damaged AP slot or EF record found at start-up makes the card
 * answer 6581 to all but SELECT and GET DATA DF20, is recorded as an
 * NVM_CORRUPT log entry (merged on later start-ups), and is never used; a
 * damaged area record leaves SELECT of the AM working with state 00. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "mc_debug.h"
#include "mc_int.h"

/* Flips one byte of the data space (white-box, through the store). */
static void flip(ch_card *c, uint32_t off)
{
    uint8_t b;
    assert_int_equal(mc_store_read(&c->sc.card, off, &b, 1), MC_OK);
    b ^= 0x5A;
    assert_int_equal(mc_store_write_direct(&c->sc.card, off, &b, 1), MC_OK);
}

/* The newest log entry, read around the card's own checks (mc_log_read
 * reads the store, which a corrupt card still lets the tests read). */
static void newest(ch_card *c, mc_log_rec *out)
{
    bool was = c->sc.card.corrupt;

    assert_int_equal(mc_log_read(&c->sc.card, 0, out), MC_OK);
    c->sc.card.corrupt = was;
    assert_true(mc_get32(out->seq) > 0);
}

static void test_corrupt_slot(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    mc_log_rec e;

    ch_ap_default(&ap, 1);
    flip(c, MC_OFF_SLOTS + 3);
    assert_int_equal(ch_power_cycle(c), MC_ERR_CORRUPT);
    assert_true(mc_debug_corrupt(&c->sc.card));
    newest(c, &e);
    assert_int_equal(e.event, MC_EV_NVM_CORRUPT);
    assert_int_equal(e.repeat, 1);
    assert_int_equal(e.aid_len, 0);
    /* SELECT and DF20 still answer; the damaged AP is never matched */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x6A82);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "8050010008 0001020304050607 00", NULL), 0x6581);
    ASSERT_SW(ch_rawx(c, "80CADF21 00", NULL), 0x6581);
    /* SELECT EF is a SELECT: not 6581 (here the AM is selected: 6986) */
    ASSERT_SW(ch_rawx(c, "00A4020C 02 0101", NULL), 0x6986);
    /* a second start-up merges the entry */
    assert_int_equal(ch_power_cycle(c), MC_ERR_CORRUPT);
    newest(c, &e);
    assert_int_equal(e.event, MC_EV_NVM_CORRUPT);
    assert_int_equal(e.repeat, 2);
}

static void test_corrupt_ef_record(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    mc_slot_rec s;
    unsigned slot;

    ch_ap_default(&ap, 1);
    assert_int_equal(mc_find_aid(&c->sc.card, ap.aid, ap.aid_len, &slot, &s, false), MC_OK);
    assert_true(slot < MC_MAX_APS);
    /* the second EF record of the AP (the EF table ends the region) */
    flip(c, mc_get32(s.region_off) + mc_get32(s.region_len) -
                (s.ef_count - 1u) * sizeof(mc_ef_rec) + 1);
    assert_int_equal(ch_power_cycle(c), MC_ERR_CORRUPT);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x6581);
    /* SELECT EF is not refused for corruption, but needs a channel that a
     * corrupt card cannot open */
    ASSERT_SW(ch_rawx(c, "00A4020C 02 0101", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "8050000008 0001020304050607 00", NULL), 0x6581);
}

static void test_corrupt_area(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint8_t *d;
    size_t dl;
    mc_log_rec before, after;

    newest(c, &before);
    flip(c, MC_OFF_AREA);
    assert_int_equal(ch_power_cycle(c), MC_ERR_CORRUPT);
    /* no log entry without a sound area record */
    newest(c, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A40400 07 F04D4E4150414D 00", &r), 0x9000);
    ASSERT_DATA(&r, "6F0F8407F04D4E4150414DA5049F700100");
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    d = ch_tlv_find(r.data, r.len, 0xDF20, &dl);
    assert_non_null(d);
    ASSERT_TLV(d, dl, 0x80, "\x00", 1);
    ASSERT_SW(ch_rawx(c, "8050000008 0001020304050607 00", NULL), 0x6581);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_corrupt_slot, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ef_record, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_area, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_corrupt", tests, NULL, NULL);
}
