/* test_proto_am.c: PROTOCOL.md §4 area manager commands held black-box:
 * GET DATA DF20 in a channel, the key information template, PUT KEY
 * (rotation, wrong KVN, wrong KCV), GET STATUS (entries, paging with 6310,
 * no AP), DELETE, SET STATUS of an AP, RESET RETRY COUNTER refusals, and the
 * AM channel requirement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

#define STATUS_APDU "80F24002 02 4F00 00"

static void test_df20_in_channel(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    const uint8_t *v;
    size_t vl, pos = 0;
    unsigned last_tag = 0;

    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    assert_int_equal(vl, 3 + 6 + 3 + 3 + 4 + 10 + 12 + 4 + 4);
    assert_int_equal(r.len, vl + 3);
    /* ascending tags */
    while (pos < vl) {
        assert_true(v[pos] > last_tag);
        last_tag = v[pos];
        pos += 2u + v[pos + 1];
    }
    ASSERT_TLV(v, vl, 0x80, "\x0F", 1);
    assert_non_null(ch_tlv_find(v, vl, 0x81, &pos));
    assert_int_equal(pos, 4);
    ASSERT_TLV(v, vl, 0x82, "\x00", 1);
    ASSERT_TLV(v, vl, 0x83, "\x10", 1);
    ASSERT_TLV(v, vl, 0x85, ch_serial, 8);
    ASSERT_TLV(v, vl, 0x86, ch_div_data, 10);
    ASSERT_TLV(v, vl, 0x87, "\x08\x00", 2);
    ASSERT_TLV(v, vl, 0x88, "\x08\x00", 2);
}

static uint32_t free_nvm(ch_card *c)
{
    ch_rsp r;
    const uint8_t *v, *f;
    size_t vl, fl;
    if (ch_cmdx(c, "80CADF20 00", &r) != 0x9000)
        return 0;
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    if (!v || !(f = ch_tlv_find(v, vl, 0x81, &fl)) || fl != 4)
        return 0;
    return (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
}

static void test_df20_counts_aps_and_free_space(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    const uint8_t *v;
    size_t vl;
    uint32_t before, after;

    before = free_nvm(c);
    assert_true(before > 0);
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    v = ch_tlv_find(r.data, r.len, 0xDF20, &vl);
    assert_non_null(v);
    ASSERT_TLV(v, vl, 0x82, "\x01", 1);
    after = free_nvm(c);
    /* the AP holds at least its EF bytes: 64 + 32 + 16 + 48 + 24 + 20 */
    assert_true(after + 204 <= before);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    assert_int_equal(free_nvm(c), before);
}

static void test_key_information_template(void **state)
{
    ch_card *c = *state;
    ch_rsp r;
    ASSERT_SW(ch_cmdx(c, "80CA00E0 00", &r), 0x9000);
    ASSERT_DATA(&r, "E012 C00401018810 C00402018810 C00403018810");
}

static void test_put_key_rotation(void **state)
{
    ch_card *c = *state;
    cm_keyset k2, k3, rk;
    ch_rsp r;
    uint8_t exp[10];

    ch_region_keys(&rk);
    ch_make_keys(&k2, 0x02, 0x70, 16);
    ch_make_keys(&k3, 0x03, 0x90, 16);
    ASSERT_SW(ch_put_key(c, 0x01, &k2, &r), 0x9000);
    ch_put_key_expected(c, &k2, exp);
    ASSERT_BYTES(r.data, r.len, exp, 10);
    /* the open channel keeps its session, and wrapping keeps the DEK it was
     * opened with (chan_keys stays the region set) */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    ASSERT_SW(ch_put_key(c, 0x02, &k3, &r), 0x9000);
    ch_put_key_expected(c, &k3, exp);
    ASSERT_BYTES(r.data, r.len, exp, 10);
    /* one key set at a time: the old versions are gone */
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80500100 08 0102030405060708 00", NULL), 0x6A88);
    ASSERT_SW(ch_rawx(c, "80500200 08 0102030405060708 00", NULL), 0x6A88);
    ASSERT_SW(ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0x03, &k3, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CA00E0 00", &r), 0x9000);
    ASSERT_DATA(&r, "E012 C00401038810 C00402038810 C00403038810");
}

static void test_put_key_wrong_old_kvn(void **state)
{
    ch_card *c = *state;
    cm_keyset k2;
    ct_snap s;

    ch_make_keys(&k2, 0x02, 0x70, 16);
    s = ct_snapshot(c);
    ASSERT_SW(ch_put_key(c, 0x05, &k2, NULL), 0x6A88);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_open_am(c), 0x9000);
}

/* Key set data with one KCV damaged: 6A80, nothing changes. */
static void test_put_key_wrong_kcv(void **state)
{
    ch_card *c = *state;
    cm_keyset k2;
    uint8_t data[160], apdu[200];
    size_t dn, n;
    ct_snap s;

    ch_make_keys(&k2, 0x02, 0x70, 16);
    dn = ch_keyset_data(c, c->chan_keys.dek, 16, &k2, data, sizeof(data));
    assert_int_equal(dn, 1 + 3 * 23);
    data[1 + 23 + 22] ^= 0x01;   /* last KCV byte of the MAC key */
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xD8, 0x01, 0x81, data, dn, 256);
    s = ct_snapshot(c);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6A80);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_open_am(c), 0x9000);
}

