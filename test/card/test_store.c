/* test_store.c: the card's transactional store (card/store*.c) on the
 * simulator: format and recovery, transactions (commit visible, abort
 * invisible, read-your-writes, capacity), direct writes, counters, NVM write
 * counts per operation, corruption detection, and the CRC helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "crc.h"
#include "mc_card.h"
#include "mc_sim.h"
#include "port_tear.h"
#include "store.h"
#include "store_int.h"

typedef struct fx {
    mc_sim sim;
    mc_card card;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    bool rec = true;
    if (f == NULL || mc_sim_init_mem(&f->sim, MC_SIM_DEFAULT_NVM_SIZE) != 0)
        return -1;
    f->card.port = &f->sim;
    if (mc_store_format(&f->card) != MC_OK || mc_store_recover(&f->card, &rec) != MC_OK || rec)
        return -1;
    mc_sim_reset_counters(&f->sim);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    mc_sim_close(&f->sim);
    free(f);
    return 0;
}

/* A power cycle as the runtime does it: fresh RAM state, then recovery. */
static mc_status reboot(fx *f, bool *rec)
{
    memset(&f->card.store, 0xA5, sizeof(f->card.store));
    return mc_store_recover(&f->card, rec);
}

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7u + (i >> 8));
}

static void test_crc_vectors(void **state)
{
    const char *s = "123456789";
    (void)state;
    assert_int_equal(mc_crc32(s, 9), 0xCBF43926u);
    assert_int_equal(mc_crc16(s, 9), 0x29B1u);
    assert_int_equal(mc_crc32_final(mc_crc32_update(mc_crc32_update(MC_CRC32_INIT, s, 4), s + 4, 5)),
                     0xCBF43926u);
    assert_int_equal(mc_crc16_update(mc_crc16(s, 3), s + 3, 6), 0x29B1u);
    assert_int_equal(mc_crc32("", 0), 0);
    assert_int_equal(mc_crc16("", 0), 0xFFFF);
}

