/* test_transport.c: libmnap over the three transports of PROTOCOL.md §10,
 * against the card runtime in process (mnap_inproc_set_transport).  Over T=0
 * (the transport reports MNAP_PROTO_T0) the library never sends an extended
 * APDU: it reads a large file in pieces of at most 256 bytes, writes in
 * pieces whose wrapped data fits one short Lc, follows 61xx with GET
 * RESPONSE, receives the AP list and the security log (longer than 256 bytes)
 * through 61xx / 6310, and sends LOAD AP blocks longer than 255 bytes with
 * ISO command chaining.  Over T=1 and contactless the same flow uses
 * extended APDUs, so the counts tell the modes apart.  A recording transport
 * between the library and the card sees every command. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_fixture.h"

/* --- a transport that records what the library sends --------------------- */
typedef struct rec {
    mnap_transport inner;
    unsigned apdus, extended, chained, get_response, case4_le;
    size_t max_lc, max_rsp_data;
} rec;

static mnap_err rec_tx(void *self, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
                       size_t *rlen)
{
    rec *r = self;
    mnap_err rc;

    r->apdus++;
    assert_true(len >= 4);
    if (len > 5 && cmd[4] == 0x00) {
        r->extended++;
        if (len > 7 && ((size_t)cmd[5] << 8 | cmd[6]) > r->max_lc)
            r->max_lc = (size_t)cmd[5] << 8 | cmd[6];
    } else if (len > 5) {
        if (cmd[4] > r->max_lc)
            r->max_lc = cmd[4];
        if (len == 6u + cmd[4])
            r->case4_le++;
    }
    if (cmd[0] & 0x10)
        r->chained++;
    if (cmd[1] == 0xC0)
        r->get_response++;
    rc = r->inner.transmit(r->inner.self, cmd, len, rsp, cap, rlen);
    if (rc == MNAP_OK && *rlen - 2 > r->max_rsp_data)
        r->max_rsp_data = *rlen - 2;
    return rc;
}

static mnap_err rec_reconnect(void *self)
{
    rec *r = self;
    return r->inner.reconnect(r->inner.self);
}

static int rec_protocol(void *self)
{
    rec *r = self;
    return r->inner.protocol != NULL ? r->inner.protocol(r->inner.self) : MNAP_PROTO_T1;
}

/* --- the flow ------------------------------------------------------------- */
#define BIG 3000
#define NAPS 12

static uint8_t big[BIG];

static void big_fill(void)
{
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 13 + (i >> 8));
}

/* AP idx: AID D2 76 00 01 02 idx; idx 0 has a 3000-byte EF with content
 * (an image of more than 3000 bytes: two LOAD AP blocks), the others one
 * small EF. */
static size_t image(uint8_t *out, size_t cap, uint8_t idx)
{
    const uint8_t aid[6] = { 0xD2, 0x76, 0x00, 0x01, 0x02, idx };
    fx_ef bigef[2] = {
        { 0x0B01, 1, 0x01, BIG, 0, 0, 0x00, 0x00, big, BIG },
        { 0x0201, 3, 0x02, 0, 16, 3, 0x00, 0x00, NULL, 0 },
    };
    fx_ef small[1] = { { 0x0101, 1, 0x01, 16, 0, 0, 0x00, 0x00, NULL, 0 } };
    return idx == 0 ? fx_image(out, cap, aid, 6, FX_PIN, -1, bigef, 2)
                    : fx_image(out, cap, aid, 6, FX_PIN, -1, small, 1);
}

typedef struct counts {
    unsigned apdus, extended, chained, get_response;
    size_t max_lc;
} counts;

