/* test_threads.c: one context per card, several threads at once.  Each
 * thread owns a simulated card and a context and runs a whole flow (set-up,
 * load, AP session, PIN, file round trips) many times; all must succeed and
 * no thread may see another's data.  Run under the sanitizer build (make
 * check) or helgrind to catch shared state. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "host_fixture.h"

#define THREADS 4
#define ROUNDS 5

typedef struct job {
    int id;
    int failures;
} job;

/* No cmocka asserts in the threads (cmocka is not thread-safe): count. */
static void *worker(void *arg)
{
    job *j = arg;
    int r;
    for (r = 0; r < ROUNDS; r++) {
        mnap_inproc *ip = NULL;
        mnap_ctx *ctx = NULL;
        mnap_transport t;
        mnap_keyset tk, region, ap;
        uint8_t serial[8] = { 0, 0, 0, 0, 0, 0, (uint8_t)j->id, (uint8_t)r };
        uint8_t k40[16], img[4096], aid[6], data[300], back[300];
        size_t n, got, i;
        for (i = 0; i < 16; i++)
            k40[i] = (uint8_t)(0x40 + i);
        for (i = 0; i < sizeof(data); i++)
            data[i] = (uint8_t)(j->id * 31 + r * 7 + i);
        if (mnap_inproc_new(&ip, serial, NULL, 0, 0) != MNAP_OK) {
            j->failures++;
            continue;
        }
        t = mnap_inproc_transport(ip);
        mnap_keyset_set(&tk, 0xFF, k40, k40, k40, 16, 0);
        mnap_keyset_random(&region, 0x01, 16);
        mnap_keyset_random(&ap, 0x21, 32);
        fx_std_aid(aid, (uint8_t)j->id);
        n = fx_std_image(img, sizeof(img), (uint8_t)j->id, -1);
        if (mnap_ctx_new(&ctx, &t) != MNAP_OK ||
            mnap_am_open(ctx, &tk, MNAP_LEVEL_FULL) != MNAP_OK ||
            mnap_area_setup(ctx, &region) != MNAP_OK ||
            mnap_am_open(ctx, &region, MNAP_LEVEL_FULL) != MNAP_OK ||
            mnap_area_load_ap(ctx, img, n, &ap, NULL) != MNAP_OK ||
            mnap_ap_open(ctx, aid, 6, &ap, MNAP_LEVEL_FULL) != MNAP_OK ||
            mnap_ap_verify_pin(ctx, FX_PIN, 4, NULL) != MNAP_OK ||
            mnap_ap_update_binary(ctx, FX_EF_BIG, 100, data, sizeof(data)) != MNAP_OK ||
            mnap_ap_read_binary(ctx, FX_EF_BIG, 100, back, sizeof(back), &got) != MNAP_OK ||
            got != sizeof(data) || memcmp(back, data, sizeof(data)) != 0 ||
            mnap_ap_verify_pin(ctx, "0000", 4, NULL) != MNAP_E_PIN_WRONG)
            j->failures++;
        mnap_ctx_free(ctx);
        mnap_inproc_free(ip);
        mnap_keyset_wipe(&tk);
        mnap_keyset_wipe(&region);
        mnap_keyset_wipe(&ap);
    }
    return NULL;
}

static void test_contexts_in_parallel(void **state)
{
    pthread_t th[THREADS];
    job jobs[THREADS];
    int i;
    (void)state;
    for (i = 0; i < THREADS; i++) {
        jobs[i].id = i + 1;
        jobs[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contexts_in_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
