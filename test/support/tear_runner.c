/* tear_runner.c: the one tear runner (tear_runner.h).  Uses card/port.h and
 * card/port_tear.h only. */
#include "tear_runner.h"

#include <string.h>

/* Optional in a port (card/port_tear.h): page cases need it. */
#pragma weak mc_port_tear_page

/* The interrupted-byte models of one cut: (how, value) pairs. */
#define TR_MAX_VALUES 48

typedef struct tr_run_state {
    const tr_case *tc;
    tr_stats *st;
    uint32_t rng;
} tr_run_state;

static uint32_t next_rand(tr_run_state *rs)
{
    /* xorshift32: the same sequence for the same seed on every platform */
    uint32_t x = rs->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rs->rng = x;
    return x;
}

static int stop(tr_run_state *rs, const tr_cut *at, const char *why)
{
    rs->st->at = *at;
    rs->st->why = why;
    return -1;
}

/* Is write n (1-based, of w) one the case samples? */
static bool sampled(const tr_case *tc, uint64_t n, uint64_t w)
{
    if (tc->first_n != 0 && n < tc->first_n)
        return false;
    if (tc->last_n != 0 && n > tc->last_n)
        return false;
    if (tc->stride <= 1)
        return true;
    return (n - 1) % tc->stride == 0 || n <= tc->keep_ends || n + tc->keep_ends > w;
}

/* The models of the interrupted byte at addr: how[i], val[i].  The old
 * model first. */
static unsigned models(tr_run_state *rs, bool have_addr, uint32_t addr, int *how, uint8_t *val)
{
    const tr_case *tc = rs->tc;
    unsigned v = tc->values != 0 ? tc->values : TR_V_OLD, n = 0;

    if (tc->page != 0)   /* the whole page: old, 00, FF, random fills */
        v &= TR_V_OLD | TR_V_00 | TR_V_FF | TR_V_RANDOM;
    if (v & TR_V_OLD) {
        how[n] = MC_TEAR_OLD;
        val[n++] = 0;
    }
    if (v & TR_V_NEW) {
        how[n] = MC_TEAR_NEW;
        val[n++] = 0;
    }
    if (v & TR_V_00) {
        how[n] = MC_TEAR_VALUE;
        val[n++] = 0x00;
    }
    if (v & TR_V_FF) {
        how[n] = MC_TEAR_VALUE;
        val[n++] = 0xFF;
    }
    if ((v & TR_V_CODES) && have_addr && tc->codes != NULL) {
        uint8_t c[16];
        unsigned nc = tc->codes(tc->card, addr, c, sizeof(c));
        for (unsigned i = 0; i < nc && i < sizeof(c) && n < TR_MAX_VALUES; i++) {
            how[n] = MC_TEAR_VALUE;
            val[n++] = c[i];
        }
    }
    if (v & TR_V_RANDOM) {
        for (unsigned i = 0; i < tc->randoms && n < TR_MAX_VALUES; i++) {
            how[n] = tc->page != 0 ? MC_TEAR_RANDOM : MC_TEAR_VALUE;
            val[n++] = (uint8_t)(next_rand(rs) >> 24);
        }
    }
    return n;
}

/* Sampling: does this non-old cut run? */
static bool take(tr_run_state *rs, int how)
{
    if (how == MC_TEAR_OLD || rs->tc->sample <= 1)
        return true;
    if (next_rand(rs) % rs->tc->sample == 0)
        return true;
    rs->st->skipped++;
    return false;
}

/* Starts, cuts at (n, k) with the interrupted byte per cut->how, runs: the
 * cut must come. */
static int cut_run(tr_run_state *rs, tr_cut *cut)
{
    const tr_case *tc = rs->tc;

    tc->start(tc->ctx);
    mc_port_tear_arm(tc->card, cut->n, cut->k, cut->how, cut->value);
    cut->rc = tc->run(tc->ctx);
    cut->len = mc_port_tear_cut(tc->card, &cut->addr);
    if (cut->len == 0)
        return stop(rs, cut, "the write to cut never came");
    mc_port_tear_restart(tc->card);
    return 0;
}

static int judge(tr_run_state *rs, const tr_cut *cut)
{
    tr_stats *st = rs->st;

    switch (rs->tc->check(rs->tc->ctx, cut)) {
    case TR_BEFORE:
        st->before++;
        break;
    case TR_AFTER:
        st->after++;
        break;
    case TR_PARTIAL:
        st->partial++;
        break;
    case TR_SEEN:
        st->seen++;
        break;
    default:
        return stop(rs, cut, "the state is neither before nor after");
    }
    st->cuts++;
    if (cut->how != MC_TEAR_OLD && (cut->k < cut->len || cut->m != 0))
        st->valued++;
    return 0;
}

