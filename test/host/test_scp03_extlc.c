/* test_scp03_extlc.c: libmnap's APDU layer codes the C-MAC over Lc exactly as
 * the APDU that carries it (PROTOCOL.md §3).  Replays
 * vectors/scp03_extended_lc.json through mnap_command in a session whose keys
 * and MAC chain are the vectors': every command must go out as exactly the
 * stated wrapped_apdu, including the step a short APDU could carry but the
 * caller asks extended (mnap_apdu.extended).  A chained LOAD AP keeps the
 * shortest Lc for its C-MAC even when the caller asked for extended coding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mnap/mnap.h"
#include "mnap_int.h"
#include "mt_json.h"
#include "cm_err.h"
#include "cm_scp03.h"
#include "test_aes.h"

#define BUF 1024

/* The card's half: checks each command against the expected bytes (when
 * given), unwraps it with its own coding, and answers 9000 with an R-MAC. */
typedef struct peer {
    cm_scp03 card;
    const uint8_t *want;
    size_t want_len;
    /* chained commands: the segments' data joined */
    uint8_t chain[BUF];
    size_t chain_len;
    unsigned segments;
    uint8_t last_cla;
} peer;

static mnap_err peer_tx(void *self, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
                        size_t *rlen)
{
    peer *p = self;
    uint8_t data[BUF];
    size_t dl, doff, pl, n;
    int ext;

    assert_true(len >= 5);
    if (p->want != NULL) {
        assert_int_equal(len, p->want_len);
        assert_memory_equal(cmd, p->want, len);
    }
    ext = cmd[4] == 0 && len >= 7;
    doff = ext ? 7 : 5;
    dl = ext ? (((size_t)cmd[5] << 8) | cmd[6]) : cmd[4];
    assert_true(doff + dl <= len);
    p->last_cla = cmd[0];
    if (cmd[0] & 0x10) {
        /* a segment before the last: kept, 9000, no R-MAC */
        memcpy(p->chain + p->chain_len, cmd + doff, dl);
        p->chain_len += dl;
        p->segments++;
        rsp[0] = 0x90;
        rsp[1] = 0x00;
        *rlen = 2;
        return MNAP_OK;
    }
    memcpy(data, p->chain, p->chain_len);
    memcpy(data + p->chain_len, cmd + doff, dl);
    n = p->chain_len + dl;
    /* a chained command: the shortest Lc of the whole; else its own coding */
    assert_int_equal(cm_scp03_unwrap_command(&p->card, cmd, data, n, p->segments ? 0 : ext, &pl),
                     CM_OK);
    if (p->segments)
        p->segments++;
    p->chain_len = 0;
    assert_int_equal(cm_scp03_wrap_response(&p->card, rsp, 0, cap - 2, 0x9000, rlen), CM_OK);
    rsp[*rlen] = 0x90;
    rsp[*rlen + 1] = 0x00;
    *rlen += 2;
    return MNAP_OK;
}

typedef struct hexbuf {
    uint8_t b[BUF];
    size_t n;
} hexbuf;

static void need_hex(mj_doc *d, int obj, const char *key, hexbuf *out)
{
    int t = mj_get(d, obj, key);
    if (t < 0)
        fail_msg("vector field %s missing", key);
    assert_int_equal(mj_hex(d, t, out->b, sizeof out->b, &out->n), 0);
}

/* A context whose session is the vectors' (keys from the static key and
 * both challenges, level 33, the stated MAC chain). */
static mnap_ctx *session_ctx(peer *p, mj_doc *d, mnap_transport *t)
{
    cm_aes aes = test_aes();
    hexbuf key, hc, cc, chain0;
    mnap_ctx *ctx;

    need_hex(d, 0, "static_key_enc_mac_dek", &key);
    need_hex(d, 0, "host_challenge", &hc);
    need_hex(d, 0, "card_challenge", &cc);
    need_hex(d, 0, "chaining_value_before_first_step", &chain0);
    t->self = p;
    t->transmit = peer_tx;
    assert_int_equal(mnap_ctx_new(&ctx, t), MNAP_OK);
    assert_int_equal(cm_scp03_init(&ctx->scp, &ctx->aes, key.b, key.b, key.n, hc.b, cc.b), 0);
    ctx->scp.level = 0x33;
    memcpy(ctx->scp.mac_chain, chain0.b, 16);
    ctx->open = true;
    ctx->level = 0x33;
    memcpy(ctx->dek, key.b, key.n);
    ctx->dek_len = (uint8_t)key.n;
    assert_int_equal(cm_scp03_init(&p->card, &aes, key.b, key.b, key.n, hc.b, cc.b), 0);
    p->card.level = 0x33;
    memcpy(p->card.mac_chain, chain0.b, 16);
    return ctx;
}

