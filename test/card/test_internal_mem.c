/* test_internal_mem.c: the firmware's memcpy, memset and memcmp
 * (card/mc_mem.c), compiled here under other names (mc_test_*) and checked
 * against the C library's: every length from 0 to 70 at every alignment of
 * source and destination, the bytes on either side untouched, memset's
 * value converted to unsigned char, memcmp's sign from the first differing
 * byte read as unsigned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define MC_MEM_NAME(f) mc_test_##f
#define MC_MEM_ATTR static
#include "../../card/mc_mem.c"

enum { GUARD = 8, MAXN = 70, ALIGN = 4 };

static void fill_pattern(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31u + i * 7u + 0x80u);
}

static void test_memcpy_every_length_and_alignment(void **state)
{
    unsigned char src[MAXN + 2 * GUARD], got[MAXN + 2 * GUARD], want[MAXN + 2 * GUARD];
    (void)state;
    fill_pattern(src, sizeof(src), 1);
    for (size_t so = 0; so < ALIGN; so++) {
        for (size_t dof = 0; dof < ALIGN; dof++) {
            for (size_t n = 0; n <= MAXN; n++) {
                memset(got, 0xA5, sizeof(got));
                memset(want, 0xA5, sizeof(want));
                memcpy(want + GUARD + dof, src + so, n);
                void *r = mc_test_memcpy(got + GUARD + dof, src + so, n);
                assert_true(r == (void *)(got + GUARD + dof));
                assert_memory_equal(got, want, sizeof(got));
            }
        }
    }
}

static void test_memset_every_length_and_value(void **state)
{
    unsigned char got[MAXN + 2 * GUARD], want[MAXN + 2 * GUARD];
    static const int values[] = { 0, 0x5A, 0xFF, 0x1A5, -1 };
    (void)state;
    for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
        for (size_t dof = 0; dof < ALIGN; dof++) {
            for (size_t n = 0; n <= MAXN; n++) {
                fill_pattern(got, sizeof(got), 2);
                fill_pattern(want, sizeof(want), 2);
                memset(want + GUARD + dof, values[v], n);
                void *r = mc_test_memset(got + GUARD + dof, values[v], n);
                assert_true(r == (void *)(got + GUARD + dof));
                assert_memory_equal(got, want, sizeof(got));
            }
        }
    }
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_memcmp_sign_and_value(void **state)
{
    unsigned char a[MAXN], b[MAXN];
    (void)state;
    for (size_t n = 0; n <= MAXN; n++) {
        fill_pattern(a, sizeof(a), 3);
        fill_pattern(b, sizeof(b), 3);
        assert_int_equal(mc_test_memcmp(a, b, n), 0);
        for (size_t at = 0; at < n; at++) {
            static const unsigned char other[] = { 0x00, 0x01, 0x7F, 0x80, 0xFF };
            for (size_t k = 0; k < sizeof(other); k++) {
                unsigned char keep = b[at];
                b[at] = other[k];
                if (at + 1 < n)
                    b[at + 1] ^= 0xFF;     /* a later difference must not count */
                int got = mc_test_memcmp(a, b, n), want = 0;
                for (size_t i = 0; i < n && want == 0; i++)
                    want = (int)a[i] - (int)b[i];
                assert_int_equal(sign(got), sign(memcmp(a, b, n)));
                assert_int_equal(got, want);
                b[at] = keep;
                if (at + 1 < n)
                    b[at + 1] ^= 0xFF;
            }
        }
    }
    /* 0x80 is greater than 0x01: the bytes compare as unsigned char. */
    assert_true(mc_test_memcmp("\x80", "\x01", 1) > 0);
    assert_true(mc_test_memcmp("\x01", "\x80", 1) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy_every_length_and_alignment),
        cmocka_unit_test(test_memset_every_length_and_value),
        cmocka_unit_test(test_memcmp_sign_and_value),
    };
    return cmocka_run_group_tests_name("card: the firmware's memcpy, memset, memcmp", tests, NULL,
                                       NULL);
}
