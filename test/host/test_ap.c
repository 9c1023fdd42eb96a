/* test_ap.c: the AP API against the in-process card: sessions (wrong key
 * set, wrong level, level not accepted), PIN status / verify down to blocked /
 * change, binary reads and writes over several commands, records, file rules,
 * key rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_fixture.h"

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    fx_active(f, NULL, 0);
    fx_load_std(f, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fx_free(f);
    free(f);
    return 0;
}

static void test_open_refusals(void **state)
{
    fx *f = *state;
    mnap_keyset wrong;
    uint8_t aid[6];
    (void)aid;
    fx_keys(&wrong, 0x21, 0x01, 16);
    /* wrong key set: caught by the card cryptogram check */
    assert_int_equal(fx_open_ap(f, 1, &wrong, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    /* the region keys are not the AP's */
    f->region.kvn = 0;
    assert_int_equal(fx_open_ap(f, 1, &f->region, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    f->region.kvn = 1;
    /* unknown KVN */
    wrong.kvn = 0x22;
    assert_int_equal(fx_open_ap(f, 1, &wrong, MNAP_LEVEL_FULL), MNAP_E_REF_NOT_FOUND);
    /* the standard AP wants 33 */
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_CMAC_RMAC), MNAP_E_LEVEL);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, 0x02), MNAP_E_P1P2);
    /* unknown AID */
    assert_int_equal(fx_open_ap(f, 9, &f->ap, MNAP_LEVEL_FULL), MNAP_E_NOT_FOUND);
    /* AP calls need an AP session */
    assert_int_equal(mnap_am_open(f->ctx, &f->region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "1234", 4, NULL), MNAP_E_STATE);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_lock(f->ctx), MNAP_E_STATE);
    mnap_keyset_wipe(&wrong);
}

static void test_low_level_ap(void **state)
{
    fx *f = *state;
    uint8_t img[4096], buf[64];
    size_t n, got;
    /* an AP whose minimum is C-MAC only accepts every level */
    n = fx_std_image(img, sizeof(img), 2, 0x01);
    assert_int_equal(mnap_area_load_ap(f->ctx, img, n, &f->ap, NULL), MNAP_OK);
    assert_int_equal(fx_open_ap(f, 2, &f->ap, MNAP_LEVEL_CMAC), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, FX_PIN, 4, NULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, buf, 32, &got), MNAP_OK);
    assert_int_equal(got, 32);
    assert_memory_equal(buf, fx_secret_content, 32);
    assert_int_equal(fx_open_ap(f, 2, &f->ap, MNAP_LEVEL_CMAC_RMAC), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, buf, 32, &got), MNAP_E_SECURITY);
    assert_int_equal(fx_open_ap(f, 2, &f->ap, MNAP_LEVEL_CMAC_CDEC), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 10, &got), MNAP_OK);
    assert_int_equal(got, 10);
}

static void test_pin_flow(void **state)
{
    fx *f = *state;
    mnap_pin_status st;
    uint8_t tries = 9;
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.verified, 0);
    assert_int_equal(st.blocked, 0);
    assert_int_equal(st.tries_left, 3);
    /* policy refusal uses no try */
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "12", 2, &tries), MNAP_E_PIN_POLICY);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "12a4", 4, &tries), MNAP_E_PIN_POLICY);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.tries_left, 3);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "0000", 4, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(tries, 2);
    assert_int_equal(mnap_last_sw(f->ctx), 0x63C2);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, FX_PIN, 4, &tries), MNAP_OK);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.verified, 1);
    /* change: wrong old PIN counts */
    assert_int_equal(mnap_ap_change_pin(f->ctx, "0000", 4, "5678", 4, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(tries, 2);
    assert_int_equal(mnap_ap_change_pin(f->ctx, FX_PIN, 4, "56", 2, &tries), MNAP_E_PIN_POLICY);
    assert_int_equal(mnap_ap_change_pin(f->ctx, FX_PIN, 4, "567890", 6, &tries), MNAP_OK);
    /* a new session: PIN state cleared, the new PIN works, old one does not */
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.verified, 0);
    assert_int_equal(st.tries_left, 3);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, FX_PIN, 4, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(tries, 2);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "567890", 6, &tries), MNAP_OK);
    /* down to blocked */
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "111111", 6, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(tries, 2);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "111111", 6, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(tries, 1);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "111111", 6, &tries), MNAP_E_PIN_BLOCKED);
    assert_int_equal(tries, 0);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "567890", 6, &tries), MNAP_E_PIN_BLOCKED);
    assert_int_equal(mnap_last_sw(f->ctx), 0x6983);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.blocked, 1);
    /* blocked: PIN files refused with 6983, SM files still work */
    {
        uint8_t buf[40];
        size_t got;
        assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, buf, 32, &got),
                         MNAP_E_PIN_BLOCKED);
        assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_OK);
    }
}

