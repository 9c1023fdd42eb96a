/* test_apdu.c: the APDU layer against a scripted transport: case 1-4 coding
 * (short and extended), GET RESPONSE on 61xx, re-send on 6Cxx, the caller's
 * buffer bound, transport errors, the status word mapping and mnap_strerror. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mnap/mnap.h"
#include "mnap_int.h"

/* --- a scripted transport ------------------------------------------------ */
typedef struct step {
    uint8_t cmd[300];
    size_t cmd_len;
    uint8_t rsp[600];
    size_t rsp_len;
    mnap_err err;
} step;

typedef struct script {
    step s[8];
    size_t n, at;
} script;

static mnap_err script_tx(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                          size_t cap, size_t *rlen)
{
    script *sc = self;
    step *st;
    assert_true(sc->at < sc->n);
    st = &sc->s[sc->at++];
    assert_int_equal(cmd_len, st->cmd_len);
    assert_memory_equal(cmd, st->cmd, cmd_len);
    if (st->err != MNAP_OK)
        return st->err;
    assert_true(st->rsp_len <= cap);
    memcpy(rsp, st->rsp, st->rsp_len);
    *rlen = st->rsp_len;
    return MNAP_OK;
}

static void add(script *sc, const uint8_t *cmd, size_t cl, const uint8_t *rsp, size_t rl,
                mnap_err err)
{
    step *st = &sc->s[sc->n++];
    memcpy(st->cmd, cmd, cl);
    st->cmd_len = cl;
    if (rl)
        memcpy(st->rsp, rsp, rl);
    st->rsp_len = rl;
    st->err = err;
}

static mnap_ctx *ctx_on(script *sc)
{
    mnap_transport t = { sc, script_tx, NULL, NULL, NULL, NULL, NULL };
    mnap_ctx *ctx;
    assert_int_equal(mnap_ctx_new(&ctx, &t), MNAP_OK);
    return ctx;
}

/* --- coding -------------------------------------------------------------- */
static void test_encode_cases(void **state)
{
    uint8_t out[70000], data[300];
    mnap_apdu a, b;
    size_t n;
    (void)state;
    memset(data, 0x5A, sizeof(data));

    memset(&a, 0, sizeof(a));
    a.cla = 0x80; a.ins = 0xCA; a.p1 = 0xDF; a.p2 = 0x20;
    n = mnap__apdu_encode(&a, out, sizeof(out));              /* case 1 */
    assert_int_equal(n, 4);
    a.ne = 256;                                               /* case 2 short */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 5);
    assert_int_equal(out[4], 0x00);
    a.ne = 65536;                                             /* case 2 extended */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 7);
    assert_memory_equal(out + 4, "\x00\x00\x00", 3);
    a.ne = 0x0800;
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_memory_equal(out + 4, "\x00\x08\x00", 3);
    a.ne = 0; a.data = data; a.lc = 3;                        /* case 3 short */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 8);
    assert_int_equal(out[4], 3);
    a.ne = 16;                                                /* case 4 short */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 9);
    assert_int_equal(out[8], 16);
    a.lc = 300; a.ne = 0;                                     /* case 3 extended */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 4 + 3 + 300);
    assert_memory_equal(out + 4, "\x00\x01\x2C", 3);
    a.ne = 65536;                                             /* case 4 extended */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 4 + 3 + 300 + 2);
    assert_memory_equal(out + 307, "\x00\x00", 2);
    assert_int_equal(mnap__apdu_parse(out, n, &b), 0);
    assert_int_equal(b.lc, 300);
    assert_int_equal(b.ne, 65536);
    assert_ptr_equal(b.data, out + 7);
    a.lc = 3; a.ne = 0; a.extended = 1;                       /* forced extended */
    n = mnap__apdu_encode(&a, out, sizeof(out));
    assert_int_equal(n, 4 + 3 + 3);
    /* refusals */
    a.lc = 65536;
    assert_int_equal(mnap__apdu_encode(&a, out, sizeof(out)), 0);
    a.lc = 3; a.ne = 65537;
    assert_int_equal(mnap__apdu_encode(&a, out, sizeof(out)), 0);
    a.ne = 0;
    assert_int_equal(mnap__apdu_encode(&a, out, 9), 0);       /* does not fit */
    assert_int_equal(mnap__apdu_parse(out, 3, &b), -1);
    assert_int_equal(mnap__apdu_parse((const uint8_t *)"\x00\xB0\x00\x00\x05\x01", 6, &b), -1);
}

