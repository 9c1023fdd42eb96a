/* test_faults.c: the library under faults injected into the card's
 * responses (a flipped byte, a truncated response) and a card lost in the
 * middle of an AP load (transport drop at every command, power cut at every
 * NVM write): the right error comes back, and afterwards the AP is either
 * absent or complete on the card. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_fixture.h"

/* A fixture whose context talks through a fault injector. */
typedef struct ffx {
    fx f;
    mnap_fault fault;
    mnap_ctx *fctx;         /* context on the fault transport */
} ffx;

static void ffx_new(ffx *x)
{
    mnap_transport inner, t;
    fx_active(&x->f, NULL, 0);
    inner = mnap_inproc_transport(x->f.ip);
    mnap_fault_init(&x->fault, &inner);
    t = mnap_fault_transport(&x->fault);
    assert_int_equal(mnap_ctx_new(&x->fctx, &t), MNAP_OK);
}

static void ffx_free(ffx *x)
{
    mnap_ctx_free(x->fctx);
    fx_free(&x->f);
}

/* After a fault: a clean context on the card itself (reinserted if it was
 * lost), an AM session, the number of APs. */
static size_t aps_on_card(fx *f, int reinsert)
{
    mnap_ap_entry list[16];
    size_t count = 99;
    mnap_err rc;
    if (reinsert) {
        assert_int_equal(mnap_inproc_insert(f->ip), MNAP_OK);
        assert_int_equal(mnap_reconnect(f->ctx), MNAP_OK);
    }
    rc = mnap_am_open(f->ctx, &f->region, MNAP_LEVEL_FULL);
    if (rc == MNAP_E_CARD_RESET) {
        assert_int_equal(mnap_reconnect(f->ctx), MNAP_OK);
        rc = mnap_am_open(f->ctx, &f->region, MNAP_LEVEL_FULL);
    }
    assert_int_equal(rc, MNAP_OK);
    assert_int_equal(mnap_area_list_aps(f->ctx, list, 16, &count), MNAP_OK);
    return count;
}

/* The standard AP 1 is there and complete: keys, PIN, files, content. */
static void assert_std_ap_complete(fx *f)
{
    uint8_t buf[40];
    size_t got;
    mnap_ef_info info;
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, FX_PIN, 4, NULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, buf, 32, &got), MNAP_OK);
    assert_int_equal(got, 32);
    assert_memory_equal(buf, fx_secret_content, 32);
    assert_int_equal(mnap_ap_select_ef(f->ctx, FX_EF_CYCLIC, &info), MNAP_OK);
    assert_int_equal(info.record_count, 3);
    assert_int_equal(mnap_ap_select_ef(f->ctx, FX_EF_BIG, &info), MNAP_OK);
    assert_int_equal(info.size, FX_BIG_SIZE);
}