static void test_format_layout(void **state)
{
    fx *f = *state;
    uint8_t buf[256];
    uint32_t v = 1;
    (void)state;
    assert_int_equal(mc_store_data_size(&f->card), MC_SIM_DEFAULT_NVM_SIZE - ST_DATA_OFF);
    /* 55840 before the PIN rings, 52768 before the page-aligned layout */
    assert_int_equal(mc_store_data_size(&f->card), 52608);
    assert_int_equal(ST_DATA_OFF % ST_PAGE, 0);
    assert_int_equal(mc_store_tx_capacity(&f->card), 3072);
    assert_false(f->card.store.corrupt);
    assert_false(f->card.store.in_tx);
    /* data space erased by format */
    for (uint32_t off = 0; off < mc_store_data_size(&f->card); off += sizeof(buf)) {
        size_t n = mc_store_data_size(&f->card) - off < sizeof(buf) ? mc_store_data_size(&f->card) - off
                                                                    : sizeof(buf);
        assert_int_equal(mc_store_read(&f->card, off, buf, n), MC_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(buf[i], 0xFF);
    }
    for (unsigned i = 0; i < MC_STORE_COUNTERS; i++) {
        assert_int_equal(mc_store_counter_get(&f->card, i, &v), MC_OK);
        assert_int_equal(v, 0);
    }
    assert_int_equal(mc_store_counter_get(&f->card, MC_STORE_ALL_COUNTERS, &v), MC_ERR_PARAM);
    /* the RAM state of the store stays small (it lives in every mc_card) */
    assert_true(sizeof(mc_store) <= 192);   /* 33 counters since the PIN rings */
}

static void test_unformatted_and_small(void **state)
{
    mc_sim sim;
    mc_card card;
    bool rec = true;
    uint8_t b[4];
    (void)state;
    assert_int_equal(mc_sim_init_mem(&sim, MC_SIM_DEFAULT_NVM_SIZE), 0);
    card.port = &sim;
    assert_int_equal(mc_store_recover(&card, &rec), MC_ERR_CORRUPT);
    assert_true(card.store.corrupt);
    assert_false(rec);
    assert_int_equal(mc_store_read(&card, 0, b, 4), MC_ERR_CORRUPT);
    assert_int_equal(mc_store_begin(&card), MC_ERR_CORRUPT);
    assert_int_equal(mc_store_write_direct(&card, 0, b, 4), MC_ERR_CORRUPT);
    assert_int_equal(mc_store_counter_set(&card, 0, 1), MC_ERR_CORRUPT);
    assert_int_equal(sim.writes, 0);                 /* nothing written on a corrupt store */
    mc_sim_close(&sim);

    /* too small for the layout plus 1 KiB of data */
    assert_int_equal(mc_sim_init_mem(&sim, ST_DATA_OFF + ST_DATA_MIN - 1), 0);
    card.port = &sim;
    assert_int_equal(mc_store_format(&card), MC_ERR_PARAM);
    assert_int_equal(mc_store_recover(&card, &rec), MC_ERR_CORRUPT);
    mc_sim_close(&sim);
    assert_int_equal(mc_sim_init_mem(&sim, ST_DATA_OFF + ST_DATA_MIN), 0);
    card.port = &sim;
    assert_int_equal(mc_store_format(&card), MC_OK);
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_int_equal(mc_store_data_size(&card), ST_DATA_MIN);
    mc_sim_close(&sim);
}

/* An image formatted for one NVM size is refused by a port of another. */
static void test_header_size_mismatch(void **state)
{
    fx *f = *state;
    mc_sim big;
    bool rec;
    assert_int_equal(mc_sim_init_mem(&big, MC_SIM_DEFAULT_NVM_SIZE * 2), 0);
    memcpy(big.nvm, f->sim.nvm, MC_SIM_DEFAULT_NVM_SIZE);
    f->card.port = &big;
    assert_int_equal(mc_store_recover(&f->card, &rec), MC_ERR_CORRUPT);
    f->card.port = &f->sim;
    mc_sim_close(&big);
    assert_int_equal(reboot(f, &rec), MC_OK);
}

/* The state of the active journal control slot (0 when none is valid). */
static uint8_t journal_state(fx *f)
{
    uint32_t seq;
    uint8_t st = 0;
    if (mc_st_journal_active(&f->card, &seq, &st) < 0)
        return 0;
    return st;
}

static void test_commit_visible(void **state)
{
    fx *f = *state;
    uint8_t a[40], b[300], out[300];
    bool rec = true;
    fill_pattern(a, sizeof(a), 1);
    fill_pattern(b, sizeof(b), 2);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_true(f->card.store.in_tx);
    assert_int_equal(mc_store_write(&f->card, 0, a, sizeof(a)), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 1000, b, sizeof(b)), MC_OK);
    assert_int_equal(f->card.store.journal_records, 2);
    /* each record holds the whole pages it touches: 0..64, 960..1344 */
    assert_int_equal(f->card.store.journal_used, 2 * ST_REC_HDR + 64 + 384);
    /* home untouched before commit */
    assert_int_equal(f->sim.nvm[ST_DATA_OFF], 0xFF);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_false(f->card.store.in_tx);
    assert_int_equal(f->card.store.tx_seq, 2);   /* COMMITTED 1, CLEAR 2 */
    assert_int_equal(mc_store_read(&f->card, 0, out, sizeof(a)), MC_OK);
    assert_memory_equal(out, a, sizeof(a));
    assert_int_equal(mc_store_read(&f->card, 1000, out, sizeof(b)), MC_OK);
    assert_memory_equal(out, b, sizeof(b));
    assert_int_equal(mc_store_read(&f->card, 40, out, 1), MC_OK);
    assert_int_equal(out[0], 0xFF);
    /* survives a power cycle, and a clean journal is not "recovered" */
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(rec);
    assert_int_equal(f->card.store.tx_seq, 2);   /* COMMITTED 1, CLEAR 2 */
    assert_int_equal(mc_store_read(&f->card, 1000, out, sizeof(b)), MC_OK);
    assert_memory_equal(out, b, sizeof(b));
}

/* mc_store_write_own (a write that owns its pages: a security-log slot):
 * its record holds its own bytes only, not the whole pages; the overlay, the
 * commit and a replay after a cut right after the commit point treat it
 * like any other record, and the rest of its page is not rewritten. */
