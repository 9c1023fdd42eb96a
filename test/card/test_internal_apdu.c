/* test_internal_apdu.c: the less travelled paths of the APDU layer
 * (card/mc_apdu.c, card/mc_load.c): GET RESPONSE refusals, a response buffer
 * smaller than the response, a wrapped command too long for the APDU buffer
 * (its C-MAC still checked and the chain advanced), extended Le, chained LOAD
 * AP with a bad C-MAC, a chain interrupted by another command, chaining over
 * an AES-256 channel, and malformed extended framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "cm_err.h"

static void test_get_response_refusals(void **state)
{
    ch_card *c = *state;

    ASSERT_SW(ch_rawx(c, "00C00000 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "00C00100 00", NULL), 0x6A86);
    ASSERT_SW(ch_rawx(c, "00C00000", NULL), 0x6700);
    ASSERT_SW(ch_rawx(c, "04C00000 00", NULL), 0x6882);
    ASSERT_SW(ch_rawx(c, "10C00000 00", NULL), 0x6884);
}

/* The caller's response buffer bounds what one answer carries: the rest
 * waits for GET RESPONSE, in parts of Le. */
static void test_small_response_buffer(void **state)
{
    ch_card *c = *state;
    uint8_t rsp[8];
    uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xF0, 0x4D, 0x4E, 0x41, 0x50, 0x41, 0x4D, 0x00 };
    uint8_t gr[] = { 0x00, 0xC0, 0x00, 0x00, 0x05 };
    size_t n;

    n = mc_process(&c->sc.card, sel, sizeof(sel), rsp, sizeof(rsp));
    assert_int_equal(n, 2);
    assert_int_equal(rsp[0], 0x61);
    assert_int_equal(rsp[1], 0x11);
    n = mc_process(&c->sc.card, gr, sizeof(gr), rsp, sizeof(rsp));
    assert_int_equal(n, 7);
    assert_memory_equal(rsp, "\x6F\x0F\x84\x07\xF0\x61\x0C", 7);
    gr[4] = 0x00;
    n = mc_process(&c->sc.card, gr, sizeof(gr), rsp, sizeof(rsp));
    assert_int_equal(n, 8);
    assert_int_equal(rsp[6], 0x61);
    assert_int_equal(rsp[7], 0x06);
}

/* A wrapped command with more than the APDU buffer holds: 6700, but its
 * C-MAC was checked (the chain advanced: the next command verifies). */
static void test_wrapped_too_long(void **state)
{
    ch_card *c = *state;
    static uint8_t data[2100], apdu[2200];
    size_t n;

    memset(data, 0x11, sizeof(data));
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xCA, 0xDF, 0x20, data, sizeof(data), 0);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6700);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
    /* plain (no channel): too long is simply 6700 */
    ASSERT_SW(ch_select_am(c), 0x9000);
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xCA, 0xDF, 0x20, data, sizeof(data), 0);
    ASSERT_SW(ch_raw(c, apdu, n, NULL), 0x6700);
}

/* An unchained LOAD AP block over 2048 bytes: 6700 (only chaining goes past
 * the command data limit, §10); the channel and the MAC chain go on. */
static void test_unchained_big_load(void **state)
{
    ch_card *c = *state;
    static uint8_t data[2200], apdu[2300];
    size_t n, len;

    memset(data, 0x4F, sizeof(data));
    for (len = 2049; len <= 2200; len += 151) {
        n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, data, len, -1);
        ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6700);
        ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
    }
}

static void test_malformed_extended(void **state)
{
    ch_card *c = *state;

    ASSERT_SW(ch_rawx(c, "80CADF20 00 00", NULL), 0x6700);          /* 6 bytes */
    ASSERT_SW(ch_rawx(c, "80CADF20 00 0000 00", NULL), 0x6700);    /* extended Lc 0000 */
    ASSERT_SW(ch_rawx(c, "80CADF20 00 0002 4F00 00", NULL), 0x6700); /* 1-byte Le */
    ASSERT_SW(ch_rawx(c, "80CADF20 05 4F00", NULL), 0x6700);       /* short of data */
    ASSERT_SW(ch_rawx(c, "80CADF20 0000", NULL), 0x6700);          /* 6 bytes */
    ASSERT_SW(ch_select_am(c), 0x9000);                             /* DF20 is the AM's */
    ASSERT_SW(ch_rawx(c, "80CADF20 000000", NULL), 0x9000);        /* extended Le 65536 */
}

/* Extended Le 0000 reads at most 2048 bytes of a larger file. */
static void test_extended_le_read(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 7);
    ap.n_efs = 1;
    ap.efs[0].size = 4000;
    ap.efs[0].content = NULL;
    ap.efs[0].content_len = 0;
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B00000 000000", &r), 0x9000);
    assert_int_equal(r.len, 2048);
    ASSERT_SW(ch_cmdx(c, "00B00F00 000000", &r), 0x9000);
    assert_int_equal(r.len, 4000 - 0x0F00);
    ASSERT_SW(ch_cmdx(c, "00B00FA0 00", NULL), 0x6B00);
}

