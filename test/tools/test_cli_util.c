/* test_cli_util.c: the helpers of `mnap` (tools/mnap/util.c, sub.c): hex
 * parsing, JSON strings, exit codes for every library error class, the data
 * directory, atomic file writes (old file kept, no temporary left on
 * failure), and option parsing with options after operands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "tools/mnap/util.c"
#include "tools/mnap/sub.c"

static void test_hex_parse(void **state)
{
    uint8_t b[16];
    size_t n = 99;

    (void)state;
    assert_int_equal(cli_hex_parse("D392F000014C4942", b, 5, 16, &n), 0);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "\xD3\x92\xF0\x00\x01\x4C\x49\x42", 8);
    assert_int_equal(cli_hex_parse("d3 92:f0 00 01", b, 5, 16, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(cli_hex_parse("D392F00001 4", b, 5, 16, &n), -1);    /* odd digit */
    assert_int_equal(cli_hex_parse("D392F0", b, 5, 16, &n), -1);          /* too short */
    assert_int_equal(cli_hex_parse("00112233445566778899AABBCCDDEEFF00", b, 5, 16, &n), -1);
    assert_int_equal(cli_hex_parse("D392G00001", b, 5, 16, &n), -1);
    assert_int_equal(cli_hex_parse("", b, 0, 16, &n), 0);
    assert_int_equal(n, 0);
}

static void test_hex_out(void **state)
{
    char out[40];
    const uint8_t aid[] = { 0xD3, 0x92, 0xF0, 0x00, 0x01 };

    (void)state;
    mt_hex_encode(aid, sizeof aid, out, MT_HEX_UPPER);
    assert_string_equal(out, "D392F00001");
    mt_hex_encode(aid, 0, out, MT_HEX_UPPER);
    assert_string_equal(out, "");
}

static void test_json_string(void **state)
{
    char buf[128] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");

    (void)state;
    assert_non_null(f);
    cli_json_str(f, "a\"b\\c\nd\te 図書館\x01");
    fclose(f);
    /* jansson's escapes; UTF-8 kept as it is */
    assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te 図書館\\u0001\"");
    /* bytes that are not UTF-8 (a path with FF, a cut sequence, an overlong
     * form) become U+FFFD: the output stays valid UTF-8 */
    memset(buf, 0, sizeof buf);
    f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    cli_json_str(f, "/tmp/a\xff\xe5\x9b/\xc0\xaf");
    fclose(f);
    assert_string_equal(buf, "\"/tmp/a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_for(MNAP_OK), EX_OK);
    assert_int_equal(cli_exit_for(MNAP_E_NO_SERVICE), EX_NOCARD);
    assert_int_equal(cli_exit_for(MNAP_E_NO_READER), EX_NOCARD);
    assert_int_equal(cli_exit_for(MNAP_E_NO_CARD), EX_NOCARD);
    assert_int_equal(cli_exit_for(MNAP_E_CARD_REMOVED), EX_NOCARD);
    assert_int_equal(cli_exit_for(MNAP_E_KS_PASSPHRASE), EX_KEYSTORE);
    assert_int_equal(cli_exit_for(MNAP_E_KS_CORRUPT), EX_KEYSTORE);
    assert_int_equal(cli_exit_for(MNAP_E_KS_NOT_FOUND), EX_KEYSTORE);
    assert_int_equal(cli_exit_for(MNAP_E_PIN_WRONG), EX_CARD);
    assert_int_equal(cli_exit_for(MNAP_E_PIN_BLOCKED), EX_CARD);
    assert_int_equal(cli_exit_for(MNAP_E_CARD_AUTH), EX_CARD);
    assert_int_equal(cli_exit_for(MNAP_E_EXISTS), EX_CARD);
    assert_int_equal(cli_exit_for(MNAP_E_PROTOCOL), EX_CARD);
    assert_int_equal(cli_exit_for(MNAP_E_PARAM), EX_USAGE);
    assert_int_equal(cli_exit_for(MNAP_E_IO), EX_LOCAL);
}

