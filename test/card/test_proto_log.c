/* test_proto_log.c: PROTOCOL.md §8 security log held black-box: entry
 * format, events of loads, deletes, PIN failures and blocking, PIN reset,
 * failed authentications, key changes and state changes, the merge rule
 * (repeat count, saturation at 255, AREA_STATE / AP_STATE never merged), the
 * 32-entry cycle, and reading a log longer than Ne through 61xx and GET
 * RESPONSE (§3, §10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

#define EV_PIN_FAIL       0x01
#define EV_PIN_BLOCKED    0x02
#define EV_PIN_RESET      0x03
#define EV_AUTH_FAIL      0x04
#define EV_AP_LOADED      0x05
#define EV_AP_DELETED     0x06
#define EV_KEY_CHANGED    0x07
#define EV_AREA_STATE     0x08
#define EV_AP_STATE       0x09

typedef struct entry {
    uint32_t seq;
    uint8_t ev;
    uint8_t aid[16];
    size_t aid_len;   /* 0: no 82 */
    uint8_t rep;
} entry;

static const uint8_t aid1[5] = {0xD3, 0x92, 0x10, 0x00, 0x01};

/* Reads and parses the log through an AM channel opened here with am_keys
 * (NULL: the region keys). */
static size_t read_log_k(ch_card *c, const cm_keyset *am_keys, entry *e, size_t max)
{
    static ch_rsp r;
    const uint8_t *v;
    size_t vl, pos = 0, n = 0;

    if (am_keys)
        ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0, am_keys, 0x33), 0x9000);
    else
        ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF21, &vl);
    assert_non_null(v);
    while (pos < vl) {
        const uint8_t *f, *x;
        size_t fl, xl, hl;
        assert_true(n < max);
        assert_int_equal(v[pos], 0xDF);
        assert_int_equal(v[pos + 1], 0x22);
        fl = v[pos + 2];
        hl = 3;
        if (fl == 0x81) {
            fl = v[pos + 3];
            hl = 4;
        }
        f = v + pos + hl;
        x = ch_tlv_find(f, fl, 0x80, &xl);
        assert_non_null(x);
        assert_int_equal(xl, 4);
        e[n].seq = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
        x = ch_tlv_find(f, fl, 0x81, &xl);
        assert_non_null(x);
        assert_int_equal(xl, 1);
        e[n].ev = x[0];
        x = ch_tlv_find(f, fl, 0x82, &xl);
        e[n].aid_len = x ? xl : 0;
        if (x) {
            assert_true(xl <= 16);
            memcpy(e[n].aid, x, xl);
        }
        x = ch_tlv_find(f, fl, 0x83, &xl);
        assert_non_null(x);
        assert_int_equal(xl, 1);
        e[n].rep = x[0];
        n++;
        pos += hl + fl;
    }
    return n;
}

static size_t read_log(ch_card *c, entry *e, size_t max)
{
    return read_log_k(c, NULL, e, max);
}

static void expect(const entry *e, uint8_t ev, const uint8_t *aid, size_t aid_len, uint8_t rep)
{
    if (e->ev != ev || e->rep != rep) {
        print_error("log entry seq %u: event %02X rep %u, expected event %02X rep %u\n",
                    (unsigned)e->seq, e->ev, e->rep, ev, rep);
        fail();
    }
    if (aid)
        ASSERT_BYTES(e->aid, e->aid_len, aid, aid_len);
}

static void test_format_and_load_delete(void **state)
{
    ch_card *c = *state;
    static entry e[40];
    size_t n;
    ch_ap ap;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    n = read_log(c, e, 40);
    assert_true(n >= 1);
    expect(&e[0], EV_AP_LOADED, aid1, 5, 1);
    /* newest first, sequence numbers from 1, no gaps */
    assert_int_equal(e[n - 1].seq, 1);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(e[i].seq, e[i + 1].seq + 1);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    n = read_log(c, e, 40);
    expect(&e[0], EV_AP_DELETED, aid1, 5, 1);
    expect(&e[1], EV_AP_LOADED, aid1, 5, 1);
    assert_int_equal(e[0].seq, e[1].seq + 1);
}

