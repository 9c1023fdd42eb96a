/* tear_runner.h: the one tear runner.  "Count the writes, cut at write N
 * after K bytes, restart, compare": PROTOCOL.md §8's atomicity check for any
 * operation on any port that provides card/port_tear.h.  It needs nothing
 * else (no simulator hook, no allocation, no test framework), so the same
 * runner tears the simulator (test/card/test_tearing.c, test_internal_tear.c,
 * test_store_tear.c) and a bare-metal or vendor port (docs/porting.md, "Test
 * a new port").
 *
 * A test describes each scenario by a tr_case: how to get back to the
 * starting point (start), the operation (run), the start-up after a power
 * cut (restart), and the comparison (check: before, after, an allowed
 * partial state, or neither).  tr_run then:
 *   1. dry run: start, run uncut; the port's write count gives the writes W;
 *   2. for each write n in 1..W (all, or a sample: every stride-th plus the
 *      first and last keep_ends), and each K of the case's K set: start, arm
 *      the cut (n, K), run, check that the cut came, restart, check;
 *   3. with restart_k set, for each first cut (n, K) the restart itself is
 *      cut too: its writes R are counted, and for each m in 1..R (all, or
 *      restart_samples spread over them, first and last included) and each
 *      k2 of restart_k: start, cut (n, K), run, restart cut at (m, k2) (it
 *      may fail), restart again (it must not), check.
 * K sets need the length of write n: the first run at each n lets it land
 * whole (TR_K_WHOLE, checked like any other cut when in the set, else an
 * unchecked probe) and the port reports its length and address.
 *
 * The interrupted byte.  card/port.h lets the byte being written at the cut
 * hold any value.  Each cut (n, K < len) is tried with the interrupted byte
 * set by each model of `values` (TR_V_*): old (a clean prefix), new, 00, FF,
 * every valid code of the byte it lands on (the case's codes callback, given
 * its NVM address), and `randoms` values from a PRNG seeded with `seed`.
 * With sample > 1 only about one in `sample` of the cuts beyond the old
 * model runs (chosen by the same PRNG: the same ones on every run); the old
 * model always runs.  make test samples, make test-long runs them all
 * (docs/porting.md).
 *
 * Page tearing (tc->page = P, a power of two; card/port_tear.h
 * mc_port_tear_page): a cut spoils the whole aligned page of P bytes that
 * holds the interrupted byte.  The runner then cuts write n at the first
 * byte of each page it touches that the K set selects (TR_K_EVERY: every
 * page; ZERO, HALF, LAST, LIST: the page holding that byte), so the pages
 * before hold new bytes and the later ones old, and sets the interrupted
 * page to each of: old, 00, FF and `randoms` seeded random fills (TR_V_OLD,
 * TR_V_00, TR_V_FF, TR_V_RANDOM; "new" is the next page's old cut, or the
 * whole write).  A port without mc_port_tear_page runs no page case. */
#ifndef TR_TEAR_RUNNER_H
#define TR_TEAR_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "port_tear.h"

/* What check found. */
#define TR_NEITHER 0   /* neither before nor after: a failure, the runner stops */
#define TR_BEFORE  1
#define TR_AFTER   2
#define TR_PARTIAL 3   /* a state the scenario allows besides before and after */
#define TR_SEEN    4   /* the check only observed (counts nothing) */

/* The K set: which cuts of write n (len bytes) are tried. */
#define TR_K_WHOLE 0x01u   /* all len bytes land, then the power fails */
#define TR_K_ZERO  0x02u   /* none lands */
#define TR_K_HALF  0x04u   /* len / 2 */
#define TR_K_LAST  0x08u   /* len - 1 */
#define TR_K_EVERY 0x10u   /* each of 0 .. len - 1 */
#define TR_K_LIST  0x20u   /* the values of k_list (whatever len is; k >= len
                            * lands whole) */

/* Models of the interrupted byte. */
#define TR_V_OLD    0x01u   /* its old value: a clean prefix */
#define TR_V_NEW    0x02u   /* the new value */
#define TR_V_00     0x04u
#define TR_V_FF     0x08u
#define TR_V_CODES  0x10u   /* each valid code of the byte (codes callback) */
#define TR_V_RANDOM 0x20u   /* `randoms` seeded random values */
#define TR_V_ALL    0x3Fu

