/* test_store_tear.c: power cuts at every NVM write of store transactions
 * and counter sets.
 *
 * Every loop is the one tear runner's (test/support/tear_runner.h).
 * For each scenario, every NVM write N of the operation is cut after K bytes,
 * K in {0, len/2, len-1} (len: that write's length, measured by a probe run
 * that lets write N land whole), then the power comes back and the store
 * recovers.  The data space must then equal exactly the image before or the
 * image after the transaction (after iff the cut came after the commit
 * write), recovered must be true unless nothing at all reached NVM, the
 * journal's record area must hold nothing but FF (no residue of the
 * transaction's records: docs/nvm.md, "Journal residue"), and a
 * following transaction must work and survive another power cycle.  A second
 * pass cuts after every byte of every write.  The counts of cut points are
 * printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mc_card.h"
#include "mc_sim.h"
#include "store.h"
#include "store_int.h"
#include "tear_models.h"
#include "tear_runner.h"

/* TEAR_RUN without card_test.h (this test has no card harness). */
#define TEAR_RUN(tc, st)                                                                   \
    do {                                                                                   \
        if (tr_run((tc), (st)) != 0)                                                       \
            fail_msg("%s: %s (cut at write %llu after %zu bytes, restart write %llu)",      \
                     (tc)->name, (st)->why, (unsigned long long)(st)->at.n, (st)->at.k,    \
                     (unsigned long long)(st)->at.m);                                      \
    } while (0)

typedef struct wr {
    uint32_t off;
    uint32_t len;
    uint8_t seed;
} wr;

typedef struct scenario {
    const char *name;
    const wr *w;
    size_t n;
} scenario;

static mc_sim sim;
static mc_card card;
static uint8_t *pristine;      /* NVM image before the transaction */
static uint8_t *before, *after, *seen;
static uint32_t dsize;
static unsigned long total_cuts;

static void pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed ^ (i * 13u) ^ (i >> 7));
}

static void read_space(uint8_t *out)
{
    assert_int_equal(mc_store_read(&card, 0, out, dsize), MC_OK);
}

/* Fresh card with a non-trivial data space and one earlier commit. */
static void prepare(void)
{
    bool rec = true;
    uint8_t buf[512];
    assert_int_equal(mc_sim_init_mem(&sim, MC_SIM_DEFAULT_NVM_SIZE), 0);
    card.port = &sim;
    assert_int_equal(mc_store_format(&card), MC_OK);
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    dsize = mc_store_data_size(&card);
    for (uint32_t off = 0; off + sizeof(buf) <= 24576; off += sizeof(buf)) {
        pattern(buf, sizeof(buf), (uint8_t)(off >> 9));
        assert_int_equal(mc_store_write_direct(&card, off, buf, sizeof(buf)), MC_OK);
    }
    assert_int_equal(mc_store_begin(&card), MC_OK);
    pattern(buf, 100, 0x77);
    assert_int_equal(mc_store_write(&card, 60, buf, 100), MC_OK);
    assert_int_equal(mc_store_commit(&card), MC_OK);
    pristine = malloc(sim.nvm_size);
    before = malloc(dsize);
    after = malloc(dsize);
    seen = malloc(dsize);
    assert_non_null(pristine);
    assert_non_null(before);
    assert_non_null(after);
    assert_non_null(seen);
    memcpy(pristine, sim.nvm, sim.nvm_size);
    read_space(before);
}

static void release(void)
{
    mc_sim_close(&sim);
    free(pristine);
    free(before);
    free(after);
    free(seen);
}

/* Back to the state before the transaction, as after a clean power-up. */
static void restart_pristine(void)
{
    bool rec = true;
    mc_sim_power_restore(&sim);
    memcpy(sim.nvm, pristine, sim.nvm_size);
    memset(&card.store, 0x5A, sizeof(card.store));
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_false(rec);
    mc_sim_reset_counters(&sim);
}