/* Three keys of different lengths: 6A80. */
static void test_put_key_mixed_lengths(void **state)
{
    ch_card *c = *state;
    cm_keyset k16, k32;
    uint8_t d16[160], d32[160], data[200], apdu[240];
    size_t n16, n32, dn, n;

    ch_make_keys(&k16, 0x02, 0x70, 16);
    ch_make_keys(&k32, 0x02, 0x70, 32);
    n16 = ch_keyset_data(c, c->chan_keys.dek, 16, &k16, d16, sizeof(d16));
    n32 = ch_keyset_data(c, c->chan_keys.dek, 16, &k32, d32, sizeof(d32));
    assert_int_equal(n16, 1 + 3 * 23);
    assert_int_equal(n32, 1 + 3 * 39);
    /* KVN, ENC block of 16, MAC and DEK blocks of 32 */
    memcpy(data, d16, 1 + 23);
    memcpy(data + 24, d32 + 1 + 39, 2 * 39);
    dn = 24 + 78;
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xD8, 0x01, 0x81, data, dn, 256);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6A80);
    (void)n32;
}

static void test_get_status_no_ap(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, STATUS_APDU, NULL), 0x6A88);
}

static void test_get_status_needs_am_channel(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, STATUS_APDU, NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80CADF21 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80CA00E0 00", NULL), 0x6982);
    ASSERT_SW(ch_rawx(c, "80E40000 07 4F05D392100001", NULL), 0x6982);
}

static void expect_entry(const uint8_t *e, size_t len, unsigned idx, uint8_t state,
                         uint8_t tries)
{
    size_t l;
    const uint8_t *v;
    uint8_t aid[5] = {0xD3, 0x92, 0x10, 0x00, (uint8_t)idx};

    ASSERT_TLV(e, len, 0x4F, aid, 5);
    ASSERT_TLV(e, len, 0x9F70, &state, 1);
    v = ch_tlv_find(e, len, 0xDF30, &l);
    assert_non_null(v);
    assert_int_equal(l, 4);
    /* NVM used holds at least the default AP's EF bytes (64+32+16+48+24+20) */
    assert_true(((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3]) >=
                204);
    ASSERT_TLV(e, len, 0xDF31, &tries, 1);
}

static void test_get_status_entries_and_paging(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;
    size_t l;
    const uint8_t *e;

    for (unsigned i = 1; i <= 3; i++) {
        ch_ap_default(&ap, i);
        if (i == 2)
            ap.initial_pin = NULL;   /* DF31 is max tries while never set */
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    }
    /* all at once, in load order */
    ASSERT_SW(ch_cmdx(c, STATUS_APDU, &r), 0x9000);
    assert_int_equal(r.len, 3 * 24);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(r.data[i * 24], 0xE3);
        assert_int_equal(r.data[i * 24 + 1], 22);
        expect_entry(r.data + i * 24 + 2, 22, i + 1, 0x07, 3);
    }
    /* Le 30: two whole entries, 6310, then the rest with P2 03 */
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 30", &r), 0x6310);
    assert_int_equal(r.len, 48);
    e = ch_tlv_find(r.data, r.len, 0xE3, &l);
    expect_entry(e, l, 1, 0x07, 3);
    expect_entry(r.data + 24 + 2, 22, 2, 0x07, 3);
    ASSERT_SW(ch_cmdx(c, "80F24003 02 4F00 30", &r), 0x9000);
    assert_int_equal(r.len, 24);
    expect_entry(r.data + 2, 22, 3, 0x07, 3);
    /* Le 2F: one entry per part */
    ASSERT_SW(ch_cmdx(c, "80F24002 02 4F00 2F", &r), 0x6310);
    assert_int_equal(r.len, 24);
    ASSERT_SW(ch_cmdx(c, "80F24003 02 4F00 2F", &r), 0x6310);
    assert_int_equal(r.len, 24);
    expect_entry(r.data + 2, 22, 2, 0x07, 3);
    ASSERT_SW(ch_cmdx(c, "80F24003 02 4F00 2F", &r), 0x9000);
    expect_entry(r.data + 2, 22, 3, 0x07, 3);
}

