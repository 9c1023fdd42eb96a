/* test_manifest_errors.c: every problem the manifest checker reports, each at
 * its exact line and column, and several problems reported in one run.
 *
 * Most cases start from one valid manifest (BASE_*, one field or EF per line)
 * and replace one line, so the expected positions can be counted by hand:
 *
 *   1  {
 *   2    "aid": "D392F0000101",
 *   3    "pin": { "max_tries": 3, "min_length": 4, "max_length": 8 },
 *   4    "key_set": "t",
 *   5    "files": [
 *   6      { "fid": "0101", "sfi": 1, "type": "transparent", "size": 16, "read": "SM", "write": "SM" },
 *   7      { "fid": "0102", "sfi": 2, "type": "cyclic", "record_length": 8, "record_count": 4, "read": "PIN", "write": "SM" }
 *   8    ]
 *   9  }
 *
 * Columns (1-based, bytes) of the base lines: line 2 value 10; line 3 object
 * 10, max_tries value 25, min_length value 42, max_length value 59; line 4
 * value 14; line 6 object 5, fid value 14, sfi value 29, type value 40, size
 * value 63, read value 75, write value 90 (its closing quote at 93); line 7
 * object 5, fid value 14, sfi value 29, closing quote of the write value 116. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "manifest.h"

#define BASE_L2 "  \"aid\": \"D392F0000101\","
#define BASE_L3 "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8 },"
#define BASE_L4 "  \"key_set\": \"t\","
#define BASE_L6 "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", \"write\": \"SM\" },"
#define BASE_L7 "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, \"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\" }"
/* Line 6 and 7 with something appended after the write rule: the first
 * appended character is at column 94 (line 6) or 117 (line 7). */
#define L6_PLUS(x) "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", \"write\": \"SM\"" x " },"
#define L7_PLUS(x) "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, \"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\"" x " }"

static mt_manifest M;
static char TEXT[200000];

/* The base manifest with the given lines replaced (NULL keeps the base). */
static const char *compose(const char *l2, const char *l3, const char *l4, const char *l6, const char *l7)
{
    snprintf(TEXT, sizeof TEXT, "{\n%s\n%s\n%s\n  \"files\": [\n%s\n%s\n  ]\n}\n", l2 ? l2 : BASE_L2,
             l3 ? l3 : BASE_L3, l4 ? l4 : BASE_L4, l6 ? l6 : BASE_L6, l7 ? l7 : BASE_L7);
    return TEXT;
}

static void print_report(const char *text, const mt_manifest_report *r)
{
    fprintf(stderr, "--- manifest:\n%s--- %zu problem(s):\n", text, r->count);
    for (size_t i = 0; i < r->count && i < r->cap; i++)
        fprintf(stderr, "  %d:%d: %s\n", r->items[i].line, r->items[i].column, r->items[i].message);
}

/* The text must give exactly one problem, at line:column, whose message
 * contains msg. */
static void expect_one(const char *text, int line, int column, const char *msg)
{
    mt_manifest_problem items[8];
    mt_manifest_report r;
    int rc;

    mt_manifest_report_init(&r, items, 8);
    rc = mt_manifest_check(text, strlen(text), &M, &r);
    if (rc != MT_MANIFEST_E_INVALID || r.count != 1 || items[0].line != line || items[0].column != column ||
        strstr(items[0].message, msg) == NULL) {
        print_report(text, &r);
        fail_msg("expected rc %d and one problem at %d:%d containing \"%s\" (got rc %d)", MT_MANIFEST_E_INVALID,
                 line, column, msg, rc);
    }
}

static void test_base_is_valid(void **state)
{
    mt_manifest_problem items[4];
    mt_manifest_report r;
    const char *text = compose(NULL, NULL, NULL, NULL, NULL);
    (void)state;
    mt_manifest_report_init(&r, items, 4);
    if (mt_manifest_check(text, strlen(text), &M, &r) != MT_MANIFEST_OK) {
        print_report(text, &r);
        fail();
    }
    assert_int_equal(r.count, 0);
    assert_int_equal(M.ef_count, 2);
    assert_int_equal(M.efs[1].type, MNAP_EF_CYCLIC);
    assert_string_equal(M.key_set, "t");
    assert_int_equal(M.key_set_line, 4);
    assert_int_equal(M.key_set_column, 14);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    expect_one(compose(NULL, NULL, "  \"key_set\": \"t\", \"colour\": \"red\",", NULL, NULL), 4, 19,
               "unknown field \"colour\"");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"puk\": \"1\" },",
                       NULL, NULL, NULL),
               3, 62, "pin: unknown field \"puk\"");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"mode\": 1"), NULL), 6, 96, "files[0]: unknown field \"mode\"");
    /* Field names are case-sensitive. */
    expect_one(compose(NULL, NULL, NULL, NULL, L7_PLUS(", \"FID\": \"0103\"")), 7, 119,
               "files[1]: unknown field \"FID\"");
}