static void test_pin_events_and_merge(void **state)
{
    ch_card *c = *state;
    static entry e[40];
    size_t n;
    ch_ap ap;
    uint32_t s_fail;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "0000"), 0x63C2);
    n = read_log(c, e, 40);
    expect(&e[0], EV_PIN_FAIL, aid1, 5, 1);
    s_fail = e[0].seq;
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "0000"), 0x63C1);
    n = read_log(c, e, 40);
    /* merged: same entry, same sequence number, repeat 2 */
    expect(&e[0], EV_PIN_FAIL, aid1, 5, 2);
    assert_int_equal(e[0].seq, s_fail);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_verify(c, "0000"), 0x6983);
    n = read_log(c, e, 40);
    /* the blocking try logs PIN_BLOCKED only */
    expect(&e[0], EV_PIN_BLOCKED, aid1, 5, 1);
    expect(&e[1], EV_PIN_FAIL, aid1, 5, 2);
    assert_int_equal(e[0].seq, s_fail + 1);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0204 31323334", -1), 0x9000);
    n = read_log(c, e, 40);
    expect(&e[0], EV_PIN_RESET, aid1, 5, 1);
    (void)n;
}

/* A properly MACed EXTERNAL AUTHENTICATE with a wrong host cryptogram. */
static void fail_auth(ch_card *c, const ch_ap *ap)
{
    uint8_t bad[8] = {0}, apdu[21] = {0x84, 0x82, 0x33, 0x00, 0x10};
    ASSERT_SW(ch_select(c, ap->aid, ap->aid_len, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap->keys, NULL), 0x9000);
    assert_int_equal(cm_scp03_external_auth(&c->scp, 0x33, bad, apdu + 5), 0);
    ASSERT_SW(ch_raw(c, apdu, sizeof(apdu), NULL), 0x6300);
}

static void test_auth_fail_merge_and_saturation(void **state)
{
    ch_card *c = *state;
    static entry e[40];
    ch_ap ap;
    uint32_t s0;

    ch_ap_default(&ap, 1);
    fail_auth(c, &ap);
    read_log(c, e, 40);
    expect(&e[0], EV_AUTH_FAIL, aid1, 5, 1);
    s0 = e[0].seq;
    fail_auth(c, &ap);
    fail_auth(c, &ap);
    read_log(c, e, 40);
    expect(&e[0], EV_AUTH_FAIL, aid1, 5, 3);
    assert_int_equal(e[0].seq, s0);
    /* a flood saturates at 255 and pushes nothing out */
    for (int i = 0; i < 260; i++)
        fail_auth(c, &ap);
    read_log(c, e, 40);
    expect(&e[0], EV_AUTH_FAIL, aid1, 5, 255);
    assert_int_equal(e[0].seq, s0);
    expect(&e[1], EV_AP_LOADED, aid1, 5, 1);
    /* a level below the minimum is refused without a log entry */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    ASSERT_SW(ch_initialize_update(c, 0, &ap.keys, NULL), 0x9000);
    ASSERT_SW(ch_external_authenticate(c, 0x13), 0x6982);
    read_log(c, e, 40);
    expect(&e[0], EV_AUTH_FAIL, aid1, 5, 255);
}

static void test_key_changed(void **state)
{
    ch_card *c = *state;
    static entry e[40];
    cm_keyset k;
    ch_ap ap;

    /* an AP rotates its keys */
    ch_ap_default(&ap, 1);
    ch_make_keys(&k, 0x40, 0x70, 16);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_put_key(c, ap.keys.kvn, &k, NULL), 0x9000);
    read_log(c, e, 40);
    expect(&e[0], EV_KEY_CHANGED, aid1, 5, 1);
    /* the AM rotates its keys: another entry (not the AP's AID) */
    ch_make_keys(&k, 0x02, 0x70, 16);
    ASSERT_SW(ch_put_key(c, 0x01, &k, NULL), 0x9000);
    read_log_k(c, &k, e, 40);
    expect(&e[0], EV_KEY_CHANGED, NULL, 0, 1);
    expect(&e[1], EV_KEY_CHANGED, aid1, 5, 1);
    assert_int_equal(e[0].seq, e[1].seq + 1);
}

