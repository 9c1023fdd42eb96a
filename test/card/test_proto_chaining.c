/* test_proto_chaining.c: PROTOCOL.md §3 and §10 transport rules held
 * black-box: ISO command chaining of LOAD AP (security applied before
 * segmenting, segments answered 9000 without data), chaining refused
 * elsewhere, extended Lc and Le, the 2048-byte limits of DF20 tags 87/88. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static uint8_t img[CH_IMAGE_MAX];
static uint8_t big[8192];

/* An AP with one 6000-byte transparent EF filled with a pattern. */
static void big_ap(ch_ap *ap, unsigned idx)
{
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + (i >> 8));
    ch_ap_default(ap, idx);
    ap->n_efs = 2;
    ap->efs[1] = (ch_ef){.fid = 0x0B01, .sfi = 12, .type = CH_EF_TRANSPARENT, .size = 6000,
                         .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM,
                         .content = big, .content_len = 6000};
}

/* ap's image in img. */
static size_t build(ch_card *c, const ch_ap *ap)
{
    return ct_build_image(c, ap, img, sizeof(img));
}

/* Reads the 6000-byte EF back in reads of at most 2048 bytes. */
static void check_big(ch_card *c, const ch_ap *ap)
{
    static ch_rsp r;
    ASSERT_SW(ch_open_ap(c, ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0B01", NULL), 0x9000);
    /* extended Le 0000: min(65536, to the end, 2048) */
    ASSERT_SW(ch_cmdx(c, "00B00000 000000", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, big, 2048);
    ASSERT_SW(ch_cmdx(c, "00B00800 000000", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, big + 2048, 2048);
    ASSERT_SW(ch_cmdx(c, "00B01000 000000", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, big + 4096, 6000 - 4096);
    ASSERT_SW(ch_cmdx(c, "00B01800 000000", &r), 0x6B00);
}

static void test_load_one_block_chained_short(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;
    static uint8_t apdu[CH_IMAGE_MAX + 16];
    size_t an;

    big_ap(&ap, 1);
    n = build(c, &ap);
    assert_true(n > 6000);
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    /* segments of 255 bytes: short Lc each */
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 255, NULL), 0x9000);
    check_big(c, &ap);
}

static void test_load_blocks_chained_extended(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    big_ap(&ap, 1);
    n = build(c, &ap);
    /* blocks of 3000 (more than 2048: chaining needed), segments of 1000 */
    ASSERT_SW(ch_load_image(c, img, n, 3000, 1000), 0x9000);
    check_big(c, &ap);
}

static void test_load_plain_blocks_2048(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;

    big_ap(&ap, 1);
    n = build(c, &ap);
    ASSERT_SW(ch_load_image(c, img, n, 2048, 0), 0x9000);
    check_big(c, &ap);
}

static void test_chaining_elsewhere(void **state)
{
    ch_card *c = *state;
    uint8_t apdu[64], w[128];
    size_t n, wn;

    /* a wrapped command with the chaining bit: class is checked first */
    n = ch_hex("80CADF20 00", apdu, sizeof(apdu));
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, n, w, sizeof(w), &wn), 0);
    w[0] |= 0x10;
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6884);
    ASSERT_SW(ch_rawx(c, "10A40400 07 F04D4E4150414D 00", NULL), 0x6884);
}

/* Sends apdu wrapped in the open channel and cut into segments of seg bytes,
 * with one byte of the wrapped data (the C-MAC's input) flipped; the answer
 * to the last segment. */
static uint16_t chained_flipped(ch_card *c, const uint8_t *apdu, size_t an, size_t seg,
                                size_t flip_at)
{
    static uint8_t w[CH_IMAGE_MAX + 64], s[4096];
    size_t wn, off, n, sn, doff = 7, dlen;
    uint16_t sw = 0;

    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, an, w, sizeof(w), &wn), 0);
    assert_true(w[4] == 0);                        /* extended Lc: data at 7 */
    dlen = (size_t)w[5] << 8 | w[6];
    w[doff + flip_at] ^= 0x01;
    for (off = 0; off < dlen; off += n) {
        bool last;
        n = dlen - off < seg ? dlen - off : seg;
        last = off + n == dlen;
        sn = ch_apdu(s, sizeof(s), (uint8_t)(last ? w[0] : w[0] | 0x10), w[1], w[2], w[3],
                     w + doff + off, n, -1);
        sw = ch_raw(c, s, sn, NULL);
        if (!last && sw != 0x9000)
            return sw;
    }
    return sw;
}

/* §9: SM is checked on the header, Lc and data before the instruction is
 * interpreted, for a chained LOAD AP too: refused afterwards (LOCKED area
 * 6985, AP channel 6982), its C-MAC still advanced the MAC chain and the
 * channel goes on; with a bad C-MAC it is 6988 and the channel is closed
 * (§3), whatever would have refused it next. */