static void test_write_own(void **state)
{
    fx *f = *state;
    uint8_t a[27], b[10], out[64], old[64];
    uint64_t w0, by0;
    bool rec = false;

    fill_pattern(a, sizeof(a), 5);
    fill_pattern(b, sizeof(b), 6);
    fill_pattern(old, sizeof(old), 7);
    assert_int_equal(mc_store_write_direct(&f->card, 640, old, sizeof(old)), MC_OK);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    w0 = f->sim.writes;
    by0 = f->sim.bytes_written;
    assert_int_equal(mc_store_write_own(&f->card, 640, a, sizeof(a)), MC_OK);
    /* its header (with the open mark) and its 27 bytes: 2 writes */
    assert_int_equal(f->sim.writes - w0, 2);
    assert_int_equal(f->sim.bytes_written - by0, sizeof(a) + 1 + ST_REC_HDR);
    assert_int_equal(f->card.store.journal_used, ST_REC_HDR + sizeof(a));
    /* a page record beside it, and an own write over part of it */
    assert_int_equal(mc_store_write(&f->card, 5000, b, sizeof(b)), MC_OK);
    assert_int_equal(mc_store_write_own(&f->card, 650, b, sizeof(b)), MC_OK);
    assert_int_equal(f->card.store.journal_used, 3 * ST_REC_HDR + sizeof(a) + 64 + sizeof(b));
    assert_int_equal(mc_store_read(&f->card, 640, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, 10);
    assert_memory_equal(out + 10, b, sizeof(b));
    assert_memory_equal(out + 20, a + 20, sizeof(a) - 20);
    assert_memory_equal(out + sizeof(a), old + sizeof(a), sizeof(old) - sizeof(a));
    /* cut right after the commit write: recovery replays all three */
    mc_sim_arm_cut(&f->sim, 2, 0);          /* commit write lands, 1st home write lost */
    assert_int_equal(mc_store_commit(&f->card), MC_ERR_NVM);
    mc_sim_power_restore(&f->sim);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_true(rec);
    assert_int_equal(mc_store_read(&f->card, 640, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, 10);
    assert_memory_equal(out + 10, b, sizeof(b));
    assert_memory_equal(out + 20, a + 20, sizeof(a) - 20);
    assert_memory_equal(out + sizeof(a), old + sizeof(a), sizeof(old) - sizeof(a));
    assert_int_equal(mc_store_read(&f->card, 5000, out, sizeof(b)), MC_OK);
    assert_memory_equal(out, b, sizeof(b));
}

static void test_abort_invisible(void **state)
{
    fx *f = *state;
    uint8_t a[100], old[100], out[100];
    bool rec = true;
    fill_pattern(old, sizeof(old), 3);
    fill_pattern(a, sizeof(a), 4);
    assert_int_equal(mc_store_write_direct(&f->card, 500, old, sizeof(old)), MC_OK);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 500, a, sizeof(a)), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 500, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, sizeof(a));                 /* read-your-writes */
    mc_store_abort(&f->card);
    assert_false(f->card.store.in_tx);
    assert_int_equal(mc_store_read(&f->card, 500, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, old, sizeof(old));
    assert_int_equal(journal_state(f), ST_STATE_CLEAR);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(rec);                                      /* an abort is no tear */
    assert_int_equal(mc_store_read(&f->card, 500, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, old, sizeof(old));
    /* the store works after an abort; abort without a transaction is harmless */
    mc_store_abort(&f->card);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 500, a, 10), MC_OK);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 500, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, 10);
    assert_memory_equal(out + 10, old + 10, 90);
}

static void test_read_your_writes_overlap(void **state)
{
    fx *f = *state;
    uint8_t exp[64], out[64], v[20];
    memset(exp, 0xFF, sizeof(exp));
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    memset(v, 0x11, sizeof(v));
    assert_int_equal(mc_store_write(&f->card, 110, v, 10), MC_OK);     /* [110,120) */
    memset(exp + 10, 0x11, 10);
    memset(v, 0x22, sizeof(v));
    assert_int_equal(mc_store_write(&f->card, 115, v, 10), MC_OK);     /* [115,125) */
    memset(exp + 15, 0x22, 10);
    memset(v, 0x33, sizeof(v));
    assert_int_equal(mc_store_write(&f->card, 100, v, 12), MC_OK);     /* [100,112) */
    memset(exp, 0x33, 12);
    memset(v, 0x44, sizeof(v));
    assert_int_equal(mc_store_write(&f->card, 124, v, 1), MC_OK);      /* [124,125) */
    exp[24] = 0x44;
    assert_int_equal(mc_store_read(&f->card, 100, out, 64), MC_OK);
    assert_memory_equal(out, exp, 64);
    /* partial windows */
    assert_int_equal(mc_store_read(&f->card, 117, out, 3), MC_OK);
    assert_memory_equal(out, exp + 17, 3);
    assert_int_equal(mc_store_read(&f->card, 90, out, 12), MC_OK);
    assert_int_equal(out[0], 0xFF);
    assert_memory_equal(out + 10, exp, 2);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 100, out, 64), MC_OK);
    assert_memory_equal(out, exp, 64);
}

static void test_capacity(void **state)
{
    fx *f = *state;
    uint8_t *big = malloc(ST_TX_CAP + 1), out[8];
    assert_non_null(big);
    fill_pattern(big, ST_TX_CAP + 1, 9);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 0, big, ST_TX_CAP + 1), MC_ERR_PARAM);
    assert_int_equal(f->card.store.journal_records, 0);
    assert_int_equal(mc_store_write(&f->card, 0, big, ST_TX_CAP), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 5000, big, 1), MC_ERR_PARAM);   /* full */
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(mc_store_read(&f->card, ST_TX_CAP - 8, out, 8), MC_OK);
    assert_memory_equal(out, big + ST_TX_CAP - 8, 8);
    /* a record holds whole pages: 3000 bytes at 10000 take 9984..13056,
     * the whole capacity */
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 10000, big, 3000), MC_OK);
    assert_int_equal(f->card.store.journal_used, ST_REC_HDR + 3072);
    assert_int_equal(mc_store_write(&f->card, 20000, big, 1), MC_ERR_PARAM);
    mc_store_abort(&f->card);
    /* two records: their pages and 2 headers must fit the record area:
     * 2944 + 14 leave 128 bytes, one page and its header */
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 10048, big, 2944), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 20001, big, 64), MC_ERR_PARAM);   /* 2 pages */
    assert_int_equal(mc_store_write(&f->card, 20032, big, 58), MC_OK);
    assert_int_equal(f->card.store.journal_used, 2 * ST_REC_HDR + 2944 + 64);
    assert_int_equal(mc_store_write(&f->card, 30000, big, 1), MC_ERR_PARAM);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 20032, out, 8), MC_OK);
    assert_memory_equal(out, big, 8);
    assert_int_equal(mc_store_read(&f->card, 30000, out, 1), MC_OK);
    assert_int_equal(out[0], 0xFF);                          /* the refused write left nothing */
    free(big);
}

