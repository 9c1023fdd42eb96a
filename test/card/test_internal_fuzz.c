/* test_internal_fuzz.c: robustness of mc_process against arbitrary APDUs, in
 * the interpreter's main states (blank, active with an AM channel, an AP with
 * its channel, a LOAD AP and a chain in progress).  Deterministic (a fixed
 * xorshift seed), so a failure reproduces; run it under `make check` (ASan +
 * UBSan) to catch memory errors.  Each APDU must get a response of 2 bytes or
 * more that fits the buffer, ending in a status word; afterwards the card must
 * still answer a plain SELECT of the AM with 9000. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static const uint8_t ins_list[] = { 0xA4, 0xCA, 0x50, 0x82, 0xD8, 0xF2, 0xE8, 0xE4, 0xF0, 0x2C,
                                    0x20, 0x24, 0xB0, 0xD6, 0xB2, 0xDC, 0xE2, 0xC0, 0x00, 0xFF };
static const uint8_t cla_list[] = { 0x00, 0x80, 0x04, 0x84, 0x10, 0x90, 0x94, 0x01, 0x0C, 0xFF,
                                    0x40, 0xE0 };

/* One random APDU: mostly well framed, sometimes not. */
static size_t make_apdu(uint8_t *a, size_t cap)
{
    size_t len, lc, i;
    uint32_t r = rnd();

    a[0] = cla_list[rnd() % sizeof(cla_list)];
    a[1] = ins_list[rnd() % sizeof(ins_list)];
    a[2] = (uint8_t)rnd();
    a[3] = (uint8_t)rnd();
    if (r % 7 == 0) {                      /* garbage length */
        len = rnd() % 40;
        for (i = 0; i < len && i < cap; i++)
            a[i] = (uint8_t)rnd();
        return len;
    }
    lc = (r % 5 == 0) ? 0 : (r % 11 == 0 ? 256 + rnd() % 2200 : rnd() % 40);
    len = 4;
    if (lc > 0 && lc <= 255) {
        a[len++] = (uint8_t)lc;
    } else if (lc > 255) {
        a[len++] = 0;
        a[len++] = (uint8_t)(lc >> 8);
        a[len++] = (uint8_t)lc;
    }
    for (i = 0; i < lc && len < cap; i++)
        a[len++] = (uint8_t)rnd();
    if (r % 3 == 0 && len < cap)
        a[len++] = (uint8_t)rnd();
    return len;
}

static void hammer(ch_card *c, unsigned n)
{
    static uint8_t apdu[4096], rsp[MC_RSP_BUF_SIZE];
    size_t len, out;
    unsigned i;

    for (i = 0; i < n; i++) {
        len = make_apdu(apdu, sizeof(apdu));
        out = mc_process(&c->sc.card, apdu, len, rsp, sizeof(rsp));
        assert_true(out >= 2);
        assert_true(out <= sizeof(rsp));
        /* SW1 is 6x or 9x */
        assert_true((rsp[out - 2] & 0xF0) == 0x60 || rsp[out - 2] == 0x90);
    }
    ch_forget(c);
    ASSERT_SW(ch_select_am(c), 0x9000);
}

/* P1/P2 that the instruction accepts, so the fuzz gets past 6A86. */
static void plausible_p1p2(uint8_t *a)
{
    uint8_t sfi = (uint8_t)(1 + rnd() % 7);

    switch (a[1]) {
    case 0xA4: a[2] = 0x02; a[3] = (rnd() & 1) ? 0x00 : 0x0C; break;
    case 0xCA: a[2] = (rnd() & 1) ? 0xDF : 0x00; a[3] = a[2] ? 0x20 + rnd() % 2 : 0xE0; break;
    case 0xF2: a[2] = 0x40; a[3] = 0x02 + rnd() % 2; break;
    case 0xE8: a[2] = (rnd() & 1) ? 0x80 : 0x00; a[3] = (uint8_t)(rnd() % 3); break;
    case 0xF0: a[2] = 0x40; a[3] = (rnd() & 1) ? 0x07 : 0x83; break;
    case 0x2C: case 0x20: case 0x24: a[2] = 0x00; a[3] = 0x81; break;
    case 0xB0: case 0xD6:
        a[2] = (rnd() & 1) ? (uint8_t)(0x80 | sfi) : 0x00; a[3] = (uint8_t)(rnd() % 80); break;
    case 0xB2: case 0xDC: a[2] = (uint8_t)(rnd() % 4); a[3] = (uint8_t)(sfi << 3 | 4); break;
    case 0xE2: a[2] = 0x00; a[3] = (uint8_t)(sfi << 3); break;
    default: break;
    }
}