static void test_chain_refused_after_sm(void **state)
{
    ch_card *c = *state;
    ch_ap ap, ap2;
    static uint8_t apdu[CH_IMAGE_MAX + 16];
    static ch_rsp r;
    uint8_t probe[8], w[64];
    size_t an, pn, wn;

    big_ap(&ap, 1);
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, build(c, &ap), -1);
    pn = ch_hex("80CADF20 00", probe, sizeof(probe));

    /* LOCKED area, AM channel at 33 */
    ASSERT_SW(ch_cmdx(c, "80F0807F", NULL), 0x9000);
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 1000, NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(chained_flipped(c, apdu, an, 1000, 1500), 0x6988);
    assert_int_equal(cm_scp03_wrap_command(&c->scp, probe, pn, w, sizeof(w), &wn), 0);
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6982);     /* SM, but no channel any more */
    ch_forget(c);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F0800F", NULL), 0x9000);

    /* an AP channel: LOAD AP is the AM's */
    ch_ap_default(&ap2, 2);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap2), 2048, 0), 0x9000);
    big_ap(&ap, 1);
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, build(c, &ap), -1);
    ASSERT_SW(ch_open_ap(c, &ap2, 0x33), 0x9000);
    /* the AM is not selected (§4); DF20 too is the AM's */
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 1000, NULL), 0x6986);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x6986);
    ASSERT_SW(chained_flipped(c, apdu, an, 1000, 10), 0x6988);
    assert_int_equal(cm_scp03_wrap_command(&c->scp, probe, pn, w, sizeof(w), &wn), 0);
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6982);
    ch_forget(c);
}

/* The same in a BLANK area, in the AM channel opened with the transport keys:
 * 6985, and the channel goes on. */
static void test_chain_refused_in_blank_area(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    static uint8_t apdu[CH_IMAGE_MAX + 16];
    static ch_rsp r;
    cm_keyset tk;
    size_t an;

    big_ap(&ap, 1);
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, build(c, &ap), -1);
    ch_transport_keys(&tk);
    ASSERT_SW(ch_open(c, ch_am_aid, CH_AM_AID_LEN, 0xFF, &tk, 0x33), 0x9000);
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 1000, NULL), 0x6985);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    assert_int_equal(r.data[4], 0x01);             /* DF20 80: still BLANK */
}

/* Command data over 2048 bytes (DF20 tag 88) without chaining: 6700. */
static void test_command_data_limit(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    static uint8_t apdu[4096];
    size_t n;

    big_ap(&ap, 1);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap), 2048, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0B01", NULL), 0x9000);
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xD6, 0x00, 0x00, big, 2048, -1);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x9000);
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xD6, 0x00, 0x00, big, 2049, -1);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6700);
}

/* Extended UPDATE and READ of 1000 bytes at level 33 (R-ENC and R-MAC on
 * top of Ne). */
static void test_extended_update_read(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    static uint8_t apdu[4096];
    static ch_rsp r;
    uint8_t data[1000];
    size_t n;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(0xFF - i);
    big_ap(&ap, 1);
    ASSERT_SW(ch_load_image(c, img, build(c, &ap), 2048, 0), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0B01", NULL), 0x9000);
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xD6, 0x01, 0x00, data, sizeof(data), -1);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x9000);
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xB0, 0x01, 0x00, NULL, 0, 1000);
    ASSERT_SW(ch_cmd(c, apdu, n, &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, data, sizeof(data));
    assert_int_equal(r.raw_len, 1008 + 8);
    /* short Le 00 on the same data: 256 bytes */
    ASSERT_SW(ch_cmdx(c, "00B00100 00", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, data, 256);
}

/* A GET DATA object longer than Ne is not cut: 61xx with the (protected)
 * length, then GET RESPONSE (§3, §10). */
static void test_get_data_61xx(void **state)
{
    ch_card *c = *state;
    static ch_rsp r, full;
    uint8_t apdu[16];
    size_t n;

    /* plain: DF20 outside a channel is 3 + 18 = 21 bytes */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &full), 0x9000);
    assert_int_equal(full.len, 0x15);
    ASSERT_SW(ch_rawx(c, "80CADF20 05", &r), 0x6115);
    assert_int_equal(r.len, 0);
    ASSERT_SW(ch_rawx(c, "00C00000 15", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, full.data, full.len);
    /* GET RESPONSE with a smaller Le: the rest stays for the next one (ISO) */
    ASSERT_SW(ch_rawx(c, "80CADF20 05", &r), 0x6115);
    ASSERT_SW(ch_rawx(c, "00C00000 10", &r), 0x6105);
    ASSERT_BYTES(r.data, r.len, full.data, 16);
    ASSERT_SW(ch_rawx(c, "00C00000 05", &r), 0x9000);
    ASSERT_BYTES(r.data, r.len, full.data + 16, 5);
    /* in an AM channel at 33: DF20 is 3 + 49 = 52 bytes, protected 64 + 8 */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &full), 0x9000);
    assert_int_equal(full.len, 52);
    n = ch_hex("80CADF20 10", apdu, sizeof(apdu));
    ASSERT_SW(ch_cmd_nogr(c, apdu, n, &r), 0x6148);
    assert_int_equal(r.len, 0);
    /* in two parts */
    ASSERT_SW(ch_rawx(c, "00C00000 40", &r), 0x6108);
    assert_int_equal(r.len, 0x40);
    {
        static uint8_t joined[128];
        size_t plain = 0;
        memcpy(joined, r.data, 0x40);
        ASSERT_SW(ch_rawx(c, "00C00000 08", &r), 0x9000);
        assert_int_equal(r.len, 8);
        memcpy(joined + 0x40, r.data, 8);
        assert_int_equal(cm_scp03_unwrap_response(&c->scp, joined, 0x48, 0x9000, &plain), 0);
        ASSERT_BYTES(joined, plain, full.data, full.len);
    }
    /* the MAC chain did not move: the channel goes on */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_one_block_chained_short, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_blocks_chained_extended, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_plain_blocks_2048, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chaining_elsewhere, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_refused_after_sm, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_refused_in_blank_area, ct_setup_blank,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_command_data_limit, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_extended_update_read, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_data_61xx, ct_setup_active, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_chaining", tests, NULL, NULL);
}