static void test_state_events_never_merged(void **state)
{
    ch_card *c = *state;
    static entry e[40];

    ASSERT_SW(ch_cmdx(c, "80F08007", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F0807F", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F0800F", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F04007 07 4F05D392100001", NULL), 0x9000);
    read_log(c, e, 40);
    expect(&e[0], EV_AP_STATE, aid1, 5, 1);
    expect(&e[1], EV_AP_STATE, aid1, 5, 1);
    expect(&e[2], EV_AREA_STATE, NULL, 0, 1);
    expect(&e[3], EV_AREA_STATE, NULL, 0, 1);
    assert_int_equal(e[0].seq, e[1].seq + 1);
    assert_int_equal(e[1].seq, e[2].seq + 1);
    assert_int_equal(e[2].seq, e[3].seq + 1);
}

static void test_log_cycles_at_32(void **state)
{
    ch_card *c = *state;
    static entry e[40];
    size_t n;

    ASSERT_SW(ch_open_am(c), 0x9000);
    for (int i = 0; i < 20; i++) {
        ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
        ASSERT_SW(ch_cmdx(c, "80F04007 07 4F05D392100001", NULL), 0x9000);
    }
    n = read_log(c, e, 40);
    assert_int_equal(n, 32);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(e[i].seq, e[i + 1].seq + 1);
    assert_true(e[31].seq > 1);
    for (size_t i = 0; i < n; i++)
        expect(&e[i], EV_AP_STATE, aid1, 5, 1);
}

/* A log longer than Ne (short Le 00): 61xx with no data, then GET RESPONSE
 * parts of the protected response; GET RESPONSE does not advance the MAC
 * chain, so the next wrapped command still verifies. */
static void test_log_through_get_response(void **state)
{
    ch_card *c = *state;
    static ch_rsp r1, r2, part;
    static uint8_t joined[CH_RSP_MAX];
    uint8_t apdu[32];
    size_t n, total = 0, plain = 0;
    uint16_t sw;

    ASSERT_SW(ch_open_am(c), 0x9000);
    /* 12 entries of 22 bytes: the protected log is between 256 and 512 */
    for (int i = 0; i < 6; i++) {
        ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
        ASSERT_SW(ch_cmdx(c, "80F04007 07 4F05D392100001", NULL), 0x9000);
    }
    /* the whole log with extended Le */
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r1), 0x9000);
    assert_true(r1.raw_len > 256 && r1.raw_len < 512);
    /* short Le: 61 00 (256 and more), no data */
    n = ch_hex("80CADF21 00", apdu, sizeof(apdu));
    sw = ch_cmd_nogr(c, apdu, n, &r2);
    ASSERT_SW(sw, 0x6100);
    assert_int_equal(r2.len, 0);
    /* GET RESPONSE 00: 256 bytes, then 61xx announcing exactly the rest */
    ASSERT_SW(ch_rawx(c, "00C00000 00", &part), 0x6100 | (r1.raw_len - 256));
    assert_int_equal(part.len, 256);
    memcpy(joined, part.data, part.len);
    total = part.len;
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xC0, 0x00, 0x00, NULL, 0, (long)(r1.raw_len - 256));
    ASSERT_SW(ch_raw(c, apdu, n, &part), 0x9000);
    assert_int_equal(part.len, r1.raw_len - 256);
    memcpy(joined + total, part.data, part.len);
    total += part.len;
    /* the joined parts are one protected response of the same log */
    assert_int_equal(cm_scp03_unwrap_response(&c->scp, joined, total, 0x9000, &plain), 0);
    ASSERT_BYTES(joined, plain, r1.data, r1.len);
    /* nothing pending any more */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r2), 0x9000);
}

static void test_log_needs_am_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF21 00", NULL), 0x6982);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    /* from an AP channel: the AM is not selected (§4) */
    ASSERT_SW(ch_cmdx(c, "80CADF21 00", NULL), 0x6986);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_and_load_delete, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_pin_events_and_merge, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_auth_fail_merge_and_saturation, ct_setup_ap,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_key_changed, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_state_events_never_merged, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_log_cycles_at_32, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_log_through_get_response, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_log_needs_am_channel, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_log", tests, NULL, NULL);
}