static void test_duplicate_field(void **state)
{
    (void)state;
    expect_one(compose(NULL, NULL, "  \"key_set\": \"t\", \"key_set\": \"u\",", NULL, NULL), 4, 19,
               "duplicate field \"key_set\"");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"sfi\": 3"), NULL), 6, 96, "files[0]: duplicate field \"sfi\"");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_one(compose("  \"aid\": 12345,", NULL, NULL, NULL, NULL), 2, 10, "aid: expected a string of hex digits");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": \"3\", \"min_length\": 4, \"max_length\": 8 },", NULL, NULL,
                       NULL),
               3, 25, "pin.max_tries: expected an integer");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 2.5, \"min_length\": 4, \"max_length\": 8 },", NULL, NULL,
                       NULL),
               3, 25, "pin.max_tries: expected an integer");
    expect_one(compose(NULL, "  \"pin\": \"1234\",", NULL, NULL, NULL), 3, 10, "pin: expected an object");
    expect_one(compose(NULL, NULL, "  \"key_set\": 7,", NULL, NULL), 4, 14, "key_set: expected a string");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": true, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 29, "files[0].sfi: expected an integer");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": \"16\", \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 63, "files[0].size: expected an integer");
    expect_one(compose(NULL, NULL, NULL, "    [ \"0101\" ],", NULL), 6, 5, "files[0]: expected an object");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"description\": 5"), NULL), 6, 111,
               "files[0].description: expected a string");
    expect_one("{ \"aid\": \"D392F0000101\", \"key_set\": \"t\", \"files\": {},\n"
               "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8 } }",
               1, 51, "files: expected an array");
    expect_one("[ 1, 2 ]", 1, 1, "expected an object");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 0, \"min_length\": 4, \"max_length\": 8 },", NULL, NULL, NULL),
               3, 25, "pin.max_tries: 0 is out of range (1..3)");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 4, \"min_length\": 4, \"max_length\": 8 },", NULL, NULL, NULL),
               3, 25, "pin.max_tries: 4 is out of range (1..3)");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 3, \"min_length\": 3, \"max_length\": 8 },", NULL, NULL, NULL),
               3, 42, "pin.min_length: 3 is out of range (4..12)");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 13 },", NULL, NULL,
                       NULL),
               3, 59, "pin.max_length: 13 is out of range (4..12)");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 3, \"min_length\": 8, \"max_length\": 4 },", NULL, NULL, NULL),
               3, 59, "pin.max_length: 4 is less than min_length 8");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 0, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 29, "files[0].sfi: 0 is out of range (1..30)");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 31, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 29, "files[0].sfi: 31 is out of range (1..30)");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 0, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 63, "files[0].size: 0 is out of range (1..32767)");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 32768, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 63, "files[0].size: 32768 is out of range (1..32767)");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 255, "
                       "\"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 67, "files[1].record_length: 255 is out of range (1..254)");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 0, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 86, "files[1].record_count: 0 is out of range (1..254)");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 255, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 86, "files[1].record_count: 255 is out of range (1..254)");
    expect_one(compose(NULL, NULL, "  \"key_set\": \"t\", \"min_level\": \"02\",", NULL, NULL), 4, 32,
               "min_level: \"02\" is not one of \"01\", \"03\", \"11\", \"13\", \"33\"");
    expect_one(compose(NULL, NULL, "  \"key_set\": \"t\", \"min_level\": 33,", NULL, NULL), 4, 32,
               "min_level: expected a string");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"binary\", \"size\": 16, \"read\": \"SM\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 40, "files[0].type: \"binary\" is not one of \"transparent\", \"linear-fixed\", \"cyclic\"");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"ALWAYS\", "
                       "\"write\": \"SM\" },",
                       NULL),
               6, 75, "files[0].read: \"ALWAYS\" is not one of \"SM\", \"PIN\", \"NEVER\"");
    /* Rules are upper case, as PROTOCOL.md writes them. */
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 4, \"read\": \"PIN\", \"write\": \"sm\" }"),
               7, 113, "files[1].write: \"sm\" is not one of \"SM\", \"PIN\", \"NEVER\"");
}