static size_t image(ch_card *c, const cm_keyset *rk, unsigned idx, uint8_t *img, size_t cap)
{
    ch_ap ap;
    ch_ap_default(&ap, idx);
    return ch_build_image(c, rk->dek, rk->key_len, &ap, img, cap);
}

/* A chained block whose C-MAC is wrong: 6988, channel closed, load dropped. */
static void test_chained_bad_mac(void **state)
{
    ch_card *c = *state;
    static uint8_t img[4096], plain[4200], w[4300], seg[300];
    cm_keyset rk;
    size_t n, pn, wn, off, k;
    uint16_t sw = 0;

    ch_region_keys(&rk);
    n = image(c, &rk, 2, img, sizeof(img));
    pn = ch_apdu(plain, sizeof(plain), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    assert_int_equal(cm_scp03_wrap_command(&c->scp, plain, pn, w, sizeof(w), &wn), CM_OK);
    w[wn - 1] ^= 0x01;                     /* last C-MAC byte */
    /* w is extended: 7-byte header, data to the end */
    for (off = 7; off < wn; off += k) {
        bool last;
        size_t sn;
        k = wn - off < 200 ? wn - off : 200;
        last = off + k == wn;
        sn = ch_apdu(seg, sizeof(seg), (uint8_t)(last ? 0x84 : 0x94), 0xE8, 0x80, 0x00, w + off, k, -1);
        sw = ch_raw(c, seg, sn, NULL);
        if (!last)
            ASSERT_SW(sw, 0x9000);
    }
    ASSERT_SW(sw, 0x6988);
    ch_forget(c);
    ASSERT_SW(ch_rawx(c, "84CADF20 08 0000000000000000 00", NULL), 0x6982);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6A88);
}

/* Another command between two segments of a chain drops the chain and the
 * load; the remaining segment is then a fresh chain that fails its checks. */
static void test_chain_interrupted(void **state)
{
    ch_card *c = *state;
    static uint8_t img[4096], apdu[4200];
    cm_keyset rk;
    size_t n, an;

    ch_region_keys(&rk);
    n = image(c, &rk, 3, img, sizeof(img));
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 100, NULL), 0x9000);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100003", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", NULL), 0x6A88);
}

/* Region keys of 32 bytes: C-DEC of a chained block and the key set in the
 * image both run with AES-256. */
static void test_chained_aes256(void **state)
{
    ch_card *c = *state;
    static uint8_t img[4096], apdu[4200];
    cm_keyset rk;
    ch_ap ap;
    size_t n, an;

    ch_make_keys(&rk, 0x02, 0x60, 32);
    ASSERT_SW(ch_put_key(c, 0x01, &rk, NULL), 0x9000);
    ASSERT_SW(ch_open(c, (const uint8_t *)"\xF0MNAPAM", 7, 0x02, &rk, 0x33), 0x9000);
    ch_ap_default(&ap, 4);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    ASSERT_SW(ch_cmd_chained(c, apdu, an, 61, NULL), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
}

/* True when the card's APDU buffer holds the bytes anywhere. */
static bool in_buffer(ch_card *c, const char *bytes)
{
    size_t n = strlen(bytes), i;
    for (i = 0; i + n <= sizeof(c->sc.card.buf); i++)
        if (memcmp(c->sc.card.buf + i, bytes, n) == 0)
            return true;
    return false;
}

/* A PIN never stays in the APDU buffer after its command, whichever path
 * refused it: a VERIFY and a CHANGE REFERENCE DATA refused for their P2
 * (before the handler's own work), and an image whose PIN policy is refused
 * in the middle of its parsing. */
static void test_command_data_wiped(void **state)
{
    ch_card *c = *state;
    static uint8_t img[4096], apdu[4200];
    cm_keyset rk;
    ch_ap ap;
    size_t n;

    ch_ap_default(&ap, 2);
    ap.initial_pin = "9753186420135";          /* 13 digits: refused inside A0 */
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    assert_true(n > 0);
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x00, img, n, -1);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6A80);
    assert_false(in_buffer(c, "9753186420135"));

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00200082 08 3937353331383634", NULL), 0x6A86);
    assert_false(in_buffer(c, "97531864"));
    ASSERT_SW(ch_cmdx(c, "00240082 0D 04 31323334 3836343231333537", NULL), 0x6A86);
    assert_false(in_buffer(c, "86421357"));
    /* and the channel went on: the right PIN still verifies */
    ASSERT_SW(ch_cmdx(c, "00200081 04 31323334", NULL), 0x9000);
    assert_false(in_buffer(c, "1234"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_response_refusals, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_small_response_buffer, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_wrapped_too_long, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_extended, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_unchained_big_load, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_extended_le_read, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chained_bad_mac, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_interrupted, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chained_aes256, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_command_data_wiped, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_apdu", tests, NULL, NULL);
}