/* One cut point. */
typedef struct tr_cut {
    uint64_t n;        /* the write of the operation that was cut (1-based) */
    size_t k;          /* bytes of it that landed (SIZE_MAX: all) */
    size_t len;        /* its length (0 when not measured) */
    uint32_t addr;     /* its NVM address */
    int how;           /* the interrupted byte: MC_TEAR_* */
    uint8_t value;     /* its value for MC_TEAR_VALUE */
    uint64_t m;        /* the restart's write that was cut too, or 0 */
    size_t k2;         /* bytes of that one that landed */
    int rc;            /* what run returned when cut */
    int restart_rc;    /* what the (first) restart returned */
} tr_cut;

typedef struct tr_case {
    const char *name;
    struct mc_card *card;                 /* the card whose port is torn */
    void *ctx;                            /* handed to every callback */
    /* back to the starting point, ready to run (power on, channel...) */
    void (*start)(void *ctx);
    /* the operation under test; its return value is kept in tr_cut.rc */
    int (*run)(void *ctx);
    /* start-up after the cut (mc_power_off + mc_power_on, or the store's
     * recovery); the runner has already called mc_port_tear_restart.
     * Non-zero is allowed only when the restart itself was cut. */
    int (*restart)(void *ctx);
    /* after the restart: TR_BEFORE, TR_AFTER, TR_PARTIAL, TR_SEEN, or
     * TR_NEITHER (the runner stops there and reports the cut) */
    int (*check)(void *ctx, const tr_cut *cut);
    /* optional: the dry run, before (phase 0, after start) and after (phase
     * 1, rc = run's result) the uncut operation */
    void (*dry)(void *ctx, int phase, int rc);
    /* optional: write n was measured (cut->len; cut->rc is what run returned
     * with the whole write landed and the power cut after it), called once
     * per n right after that run, before the restart */
    void (*measured)(void *ctx, const tr_cut *cut);
    unsigned kset;                        /* TR_K_* */
    const size_t *k_list;                 /* for TR_K_LIST */
    unsigned k_count;
    uint64_t first_n, last_n;             /* only writes first_n..last_n (0: all) */
    unsigned stride;                      /* sample: every stride-th write (0, 1: all) */
    unsigned keep_ends;                   /* ... plus the first and last keep_ends */
    const size_t *restart_k;              /* cut the restart too after these k2 */
    unsigned restart_k_count;             /* (0: no restart cuts) */
    unsigned restart_samples;             /* at most this many m per first cut (0: all) */
    unsigned values;                      /* TR_V_* (0: TR_V_OLD only) */
    unsigned randoms;                     /* random values per cut (TR_V_RANDOM) */
    uint32_t seed;                        /* of the PRNG (0: a fixed default) */
    unsigned sample;                      /* run ~1 in sample of the non-old cuts (0, 1: all) */
    /* the valid codes of the NVM byte at addr of the card (TR_V_CODES), as
     * it is before the cut: at most cap into out, returns how many */
    unsigned (*codes)(struct mc_card *card, uint32_t addr, uint8_t *out, unsigned cap);
    uint32_t page;                        /* page tearing with pages of this size (0: bytes) */
} tr_case;

typedef struct tr_stats {
    uint64_t writes;                      /* writes of the uncut operation */
    unsigned long cuts;                   /* cut points run and checked */
    unsigned long before, after, partial, seen;
    unsigned long restart_cuts;           /* of which the restart was cut too */
    unsigned long valued;                 /* of which the interrupted byte was not old */
    unsigned long skipped;                /* cuts left out by sampling */
    unsigned long with_restart_writes;    /* first cuts whose restart wrote */
    uint64_t restart_writes_max;          /* most writes one restart made */
    tr_cut at;                            /* the failing cut (on -1) */
    const char *why;                      /* what failed (on -1) */
} tr_stats;

/* Runs the case.  0 when every cut point checked out; -1 with st->why and
 * st->at otherwise (the state was neither, a planned cut never came, the
 * dry run wrote nothing, or a restart failed). */
int tr_run(const tr_case *tc, tr_stats *st);

#endif