static void test_vectors_through_mnap_command(void **state)
{
    static peer p;
    mnap_transport t;
    mj_doc d;
    mnap_ctx *ctx;
    int steps, i, n;
    (void)state;

    memset(&p, 0, sizeof p);
    memset(&t, 0, sizeof t);
    assert_int_equal(mj_load_file(&d, "vectors/scp03_extended_lc.json"), 0);
    ctx = session_ctx(&p, &d, &t);
    steps = mj_get(&d, 0, "steps");
    n = mj_size(&d, steps);
    assert_int_equal(n, 6);
    for (i = 0; i < n; i++) {
        int st = mj_array_at(&d, steps, i), pl = mj_get(&d, st, "plain");
        hexbuf want, after, h;
        mnap_apdu a;
        long long ne = 0;
        bool ext = false;
        uint8_t out[64];
        size_t out_len = 0;

        need_hex(&d, st, "wrapped_apdu", &want);
        need_hex(&d, st, "chaining_value_after", &after);
        memset(&a, 0, sizeof a);
        need_hex(&d, pl, "cla", &h);
        a.cla = h.b[0];
        need_hex(&d, pl, "ins", &h);
        a.ins = h.b[0];
        need_hex(&d, pl, "p1", &h);
        a.p1 = h.b[0];
        need_hex(&d, pl, "p2", &h);
        a.p2 = h.b[0];
        {
            static hexbuf data;
            need_hex(&d, pl, "data", &data);
            a.data = data.n ? data.b : NULL;
            a.lc = data.n;
            if (mj_kind(&d, mj_get(&d, pl, "ne")) == MJ_PRIMITIVE &&
                mj_int(&d, mj_get(&d, pl, "ne"), &ne) != 0)
                ne = 0;
            a.ne = (size_t)ne;
            assert_int_equal(mj_bool(&d, mj_get(&d, st, "extended"), &ext), 0);
            /* what a caller asks: extended where the step is, short
             * otherwise (the library extends by itself for Ne > 256) */
            a.extended = ext && a.lc <= 255 && a.ne <= 256;
            p.want = want.b;
            p.want_len = want.n;
            assert_int_equal(mnap_command(ctx, &a, out, sizeof out, &out_len), MNAP_OK);
        }
        assert_int_equal(out_len, 0);
        assert_memory_equal(ctx->scp.mac_chain, after.b, 16);
        assert_memory_equal(p.card.mac_chain, after.b, 16);
    }
    mnap_ctx_free(ctx);
    mj_free(&d);
}

/* LOAD AP cut into chained segments: wrapped once over the whole, with the
 * shortest Lc in the C-MAC, whatever coding the caller asked for. */
static void test_chained_keeps_shortest_lc(void **state)
{
    static peer p;
    static uint8_t block[200];
    mnap_transport t;
    mj_doc d;
    mnap_ctx *ctx;
    mnap_apdu a;
    uint8_t out[64];
    size_t out_len = 0;
    uint16_t sw = 0;
    int ext;
    (void)state;

    memset(&p, 0, sizeof p);
    memset(&t, 0, sizeof t);
    assert_int_equal(mj_load_file(&d, "vectors/scp03_extended_lc.json"), 0);
    ctx = session_ctx(&p, &d, &t);
    memset(block, 0xA5, sizeof block);
    for (ext = 0; ext <= 1; ext++) {
        memset(&a, 0, sizeof a);
        a.cla = 0x80;
        a.ins = 0xE8;
        a.p1 = 0x80;
        a.p2 = 0x00;
        a.data = block;
        a.lc = sizeof block;
        a.extended = ext;
        p.want = NULL;
        p.segments = 0;
        assert_int_equal(mnap__send_chained(ctx, &a, 64, out, sizeof out, &out_len, &sw), MNAP_OK);
        assert_int_equal(sw, 0x9000);
        assert_int_equal(p.segments, 4);          /* 216 wrapped bytes in 64-byte pieces */
        assert_int_equal(p.last_cla, 0x84);
        assert_true(ctx->open);
        assert_memory_equal(ctx->scp.mac_chain, p.card.mac_chain, 16);
    }
    mnap_ctx_free(ctx);
    mj_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_through_mnap_command),
        cmocka_unit_test(test_chained_keeps_shortest_lc),
    };
    return cmocka_run_group_tests_name("host: SCP03 C-MAC over extended APDUs", tests, NULL, NULL);
}
