/* test_proto_precedence.c: PROTOCOL.md §9 status word precedence held
 * black-box: class › secure messaging › instruction › P1/P2 › length ›
 * corrupt NVM › area state › selection › channel/level › AP state › the
 * command's own checks; a wrapped command that is refused after its C-MAC
 * verified advances the MAC chain on both sides; corrupt NVM (a flipped byte
 * in the sim image) answers 6581 to everything but SELECT and GET DATA DF20. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

static void test_class_first(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_rawx(c, "A0120000", NULL), 0x6E00);
    ASSERT_SW(ch_rawx(c, "01120000", NULL), 0x6881);
    ASSERT_SW(ch_rawx(c, "90120000", NULL), 0x6884);
    /* in a channel: a bad class beats the missing SM */
    ASSERT_SW(ch_rawx(c, "A0CADF20 00", NULL), 0x6E00);
}

static void test_sm_before_instruction(void **state)
{
    ch_card *c = *state;
    /* plain unknown INS inside a channel: missing SM, channel closed */
    ASSERT_SW(ch_rawx(c, "80120000", NULL), 0x6982);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x6982);
}

static void test_bad_mac_before_instruction(void **state)
{
    ch_card *c = *state;
    uint8_t apdu[16], w[64];
    size_t n, wn;
    n = ch_hex("80120000", apdu, sizeof(apdu));
    assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, n, w, sizeof(w), &wn), 0);
    w[wn - 1] ^= 0x01;
    ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6988);
}

/* Refused after a good C-MAC: the chain advanced on both sides. */
static void test_refused_wrapped_advances_chain(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_cmdx(c, "80120000", NULL), 0x6D00);
    ASSERT_SW(ch_cmdx(c, "80F28003 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D3921000FF", NULL), 0x6A88);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    assert_true(r.len > 0);
}

static void test_instruction_before_p1p2_before_length(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "8012FFFF 03 010203", NULL), 0x6D00);
    /* INITIALIZE UPDATE with a wrong P2 and a wrong Lc */
    ASSERT_SW(ch_rawx(c, "80500001 07 01020304050607 00", NULL), 0x6A86);
}

/* Area state comes before selection: AM instructions in a BLANK area answer
 * 6985 even with nothing selected. */
static void test_area_state_before_selection(void **state)
{
    ch_card *c = *state;
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_rawx(c, "80F24002 02 4F00 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80E40000 07 4F05D392100001", NULL), 0x6985);
}

/* Selection before channel: with the AM selected and no channel, a file
 * command says 6986. */
static void test_selection_before_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "00B00000 04", NULL), 0x6986);
    ASSERT_SW(ch_rawx(c, "00A40200 02 0101 00", NULL), 0x6986);
}

/* Channel before AP state: a SUSPENDED AP answers 6982 to a plain file
 * command, 6A81 to INITIALIZE UPDATE. */
static void test_channel_before_ap_state(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_rawx(c, "00B08100 01", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6A81);
}

/* The command's own checks come last: GET STATUS with data other than
 * 4F 00 (6A80) and GET DATA with an unknown tag (6A88) answer the area state
 * (6985) and the missing channel (6982) first. */
static void test_own_checks_last(void **state)
{
    ch_card *c = *state;
    /* in an AM channel: the checks themselves */
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F01 00", NULL), 0x6A80);
    ASSERT_SW(ch_cmdx(c, "80CA0042 00", NULL), 0x6A88);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);   /* neither closed the channel */
    /* the AM selected, no channel */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80F24002 02 4F01 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80CA0042 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80CADF21 00", NULL), 0x6982);
    /* a TERMINATED area: 6985 */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F080FF", NULL), 0x9000);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80F24002 02 4F01 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80CA0042 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x9000);
}

/* The same in a BLANK area. */
static void test_own_checks_last_blank(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80F24002 02 4F01 00", NULL), 0x6985);
    ASSERT_SW(ch_rawx(c, "80CA0042 00", NULL), 0x6985);
}

/* --- corrupt NVM ------------------------------------------------------- */

static int iu_region(ch_card *c)
{
    cm_keyset rk;
    ch_region_keys(&rk);
    return ch_initialize_update(c, 0, &rk, NULL);
}

/* Flips, one at a time, every byte of the image that holds data (not FF)
 * and powers on.  SELECT of the AM and GET DATA DF20 must always answer;
 * INITIALIZE UPDATE either works with the right keys or answers 6581; at
 * least one flip must be detected; when it is, the other commands answer
 * 6581 too, after the class, INS, P1/P2 and length checks. */
