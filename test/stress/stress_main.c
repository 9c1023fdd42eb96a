/* stress_main.c: mnap-stress, the host resilience test under load.
 *
 *   mnap-stress SECONDS SEED PID READER [PID READER ...]
 *   mnap-stress leak-control      (leaks 64 bytes: the leak check's control)
 *
 * One card per (PID, READER) pair: READER is the PC/SC reader slot, PID the
 * mnap-vcard process serving it (blank card).  The program prepares every
 * card (area setup, AP load), then runs one worker thread per card with the
 * kiosk flow (stress_flow.c) and one chaos thread pulling and reinserting
 * cards (stress_chaos.c) for SECONDS, stops, reinserts every card, checks
 * each one (stress_check.c) and prints flows and errors by kind.
 *
 * Exit status 0 when every card is consistent, every worker completed flows,
 * and every failure was reported with a specific mnap_err; 1 otherwise; 64
 * on usage errors.  Leaks and memory errors are the sanitizer's (the stress
 * build uses ASan+LSan, which fails the exit status on a leak). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

static int usage(void)
{
    fprintf(stderr, "usage: mnap-stress SECONDS SEED PID READER [PID READER ...] (at most %d)\n",
            ST_MAX_CARDS);
    return 64;
}

static void report(const st_run *run)
{
    unsigned long total[ST_ERR_KINDS] = { 0 };
    unsigned long ok = 0, failed = 0, unnamed = 0;
    unsigned pulls = 0;

    for (unsigned i = 0; i < run->n_cards; i++) {
        const st_card *c = &run->cards[i];
        printf("stress: card %u (%s): %lu flows OK, %lu failed, %u pulls\n", c->idx, c->reader,
               c->flows_ok, c->flows_failed, c->pulls);
        ok += c->flows_ok;
        failed += c->flows_failed;
        unnamed += c->unnamed;
        pulls += c->pulls;
        for (unsigned k = 0; k < ST_ERR_KINDS; k++)
            total[k] += c->errors[k];
    }
    printf("stress: errors by kind (every failing call, connects included):\n");
    for (unsigned k = 1; k < ST_ERR_KINDS; k++) {
        if (total[k] == 0)
            continue;
        mnap_err e = (mnap_err)(-(int)k);
        printf("stress:   %-22s %6lu  %s%s\n", st_err_name(e), total[k], mnap_strerror(e),
               st_err_is_named(e) ? "" : "  [NOT NAMED]");
    }
    printf("STRESS threads=%u slots=%u seconds=%u flows_ok=%lu flows_failed=%lu pulls=%u "
           "unnamed=%lu\n",
           run->n_cards, run->n_cards, run->seconds, ok, failed, pulls, unnamed);
}

/* Negative control of the leak check (run.sh runs it first): one block
 * that nothing frees.  A sanitizer build must fail on it; if it does not,
 * "no leak" from the real run would mean nothing. */
static void *volatile leak_sink;   /* volatile: the compiler keeps the block */

static int leak_control(void)
{
    char *p = malloc(64);
    if (p == NULL)
        return 1;
    memset(p, 0x5A, 64);
    leak_sink = p;
    if (leak_sink == NULL)
        return 1;
    leak_sink = NULL;   /* the last pointer to it is gone */
    printf("stress: leak control: 64 bytes left unfreed on purpose\n");
    return 0;
}

int main(int argc, char **argv)
{
    static st_run run;
    pthread_t workers[ST_MAX_CARDS], chaos;
    st_worker_arg args[ST_MAX_CARDS];
    int rc = 0;

    if (argc == 2 && strcmp(argv[1], "leak-control") == 0)
        return leak_control();
    if (argc < 5 || (argc - 3) % 2 != 0 || (argc - 3) / 2 > ST_MAX_CARDS)
        return usage();
    run.seconds = (unsigned)strtoul(argv[1], NULL, 10);
    run.seed = (unsigned)strtoul(argv[2], NULL, 10);
    run.n_cards = (unsigned)(argc - 3) / 2;
    if (run.seconds == 0)
        return usage();
    for (unsigned i = 0; i < run.n_cards; i++) {
        st_card *c = &run.cards[i];
        c->idx = i + 1;
        c->vcard_pid = (pid_t)strtol(argv[3 + 2 * i], NULL, 10);
        snprintf(c->reader, sizeof c->reader, "%s", argv[4 + 2 * i]);
        if (c->vcard_pid <= 1)
            return usage();
    }
    printf("stress: %u cards, %u s, seed %u\n", run.n_cards, run.seconds, run.seed);
    for (unsigned i = 0; i < run.n_cards; i++)
        if (st_prepare(run.cards[i].reader, run.cards[i].idx) != MNAP_OK)
            return 1;
    fflush(stdout);

    for (unsigned i = 0; i < run.n_cards; i++) {
        args[i].run = &run;
        args[i].card = &run.cards[i];
        if (pthread_create(&workers[i], NULL, st_worker, &args[i]) != 0) {
            fprintf(stderr, "stress: pthread_create failed\n");
            return 1;
        }
    }
    if (pthread_create(&chaos, NULL, st_chaos, &run) != 0) {
        fprintf(stderr, "stress: pthread_create failed\n");
        return 1;
    }
    st_sleep_ms((long)run.seconds * 1000L);
    run.stop = 1;
    pthread_join(chaos, NULL);
    for (unsigned i = 0; i < run.n_cards; i++)
        pthread_join(workers[i], NULL);
    st_reinsert_all(&run);
    st_sleep_ms(1500);   /* vpcd reports insertions at its next poll (~0.4 s) */

    report(&run);
    for (unsigned i = 0; i < run.n_cards; i++) {
        st_card *c = &run.cards[i];
        if (c->fatal) {
            fprintf(stderr, "stress: card %u: %s\n", c->idx, c->fatal_msg);
            rc = 1;
        }
        if (c->flows_ok == 0) {
            fprintf(stderr, "stress: card %u completed no flow\n", c->idx);
            rc = 1;
        }
        if (c->unnamed != 0) {
            fprintf(stderr, "stress: card %u: %lu failures without a specific name\n", c->idx,
                    c->unnamed);
            rc = 1;
        }
        if (st_check_card(c) != 0)
            rc = 1;
        free(c->ledger);
    }
    printf("stress: %s\n", rc == 0 ? "PASS" : "FAIL");
    return rc;
}
