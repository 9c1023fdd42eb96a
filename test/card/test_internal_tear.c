/* test_internal_tear.c: the interpreter's own check of atomicity (PROTOCOL.md
 * §8) for the commands whose NVM work is most involved: AREA SETUP, LOAD AP
 * (one block, several blocks, chained segments), DELETE with its wipe, PUT
 * KEY on an AP, a ~31 KiB image installed over its staging copy, UPDATE BINARY, APPEND RECORD on a cyclic EF, SET STATUS
 * (lock, terminate with its wipe), RESET RETRY COUNTER.
 *
 * With the one tear runner (test/support/tear_runner.h): for every NVM
 * write of the command (cut before its first byte, and after three of its
 * bytes), the card is rebuilt from the same NVM image, the same
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
#include "tear_models.h"

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

/* The command as a case of the one tear runner (tear_runner.h). */
typedef struct tear_ctx {
    ch_card *c;
    prep_fn prep;
    run_fn run;
    uint16_t want;
    uint8_t *pre, *before, *after;
    size_t bn, an;
} tear_ctx;

/* Back to the NVM image before the command, power on, the same channel. */
static void tc_start(void *p)
{
    tear_ctx *t = p;
    uint8_t *now;
    size_t nn;

    memcpy(t->c->sc.sim.nvm, t->pre, t->c->sc.sim.nvm_size);
    ASSERT_SW(ch_power_cycle(t->c), MC_OK);
    ASSERT_SW(t->prep(t->c), 0x9000);
    if (t->before == NULL)
        return;
    now = dump(t->c, &nn);
    assert_true(same(now, nn, t->before, t->bn));
    free(now);
}

static int tc_run(void *p)
{
    tear_ctx *t = p;
    return t->run(t->c);
}

static int tc_restart(void *p)
{
    tear_ctx *t = p;
    return (int)ch_restart(t->c);
}

static void tc_dry(void *p, int phase, int rc)
{
    tear_ctx *t = p;
    if (phase == 0) {
        t->before = dump(t->c, &t->bn);
        return;
    }
    ASSERT_SW(rc, t->want);
    ASSERT_SW(ch_power_cycle(t->c), MC_OK);
    t->after = dump(t->c, &t->an);
    assert_false(same(t->before, t->bn, t->after, t->an));
}

static int tc_check(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;
    uint8_t *now;
    size_t nn;
    int outcome = TR_NEITHER;

    (void)cut;
    now = dump(t->c, &nn);
    if (same(now, nn, t->before, t->bn))
        outcome = TR_BEFORE;
    else if (same(now, nn, t->after, t->an))
        outcome = TR_AFTER;
    free(now);
    return outcome;
}

/* Tears the writes of run (after prep) and checks before-or-after: every
 * write, or with stride > 1 every stride-th one plus the first and last 40
 * (where the commit and the wipes are), cut before its first byte and after
 * three of its bytes. */
static void tear_some(ch_card *c, prep_fn prep, run_fn run, uint16_t want, unsigned stride,
                      unsigned kset)
{
    static const size_t ks[] = {0, 3};
    tear_ctx t = {c, prep, run, want, NULL, NULL, NULL, 0, 0};
    tr_case tc = {0};
    tr_stats st;

    t.pre = ch_nvm_copy(c);
    assert_non_null(t.pre);
    tc.name = "internal tear";
    tc.card = &c->sc.card;
    tc.ctx = &t;
    tc.start = tc_start;
    tc.run = tc_run;
    tc.restart = tc_restart;
    tc.check = tc_check;
    tc.dry = tc_dry;
    tc.kset = TR_K_LIST | kset;
    tc.k_list = ks;
    tc.k_count = 2;
    tc.stride = stride;
    tc.keep_ends = 40;
    /* the interrupted byte: old, new, 00, FF, the journal's codes, random */
    ct_tear_models(&tc);
    TEAR_RUN(&tc, &st);
    print_message("  %u NVM writes torn, %lu cut points (%lu with the interrupted byte not old, "
                  "%lu sampled out)\n",
                  (unsigned)st.writes, st.cuts, st.valued, st.skipped);
    /* both outcomes must occur: the commit point lies inside the command */
    assert_true(st.before > 0);
    assert_true(st.after > 0);
    memcpy(c->sc.sim.nvm, t.pre, c->sc.sim.nvm_size);
    ASSERT_SW(ch_power_cycle(c), MC_OK);
    free(t.pre);
    free(t.before);
    free(t.after);
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

/* --- the scenarios ---------------------------------------------------------- */
typedef struct scenario {
    const char *name;
    bool blank;          /* starts from a blank card (no area yet) */
    prep_fn prep;
    run_fn run;
    unsigned stride;     /* 1: every write; else a sample (tear_some) */
    unsigned kset;       /* cuts beyond 0 and 3 bytes (TR_K_*) */
} scenario;

static const scenario scenarios[] = {
    {"test_tear_area_setup", true, prep_transport, run_area_setup, 1, 0},
    {"test_tear_load_one_block", false, prep_am, run_load_one, 1, 0},
    {"test_tear_load_blocks", false, prep_am, run_load_blocks, 1, 0},
    {"test_tear_load_chained", false, prep_am, run_load_chained, 1, 0},
    {"test_tear_load_large", false, prep_am, run_load_large, 5, 0},
    {"test_tear_delete", false, prep_am, run_delete, 1, 0},
    {"test_tear_put_key_ap", false, prep_ap1, run_put_key_ap, 1, 0},
    {"test_tear_update_binary", false, prep_ap1, run_update_binary, 1, 0},
    /* one write that commits itself: cut at every byte of it, and after it */
    {"test_tear_append_cyclic", false, prep_ap1, run_append_cyclic, 1, TR_K_EVERY | TR_K_WHOLE},
    {"test_tear_lock", false, prep_am, run_lock, 1, 0},
    {"test_tear_terminate", false, prep_am, run_terminate, 5, 0},
    {"test_tear_rrc", false, prep_am, run_rrc, 1, 0},
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* The scenario of the running test: its initial state, which the setup
 * replaces by the fixture's card. */
static const scenario *current;

static int setup_scenario(void **state)
{
    current = *state;
    return setup(state);
}

static void test_scenario(void **state)
{
    ch_card *c = *state;
    const scenario *s = current;

    assert_non_null(s);
    if (s->blank) {
        ch_free(c);
        assert_int_equal(ch_init(c, 0), 0);
    }
    tear_some(c, s->prep, s->run, 0x9000, s->stride, s->kset);
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

#define SCENARIO(i) \
    {scenarios[i].name, test_scenario, setup_scenario, ct_teardown, (void *)&scenarios[i]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO(0), SCENARIO(1), SCENARIO(2), SCENARIO(3), SCENARIO(4),  SCENARIO(5),
        SCENARIO(6), SCENARIO(7), SCENARIO(8), SCENARIO(9), SCENARIO(10), SCENARIO(11),
        cmocka_unit_test_setup_teardown(test_staged_plaintext_wiped, setup, ct_teardown),
    };
    _Static_assert(N_SCENARIOS == 12, "one test per scenario");
    return cmocka_run_group_tests_name("internal_tear", tests, NULL, NULL);
}
