/* test_attack_framing.c: attacks on APDU framing and on ISO command
 * chaining (docs/security.md):
 *
 *   - truncated, over-long and inconsistent Lc / Le, plain and wrapped: the
 *     card answers 6700 and changes nothing; a malformed frame does not
 *     consume the MAC chain (the intact command still goes through after it);
 *   - Le asking for more than there is: the card returns what exists, never
 *     bytes past the end of a file;
 *   - an unterminated chain (LOAD AP segments, then another command, or a
 *     power cut): the chain and its load are dropped, no AP appears;
 *   - a chain continued across a SELECT: the SELECT ends the channel, the
 *     rest of the chain is refused (6982) and nothing is installed;
 *   - a chain whose segments change P1/P2 midway.
 *
 * Exact status words from PROTOCOL.md §2, §3, §5, §9 and §10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "cm_err.h"

static uint8_t img[CH_IMAGE_MAX];
static uint8_t wbuf[CH_IMAGE_MAX + 64];

/* Plain framing errors, AM selected, no channel. */
static void test_lc_le_malformed_plain(void **state)
{
    ch_card *c = *state;
    static const char *const bad[] = {
        "00",                                        /* 1 byte */
        "00A4",                                      /* 2 bytes */
        "00A404",                                    /* 3 bytes */
        "00A40400 07 F04D4E41",                      /* Lc 7, 4 bytes follow */
        "00A40400 02 F04D4E4150414D",                /* Lc 2, 7 bytes follow */
        "00A40400 07 F04D4E4150414D 0000",           /* short Lc, two-byte Le */
        "00A40400 000007 F04D4E4150414D 00",         /* extended Lc, one-byte Le */
        "00A40400 000000 F04D4E4150414D",            /* extended Lc of 0 with data */
        "00A40400 00 00",                            /* 6 bytes: half an extended field */
        "00A40400 00FFFF F04D4E4150414D",            /* extended Lc 65535, 7 bytes */
        "80CADF20 00 0000 00",                       /* extended Le, then one byte more */
    };
    ct_snap s;
    ch_rsp r;

    ASSERT_SW(ch_select_am(c), 0x9000);
    s = ct_snapshot(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint16_t sw = ch_rawx(c, bad[i], &r);
        if (sw != 0x6700)
            print_error("framing '%s': SW %04X\n", bad[i], sw);
        ASSERT_SW(sw, 0x6700);
        assert_int_equal(r.len, 0);
    }
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    /* The AM is still selected and answers. */
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x9000);
}

/* In an AP channel: a wrapped command cut short or lengthened by one byte is
 * a framing error (6700), not a MAC failure; it leaves the channel and the
 * MAC chain where they were, so the intact command still verifies. */
static void test_lc_le_malformed_wrapped(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    uint8_t apdu[64], w[96], bad[97];
    size_t n, wn = 0;
    ct_snap s;
    ch_rsp r;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    n = ch_hex("00D60000 04 CAFEBABE", apdu, sizeof(apdu));
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, n, w, sizeof(w), &wn), CM_OK);
    s = ct_snapshot(c);
    ASSERT_SW(ch_raw(c, w, wn - 1, NULL), 0x6700);          /* last C-MAC byte missing */
    memcpy(bad, w, wn);
    bad[wn] = 0x00;
    bad[wn + 1] = 0x00;
    ASSERT_SW(ch_raw(c, bad, wn + 2, NULL), 0x6700);        /* two bytes too many */
    bad[4] = (uint8_t)(w[4] + 1);
    ASSERT_SW(ch_raw(c, bad, wn, NULL), 0x6700);            /* Lc one too high */
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    /* The intact command, sent now, is the next in the MAC chain. */
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 04", &r), 0x9000);
    ASSERT_DATA(&r, "CAFEBABE");
}

/* Le larger than the data: the card returns what exists (EF 0101 is 64
 * bytes), never more; an offset at the end is 6B00. */
static void test_le_overlong(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 00", &r), 0x9000);        /* Ne 256 */
    assert_int_equal(r.len, 64);
    ASSERT_SW(ch_cmdx(c, "00B08100 000000", &r), 0x9000);    /* Ne 65536 */
    assert_int_equal(r.len, 64);
    ASSERT_SW(ch_cmdx(c, "00B0813F FF", &r), 0x9000);        /* last byte only */
    ASSERT_DATA(&r, "3F");
    ASSERT_SW(ch_cmdx(c, "00B08140 01", &r), 0x6B00);        /* at the end */
    ASSERT_SW(ch_cmdx(c, "00B20124 FF", &r), 0x6A83);        /* EF 0201: no record yet */
}

/* Sends the first `segs` segments (of seg bytes) of the wrapped LOAD AP
 * block w (short or extended Lc), with the chaining bit. */