static void test_params(void **state)
{
    fx *f = *state;
    uint8_t b[8] = {0};
    uint32_t end = mc_store_data_size(&f->card);
    assert_int_equal(mc_store_write(&f->card, 0, b, 1), MC_ERR_PARAM);  /* no transaction */
    assert_int_equal(mc_store_commit(&f->card), MC_ERR_PARAM);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_begin(&f->card), MC_ERR_PARAM);           /* no nesting */
    assert_int_equal(mc_store_write(&f->card, end - 1, b, 2), MC_ERR_PARAM);
    assert_int_equal(mc_store_write(&f->card, 0xFFFFFFFFu, b, 2), MC_ERR_PARAM);
    assert_int_equal(mc_store_write(&f->card, 0, NULL, 2), MC_ERR_PARAM);
    assert_int_equal(mc_store_write(&f->card, end - 1, b, 1), MC_OK);
    assert_int_equal(mc_store_write(&f->card, end, b, 0), MC_OK);
    assert_int_equal(f->card.store.journal_records, 1);
    assert_int_equal(mc_store_read(&f->card, end - 2, b, 3), MC_ERR_PARAM);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(mc_store_write_direct(&f->card, end - 3, b, 4), MC_ERR_PARAM);
    assert_int_equal(mc_store_fill_direct(&f->card, end - 3, 0, 4), MC_ERR_PARAM);
    assert_int_equal(mc_store_read(&f->card, end - 1, b, 1), MC_OK);
    assert_int_equal(b[0], 0);
}

/* How often NVM holds this byte string, and where the first one is. */
static unsigned nvm_count(const fx *f, const uint8_t *pat, size_t n, size_t *first)
{
    unsigned k = 0;
    for (size_t i = 0; i + n <= f->sim.nvm_size; i++)
        if (memcmp(f->sim.nvm + i, pat, n) == 0 && k++ == 0 && first != NULL)
            *first = i;
    return k;
}

/* The bytes of records the active CLEAR slot keeps (the last committed
 * transaction's); the record area behind them must be FF. */
static uint32_t kept_records(const fx *f)
{
    uint32_t seq, keep;
    uint8_t state;
    int slot = mc_st_journal_active((mc_card *)&f->card, &seq, &state);

    assert_true(slot >= 0);
    assert_int_equal(state, ST_STATE_CLEAR);
    keep = st_get16(f->sim.nvm + (slot ? ST_CTL_B_OFF : ST_CTL_A_OFF) + 10);
    for (uint32_t a = ST_REC_OFF + keep; a < ST_JNL_END; a++)
        if (f->sim.nvm[a] != 0xFF)
            fail_msg("journal residue at NVM offset %u, behind the %u bytes kept", (unsigned)a,
                     (unsigned)keep);
    return keep;
}

/* Journal residue (docs/nvm.md): what a transaction journaled (a slot
 * record's keys and PIN) is left in the record area only as the records of
 * the last committed transaction, a copy of what is at home; an aborted
 * transaction, one discarded by recovery after a cut before the commit
 * point, and a committed one once the next transaction committed, leave
 * nothing there.  Replayed by recovery after a cut after the commit point,
 * it is kept like a commit. */
