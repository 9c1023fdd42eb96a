/* bench_stoplist.c: the offline stop list at scale (make bench): build and
 * sign a list of N entries (the library's part of `mnap card stoplist-export`;
 * the registry query is not included), check it (signature, order,
 * validity: what a kiosk does once per list) and look up serials (half on
 * the list, half not).  Prints a Markdown section.
 *
 *   bench_stoplist [N]     (default 1,000,000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mnap/mnap.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void serial_of(uint64_t i, uint8_t out[8])
{
    /* Spread: a multiplicative hash, so the list is not built sorted. */
    uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull;
    for (int k = 7; k >= 0; k--) {
        out[k] = (uint8_t)v;
        v >>= 8;
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t lookups = n < 1000 ? 1000 : n;
    static const uint8_t seed[32] = { 42 };
    uint8_t pub[32], *buf = NULL, s[8];
    size_t len = 0, hits = 0;
    mnap_stoplist_entry *e = malloc((n ? n : 1) * sizeof *e);
    mnap_stoplist *l = NULL;
    double t0, t1, t2, t3;

    if (e == NULL || mnap_stoplist_public_key(seed, pub) != MNAP_OK) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        serial_of(2 * i, e[i].serial); /* even indices on the list */
        e[i].state = 3;
    }
    t0 = now_s();
    if (mnap_stoplist_build(e, n, 1800000000, 1800086400, "131016", seed, &buf, &len) != MNAP_OK) {
        fprintf(stderr, "bench_stoplist: build failed\n");
        return 1;
    }
    t1 = now_s();
    if (mnap_stoplist_open(&l, buf, len, pub, 1800000001) != MNAP_OK) {
        fprintf(stderr, "bench_stoplist: open failed\n");
        return 1;
    }
    t2 = now_s();
    for (size_t i = 0; i < lookups; i++) {
        serial_of(i % (2 * (n ? n : 1)), s);
        hits += mnap_stoplist_check(l, s, NULL) == MNAP_E_CARD_STOPPED;
    }
    t3 = now_s();
    if (n > 0 && hits != (lookups + 1) / 2 && lookups <= 2 * n) {
        fprintf(stderr, "bench_stoplist: %zu hits of %zu lookups\n", hits, lookups);
        return 1;
    }
    printf("## Offline stop list (bench/bench_stoplist.c)\n\n");
    printf("| what | figure |\n|---|---|\n");
    printf("| entries | %zu (file %zu bytes) |\n", n, len);
    printf("| build and sign (sort + Ed25519) | %.1f ms |\n", (t1 - t0) * 1e3);
    printf("| open and check (Ed25519 verify, order, validity) | %.1f ms |\n", (t2 - t1) * 1e3);
    printf("| stop-list lookup (binary search), mean of %zu | %.3f µs |\n", lookups,
           (t3 - t2) * 1e6 / (double)lookups);
    mnap_stoplist_free(l);
    free(buf);
    free(e);
    return 0;
}