static void test_corrupt_nvm(void **state)
{
    ch_card *c = *state;
    uint8_t *img;
    size_t detected = 0, tried = 0;
    uint32_t size = c->sc.sim.nvm_size;

    mc_power_off(&c->sc.card);
    img = ch_nvm_copy(c);
    assert_non_null(img);
    for (uint32_t i = 0; i < size; i++) {
        uint16_t sw;
        if (img[i] == 0xFF)
            continue;
        tried++;
        memcpy(c->sc.sim.nvm, img, size);
        c->sc.sim.nvm[i] ^= 0x01;
        (void)ch_power_cycle(c);
        ASSERT_SW(ch_select_am(c), 0x9000);
        ASSERT_SW(ch_rawx(c, "80CADF20 00", NULL), 0x9000);
        sw = (uint16_t)iu_region(c);
        if (sw == 0x9000)
            continue;
        if (sw != 0x6581) {
            print_error("flip at NVM byte %u: INITIALIZE UPDATE %04X\n", (unsigned)i, sw);
            fail();
        }
        detected++;
        if (detected > 8)
            continue;   /* the full check on a few of them is enough */
        ASSERT_SW(ch_rawx(c, "80F24002 02 4F00 00", NULL), 0x6581);
        ASSERT_SW(ch_rawx(c, "80E88000 05 4F03010203", NULL), 0x6581);
        ASSERT_SW(ch_rawx(c, "80CADF21 00", NULL), 0x6581);
        ASSERT_SW(ch_rawx(c, "80CADF20 02 AAAA 00", NULL), 0x6700);
        ASSERT_SW(ch_rawx(c, "80120000", NULL), 0x6D00);
        ASSERT_SW(ch_rawx(c, "A0CADF20 00", NULL), 0x6E00);
        ASSERT_SW(ch_rawx(c, "80500001 08 0102030405060708 00", NULL), 0x6A86);
    }
    print_message("corrupt NVM: %zu bytes flipped, %zu detected (6581)\n", tried, detected);
    assert_true(tried > 0);
    assert_true(detected > 0);
    memcpy(c->sc.sim.nvm, img, size);
    free(img);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(ch_open_am(c), 0x9000);
}

/* Corruption found on read (§8): with the card running, flip one byte at a
 * time; GET STATUS (which reads the AP records) must answer exactly what it
 * answered before, or 6581, never something built from the damaged byte. */
static void test_corrupt_on_read(void **state)
{
    ch_card *c = *state;
    static ch_rsp r0, r;
    uint8_t *img;
    uint32_t size = c->sc.sim.nvm_size;
    size_t tried = 0, detected = 0, same = 0;

    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 00", &r0), 0x9000);
    img = ch_nvm_copy(c);
    assert_non_null(img);
    for (uint32_t i = 0; i < size; i++) {
        uint16_t sw;
        if (img[i] == 0xFF)
            continue;
        tried++;
        c->sc.sim.nvm[i] ^= 0x01;
        sw = ch_cmdx(c, "80F24002 02 4F00 00", &r);
        c->sc.sim.nvm[i] ^= 0x01;
        if (sw == 0x6581) {
            detected++;
        } else if (sw == 0x9000 && r.len == r0.len && memcmp(r.data, r0.data, r.len) == 0) {
            same++;
            continue;
        } else {
            print_error("flip at NVM byte %u while running: GET STATUS %04X\n", (unsigned)i, sw);
            ct_print_hex("  before", r0.data, r0.len);
            ct_print_hex("  now   ", r.data, r.len);
            fail();
        }
        /* back to the good image and a fresh channel */
        memcpy(c->sc.sim.nvm, img, size);
        assert_int_equal(ch_power_cycle(c), MC_OK);
        ASSERT_SW(ch_open_am(c), 0x9000);
        free(img);
        img = ch_nvm_copy(c);   /* the channel opening advanced a counter */
        assert_non_null(img);
    }
    print_message("corrupt on read: %zu bytes flipped, %zu detected (6581), %zu not read\n",
                  tried, detected, same);
    assert_true(detected > 0);
    free(img);
}

/* DF20 in an AM channel counts the APs, reading every AP record: when that
 * read finds a damaged record, DF20 still answers 9000 (§8), with the open
 * part only (state 00), never 6581 and never numbers from the damaged byte. */
static void test_df20_on_corrupt_read(void **state)
{
    ch_card *c = *state;
    static ch_rsp r0, r;
    uint8_t *img;
    uint32_t size = c->sc.sim.nvm_size;
    size_t tried = 0, detected = 0;

    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r0), 0x9000);
    assert_int_equal(r0.len, 52);
    img = ch_nvm_copy(c);
    assert_non_null(img);
    for (uint32_t i = 0; i < size; i++) {
        uint16_t sw;
        if (img[i] == 0xFF)
            continue;
        tried++;
        c->sc.sim.nvm[i] ^= 0x01;
        sw = ch_cmdx(c, "80CADF20 00", &r);
        c->sc.sim.nvm[i] ^= 0x01;
        if (sw != 0x9000) {
            print_error("flip at NVM byte %u: DF20 %04X\n", (unsigned)i, sw);
            fail();
        }
        if (r.len == r0.len && memcmp(r.data, r0.data, r.len) == 0)
            continue;
        /* the open part: DF20 12 { 80 01 00, 83, 84, 87, 88 } */
        assert_int_equal(r.len, 21);
        ASSERT_BYTES(r.data, 11, "\xDF\x20\x12\x80\x01\x00\x83\x01\x10\x84\x02", 11);
        ASSERT_BYTES(r.data + 13, 8, "\x87\x02\x08\x00\x88\x02\x08\x00", 8);
        detected++;
        memcpy(c->sc.sim.nvm, img, size);
        assert_int_equal(ch_power_cycle(c), MC_OK);
        ASSERT_SW(ch_open_am(c), 0x9000);
        free(img);
        img = ch_nvm_copy(c);
        assert_non_null(img);
    }
    print_message("DF20 on corrupt read: %zu bytes flipped, %zu detected\n", tried, detected);
    assert_true(detected > 0);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_first, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_sm_before_instruction, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_bad_mac_before_instruction, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_refused_wrapped_advances_chain, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_instruction_before_p1p2_before_length,
                                        ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_area_state_before_selection, ct_setup_blank,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_selection_before_channel, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_channel_before_ap_state, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_nvm, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_on_read, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_df20_on_corrupt_read, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_own_checks_last, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_own_checks_last_blank, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_precedence", tests, NULL, NULL);
}
