/* test_internal_tear.c: the interpreter's own check of atomicity (PROTOCOL.md
 * §8) for the commands whose NVM work is most involved: AREA SETUP, LOAD AP
 * (one block, several blocks, chained segments), DELETE with its wipe, PUT
 * KEY on an AP, a ~31 KiB image installed over its staging copy, UPDATE BINARY, APPEND RECORD on a cyclic EF, SET STATUS
 * (lock, terminate with its wipe), RESET RETRY COUNTER.
 *
 * For every NVM write of the command (cut before its first byte, and after
 * three of its bytes), the card is rebuilt from the same NVM image, the same
 * channel is opened, the write is torn, the card is power-cycled, and its
 * logical state (mc_debug_dump) must be exactly the state before or the state
 * after the uncut command.  It also checks that no plaintext of a dropped or
 * installed image stays in NVM once the card has recovered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "mc_debug.h"

typedef uint16_t (*prep_fn)(ch_card *c);
typedef uint16_t (*run_fn)(ch_card *c);

static ch_ap ap1, ap2;

static uint8_t *dump(ch_card *c, size_t *n)
{
    uint8_t *p = ch_dump(c, n);
    assert_non_null(p);
    return p;
}

static bool same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

/* Tears the writes of run (after prep) and checks before-or-after: every
 * write, or with stride > 1 every stride-th one plus the first and last 40
 * (where the commit and the wipes are). */
static void tear_some(ch_card *c, prep_fn prep, run_fn run, uint16_t want, unsigned stride)
{
    uint8_t *pre = ch_nvm_copy(c), *before, *after, *now;
    size_t bn, an, nn;
    uint64_t w0, writes, n;
    size_t k;
    unsigned n_before = 0, n_after = 0;

    assert_non_null(pre);
    /* dry run */
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    ASSERT_SW(prep(c), 0x9000);
    before = dump(c, &bn);
    w0 = c->sc.sim.writes;
    ASSERT_SW(run(c), want);
    writes = c->sc.sim.writes - w0;
    assert_true(writes > 0);
    print_message("  %u NVM writes to tear\n", (unsigned)writes);
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    after = dump(c, &an);
    assert_false(same(before, bn, after, an));

    for (k = 0; k <= 3; k += 3) {
        for (n = 0; n < writes; n++) {
            if (stride > 1 && n % stride != 0 && n >= 40 && n + 40 < writes)
                continue;
            memcpy(c->sc.sim.nvm, pre, c->sc.sim.nvm_size);
            ASSERT_SW(ch_power_cycle(c), MC_OK);
            ASSERT_SW(prep(c), 0x9000);
            now = dump(c, &nn);
            assert_true(same(now, nn, before, bn));
            free(now);
            mc_sim_arm_cut(&c->sc.sim, n + 1, k);
            (void)run(c);
            mc_sim_disarm(&c->sc.sim);
            ASSERT_SW(ch_power_cycle(c), MC_OK);
            now = dump(c, &nn);
            if (same(now, nn, before, bn)) {
                n_before++;
            } else if (same(now, nn, after, an)) {
                n_after++;
            } else {
                print_error("cut at write %u of %u (after %zu bytes): state is neither before "
                            "nor after\n", (unsigned)(n + 1), (unsigned)writes, k);
                fail();
            }
            free(now);
        }
    }
    /* both outcomes must occur: the commit point lies inside the command */
    assert_true(n_before > 0);
    assert_true(n_after > 0);
    memcpy(c->sc.sim.nvm, pre, c->sc.sim.nvm_size);
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    free(pre);
    free(before);
    free(after);
}

static void tear_all(ch_card *c, prep_fn prep, run_fn run, uint16_t want)
{
    tear_some(c, prep, run, want, 1);
}

/* --- preparations ---------------------------------------------------------- */
static uint16_t prep_transport(ch_card *c)
{
    cm_keyset tk;
    ch_transport_keys(&tk);
    return ch_open(c, ch_am_aid, CH_AM_AID_LEN, 0xFF, &tk, 0x33);
}

