/* test_cli_audit.c: the operator audit log of `mnap` (tools/mnap/audit.c):
 * exact line format, the SHA-256 chain recomputed here independently, and
 * every kind of tampering audit_verify must catch: an edited field, a removed
 * line, an inserted line, a swapped pair, a cut tail (with the expected last
 * hash), a damaged last line (which audit_open also refuses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

/* The module under test and the helper it uses, compiled in. */
#include "tools/mnap/audit.c"
#include "tools/mnap/lock.c"
#include "tools/mnap/util.c"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mnap-audit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    /* A directory that does not exist yet: audit_open creates it. */
    snprintf(path, sizeof path, "%s/sub/audit.log", dir);
    return 0;
}

static int teardown(void **state)
{
    char sub[96];
    (void)state;
    unlink(path);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    rmdir(sub);
    rmdir(dir);
    return 0;
}

static char *slurp(void)
{
    FILE *f = fopen(path, "r");
    static char buf[8192];
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void spit(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void append3(void)
{
    audit_log a;
    char err[200];

    assert_int_equal(audit_open(&a, path, err, sizeof err), 0);
    assert_int_equal(audit_append(&a, 0, "op1", "area setup", "0102030405060708", NULL, "ok", err, sizeof err), 0);
    assert_int_equal(audit_append(&a, 86400, "op1", "ap load", "0102030405060708", "D392F000014C4942",
                                  "ok", err, sizeof err), 0);
    audit_close(&a);
    /* A second open continues the chain and the numbering. */
    assert_int_equal(audit_open(&a, path, err, sizeof err), 0);
    assert_int_equal(audit_append(&a, 2 * 86400, "op2", "ap delete", "0102030405060708", "D392F000014C4942",
                                  "error: DELETE: no such AP (SW 6A88)", err, sizeof err), 0);
    audit_close(&a);
}

/* SHA-256(prev "\n" body) in lower-case hex, computed without the module. */
static void ref_hash(const char *prev, const char *body, char out[65])
{
    unsigned char md[32];
    size_t pl = strlen(prev), bl = strlen(body);
    char *buf = malloc(pl + 1 + bl);

    assert_non_null(buf);
    memcpy(buf, prev, pl);
    buf[pl] = '\n';
    memcpy(buf + pl + 1, body, bl);
    SHA256((const unsigned char *)buf, pl + 1 + bl, md);
    free(buf);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static void test_format_and_chain(void **state)
{
    char h1[65], h2[65], h3[65], expect[2048];
    const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *b1 = "1\t1970-01-01T00:00:00Z\top1\tarea setup\t0102030405060708\t-\tok";
    const char *b2 = "2\t1970-01-02T00:00:00Z\top1\tap load\t0102030405060708\tD392F000014C4942\tok";
    const char *b3 = "3\t1970-01-03T00:00:00Z\top2\tap delete\t0102030405060708\tD392F000014C4942\t"
                     "error: DELETE: no such AP (SW 6A88)";
    audit_report r;

    (void)state;
    append3();
    ref_hash(zero, b1, h1);
    ref_hash(h1, b2, h2);
    ref_hash(h2, b3, h3);
    snprintf(expect, sizeof expect, "%s\t%s\n%s\t%s\n%s\t%s\n", b1, h1, b2, h2, b3, h3);
    assert_string_equal(slurp(), expect);
    assert_int_equal(audit_verify(path, NULL, &r), 0);
    assert_int_equal(r.lines, 3);
    assert_int_equal(r.bad_line, 0);
    assert_string_equal(r.last_hash, h3);
    assert_int_equal(audit_verify(path, h3, &r), 0);
}

static void test_fields_sanitised(void **state)
{
    audit_log a;
    char err[200];
    char big[400];

    (void)state;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(audit_open(&a, path, err, sizeof err), 0);
    assert_int_equal(audit_append(&a, 0, "a\tb\nc", "", NULL, "AID", big, err, sizeof err), 0);
    audit_close(&a);
    const char *t = slurp();
    /* Tab and newline become '_', empty and NULL become '-', long is cut. */
    const char *prefix = "1\t1970-01-01T00:00:00Z\ta_b_c\t-\t-\tAID\t";
    assert_memory_equal(t, prefix, strlen(prefix));
    const char *res = t + strlen(prefix);
    assert_int_equal(strcspn(res, "\t"), AUDIT_FIELD_MAX);
    audit_report r;
    assert_int_equal(audit_verify(path, NULL, &r), 0);
    assert_int_equal(r.lines, 1);
}

/* Replaces the first occurrence of from with to in the file. */
static void edit(const char *from, const char *to)
{
    char buf[8192];
    char *t = slurp();
    char *p = strstr(t, from);

    assert_non_null(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - t), t, to, p + strlen(from));
    spit(buf);
}

static void test_edited_line(void **state)
{
    audit_report r;

    (void)state;
    append3();
    edit("op1\tap load", "op9\tap load");
    assert_int_equal(audit_verify(path, NULL, &r), 1);
    assert_int_equal(r.bad_line, 2);
    assert_int_equal(r.lines, 1);
    assert_non_null(strstr(r.why, "hash does not match"));
}

static void test_edited_result(void **state)
{
    audit_report r;

    (void)state;
    append3();
    edit("error: DELETE", "ok     DELETE");
    assert_int_equal(audit_verify(path, NULL, &r), 1);
    assert_int_equal(r.bad_line, 3);
}

static void test_removed_line(void **state)
{
    audit_report r;
    char buf[8192];

    (void)state;
    append3();
    char *t = slurp();
    char *l2 = strchr(t, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    snprintf(buf, sizeof buf, "%.*s%s", (int)(l2 - t), t, l3);
    spit(buf);
    assert_int_equal(audit_verify(path, NULL, &r), 1);
    assert_int_equal(r.bad_line, 2);
    assert_non_null(strstr(r.why, "sequence 3 where 2 was expected"));
}

static void test_renumbered_removal(void **state)
{
    audit_report r;
    char buf[8192];

    (void)state;
    append3();
    /* Remove line 2 and renumber line 3 as 2: the chain still breaks. */
    char *t = slurp();
    char *l2 = strchr(t, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    snprintf(buf, sizeof buf, "%.*s2%s", (int)(l2 - t), t, l3 + 1);
    spit(buf);
    assert_int_equal(audit_verify(path, NULL, &r), 1);
    assert_int_equal(r.bad_line, 2);
    assert_non_null(strstr(r.why, "hash does not match"));
}

static void test_cut_tail(void **state)
{
    audit_report r;
    char last[65];
    char buf[8192];

    (void)state;
    append3();
    assert_int_equal(audit_verify(path, NULL, &r), 0);
    memcpy(last, r.last_hash, sizeof last);
    char *t = slurp();
    char *l3 = strchr(strchr(t, '\n') + 1, '\n') + 1;
    snprintf(buf, sizeof buf, "%.*s", (int)(l3 - t), t);
    spit(buf);
    /* Alone, two good lines are a good chain... */
    assert_int_equal(audit_verify(path, NULL, &r), 0);
    assert_int_equal(r.lines, 2);
    /* ...but not the one whose last hash was written down. */
    assert_int_equal(audit_verify(path, last, &r), 1);
    assert_int_equal(r.bad_line, 3);
}

static void test_damaged_tail_refused(void **state)
{
    audit_log a;
    audit_report r;
    char err[200];
    char buf[8192];

    (void)state;
    append3();
    char *t = slurp();
    size_t n = strlen(t);
    snprintf(buf, sizeof buf, "%.*s", (int)(n - 10), t); /* a torn last line */
    spit(buf);
    assert_int_equal(audit_open(&a, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "last line is incomplete"));
    assert_int_equal(audit_verify(path, NULL, &r), 1);
    assert_int_equal(r.bad_line, 3);
    assert_int_equal(r.lines, 2);
    /* The refused open wrote nothing. */
    assert_int_equal(strlen(slurp()), n - 10);
}

static void test_missing_file(void **state)
{
    audit_report r;

    (void)state;
    assert_int_equal(audit_verify(path, NULL, &r), -1);
    assert_non_null(strstr(r.why, "No such file"));
}

/* A log held by another command (another open file description: flock
 * conflicts even inside one process) is not waited for without end: with
 * MNAP_LOCK_TIMEOUT=0 audit_open gives up at once and says why; the holder's
 * log is untouched.  Issue #21 item 4. */
static void test_lock_held_times_out(void **state)
{
    audit_log holder, second;
    char err[300];
    (void)state;

    assert_int_equal(audit_open(&holder, path, err, sizeof err), 0);
    setenv("MNAP_LOCK_TIMEOUT", "0", 1);
    assert_int_equal(audit_open(&second, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "is held by another mnap command: gave up after 0 s"));
    assert_non_null(strstr(err, path));
    assert_int_equal(second.fd, -1);
    /* The holder still appends and the chain is whole. */
    assert_int_equal(audit_append(&holder, 1, "op", "ap load", NULL, NULL, "ok", err, sizeof err), 0);
    audit_close(&holder);
    assert_int_equal(audit_open(&second, path, err, sizeof err), 0);
    audit_close(&second);
    unsetenv("MNAP_LOCK_TIMEOUT");
    assert_int_equal(lock_timeout(), LOCK_TIMEOUT_DEFAULT);
    setenv("MNAP_LOCK_TIMEOUT", "x", 1);
    assert_int_equal(lock_timeout(), LOCK_TIMEOUT_DEFAULT);
    setenv("MNAP_LOCK_TIMEOUT", "7", 1);
    assert_int_equal(lock_timeout(), 7);
    unsetenv("MNAP_LOCK_TIMEOUT");
}

/* audit_format makes exactly the line audit_append then writes. */
static void test_format_matches_append(void **state)
{
    audit_log a;
    char err[300], line[AUDIT_LINE_MAX], hash[AUDIT_HASH_HEX + 1];
    size_t n = 0;
    (void)state;

    assert_int_equal(audit_open(&a, path, err, sizeof err), 0);
    assert_int_equal(audit_format(&a, 1765000000, "op", "ap load", "0102030405060708", "D392F0000101",
                                  "interrupted (SIGINT)", line, &n, hash, err, sizeof err), 0);
    assert_int_equal(audit_append(&a, 1765000000, "op", "ap load", "0102030405060708", "D392F0000101",
                                  "interrupted (SIGINT)", err, sizeof err), 0);
    audit_close(&a);
    assert_int_equal(strlen(slurp()), n);
    assert_memory_equal(slurp(), line, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_sanitised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renumbered_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_tail_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_matches_append, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
