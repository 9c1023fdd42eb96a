/* test_area.c: the area API against the in-process card: info, set-up (and
 * its refusals: wrong key set, wrong level), AP load (progress, chaining,
 * duplicate and prefix AIDs, no room, bad image), list, suspend/resume,
 * delete, PIN unblock, security log, key rotation, lock/unlock, terminate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_fixture.h"

static void test_info_blank_and_setup(void **state)
{
    fx f;
    mnap_area_info info;
    mnap_keyset wrong;
    uint8_t level;
    (void)state;
    fx_new(&f, NULL, 0);
    /* open GET DATA DF20 without a session */
    assert_int_equal(mnap_area_info_get(f.ctx, &info), MNAP_OK);
    assert_int_equal(info.state, MNAP_AREA_BLANK);
    assert_int_equal(info.max_aps, 16);
    assert_int_equal(info.max_response, 2048);
    assert_int_equal(info.max_command, 2048);
    assert_int_equal(info.have_am_fields, 0);
    assert_int_equal(mnap_session_open(f.ctx, NULL), 0);

    /* wrong key set: the host refuses the card cryptogram, no session */
    fx_keys(&wrong, 0xFF, 0x66, 16);
    assert_int_equal(mnap_am_open(f.ctx, &wrong, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    assert_int_equal(mnap_session_open(f.ctx, NULL), 0);
    /* unknown KVN */
    wrong.kvn = 0x05;
    assert_int_equal(mnap_am_open(f.ctx, &wrong, MNAP_LEVEL_FULL), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6A88);
    /* wrong level: the AM needs 33 */
    assert_int_equal(mnap_am_open(f.ctx, &f.transport, MNAP_LEVEL_CMAC), MNAP_E_LEVEL);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6982);
    assert_int_equal(mnap_am_open(f.ctx, &f.transport, MNAP_LEVEL_CDEC_RMAC), MNAP_E_LEVEL);
    /* a level not in the accepted list */
    assert_int_equal(mnap_am_open(f.ctx, &f.transport, 0x07), MNAP_E_P1P2);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6A86);

    /* in BLANK, area commands other than set-up are refused */
    assert_int_equal(mnap_am_open(f.ctx, &f.transport, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_session_open(f.ctx, &level), 1);
    assert_int_equal(level, 0x33);
    assert_int_equal(mnap_area_lock(f.ctx), MNAP_E_CONDITIONS);
    /* the session survives a refusal */
    assert_int_equal(mnap_area_setup(f.ctx, &f.region), MNAP_OK);
    assert_int_equal(mnap_area_info_get(f.ctx, &info), MNAP_OK);
    assert_int_equal(info.state, MNAP_AREA_ACTIVE);
    assert_int_equal(info.have_am_fields, 1);
    assert_int_equal(info.ap_count, 0);
    assert_memory_equal(info.serial, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
    assert_memory_equal(info.div_data, "\x00\x01\x02\x03\x04\x05\x06\x07\x00\x01", 10);
    assert_true(info.free_nvm > 0);

    /* the transport key set is gone; the region key set works */
    assert_int_equal(mnap_am_open(f.ctx, &f.transport, MNAP_LEVEL_FULL), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    /* set-up a second time: not BLANK any more (old KVN FF is unknown) */
    assert_int_not_equal(mnap_area_setup(f.ctx, &f.region), MNAP_OK);
    /* a raw command through the session: wrapped, response verified */
    {
        mnap_apdu a;
        uint8_t r[256];
        size_t rl;
        memset(&a, 0, sizeof(a));
        a.cla = 0x80; a.ins = 0xCA; a.p1 = 0xDF; a.p2 = 0x20; a.ne = 256;
        assert_int_equal(mnap_command(f.ctx, &a, r, sizeof(r), &rl), MNAP_OK);
        assert_true(rl > 30);                       /* with the AM-session fields */
        assert_int_equal(r[0], 0xDF);
        assert_int_equal(r[1], 0x20);
        a.p2 = 0x99;                                /* unknown data object */
        assert_int_not_equal(mnap_command(f.ctx, &a, r, sizeof(r), &rl), MNAP_OK);
        assert_int_equal(mnap_session_open(f.ctx, NULL), 1);
    }
    assert_int_equal(mnap_close(f.ctx), MNAP_OK);
    assert_int_equal(mnap_session_open(f.ctx, NULL), 0);
    /* the ATR through the transport: T=1, historical bytes naming MNAP */
    {
        mnap_transport t = mnap_inproc_transport(f.ip);
        uint8_t atr[40];
        size_t al = 0, i;
        int found = 0;
        assert_int_equal(t.atr(t.self, atr, sizeof(atr), &al), MNAP_OK);
        assert_int_equal(atr[0], 0x3B);
        for (i = 0; i + 4 <= al; i++)
            if (memcmp(atr + i, "MNAP", 4) == 0)
                found = 1;
        assert_true(found);
        assert_true(mnap_inproc_nvm_writes(f.ip) > 0);
    }
    mnap_keyset_wipe(&wrong);
    fx_free(&f);
}

typedef struct progress_log {
    size_t calls, last_done, total;
    int monotonic;
} progress_log;

static void on_progress(void *user, size_t done, size_t total)
{
    progress_log *p = user;
    if (p->calls && done < p->last_done)
        p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static void test_load_list_and_refusals(void **state)
{
    fx f;
    uint8_t img[8192], aid[6];
    size_t n, count;
    mnap_ap_entry list[4];
    progress_log pl = { 0, 0, 0, 1 };
    mnap_load_opts opts = { 64, on_progress, &pl };
    (void)state;
    fx_active(&f, NULL, 0);
    /* no AP yet */
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 4, &count), MNAP_OK);
    assert_int_equal(count, 0);

    /* small blocks: many LOAD AP commands, progress reported */
    n = fx_std_image(img, sizeof(img), 1, -1);
    assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, &opts), MNAP_OK);
    assert_true(pl.calls >= 3);
    assert_int_equal(pl.last_done, pl.total);
    assert_true(pl.monotonic);

    /* one block larger than the card's command size: ISO chaining */
    {
        uint8_t big[12000], a2[6];
        static uint8_t content[3000];
        fx_ef efs[1] = { { 0x0101, 1, 0x01, 3000, 0, 0, 0, 0, content, sizeof(content) } };
        mnap_load_opts one = { 8000, NULL, NULL };
        memset(content, 0xC3, sizeof(content));
        fx_std_aid(a2, 2);
        n = fx_image(big, sizeof(big), a2, 6, FX_PIN, -1, efs, 1);
        assert_true(n > 2048);
        assert_int_equal(mnap_area_load_ap(f.ctx, big, n, &f.ap, &one), MNAP_OK);
    }

    assert_int_equal(mnap_area_list_aps(f.ctx, list, 4, &count), MNAP_OK);
    assert_int_equal(count, 2);
    fx_std_aid(aid, 1);
    assert_int_equal(list[0].aid_len, 6);
    assert_memory_equal(list[0].aid, aid, 6);
    assert_int_equal(list[0].state, MNAP_AP_ACTIVE);
    assert_int_equal(list[0].pin_tries, 3);
    assert_true(list[0].nvm_used > 0);
    fx_std_aid(aid, 2);
    assert_memory_equal(list[1].aid, aid, 6);
    /* list into a buffer too small */
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 1, &count), MNAP_E_BUFFER);
    assert_int_equal(count, 2);

    /* duplicate AID */
    n = fx_std_image(img, sizeof(img), 1, -1);
    assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_E_EXISTS);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6A89);
    /* an AID that is a prefix of an existing one */
    {
        const uint8_t pre[5] = { 0xD2, 0x76, 0x00, 0x01, 0x01 };
        n = fx_image(img, sizeof(img), pre, 5, FX_PIN, -1, NULL, 0);
        assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_E_EXISTS);
        /* the AM's own AID */
        n = fx_image(img, sizeof(img), mnap_am_aid, MNAP_AM_AID_LEN, FX_PIN, -1, NULL, 0);
        assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_E_EXISTS);
    }
    /* a bad image: not TLV at all is refused before sending */
    assert_int_equal(mnap_area_load_ap(f.ctx, (const uint8_t *)"\x4F\x09\x01", 3, &f.ap, NULL),
                     MNAP_E_IMAGE);
    /* a well-formed image the card rejects (min level not accepted) */
    fx_std_aid(aid, 9);
    n = fx_image(img, sizeof(img), aid, 6, FX_PIN, 0x07, NULL, 0);
    assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_E_WRONG_DATA);
    /* nothing of the refused loads is on the card, the session still works */
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 4, &count), MNAP_OK);
    assert_int_equal(count, 2);
    fx_free(&f);
}