/* The restart cut at each sampled m after each k2 (each model of the
 * interrupted byte), for the first cut c0. */
static int tear_restart(tr_run_state *rs, const tr_cut *c0)
{
    const tr_case *tc = rs->tc;
    tr_stats *st = rs->st;
    tr_cut cut = *c0;
    uint64_t w0, r, m, step;
    int how[TR_MAX_VALUES];
    uint8_t val[TR_MAX_VALUES];
    unsigned j, i, nv;

    if (cut_run(rs, &cut) != 0)
        return -1;
    w0 = mc_port_tear_count(tc->card);
    if (tc->restart(tc->ctx) != 0)
        return stop(rs, &cut, "the restart failed");
    r = mc_port_tear_count(tc->card) - w0;
    if (r > 0)
        st->with_restart_writes++;
    if (r > st->restart_writes_max)
        st->restart_writes_max = r;
    step = tc->restart_samples == 0 || r <= tc->restart_samples
               ? 1
               : (r + tc->restart_samples - 2) / (tc->restart_samples - 1);
    for (m = 1; m <= r; m = (m == r || m + step <= r) ? m + step : r) {
        for (j = 0; j < tc->restart_k_count; j++) {
            nv = models(rs, false, 0, how, val);
            for (i = 0; i < nv; i++) {
                if (!take(rs, how[i]))
                    continue;
                cut = *c0;
                if (cut_run(rs, &cut) != 0)
                    return -1;
                cut.m = m;
                cut.k2 = tc->restart_k[j];
                cut.how = how[i];
                cut.value = val[i];
                mc_port_tear_arm(tc->card, m, cut.k2, how[i], val[i]);
                cut.restart_rc = tc->restart(tc->ctx);   /* torn: may fail */
                mc_port_tear_restart(tc->card);
                if (tc->restart(tc->ctx) != 0)
                    return stop(rs, &cut, "the restart after a torn restart failed");
                if (judge(rs, &cut) != 0)
                    return -1;
                st->restart_cuts++;
            }
        }
    }
    return 0;
}

/* One cut point (n, k, interrupted byte): cut, restart, check; then, if
 * asked, its restart torn too.  measure: report the write's length. */
static int one(tr_run_state *rs, uint64_t n, size_t k, int how, uint8_t value, size_t *len,
               uint32_t *addr)
{
    const tr_case *tc = rs->tc;
    tr_cut cut;

    memset(&cut, 0, sizeof(cut));
    cut.n = n;
    cut.k = k;
    cut.how = how;
    cut.value = value;
    if (cut_run(rs, &cut) != 0)
        return -1;
    if (len != NULL) {
        *len = cut.len;
        *addr = cut.addr;
        if (tc->measured != NULL)
            tc->measured(tc->ctx, &cut);
    }
    cut.restart_rc = tc->restart(tc->ctx);
    if (cut.restart_rc != 0)
        return stop(rs, &cut, "the restart failed");
    if (judge(rs, &cut) != 0)
        return -1;
    /* the restart is torn after the old-byte cuts only (its own cuts try
     * every model) */
    if (tc->restart_k_count != 0 && how == MC_TEAR_OLD)
        return tear_restart(rs, &cut);
    return 0;
}

/* Every model of the interrupted byte for the cut (n, k) of write n (len
 * bytes at addr, when known). */
static int one_k(tr_run_state *rs, uint64_t n, size_t k, size_t len, bool have_addr,
                 uint32_t addr)
{
    int how[TR_MAX_VALUES];
    uint8_t val[TR_MAX_VALUES];
    unsigned nv, i;

    if (len != 0 && k >= len)   /* nothing is interrupted: the write lands */
        return one(rs, n, k, MC_TEAR_OLD, 0, NULL, NULL);
    nv = models(rs, have_addr, addr + (uint32_t)k, how, val);
    for (i = 0; i < nv; i++)
        if (take(rs, how[i]) && one(rs, n, k, how[i], val[i], NULL, NULL) != 0)
            return -1;
    return 0;
}

/* Page tearing: write n (len bytes at addr) cut at the first byte of each
 * page it touches that the K set selects. */
