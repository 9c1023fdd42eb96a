/* test_apdu.c: the one command-APDU codec (common/cm_apdu.c).  Table-driven:
 * every case, short and extended, with its view (case, Nc, Ne, extended) and
 * its re-encoding byte for byte; then every malformed form of ISO/IEC 7816-4
 * (Lc 00 and 00 00, lengths that do not add up).  Inputs are copied into
 * exact-size heap blocks so the sanitizer build sees any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_apdu.h"

#define HDR 0x80, 0xCA, 0x01, 0x02

typedef struct good_case {
    const char *name;
    uint8_t in[16];
    size_t len;
    unsigned kase;
    size_t nc, ne;
    int extended;
    size_t data_at;
} good_case;

static const good_case good[] = {
    { "case 1",              { HDR },                               4, 1, 0, 0,     0, 0 },
    { "case 2 Le 01",        { HDR, 0x01 },                         5, 2, 0, 1,     0, 0 },
    { "case 2 Le 00 = 256",  { HDR, 0x00 },                         5, 2, 0, 256,   0, 0 },
    { "case 3 Lc 01",        { HDR, 0x01, 0xAA },                   6, 3, 1, 0,     0, 5 },
    { "case 3 Lc 03",        { HDR, 0x03, 1, 2, 3 },                8, 3, 3, 0,     0, 5 },
    { "case 4 Le 02",        { HDR, 0x02, 1, 2, 0x02 },             8, 4, 2, 2,     0, 5 },
    { "case 4 Le 00 = 256",  { HDR, 0x01, 0xAA, 0x00 },             7, 4, 1, 256,   0, 5 },
    { "case 2E Le 0001",     { HDR, 0x00, 0x00, 0x01 },             7, 2, 0, 1,     1, 0 },
    { "case 2E Le 0101",     { HDR, 0x00, 0x01, 0x01 },             7, 2, 0, 257,   1, 0 },
    { "case 2E 0000 = 65536",{ HDR, 0x00, 0x00, 0x00 },             7, 2, 0, 65536, 1, 0 },
    { "case 3E Lc 0001",     { HDR, 0x00, 0x00, 0x01, 0xAA },       8, 3, 1, 0,     1, 7 },
    { "case 3E Lc 0002",     { HDR, 0x00, 0x00, 0x02, 1, 2 },       9, 3, 2, 0,     1, 7 },
    { "case 4E Le 0003",     { HDR, 0x00, 0x00, 0x01, 0xAA, 0x00, 0x03 }, 10, 4, 1, 3, 1, 7 },
    { "case 4E 0000 = 65536",{ HDR, 0x00, 0x00, 0x02, 1, 2, 0x00, 0x00 }, 11, 4, 2, 65536, 1, 7 },
};

typedef struct bad_case {
    const char *name;
    uint8_t in[16];
    size_t len;
} bad_case;

static const bad_case bad[] = {
    { "empty",                         { 0 },                                 0 },
    { "1 byte",                        { 0x80 },                              1 },
    { "3 bytes",                       { 0x80, 0xCA, 0x01 },                  3 },
    { "short Lc 00 and a byte",        { HDR, 0x00, 0xAA },                   6 },
    { "extended marker, 1 byte",       { HDR, 0x00, 0x01 },                   6 },
    { "Lc 02, one data byte",          { HDR, 0x02, 0xAA },                   6 },
    { "Lc 01, two bytes after",        { HDR, 0x01, 0xAA, 0x01, 0x02 },       8 },
    { "Lc 01, three bytes after",      { HDR, 0x01, 0xAA, 1, 2, 3 },          9 },
    { "extended Lc 0000",              { HDR, 0x00, 0x00, 0x00, 0xAA },       8 },
    { "extended Lc 0000 and Le",       { HDR, 0x00, 0x00, 0x00, 0x00, 0x01 }, 9 },
    { "extended Lc 0002, 1 data byte", { HDR, 0x00, 0x00, 0x02, 0xAA },       8 },
    { "extended Lc 0001, 1-byte Le",   { HDR, 0x00, 0x00, 0x01, 0xAA, 0x05 }, 9 },
    { "extended Lc 0001, 3-byte Le",   { HDR, 0x00, 0x00, 0x01, 0xAA, 0, 0, 5 }, 11 },
    { "extended Lc 0005, too short",   { HDR, 0x00, 0x00, 0x05, 1, 2, 3 },    10 },
    { "extended Le with a 4th byte",   { HDR, 0x00, 0x00, 0x01, 0xAA, 1, 2, 3, 4 }, 12 },
};

static int parse_exact(const uint8_t *in, size_t len, cm_apdu *a)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, in, len);
    rc = cm_apdu_parse(copy, len, a);
    if (rc == CM_OK && a->data != NULL) {
        assert_true(a->data >= copy && a->data + a->nc <= copy + len);
        a->data = in + (a->data - copy);
    }
    free(copy);
    return rc;
}

static void test_every_case_parses_and_reencodes(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const good_case *g = &good[i];
        uint8_t out[32];
        cm_apdu a;

        print_message("%s\n", g->name);
        assert_int_equal(parse_exact(g->in, g->len, &a), CM_OK);
        assert_int_equal(a.cla, 0x80);
        assert_int_equal(a.ins, 0xCA);
        assert_int_equal(a.p1, 0x01);
        assert_int_equal(a.p2, 0x02);
        assert_int_equal(a.kase, g->kase);
        assert_int_equal(a.nc, g->nc);
        assert_int_equal(a.ne, g->ne);
        assert_int_equal(a.extended, g->extended);
        if (g->nc) {
            assert_ptr_equal(a.data, g->in + g->data_at);
            assert_int_equal(cm_apdu_head_len(&a), g->data_at);
        } else {
            assert_null(a.data);
            assert_int_equal(cm_apdu_head_len(&a), 4);
        }
        assert_int_equal(cm_apdu_encoded_len(&a), g->len);
        assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), g->len);
        assert_memory_equal(out, g->in, g->len);
        /* one byte less room does not fit */
        assert_int_equal(cm_apdu_encode(&a, out, g->len - 1), 0);
    }
}