static void test_pin_not_set(void **state)
{
    fx *f = *state;
    uint8_t img[1024], aid[6];
    size_t n;
    mnap_pin_status st;
    fx_std_aid(aid, 5);
    n = fx_image(img, sizeof(img), aid, 6, NULL, -1, NULL, 0);
    assert_int_equal(mnap_area_load_ap(f->ctx, img, n, &f->ap, NULL), MNAP_OK);
    assert_int_equal(fx_open_ap(f, 5, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, "1234", 4, NULL), MNAP_E_PIN_NOT_SET);
    assert_int_equal(mnap_ap_pin_status(f->ctx, &st), MNAP_OK);
    assert_int_equal(st.not_set, 1);
}

static void test_binary(void **state)
{
    fx *f = *state;
    static uint8_t data[FX_BIG_SIZE], back[FX_BIG_SIZE + 10];
    size_t i, got;
    mnap_ef_info info;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_select_ef(f->ctx, FX_EF_BIG, &info), MNAP_OK);
    assert_int_equal(info.fid, FX_EF_BIG);
    assert_int_equal(info.type, 0x01);
    assert_int_equal(info.size, FX_BIG_SIZE);
    assert_int_equal(info.sfi, 1);
    /* 4000 bytes > 2048: two UPDATE BINARY, two READ BINARY */
    assert_int_equal(mnap_ap_update_binary(f->ctx, FX_EF_BIG, 0, data, sizeof(data)), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, back, sizeof(back), &got), MNAP_OK);
    assert_int_equal(got, FX_BIG_SIZE);
    assert_memory_equal(back, data, FX_BIG_SIZE);
    /* partial read at an offset; reading past the end stops at the end */
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 3990, back, 100, &got), MNAP_OK);
    assert_int_equal(got, 10);
    assert_memory_equal(back, data + 3990, 10);
    /* refusals */
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 4001, back, 1, &got), MNAP_E_OFFSET);
    assert_int_equal(mnap_ap_update_binary(f->ctx, FX_EF_BIG, 3999, data, 2), MNAP_E_OFFSET);
    assert_int_equal(mnap_last_sw(f->ctx), 0x6B00);
    assert_int_equal(mnap_ap_read_binary(f->ctx, 0x0999, 0, back, 1, &got), MNAP_E_NOT_FOUND);
    assert_int_equal(mnap_ap_update_binary(f->ctx, FX_EF_RO, 0, data, 4), MNAP_E_SECURITY);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_LINEAR, 0, back, 4, &got),
                     MNAP_E_FILE_TYPE);
    /* PIN rule: refused until verified */
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, back, 32, &got),
                     MNAP_E_SECURITY);
    assert_int_equal(mnap_ap_update_binary(f->ctx, FX_EF_SECRET, 0, data, 4), MNAP_E_SECURITY);
    assert_int_equal(mnap_ap_verify_pin(f->ctx, FX_PIN, 4, NULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, back, 32, &got), MNAP_OK);
    assert_memory_equal(back, fx_secret_content, 32);
    assert_int_equal(mnap_ap_update_binary(f->ctx, FX_EF_SECRET, 4, data, 4), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_SECRET, 0, back, 32, &got), MNAP_OK);
    assert_memory_equal(back + 4, data, 4);
    /* buffer bound on the caller's side */
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, NULL, 4, &got), MNAP_E_PARAM);
}