static void send_segments(ch_card *c, const uint8_t *w, size_t wn, size_t seg, size_t segs,
                          size_t *sent)
{
    size_t doff = w[4] == 0 ? 7 : 5, off = 0;
    uint8_t s[300];

    for (size_t k = 0; k < segs; k++) {
        size_t n = ch_apdu(s, sizeof(s), (uint8_t)(w[0] | 0x10), w[1], w[2], w[3],
                           w + doff + off, seg, -1);
        assert_true(doff + off + seg < wn);
        ASSERT_SW(ch_raw(c, s, n, NULL), 0x9000);
        off += seg;
    }
    *sent = off;
}

/* The rest of the chain from data offset off, last segment without the bit. */
static uint16_t send_rest(ch_card *c, const uint8_t *w, size_t wn, size_t seg, size_t off)
{
    size_t doff = w[4] == 0 ? 7 : 5, dlen = wn - doff;
    uint8_t s[300];
    uint16_t sw = 0x9000;

    while (off < dlen) {
        size_t n = dlen - off < seg ? dlen - off : seg;
        int last = off + n == dlen;
        size_t l = ch_apdu(s, sizeof(s), (uint8_t)(last ? w[0] : (w[0] | 0x10)), w[1], w[2],
                           w[3], w + doff + off, n, -1);
        sw = ch_raw(c, s, l, NULL);
        off += n;
        if (!last && sw != 0x9000)
            return sw;
    }
    return sw;
}

/* AP 2's whole image as one LOAD AP block, wrapped on the open AM channel. */
static size_t wrapped_load(ch_card *c, ch_ap *ap)
{
    cm_keyset rk;
    static uint8_t apdu[CH_IMAGE_MAX + 16];
    size_t n, an, wn = 0;

    ch_region_keys(&rk);
    ch_ap_default(ap, 2);
    n = ch_build_image(c, rk.dek, 16, ap, img, sizeof(img));
    assert_true(n > 300);
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, an, wbuf, sizeof(wbuf), &wn), CM_OK);
    return wn;
}

static void assert_no_ap2(ch_card *c, const ch_ap *ap)
{
    ASSERT_SW(ch_select(c, ap->aid, ap->aid_len, NULL), 0x6A82);
}

/* An unterminated chain followed by another command, or by a power cut. */
static void test_unterminated_chain(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t wn, sent;

    wn = wrapped_load(c, &ap);
    send_segments(c, wbuf, wn, 100, 2, &sent);
    /* Any other command drops the chain (GET DATA DF20, plain, in the AM). */
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x6982);     /* plain in a channel */
    ch_forget(c);
    /* The rest of the chain: the channel is gone, SM is refused. */
    ASSERT_SW(send_rest(c, wbuf, wn, 100, sent), 0x6982);
    assert_no_ap2(c, &ap);

    /* The same, cut by a power loss. */
    ASSERT_SW(ch_open_am(c), 0x9000);
    wn = wrapped_load(c, &ap);
    send_segments(c, wbuf, wn, 100, 3, &sent);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    assert_no_ap2(c, &ap);
    /* A complete chain still loads afterwards. */
    ASSERT_SW(ch_open_am(c), 0x9000);
    wn = wrapped_load(c, &ap);
    ASSERT_SW(send_rest(c, wbuf, wn, 100, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

/* A chain continued across a SELECT of the AM (a new selection in the
 * middle): the SELECT ends the channel and the chain; the rest is refused. */
static void test_chain_across_select(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t wn, sent;
    ct_snap s;

    wn = wrapped_load(c, &ap);
    s = ct_snapshot(c);
    send_segments(c, wbuf, wn, 100, 2, &sent);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(send_rest(c, wbuf, wn, 100, sent), 0x6982);
    assert_no_ap2(c, &ap);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    /* Even under a new AM channel the tail is not accepted: its C-MAC was
     * computed in the old channel. */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(send_rest(c, wbuf, wn, 100, sent), 0x6988);
    ch_forget(c);
    assert_no_ap2(c, &ap);
}

/* Segments that change P2 in the middle of a chain: the chain is dropped and
 * its MAC no longer verifies. */
static void test_chain_header_changed(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t wn, sent;

    wn = wrapped_load(c, &ap);
    send_segments(c, wbuf, wn, 100, 2, &sent);
    wbuf[3] = 0x01;   /* P2 of the remaining segments */
    ASSERT_SW(send_rest(c, wbuf, wn, 100, sent), 0x6988);
    ch_forget(c);
    assert_no_ap2(c, &ap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lc_le_malformed_plain, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_lc_le_malformed_wrapped, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_le_overlong, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_unterminated_chain, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_across_select, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_header_changed, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("attack_framing", tests, NULL, NULL);
}
