/* arm_cmocka.c: the runtime of the CMocka shim (test/arm/cmocka.h) on the
 * bare-metal target.  Prints CMocka-like lines through semihosting stdio:
 *   [ RUN      ] name / [       OK ] name / [  FAILED  ] name / [  SKIPPED ] name
 * and a summary per group; returns the number of failed tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cmocka.h"

static jmp_buf arm_cm_jmp;
static int arm_cm_in_test;

void print_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void print_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void arm_cm_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("%s:%d: error: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!arm_cm_in_test) {
        printf("[  ERROR   ] assertion outside a test\n");
        fflush(stdout);
        extern void mq_exit(int status) __attribute__((noreturn));
        mq_exit(1);
    }
    longjmp(arm_cm_jmp, 1);
}

void arm_cm_skip(const char *file, int line)
{
    printf("%s:%d: skipped\n", file, line);
    longjmp(arm_cm_jmp, 2);
}

int arm_cm_mem_equal(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

int arm_cm_str_equal(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int arm_cm_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                     CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    void *group_state = NULL;
    volatile size_t failed = 0, skipped = 0, passed = 0;

    setvbuf(stdout, NULL, _IOLBF, 256); /* every line reaches the host before an exit */
    printf("[==========] %s: Running %u test(s).\n", name, (unsigned)n);
    if (group_setup != NULL && group_setup(&group_state) != 0) {
        printf("[  ERROR   ] %s: group setup failed\n", name);
        return (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        void *state = tests[i].initial_state != NULL ? tests[i].initial_state : group_state;
        volatile int result = 0; /* 0 ok, 1 failed, 2 skipped */
        printf("[ RUN      ] %s\n", tests[i].name);
        arm_cm_in_test = 1;
        int j = setjmp(arm_cm_jmp);
        if (j == 0) {
            if (tests[i].setup_func != NULL && tests[i].setup_func(&state) != 0) {
                printf("[  ERROR   ] %s: setup failed\n", tests[i].name);
                result = 1;
            } else {
                tests[i].test_func(&state);
            }
        } else {
            result = j;
        }
        if (tests[i].teardown_func != NULL && result != 1) {
            if (setjmp(arm_cm_jmp) == 0) {
                if (tests[i].teardown_func(&state) != 0)
                    result = 1;
            } else {
                result = 1;
            }
        } else if (tests[i].teardown_func != NULL) {
            /* free what setup allocated even after a failure, as CMocka does */
            if (setjmp(arm_cm_jmp) == 0)
                (void)tests[i].teardown_func(&state);
        }
        arm_cm_in_test = 0;
        if (result == 0) {
            passed++;
            printf("[       OK ] %s\n", tests[i].name);
        } else if (result == 2) {
            skipped++;
            printf("[  SKIPPED ] %s\n", tests[i].name);
        } else {
            failed++;
            printf("[  FAILED  ] %s\n", tests[i].name);
        }
    }
    if (group_teardown != NULL)
        (void)group_teardown(&group_state);
    printf("[==========] %s: %u test(s) run.\n", name, (unsigned)n);
    printf("[  PASSED  ] %u test(s).\n", (unsigned)passed);
    if (skipped)
        printf("[  SKIPPED ] %u test(s).\n", (unsigned)skipped);
    if (failed)
        printf("[  FAILED  ] %u test(s).\n", (unsigned)failed);
    fflush(stdout);
    return (int)failed;
}