static void test_data_path(void **state)
{
    char p[256];

    (void)state;
    setenv("HOME", "/home/clerk", 1);
    setenv("XDG_DATA_HOME", "/srv/data", 1);
    assert_int_equal(cli_data_path("audit.log", p, sizeof p), 0);
    assert_string_equal(p, "/srv/data/mnap/audit.log");
    /* A relative XDG_DATA_HOME is ignored, as the XDG spec says. */
    setenv("XDG_DATA_HOME", "rel/data", 1);
    assert_int_equal(cli_data_path("audit.log", p, sizeof p), 0);
    assert_string_equal(p, "/home/clerk/.local/share/mnap/audit.log");
    unsetenv("XDG_DATA_HOME");
    assert_int_equal(cli_data_path("keys.mks", p, sizeof p), 0);
    assert_string_equal(p, "/home/clerk/.local/share/mnap/keys.mks");
    assert_int_equal(cli_data_path("keys.mks", p, 10), -1);
    unsetenv("HOME");
    assert_int_equal(cli_data_path("keys.mks", p, sizeof p), -1);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_write_atomic(void **state)
{
    char dir[] = "/tmp/mnap-util-XXXXXX";
    char path[64], bad[96], buf[16];
    struct stat st;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/image.bin", dir);
    assert_int_equal(cli_write_atomic(path, (const uint8_t *)"first", 5, 0600), 0);
    assert_int_equal(cli_write_atomic(path, (const uint8_t *)"second!", 7, 0600), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 7);
    fclose(f);
    assert_memory_equal(buf, "second!", 7);
    /* No temporary file stays beside it. */
    assert_int_equal(count_entries(dir), 1);
    /* A target that cannot be renamed over (a non-empty directory): fails,
     * and leaves no temporary file. */
    snprintf(bad, sizeof bad, "%s/sub", dir);
    assert_int_equal(mkdir(bad, 0700), 0);
    snprintf(bad, sizeof bad, "%s/sub/x", dir);
    f = fopen(bad, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    assert_int_equal(cli_write_atomic(bad, (const uint8_t *)"x", 1, 0600), -1);
    assert_int_equal(count_entries(dir), 2);
    /* A missing directory: fails at once. */
    snprintf(bad, sizeof bad, "%s/none/x.bin", dir);
    assert_int_equal(cli_write_atomic(bad, (const uint8_t *)"x", 1, 0600), -1);
    snprintf(bad, sizeof bad, "%s/sub/x", dir);
    unlink(bad);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    rmdir(bad);
    unlink(path);
    rmdir(dir);
}

static void test_mkdirs(void **state)
{
    char dir[] = "/tmp/mnap-util-XXXXXX";
    char path[96], d1[96], d2[96];
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a/b/audit.log", dir);
    assert_int_equal(cli_mkdirs_for(path), 0);
    snprintf(d1, sizeof d1, "%s/a", dir);
    snprintf(d2, sizeof d2, "%s/a/b", dir);
    assert_int_equal(stat(d2, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(cli_mkdirs_for(path), 0); /* again: nothing to do */
    rmdir(d2);
    rmdir(d1);
    rmdir(dir);
}

typedef struct seen {
    char opts[16];
    const char *vals[16];
    int n;
} seen;

static int on_opt(void *user, int opt, const char *arg)
{
    seen *s = user;

    s->opts[s->n] = (char)opt;
    s->vals[s->n] = arg;
    s->n++;
    return 0;
}

static void test_getopt_anywhere(void **state)
{
    static const struct option opts[] = {
        { "keys", required_argument, NULL, 'k' },
        { "pin-stdin", no_argument, NULL, 'p' },
        { "output", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 }
    };
    char *argv1[] = { "load", "lib.json", "--keys", "region", "-o", "x.img", "--pin-stdin", NULL };
    char *argv2[] = { "load", "--bogus", NULL };
    char *argv3[] = { "load", "--keys", NULL };
    seen s;
    int first = -1;

    (void)state;
    memset(&s, 0, sizeof s);
    assert_int_equal(cli_getopt(7, argv1, opts, on_opt, &s, &first), 0);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.opts, "kop", 3);
    assert_string_equal(s.vals[0], "region");
    assert_string_equal(s.vals[1], "x.img");
    assert_int_equal(first, 6);
    assert_string_equal(argv1[first], "lib.json"); /* permuted to the end */
    assert_int_equal(cli_operands(7, first, 1, 1, "ap load MANIFEST\n"), 0);
    assert_int_equal(cli_operands(7, first, 2, 2, "ap load MANIFEST\n"), -1);
    memset(&s, 0, sizeof s);
    assert_int_equal(cli_getopt(2, argv2, opts, on_opt, &s, &first), -1);
    assert_int_equal(cli_getopt(2, argv3, opts, on_opt, &s, &first), -1);
}

static void test_wants_help(void **state)
{
    char *a[] = { "load", "x", "--help", NULL };
    char *b[] = { "load", "--", "-h", NULL };
    char *c[] = { "load", "x", NULL };

    (void)state;
    assert_true(cli_wants_help(3, a));
    assert_false(cli_wants_help(3, b));
    assert_false(cli_wants_help(2, c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_parse),
        cmocka_unit_test(test_hex_out),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_data_path),
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_getopt_anywhere),
        cmocka_unit_test(test_wants_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