static void test_get_status_wrong_p1p2(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "80F24000 02 4F00 00", NULL), 0x6A86);
    /* P1 80, 20, 10 take P2 02 only, P2 03 goes with P1 40 only (§4) */
    ASSERT_SW(ch_cmdx(c, "80F28003 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F22003 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F21000 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F26002 02 4F00 00", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F20002 02 4F00 00", NULL), 0x6A86);
}

static void test_delete(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ct_snap s;

    ch_ap_default(&ap, 1);
    s = ct_snapshot(c);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100009", NULL), 0x6A88);
    ASSERT_SW(ch_cmdx(c, "80E40000 06 4F04D3921000", NULL), 0x6A88);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, STATUS_APDU, NULL), 0x6A88);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x6A82);
    /* the same AP loads again */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static int nvm_contains(const ch_card *c, const uint8_t *pat, size_t n)
{
    for (size_t i = 0; i + n <= c->sc.sim.nvm_size; i++)
        if (memcmp(c->sc.sim.nvm + i, pat, n) == 0)
            return 1;
    return 0;
}

/* DELETE wipes the AP's data and keys (§4): nothing of its EF content or of
 * its plain keys stays anywhere in NVM (journal and staging included). */
static void test_delete_wipes(void **state)
{
    ch_card *c = *state;
    static const uint8_t pattern[32] = "AP2 private data: 0123456789ABC";
    ch_ap ap;
    int content_seen, key_seen;

    ch_ap_default(&ap, 2);
    /* keys that no other byte run of the card resembles (the default keys
     * are counting sequences, which the default EF content also holds) */
    for (unsigned i = 0; i < 16; i++) {
        ap.keys.enc[i] = (uint8_t)(0x9E ^ (i * 29));
        ap.keys.mac[i] = (uint8_t)(0x3C ^ (i * 53));
        ap.keys.dek[i] = (uint8_t)(0xC7 ^ (i * 71));
    }
    ap.efs[0].content = pattern;
    ap.efs[0].content_len = sizeof(pattern);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    /* write it once more through UPDATE BINARY (journaled writes) */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdl(c, NULL, "00D68120",
                      "41503220707269766174652064617461", -1), 0x9000);
    content_seen = nvm_contains(c, pattern, 16);
    key_seen = nvm_contains(c, ap.keys.enc, 16);
    print_message("before DELETE: content %s, plain Key-ENC %s in NVM\n",
                  content_seen ? "found" : "not found", key_seen ? "found" : "not found");
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80E40000 07 4F05D392100002", NULL), 0x9000);
    assert_false(nvm_contains(c, pattern, 16));
    assert_false(nvm_contains(c, ap.keys.enc, 16));
    assert_false(nvm_contains(c, ap.keys.mac, 16));
    assert_false(nvm_contains(c, ap.keys.dek, 16));
    /* and after a power cycle (recovery may finish a wipe) */
    assert_int_equal(ch_power_cycle(c), MC_OK);
    assert_false(nvm_contains(c, pattern, 16));
}

