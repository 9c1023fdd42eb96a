/* test_store_tear.c: power cuts at every NVM write of store transactions
 * and counter sets.
 *
 * For each scenario, every NVM write N of the operation is cut after K bytes,
 * K in {0, len/2, len-1} (len: that write's length, measured by a probe run
 * that lets write N land whole), then the power comes back and the store
 * recovers.  The data space must then equal exactly the image before or the
 * image after the transaction (after iff the cut came after the commit
 * write), recovered must be true unless nothing at all reached NVM, and a
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

/* Writes of the transaction per docs/nvm.md: records (1 if header and data
 * fit 64 bytes with the OPEN byte on the first, else 2), commit 1, home
 * copies in 64-byte chunks, clear 1. */
static void expected_counts(const scenario *sc, uint64_t *commit_idx, uint64_t *total)
{
    uint64_t n = 0, home = 0;
    for (size_t i = 0; i < sc->n; i++) {
        n += (i == 0 ? 1u : 0u) + ST_REC_HDR + sc->w[i].len <= ST_CHUNK ? 1 : 2;
        home += (sc->w[i].len + ST_CHUNK - 1) / ST_CHUNK;
    }
    *commit_idx = n + 1;
    *total = n + 1 + home + 1;
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

/* every_byte: cut after every K in 0..len-1 instead of {0, len/2, len-1}. */
static void tear_scenario(const scenario *sc, bool every_byte)
{
    uint64_t commit_idx, total, prev_bytes = 0;
    unsigned long cuts = 0;
    uint8_t *buf = malloc(ST_TX_CAP);

    prepare();
    assert_non_null(buf);
    memcpy(after, before, dsize);
    for (size_t i = 0; i < sc->n; i++) {
        pattern(buf, sc->w[i].len, sc->w[i].seed);
        memcpy(after + sc->w[i].off, buf, sc->w[i].len);
    }
    free(buf);
    expected_counts(sc, &commit_idx, &total);

    /* uncut run: the write count is as documented, the result is "after" */
    restart_pristine();
    assert_int_equal(run_tx(sc), MC_OK);
    assert_int_equal(sim.writes, total);
    read_space(seen);
    assert_memory_equal(seen, after, dsize);

    for (uint64_t n = 1; n <= total; n++) {
        size_t ks[ST_TX_CAP + 32], nk = 0, len;
        /* probe: write n lands whole, then the power goes: its length */
        restart_pristine();
        mc_sim_arm_cut(&sim, n, SIZE_MAX);
        assert_int_equal(run_tx(sc), MC_ERR_NVM);
        assert_int_equal(sim.writes, n);
        len = (size_t)(sim.bytes_written - prev_bytes);
        prev_bytes = sim.bytes_written;
        assert_true(len > 0);
        if (n == commit_idx)
            assert_int_equal(len, ST_DESC_LEN + 1);
        if (n == total)
            assert_int_equal(len, 1);                   /* the clear */
        assert_true(len <= sizeof(ks) / sizeof(ks[0]));
        if (every_byte) {
            for (size_t k = 0; k < len; k++)
                ks[nk++] = k;
        } else {
            ks[nk++] = 0;
            if (len / 2 != 0)
                ks[nk++] = len / 2;
            if (len - 1 != 0 && len - 1 != len / 2)
                ks[nk++] = len - 1;
        }
        for (size_t j = 0; j < nk; j++) {
            bool rec = false;
            bool want_after = n > commit_idx;
            bool want_rec = !(n == 1 && ks[j] == 0);
            restart_pristine();
            mc_sim_arm_cut(&sim, n, ks[j]);
            assert_int_equal(run_tx(sc), MC_ERR_NVM);
            assert_true(sim.power_cut);
            /* power back, fresh RAM, recovery */
            mc_sim_power_restore(&sim);
            memset(&card.store, 0x5A, sizeof(card.store));
            assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
            if (rec != want_rec)
                fail_msg("%s: cut at write %llu after %zu bytes: recovered=%d, want %d", sc->name,
                         (unsigned long long)n, ks[j], rec, want_rec);
            read_space(seen);
            if (memcmp(seen, want_after ? after : before, dsize) != 0)
                fail_msg("%s: cut at write %llu after %zu bytes: data space is not the %s image",
                         sc->name, (unsigned long long)n, ks[j], want_after ? "after" : "before");
            assert_int_equal(sim.nvm[ST_STATE_OFF], ST_STATE_CLEAR);
            /* prepare() committed once: the sequence number follows the outcome,
             * except that a commit write torn only in its state byte has
             * already written its descriptor (numbers may skip, never go back) */
            assert_int_equal(card.store.tx_seq,
                             want_after || (n == commit_idx && ks[j] == len - 1) ? 2 : 1);
            check_follow_up();
            cuts++;
        }
    }
    printf("  %s%s: %llu writes per transaction (commit write %llu), %lu cut points\n", sc->name,
           every_byte ? ", every byte" : "", (unsigned long long)total,
           (unsigned long long)commit_idx, cuts);
    total_cuts += cuts;
    release();
}

static const wr w_small[] = {{100, 4, 0x01}};
static const wr w_multi[] = {{0, 40, 0x02}, {5000, 200, 0x03}, {55839, 1, 0x04}, {30000, 2048, 0x05}};
/* 2048 + 1010 + 2 headers fill the record area exactly */
static const wr w_full[] = {{1000, 2048, 0x06}, {20000, 1010, 0x07}};
static const wr w_overlap[] = {{100, 200, 0x08}, {200, 200, 0x09}, {250, 10, 0x0A},
                               {100, 1, 0x0B}, {90, 400, 0x0C}, {395, 5, 0x0D}};

static void test_tear_small(void **state)
{
    const scenario sc = {"small (1 x 4 bytes)", w_small, 1};
    (void)state;
    tear_scenario(&sc, false);
}

static void test_tear_multi(void **state)
{
    const scenario sc = {"multi-record (4 records, 2289 bytes)", w_multi, 4};
    (void)state;
    tear_scenario(&sc, false);
}

static void test_tear_full(void **state)
{
    const scenario sc = {"at capacity (2048 + 1010 bytes)", w_full, 2};
    (void)state;
    assert_int_equal(2048 + 1010 + 2 * ST_REC_HDR, ST_REC_AREA);
    tear_scenario(&sc, false);
}

static void test_tear_overlap(void **state)
{
    const scenario sc = {"overlapping (6 records)", w_overlap, 6};
    (void)state;
    tear_scenario(&sc, false);
}

/* The same four transactions, cut after every byte of every write. */
static void test_tear_every_byte(void **state)
{
    const scenario scs[] = {{"small", w_small, 1},
                            {"multi-record", w_multi, 4},
                            {"at capacity", w_full, 2},
                            {"overlapping", w_overlap, 6}};
    (void)state;
    for (size_t i = 0; i < sizeof(scs) / sizeof(scs[0]); i++)
        tear_scenario(&scs[i], true);
}

/* Cuts during recovery itself: a replay torn at any write is replayed again
 * at the next start-up, with the same result. */
static void test_tear_during_recovery(void **state)
{
    const scenario sc = {"multi", w_multi, 4};
    uint64_t commit_idx, total;
    unsigned long cuts = 0;
    uint8_t *buf = malloc(ST_TX_CAP);
    (void)state;
    prepare();
    assert_non_null(buf);
    memcpy(after, before, dsize);
    for (size_t i = 0; i < sc.n; i++) {
        pattern(buf, sc.w[i].len, sc.w[i].seed);
        memcpy(after + sc.w[i].off, buf, sc.w[i].len);
    }
    free(buf);
    expected_counts(&sc, &commit_idx, &total);
    for (uint64_t m = 1;; m++) {
        bool rec = false, done;
        /* the transaction dies right after its commit write */
        restart_pristine();
        mc_sim_arm_cut(&sim, commit_idx + 1, 0);
        assert_int_equal(run_tx(&sc), MC_ERR_NVM);
        mc_sim_power_restore(&sim);
        /* the first recovery dies at its m-th write, half-way through it */
        mc_sim_reset_counters(&sim);
        mc_sim_arm_cut(&sim, m, 3);
        memset(&card.store, 0x5A, sizeof(card.store));
        done = mc_store_recover(&card, &rec) == MC_OK;
        if (done) {
            assert_true(rec);
            assert_false(sim.power_cut);
            mc_sim_disarm(&sim);
        } else {
            assert_true(sim.power_cut);
            mc_sim_power_restore(&sim);
            memset(&card.store, 0x5A, sizeof(card.store));
            assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
            /* a cut "after 3 bytes" of the 1-byte clear lets it land: then
             * the journal is already clear */
            assert_true(rec == (m != total - commit_idx));
            cuts++;
        }
        read_space(seen);
        assert_memory_equal(seen, after, dsize);
        check_follow_up();
        if (done)
            break;
    }
    /* the replay writes the home copies and the clear: total - commit_idx */
    assert_int_equal(cuts, total - commit_idx);
    printf("  recovery torn at each of its %lu writes\n", cuts);
    total_cuts += cuts;
    release();
}

/* ---- counters ----------------------------------------------------------- */

static unsigned long counter_cuts;

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

/* From the current value old, a set to target is cut at every byte k of its
 * 8-byte slot write; after restart the value must be old or target (for
 * k = 0, old), and a next set must work. */
static void tear_counter_set(unsigned idx, uint32_t target)
{
    uint32_t old = get(idx);
    uint8_t *snap = malloc(sim.nvm_size);
    assert_non_null(snap);
    memcpy(snap, sim.nvm, sim.nvm_size);
    for (size_t k = 0; k < ST_SLOT; k++) {
        uint32_t v;
        memcpy(sim.nvm, snap, sim.nvm_size);
        reboot_counters();
        assert_int_equal(get(idx), old);
        mc_sim_arm_cut(&sim, 1, k);
        assert_int_equal(mc_store_counter_set(&card, idx, target), MC_ERR_NVM);
        reboot_counters();
        v = get(idx);
        if (v != old && v != target)
            fail_msg("counter %u: set %06x -> %06x torn after %zu bytes gave %06x", idx, old,
                     target, k, v);
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
            mc_sim_arm_cut(&sim, 1, k2);
            assert_int_equal(mc_store_counter_set(&card, idx, t2), MC_ERR_NVM);
            reboot_counters();
            v2 = get(idx);
            if (v2 != v && v2 != t2)
                fail_msg("counter %u: double tear (%zu, %zu) gave %06x", idx, k, k2, v2);
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
    }
    /* leave the counter at target, cleanly */
    memcpy(sim.nvm, snap, sim.nvm_size);
    reboot_counters();
    assert_int_equal(mc_store_counter_set(&card, idx, target), MC_OK);
    reboot_counters();
    assert_int_equal(get(idx), target);
    free(snap);
}

static void test_tear_counters(void **state)
{
    bool rec;
    (void)state;
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
    /* other counters untouched */
    assert_int_equal(get(0), 0);
    assert_int_equal(get(2), 0);
    printf("  counters: %lu cut points\n", counter_cuts);
    total_cuts += counter_cuts;
    mc_sim_close(&sim);
}

static int print_total(void **state)
{
    (void)state;
    printf("store tearing: %lu cut points exercised in all\n", total_cuts);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tear_small),
        cmocka_unit_test(test_tear_multi),
        cmocka_unit_test(test_tear_full),
        cmocka_unit_test(test_tear_overlap),
        cmocka_unit_test(test_tear_every_byte),
        cmocka_unit_test(test_tear_during_recovery),
        cmocka_unit_test(test_tear_counters),
    };
    return cmocka_run_group_tests(tests, NULL, print_total);
}