static void test_journal_residue(void **state)
{
    fx *f = *state;
    uint8_t secret[100], other[4] = {9, 8, 7, 6};
    size_t at = 0;
    uint32_t keep;
    bool rec = false;
    const uint32_t home = 3000;
    const size_t data0 = f->sim.nvm_size - mc_store_data_size(&f->card);

    for (unsigned way = 0; way < 4; way++) {
        fill_pattern(secret, sizeof(secret), (uint8_t)(0x50 + way));
        assert_int_equal(nvm_count(f, secret, sizeof(secret), NULL), 0);
        assert_int_equal(mc_store_begin(&f->card), MC_OK);
        assert_int_equal(mc_store_write(&f->card, home, secret, sizeof(secret)), MC_OK);
        assert_int_equal(nvm_count(f, secret, sizeof(secret), &at), 1);   /* journaled */
        assert_true(at >= ST_REC_OFF && at < ST_JNL_END);
        if (way == 0) {
            assert_int_equal(mc_store_commit(&f->card), MC_OK);
        } else if (way == 1) {
            mc_store_abort(&f->card);
        } else if (way == 2) {
            /* the power goes before the commit: recovery discards */
            assert_int_equal(reboot(f, &rec), MC_OK);
            assert_true(rec);
        } else {
            /* the power goes right after the commit point: recovery replays */
            mc_port_tear_arm(&f->card, 2, 0, MC_TEAR_OLD, 0);
            assert_int_equal(mc_store_commit(&f->card), MC_ERR_NVM);
            mc_port_tear_restart(&f->card);
            assert_int_equal(reboot(f, &rec), MC_OK);
            assert_true(rec);
        }
        keep = kept_records(f);
        if (way == 0 || way == 3) {
            /* at home, and in the kept records */
            assert_int_equal(nvm_count(f, secret, sizeof(secret), &at), 2);
            assert_true(at >= ST_REC_OFF && at + sizeof(secret) <= ST_REC_OFF + keep);
            assert_memory_equal(f->sim.nvm + data0 + home, secret, sizeof(secret));
            /* the next transaction (shorter) replaces them */
            assert_int_equal(mc_store_begin(&f->card), MC_OK);
            assert_int_equal(mc_store_write(&f->card, 40000, other, sizeof(other)), MC_OK);
            assert_int_equal(mc_store_commit(&f->card), MC_OK);
            assert_int_equal(kept_records(f), ST_REC_HDR + ST_PAGE);
            assert_int_equal(nvm_count(f, secret, sizeof(secret), &at), 1);
            assert_int_equal(at, data0 + home);
        } else {
            assert_int_equal(keep, 0);
            assert_int_equal(nvm_count(f, secret, sizeof(secret), NULL), 0);
        }
        /* overwritten at home for the next way */
        memset(secret, 0xEE, sizeof(secret));
        assert_int_equal(mc_store_write_direct(&f->card, home, secret, sizeof(secret)), MC_OK);
    }
}

/* NVM writes per operation (docs/nvm.md, "Write counts"). */
static void test_write_counts(void **state)
{
    fx *f = *state;
    uint8_t *big = calloc(1, 2048), small[4] = {1, 2, 3, 4};
    bool rec;
    assert_non_null(big);
    /* empty transaction: nothing */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 0);
    /* small record: its header 1 (with the open mark: 15 bytes) and page 1,
     * commit 1, home 1 (the page), clear 1 (keeping the 78 bytes of the
     * record); the record area behind them is FF already (a fresh format):
     * no wipe */
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 4, small, 4), MC_OK);
    assert_int_equal(f->sim.writes, 2);
    assert_int_equal(f->sim.bytes_written, 1 + ST_PAGE + ST_REC_HDR);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 5);
    assert_int_equal(f->sim.bytes_written, 2 * ST_PAGE + 1 + ST_REC_HDR + 2 * ST_DESC_LEN);
    /* 2048 bytes of EF data at 8192: header 1 + pages 32, commit 1, home 32,
     * clear 1; at 8193 one page more each; each keeps more records than the
     * one before: no wipe */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 8192, big, 2048), MC_OK);
    assert_int_equal(f->sim.writes, 33);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 67);
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 8193, big, 2048), MC_OK);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 69);
    /* a shorter one after it: the 2126 bytes kept by the last one are wiped
     * behind its 78: 49 bytes to the page boundary, 31 pages, and 15 bytes
     * that are FF already (the erased tail of the last page): 32 writes */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 4, small, 4), MC_OK);
    assert_int_equal(mc_store_commit(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 5 + 32);
    /* a clean start-up writes nothing */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(f->sim.writes, 0);
    /* counter set: one 8-byte write; the same value again: none */
    assert_int_equal(mc_store_counter_set(&f->card, 3, 7), MC_OK);
    assert_int_equal(f->sim.writes, 1);
    assert_int_equal(f->sim.bytes_written, 8);
    assert_int_equal(mc_store_counter_set(&f->card, 3, 7), MC_OK);
    assert_int_equal(f->sim.writes, 1);
    /* abort after one record: one write to close the journal, then the
     * whole record area wiped: its 78 bytes (over the 78 kept before), the
     * first piece of 63 (the other 15 bytes, the page's erased tail, are FF) */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 4, small, 4), MC_OK);
    mc_store_abort(&f->card);
    assert_int_equal(f->sim.writes, 2 + 1 + 1);   /* header, page; CLEAR; the wipe */
    /* format of 64 KiB: all of it erased in 1024 chunks (the header's
     * first), journal 2 (open mark, slot A), header 1 */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_format(&f->card), MC_OK);
    assert_int_equal(f->sim.writes, 1024 + 2 + 1);
    assert_int_equal(f->sim.flushes, 2);
    /* fill: 64-byte chunks */
    mc_sim_reset_counters(&f->sim);
    assert_int_equal(mc_store_fill_direct(&f->card, 0, 0, 130), MC_OK);
    assert_int_equal(f->sim.writes, 3);
    free(big);
}

