/* cmocka.h (test/arm/): a CMocka-compatible shim for the bare-metal runner.
 *
 * CMocka itself is a host library (it needs signals and a hosted libc), so
 * the card suites of test/card/ are compiled unchanged for the ARM target
 * against this header instead: the subset of CMocka's API they use (groups
 * with setup/teardown, assert_*, fail, skip, print_message/print_error).  A
 * failed assertion prints file:line through semihosting and longjmps out of
 * the test; the group's result is the number of failed tests, which the
 * runner (test/arm/arm_main.c) hands to the host as QEMU's exit status.
 * Only with -Itest/arm first on the include path of the ARM build. */
#ifndef MNAP_ARM_CMOCKA_H
#define MNAP_ARM_CMOCKA_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) { #f, f, NULL, NULL, NULL }
#define cmocka_unit_test_setup(f, s) { #f, f, s, NULL, NULL }
#define cmocka_unit_test_teardown(f, t) { #f, f, NULL, t, NULL }
#define cmocka_unit_test_setup_teardown(f, s, t) { #f, f, s, t, NULL }
#define cmocka_unit_test_prestate(f, p) { #f, f, NULL, NULL, p }
#define cmocka_unit_test_prestate_setup_teardown(f, s, t, p) { #f, f, s, t, p }

int arm_cm_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                     CMFixtureFunction group_setup, CMFixtureFunction group_teardown);
#define cmocka_run_group_tests(g, s, t) \
    arm_cm_run_group(#g, (g), sizeof(g) / sizeof((g)[0]), (s), (t))
#define cmocka_run_group_tests_name(n, g, s, t) \
    arm_cm_run_group((n), (g), sizeof(g) / sizeof((g)[0]), (s), (t))

void arm_cm_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void arm_cm_skip(const char *file, int line) __attribute__((noreturn));
void print_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int arm_cm_mem_equal(const void *a, const void *b, size_t n);
int arm_cm_str_equal(const char *a, const char *b);

#define fail() arm_cm_fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) arm_cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() arm_cm_skip(__FILE__, __LINE__)

/* CMocka compares integers as its LargestIntegralType (uintmax_t). */
#define assert_true(c) \
    do { if (!(c)) arm_cm_fail(__FILE__, __LINE__, "%s is false", #c); } while (0)
#define assert_false(c) \
    do { if ((c)) arm_cm_fail(__FILE__, __LINE__, "%s is true", #c); } while (0)
#define assert_non_null(p) \
    do { if ((p) == NULL) arm_cm_fail(__FILE__, __LINE__, "%s is NULL", #p); } while (0)
#define assert_null(p) \
    do { if ((p) != NULL) arm_cm_fail(__FILE__, __LINE__, "%s is not NULL", #p); } while (0)
#define assert_int_equal(a, b)                                                              \
    do {                                                                                    \
        uintmax_t arm_a_ = (uintmax_t)(a), arm_b_ = (uintmax_t)(b);                         \
        if (arm_a_ != arm_b_)                                                               \
            arm_cm_fail(__FILE__, __LINE__, "0x%llx != 0x%llx (%s, %s)",                    \
                        (unsigned long long)arm_a_, (unsigned long long)arm_b_, #a, #b);    \
    } while (0)
#define assert_int_not_equal(a, b)                                                          \
    do {                                                                                    \
        uintmax_t arm_a_ = (uintmax_t)(a), arm_b_ = (uintmax_t)(b);                         \
        if (arm_a_ == arm_b_)                                                               \
            arm_cm_fail(__FILE__, __LINE__, "0x%llx == 0x%llx (%s, %s)",                    \
                        (unsigned long long)arm_a_, (unsigned long long)arm_b_, #a, #b);    \
    } while (0)
#define assert_memory_equal(a, b, n) \
    do { if (!arm_cm_mem_equal((a), (b), (size_t)(n))) \
        arm_cm_fail(__FILE__, __LINE__, "%s and %s differ", #a, #b); } while (0)
#define assert_memory_not_equal(a, b, n) \
    do { if (arm_cm_mem_equal((a), (b), (size_t)(n))) \
        arm_cm_fail(__FILE__, __LINE__, "%s and %s are equal", #a, #b); } while (0)
#define assert_string_equal(a, b) \
    do { if (!arm_cm_str_equal((a), (b))) \
        arm_cm_fail(__FILE__, __LINE__, "\"%s\" != \"%s\"", (a), (b)); } while (0)

#endif