static void test_set_status_ap(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_rsp r;

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, STATUS_APDU, &r), 0x9000);
    expect_entry(r.data + 2, 22, 1, 0x83, 3);
    /* SELECT still works and shows the state; a channel cannot be opened */
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, &r), 0x9000);
    ASSERT_DATA(&r, "6F0D 8405D392100001 A504 9F700183");
    ASSERT_SW(ch_rawx(c, "80500000 08 0102030405060708 00", NULL), 0x6A81);
    ASSERT_SW(ch_rawx(c, "00200081", NULL), 0x6A81);
    /* resume */
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80F04007 07 4F05D392100001", NULL), 0x9000);
    ASSERT_SW(ch_cmdx(c, STATUS_APDU, &r), 0x9000);
    expect_entry(r.data + 2, 22, 1, 0x07, 3);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

static void test_set_status_ap_refusals(void **state)
{
    ch_card *c = *state;
    ct_snap s = ct_snapshot(c);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100009", NULL), 0x6A88);
    ASSERT_SW(ch_cmdx(c, "80F04005 07 4F05D392100001", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F04001 07 4F05D392100001", NULL), 0x6A86);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
}

static void test_set_status_area_wrong_state(void **state)
{
    ch_card *c = *state;
    ASSERT_SW(ch_cmdx(c, "80F08001", NULL), 0x6A86);
    ASSERT_SW(ch_cmdx(c, "80F08083", NULL), 0x6A86);
}

static void test_rrc_refusals(void **state)
{
    ch_card *c = *state;
    ct_snap s = ct_snapshot(c);
    /* unknown AID, PIN too short for the policy (4..8), not digits, too long */
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100009 DF0204 31323334", -1), 0x6A88);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0203 313233", -1), 0x6A80);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0204 3132334A", -1), 0x6A80);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0209 313233343536373839", -1),
              0x6A80);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
}

/* An AP channel does not reach the AM's commands' effects: the AM's PUT KEY
 * cannot change an AP's keys (F4). */
static void test_am_cannot_change_ap_keys(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_keyset k;

    ch_ap_default(&ap, 1);
    ch_make_keys(&k, 0x40, 0x55, 16);
    ASSERT_SW(ch_put_key(c, ap.keys.kvn, &k, NULL), 0x6A88);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

/* The state snapshots used by the "refusal changes nothing" checks see real
 * changes (guards against a vacuous comparison). */
static void test_snapshot_sees_changes(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ct_snap s;

    assert_true(ch_have_debug_dump());
    s = ct_snapshot(c);
    assert_non_null(s.p);
    assert_true(s.n > 0);
    assert_true(ct_snap_same(c, &s));
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    assert_false(ct_snap_same(c, &s));
    ct_snap_free(&s);
}

/* Commands whose success carries no data answer exactly 9000 and, at level
 * 33, nothing but the R-MAC (no R-ENC block without data). */
static void test_success_without_data(void **state)
{
    ch_card *c = *state;
    static const char *const cmds[] = {
        "80F04083 07 4F05D392100001",
        "80F04007 07 4F05D392100001",
        "802C0081 0E 4F05D392100001 DF0204 31323334",
        "80F0807F",
        "80F0800F",
        "80E40000 07 4F05D392100001",
    };
    ch_rsp r;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        ASSERT_SW(ch_cmdx(c, cmds[i], &r), 0x9000);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.raw_len, 8);
    }
    /* LOAD AP: every block */
    {
        ch_ap ap;
        static uint8_t img[CH_IMAGE_MAX];
        cm_keyset rk;
        uint8_t apdu[300];
        size_t n, an;
        ch_region_keys(&rk);
        ch_ap_default(&ap, 1);
        n = ch_build_image(c, rk.dek, 16, &ap, img, sizeof(img));
        assert_true(n > 200);
        an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x00, 0x00, img, 200, -1);
        ASSERT_SW(ch_cmd(c, apdu, an, &r), 0x9000);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.raw_len, 8);
        an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, 0x01, img + 200, n - 200, -1);
        ASSERT_SW(ch_cmd(c, apdu, an, &r), 0x9000);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.raw_len, 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_sees_changes, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_df20_in_channel, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_df20_counts_aps_and_free_space, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_key_information_template, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_put_key_rotation, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_put_key_wrong_old_kvn, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_put_key_wrong_kcv, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_put_key_mixed_lengths, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_no_ap, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_needs_am_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_entries_and_paging, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status_wrong_p1p2, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_delete, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_delete_wipes, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_set_status_ap, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_set_status_ap_refusals, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_set_status_area_wrong_state, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_rrc_refusals, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_success_without_data, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_am_cannot_change_ap_keys, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_am", tests, NULL, NULL);
}