static void test_direct(void **state)
{
    fx *f = *state;
    uint8_t a[200], out[200];
    fill_pattern(a, sizeof(a), 5);
    assert_int_equal(mc_store_write_direct(&f->card, 30000, a, sizeof(a)), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 30000, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, sizeof(a));
    assert_int_equal(mc_store_fill_direct(&f->card, 30010, 0x00, 100), MC_OK);
    assert_int_equal(mc_store_read(&f->card, 30000, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, 10);
    for (int i = 10; i < 110; i++)
        assert_int_equal(out[i], 0);
    assert_memory_equal(out + 110, a + 110, 90);
    assert_int_equal(mc_store_fill_direct(&f->card, 0, 0, 0), MC_OK);
}

static void test_counters(void **state)
{
    fx *f = *state;
    uint32_t v;
    bool rec;
    assert_int_equal(mc_store_counter_set(&f->card, 0, 1), MC_OK);
    assert_int_equal(mc_store_counter_set(&f->card, 16, 0x123456), MC_OK);
    assert_int_equal(mc_store_counter_set(&f->card, 16, 0x123455), MC_ERR_PARAM);   /* lower */
    assert_int_equal(mc_store_counter_set(&f->card, 16, 0x1000000), MC_ERR_PARAM);  /* > 24 bits */
    assert_int_equal(mc_store_counter_set(&f->card, MC_STORE_ALL_COUNTERS, 1), MC_ERR_PARAM);
    assert_int_equal(mc_store_counter_get(&f->card, 16, &v), MC_OK);
    assert_int_equal(v, 0x123456);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 0, &v), MC_OK);
    assert_int_equal(v, 1);
    assert_int_equal(mc_store_counter_get(&f->card, 16, &v), MC_OK);
    assert_int_equal(v, 0x123456);
    assert_int_equal(mc_store_counter_get(&f->card, 5, &v), MC_OK);
    assert_int_equal(v, 0);
    /* several laps of the ring, with a reboot in each position */
    for (uint32_t i = 2; i < 2 + 3 * ST_RING + 5; i++) {
        assert_int_equal(mc_store_counter_set(&f->card, 0, i), MC_OK);
        if (i % 7 == 0) {
            assert_int_equal(reboot(f, &rec), MC_OK);
            assert_int_equal(mc_store_counter_get(&f->card, 0, &v), MC_OK);
            assert_int_equal(v, i);
        }
    }
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 0, &v), MC_OK);
    assert_int_equal(v, 1 + 3 * ST_RING + 5);
    /* every slot of ring 0 holds a value now, and ring 1 was never touched */
    for (unsigned p = 0; p < ST_RING; p++)
        assert_int_not_equal(f->sim.nvm[ST_CTR_OFF + p * ST_SLOT + 7] &
                             f->sim.nvm[ST_CTR_OFF + p * ST_SLOT + 6] &
                             f->sim.nvm[ST_CTR_OFF + p * ST_SLOT], 0x1FF);
    for (unsigned i = 0; i < ST_RING * ST_SLOT; i++)
        assert_int_equal(f->sim.nvm[ST_CTR_OFF + ST_RING * ST_SLOT + i], 0xFF);
    /* the top value is accepted, nothing beyond */
    assert_int_equal(mc_store_counter_set(&f->card, 0, 0xFFFFFF), MC_OK);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 0, &v), MC_OK);
    assert_int_equal(v, 0xFFFFFF);
    assert_int_equal(mc_store_counter_set(&f->card, 0, 0xFFFFFF), MC_OK);
}

/* Writes 2 records and stops the power before the first home write, leaving
 * a COMMITTED journal whose home copy has not begun. */
static void leave_committed_journal(fx *f, const uint8_t *a, const uint8_t *b)
{
    assert_int_equal(mc_store_begin(&f->card), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 100, a, 30), MC_OK);
    assert_int_equal(mc_store_write(&f->card, 200, b, 30), MC_OK);
    mc_sim_arm_cut(&f->sim, 2, 0);          /* commit write lands, 1st home write lost */
    assert_int_equal(mc_store_commit(&f->card), MC_ERR_NVM);
    mc_sim_power_restore(&f->sim);
    assert_int_equal(journal_state(f), ST_STATE_COMMITTED);
}

static void expect_corrupt(fx *f)
{
    bool rec = true;
    uint8_t b[4];
    uint32_t v;
    assert_int_equal(reboot(f, &rec), MC_ERR_CORRUPT);
    assert_true(f->card.store.corrupt);
    assert_false(rec);
    assert_int_equal(mc_store_read(&f->card, 0, b, 4), MC_ERR_CORRUPT);
    assert_int_equal(mc_store_begin(&f->card), MC_ERR_CORRUPT);
    assert_int_equal(mc_store_counter_get(&f->card, 0, &v), MC_ERR_CORRUPT);
}