typedef uint16_t (*open_fn)(ch_card *c, const void *arg);

/* Well-framed plain commands sent through the host's channel (wrapped), so
 * they reach the instruction handlers; the channel is reopened whenever the
 * card closed it. */
static void hammer_wrapped(ch_card *c, open_fn open, const void *arg, unsigned n)
{
    static uint8_t apdu[4096];
    static ch_rsp r;
    size_t len;
    unsigned i, handled = 0;
    uint16_t sw;

    ASSERT_SW(open(c, arg), 0x9000);
    for (i = 0; i < n; i++) {
        do {
            len = make_apdu(apdu, 2100);
        } while (len < 4 || (apdu[4] == 0 && len > 4 && len < 7));
        /* The instruction's own class mostly (PROTOCOL.md §2: elsewhere
         * 6D00), the other one now and then. */
        apdu[0] = (apdu[1] == 0xA4 || apdu[1] == 0x20 || apdu[1] == 0x24 || apdu[1] == 0xB0 ||
                   apdu[1] == 0xD6 || apdu[1] == 0xB2 || apdu[1] == 0xDC || apdu[1] == 0xE2)
                      ? 0x00
                      : 0x80;
        if (rnd() % 8 == 0)
            apdu[0] ^= 0x80;
        if (rnd() & 1)
            plausible_p1p2(apdu);
        if (apdu[1] == 0xA4 && apdu[2] == 0x04)
            apdu[2] = 0x02;              /* keep the channel: no SELECT by AID */
        if (apdu[1] == 0x50 || apdu[1] == 0x82 || apdu[1] == 0xC0 || apdu[1] == 0xE4 ||
            (apdu[1] == 0xF0 && apdu[2] == 0x80))
            apdu[1] = 0xCA;              /* nor re-initiation, nor deletes / terminate */
        sw = ch_cmd(c, apdu, len, &r);
        if (sw == CH_SW_HARNESS)
            continue;
        handled++;
        assert_true(sw != CH_SW_MUTE && sw != CH_SW_RMAC);
        if (sw == 0x6982 || sw == 0x6988 || i % 50 == 49) {
            ch_forget(c);
            ASSERT_SW(open(c, arg), 0x9000);
        }
    }
    assert_true(handled > n / 2);
    ch_forget(c);
    ASSERT_SW(ch_select_am(c), 0x9000);
}

static uint16_t open_am(ch_card *c, const void *arg)
{
    (void)arg;
    return ch_open_am(c);
}

static uint16_t open_ap(ch_card *c, const void *arg)
{
    return ch_open_ap(c, arg, 0x33);
}

static void test_fuzz_wrapped_am(void **state)
{
    hammer_wrapped(*state, open_am, NULL, 3000);
}

static void test_fuzz_wrapped_ap(void **state)
{
    ch_ap ap;
    ch_ap_default(&ap, 1);
    hammer_wrapped(*state, open_ap, &ap, 3000);
}

static void test_fuzz_blank(void **state)
{
    ch_card *c = *state;
    hammer(c, 3000);
}

static void test_fuzz_am_channel(void **state)
{
    ch_card *c = *state;
    unsigned k;

    for (k = 0; k < 20; k++) {
        ASSERT_SW(ch_open_am(c), 0x9000);
        hammer(c, 200);
    }
}

static void test_fuzz_ap_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    unsigned k;

    ch_ap_default(&ap, 1);
    for (k = 0; k < 20; k++) {
        ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
        hammer(c, 200);
    }
}

static void test_fuzz_during_load(void **state)
{
    ch_card *c = *state;
    uint8_t img[2048], apdu[300];
    cm_keyset rk;
    ch_ap ap;
    size_t n, an;
    unsigned k;

    ch_ap_default(&ap, 2);
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    assert_true(n > 200);
    for (k = 0; k < 20; k++) {
        ASSERT_SW(ch_open_am(c), 0x9000);
        an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x00, 0x00, img, 200, -1);
        if (k % 2)
            ASSERT_SW(ch_cmd(c, apdu, an, NULL), 0x9000);
        else
            ASSERT_SW(ch_cmd_chained(c, apdu, an, 64, NULL), 0x9000);
        hammer(c, 100);
    }
    /* the card is still whole: a complete load works */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, 2000, 0), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fuzz_blank, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_am_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_ap_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_during_load, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_wrapped_am, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_wrapped_ap, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_fuzz", tests, NULL, NULL);
}