static void test_no_room(void **state)
{
    fx f;
    uint8_t img[4096], aid[6];
    size_t n, count, i;
    mnap_ap_entry list[16];
    mnap_err rc = MNAP_OK;
    fx_ef efs[1] = { { 0x0101, 1, 0x01, 30000, 0, 0, 0, 0, NULL, 0 } };
    (void)state;
    /* 64 KiB of NVM: 30000-byte EFs fill it after one or two APs */
    fx_active(&f, NULL, 0);
    for (i = 1; i <= 4 && rc == MNAP_OK; i++) {
        fx_std_aid(aid, (uint8_t)i);
        n = fx_image(img, sizeof(img), aid, 6, FX_PIN, -1, efs, 1);
        rc = mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL);
    }
    assert_int_equal(rc, MNAP_E_NO_SPACE);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6A84);
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 16, &count), MNAP_OK);
    assert_int_equal(count, i - 2);
    fx_free(&f);
}

static void test_suspend_resume_delete(void **state)
{
    fx f;
    uint8_t aid[6];
    size_t count;
    mnap_ap_entry list[4];
    (void)state;
    fx_active(&f, NULL, 0);
    fx_load_std(&f, 1);
    fx_std_aid(aid, 1);
    assert_int_equal(mnap_area_suspend_ap(f.ctx, aid, 6), MNAP_OK);
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 4, &count), MNAP_OK);
    assert_int_equal(list[0].state, MNAP_AP_SUSPENDED);
    /* a suspended AP: no session */
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_E_NOT_ACTIVE);
    assert_int_equal(mnap_last_sw(f.ctx), 0x6A81);
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_resume_ap(f.ctx, aid, 6), MNAP_OK);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    /* area calls need an AM session */
    assert_int_equal(mnap_area_suspend_ap(f.ctx, aid, 6), MNAP_E_STATE);

    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_delete_ap(f.ctx, aid, 6), MNAP_OK);
    assert_int_equal(mnap_area_delete_ap(f.ctx, aid, 6), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_area_suspend_ap(f.ctx, aid, 6), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 4, &count), MNAP_OK);
    assert_int_equal(count, 0);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_E_NOT_FOUND);
    assert_int_equal(mnap_area_delete_ap(f.ctx, aid, 3), MNAP_E_PARAM);
    fx_free(&f);
}