static void test_corrupt_header(void **state)
{
    fx *f = *state;
    bool rec;
    for (unsigned i = 0; i < ST_HDR_LEN; i++) {
        f->sim.nvm[ST_HDR_OFF + i] ^= 0x04;
        expect_corrupt(f);
        f->sim.nvm[ST_HDR_OFF + i] ^= 0x04;
    }
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(f->card.store.corrupt);
}

/* Format version 4 (docs/nvm.md): an image of version 3 (record slots packed,
 * not page-aligned) or 2 (the record slots of session 3 and the security log
 * of 32 entries in place), with a header that is otherwise valid and
 * correctly sealed, is refused like any other layout. */
static void test_header_old_version(void **state)
{
    fx *f = *state;
    uint8_t *h = f->sim.nvm + ST_HDR_OFF;
    bool rec;
    assert_int_equal(h[4], 4);
    assert_int_equal(h[5], 0);
    assert_int_equal(st_get32(h + 32), mc_crc32(h, 32));
    for (uint8_t v = 1; v <= 3; v++) {
        h[4] = v;
        st_put32(h + 32, mc_crc32(h, 32));
        expect_corrupt(f);
        assert_int_equal(f->sim.writes, 0);
    }
    h[4] = 4;
    st_put32(h + 32, mc_crc32(h, 32));
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(f->card.store.corrupt);
}

static void test_corrupt_clear_descriptor(void **state)
{
    fx *f = *state;
    bool rec;
    for (unsigned i = 0; i < ST_DESC_LEN; i++) {
        f->sim.nvm[ST_JNL_OFF + i] ^= 0x80;
        expect_corrupt(f);
        f->sim.nvm[ST_JNL_OFF + i] ^= 0x80;
    }
    /* the open mark (where version 1 had its state byte) may hold any value:
     * never damage, an open transaction only when it is the next one's */
    for (unsigned v = 0; v < 256; v++) {
        uint32_t seq = f->card.store.tx_seq;
        f->sim.nvm[ST_MARK_OFF] = (uint8_t)v;
        assert_int_equal(reboot(f, &rec), MC_OK);
        assert_int_equal(rec, v == ST_MARK(seq + 1));
        assert_int_equal(journal_state(f), ST_STATE_CLEAR);
    }
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(rec);
}

/* A committed journal that fails any check is never applied. */
static void test_corrupt_committed_journal(void **state)
{
    fx *f = *state;
    uint8_t a[30], b[30], out[30], ff[30];
    bool rec = false;
    fill_pattern(a, sizeof(a), 0x10);
    fill_pattern(b, sizeof(b), 0x20);
    memset(ff, 0xFF, sizeof(ff));
    leave_committed_journal(f, a, b);
    /* every byte of both records, one at a time */
    for (uint32_t i = 0; i < 2 * (ST_REC_HDR + 30); i++) {
        uint32_t addr = ST_REC_OFF + i;
        f->sim.nvm[addr] ^= 0x01;
        expect_corrupt(f);
        f->sim.nvm[addr] ^= 0x01;
        assert_memory_equal(f->sim.nvm + ST_DATA_OFF + 100, ff, 30);   /* not applied */
        assert_memory_equal(f->sim.nvm + ST_DATA_OFF + 200, ff, 30);
    }
    /* a damaged COMMITTED control slot cannot be told from a torn commit
     * write (docs/nvm.md): the CLEAR slot before it is active again and the
     * transaction is discarded, never applied */
    {
        uint8_t *snap = malloc(f->sim.nvm_size);
        uint32_t seq;
        uint8_t st;
        int slot;
        assert_non_null(snap);
        memcpy(snap, f->sim.nvm, f->sim.nvm_size);
        slot = mc_st_journal_active(&f->card, &seq, &st);
        assert_true(slot >= 0);
        for (uint32_t i = 0; i < ST_DESC_LEN; i++) {
            f->sim.nvm[(slot ? ST_CTL_B_OFF : ST_CTL_A_OFF) + i] ^= 0x01;
            assert_int_equal(reboot(f, &rec), MC_OK);
            assert_true(rec);
            assert_int_equal(journal_state(f), ST_STATE_CLEAR);
            assert_memory_equal(f->sim.nvm + ST_DATA_OFF + 100, ff, 30);   /* not applied */
            assert_memory_equal(f->sim.nvm + ST_DATA_OFF + 200, ff, 30);
            memcpy(f->sim.nvm, snap, f->sim.nvm_size);
        }
        free(snap);
    }
    /* undamaged, it replays */
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_true(rec);
    assert_int_equal(mc_store_read(&f->card, 100, out, 30), MC_OK);
    assert_memory_equal(out, a, 30);
    assert_int_equal(mc_store_read(&f->card, 200, out, 30), MC_OK);
    assert_memory_equal(out, b, 30);
    assert_int_equal(journal_state(f), ST_STATE_CLEAR);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_false(rec);
}