static void test_aid_rules(void **state)
{
    (void)state;
    expect_one(compose("  \"aid\": \"D392F000\",", NULL, NULL, NULL, NULL), 2, 10, "aid: 4 bytes, must be 5 to 16");
    expect_one(compose("  \"aid\": \"D392F00001020304050607080910111213\",", NULL, NULL, NULL, NULL), 2, 10,
               "aid: 17 bytes, must be 5 to 16");
    expect_one(compose("  \"aid\": \"F04D4E4150414D\",", NULL, NULL, NULL, NULL), 2, 10,
               "aid: F04D4E4150414D is the area manager's AID");
    /* The card refuses prefixes either way (LOAD AP 6A89). */
    expect_one(compose("  \"aid\": \"f04d4e4150\",", NULL, NULL, NULL, NULL), 2, 10,
               "aid: F04D4E4150 is a prefix of the area manager's AID");
    expect_one(compose("  \"aid\": \"F04D4E4150414D01\",", NULL, NULL, NULL, NULL), 2, 10,
               "aid: F04D4E4150414D01 starts with the area manager's AID");
    /* Bad hex: at the offending character. */
    expect_one(compose("  \"aid\": \"D392F0X00101\",", NULL, NULL, NULL, NULL), 2, 17, "aid: 'X' is not a hex digit");
    expect_one(compose("  \"aid\": \"D392F000010\",", NULL, NULL, NULL, NULL), 2, 21, "aid: hex digit without its pair");
}

static void test_fid_sfi_rules(void **state)
{
    static const char *const reserved[] = { "3F00", "3FFF", "FFFF", "3f00" };
    char line[256];
    (void)state;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        char msg[64];
        snprintf(line, sizeof line,
                 "    { \"fid\": \"%s\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", "
                 "\"write\": \"SM\" },",
                 reserved[i]);
        snprintf(msg, sizeof msg, "files[0].fid: FID %s is reserved", i == 3 ? "3F00" : reserved[i]);
        expect_one(compose(NULL, NULL, NULL, line, NULL), 6, 14, msg);
    }
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 14, "files[1].fid: FID 0101 is already used by files[0]");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 1, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 29, "files[1].sfi: SFI 1 is already used by files[0]");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"01\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, "
                       "\"record_count\": 4, \"read\": \"PIN\", \"write\": \"SM\" }"),
               7, 14, "files[1].fid: 1 byte, must be exactly 2");
}

static void test_content_rules(void **state)
{
    (void)state;
    /* Content on a record EF: at the field. */
    expect_one(compose(NULL, NULL, NULL, NULL, L7_PLUS(", \"content_hex\": \"00\"")), 7, 119,
               "files[1].content_hex: initial content is for transparent EFs only");
    expect_one(compose(NULL, NULL, NULL, NULL, L7_PLUS(", \"content_text\": \"a\"")), 7, 119,
               "files[1].content_text: initial content is for transparent EFs only");
    /* Longer than the EF (16 bytes): at the value. */
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"000102030405060708090A0B0C0D0E0F10\""), NULL),
               6, 111, "files[0].content_hex: 17 bytes, more than the EF's size of 16 bytes");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_text\": \"abcdefghijklmnopq\""), NULL), 6, 112,
               "files[0].content_text: 17 bytes, more than the EF's size of 16 bytes");
    /* UTF-8 counts in bytes: 6 characters of 3 bytes = 18 bytes. */
    expect_one(compose(NULL, NULL, NULL,
                       L6_PLUS(", \"content_text\": \"\xE5\x9B\xB3\xE6\x9B\xB8\xE9\xA4\xA8\xE5\x9B\xB3\xE6\x9B\xB8\xE9"
                               "\xA4\xA8\""),
                       NULL),
               6, 112, "files[0].content_text: 18 bytes, more than the EF's size of 16 bytes");
    /* Exactly the size is fine. */
    {
        mt_manifest_report r;
        const char *t = compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"000102030405060708090A0B0C0D0E0F\""),
                                NULL);
        mt_manifest_report_init(&r, NULL, 0);
        assert_int_equal(mt_manifest_check(t, strlen(t), &M, &r), MT_MANIFEST_OK);
        assert_int_equal(M.efs[0].content_len, 16);
    }
    /* Bad hex at the character: quote at 111, so offset 2 is column 114. */
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"00G1\""), NULL), 6, 114,
               "files[0].content_hex: 'G' is not a hex digit");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"001\""), NULL), 6, 114,
               "files[0].content_hex: hex digit without its pair");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"00 1 02\""), NULL), 6, 115,
               "files[0].content_hex: hex digit without its pair");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \" 00\""), NULL), 6, 112,
               "files[0].content_hex: ' ' is not a hex digit");
    /* A lone surrogate escape (jsmn lets it through): at the backslash. */
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_text\": \"x\\ud800y\""), NULL), 6, 114,
               "files[0].content_text: bad escape sequence");
    /* jsmn lets a raw newline into a string; the content refuses it, there. */
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_text\": \"ab\ncd\""), NULL), 6, 115,
               "files[0].content_text: raw control character");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_text\": \"ab\xFF\""), NULL), 6, 115,
               "files[0].content_text: not valid UTF-8");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_text\": \"\xC0\xAF\""), NULL), 6, 113,
               "files[0].content_text: not valid UTF-8");
    /* Both forms: at the later one. */
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": \"00\", \"content_text\": \"a\""), NULL), 6, 117,
               "files[0]: give content_hex or content_text, not both");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"content_hex\": 12"), NULL), 6, 111,
               "files[0].content_hex: expected a string");
}