static void test_unblock_and_log(void **state)
{
    fx f;
    uint8_t aid[6], tries = 9;
    size_t count, i;
    mnap_log_entry log[32];
    mnap_ap_entry list[2];
    int saw_blocked = 0, saw_reset = 0, saw_loaded = 0;
    (void)state;
    fx_active(&f, NULL, 0);
    fx_load_std(&f, 1);
    fx_std_aid(aid, 1);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, "9999", 4, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, "9999", 4, &tries), MNAP_E_PIN_WRONG);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, "9999", 4, &tries), MNAP_E_PIN_BLOCKED);
    assert_int_equal(tries, 0);

    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_list_aps(f.ctx, list, 2, &count), MNAP_OK);
    assert_int_equal(list[0].pin_tries, 0);
    /* a PIN that breaks the policy: refused, no change */
    assert_int_equal(mnap_area_unblock_pin(f.ctx, aid, 6, "12", 2), MNAP_E_PIN_POLICY);
    assert_int_equal(mnap_area_unblock_pin(f.ctx, aid, 6, "4321", 4), MNAP_OK);
    {
        const uint8_t other[6] = { 0xD2, 0x76, 0x00, 0x01, 0x01, 0x77 };
        assert_int_equal(mnap_area_unblock_pin(f.ctx, other, 6, "4321", 4),
                         MNAP_E_REF_NOT_FOUND);
    }
    assert_int_equal(mnap_area_read_log(f.ctx, log, 32, &count), MNAP_OK);
    assert_true(count >= 3);
    for (i = 0; i < count; i++) {
        if (log[i].event == MNAP_LOG_PIN_BLOCKED)
            saw_blocked = 1;
        if (log[i].event == MNAP_LOG_PIN_RESET) {
            saw_reset = 1;
            assert_int_equal(log[i].aid_len, 6);
            assert_memory_equal(log[i].aid, aid, 6);
        }
        if (log[i].event == MNAP_LOG_AP_LOADED)
            saw_loaded = 1;
        if (i > 0)
            assert_true(log[i].seq < log[i - 1].seq); /* newest first */
    }
    assert_true(saw_blocked && saw_reset && saw_loaded);
    /* The same log asked with a small Le: the card answers 61xx and the
     * protected object comes in GET RESPONSE parts; the library joins them
     * and checks the R-MAC over the whole. */
    {
        mnap_apdu a;
        uint8_t r[2048];
        size_t rl;
        memset(&a, 0, sizeof(a));
        a.cla = 0x80; a.ins = 0xCA; a.p1 = 0xDF; a.p2 = 0x21; a.ne = 16;
        assert_int_equal(mnap_command(f.ctx, &a, r, sizeof(r), &rl), MNAP_OK);
        assert_true(rl > 16);
        assert_int_equal(r[0], 0xDF);
        assert_int_equal(r[1], 0x21);
        assert_int_equal(mnap_session_open(f.ctx, NULL), 1);
        /* and into a buffer too small for it */
        assert_int_equal(mnap_command(f.ctx, &a, r, 8, &rl), MNAP_E_BUFFER);
    }
    assert_int_equal(log[0].event, MNAP_LOG_PIN_RESET);
    assert_string_equal(mnap_log_event_name(MNAP_LOG_PIN_RESET), "PIN_RESET");
    assert_string_equal(mnap_log_event_name(0x42), "UNKNOWN");

    /* the new PIN works */
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_ap_verify_pin(f.ctx, "4321", 4, &tries), MNAP_OK);
    fx_free(&f);
}