/* NVM address of ring position pos of sequence counter idx: the positions
 * of a ring go round its 6 pages (docs/nvm.md). */
static uint32_t ctr_slot(unsigned idx, unsigned pos)
{
    return ST_CTR_OFF + idx * ST_RING * ST_SLOT + (pos % 6) * ST_PAGE + (pos / 6) * ST_SLOT;
}

/* Format version 3: a slot that fails its checks holds no value, wherever
 * it is (a torn page of a page-erasing part spoils several slots of a ring,
 * so damage and tearing look alike); a damaged newest slot makes the
 * counter read the value before it, never anything that was not written. */
static void test_corrupt_counter_ring(void **state)
{
    fx *f = *state;
    bool rec;
    uint32_t v;
    for (uint32_t i = 1; i <= 5; i++)
        assert_int_equal(mc_store_counter_set(&f->card, 2, i), MC_OK);
    /* consecutive positions in different pages, slot 0 at the ring's start */
    assert_int_equal(f->sim.nvm[ctr_slot(2, 0)], 1);
    assert_int_equal(f->sim.nvm[ctr_slot(2, 1)], 2);
    assert_int_equal(ctr_slot(2, 1) - ctr_slot(2, 0), ST_PAGE);
    /* slot 1 damaged: ignored */
    f->sim.nvm[ctr_slot(2, 1) + 2] ^= 0x10;
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 2, &v), MC_OK);
    assert_int_equal(v, 5);
    /* garbage in slot 5, right after the newest (a torn set): ignored */
    f->sim.nvm[ctr_slot(2, 5)] = 0x00;
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 2, &v), MC_OK);
    assert_int_equal(v, 5);
    assert_int_equal(mc_store_counter_set(&f->card, 2, 6), MC_OK);
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 2, &v), MC_OK);
    assert_int_equal(v, 6);
    /* the newest slot (5) damaged: the value before it, 5 in slot 4 */
    f->sim.nvm[ctr_slot(2, 5) + 7] ^= 0x01;
    assert_int_equal(reboot(f, &rec), MC_OK);
    assert_int_equal(mc_store_counter_get(&f->card, 2, &v), MC_OK);
    assert_int_equal(v, 5);
    assert_false(f->card.store.corrupt);
}

/* The store on a file image: what commit and counter set made durable is
 * there after the image is closed and opened again. */
static void test_file_image(void **state)
{
    char dir[] = "/tmp/mnap-test-store-XXXXXX", path[64], err[128];
    mc_sim sim;
    mc_card card;
    uint8_t a[100], out[100];
    uint32_t v;
    bool rec = true;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/card.nvm", dir);
    fill_pattern(a, sizeof(a), 0x31);
    memset(out, 0x99, sizeof(out));
    assert_int_equal(mc_sim_create_file(&sim, path, MC_SIM_DEFAULT_NVM_SIZE, false), 0);
    card.port = &sim;
    assert_int_equal(mc_store_format(&card), MC_OK);
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_int_equal(mc_store_begin(&card), MC_OK);
    assert_int_equal(mc_store_write(&card, 7, a, sizeof(a)), MC_OK);
    assert_int_equal(mc_store_commit(&card), MC_OK);
    assert_int_equal(mc_store_counter_set(&card, 9, 0x42), MC_OK);
    /* an open transaction dies with the process */
    assert_int_equal(mc_store_begin(&card), MC_OK);
    assert_int_equal(mc_store_write(&card, 7, out, 10), MC_OK);
    mc_sim_close(&sim);

    assert_int_equal(mc_sim_open_file(&sim, path, err, sizeof(err)), 0);
    card.port = &sim;
    assert_int_equal(mc_store_recover(&card, &rec), MC_OK);
    assert_true(rec);                     /* the open transaction was discarded */
    assert_int_equal(mc_store_read(&card, 7, out, sizeof(out)), MC_OK);
    assert_memory_equal(out, a, sizeof(a));
    assert_int_equal(mc_store_counter_get(&card, 9, &v), MC_OK);
    assert_int_equal(v, 0x42);
    mc_sim_close(&sim);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        T(test_format_layout),
        cmocka_unit_test(test_unformatted_and_small),
        T(test_header_size_mismatch),
        T(test_commit_visible),
        T(test_abort_invisible),
        T(test_write_own),
        T(test_read_your_writes_overlap),
        T(test_capacity),
        T(test_params),
        T(test_write_counts),
        T(test_journal_residue),
        T(test_direct),
        T(test_counters),
        T(test_corrupt_header),
        T(test_header_old_version),
        T(test_corrupt_clear_descriptor),
        T(test_corrupt_committed_journal),
        T(test_corrupt_counter_ring),
        cmocka_unit_test(test_file_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
