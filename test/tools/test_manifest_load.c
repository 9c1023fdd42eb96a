/* test_manifest_load.c: what the manifest compiler builds, the card takes.
 * Each shipped example is checked, built with the tests' region Key-DEK and
 * loaded with LOAD AP into the in-process simulated card (test/support's
 * harness); then a secure channel is opened on the new AP with the key set
 * the compiler wrapped, and the EFs answer as the manifest describes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "card_harness.h"
#include "card_test.h"
#include "manifest.h"

/* The key store of these tests: distinct keys per example, of the three
 * lengths. */
static int keys(void *ctx, const char *name, cm_keyset *out)
{
    (void)ctx;
    if (strcmp(name, "library") == 0)
        ch_make_keys(out, 0x11, 0x51, 16);
    else if (strcmp(name, "certificate") == 0)
        ch_make_keys(out, 0x12, 0x61, 24);
    else if (strcmp(name, "booking") == 0)
        ch_make_keys(out, 0x13, 0x71, 32);
    else
        return -1;
    return 0;
}

static ch_card C;
static mt_manifest M;
static uint8_t IMG[MT_MANIFEST_MAX_IMAGE];
static ch_rsp R;

/* Checks and builds path; the image is IMG[0..*len). */
static void build(const char *path, size_t *len)
{
    mt_manifest_problem items[8];
    mt_manifest_report rep;
    cm_keyset region;

    ch_region_keys(&region);
    mt_manifest_report_init(&rep, items, 8);
    assert_int_equal(mt_manifest_check_file(path, &M, &rep), MT_MANIFEST_OK);
    assert_int_equal(mt_manifest_build(&M, keys, NULL, &C.aes, region.dek, region.key_len, IMG, sizeof IMG, len,
                                         &rep),
                     MT_MANIFEST_OK);
}

static int setup(void **state)
{
    (void)state;
    if (ch_init_active(&C) != 0)
        return -1;
    /* LOAD AP keys are unwrapped with the Key-DEK of the channel: use one
     * opened with the region keys, whose DEK the compiler wrapped under. */
    return ch_open_am(&C) == 0x9000 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mt_manifest_wipe(&M);
    ch_free(&C);
    return 0;
}

/* Loads the example and opens a channel on it at level. */
static void load_and_open(const char *path, const char *name, uint8_t level)
{
    size_t len = 0;
    cm_keyset ks;

    build(path, &len);
    ASSERT_SW(ch_load_image(&C, IMG, len, len, 0), 0x9000);
    assert_int_equal(keys(NULL, name, &ks), 0);
    ASSERT_SW(ch_open(&C, M.aid, M.aid_len, 0x00, &ks, level), 0x9000);
}

static void test_library_loads(void **state)
{
    (void)state;
    load_and_open("tools/examples/library.json", "library", 0x33);
    /* EF 0103 holds the UTF-8 text of the manifest. */
    ASSERT_SW(ch_cmdx(&C, "00A4020C020103", &R), 0x9000);
    ASSERT_SW(ch_cmdx(&C, "00B0000000", &R), 0x9000);
    assert_int_equal(R.len, 64);
    assert_memory_equal(R.data, "\xE5\xB8\x82\xE7\xAB\x8B\xE4\xB8\xAD\xE5\xA4\xAE\xE5\x9B\xB3\xE6\x9B\xB8\xE9\xA4\xA8"
                                " Central City Library",
                        42);
    /* "write": "NEVER" */
    ASSERT_SW(ch_cmdx(&C, "00D6000001FF", &R), 0x6982);
    /* The loan history is cyclic, 48-byte records, readable with the PIN
     * only, and the PIN is unset in this AP. */
    ASSERT_SW(ch_cmdx(&C, "00E2001030" "000102030405060708090A0B0C0D0E0F000102030405060708090A0B0C0D0E0F"
                      "000102030405060708090A0B0C0D0E0F", &R), 0x9000);
    ASSERT_SW(ch_cmdx(&C, "00B2011400", &R), 0x6982);
    ASSERT_SW(ch_verify(&C, "1234"), 0x6984);
}

static void test_certificate_loads(void **state)
{
    (void)state;
    load_and_open("tools/examples/certificate.json", "certificate", 0x33);
    ASSERT_SW(ch_cmdx(&C, "00B0830000", &R), 0x9000);  /* SFI 3 */
    ASSERT_DATA(&R, "0100131010000000");
    /* The resident reference needs the PIN. */
    ASSERT_SW(ch_cmdx(&C, "00B0810000", &R), 0x6982);
}

static void test_booking_loads(void **state)
{
    (void)state;
    /* min_level 13: a channel at 01 is below it. */
    {
        size_t len = 0;
        cm_keyset ks;
        build("tools/examples/booking.json", &len);
        ASSERT_SW(ch_load_image(&C, IMG, len, len, 0), 0x9000);
        assert_int_equal(keys(NULL, "booking", &ks), 0);
        ASSERT_SW(ch_open(&C, M.aid, M.aid_len, 0x00, &ks, 0x01), 0x6982);
        ASSERT_SW(ch_open(&C, M.aid, M.aid_len, 0x00, &ks, 0x13), 0x9000);
    }
    /* The initial PIN of the manifest. */
    ASSERT_SW(ch_verify(&C, "0000"), 0x9000);
    ASSERT_SW(ch_cmdx(&C, "00A4020C020304", &R), 0x9000);   /* no SFI: by FID */
    ASSERT_SW(ch_cmdx(&C, "00B0000000", &R), 0x9000);
    /* 16-byte EF, 8 bytes of initial content; the rest is the card's. */
    assert_int_equal(R.len, 16);
    assert_memory_equal(R.data, "\x00\x01\x00\x02\x00\x03\x00\x10", 8);
}

/* The same image twice: the AID exists. */
static void test_second_load_refused(void **state)
{
    size_t len = 0;
    (void)state;
    build("tools/examples/library.json", &len);
    ASSERT_SW(ch_load_image(&C, IMG, len, len, 0), 0x9000);
    ASSERT_SW(ch_load_image(&C, IMG, len, len, 0), 0x6A89);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_library_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certificate_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booking_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_load_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