/* What goes out over T=0: case 4 loses its Le (the answer comes by 61xx and
 * GET RESPONSE), cases 1-3 go whole, extended or malformed APDUs cannot. */
static void test_t0_length(void **state)
{
    static const uint8_t case1[] = { 0x00, 0xA4, 0x04, 0x00 };
    static const uint8_t case2[] = { 0x00, 0xB0, 0x00, 0x00, 0x10 };
    static const uint8_t case3[] = { 0x00, 0x20, 0x00, 0x81, 0x02, 0x31, 0x32 };
    static const uint8_t case4[] = { 0x00, 0xA4, 0x04, 0x00, 0x02, 0xD3, 0x92, 0x00 };
    static const uint8_t case2x[] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00 };
    static const uint8_t case4x[] = { 0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x01, 0xD3, 0x00, 0x00 };
    static const uint8_t bad_lc[] = { 0x00, 0xB0, 0x00, 0x00, 0x05, 0x01 };
    (void)state;

    assert_int_equal(mnap__apdu_t0_len(case1, sizeof(case1)), 4);
    assert_int_equal(mnap__apdu_t0_len(case2, sizeof(case2)), 5);
    assert_int_equal(mnap__apdu_t0_len(case3, sizeof(case3)), 7);
    assert_int_equal(mnap__apdu_t0_len(case4, sizeof(case4)), 7);
    assert_int_equal(mnap__apdu_t0_len(case2x, sizeof(case2x)), 0);
    assert_int_equal(mnap__apdu_t0_len(case4x, sizeof(case4x)), 0);
    assert_int_equal(mnap__apdu_t0_len(bad_lc, sizeof(bad_lc)), 0);
    assert_int_equal(mnap__apdu_t0_len(case1, 3), 0);
}

/* n bytes placed right before an unreadable page: a read past them faults
 * (SIGSEGV) in any build, not only under ASan.  *map / *maplen to munmap. */
static uint8_t *at_page_end(const uint8_t *b, size_t n, void **map, size_t *maplen)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + pg, pg, PROT_NONE), 0);
    memcpy(m + pg - n, b, n);
    *map = m;
    *maplen = 2 * pg;
    return m + pg - n;
}

static void trace_sink(void *user, const char *line)
{
    (*(unsigned *)user)++;
    (void)line;
}

/* Issue #14 item 3: a 6-byte command whose byte 4 is 00 is malformed (an
 * extended Lc needs 3 bytes, an extended Le with no data 3 bytes too): the
 * parser must refuse it without reading a 7th byte.  Reached from
 * mnap_transmit with the trace on (xchg.c -> trace.c), and by the 6Cxx
 * re-send; the command still goes out as it is (mnap_transmit sends raw). */
