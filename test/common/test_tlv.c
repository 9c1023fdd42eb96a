/* test_tlv.c: the bounded BER-TLV reader and writer.  Every malformed input
 * must give CM_E_FORMAT and never a read outside the buffer (the sanitizer
 * build checks the latter: inputs are copied into exact-size heap blocks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_tlv.h"

/* Runs the reader over an exact-size heap copy so ASan sees any overrun. */
static int next_exact(const uint8_t *in, size_t len, size_t *pos, cm_tlv *t)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, in, len);
    rc = cm_tlv_next(copy, len, pos, t);
    if (rc == CM_OK) {
        /* rebase the value pointer onto the caller's buffer */
        t->value = in + (t->value - copy);
    }
    free(copy);
    return rc;
}

static int validate_exact(const uint8_t *in, size_t len, unsigned depth)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, in, len);
    rc = cm_tlv_validate(copy, len, depth);
    free(copy);
    return rc;
}

static void test_short_and_long_forms(void **state)
{
    static const uint8_t in[] = { 0x80, 0x01, 0xAA,
                                  0x9F, 0x70, 0x01, 0x07,
                                  0x53, 0x81, 0x80 };
    uint8_t buf[3 + 4 + 3 + 0x80];
    size_t pos = 0;
    cm_tlv t;
    (void)state;

    memcpy(buf, in, sizeof in);
    memset(buf + sizeof in, 0x5A, 0x80);
    assert_int_equal(next_exact(buf, sizeof buf, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0x80);
    assert_int_equal(t.len, 1);
    assert_int_equal(t.value[0], 0xAA);
    assert_int_equal(t.header_len, 2);
    assert_int_equal(next_exact(buf, sizeof buf, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0x9F70);
    assert_int_equal(t.len, 1);
    assert_int_equal(t.header_len, 3);
    assert_int_equal(next_exact(buf, sizeof buf, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0x53);
    assert_int_equal(t.len, 0x80);
    assert_int_equal(t.header_len, 3);
    assert_int_equal(pos, sizeof buf);
    assert_int_equal(next_exact(buf, sizeof buf, &pos, &t), 1);   /* end */
}

static void test_two_byte_length(void **state)
{
    uint8_t buf[4 + 300];
    size_t pos = 0;
    cm_tlv t;
    (void)state;
    buf[0] = 0xA3; buf[1] = 0x82; buf[2] = 0x01; buf[3] = 0x2C;   /* 300 */
    memset(buf + 4, 0, 300);
    assert_int_equal(next_exact(buf, sizeof buf, &pos, &t), CM_OK);
    assert_int_equal(t.len, 300);
    assert_true(t.constructed);
    /* one byte short: the value runs past the end */
    pos = 0;
    assert_int_equal(next_exact(buf, sizeof buf - 1, &pos, &t), CM_E_FORMAT);
    assert_int_equal(pos, 0);
}

static void test_malformed_inputs(void **state)
{
    static const struct { const char *what; uint8_t b[8]; size_t n; } bad[] = {
        { "tag only", { 0x80 }, 1 },
        { "two-byte tag cut", { 0x9F }, 1 },
        { "two-byte tag, no length", { 0x9F, 0x70 }, 2 },
        { "three-byte tag", { 0x9F, 0x81, 0x01, 0x01, 0x00 }, 5 },
        { "length past end", { 0x80, 0x05, 0x01, 0x02 }, 4 },
        { "81 form truncated", { 0x80, 0x81 }, 2 },
        { "82 form truncated", { 0x80, 0x82, 0x01 }, 3 },
        { "82 length past end", { 0x80, 0x82, 0x00, 0x04, 0x01 }, 5 },
        { "4-byte length (83)", { 0x80, 0x83, 0x00, 0x00, 0x01, 0xAA }, 6 },
        { "5-byte length (84)", { 0x80, 0x84, 0x00, 0x00, 0x00, 0x01, 0xAA }, 7 },
        { "indefinite length", { 0xA0, 0x80, 0x00, 0x00 }, 4 },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos = 0;
        cm_tlv t;
        int rc = next_exact(bad[i].b, bad[i].n, &pos, &t);
        if (rc != CM_E_FORMAT)
            fail_msg("%s: got %d", bad[i].what, rc);
        assert_int_equal(pos, 0);
        assert_int_equal(validate_exact(bad[i].b, bad[i].n, 4), CM_E_FORMAT);
    }
}

static void test_empty_input(void **state)
{
    size_t pos = 0;
    cm_tlv t;
    (void)state;
    assert_int_equal(cm_tlv_next(NULL, 0, &pos, &t), 1);
    assert_int_equal(cm_tlv_find(NULL, 0, 0x80, &t), 1);
    assert_int_equal(cm_tlv_validate(NULL, 0, 4), CM_OK);
    /* a position past the input is refused, not read */
    pos = 3;
    assert_int_equal(cm_tlv_next((const uint8_t *)"\x80\x00", 2, &pos, &t), CM_E_FORMAT);
}

static void test_nested_overrun(void **state)
{
    /* A3 claims 6 bytes; inside, 80 claims 9: fits the buffer but not its
     * container.  The top level alone is fine, validation of depth 1 not. */
    static const uint8_t in[] = { 0xA3, 0x06, 0x80, 0x09, 0x01, 0x02, 0x03, 0x04,
                                  0x05, 0x06, 0x07, 0x08, 0x09 };
    static const uint8_t ok[] = { 0xA3, 0x06, 0x83, 0x02, 0x01, 0x01, 0x80, 0x00 };
    static const uint8_t deep_bad[] = { 0xA0, 0x05, 0xA1, 0x03, 0xA2, 0x01, 0x00 };
    size_t pos = 0;
    cm_tlv t;
    (void)state;
    assert_int_equal(validate_exact(in, 8, 0), CM_OK);
    assert_int_equal(validate_exact(in, 8, 1), CM_E_FORMAT);
    assert_int_equal(validate_exact(in, sizeof in, 0), CM_E_FORMAT);   /* trailing junk 09.. */
    assert_int_equal(validate_exact(ok, sizeof ok, 4), CM_OK);
    assert_int_equal(validate_exact(deep_bad, sizeof deep_bad, 2), CM_OK);  /* not that deep */
    assert_int_equal(validate_exact(deep_bad, sizeof deep_bad, 3), CM_E_FORMAT);
    assert_int_equal(next_exact(in, 8, &pos, &t), CM_OK);
    assert_int_equal(t.len, 6);
}

static void test_find(void **state)
{
    static const uint8_t in[] = { 0x80, 0x01, 0x0F, 0x83, 0x01, 0x10, 0x84, 0x02, 0x01, 0x00 };
    cm_tlv t;
    (void)state;
    assert_int_equal(cm_tlv_find(in, sizeof in, 0x84, &t), CM_OK);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.value[0], 0x01);
    assert_int_equal(cm_tlv_find(in, sizeof in, 0x85, &t), 1);
    assert_int_equal(cm_tlv_find(in, sizeof in - 1, 0x85, &t), CM_E_FORMAT);
}

static void test_writer_round_trip(void **state)
{
    uint8_t buf[600], big[300];
    cm_tlv_writer w;
    size_t outer, inner, pos = 0;
    cm_tlv t, u;
    (void)state;

    memset(big, 0x11, sizeof big);
    cm_tlv_writer_init(&w, buf, sizeof buf);
    outer = cm_tlv_open(&w, 0xDF20);
    cm_tlv_put_u8(&w, 0x80, 0x0F);
    cm_tlv_put_u16(&w, 0x87, 0x0800);
    cm_tlv_put_u32(&w, 0x81, 0x00010203);
    inner = cm_tlv_open(&w, 0xA5);
    cm_tlv_put(&w, 0x53, big, sizeof big);     /* forces an 82 length inside */
    cm_tlv_close(&w, inner);
    cm_tlv_close(&w, outer);
    assert_int_equal(w.error, CM_OK);
    assert_int_equal(buf[0], 0xDF);
    assert_int_equal(buf[1], 0x20);
    assert_int_equal(buf[2], 0x82);
    assert_int_equal(cm_tlv_validate(buf, w.pos, 4), CM_OK);
    assert_int_equal(cm_tlv_next(buf, w.pos, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0xDF20);
    assert_int_equal(pos, w.pos);
    assert_int_equal(cm_tlv_find(t.value, t.len, 0x87, &u), CM_OK);
    assert_int_equal(u.len, 2);
    assert_int_equal(u.value[0], 0x08);
    assert_int_equal(cm_tlv_find(t.value, t.len, 0xA5, &u), CM_OK);
    assert_int_equal(u.len, 4 + 300);
    assert_int_equal(u.value[0], 0x53);
    assert_int_equal(u.value[1], 0x82);
    assert_int_equal(cm_tlv_header_len(0x9F70, 1), 3);
    assert_int_equal(cm_tlv_header_len(0x53, 200), 3);
    assert_int_equal(cm_tlv_header_len(0x53, 256), 4);
}

static void test_writer_overflow_is_sticky(void **state)
{
    uint8_t buf[8];
    cm_tlv_writer w;
    (void)state;
    cm_tlv_writer_init(&w, buf, sizeof buf);
    cm_tlv_put_u32(&w, 0x81, 1);               /* 6 bytes */
    assert_int_equal(w.error, CM_OK);
    cm_tlv_put_u16(&w, 0x82, 1);               /* 4 more: no room */
    assert_int_equal(w.error, CM_E_SPACE);
    assert_int_equal(w.pos, 6);
    cm_tlv_put_u8(&w, 0x83, 1);                /* would fit, but the error sticks */
    assert_int_equal(w.pos, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_and_long_forms),
        cmocka_unit_test(test_two_byte_length),
        cmocka_unit_test(test_malformed_inputs),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_nested_overrun),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_overflow_is_sticky),
    };
    return cmocka_run_group_tests_name("common: BER-TLV", tests, NULL, NULL);
}