static void test_size_fields_by_type(void **state)
{
    (void)state;
    expect_one(compose(NULL, NULL, NULL, NULL, L7_PLUS(", \"size\": 32")), 7, 119,
               "files[1].size: only transparent EFs have a size");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"record_length\": 4"), NULL), 6, 96,
               "files[0].record_length: only record EFs (linear-fixed, cyclic) have records");
    expect_one(compose(NULL, NULL, NULL, L6_PLUS(", \"record_count\": 4"), NULL), 6, 96,
               "files[0].record_count: only record EFs (linear-fixed, cyclic) have records");
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_one(compose("  \"description\": \"no AID\",", NULL, NULL, NULL, NULL), 1, 1,
               "missing required field \"aid\"");
    expect_one(compose(NULL, "  \"description\": \"no PIN\",", NULL, NULL, NULL), 1, 1,
               "missing required field \"pin\"");
    expect_one(compose(NULL, NULL, "  \"description\": \"no key set\",", NULL, NULL), 1, 1,
               "missing required field \"key_set\"");
    expect_one("{ \"aid\": \"D392F0000101\", \"key_set\": \"t\",\n"
               "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8 } }",
               1, 1, "missing required field \"files\"");
    expect_one(compose(NULL, "  \"pin\": { \"min_length\": 4, \"max_length\": 8 },", NULL, NULL, NULL), 3, 10,
               "pin: missing required field \"max_tries\"");
    expect_one(compose(NULL, "  \"pin\": { \"max_tries\": 3, \"max_length\": 8 },", NULL, NULL, NULL), 3, 10,
               "pin: missing required field \"min_length\"");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"size\": 16, \"read\": \"SM\", \"write\": \"SM\" },", NULL),
               6, 5, "files[0]: missing required field \"type\"");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\", \"write\": \"SM\" },",
                       NULL),
               6, 5, "files[0]: missing required field \"fid\"");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"read\": \"SM\", \"write\": \"SM\" },",
                       NULL),
               6, 5, "files[0]: missing required field \"size\"");
    expect_one(compose(NULL, NULL, NULL,
                       "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"write\": \"SM\" },",
                       NULL),
               6, 5, "files[0]: missing required field \"read\"");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, \"read\": \"PIN\", "
                       "\"write\": \"SM\" }"),
               7, 5, "files[1]: missing required field \"record_count\"");
    expect_one(compose(NULL, NULL, NULL, NULL,
                       "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"linear-fixed\", \"record_count\": 8, \"read\": "
                       "\"PIN\", \"write\": \"SM\" }"),
               7, 5, "files[1]: missing required field \"record_length\"");
}