static void test_parse_six_bytes_no_overread(void **state)
{
    static const uint8_t six[6] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x01 };
    script sc = { .n = 0 };
    uint8_t out[16];
    mnap_apdu a;
    void *map;
    size_t maplen, n, off, dlen;
    uint16_t sw = 0;
    unsigned lines = 0;
    const uint8_t *cmd;
    mnap_ctx *ctx;
    (void)state;

    cmd = at_page_end(six, sizeof(six), &map, &maplen);
    assert_int_equal(mnap__apdu_parse(cmd, 6, &a), -1);
    assert_int_equal(mnap__apdu_t0_len(cmd, 6), 0);
    mnap__cmd_data_span(cmd, 6, &off, &dlen);
    assert_int_equal(off, 4);                       /* unparseable: all after the header */
    assert_int_equal(dlen, 2);
    /* The same shape one byte shorter and longer is fine. */
    assert_int_equal(mnap__apdu_parse(cmd + 1, 5, &a), 0);   /* B0 00 00 00 01: Le 1 */

    add(&sc, six, 6, (const uint8_t *)"\x6C\x04", 2, MNAP_OK);
    ctx = ctx_on(&sc);
    mnap_trace_set(ctx, MNAP_TRACE_ON, trace_sink, &lines);
    /* A 6Cxx answer cannot be re-sent for a command that does not parse. */
    assert_int_equal(mnap_transmit(ctx, cmd, 6, out, sizeof(out), &n, &sw), MNAP_E_PARAM);
    assert_int_equal(sc.at, 1);
    assert_int_equal(lines, 2);                     /* the command and the 6C04 answer */
    mnap_ctx_free(ctx);
    munmap(map, maplen);
}

/* --- exchange ------------------------------------------------------------ */
static void test_get_response_chain(void **state)
{
    script sc = { .n = 0 };
    uint8_t out[600], r1[2] = { 0x61, 0x00 }, r2[258], r3[12];
    size_t n;
    uint16_t sw;
    mnap_ctx *ctx;
    (void)state;
    memset(r2, 0xA1, 256);
    r2[256] = 0x61; r2[257] = 0x0A;
    memset(r3, 0xB2, 10);
    r3[10] = 0x90; r3[11] = 0x00;
    add(&sc, (const uint8_t *)"\x80\xCA\xDF\x21\x00", 5, r1, 2, MNAP_OK);
    add(&sc, (const uint8_t *)"\x00\xC0\x00\x00\x00", 5, r2, 258, MNAP_OK);
    add(&sc, (const uint8_t *)"\x00\xC0\x00\x00\x0A", 5, r3, 12, MNAP_OK);
    ctx = ctx_on(&sc);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x80\xCA\xDF\x21\x00", 5, out,
                                   sizeof(out), &n, &sw), MNAP_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(n, 266);
    assert_int_equal(out[0], 0xA1);
    assert_int_equal(out[255], 0xA1);
    assert_int_equal(out[256], 0xB2);
    assert_int_equal(out[265], 0xB2);
    assert_int_equal(mnap_last_sw(ctx), 0x9000);
    assert_int_equal(sc.at, 3);
    mnap_ctx_free(ctx);
}

static void test_buffer_bound(void **state)
{
    script sc = { .n = 0 };
    uint8_t out[100], r[202];
    size_t n;
    uint16_t sw = 0;
    mnap_ctx *ctx;
    (void)state;
    memset(r, 0x33, 200);
    r[200] = 0x90; r[201] = 0x00;
    add(&sc, (const uint8_t *)"\x00\xB0\x00\x00\xC8", 5, r, 202, MNAP_OK);
    ctx = ctx_on(&sc);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x00\xB0\x00\x00\xC8", 5, out, 100,
                                   &n, &sw), MNAP_E_BUFFER);
    mnap_ctx_free(ctx);
}

static void test_wrong_le_resend(void **state)
{
    script sc = { .n = 0 };
    uint8_t out[64], r1[2] = { 0x6C, 0x08 }, r2[10];
    size_t n;
    uint16_t sw;
    mnap_ctx *ctx;
    (void)state;
    memset(r2, 0x11, 8);
    r2[8] = 0x90; r2[9] = 0x00;
    add(&sc, (const uint8_t *)"\x00\xB2\x01\x04\x00", 5, r1, 2, MNAP_OK);
    add(&sc, (const uint8_t *)"\x00\xB2\x01\x04\x08", 5, r2, 10, MNAP_OK);
    ctx = ctx_on(&sc);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x00\xB2\x01\x04\x00", 5, out,
                                   sizeof(out), &n, &sw), MNAP_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(n, 8);
    assert_int_equal(sc.at, 2);
    mnap_ctx_free(ctx);
}