static void test_flipped_response_byte(void **state)
{
    ffx x;
    mnap_ef_info info;
    uint8_t buf[16];
    size_t got;
    (void)state;
    ffx_new(&x);
    fx_load_std(&x.f, 1);
    {
        uint8_t aid[6];
        fx_std_aid(aid, 1);
        assert_int_equal(mnap_ap_open(x.fctx, aid, 6, &x.f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    }
    /* flip the first byte of the (encrypted) FCP */
    mnap_fault_arm(&x.fault, MNAP_FAULT_FLIP, 1, 0);
    assert_int_equal(mnap_ap_select_ef(x.fctx, FX_EF_BIG, &info), MNAP_E_RMAC);
    assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
    assert_int_equal(mnap_ap_select_ef(x.fctx, FX_EF_BIG, &info), MNAP_E_STATE);
    /* flip a byte of the R-MAC itself (last byte before the SW) */
    {
        uint8_t aid[6];
        fx_std_aid(aid, 1);
        assert_int_equal(mnap_ap_open(x.fctx, aid, 6, &x.f.ap, MNAP_LEVEL_FULL), MNAP_OK);
        mnap_fault_arm(&x.fault, MNAP_FAULT_FLIP, 2, -3);
        assert_int_equal(mnap_ap_read_binary(x.fctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_E_RMAC);
        assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
        /* the session opens again */
        assert_int_equal(mnap_ap_open(x.fctx, aid, 6, &x.f.ap, MNAP_LEVEL_FULL), MNAP_OK);
        assert_int_equal(mnap_ap_read_binary(x.fctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_OK);
    }
    ffx_free(&x);
}

static void test_flipped_card_cryptogram(void **state)
{
    ffx x;
    uint64_t before;
    (void)state;
    ffx_new(&x);
    /* transmits of mnap_am_open on a fresh context: SELECT, GET DATA DF20,
     * INITIALIZE UPDATE (3rd) */
    mnap_fault_arm(&x.fault, MNAP_FAULT_FLIP, 3, 21);
    before = mnap_inproc_apdus(x.f.ip);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    /* nothing was sent after INITIALIZE UPDATE */
    assert_int_equal(mnap_inproc_apdus(x.f.ip) - before, 3);
    assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
    /* a flipped card challenge is caught the same way */
    mnap_fault_arm(&x.fault, MNAP_FAULT_FLIP, 2, 13);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
    ffx_free(&x);
}

static void test_truncated_responses(void **state)
{
    ffx x;
    mnap_area_info info;
    mnap_ap_entry list[4];
    size_t count;
    (void)state;
    ffx_new(&x);
    fx_load_std(&x.f, 1);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
    /* data cut short, SW kept: the R-MAC no longer verifies */
    mnap_fault_arm(&x.fault, MNAP_FAULT_TRUNCATE, 1, 10);
    assert_int_equal(mnap_area_list_aps(x.fctx, list, 4, &count), MNAP_E_RMAC);
    assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
    /* no status word at all */
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
    mnap_fault_arm(&x.fault, MNAP_FAULT_SHORT, 1, 1);
    assert_int_equal(mnap_area_info_get(x.fctx, &info), MNAP_E_PROTOCOL);
    assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
    /* a truncated INITIALIZE UPDATE answer */
    mnap_fault_arm(&x.fault, MNAP_FAULT_TRUNCATE, 2, 20);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_E_PROTOCOL);
    /* without a session (the AM stays selected), a truncated DF20 is a
     * malformed response */
    mnap_fault_arm(&x.fault, MNAP_FAULT_TRUNCATE, 1, 5);
    assert_int_equal(mnap_area_info_get(x.fctx, &info), MNAP_E_PROTOCOL);
    ffx_free(&x);
}

/* An R-MAC failure in the middle of a load: error, the card drops the
 * partial load, a new load succeeds. */
static void test_rmac_failure_mid_load(void **state)
{
    ffx x;
    uint8_t img[8192];
    size_t n;
    mnap_load_opts opts = { 32, NULL, NULL };
    (void)state;
    ffx_new(&x);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
    n = fx_std_image(img, sizeof(img), 1, -1);
    assert_true(n > 3 * 32);
    mnap_fault_arm(&x.fault, MNAP_FAULT_FLIP, 2, -3);
    assert_int_equal(mnap_area_load_ap(x.fctx, img, n, &x.f.ap, &opts), MNAP_E_RMAC);
    assert_int_equal(aps_on_card(&x.f, 0), 0);
    assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_load_ap(x.fctx, img, n, &x.f.ap, &opts), MNAP_OK);
    assert_int_equal(aps_on_card(&x.f, 0), 1);
    assert_std_ap_complete(&x.f);
    ffx_free(&x);
}

/* Each LOAD AP response in turn flipped, then truncated: the library
 * reports the bad response, and the AP is absent (a block before the last:
 * the library made the card drop the partial load) or complete (the last
 * block: the card had installed it before answering). */
static void test_bad_response_at_each_block(void **state)
{
    uint8_t img[8192];
    size_t n;
    uint64_t k, blocks;
    int kind;
    mnap_load_opts opts = { 48, NULL, NULL };
    (void)state;
    n = fx_std_image(img, sizeof(img), 1, -1);
    {
        /* a clean load: how many LOAD AP commands it takes */
        ffx x;
        uint64_t before;
        ffx_new(&x);
        assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
        before = x.fault.count;
        assert_int_equal(mnap_area_load_ap(x.fctx, img, n, &x.f.ap, &opts), MNAP_OK);
        blocks = x.fault.count - before;
        ffx_free(&x);
    }
    assert_true(blocks >= 4);
    for (kind = 0; kind < 2; kind++) {
        for (k = 1; k <= blocks; k++) {
            ffx x;
            ffx_new(&x);
            assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
            mnap_fault_arm(&x.fault, kind == 0 ? MNAP_FAULT_FLIP : MNAP_FAULT_TRUNCATE, k,
                           kind == 0 ? 0 : 4);
            assert_int_equal(mnap_area_load_ap(x.fctx, img, n, &x.f.ap, &opts), MNAP_E_RMAC);
            assert_int_equal(mnap_session_open(x.fctx, NULL), 0);
            if (k < blocks) {
                assert_int_equal(aps_on_card(&x.f, 0), 0);
            } else {
                assert_int_equal(aps_on_card(&x.f, 0), 1);
                assert_std_ap_complete(&x.f);
            }
            ffx_free(&x);
        }
    }
}

/* The card disappears at each command of a load in turn. */
static void test_drop_during_load(void **state)
{
    uint8_t img[8192];
    size_t n;
    uint64_t k;
    int done = 0, failed = 0;
    mnap_load_opts opts = { 48, NULL, NULL };
    (void)state;
    n = fx_std_image(img, sizeof(img), 1, -1);
    for (k = 1; k < 100 && !done; k++) {
        ffx x;
        mnap_err rc;
        size_t aps;
        ffx_new(&x);
        assert_int_equal(mnap_am_open(x.fctx, &x.f.region, MNAP_LEVEL_FULL), MNAP_OK);
        mnap_fault_arm(&x.fault, MNAP_FAULT_DROP, k, 0);
        rc = mnap_area_load_ap(x.fctx, img, n, &x.f.ap, &opts);
        if (rc == MNAP_OK) {
            done = 1;   /* the drop came after the last block */
        } else {
            assert_int_equal(rc, MNAP_E_CARD_REMOVED);
            failed++;
        }
        /* the card was pulled: power it again and look */
        mnap_inproc_remove(x.f.ip);
        aps = aps_on_card(&x.f, 1);
        if (rc == MNAP_OK)
            assert_int_equal(aps, 1);
        else
            assert_int_equal(aps, 0);
        if (aps == 1)
            assert_std_ap_complete(&x.f);
        ffx_free(&x);
    }
    assert_true(done);
    assert_true(failed >= 3);   /* the image takes several blocks */
}

/* Power cut at every NVM write of a load: absent or complete, never half. */
static void test_power_cut_during_load(void **state)
{
    uint8_t img[8192];
    size_t n;
    uint64_t w;
    int seen_absent = 0, seen_complete = 0, done = 0;
    mnap_load_opts opts = { 512, NULL, NULL };
    (void)state;
    n = fx_std_image(img, sizeof(img), 1, -1);
    for (w = 1; w < 5000 && !done; w++) {
        fx f;
        mnap_err rc;
        size_t aps;
        fx_active(&f, NULL, 0);
        mnap_inproc_arm_power_cut(f.ip, w, 1);
        rc = mnap_area_load_ap(f.ctx, img, n, &f.ap, &opts);
        if (rc == MNAP_OK) {
            /* the cut was not reached during the load */
            done = 1;
        } else {
            assert_int_equal(rc, MNAP_E_CARD_REMOVED);
        }
        /* power-cycle in every case: it also disarms a cut not reached */
        aps = aps_on_card(&f, 1);
        if (aps == 0) {
            seen_absent = 1;
        } else {
            assert_int_equal(aps, 1);
            assert_std_ap_complete(&f);
            seen_complete = 1;
        }
        fx_free(&f);
    }
    assert_true(done);
    assert_true(seen_absent);
    assert_true(seen_complete);
    /* a load takes several NVM writes: several cut points were tried */
    print_message("power cut tried at %u NVM writes of the load\n", (unsigned)(w - 2));
    assert_true(w > 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flipped_response_byte),
        cmocka_unit_test(test_flipped_card_cryptogram),
        cmocka_unit_test(test_truncated_responses),
        cmocka_unit_test(test_rmac_failure_mid_load),
        cmocka_unit_test(test_bad_response_at_each_block),
        cmocka_unit_test(test_drop_during_load),
        cmocka_unit_test(test_power_cut_during_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