static uint16_t prep_am(ch_card *c)
{
    return ch_open_am(c);
}

static uint16_t prep_ap1(ch_card *c)
{
    return ch_open_ap(c, &ap1, 0x33);
}

/* --- commands -------------------------------------------------------------- */
static uint16_t run_area_setup(ch_card *c)
{
    cm_keyset rk;
    ch_region_keys(&rk);
    return ch_put_key(c, 0xFF, &rk, NULL);
}

static uint16_t run_load_one(ch_card *c)
{
    return ch_load_ap(c, &ap2);
}

static uint16_t load_img(ch_card *c, size_t block, size_t seg)
{
    uint8_t img[2048];
    cm_keyset rk;
    size_t n;

    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap2, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_load_image(c, img, n, block, seg);
}

static uint16_t run_load_blocks(ch_card *c)
{
    return load_img(c, 120, 0);
}

static uint16_t run_load_chained(ch_card *c)
{
    return load_img(c, 2000, 100);
}

/* ~31 KiB image: installed over its own staging copy (the heap cannot hold
 * both), so a cut during the install has already overwritten staged bytes. */
static uint8_t big_content[30000];
static uint16_t run_load_large(ch_card *c)
{
    static uint8_t img[CH_IMAGE_MAX];
    cm_keyset rk;
    ch_ap ap;
    size_t n, i;

    for (i = 0; i < sizeof(big_content); i++)
        big_content[i] = (uint8_t)(i ^ (i >> 7));
    ch_ap_default(&ap, 9);
    ap.n_efs = 1;
    ap.efs[0].size = sizeof(big_content);
    ap.efs[0].content = big_content;
    ap.efs[0].content_len = sizeof(big_content);
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_load_image(c, img, n, 2000, 0);
}

static uint16_t run_delete(ch_card *c)
{
    return ch_cmdf(c, NULL, "80E40000 07 4F05 %02X%02X%02X%02X%02X", ap1.aid[0], ap1.aid[1],
                   ap1.aid[2], ap1.aid[3], ap1.aid[4]);
}

static uint16_t run_put_key_ap(ch_card *c)
{
    cm_keyset nk;
    ch_make_keys(&nk, 0x21, 0x77, 32);
    return ch_put_key(c, ap1.keys.kvn, &nk, NULL);
}

static uint16_t run_update_binary(ch_card *c)
{
    uint8_t apdu[128], data[64];
    size_t n;
    memset(data, 0xC3, sizeof(data));
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xD6, 0x81, 0x00, data, sizeof(data), -1);
    return ch_cmd(c, apdu, n, NULL);
}

static uint16_t run_append_cyclic(ch_card *c)
{
    return ch_cmdx(c, "00E20028 08 1122334455667788", NULL);
}

static uint16_t run_lock(ch_card *c)
{
    return ch_cmdx(c, "80F0807F", NULL);
}

static uint16_t run_terminate(ch_card *c)
{
    return ch_cmdx(c, "80F080FF", NULL);
}

static uint16_t run_rrc(ch_card *c)
{
    return ch_cmdf(c, NULL, "802C0081 10 4F05 %02X%02X%02X%02X%02X DF0206 313131313131",
                   ap1.aid[0], ap1.aid[1], ap1.aid[2], ap1.aid[3], ap1.aid[4]);
}

/* --- fixtures ------------------------------------------------------------- */
static int setup(void **state)
{
    ch_ap_default(&ap1, 1);
    ch_ap_default(&ap2, 2);
    return ct_setup_ap(state);
}

/* --- tests ----------------------------------------------------------------- */
static void test_tear_area_setup(void **state)
{
    ch_card *c = *state;
    ch_free(c);
    assert_int_equal(ch_init(c, 0), 0);
    tear_all(c, prep_transport, run_area_setup, 0x9000);
}

static void test_tear_load_one_block(void **state)
{
    tear_all(*state, prep_am, run_load_one, 0x9000);
}