static void test_records(void **state)
{
    fx *f = *state;
    uint8_t rec[16], back[64];
    size_t len;
    mnap_ef_info info;
    int i;
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_select_ef(f->ctx, FX_EF_LINEAR, &info), MNAP_OK);
    assert_int_equal(info.type, 0x02);
    assert_int_equal(info.record_length, 16);
    assert_int_equal(info.record_count, 3);
    /* empty EF */
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_LINEAR, 1, back, sizeof(back), &len),
                     MNAP_E_RECORD_NOT_FOUND);
    for (i = 1; i <= 3; i++) {
        memset(rec, i, sizeof(rec));
        assert_int_equal(mnap_ap_append_record(f->ctx, FX_EF_LINEAR, rec, 16), MNAP_OK);
    }
    assert_int_equal(mnap_ap_append_record(f->ctx, FX_EF_LINEAR, rec, 16), MNAP_E_NO_SPACE);
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_LINEAR, 2, back, sizeof(back), &len), MNAP_OK);
    assert_int_equal(len, 16);
    assert_int_equal(back[0], 2);
    memset(rec, 0xEE, sizeof(rec));
    assert_int_equal(mnap_ap_update_record(f->ctx, FX_EF_LINEAR, 2, rec, 16), MNAP_OK);
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_LINEAR, 2, back, sizeof(back), &len), MNAP_OK);
    assert_memory_equal(back, rec, 16);
    assert_int_equal(mnap_ap_update_record(f->ctx, FX_EF_LINEAR, 2, rec, 15), MNAP_E_WRONG_LENGTH);
    assert_int_equal(mnap_ap_update_record(f->ctx, FX_EF_LINEAR, 3, rec, 15) != MNAP_OK, 1);
    /* cyclic: record 1 is the newest, the oldest is overwritten */
    for (i = 1; i <= 4; i++) {
        memset(rec, 0x10 + i, 8);
        assert_int_equal(mnap_ap_append_record(f->ctx, FX_EF_CYCLIC, rec, 8), MNAP_OK);
    }
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_CYCLIC, 1, back, sizeof(back), &len), MNAP_OK);
    assert_int_equal(len, 8);
    assert_int_equal(back[0], 0x14);
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_CYCLIC, 3, back, sizeof(back), &len), MNAP_OK);
    assert_int_equal(back[0], 0x12);
    /* a record command on a transparent EF */
    assert_int_equal(mnap_ap_read_record(f->ctx, FX_EF_BIG, 1, back, sizeof(back), &len),
                     MNAP_E_FILE_TYPE);
}

static void test_rotate_ap_keys(void **state)
{
    fx *f = *state;
    mnap_keyset k2;
    uint8_t buf[8];
    size_t got;
    fx_keys(&k2, 0x22, 0xC4, 24);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_rotate_keys(f->ctx, 0x30, &k2), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_ap_rotate_keys(f->ctx, 0x21, &k2), MNAP_OK);
    /* the session goes on with its session keys */
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_OK);
    /* old keys refused, new keys work */
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(fx_open_ap(f, 1, &k2, MNAP_LEVEL_FULL), MNAP_OK);
    /* the AM session cannot rotate an AP's keys through the AP API */
    assert_int_equal(mnap_am_open(f->ctx, &f->region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_rotate_keys(f->ctx, 0x22, &k2), MNAP_E_STATE);
    mnap_keyset_wipe(&k2);
}

static void test_close_and_reconnect(void **state)
{
    fx *f = *state;
    uint8_t buf[8];
    size_t got;
    /* a refusal before the card checks the MAC (6884: chaining outside LOAD
     * AP) leaves the host's MAC chain ahead: the library ends the session */
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    {
        mnap_apdu a;
        memset(&a, 0, sizeof(a));
        a.cla = 0x10; a.ins = 0xB0; a.ne = 8;
        assert_int_equal(mnap_command(f->ctx, &a, buf, sizeof(buf), &got), MNAP_E_CHAINING);
        assert_int_equal(mnap_session_open(f->ctx, NULL), 0);
    }
    /* a raw command bypasses the session and ends it */
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    {
        uint16_t sw = 0;
        assert_int_equal(mnap_transmit(f->ctx, (const uint8_t *)"\x00\x20\x00\x81", 4, buf,
                                       sizeof(buf), &got, &sw), MNAP_OK);
        assert_int_equal(sw, 0x6982);   /* no SM inside a channel: the card ends it */
        assert_int_equal(mnap_session_open(f->ctx, NULL), 0);
        assert_int_equal(mnap_transmit(f->ctx, (const uint8_t *)"\x00\x20\x00\x81", 4, buf,
                                       sizeof(buf), &got, &sw), MNAP_OK);
        assert_int_equal(sw, 0x63C3);   /* the empty VERIFY works without a channel */
        assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_E_STATE);
    }
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_close(f->ctx), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_E_STATE);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    /* a card reset ends everything; reconnect and open again */
    mnap_inproc_remove(f->ip);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_E_CARD_REMOVED);
    assert_int_equal(mnap_session_open(f->ctx, NULL), 0);
    assert_int_equal(mnap_inproc_insert(f->ip), MNAP_OK);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_E_CARD_RESET);
    assert_int_equal(mnap_reconnect(f->ctx), MNAP_OK);
    assert_int_equal(fx_open_ap(f, 1, &f->ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_read_binary(f->ctx, FX_EF_BIG, 0, buf, 8, &got), MNAP_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_low_level_ap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_not_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_ap_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