static void test_pin_rules(void **state)
{
    (void)state;
    /* The initial PIN: digits only (at the first non-digit), length within
     * the policy (at the value).  The PIN is never echoed. */
    expect_one(compose(NULL,
                       "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": \"12a4\" },",
                       NULL, NULL, NULL),
               3, 76, "pin.initial: a PIN is ASCII digits only");
    expect_one(compose(NULL,
                       "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": \"123\" },",
                       NULL, NULL, NULL),
               3, 73, "pin.initial: 3 digits, the policy allows 4 to 8");
    expect_one(compose(NULL,
                       "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": \"123456789\" },",
                       NULL, NULL, NULL),
               3, 73, "pin.initial: 9 digits, the policy allows 4 to 8");
    expect_one(compose(NULL,
                       "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": 1234 },",
                       NULL, NULL, NULL),
               3, 73, "pin.initial: expected a string");
    {
        mt_manifest_problem items[4];
        mt_manifest_report r;
        const char *t = compose(NULL,
                                "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": "
                                "\"98a76\" },",
                                NULL, NULL, NULL);
        mt_manifest_report_init(&r, items, 4);
        assert_int_equal(mt_manifest_check(t, strlen(t), &M, &r), MT_MANIFEST_E_INVALID);
        assert_null(strstr(items[0].message, "98"));
    }
}

static void test_key_set_name(void **state)
{
    (void)state;
    expect_one(compose(NULL, NULL, "  \"key_set\": \"lib rary\",", NULL, NULL), 4, 18,
               "key_set: a key set name uses only letters, digits");
    expect_one(compose(NULL, NULL, "  \"key_set\": \"\",", NULL, NULL), 4, 14, "key_set: a key set name has 1 to 64");
}

static void test_json_syntax(void **state)
{
    (void)state;
    /* mt_json's own position: jsmn stops at the opening quote of a string
     * with a bad escape. */
    expect_one(compose("  \"aid\": \"D3\\q\",", NULL, NULL, NULL, NULL), 2, 10, "JSON syntax");
    expect_one("{\n  \"aid\": \"D392F0000101\",\n  \"pin\": { ]\n}\n", 3, 12, "JSON syntax");
    expect_one("", 1, 1, "JSON syntax");
}

/* jsmn, even in its strict mode, accepts trailing commas and two values with
 * no comma between them; mt_json checks every separator itself, so each of
 * these is a JSON syntax error at the offending character, never a missing or
 * misplaced field (issue #21, item 5). */
static void test_json_separators(void **state)
{
    (void)state;
    /* A trailing comma in an object (line 7 of the base ends with '}' then
     * a ',' before the array's ']'), and in an array. */
    expect_one(compose(NULL, NULL, NULL, NULL, L7_PLUS(",")), 7, 117, "JSON syntax: trailing comma");
    expect_one("{\n  \"files\": [ 1, 2, ]\n}\n", 2, 18, "JSON syntax: trailing comma");
    expect_one("{ \"a\": 1, }", 1, 9, "JSON syntax: trailing comma");
    /* A missing comma between two members. */
    expect_one(compose(NULL, NULL, "  \"key_set\": \"t\" \"min_level\": \"03\",", NULL, NULL), 4, 18,
               "JSON syntax: expected ',' or '}'");
    expect_one("[ \"a\" \"b\" ]", 1, 7, "JSON syntax: expected ',' or ']'");
    expect_one("[ 1 2 ]", 1, 5, "JSON syntax");
    /* A missing colon, a doubled comma, a comma before the first member. */
    expect_one("{ \"a\" 1 }", 1, 7, "JSON syntax");
    expect_one("{ \"a\": 1,, \"b\": 2 }", 1, 10, "JSON syntax");
    expect_one("[ , 1 ]", 1, 3, "JSON syntax");
    /* A key with no value, a value used as a key, a non-string key. */
    expect_one("{ \"a\" }", 1, 7, "JSON syntax");
    expect_one("{ \"a\": \"b\": \"c\" }", 1, 11, "JSON syntax");
    expect_one("{ 1: 2 }", 1, 3, "JSON syntax");
    expect_one("[ \"a\": 1 ]", 1, 6, "JSON syntax: expected ',' or ']'");
    /* Primitives other than numbers, true, false and null (strict mode). */
    expect_one("{ \"aid\": D392F0000101 }", 1, 10, "JSON syntax");
}