static void test_lock_unlock_rotate_terminate(void **state)
{
    fx f;
    mnap_keyset region2;
    mnap_area_info info;
    (void)state;
    fx_active(&f, NULL, 0);
    fx_load_std(&f, 1);
    assert_int_equal(mnap_area_lock(f.ctx), MNAP_OK);
    assert_int_equal(mnap_area_info_get(f.ctx, &info), MNAP_OK);
    assert_int_equal(info.state, MNAP_AREA_LOCKED);
    /* a locked area: APs cannot be opened, loads refused */
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_E_NOT_ACTIVE);
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    {
        uint8_t img[4096];
        size_t n = fx_std_image(img, sizeof(img), 2, -1);
        assert_int_equal(mnap_area_load_ap(f.ctx, img, n, &f.ap, NULL), MNAP_E_CONDITIONS);
    }
    assert_int_equal(mnap_area_unlock(f.ctx), MNAP_OK);
    assert_int_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);

    /* region key rotation: old keys stop working */
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_OK);
    fx_keys(&region2, 0x02, 0x33, 32);
    assert_int_equal(mnap_area_rotate_keys(f.ctx, 0x05, &region2), MNAP_E_REF_NOT_FOUND);
    assert_int_equal(mnap_area_rotate_keys(f.ctx, 0x01, &region2), MNAP_OK);
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_E_REF_NOT_FOUND);
    f.region.kvn = 0x00; /* "current key set": the card's KVN is 02, the keys are wrong */
    assert_int_equal(mnap_am_open(f.ctx, &f.region, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    assert_int_equal(mnap_am_open(f.ctx, &region2, MNAP_LEVEL_FULL), MNAP_OK);

    assert_int_equal(mnap_area_terminate(f.ctx), MNAP_OK);
    assert_int_equal(mnap_area_info_get(f.ctx, &info), MNAP_OK);
    assert_int_equal(info.state, MNAP_AREA_TERMINATED);
    assert_int_not_equal(mnap_am_open(f.ctx, &region2, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_not_equal(fx_open_ap(&f, 1, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    mnap_keyset_wipe(&region2);
    fx_free(&f);
}

/* An image that already carries A1 (e.g. from the manifest compiler) is sent
 * as it is without ap_keys, and its A1 replaced (not duplicated) with them. */
static void test_load_prebuilt_a1(void **state)
{
    fx f;
    uint8_t img[4096], full[4300], a1[200];
    size_t n, m, a1_len = 0;
    cm_tlv_writer w;
    cm_tlv t;
    size_t pos = 0;
    (void)state;
    fx_active(&f, NULL, 0);
    n = fx_std_image(img, sizeof(img), 3, -1);
    memset(a1, 0xEE, 40);
    a1_len = 40;
    /* Insert a bogus A1: the library must replace it, not append a second. */
    cm_tlv_writer_init(&w, full, sizeof(full));
    while (cm_tlv_next(img, n, &pos, &t) == 0) {
        cm_tlv_put(&w, t.tag, t.value, t.len);
        if (t.tag == 0xA0)
            cm_tlv_put(&w, 0xA1, a1, a1_len);
    }
    m = w.pos;
    /* as is: the bogus key set is refused by the card */
    assert_int_equal(mnap_area_load_ap(f.ctx, full, m, NULL, NULL), MNAP_E_WRONG_DATA);
    /* with keys: replaced, accepted */
    assert_int_equal(mnap_area_load_ap(f.ctx, full, m, &f.ap, NULL), MNAP_OK);
    assert_int_equal(fx_open_ap(&f, 3, &f.ap, MNAP_LEVEL_FULL), MNAP_OK);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_blank_and_setup),
        cmocka_unit_test(test_load_list_and_refusals),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_suspend_resume_delete),
        cmocka_unit_test(test_unblock_and_log),
        cmocka_unit_test(test_lock_unlock_rotate_terminate),
        cmocka_unit_test(test_load_prebuilt_a1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