static void flow(uint8_t transport, rec *r)
{
    static uint8_t img[8192], got[BIG];
    mnap_inproc *ip;
    mnap_ctx *ctx;
    mnap_transport it, t;
    mnap_keyset tk, region, apk;
    mnap_ap_entry list[NAPS + 2];
    mnap_log_entry log[40];
    uint8_t aid[6] = { 0xD2, 0x76, 0x00, 0x01, 0x02, 0x00 }, recd[16];
    static const uint8_t k40[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                     0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F };
    size_t n, cnt, i;

    big_fill();
    assert_int_equal(mnap_inproc_new(&ip, NULL, NULL, 0, 0), MNAP_OK);
    assert_int_equal(mnap_inproc_set_transport(ip, transport), MNAP_OK);
    it = mnap_inproc_transport(ip);
    assert_int_equal(it.protocol(it.self),
                     transport == MNAP_INPROC_T0 ? MNAP_PROTO_T0 : MNAP_PROTO_T1);
    memset(r, 0, sizeof(*r));
    r->inner = it;
    memset(&t, 0, sizeof(t));
    t.self = r;
    t.transmit = rec_tx;
    t.reconnect = rec_reconnect;
    t.protocol = rec_protocol;
    assert_int_equal(mnap_ctx_new(&ctx, &t), MNAP_OK);
    assert_int_equal(mnap_keyset_set(&tk, 0xFF, k40, k40, k40, 16, 0), MNAP_OK);
    fx_keys(&region, 0x01, 0x10, 16);
    fx_keys(&apk, 0x21, 0x90, 16);

    /* Area set-up, then NAPS APs: the first one's image in blocks of the
     * card's 2048 bytes (chained over T=0), the others small. */
    assert_int_equal(mnap_am_open(ctx, &tk, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_setup(ctx, &region), MNAP_OK);
    assert_int_equal(mnap_am_open(ctx, &region, MNAP_LEVEL_FULL), MNAP_OK);
    n = image(img, sizeof(img), 0);
    assert_true(n > BIG);
    assert_int_equal(mnap_area_load_ap(ctx, img, n, &apk, NULL), MNAP_OK);
    for (i = 1; i < NAPS; i++) {
        n = image(img, sizeof(img), (uint8_t)i);
        assert_int_equal(mnap_area_load_ap(ctx, img, n, &apk, NULL), MNAP_OK);
    }
    /* The list (12 entries, more than 256 bytes) and the log (the set-up's
     * key change and state change, 12 loads: more than 256 bytes). */
    assert_int_equal(mnap_area_list_aps(ctx, list, NAPS + 2, &cnt), MNAP_OK);
    assert_int_equal(cnt, NAPS);
    for (i = 0; i < NAPS; i++) {
        assert_int_equal(list[i].aid_len, 6);
        assert_int_equal(list[i].aid[5], i);
    }
    assert_int_equal(mnap_area_read_log(ctx, log, 40, &cnt), MNAP_OK);
    assert_int_equal(cnt, 2 + NAPS);
    for (i = 0; i < NAPS; i++) {                          /* newest first */
        assert_int_equal(log[i].event, 0x05);             /* AP_LOADED */
        assert_int_equal(log[i].aid_len, 6);
        assert_int_equal(log[i].aid[5], NAPS - 1 - i);
    }
    assert_int_equal(log[NAPS].event, 0x08);              /* AREA_STATE (ACTIVE) */
    assert_int_equal(log[NAPS + 1].event, 0x07);          /* KEY_CHANGED */

    /* The kiosk side: the large file read whole, written in part, read back;
     * a record written and read. */
    assert_int_equal(mnap_ap_open(ctx, aid, 6, &apk, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(ctx, 0x0B01, 0, got, BIG, &n), MNAP_OK);
    assert_int_equal(n, BIG);
    assert_memory_equal(got, big, BIG);
    /* A piece that ends inside the file, into a buffer of its size: over
     * T=0 a wrapped READ BINARY travels without its Le, and the card answers
     * up to 256 bytes whatever was asked. */
    {
        uint8_t *part = malloc(700);
        assert_non_null(part);
        assert_int_equal(mnap_ap_read_binary(ctx, 0x0B01, 1001, part, 700, &n), MNAP_OK);
        assert_int_equal(n, 700);
        assert_memory_equal(part, big + 1001, 700);
        assert_int_equal(mnap_ap_read_binary(ctx, 0x0B01, 5, part, 3, &n), MNAP_OK);
        assert_int_equal(n, 3);
        assert_memory_equal(part, big + 5, 3);
        free(part);
    }
    for (i = 0; i < 700; i++)
        big[100 + i] = (uint8_t)~big[100 + i];
    assert_int_equal(mnap_ap_update_binary(ctx, 0x0B01, 100, big + 100, 700), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(ctx, 0x0B01, 0, got, BIG, &n), MNAP_OK);
    assert_int_equal(n, BIG);
    assert_memory_equal(got, big, BIG);
    memset(recd, 0x5C, sizeof(recd));
    assert_int_equal(mnap_ap_append_record(ctx, 0x0201, recd, 16), MNAP_OK);
    recd[0] = 0xA5;
    assert_int_equal(mnap_ap_update_record(ctx, 0x0201, 1, recd, 16), MNAP_OK);
    memset(got, 0, 16);
    assert_int_equal(mnap_ap_read_record(ctx, 0x0201, 1, got, 16, &n), MNAP_OK);
    assert_int_equal(n, 16);
    assert_memory_equal(got, recd, 16);
    /* Into a smaller buffer: the record's first bytes, as Ne says. */
    {
        uint8_t *part = malloc(5);
        assert_non_null(part);
        assert_int_equal(mnap_ap_read_record(ctx, 0x0201, 1, part, 5, &n), MNAP_OK);
        assert_int_equal(n, 5);
        assert_memory_equal(part, recd, 5);
        free(part);
    }
    assert_int_equal(mnap_close(ctx), MNAP_OK);

    mnap_ctx_free(ctx);
    mnap_inproc_free(ip);
    mnap_keyset_wipe(&tk);
    mnap_keyset_wipe(&region);
    mnap_keyset_wipe(&apk);
}

static void test_t0_flow(void **state)
{
    rec r;
    (void)state;

    flow(MNAP_INPROC_T0, &r);
    assert_int_equal(r.extended, 0);
    assert_true(r.max_lc <= 255);
    assert_true(r.max_rsp_data <= 256);
    /* The 3000-byte image: two blocks of up to 2048 bytes, in segments of
     * 255; every case-4 answer and the long objects by GET RESPONSE. */
    assert_true(r.chained >= 8);
    assert_true(r.get_response >= 20);
}

static void test_t1_flow(void **state)
{
    rec r;
    (void)state;

    flow(MNAP_INPROC_T1, &r);
    assert_true(r.extended >= 4);      /* load blocks, list, log, reads, the write */
    assert_true(r.max_lc > 255);
    assert_int_equal(r.chained, 0);
}

static void test_contactless_flow(void **state)
{
    rec r;
    (void)state;

    flow(MNAP_INPROC_CL, &r);
    assert_true(r.extended >= 4);
    assert_true(r.max_lc > 255);
    assert_int_equal(r.chained, 0);
}

/* Over T=0, what no short APDU can carry is refused before anything is
 * sent (the session goes on); a command asking for more than 256 bytes is
 * sent with Le 00 and an object longer than that still comes whole. */
static void test_t0_limits(void **state)
{
    fx f;
    mnap_transport t;
    uint8_t recb[250], out[4096], aid[6];
    mnap_apdu a;
    uint64_t before;
    size_t n;
    (void)state;

    fx_active(&f, NULL, 0);
    assert_int_equal(mnap_inproc_set_transport(f.ip, MNAP_INPROC_T0), MNAP_OK);
    {
        /* Record EFs of 250, 239, 240, 247 and 248-byte records; minimum
         * level 01 so that a C-MAC-only session opens. */
        static uint8_t img[1024];
        fx_ef e[5] = {
            { 0x0201, 1, 0x02, 0, 250, 2, 0x00, 0x00, NULL, 0 },
            { 0x0202, 2, 0x02, 0, 239, 2, 0x00, 0x00, NULL, 0 },
            { 0x0203, 3, 0x02, 0, 240, 2, 0x00, 0x00, NULL, 0 },
            { 0x0204, 4, 0x02, 0, 247, 2, 0x00, 0x00, NULL, 0 },
            { 0x0205, 5, 0x02, 0, 248, 2, 0x00, 0x00, NULL, 0 },
        };
        fx_std_aid(aid, 9);
        n = fx_image(img, sizeof(img), aid, 6, FX_PIN, 0x01, e, 5);
        assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_OK);
    }
    /* GET DATA DF20 asking for 65536 bytes goes as a short case-4 APDU. */
    memset(&a, 0, sizeof(a));
    a.cla = 0x80; a.ins = 0xCA; a.p1 = 0xDF; a.p2 = 0x20; a.ne = 65536;
    assert_int_equal(mnap_command(f.ctx, &a, out, sizeof(out), &n), MNAP_OK);
    assert_true(n > 20);
    assert_int_equal(out[0], 0xDF);
    assert_int_equal(out[1], 0x20);
    /* At level 33 (C-DECRYPTION) 239 plain bytes make a wrapped Lc of 248;
     * 240 would make 264. */
    memset(recb, 0x77, sizeof(recb));
    assert_int_equal(mnap_ap_open(f.ctx, aid, 6, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0202, recb, 239), MNAP_OK);
    before = mnap_inproc_apdus(f.ip);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0203, recb, 240), MNAP_E_PARAM);
    /* The SELECT EF went out (answered 61 08, then GET RESPONSE), the
     * APPEND RECORD did not; the session goes on. */
    assert_int_equal(mnap_inproc_apdus(f.ip), before + 2);
    assert_int_equal(mnap_session_open(f.ctx, NULL), 1);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0201, recb, 250), MNAP_E_PARAM);
    assert_int_equal(mnap_ap_read_record(f.ctx, 0x0202, 1, out, sizeof(out), &n), MNAP_OK);
    assert_int_equal(n, 239);
    assert_memory_equal(out, recb, 239);
    /* With C-MAC only, 247 bytes fit (Lc 255), 248 do not. */
    assert_int_equal(mnap_ap_open(f.ctx, aid, 6, &f.ap, MNAP_LEVEL_CMAC), MNAP_OK);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0204, recb, 247), MNAP_OK);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0205, recb, 248), MNAP_E_PARAM);
    /* Over T=1 they all go (extended Lc). */
    assert_int_equal(mnap_inproc_set_transport(f.ip, MNAP_INPROC_T1), MNAP_OK);
    t = mnap_inproc_transport(f.ip);
    assert_int_equal(t.protocol(t.self), MNAP_PROTO_T1);
    assert_int_equal(mnap_ap_open(f.ctx, aid, 6, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0201, recb, 250), MNAP_OK);
    assert_int_equal(mnap_ap_append_record(f.ctx, 0x0203, recb, 240), MNAP_OK);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t0_flow),
        cmocka_unit_test(test_t1_flow),
        cmocka_unit_test(test_contactless_flow),
        cmocka_unit_test(test_t0_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