/* Several problems in one run, each at its place, sorted by position. */
static void test_many_problems_at_once(void **state)
{
    static const struct { int line, column; const char *msg; } want[] = {
        { 2, 10, "aid: F04D4E4150414D is the area manager's AID" },
        { 3, 25, "pin.max_tries: 9 is out of range (1..3)" },
        { 4, 19, "unknown field \"colour\"" },
        { 6, 14, "files[0].fid: FID 3FFF is reserved" },
        { 6, 63, "files[0].size: 0 is out of range (1..32767)" },
        { 7, 29, "files[1].sfi: SFI 1 is already used by files[0]" },
        { 7, 119, "files[1].content_hex: initial content is for transparent EFs only" },
    };
    const size_t n = sizeof want / sizeof want[0];
    mt_manifest_problem items[16];
    mt_manifest_report r;
    const char *t = compose(
        "  \"aid\": \"F04D4E4150414D\",",
        "  \"pin\": { \"max_tries\": 9, \"min_length\": 4, \"max_length\": 8 },",
        "  \"key_set\": \"t\", \"colour\": \"red\",",
        "    { \"fid\": \"3FFF\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 0, \"read\": \"SM\", \"write\": \"SM\" },",
        "    { \"fid\": \"0102\", \"sfi\": 1, \"type\": \"cyclic\", \"record_length\": 8, \"record_count\": 4, \"read\": "
        "\"PIN\", \"write\": \"SM\", \"content_hex\": \"00\" }");
    (void)state;

    mt_manifest_report_init(&r, items, 16);
    assert_int_equal(mt_manifest_check(t, strlen(t), &M, &r), MT_MANIFEST_E_INVALID);
    if (r.count != n)
        print_report(t, &r);
    assert_int_equal(r.count, n);
    for (size_t i = 0; i < n; i++) {
        if (items[i].line != want[i].line || items[i].column != want[i].column ||
            strstr(items[i].message, want[i].msg) == NULL) {
            print_report(t, &r);
            fail_msg("problem %zu: expected %d:%d %s", i, want[i].line, want[i].column, want[i].msg);
        }
    }
    /* A short list keeps the problems that come first in the file (not the
     * first found: the unknown field on line 4 is found before the AID) and
     * still counts them all. */
    mt_manifest_report_init(&r, items, 2);
    assert_int_equal(mt_manifest_check(t, strlen(t), &M, &r), MT_MANIFEST_E_INVALID);
    assert_int_equal(r.count, n);
    assert_int_equal(items[0].line, 2);
    assert_int_equal(items[1].line, 3);
    /* No list at all: still refused. */
    assert_int_equal(mt_manifest_check(t, strlen(t), &M, NULL), MT_MANIFEST_E_INVALID);
    /* A refused manifest is wiped. */
    assert_int_equal(M.aid_len, 0);
    assert_int_equal(M.ef_count, 0);
}

/* 32767-byte EF: the image limit is 32768 bytes counted with 32-byte keys.
 * Head: 4F 07 (9) + A0 (11) + A1 with 118 bytes (120) = 140; the EF: A3 82
 * xx xx { 83 (4) 82 (3) 80 (4) 86 (3) 87 (3) 53 82 xx xx content } = 25 +
 * content.  So 32603 bytes of content make exactly 32768. */
static void build_big(size_t content)
{
    size_t n = (size_t)snprintf(TEXT, sizeof TEXT,
                                "{\"aid\":\"D392F000010203\",\"key_set\":\"t\",\"pin\":{\"max_tries\":3,\"min_length\":4,"
                                "\"max_length\":8},\n\"files\":[{\"fid\":\"0001\",\"type\":\"transparent\",\"size\":32767,"
                                "\"read\":\"SM\",\"write\":\"SM\",\"content_hex\":\"");
    for (size_t i = 0; i < content; i++)
        n += (size_t)snprintf(TEXT + n, sizeof TEXT - n, "%02X", (unsigned)(i & 0xFF));
    snprintf(TEXT + n, sizeof TEXT - n, "\"}]}\n");
}

static void test_image_size_limit(void **state)
{
    mt_manifest_report r;
    (void)state;
    build_big(32603);
    mt_manifest_report_init(&r, NULL, 0);
    assert_int_equal(mt_manifest_check(TEXT, strlen(TEXT), &M, &r), MT_MANIFEST_OK);
    assert_int_equal(mt_manifest_image_size(&M, 32), 32768);
    assert_int_equal(mt_manifest_image_size(&M, 16), 32768 - 48);
    build_big(32604);
    expect_one(TEXT, 2, 9, "the AP image would be 32769 bytes (with 32-byte keys), more than 32768");
}

