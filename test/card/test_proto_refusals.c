/* test_proto_refusals.c: PROTOCOL.md §8 "a refused command changes nothing
 * in NVM except the counters and log entries this document requires", held
 * over a table of refusals from §2-§6 in each context (AM channel, AP
 * channel, no channel): each answers its exact status word and leaves the
 * card's state dump (mc_debug_dump) byte for byte as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

typedef struct refusal {
    const char *apdu;   /* plain APDU; ch_cmdx wraps it when a channel is open */
    uint16_t sw;
    const char *why;
} refusal;

static const refusal in_am_channel[] = {
    {"80120000", 0x6D00, "unknown INS"},
    {"80CADF20 02 AAAA 00", 0x6700, "GET DATA with data"},
    {"80F28003 02 4F00 00", 0x6A86, "GET STATUS P1 80 P2 03"},
    {"80E40000 07 4F05D3921000FF", 0x6A88, "DELETE unknown AID"},
    {"80F04083 07 4F05D3921000FF", 0x6A88, "SET STATUS unknown AID"},
    {"80F04005 07 4F05D392100001", 0x6A86, "SET STATUS AP state 05"},
    {"80F08001", 0x6A86, "SET STATUS area state 01"},
    {"802C0081 0E 4F05D3921000FF DF0204 31323334", 0x6A88, "RESET RETRY COUNTER unknown AID"},
    {"802C0081 0D 4F05D392100001 DF0203 313233", 0x6A80, "RESET RETRY COUNTER short PIN"},
    {"80E88000 03 4F0101", 0x6A80, "LOAD AP of a malformed image"},
    {"80E80001 03 4F0101", 0x6A86, "LOAD AP starting at block 01"},
    {"00A40200 02 0101 00", 0x6986, "SELECT EF with the AM selected"},
    {"00B00000 04", 0x6986, "READ BINARY with the AM selected"},
    {"00200081 04 31323334", 0x6986, "VERIFY with the AM selected"},
};

static const refusal in_ap_channel[] = {
    {"80120000", 0x6D00, "unknown INS"},
    {"00A40200 02 0999 00", 0x6A82, "SELECT EF unknown FID"},
    {"00B00000 04", 0x6986, "READ BINARY, no current EF"},
    {"00B08141 01", 0x6B00, "READ BINARY past the end"},
    {"00D6813F 02 0102", 0x6B00, "UPDATE BINARY running past the end"},
    {"00D68300 01 00", 0x6982, "UPDATE BINARY of a NEVER EF"},
    {"00B08200 01", 0x6982, "READ BINARY of a PIN EF without PIN"},
    {"00D68200 01 00", 0x6982, "UPDATE BINARY of a PIN EF without PIN"},
    {"00B2010C 00", 0x6981, "READ RECORD of a transparent EF"},
    {"00B08400 01", 0x6981, "READ BINARY of a record EF"},
    {"00B20124 00", 0x6A83, "READ RECORD of an empty EF"},
    {"00DC0124 10 00000000000000000000000000000000", 0x6A83, "UPDATE RECORD that does not exist"},
    {"00E20020 0F 000000000000000000000000000000", 0x6700, "APPEND RECORD of the wrong length"},
    {"00DC012C 08 0000000000000000", 0x6981, "UPDATE RECORD of a cyclic EF"},
    {"00200081 02 3132", 0x6A80, "VERIFY against the policy"},
    {"00240081 08 04 31323334 313233", 0x6A80, "CHANGE to a PIN against the policy"},
    {"80F24002 02 4F00 00", 0x6986, "GET STATUS from an AP channel"},
    {"80E40000 07 4F05D392100001", 0x6986, "DELETE from an AP channel"},
    {"80CADF21 00", 0x6986, "log from an AP channel"},
    {"80CADF20 00", 0x6986, "area information from an AP channel"},
};

static const refusal ap_selected_no_channel[] = {
    {"00B08100 01", 0x6982, "READ BINARY without channel"},
    {"00D68100 01 00", 0x6982, "UPDATE BINARY without channel"},
    {"00200081 04 31323334", 0x6982, "VERIFY without channel"},
    {"00A40200 02 0101 00", 0x6982, "SELECT EF without channel"},
    {"04B08100 08 0102030405060708", 0x6982, "SM without channel"},
    {"84820100 10 00000000000000000000000000000000", 0x6985, "EXTERNAL AUTHENTICATE, none pending"},
    {"84500000 08 0102030405060708 00", 0x6882, "INITIALIZE UPDATE with SM"},
    {"04C00000 00", 0x6882, "GET RESPONSE with SM"},
    {"84C00000 00", 0x6982, "C0 in the GP class is no GET RESPONSE: SM, no channel"},
    {"01B08100 01", 0x6881, "logical channel"},
    {"A0B08100 01", 0x6E00, "class A0"},
    {"10B08100 01", 0x6884, "chaining outside LOAD AP"},
};

static void check_table(ch_card *c, const refusal *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ct_snap s;
        uint16_t sw;
        s = ct_snapshot(c);
        sw = ch_cmdx(c, t[i].apdu, NULL);
        if (sw != t[i].sw) {
            print_error("%s (%s): %04X, expected %04X\n", t[i].why, t[i].apdu, sw, t[i].sw);
            fail();
        }
        if (!ct_snap_same(c, &s)) {
            print_error("%s (%s): the state changed\n", t[i].why, t[i].apdu);
            fail();
        }
        ct_snap_free(&s);
    }
}

static void test_refusals_in_am_channel(void **state)
{
    ch_card *c = *state;
    check_table(c, in_am_channel, sizeof(in_am_channel) / sizeof(in_am_channel[0]));
    /* the channel survived every refusal */
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", NULL), 0x9000);
}

static void test_refusals_in_ap_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    check_table(c, in_ap_channel, sizeof(in_ap_channel) / sizeof(in_ap_channel[0]));
    ASSERT_SW(ch_cmdx(c, "00B08100 01", NULL), 0x9000);
}

static void test_refusals_without_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_select(c, ap.aid, ap.aid_len, NULL), 0x9000);
    check_table(c, ap_selected_no_channel,
                sizeof(ap_selected_no_channel) / sizeof(ap_selected_no_channel[0]));
}

/* PUT KEY refusals (wrong old KVN, wrong KCV) in an AP channel. */
static void test_put_key_refusals_in_ap_channel(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_keyset k;
    uint8_t data[160], apdu[200];
    size_t dn, n;
    ct_snap s;

    ch_ap_default(&ap, 1);
    ch_make_keys(&k, 0x50, 0x33, 16);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    s = ct_snapshot(c);
    ASSERT_SW(ch_put_key(c, 0x7F, &k, NULL), 0x6A88);
    dn = ch_keyset_data(c, ap.keys.dek, 16, &k, data, sizeof(data));
    data[dn - 1] ^= 0x01;   /* the DEK's KCV */
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xD8, ap.keys.kvn, 0x81, data, dn, 256);
    ASSERT_SW(ch_cmd(c, apdu, n, NULL), 0x6A80);
    ASSERT_UNCHANGED(c, s);
    ct_snap_free(&s);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals_in_am_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_in_ap_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_without_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_put_key_refusals_in_ap_channel, ct_setup_ap,
                                        ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_refusals", tests, NULL, NULL);
}
