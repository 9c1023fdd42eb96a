/* tear_runner.c: the one tear runner (tear_runner.h).  Uses card/port.h and
 * card/port_tear.h only. */
#include "tear_runner.h"

#include <string.h>

static int stop(tr_stats *st, const tr_cut *at, const char *why)
{
    st->at = *at;
    st->why = why;
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

/* Starts, cuts at (n, k), runs: the cut must come. */
static int cut_run(const tr_case *tc, tr_stats *st, tr_cut *cut)
{
    tc->start(tc->ctx);
    mc_port_tear_arm(tc->card, cut->n, cut->k);
    cut->rc = tc->run(tc->ctx);
    cut->len = mc_port_tear_cut_len(tc->card);
    if (cut->len == 0)
        return stop(st, cut, "the write to cut never came");
    mc_port_tear_restart(tc->card);
    return 0;
}

static int judge(const tr_case *tc, tr_stats *st, const tr_cut *cut)
{
    switch (tc->check(tc->ctx, cut)) {
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
        return stop(st, cut, "the state is neither before nor after");
    }
    st->cuts++;
    return 0;
}

/* The restart cut at each sampled m after each k2, for the first cut c0. */
static int tear_restart(const tr_case *tc, tr_stats *st, const tr_cut *c0)
{
    tr_cut cut = *c0;
    uint64_t w0, r, m, step;
    unsigned j;

    if (cut_run(tc, st, &cut) != 0)
        return -1;
    w0 = mc_port_tear_count(tc->card);
    if (tc->restart(tc->ctx) != 0)
        return stop(st, &cut, "the restart failed");
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
            cut = *c0;
            if (cut_run(tc, st, &cut) != 0)
                return -1;
            cut.m = m;
            cut.k2 = tc->restart_k[j];
            mc_port_tear_arm(tc->card, m, cut.k2);
            cut.restart_rc = tc->restart(tc->ctx);   /* torn: may fail */
            mc_port_tear_restart(tc->card);
            if (tc->restart(tc->ctx) != 0)
                return stop(st, &cut, "the restart after a torn restart failed");
            if (judge(tc, st, &cut) != 0)
                return -1;
            st->restart_cuts++;
        }
    }
    return 0;
}

/* One cut point (n, k): cut, restart, check; then, if asked, its restart
 * torn too. */
static int one(const tr_case *tc, tr_stats *st, uint64_t n, size_t k, size_t *len)
{
    tr_cut cut;

    memset(&cut, 0, sizeof(cut));
    cut.n = n;
    cut.k = k;
    if (cut_run(tc, st, &cut) != 0)
        return -1;
    if (len != NULL) {
        *len = cut.len;
        if (tc->measured != NULL)
            tc->measured(tc->ctx, &cut);
    }
    cut.restart_rc = tc->restart(tc->ctx);
    if (cut.restart_rc != 0)
        return stop(st, &cut, "the restart failed");
    if (judge(tc, st, &cut) != 0)
        return -1;
    if (tc->restart_k_count != 0)
        return tear_restart(tc, st, &cut);
    return 0;
}

int tr_run(const tr_case *tc, tr_stats *st)
{
    tr_cut none;
    uint64_t w0, w, n;
    size_t ks[4];
    unsigned nk, i;
    int rc;

    memset(st, 0, sizeof(*st));
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
        return stop(st, &none, "the operation writes nothing");

    /* 2. (and 3.) every sampled write, every K */
    for (n = 1; n <= w; n++) {
        size_t len = 0;
        bool need_len = (tc->kset & ~(unsigned)TR_K_LIST) != 0;

        if (!sampled(tc, n, w))
            continue;
        if (need_len) {
            if (tc->kset & TR_K_WHOLE) {
                if (one(tc, st, n, SIZE_MAX, &len) != 0)
                    return -1;
            } else {
                tr_cut probe;
                memset(&probe, 0, sizeof(probe));
                probe.n = n;
                probe.k = SIZE_MAX;
                if (cut_run(tc, st, &probe) != 0)
                    return -1;
                len = probe.len;
                if (tc->measured != NULL)
                    tc->measured(tc->ctx, &probe);
                if (tc->restart(tc->ctx) != 0)
                    return stop(st, &probe, "the restart failed");
            }
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
                if (one(tc, st, n, k, NULL) != 0)
                    return -1;
        } else {
            for (i = 0; i < nk; i++)
                if (one(tc, st, n, ks[i], NULL) != 0)
                    return -1;
        }
        if (tc->kset & TR_K_LIST)
            for (i = 0; i < tc->k_count; i++)
                if (one(tc, st, n, tc->k_list[i], NULL) != 0)
                    return -1;
    }
    return 0;
}