static void build_many(int count)
{
    size_t n = (size_t)snprintf(TEXT, sizeof TEXT,
                                "{\"aid\":\"D392F000010203\",\"key_set\":\"t\",\"pin\":{\"max_tries\":3,\"min_length\":4,"
                                "\"max_length\":8},\n\"files\":[\n");
    for (int i = 0; i < count; i++)
        n += (size_t)snprintf(TEXT + n, sizeof TEXT - n,
                              "{\"fid\":\"%04X\",\"type\":\"linear-fixed\",\"record_length\":1,\"record_count\":1,"
                              "\"read\":\"SM\",\"write\":\"SM\"}%s\n",
                              0x1000 + i, i + 1 < count ? "," : "");
    snprintf(TEXT + n, sizeof TEXT - n, "]}\n");
}

static void test_ef_count_limit(void **state)
{
    mt_manifest_report r;
    (void)state;
    build_many(32);
    mt_manifest_report_init(&r, NULL, 0);
    assert_int_equal(mt_manifest_check(TEXT, strlen(TEXT), &M, &r), MT_MANIFEST_OK);
    assert_int_equal(M.ef_count, 32);
    build_many(33);
    /* files[i] is on line 3 + i. */
    expect_one(TEXT, 35, 1, "files[32]: more than 32 EFs in one AP");
}

/* A file with twelve mistakes: all reported, in file order, from one run. */
static void test_file_with_many_problems(void **state)
{
    static const struct { int line, column; const char *msg; } want[] = {
        { 3, 19, "aid: hex digit without its pair" },
        { 4, 59, "pin.max_length: 4 is less than min_length 6" },
        { 5, 22, "key_set: a key set name uses only letters, digits" },
        { 6, 16, "min_level: \"31\" is not one of" },
        { 8, 14, "files[0].fid: FID 3F00 is reserved" },
        { 8, 79, "files[0].write: \"ALWAYS\" is not one of \"SM\", \"PIN\", \"NEVER\"" },
        { 9, 5, "files[1]: missing required field \"record_count\"" },
        { 9, 29, "files[1].sfi: 40 is out of range (1..30)" },
        { 10, 101, "files[2].content_text: 5 bytes, more than the EF's size of 4 bytes" },
        { 11, 14, "files[3].fid: FID 0101 is already used by files[1]" },
        { 11, 108, "files[3].content_hex: initial content is for transparent EFs only" },
        { 13, 3, "unknown field \"version\"" },
    };
    const size_t n = sizeof want / sizeof want[0];
    mt_manifest_problem items[32];
    mt_manifest_report r;
    (void)state;

    mt_manifest_report_init(&r, items, 32);
    assert_int_equal(mt_manifest_check_file("test/tools/data/manifest_bad.json", &M, &r), MT_MANIFEST_E_INVALID);
    if (r.count != n)
        print_report("(test/tools/data/manifest_bad.json)\n", &r);
    assert_int_equal(r.count, n);
    for (size_t i = 0; i < n; i++) {
        if (items[i].line != want[i].line || items[i].column != want[i].column ||
            strstr(items[i].message, want[i].msg) == NULL) {
            print_report("(test/tools/data/manifest_bad.json)\n", &r);
            fail_msg("problem %zu: expected %d:%d %s", i, want[i].line, want[i].column, want[i].msg);
        }
    }
}

static void test_unreadable_file(void **state)
{
    mt_manifest_problem items[2];
    mt_manifest_report r;
    (void)state;
    mt_manifest_report_init(&r, items, 2);
    assert_int_equal(mt_manifest_check_file("test/tools/data/no-such-manifest.json", &M, &r), MT_MANIFEST_E_IO);
    assert_int_equal(r.count, 1);
    assert_int_equal(items[0].line, 0);
    assert_non_null(strstr(items[0].message, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_is_valid),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_duplicate_field),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_aid_rules),
        cmocka_unit_test(test_fid_sfi_rules),
        cmocka_unit_test(test_content_rules),
        cmocka_unit_test(test_size_fields_by_type),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_pin_rules),
        cmocka_unit_test(test_key_set_name),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_json_separators),
        cmocka_unit_test(test_many_problems_at_once),
        cmocka_unit_test(test_image_size_limit),
        cmocka_unit_test(test_ef_count_limit),
        cmocka_unit_test(test_file_with_many_problems),
        cmocka_unit_test(test_unreadable_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
