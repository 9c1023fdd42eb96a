/* test_trace.c: the APDU trace.  A full flow (area set-up, AP load, PIN
 * verify / change / unblock, PIN-rule file reads and writes, key rotations)
 * runs with the trace on, at level 33 and at the C-MAC-only level where PINs
 * and file data travel in clear on the wire; no byte sequence of any key or
 * PIN used, nor of the PIN-rule file's content, may appear in the output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <unistd.h>

#include "host_fixture.h"

typedef struct sink {
    char *text;
    size_t len, cap;
    size_t lines;
} sink;

static void collect(void *user, const char *line)
{
    sink *s = user;
    size_t n = strlen(line);
    if (s->len + n + 2 > s->cap) {
        s->cap = (s->len + n + 2) * 2;
        s->text = realloc(s->text, s->cap);
        assert_non_null(s->text);
    }
    memcpy(s->text + s->len, line, n);
    s->len += n;
    s->text[s->len++] = '\n';
    s->text[s->len] = '\0';
    s->lines++;
}

/* The trace text with everything but hex digits removed, upper case: a
 * secret split by spaces or line breaks is still found. */
static char *hex_only(const sink *s)
{
    char *h = malloc(s->len + 1);
    size_t i, n = 0;
    assert_non_null(h);
    for (i = 0; i < s->len; i++)
        if (isxdigit((unsigned char)s->text[i]))
            h[n++] = (char)toupper((unsigned char)s->text[i]);
    h[n] = '\0';
    return h;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* No 6-byte window of secret (the whole of it if shorter) in the trace: any
 * leak of a key shows more than that, and 6 bytes keep chance matches in a
 * trace of random challenges and MACs out of the way (about 2^-48 per place). */
static void assert_absent(const sink *s, const char *hex, const uint8_t *secret, size_t n)
{
    char h[80];
    size_t i, w = n < 6 ? n : 6;
    for (i = 0; i + w <= n; i++) {
        to_hex(secret + i, w, h);
        if (strstr(hex, h) != NULL) {
            print_error("secret bytes %s found in trace:\n%s\n", h, s->text);
            fail();
        }
    }
    /* and not as raw text (PINs are ASCII digits) */
    {
        char raw[80];
        if (n < sizeof(raw)) {
            memcpy(raw, secret, n);
            raw[n] = '\0';
            if (n >= 4 && strstr(s->text, raw) != NULL)
                fail_msg("secret text found in trace");
        }
    }
}

static void assert_keys_absent(const sink *s, const char *hex, const mnap_keyset *k)
{
    assert_absent(s, hex, k->enc, k->key_len);
    assert_absent(s, hex, k->mac, k->key_len);
    assert_absent(s, hex, k->dek, k->key_len);
}

static void run_flow(uint8_t level, int ap_min_level)
{
    fx f;
    sink s = { NULL, 0, 0, 0 };
    mnap_keyset ap2, region2;
    uint8_t img[8192], aid[6], buf[64], tries;
    size_t n, got;
    char *hex;
    const char *pins[] = { FX_PIN, "98765432", "24681357", "13579" };

    fx_new(&f, NULL, 0);
    mnap_trace_set(f.ctx, MNAP_TRACE_ON, collect, &s);
    fx_keys(&ap2, 0x23, 0xE1, 32);
    fx_keys(&region2, 0x02, 0x5D, 24);

    assert_int_equal(mnap_am_open(f.ctx, &f.transport, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_setup(f.ctx, &f.region), MNAP_OK);
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    n = fx_std_image(img, sizeof(img), 1, ap_min_level);
    assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_OK);
    fx_std_aid(aid, 1);

    assert_int_equal(fx_open_ap(&f, 1, &f.ap, level), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, pins[2], 8, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, FX_PIN, 4, &tries), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_SECRET, 0, buf, 32, &got), MNAP_OK);
    assert_int_equal(mnap_ap_update_binary(f.ctx, FX_EF_SECRET, 0, fx_secret_content + 8, 8),
                     MNAP_OK);
    assert_int_equal(mnap_ap_change_pin(f.ctx, FX_PIN, 4, pins[1], 8, &tries), MNAP_OK);
    assert_int_equal(mnap_ap_rotate_keys(f.ctx, 0x21, &ap2), MNAP_OK);

    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_unblock_pin(f.ctx, aid, 6, pins[3], 5), MNAP_OK);
    assert_int_equal(mnap_area_rotate_keys(f.ctx, 0x01, &region2), MNAP_OK);
    assert_int_equal(mnap_am_open(f.ctx, &region2, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(fx_open_ap(&f, 1, &ap2, level), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, pins[3], 5, &tries), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_SECRET, 0, buf, 32, &got), MNAP_OK);
    assert_int_equal(mnap_close(f.ctx), MNAP_OK);

    /* the trace did run */
    assert_true(s.lines > 40);
    assert_non_null(strstr(s.text, "redacted"));
    hex = hex_only(&s);
    assert_keys_absent(&s, hex, &f.transport);
    assert_keys_absent(&s, hex, &f.region);
    assert_keys_absent(&s, hex, &region2);
    assert_keys_absent(&s, hex, &f.ap);
    assert_keys_absent(&s, hex, &ap2);
    assert_absent(&s, hex, (const uint8_t *)FX_PIN, 4);
    assert_absent(&s, hex, (const uint8_t *)pins[1], 8);
    assert_absent(&s, hex, (const uint8_t *)pins[2], 8);
    assert_absent(&s, hex, (const uint8_t *)pins[3], 5);
    /* contents of the PIN-rule EF, as loaded and as written */
    assert_absent(&s, hex, fx_secret_content, 32);
    free(hex);
    free(s.text);
    mnap_keyset_wipe(&ap2);
    mnap_keyset_wipe(&region2);
    fx_free(&f);
}

