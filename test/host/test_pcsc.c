/* test_pcsc.c: the PC/SC transport against a real pcscd.  Run by
 * test/host/pcsc.sh, which starts a private pcscd with a two-slot vpcd
 * reader, a virtual card (mnap-vcard) in the second slot and none in the
 * first, and names them in MNAP_PCSC_READER / MNAP_PCSC_EMPTY_READER; with
 * MNAP_PCSC_NO_SERVICE=1 it runs after stopping pcscd.  Without those
 * variables every test is skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mnap/mnap.h"
#include "mnap/mnap_pcsc.h"

static const char *reader, *empty;

typedef struct seen {
    int found_card, found_empty;
    size_t n;
} seen;

static void on_reader(void *user, const char *name)
{
    seen *s = user;
    s->n++;
    if (strcmp(name, reader) == 0)
        s->found_card = 1;
    if (strcmp(name, empty) == 0)
        s->found_empty = 1;
}

static uint64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_readers_and_wait(void **state)
{
    mnap_pcsc *p;
    seen s = { 0, 0, 0 };
    size_t count = 0;
    uint64_t t0;
    (void)state;
    if (reader == NULL)
        skip();
    assert_int_equal(mnap_pcsc_new(&p), MNAP_OK);
    assert_int_equal(mnap_pcsc_list_readers(p, on_reader, &s, &count), MNAP_OK);
    assert_int_equal(count, s.n);
    assert_true(s.found_card);
    assert_true(s.found_empty);
    /* a card is there: at once */
    assert_int_equal(mnap_pcsc_wait_card(p, reader, 0), MNAP_OK);
    /* none there: the whole timeout, then MNAP_E_TIMEOUT */
    assert_int_equal(mnap_pcsc_wait_card(p, empty, 0), MNAP_E_TIMEOUT);
    t0 = ms();
    assert_int_equal(mnap_pcsc_wait_card(p, empty, 400), MNAP_E_TIMEOUT);
    assert_true(ms() - t0 >= 350);
    assert_true(ms() - t0 < 5000);
    assert_int_equal(mnap_pcsc_wait_card(p, "no such reader", 0), MNAP_E_NO_READER);
    /* connecting where there is nothing */
    assert_int_equal(mnap_pcsc_connect(p, empty), MNAP_E_NO_CARD);
    assert_int_equal(mnap_pcsc_connect(p, "no such reader"), MNAP_E_NO_READER);
    assert_int_equal(mnap_pcsc_protocol(p), -1);
    assert_null(mnap_pcsc_reader(p));
    mnap_pcsc_free(p);
}

/* No reader named: the first reader with a card, here the second one (the
 * first is empty), for waiting and for connecting alike. */
static void test_default_reader_is_first_with_card(void **state)
{
    mnap_pcsc *p;
    (void)state;
    if (reader == NULL)
        skip();
    assert_int_equal(mnap_pcsc_new(&p), MNAP_OK);
    assert_int_equal(mnap_pcsc_wait_card(p, NULL, 0), MNAP_OK);
    assert_int_equal(mnap_pcsc_wait_card(p, NULL, 300), MNAP_OK);
    assert_int_equal(mnap_pcsc_connect(p, NULL), MNAP_OK);
    assert_string_equal(mnap_pcsc_reader(p), reader);
    assert_int_equal(mnap_pcsc_protocol(p), 1);
    mnap_pcsc_free(p);
}

static void test_connect_and_talk(void **state)
{
    mnap_pcsc *p;
    mnap_transport t;
    mnap_ctx *ctx;
    mnap_area_info info;
    uint8_t atr[40];
    size_t al = 0, i;
    int found = 0;
    (void)state;
    if (reader == NULL)
        skip();
    assert_int_equal(mnap_pcsc_new(&p), MNAP_OK);
    assert_int_equal(mnap_pcsc_connect(p, reader), MNAP_OK);
    assert_int_equal(mnap_pcsc_protocol(p), 1);
    assert_string_equal(mnap_pcsc_reader(p), reader);
    t = mnap_pcsc_transport(p);
    assert_int_equal(t.atr(t.self, atr, sizeof(atr), &al), MNAP_OK);
    for (i = 0; i + 4 <= al; i++)
        if (memcmp(atr + i, "MNAP", 4) == 0)
            found = 1;
    assert_true(found);
    assert_int_equal(mnap_ctx_new(&ctx, &t), MNAP_OK);
    assert_int_equal(mnap_area_info_get(ctx, &info), MNAP_OK);
    assert_int_equal(info.max_response, 2048);
    /* a transport reset on request; the card answers again */
    assert_int_equal(mnap_reconnect(ctx), MNAP_OK);
    assert_int_equal(mnap_area_info_get(ctx, &info), MNAP_OK);
    /* a second PC/SC client resets the card: the first one is told so */
    {
        mnap_pcsc *q;
        assert_int_equal(mnap_pcsc_new(&q), MNAP_OK);
        assert_int_equal(mnap_pcsc_connect(q, reader), MNAP_OK);
        assert_int_equal(mnap_pcsc_reconnect(q), MNAP_OK);
        mnap_pcsc_free(q);
    }
    assert_int_equal(mnap_area_info_get(ctx, &info), MNAP_E_CARD_RESET);
    assert_int_equal(mnap_reconnect(ctx), MNAP_OK);
    assert_int_equal(mnap_area_info_get(ctx, &info), MNAP_OK);
    mnap_ctx_free(ctx);
    mnap_pcsc_disconnect(p);
    assert_int_equal(mnap_pcsc_protocol(p), -1);
    mnap_pcsc_free(p);
}

static void test_no_service(void **state)
{
    mnap_pcsc *p = (mnap_pcsc *)1;
    const char *e = getenv("MNAP_PCSC_NO_SERVICE");
    (void)state;
    if (e == NULL || strcmp(e, "1") != 0)
        skip();
    assert_int_equal(mnap_pcsc_new(&p), MNAP_E_NO_SERVICE);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_and_wait),
        cmocka_unit_test(test_default_reader_is_first_with_card),
        cmocka_unit_test(test_connect_and_talk),
        cmocka_unit_test(test_no_service),
    };
    reader = getenv("MNAP_PCSC_READER");
    empty = getenv("MNAP_PCSC_EMPTY_READER");
    if (reader != NULL && empty == NULL)
        reader = NULL;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