/* The 6Cxx re-send without a heap block: a command whose data needs the
 * extended form is coded again in a working buffer (through mnap_transmit
 * and through mnap__send), and a re-send answered 61xx goes on with GET
 * RESPONSE; a second 6Cxx is the final status word. */
static void test_wrong_le_resend_extended_then_61xx(void **state)
{
    static uint8_t cmd[4 + 3 + 256 + 2], again[4 + 3 + 256 + 2];
    script sc = { .n = 0 };
    uint8_t out[64], r2[4] = { 0x22, 0x22, 0x61, 0x03 }, r3[5] = { 0x33, 0x33, 0x33, 0x90, 0x00 };
    size_t n;
    uint16_t sw;
    mnap_ctx *ctx;
    mnap_apdu a;
    (void)state;

    memcpy(cmd, "\x00\xD6\x00\x00\x00\x01\x00", 7);
    memset(cmd + 7, 0x5A, 256);
    cmd[263] = 0x00;
    cmd[264] = 0x00;                                   /* Le 00 00 */
    memcpy(again, cmd, sizeof(again));
    again[264] = 0x05;                                 /* Le 00 05 */
    add(&sc, cmd, sizeof(cmd), (const uint8_t *)"\x6C\x05", 2, MNAP_OK);
    add(&sc, again, sizeof(again), r2, sizeof(r2), MNAP_OK);
    add(&sc, (const uint8_t *)"\x00\xC0\x00\x00\x03", 5, r3, sizeof(r3), MNAP_OK);
    ctx = ctx_on(&sc);
    assert_int_equal(mnap_transmit(ctx, cmd, sizeof(cmd), out, sizeof(out), &n, &sw), MNAP_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "\x22\x22\x33\x33\x33", 5);
    assert_int_equal(sc.at, 3);

    /* The same through the plain send path (the command coded in ctx->cmd). */
    sc.n = 0;
    sc.at = 0;
    add(&sc, cmd, sizeof(cmd), (const uint8_t *)"\x6C\x05", 2, MNAP_OK);
    add(&sc, again, sizeof(again), (const uint8_t *)"\x6C\x02", 2, MNAP_OK);
    mnap__apdu_init(&a, 0x00, 0xD6, 0x00, 0x00);
    a.data = cmd + 7;
    a.lc = 256;
    a.ne = 65536;
    assert_int_equal(mnap__send(ctx, &a, out, sizeof(out), &n, &sw), MNAP_OK);
    assert_int_equal(sw, 0x6C02);                     /* re-sent once only */
    assert_int_equal(n, 0);
    assert_int_equal(sc.at, 2);
    mnap_ctx_free(ctx);
}

static void test_transport_errors(void **state)
{
    script sc = { .n = 0 };
    uint8_t out[16], one[1] = { 0x90 };
    size_t n;
    uint16_t sw;
    mnap_ctx *ctx;
    mnap_apdu a;
    (void)state;
    add(&sc, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, NULL, 0, MNAP_E_CARD_RESET);
    add(&sc, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, NULL, 0, MNAP_E_CARD_REMOVED);
    add(&sc, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, one, 1, MNAP_OK);
    add(&sc, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, (const uint8_t *)"\x6A\x88", 2, MNAP_OK);
    ctx = ctx_on(&sc);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, out, 16, &n,
                                   &sw), MNAP_E_CARD_RESET);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, out, 16, &n,
                                   &sw), MNAP_E_CARD_REMOVED);
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x80\xCA\xDF\x20\x00", 5, out, 16, &n,
                                   &sw), MNAP_E_PROTOCOL);
    memset(&a, 0, sizeof(a));
    a.cla = 0x80; a.ins = 0xCA; a.p1 = 0xDF; a.p2 = 0x20; a.ne = 256;
    assert_int_equal(mnap_command(ctx, &a, out, sizeof(out), &n), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_last_sw(ctx), 0x6A88);
    /* no session: session-only calls are refused locally */
    assert_int_equal(mnap_area_lock(ctx), MNAP_E_STATE);
    {
        uint8_t tries;
        assert_int_equal(mnap_ap_verify_pin(ctx, "1234", 4, &tries), MNAP_E_STATE);
    }
    assert_int_equal(mnap_transmit(ctx, (const uint8_t *)"\x80", 1, out, 16, &n, &sw), MNAP_E_PARAM);
    mnap_ctx_free(ctx);
}