static void test_malformed_forms(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cm_apdu a;

        print_message("%s\n", bad[i].name);
        assert_int_equal(parse_exact(bad[i].in, bad[i].len, &a), CM_E_FORMAT);
        assert_int_equal(a.nc, 0);
        assert_int_equal(a.ne, 0);
        assert_null(a.data);
    }
    assert_int_equal(cm_apdu_parse(NULL, 4, &(cm_apdu){ 0 }), CM_E_PARAM);
}

/* The form follows the sizes: Nc > 255 or Ne > 256 is extended, and a short
 * APDU may be asked for in the extended form. */
static void test_encode_chooses_the_form(void **state)
{
    static uint8_t data[300], out[320];
    cm_apdu a, b;
    (void)state;

    memset(&a, 0, sizeof(a));
    a.cla = 0x00;
    a.ins = 0xB0;
    a.ne = 257;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 7);
    assert_memory_equal(out + 4, "\x00\x01\x01", 3);
    a.ne = 256;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 5);
    assert_int_equal(out[4], 0x00);
    a.extended = 1;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 7);
    assert_memory_equal(out + 4, "\x00\x01\x00", 3);

    memset(&a, 0, sizeof(a));
    a.ins = 0xD6;
    a.data = data;
    a.nc = sizeof(data);
    a.ne = 1;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 4 + 3 + 300 + 2);
    assert_memory_equal(out + 4, "\x00\x01\x2C", 3);
    assert_int_equal(cm_apdu_parse(out, 309, &b), CM_OK);
    assert_int_equal(b.kase, 4);
    assert_int_equal(b.nc, 300);
    assert_int_equal(b.ne, 1);
    assert_true(b.extended);

    /* Lengths that cannot be coded. */
    a.nc = 65536;
    assert_int_equal(cm_apdu_encoded_len(&a), 0);
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 0);
    a.nc = 1;
    a.ne = 65537;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 0);
}

/* Data NULL leaves the body for the caller (SCP03 wrapping). */
static void test_encode_reserves_the_body(void **state)
{
    uint8_t out[16];
    cm_apdu a;
    (void)state;

    memset(&a, 0, sizeof(a));
    memset(out, 0xEE, sizeof(out));
    a.cla = 0x84;
    a.ins = 0xCA;
    a.nc = 3;
    a.ne = 256;
    assert_int_equal(cm_apdu_encode(&a, out, sizeof(out)), 9);
    assert_memory_equal(out, "\x84\xCA\x00\x00\x03\xEE\xEE\xEE\x00", 9);
    assert_int_equal(cm_apdu_head_len(&a), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case_parses_and_reencodes),
        cmocka_unit_test(test_malformed_forms),
        cmocka_unit_test(test_encode_chooses_the_form),
        cmocka_unit_test(test_encode_reserves_the_body),
    };
    return cmocka_run_group_tests_name("common: APDU codec", tests, NULL, NULL);
}