static void test_trace_full_level(void **state)
{
    (void)state;
    run_flow(MNAP_LEVEL_FULL, -1);
}

/* C-MAC only: command data travel in clear, so only redaction protects them. */
static void test_trace_cmac_only(void **state)
{
    (void)state;
    run_flow(MNAP_LEVEL_CMAC, 0x01);
}

static void test_trace_off_and_env(void **state)
{
    fx f;
    sink s = { NULL, 0, 0, 0 };
    mnap_area_info info;
    char path[] = "/tmp/mnap-trace-XXXXXX", buf[4096];
    int fd, saved;
    ssize_t r;
    (void)state;
    fx_new(&f, NULL, 0);
    mnap_trace_set(f.ctx, 0, collect, &s);
    assert_int_equal(mnap_area_info_get(f.ctx, &info), MNAP_OK);
    assert_int_equal(s.lines, 0);
    /* MNAP_TRACE=1 turns the trace on for new contexts, to stderr */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    setenv("MNAP_TRACE", "1", 1);
    {
        mnap_ctx *c2;
        mnap_transport t = mnap_inproc_transport(f.ip);
        assert_int_equal(mnap_ctx_new(&c2, &t), MNAP_OK);
        assert_int_equal(mnap_area_info_get(c2, &info), MNAP_OK);
        mnap_ctx_free(c2);
    }
    unsetenv("MNAP_TRACE");
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    r = read(fd, buf, sizeof(buf) - 1);
    assert_true(r > 0);
    buf[r] = '\0';
    close(fd);
    unlink(path);
    assert_non_null(strstr(buf, "mnap: > 80 CA DF 20 00"));
    assert_non_null(strstr(buf, "90 00"));
    fx_free(&f);
    free(s.text);
}

/* File contents: redacted by default; shown for SM-rule reads when asked
 * and no PIN was verified; redacted again once a PIN is verified. */
static void test_trace_file_data_option(void **state)
{
    fx f;
    sink s = { NULL, 0, 0, 0 };
    static uint8_t data[16] = { 0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0x0F, 0xF0,
                                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    uint8_t buf[16];
    size_t got;
    char *hex;
    (void)state;
    fx_active(&f, NULL, 0);
    fx_load_std(&f, 1);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_CMAC), MNAP_E_LEVEL);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_update_binary(f.ctx, FX_EF_BIG, 0, data, 16), MNAP_OK);
    mnap_trace_set(f.ctx, MNAP_TRACE_ON, collect, &s);
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_BIG, 0, buf, 16, &got), MNAP_OK);
    hex = hex_only(&s);
    assert_null(strstr(hex, "A55AC33C96690FF0"));
    free(hex);
    mnap_trace_set(f.ctx, MNAP_TRACE_ON | MNAP_TRACE_FILE_DATA, collect, &s);
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_BIG, 0, buf, 16, &got), MNAP_OK);
    hex = hex_only(&s);
    assert_non_null(strstr(hex, "A55AC33C96690FF0"));
    free(hex);
    s.len = 0;
    s.text[0] = '\0';
    assert_int_equal(mnap_ap_verify_pin(f.ctx, FX_PIN, 4, NULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_BIG, 0, buf, 16, &got), MNAP_OK);
    hex = hex_only(&s);
    assert_null(strstr(hex, "A55AC33C96690FF0"));
    free(hex);
    /* The same when the PIN is verified through mnap_command (a VERIFY the
     * library did not build itself). */
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    s.len = 0;
    s.text[0] = '\0';
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_BIG, 0, buf, 16, &got), MNAP_OK);
    hex = hex_only(&s);
    assert_non_null(strstr(hex, "A55AC33C96690FF0"));     /* shown: no PIN yet */
    free(hex);
    {
        static const uint8_t pin[4] = { '1', '2', '3', '4' };
        mnap_apdu v = { 0x00, 0x20, 0x00, 0x81, pin, 4, 0, 0 };
        assert_int_equal(mnap_command(f.ctx, &v, NULL, 0, NULL), MNAP_OK);
    }
    s.len = 0;
    s.text[0] = '\0';
    assert_int_equal(mnap_ap_read_binary(f.ctx, FX_EF_BIG, 0, buf, 16, &got), MNAP_OK);
    hex = hex_only(&s);
    assert_null(strstr(hex, "A55AC33C96690FF0"));
    free(hex);
    fx_free(&f);     /* traces "session closed" into s */
    free(s.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_full_level),
        cmocka_unit_test(test_trace_cmac_only),
        cmocka_unit_test(test_trace_off_and_env),
        cmocka_unit_test(test_trace_file_data_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