static void test_tear_load_blocks(void **state)
{
    tear_all(*state, prep_am, run_load_blocks, 0x9000);
}

static void test_tear_load_chained(void **state)
{
    tear_all(*state, prep_am, run_load_chained, 0x9000);
}

static void test_tear_load_large(void **state)
{
    tear_some(*state, prep_am, run_load_large, 0x9000, 5);
}

static void test_tear_delete(void **state)
{
    tear_all(*state, prep_am, run_delete, 0x9000);
}

static void test_tear_put_key_ap(void **state)
{
    tear_all(*state, prep_ap1, run_put_key_ap, 0x9000);
}

static void test_tear_update_binary(void **state)
{
    tear_all(*state, prep_ap1, run_update_binary, 0x9000);
}

static void test_tear_append_cyclic(void **state)
{
    tear_all(*state, prep_ap1, run_append_cyclic, 0x9000);
}

static void test_tear_lock(void **state)
{
    tear_all(*state, prep_am, run_lock, 0x9000);
}

static void test_tear_terminate(void **state)
{
    tear_some(*state, prep_am, run_terminate, 0x9000, 5);
}

static void test_tear_rrc(void **state)
{
    tear_all(*state, prep_am, run_rrc, 0x9000);
}

/* How often NVM holds this byte string. */
static unsigned nvm_count(const ch_card *c, const uint8_t *s, size_t n)
{
    size_t i;
    unsigned k = 0;
    for (i = 0; i + n <= c->sc.sim.nvm_size; i++)
        if (memcmp(c->sc.sim.nvm + i, s, n) == 0)
            k++;
    return k;
}

static bool nvm_has(const ch_card *c, const uint8_t *s, size_t n)
{
    return nvm_count(c, s, n) > 0;
}

/* A load dropped half way, or cut by a power loss, leaves none of the
 * staged plaintext behind (initial content of EF 0102, "secret"...). */
static void test_staged_plaintext_wiped(void **state)
{
    ch_card *c = *state;
    static const uint8_t marker[] = "MNAPSTAGEDMARKER";
    uint8_t img[2048];
    cm_keyset rk;
    size_t n;
    ch_ap ap;

    ch_ap_default(&ap, 3);
    ap.efs[0].content = marker;
    ap.efs[0].content_len = sizeof(marker) - 1;
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    assert_true(n > 200);
    /* dropped by another command */
    {
        uint8_t apdu[5 + 255];
        size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x00, 0x00, img, 200, -1);
        ASSERT_SW(ch_cmd(c, apdu, an, NULL), 0x9000);
    }
    assert_true(nvm_has(c, marker, sizeof(marker) - 1));
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
    assert_false(nvm_has(c, marker, sizeof(marker) - 1));
    /* cut by a power loss: recovery wipes */
    {
        uint8_t apdu[5 + 255];
        size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x00, 0x00, img, 200, -1);
        ASSERT_SW(ch_cmd(c, apdu, an, NULL), 0x9000);
    }
    assert_true(nvm_has(c, marker, sizeof(marker) - 1));
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    assert_false(nvm_has(c, marker, sizeof(marker) - 1));
    /* installed: the EF holds it once, the staging copy is gone */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, 2000, 0), 0x9000);
    assert_int_equal(nvm_count(c, marker, sizeof(marker) - 1), 1);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdf(c, NULL, "80E40000 07 4F05 %02X%02X%02X%02X%02X", ap.aid[0], ap.aid[1],
                      ap.aid[2], ap.aid[3], ap.aid[4]),
              0x9000);
    assert_false(nvm_has(c, marker, sizeof(marker) - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tear_area_setup, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_load_one_block, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_load_blocks, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_load_chained, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_load_large, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_delete, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_put_key_ap, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_update_binary, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_append_cyclic, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_lock, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_terminate, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_tear_rrc, setup, ct_teardown),
        cmocka_unit_test_setup_teardown(test_staged_plaintext_wiped, setup, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_tear", tests, NULL, NULL);
}