/* Every status word of PROTOCOL.md has its own name, and every name a text. */
static void test_sw_map_and_strings(void **state)
{
    static const struct { uint16_t sw; mnap_err e; } map[] = {
        { 0x9000, MNAP_OK }, { 0x6300, MNAP_E_AUTH_FAILED }, { 0x63C2, MNAP_E_PIN_WRONG },
        { 0x63C0, MNAP_E_PIN_BLOCKED }, { 0x6310, MNAP_E_MORE_DATA }, { 0x6581, MNAP_E_MEMORY },
        { 0x6700, MNAP_E_WRONG_LENGTH }, { 0x6881, MNAP_E_LOGICAL_CHANNEL },
        { 0x6882, MNAP_E_SM_NOT_SUPPORTED }, { 0x6883, MNAP_E_LAST_CMD },
        { 0x6884, MNAP_E_CHAINING }, { 0x6981, MNAP_E_FILE_TYPE }, { 0x6982, MNAP_E_SECURITY },
        { 0x6983, MNAP_E_PIN_BLOCKED }, { 0x6984, MNAP_E_PIN_NOT_SET },
        { 0x6985, MNAP_E_CONDITIONS }, { 0x6986, MNAP_E_NO_EF }, { 0x6988, MNAP_E_SM_DATA },
        { 0x6A80, MNAP_E_WRONG_DATA }, { 0x6A81, MNAP_E_NOT_ACTIVE }, { 0x6A82, MNAP_E_NOT_FOUND },
        { 0x6A83, MNAP_E_RECORD_NOT_FOUND }, { 0x6A84, MNAP_E_NO_SPACE }, { 0x6A86, MNAP_E_P1P2 },
        { 0x6A88, MNAP_E_REF_NOT_FOUND }, { 0x6A89, MNAP_E_EXISTS }, { 0x6B00, MNAP_E_OFFSET },
        { 0x6C10, MNAP_E_WRONG_LE }, { 0x6D00, MNAP_E_INS }, { 0x6E00, MNAP_E_CLA },
        { 0x6F00, MNAP_E_CARD_STATUS },
    };
    size_t i;
    int e;
    (void)state;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_int_equal(mnap_err_from_sw(map[i].sw), map[i].e);
    for (e = 0; e >= -120; e--) {
        const char *s = mnap_strerror((mnap_err)e);
        assert_non_null(s);
        assert_true(strlen(s) > 5);
    }
    assert_string_equal(mnap_strerror((mnap_err)-999), "unknown error");
    assert_string_equal(mnap_strerror(MNAP_E_PIN_BLOCKED), "the PIN is blocked (6983)");
    assert_string_equal(mnap_err_name(MNAP_E_CARD_MUTE), "MNAP_E_CARD_MUTE");
    assert_string_equal(mnap_err_name(MNAP_OK), "MNAP_OK");
    assert_null(mnap_err_name((mnap_err)-999));
    /* Every value with a name has its own sentence, not the generic one. */
    for (e = 0; e >= -120; e--)
        if (mnap_err_name((mnap_err)e) != NULL)
            assert_string_not_equal(mnap_strerror((mnap_err)e), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_cases),
        cmocka_unit_test(test_t0_length),
        cmocka_unit_test(test_parse_six_bytes_no_overread),
        cmocka_unit_test(test_get_response_chain),
        cmocka_unit_test(test_buffer_bound),
        cmocka_unit_test(test_wrong_le_resend),
        cmocka_unit_test(test_wrong_le_resend_extended_then_61xx),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_sw_map_and_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
