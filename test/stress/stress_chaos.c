/* stress_chaos.c: the thread that pulls cards out of their readers and puts
 * them back while the workers run.  mnap-vcard treats SIGUSR1 as "card
 * pulled" (the connection to vpcd closes, the card loses power) and SIGUSR2
 * as "card inserted" (docs/vcard.md).  Each card is pulled after a random
 * 0.3-2.5 s in the reader and reinserted after a random 50-600 ms out, so
 * pulls land at every point of the flow: between commands, in the middle of
 * a session, while the worker is connecting.  Random but reproducible: the
 * run's seed is printed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stress.h"

long st_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void st_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long between(unsigned *seed, long lo, long hi)
{
    return lo + (long)(rand_r(seed) % (unsigned)(hi - lo + 1));
}

static void signal_card(st_card *card, int sig)
{
    if (kill(card->vcard_pid, sig) != 0)
        fprintf(stderr, "stress: kill(%ld, %d): errno %d\n", (long)card->vcard_pid, sig, errno);
}

void *st_chaos(void *arg)
{
    st_run *run = arg;
    unsigned seed = run->seed ^ 0x9E3779B9u;
    long next[ST_MAX_CARDS];
    long now = st_now_ms();

    for (unsigned i = 0; i < run->n_cards; i++)
        next[i] = now + between(&seed, 300, 2500);
    while (!run->stop) {
        now = st_now_ms();
        for (unsigned i = 0; i < run->n_cards; i++) {
            st_card *card = &run->cards[i];
            if (now < next[i])
                continue;
            if (!card->pulled) {
                signal_card(card, SIGUSR1);
                card->pulled = 1;
                card->pulls++;
                next[i] = now + between(&seed, 50, 600);
            } else {
                signal_card(card, SIGUSR2);
                card->pulled = 0;
                next[i] = now + between(&seed, 300, 2500);
            }
        }
        st_sleep_ms(10);
    }
    return NULL;
}

void st_reinsert_all(st_run *run)
{
    for (unsigned i = 0; i < run->n_cards; i++) {
        if (run->cards[i].pulled) {
            signal_card(&run->cards[i], SIGUSR2);
            run->cards[i].pulled = 0;
        }
    }
}