/* Runs the transaction; returns MC_OK or the first failure. */
static mc_status run_tx(const scenario *sc)
{
    uint8_t *buf = malloc(ST_TX_CAP);
    mc_status rc;
    assert_non_null(buf);
    rc = mc_store_begin(&card);
    for (size_t i = 0; rc == MC_OK && i < sc->n; i++) {
        pattern(buf, sc->w[i].len, sc->w[i].seed);
        rc = mc_store_write(&card, sc->w[i].off, buf, sc->w[i].len);
    }
    if (rc == MC_OK)
        rc = mc_store_commit(&card);
    else
        mc_store_abort(&card);
    free(buf);
    return rc;
}

/* Journal residue (docs/nvm.md): the record area holds the records that
 * the active CLEAR slot keeps (the last committed transaction's, copies of
 * what is at home), and FF behind them. */
static void assert_records_wiped(const char *name, const char *when)
{
    uint8_t d[ST_DESC_LEN];
    uint32_t seq;
    uint8_t state;
    int slot = mc_st_journal_active(&card, &seq, &state);
    uint32_t keep;

    assert_true(slot >= 0);
    assert_int_equal(state, ST_STATE_CLEAR);
    memcpy(d, sim.nvm + (slot ? ST_CTL_B_OFF : ST_CTL_A_OFF), sizeof(d));
    keep = st_get16(d + 10);
    for (uint32_t a = ST_REC_OFF + keep; a < ST_JNL_END; a++)
        if (sim.nvm[a] != 0xFF)
            fail_msg("%s: %s: journal residue at NVM offset %u (%02X), behind the %u bytes kept",
                     name, when, (unsigned)a, sim.nvm[a], (unsigned)keep);
}

/* Writes of the transaction per docs/nvm.md: a record is its header (the
 * first one with the open mark in front of it: the transaction's first
 * write), then the whole pages (ST_PAGE) its write touches, one write each;
 * commit 1, home copies a page each, clear 1 (it keeps the transaction's
 * records); then the wipe of the record area behind them: one write per
 * piece (split at NVM page boundaries) that is not all FF, here what the
 * transaction of prepare() left there. */
static void expected_counts(const scenario *sc, uint64_t *commit_idx, uint64_t *total,
                            uint64_t *mark_idx, uint64_t *clear_idx)
{
    uint64_t n = 0, home = 0;
    uint32_t used = 0;

    *mark_idx = 1;
    for (size_t i = 0; i < sc->n; i++) {
        uint32_t off = sc->w[i].off, end = off + (uint32_t)sc->w[i].len;
        uint32_t pages = (((end + ST_PAGE - 1u) & ~(ST_PAGE - 1u)) - (off & ~(ST_PAGE - 1u))) / ST_PAGE;
        n += pages + 1;
        home += pages;
        used += ST_REC_HDR + pages * ST_PAGE;
    }
    *commit_idx = n + 1;
    *clear_idx = n + 1 + home + 1;
    *total = *clear_idx;
    for (uint32_t a = ST_REC_OFF + used, z; a < ST_JNL_END; a = z) {
        bool ff = true;
        z = (a + ST_PAGE) & ~(ST_PAGE - 1u);
        if (z > ST_JNL_END)
            z = ST_JNL_END;
        for (uint32_t b = a; b < z; b++)
            ff = ff && pristine[b] == 0xFF;
        *total += ff ? 0 : 1;
    }
}

