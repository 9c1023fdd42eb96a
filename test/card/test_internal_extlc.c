/* test_internal_extlc.c: the card accepts every wrapped_apdu of
 * vectors/scp03_extended_lc.json in order (PROTOCOL.md §3: the C-MAC codes
 * Lc as the APDU that carries it, 3 bytes in an extended APDU, including the
 * one a short APDU could have carried).  The vectors' channel cannot come
 * from a real INITIALIZE UPDATE (the card challenge is the card's), so this
 * internal test puts the vectors' session into the card's channel state,
 * then sends the bytes through mc_process and checks every status word and
 * R-MAC: once with the default AP selected (file commands work, the AM's
 * commands give 6986) and once with the AM selected (the reverse).  Also an
 * EXTERNAL AUTHENTICATE sent as an extended APDU (3-byte Lc in its C-MAC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "cm_cmac.h"
#include "cm_err.h"
#include "mt_json.h"

typedef struct hexbuf {
    uint8_t b[1024];
    size_t n;
} hexbuf;

static void need_hex(mj_doc *d, int obj, const char *key, hexbuf *out)
{
    int t = mj_get(d, obj, key);
    if (t < 0)
        fail_msg("vector field %s missing", key);
    assert_int_equal(mj_hex(d, t, out->b, sizeof out->b, &out->n), 0);
}

/* Replays the steps against the card's current selection; want[i] is the
 * status word of step i and want_len[i] the plain response length. */
static void replay(ch_card *c, const uint16_t want[6], const size_t want_len[6])
{
    static uint8_t rsp[MC_RSP_BUF_SIZE];
    mj_doc d;
    hexbuf key, hc, cc, chain0;
    cm_scp03 host;
    int steps, i;

    assert_int_equal(mj_load_file(&d, "vectors/scp03_extended_lc.json"), 0);
    need_hex(&d, 0, "static_key_enc_mac_dek", &key);
    need_hex(&d, 0, "host_challenge", &hc);
    need_hex(&d, 0, "card_challenge", &cc);
    need_hex(&d, 0, "chaining_value_before_first_step", &chain0);
    /* the vectors' channel, on both sides */
    assert_int_equal(cm_scp03_init(&host, &c->aes, key.b, key.b, key.n, hc.b, cc.b), 0);
    host.level = 0x33;
    memcpy(host.mac_chain, chain0.b, 16);
    c->sc.card.scp = host;
    c->sc.card.chan = 2;                       /* MC_CH_OPEN */
    c->sc.card.chan_sel = c->sc.card.sel;
    c->sc.card.chan_min = 0x33;
    memcpy(c->sc.card.chan_dek, key.b, key.n);
    steps = mj_get(&d, 0, "steps");
    assert_int_equal(mj_size(&d, steps), 6);
    for (i = 0; i < 6; i++) {
        int st = mj_array_at(&d, steps, i);
        hexbuf w, after;
        size_t n, pl;
        uint16_t sw;

        need_hex(&d, st, "wrapped_apdu", &w);
        need_hex(&d, st, "chaining_value_after", &after);
        n = mc_process(&c->sc.card, w.b, w.n, rsp, sizeof rsp);
        assert_true(n >= 2);
        sw = (uint16_t)(rsp[n - 2] << 8 | rsp[n - 1]);
        if (sw != want[i])
            fail_msg("step %d: SW %04X, want %04X", i, sw, want[i]);
        /* the card's chain is the vectors' (the channel is still open) */
        assert_int_equal(c->sc.card.chan, 2);
        assert_memory_equal(c->sc.card.scp.mac_chain, after.b, 16);
        /* the response verifies under the vectors' session */
        memcpy(host.mac_chain, after.b, 16);
        host.counter = c->sc.card.scp.counter;
        assert_int_equal(cm_scp03_unwrap_response(&host, rsp, n - 2, sw, &pl), CM_OK);
        assert_int_equal(pl, want_len[i]);
    }
    cm_scp03_close(&host);
    mj_free(&d);
}

static void test_vectors_with_ap_selected(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    /* SELECT EF, GET STATUS, READ BINARY Ne 1500, GET DATA DF21, UPDATE
     * BINARY sent extended, READ BINARY Ne 256 */
    const uint16_t sw[6] = { 0x9000, 0x6986, 0x9000, 0x6986, 0x9000, 0x9000 };
    const size_t len[6] = { 0, 0, 64, 0, 0, 64 };

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    replay(c, sw, len);
}

static void test_vectors_with_am_selected(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint16_t sw[6] = { 0x6986, 0x9000, 0x6986, 0x9000, 0x6986, 0x6986 };
    size_t len[6] = { 0, 0, 0, 0, 0, 0 };

    /* the lengths of the AP list and the log, as the card gives them */
    ASSERT_SW(ch_cmdl(c, &r, "80F24002", "4F00", 65536), 0x9000);
    len[1] = r.len;
    ASSERT_SW(ch_cmdl(c, &r, "80CADF21", "", 65536), 0x9000);
    len[3] = r.len;
    ASSERT_SW(ch_select_am(c), 0x9000);
    replay(c, sw, len);
}

/* EXTERNAL AUTHENTICATE sent as an extended APDU: its C-MAC covers the
 * 3-byte Lc (§3 has no exception for it); the 1-byte form in an extended
 * APDU is a bad C-MAC (6300). */
static uint16_t ea_extended(ch_card *c, int mac_ext)
{
    uint8_t apdu[7 + 16] = {0x84, 0x82, 0x33, 0x00, 0x00, 0x00, 0x10};
    uint8_t chain[16];
    cm_cmac_ctx m;
    uint16_t sw;

    assert_int_equal(cm_scp03_cryptogram(&c->scp, CM_DC_HOST_CRYPTOGRAM, c->host_challenge,
                                         c->card_challenge, apdu + 7), CM_OK);
    memset(c->scp.mac_chain, 0, 16);
    assert_int_equal(cm_scp03_cmac_begin(&c->scp, &m, apdu, 8, mac_ext), CM_OK);
    assert_int_equal(cm_cmac_update(&m, apdu + 7, 8), CM_OK);
    assert_int_equal(cm_scp03_cmac_end(&m, chain, apdu + 15), CM_OK);
    sw = ch_raw(c, apdu, sizeof apdu, NULL);
    if (sw == 0x9000) {
        /* the host half of the channel, as cm_scp03_external_auth leaves it */
        memcpy(c->scp.mac_chain, chain, 16);
        c->scp.level = 0x33;
        c->scp.counter = 0;
        c->chan_open = true;
        c->iu_pending = false;
    }
    return sw;
}

static void test_external_authenticate_extended(void **state)
{
    ch_card *c = *state;
    cm_keyset rk;

    ch_region_keys(&rk);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    ASSERT_SW(ea_extended(c, 0), 0x6300);
    ASSERT_SW(ch_initialize_update(c, 0, &rk, NULL), 0x9000);
    ASSERT_SW(ea_extended(c, 1), 0x9000);
    ASSERT_SW(ch_cmdl(c, NULL, "80CADF20", "", 65536), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vectors_with_ap_selected, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_vectors_with_am_selected, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_external_authenticate_extended, ct_setup_active,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_extlc", tests, NULL, NULL);
}