static int page_cuts(tr_run_state *rs, uint64_t n, size_t len, uint32_t addr)
{
    const tr_case *tc = rs->tc;
    uint64_t p = tc->page;
    size_t k, next;
    unsigned i;

    for (k = 0; k < len; k = next) {
        bool want = (tc->kset & TR_K_EVERY) || ((tc->kset & TR_K_ZERO) && k == 0);
        next = (size_t)(((uint64_t)addr + k) / p * p + p - addr);
        if (next > len)
            next = len;
        want = want || ((tc->kset & TR_K_HALF) && len / 2 >= k && len / 2 < next);
        want = want || ((tc->kset & TR_K_LAST) && len - 1 >= k && len - 1 < next);
        for (i = 0; (tc->kset & TR_K_LIST) && i < tc->k_count; i++)
            want = want || (tc->k_list[i] >= k && tc->k_list[i] < next);
        if (want && one_k(rs, n, k, len, true, addr) != 0)
            return -1;
    }
    return 0;
}

static int run_cuts(tr_run_state *rsp, const tr_case *tc, tr_stats *st)
{
    tr_run_state rs = *rsp;
    tr_cut none;
    uint64_t w0, w, n;
    size_t ks[4];
    unsigned nk, i;
    int rc;

    memset(&none, 0, sizeof(none));
    /* 1. the dry run */
    tc->start(tc->ctx);
    if (tc->dry != NULL)
        tc->dry(tc->ctx, 0, 0);
    w0 = mc_port_tear_count(tc->card);
    rc = tc->run(tc->ctx);
    w = mc_port_tear_count(tc->card) - w0;
    st->writes = w;
    if (tc->dry != NULL)
        tc->dry(tc->ctx, 1, rc);
    if (w == 0)
        return stop(&rs, &none, "the operation writes nothing");

    /* 2. (and 3.) every sampled write, every K, every model */
    for (n = 1; n <= w; n++) {
        size_t len = 0;
        uint32_t addr = 0;
        bool need_len = (tc->kset & ~(unsigned)TR_K_LIST) != 0 || tc->page != 0 ||
                        ((tc->values & TR_V_CODES) && tc->codes != NULL);

        if (!sampled(tc, n, w))
            continue;
        if (need_len) {
            if (tc->kset & TR_K_WHOLE) {
                if (one(&rs, n, SIZE_MAX, MC_TEAR_OLD, 0, &len, &addr) != 0)
                    return -1;
            } else {
                tr_cut probe;
                memset(&probe, 0, sizeof(probe));
                probe.n = n;
                probe.k = SIZE_MAX;
                if (cut_run(&rs, &probe) != 0)
                    return -1;
                len = probe.len;
                addr = probe.addr;
                if (tc->measured != NULL)
                    tc->measured(tc->ctx, &probe);
                if (tc->restart(tc->ctx) != 0)
                    return stop(&rs, &probe, "the restart failed");
            }
        }
        if (tc->page != 0) {
            if (page_cuts(&rs, n, len, addr) != 0)
                return -1;
            continue;
        }
        nk = 0;
        if ((tc->kset & TR_K_ZERO) && len > 0)
            ks[nk++] = 0;
        if ((tc->kset & TR_K_HALF) && len / 2 != 0)
            ks[nk++] = len / 2;
        if ((tc->kset & TR_K_LAST) && len > 1 && len - 1 != len / 2)
            ks[nk++] = len - 1;
        if (tc->kset & TR_K_EVERY) {
            for (size_t k = 0; k < len; k++)
                if (one_k(&rs, n, k, len, need_len, addr) != 0)
                    return -1;
        } else {
            for (i = 0; i < nk; i++)
                if (one_k(&rs, n, ks[i], len, need_len, addr) != 0)
                    return -1;
        }
        if (tc->kset & TR_K_LIST)
            for (i = 0; i < tc->k_count; i++)
                if (one_k(&rs, n, tc->k_list[i], len, need_len, addr) != 0)
                    return -1;
    }
    return 0;
}

int tr_run(const tr_case *tc, tr_stats *st)
{
    tr_run_state rs;
    tr_cut none;
    int rc;

    memset(st, 0, sizeof(*st));
    memset(&none, 0, sizeof(none));
    rs.tc = tc;
    rs.st = st;
    rs.rng = tc->seed != 0 ? tc->seed : 0x4D4E4150u;   /* "MNAP" */
    if (tc->page == 0)
        return run_cuts(&rs, tc, st);
    if (mc_port_tear_page == NULL || (tc->page & (tc->page - 1u)) != 0)
        return stop(&rs, &none, "page tearing needs mc_port_tear_page and a power of two");
    mc_port_tear_page(tc->card, tc->page);
    rc = run_cuts(&rs, tc, st);
    mc_port_tear_page(tc->card, 0);
    return rc;
}