/* A following transaction works and survives a power cycle. */
static void check_follow_up(void)
{
    const uint8_t v[16] = {0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t out[16];
    bool rec = true;
    assert_int_equal(mc_store_begin(&card), MC_OK);
    assert_int_equal(mc_store_write(&card, 40000, v, sizeof(v)), MC_OK);
    assert_int_equal(mc_store_commit(&card), MC_OK);
    memset(&card.store, 0x5A, sizeof(card.store));
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_false(rec);
    assert_int_equal(mc_store_read(&card, 40000, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, v, sizeof(v));
}

/* The transaction as a case of the one tear runner (tear_runner.h). */
typedef struct tear_ctx {
    const scenario *sc;
    uint64_t commit_idx, total, mark_idx, clear_idx;
    bool rec;                   /* what the last recovery said */
} tear_ctx;

static void tc_start(void *p)
{
    (void)p;
    restart_pristine();
}

static int tc_run(void *p)
{
    tear_ctx *t = p;
    return (int)run_tx(t->sc);
}

/* Power back (the runner), fresh RAM, recovery. */
static int tc_restart(void *p)
{
    tear_ctx *t = p;
    t->rec = false;
    memset(&card.store, 0x5A, sizeof(card.store));
    return (int)mc_store_recover(&card, &t->rec);
}

/* The uncut run: the write count is as documented, the result is "after". */
static void tc_dry(void *p, int phase, int rc)
{
    tear_ctx *t = p;
    if (phase == 0)
        return;
    assert_int_equal(rc, MC_OK);
    assert_int_equal(sim.writes, t->total);
    read_space(seen);
    assert_memory_equal(seen, after, dsize);
    assert_records_wiped(t->sc->name, "after the commit");
}

/* The probe: write n lands whole, then the power goes: its length. */
static void tc_measured(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;
    assert_int_equal(cut->rc, MC_ERR_NVM);
    assert_int_equal(sim.writes, cut->n);
    assert_true(cut->len > 0);
    if (cut->n == t->commit_idx)
        assert_int_equal(cut->len, ST_DESC_LEN);         /* the COMMITTED slot */
    if (cut->n == t->clear_idx)
        assert_int_equal(cut->len, ST_DESC_LEN);         /* the CLEAR slot */
}

/* prepare() committed once: the active slot is CLEAR 2, and the
 * transaction's records and open mark carry 3.  After a cut the state is
 * "before" up to the commit write, "after" from the first home copy on, and
 * either when the commit write is cut in its last byte (which may hold its
 * new value: then the slot is whole).  The journal is CLEAR again; its
 * number is 4 after (COMMITTED 3, CLEAR 4), 3 after a discard, 2 when
 * recovery found nothing (the open mark never landed). */
static int tc_check(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;
    const scenario *sc = t->sc;
    uint32_t seq;
    uint8_t state;
    bool is_after = false, torn_last = cut->k != (size_t)-1 && cut->k + 1 == cut->len;

    assert_int_equal(cut->rc, MC_ERR_NVM);
    read_space(seen);
    if (memcmp(seen, after, dsize) == 0)
        is_after = true;
    else if (memcmp(seen, before, dsize) == 0)
        is_after = false;
    else
        fail_msg("%s: cut at write %llu after %zu bytes (byte model %d/%02X): data space is "
                 "neither the before nor the after image",
                 sc->name, (unsigned long long)cut->n, cut->k, cut->how, cut->value);
    if (cut->n < t->commit_idx || (cut->n == t->commit_idx && !torn_last))
        assert_false(is_after);
    if (cut->n > t->commit_idx)
        assert_true(is_after);
    /* recovery discards once the open mark landed (with the first
     * record's header) */
    if (!t->rec && !is_after && cut->n >= t->mark_idx && !(cut->n == t->mark_idx && cut->k == 0))
        fail_msg("%s: cut at write %llu after %zu bytes: recovered=0", sc->name,
                 (unsigned long long)cut->n, cut->k);
    if (cut->n < t->mark_idx)
        assert_false(t->rec);
    if (cut->n == t->mark_idx && cut->k == 0)
        assert_int_equal(t->rec, sim.nvm[ST_MARK_OFF] == ST_MARK(3));
    /* only the CLEAR slot, landed whole in its last byte, or the wipe after
     * it (recovery wipes the rest, reporting nothing) */
    if (!t->rec && is_after)
        assert_true(cut->n > t->clear_idx || (cut->n == t->clear_idx && torn_last));
    assert_records_wiped(sc->name, "cut, then recovery");
    assert_true(mc_st_journal_active(&card, &seq, &state) >= 0);
    assert_int_equal(state, ST_STATE_CLEAR);
    assert_int_equal(card.store.tx_seq, is_after ? 4 : t->rec ? 3 : 2);
    assert_int_equal(seq, card.store.tx_seq);
    check_follow_up();
    return is_after ? TR_AFTER : TR_BEFORE;
}

static void tc_init(tear_ctx *t, tr_case *tc, const scenario *sc)
{
    uint8_t *buf = malloc(ST_TX_CAP);

    prepare();
    assert_non_null(buf);
    memcpy(after, before, dsize);
    for (size_t i = 0; i < sc->n; i++) {
        pattern(buf, sc->w[i].len, sc->w[i].seed);
        memcpy(after + sc->w[i].off, buf, sc->w[i].len);
    }
    free(buf);
    memset(t, 0, sizeof(*t));
    memset(tc, 0, sizeof(*tc));
    t->sc = sc;
    expected_counts(sc, &t->commit_idx, &t->total, &t->mark_idx, &t->clear_idx);
    tc->name = sc->name;
    tc->card = &card;
    tc->ctx = t;
    tc->start = tc_start;
    tc->run = tc_run;
    tc->restart = tc_restart;
    tc->check = tc_check;
    tc->dry = tc_dry;
    tc->measured = tc_measured;
    /* the interrupted byte: old, new, 00, FF, the journal's codes, random */
    ct_tear_models(tc);
}

/* Every write N of the transaction cut after K bytes, K in {0, len/2,
 * len-1}, or (every_byte) every K in 0..len-1. */
/* Page tearing (card/port_tear.h mc_port_tear_page): the data space is the
 * before image up to the commit write, the after image from the first home
 * copy on (either at the commit write), and the journal is CLEAR again; a
 * torn page may hold anything, the open mark included, so whether recovery
 * reported a discard is not decided by the cut. */
static int tc_check_page(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;
    uint32_t seq;
    uint8_t state;
    bool is_after;

    assert_int_equal(cut->rc, MC_ERR_NVM);
    read_space(seen);
    is_after = memcmp(seen, after, dsize) == 0;
    if (!is_after && memcmp(seen, before, dsize) != 0)
        fail_msg("%s: page cut at write %llu after %zu bytes (model %d/%02X): data space is "
                 "neither the before nor the after image",
                 t->sc->name, (unsigned long long)cut->n, cut->k, cut->how, cut->value);
    if (cut->n < t->commit_idx)
        assert_false(is_after);
    if (cut->n > t->commit_idx)
        assert_true(is_after);
    assert_true(mc_st_journal_active(&card, &seq, &state) >= 0);
    assert_int_equal(state, ST_STATE_CLEAR);
    assert_records_wiped(t->sc->name, "page cut, then recovery");
    check_follow_up();
    return is_after ? TR_AFTER : TR_BEFORE;
}

static void tear_scenario(const scenario *sc, bool every_byte, bool page)
{
    tear_ctx t;
    tr_case tc;
    tr_stats st;

    tc_init(&t, &tc, sc);
    tc.kset = every_byte ? TR_K_EVERY : TR_K_ZERO | TR_K_HALF | TR_K_LAST;
    if (page) {
        ct_tear_page_models(&tc);
        tc.check = tc_check_page;
    }
    TEAR_RUN(&tc, &st);
    assert_int_equal(st.writes, t.total);
    printf("  %s%s: %llu writes per transaction (commit write %llu), %lu cut points (%lu with "
           "the interrupted byte not old, %lu sampled out)\n",
           sc->name, page ? ", every page torn whole" : every_byte ? ", every byte" : "",
           (unsigned long long)t.total,
           (unsigned long long)t.commit_idx, st.cuts, st.valued, st.skipped);
    total_cuts += st.cuts;
    release();
}

static const wr w_small[] = {{100, 4, 0x01}};
static const wr w_multi[] = {{0, 40, 0x02}, {5000, 200, 0x03}, {52607, 1, 0x04}, {30000, 2048, 0x05}};
/* 2048 + 960 bytes of pages + 2 headers: no further page fits */
static const wr w_full[] = {{1024, 2048, 0x06}, {20032, 960, 0x07}};
static const wr w_overlap[] = {{100, 200, 0x08}, {200, 200, 0x09}, {250, 10, 0x0A},
                               {100, 1, 0x0B}, {90, 400, 0x0C}, {395, 5, 0x0D}};

/* The transactions, each cut at K in {0, len/2, len-1} of every write, then
 * cut after every byte of every write. */
typedef struct tear_row {
    scenario sc;
    bool every_byte;
    bool page;          /* page tearing (64-byte pages unless MNAP_TEAR_PAGE) */
} tear_row;

static const tear_row rows[] = {
    {{"small (1 x 4 bytes)", w_small, 1}, false, false},
    {{"multi-record (4 records, 2289 bytes)", w_multi, 4}, false, false},
    {{"at capacity (2048 + 960 bytes)", w_full, 2}, false, false},
    {{"overlapping (6 records)", w_overlap, 6}, false, false},
    {{"small", w_small, 1}, true, false},
    {{"multi-record", w_multi, 4}, true, false},
    {{"at capacity", w_full, 2}, true, false},
    {{"overlapping", w_overlap, 6}, true, false},
    {{"small, pages", w_small, 1}, false, true},
    {{"multi-record, pages", w_multi, 4}, false, true},
    {{"at capacity, pages", w_full, 2}, false, true},
    {{"overlapping, pages", w_overlap, 6}, false, true},
};

static void test_tear_row(void **state)
{
    const tear_row *r = *state;
    if (r->sc.w == w_full)
        assert_true(2048 + 960 + 3 * ST_REC_HDR + ST_PAGE > ST_REC_AREA);
    tear_scenario(&r->sc, r->every_byte, r->page);
}

/* Cuts during recovery itself: a replay torn at any write is replayed again
 * at the next start-up, with the same result; so is a discard (its CLEAR
 * slot and its wipe of all the records): the next start-up discards again,
 * or finishes the wipe. */
static int tc_check_discard(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;

    assert_int_equal(cut->rc, MC_ERR_NVM);
    if (cut->m == 0 || cut->m == 1)
        assert_true(t->rec);   /* uncut, or its CLEAR slot torn: discarded again */
    read_space(seen);
    assert_memory_equal(seen, before, dsize);
    assert_records_wiped(t->sc->name, "discard cut, then recovery");
    check_follow_up();
    return TR_BEFORE;
}

static int tc_check_recovery(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;

    assert_int_equal(cut->rc, MC_ERR_NVM);
    if (cut->m == 0) {
        /* the recovery ran uncut */
        assert_true(t->rec);
    } else {
        assert_int_not_equal(cut->restart_rc, MC_OK);
        /* even a cut in the CLEAR slot (16 bytes, cut after 3) leaves the
         * COMMITTED one active: replayed again; a cut in the wipe after it
         * leaves CLEAR active: the next recovery only wipes */
        if (cut->m <= t->clear_idx - t->commit_idx)
            assert_true(t->rec);
    }
    read_space(seen);
    assert_memory_equal(seen, after, dsize);
    assert_records_wiped(t->sc->name, "recovery cut, then recovery");
    check_follow_up();
    return TR_AFTER;
}

/* A transaction dies, then the start-up that recovers it dies at each of its
 * writes, half-way through (k3), under the byte models or (page) whole pages.
 * replay: the transaction dies right after its commit write, so recovery
 * replays it (the home copies, then the CLEAR slot and the wipe behind the
 * kept records); otherwise it dies at its last write before the commit write
 * (all its records in the journal), so recovery discards it (the CLEAR slot,
 * then each piece of the wipe). */
static void tear_restart(bool replay, bool page)
{
    static const size_t k0[] = {0}, k3[] = {3};
    const scenario sc = {"multi", w_multi, 4};
    tear_ctx t;
    tr_case tc;
    tr_stats st;

    tc_init(&t, &tc, &sc);
    if (page) {
        /* the recovery's writes torn whole-page (k0 and k3: the first page) */
        tc.page = ct_tear_page();
        tc.values = TR_V_OLD | TR_V_00 | TR_V_FF | TR_V_RANDOM;
    }
    tc.check = replay ? tc_check_recovery : tc_check_discard;
    tc.measured = NULL;
    tc.kset = TR_K_LIST;
    tc.k_list = k0;
    tc.k_count = 1;
    tc.first_n = tc.last_n = replay ? t.commit_idx + 1 : t.commit_idx;
    tc.restart_k = k3;
    tc.restart_k_count = 1;
    TEAR_RUN(&tc, &st);
    if (replay) {
        /* the replay writes the home copies and the clear: total - commit_idx */
        assert_int_equal(st.restart_writes_max, t.total - t.commit_idx);
        /* each of them with the interrupted byte old (never sampled out), and
         * with the other models */
        assert_true(st.restart_cuts >= t.total - t.commit_idx);
    } else {
        /* the CLEAR slot and the wipe of the records (a piece per page) */
        assert_true(st.restart_writes_max > 30);
    }
    printf("  %s torn at each of its %llu writes%s: %lu cut points (%lu with the "
           "interrupted byte not old)\n",
           replay ? "recovery" : "discard", (unsigned long long)st.restart_writes_max,
           page ? ", pages torn whole" : "", st.restart_cuts, st.valued);
    total_cuts += st.restart_cuts;
    release();
}

static void test_tear_during_discard(void **state)
{
    (void)state;
    tear_restart(false, false);
    tear_restart(false, true);
}

static void test_tear_during_recovery(void **state)
{
    (void)state;
    tear_restart(true, false);
}

static void test_tear_recovery_pages(void **state)
{
    (void)state;
    tear_restart(true, true);
}

/* ---- counters ----------------------------------------------------------- */

static unsigned long counter_cuts;
static bool counter_pages;   /* page tearing of the counter sets */

static void reboot_counters(void)
{
    bool rec = true;
    mc_sim_power_restore(&sim);
    memset(&card.store, 0x5A, sizeof(card.store));
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_false(rec);
}

static uint32_t get(unsigned idx)
{
    uint32_t v = 0xDEADBEEF;
    assert_int_equal(mc_store_counter_get(&card, idx, &v), MC_OK);
    return v;
}

/* A counter set as a case of the tear runner. */
typedef struct ctr_ctx {
    unsigned idx;
    uint32_t old, target;
    const uint8_t *snap;
} ctr_ctx;

static void ctr_start(void *p)
{
    ctr_ctx *t = p;
    memcpy(sim.nvm, t->snap, sim.nvm_size);
    reboot_counters();
    assert_int_equal(get(t->idx), t->old);
}

static int ctr_run(void *p)
{
    ctr_ctx *t = p;
    return (int)mc_store_counter_set(&card, t->idx, t->target);
}

static int ctr_restart(void *p)
{
    (void)p;
    reboot_counters();
    return 0;
}

static int ctr_check(void *p, const tr_cut *cut)
{
    ctr_ctx *t = p;
    unsigned idx = t->idx;
    uint32_t v, old = t->old, target = t->target;
    size_t k = cut->k;

    assert_int_equal(cut->rc, MC_ERR_NVM);
    v = get(idx);
    if (v != old && v != target)
        fail_msg("counter %u: set %06x -> %06x torn after %zu bytes gave %06x", idx, (unsigned)old,
                 (unsigned)target, k, (unsigned)v);
    if (k == 0)
        assert_int_equal(v, old);
    /* a second torn attempt at the same slot, then a clean one */
    for (size_t k2 = 0; k2 < ST_SLOT; k2 += 3) {
        uint8_t *snap2 = malloc(sim.nvm_size);
        uint32_t v2, t2 = (v == target ? target : old) + 1;
        assert_non_null(snap2);
        memcpy(snap2, sim.nvm, sim.nvm_size);
        if (t2 > ST_CTR_MAX) {
            free(snap2);
            break;
        }
        mc_port_tear_arm(&card, 1, k2, MC_TEAR_OLD, 0);
        assert_int_equal(mc_store_counter_set(&card, idx, t2), MC_ERR_NVM);
        mc_port_tear_restart(&card);
        reboot_counters();
        v2 = get(idx);
        if (v2 != v && v2 != t2)
            fail_msg("counter %u: double tear (%zu, %zu) gave %06x", idx, k, k2, (unsigned)v2);
        assert_true(v2 >= v);
        if (v2 < ST_CTR_MAX) {
            assert_int_equal(mc_store_counter_set(&card, idx, v2 + 1), MC_OK);
            reboot_counters();
            assert_int_equal(get(idx), v2 + 1);
        }
        memcpy(sim.nvm, snap2, sim.nvm_size);
        reboot_counters();
        free(snap2);
        counter_cuts++;
    }
    counter_cuts++;
    return v == old ? TR_BEFORE : TR_AFTER;
}

/* From the current value old, a set to target is cut at every byte k of its
 * 8-byte slot write; after restart the value must be old or target (for
 * k = 0, old), and a next set must work. */
static void tear_counter_set(unsigned idx, uint32_t target)
{
    size_t ks[ST_SLOT];
    ctr_ctx t;
    tr_case tc = {0};
    tr_stats st;
    uint8_t *snap = malloc(sim.nvm_size);

    assert_non_null(snap);
    memcpy(snap, sim.nvm, sim.nvm_size);
    for (size_t k = 0; k < ST_SLOT; k++)
        ks[k] = k;
    t.idx = idx;
    t.old = get(idx);
    t.target = target;
    t.snap = snap;
    tc.name = "counter set";
    tc.card = &card;
    tc.ctx = &t;
    tc.start = ctr_start;
    tc.run = ctr_run;
    tc.restart = ctr_restart;
    tc.check = ctr_check;
    tc.kset = TR_K_LIST;
    tc.k_list = ks;
    tc.k_count = ST_SLOT;
    tc.last_n = 1;
    ct_tear_models(&tc);
    if (counter_pages) {
        /* the slot's page (and the 7 other slots in it) torn whole */
        tc.page = ct_tear_page();
        tc.values = TR_V_OLD | TR_V_00 | TR_V_FF | TR_V_RANDOM;
    }
    TEAR_RUN(&tc, &st);
    /* leave the counter at target, cleanly */
    memcpy(sim.nvm, snap, sim.nvm_size);
    reboot_counters();
    assert_int_equal(mc_store_counter_set(&card, idx, target), MC_OK);
    reboot_counters();
    assert_int_equal(get(idx), target);
    free(snap);
}

static void tear_counters(void)
{
    bool rec;
    assert_int_equal(mc_sim_init_mem(&sim, MC_SIM_DEFAULT_NVM_SIZE), 0);
    card.port = &sim;
    assert_int_equal(mc_store_format(&card), MC_OK);
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    /* first lap: slots over erased NVM, carries across bytes */
    tear_counter_set(1, 1);
    tear_counter_set(1, 2);
    tear_counter_set(1, 0xFF);
    tear_counter_set(1, 0x100);
    tear_counter_set(1, 0xFFFF);
    tear_counter_set(1, 0x10000);
    /* go round the ring so the next slots hold older values */
    for (uint32_t v = 0x10001; v < 0x10001 + ST_RING; v++)
        assert_int_equal(mc_store_counter_set(&card, 1, v), MC_OK);
    tear_counter_set(1, 0x10001 + ST_RING);
    tear_counter_set(1, 0x7FFFFF);
    tear_counter_set(1, 0x800000);
    tear_counter_set(1, 0xFFFFFE);
    tear_counter_set(1, 0xFFFFFF);
    /* a PIN try counter (ring of 24 slots in 3 pages), round its ring */
    tear_counter_set(MC_STORE_COUNTERS, 1);
    for (uint32_t v = 2; v < 2 + ST_PIN_RING; v++)
        tear_counter_set(MC_STORE_COUNTERS, v);
    /* other counters untouched */
    assert_int_equal(get(0), 0);
    assert_int_equal(get(2), 0);
    assert_int_equal(get(MC_STORE_COUNTERS + 1), 0);
    printf("  counters%s: %lu cut points\n", counter_pages ? ", pages torn whole" : "",
           counter_cuts);
    total_cuts += counter_cuts;
    counter_cuts = 0;
    mc_sim_close(&sim);
}

static void test_tear_counters(void **state)
{
    (void)state;
    counter_pages = false;
    tear_counters();
}

static void test_tear_counters_pages(void **state)
{
    (void)state;
    counter_pages = true;
    tear_counters();
    counter_pages = false;
}

static int print_total(void **state)
{
    (void)state;
    printf("store tearing: %lu cut points exercised in all\n", total_cuts);
    return 0;
}

#define ROW(i) {rows[i].sc.name, test_tear_row, NULL, NULL, (void *)&rows[i]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ROW(0), ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7),
        ROW(8), ROW(9), ROW(10), ROW(11),
        cmocka_unit_test(test_tear_during_recovery),
        cmocka_unit_test(test_tear_during_discard),
        cmocka_unit_test(test_tear_recovery_pages),
        cmocka_unit_test(test_tear_counters),
        cmocka_unit_test(test_tear_counters_pages),
    };
    _Static_assert(sizeof(rows) / sizeof(rows[0]) == 12, "one test per row");
    return cmocka_run_group_tests(tests, NULL, print_total);
}
