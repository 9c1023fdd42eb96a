/* test_keystore.c: the encrypted key store file: round trip, wrong
 * passphrase, truncated and bit-flipped files, an interrupted save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnap/mnap_keys.h"
#include "mnap_int.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/mnap-ks-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/keys.mks", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void make_set(mnap_keyset *ks, uint8_t seed, uint8_t kvn, size_t len, int master)
{
    uint8_t e[32], m[32], d[32];
    size_t i;
    for (i = 0; i < len; i++) {
        e[i] = (uint8_t)(seed + i);
        m[i] = (uint8_t)(seed + 0x40 + i);
        d[i] = (uint8_t)(seed + 0x80 + i);
    }
    assert_int_equal(mnap_keyset_set(ks, kvn, e, m, d, len, master), MNAP_OK);
}

/* A store with three sets, cheap scrypt cost for test speed. */
static mnap_keystore *sample(void)
{
    mnap_keystore *ks;
    mnap_keyset a, b, c;
    assert_int_equal(mnap_keystore_new(&ks), MNAP_OK);
    assert_int_equal(mnap_keystore_set_kdf(ks, 10, 8, 1), MNAP_OK);
    make_set(&a, 0x10, 0xFF, 16, 0);
    make_set(&b, 0x20, 0x01, 32, 1);
    make_set(&c, 0x30, 0x11, 24, 0);
    assert_int_equal(mnap_keystore_put(ks, "transport", &a), MNAP_OK);
    assert_int_equal(mnap_keystore_put(ks, "region", &b), MNAP_OK);
    assert_int_equal(mnap_keystore_put(ks, "ap:F0010203040506", &c), MNAP_OK);
    return ks;
}

static void assert_same(const mnap_keyset *x, const mnap_keyset *y)
{
    assert_int_equal(x->key_len, y->key_len);
    assert_int_equal(x->kvn, y->kvn);
    assert_int_equal(x->master, y->master);
    assert_memory_equal(x->enc, y->enc, x->key_len);
    assert_memory_equal(x->mac, y->mac, x->key_len);
    assert_memory_equal(x->dek, y->dek, x->key_len);
}

static void test_round_trip(void **state)
{
    mnap_keystore *ks = sample(), *back;
    mnap_keyset x, y;
    const char *names[] = { "transport", "region", "ap:F0010203040506" };
    size_t i;
    (void)state;

    assert_int_equal(mnap_keystore_save(ks, path, "correct horse", 13), MNAP_OK);
    assert_int_equal(mnap_keystore_load(&back, path, "correct horse", 13), MNAP_OK);
    assert_int_equal(mnap_keystore_count(back), 3);
    for (i = 0; i < 3; i++) {
        assert_string_equal(mnap_keystore_name(back, i), names[i]);
        assert_int_equal(mnap_keystore_get(ks, names[i], &x), MNAP_OK);
        assert_int_equal(mnap_keystore_get(back, names[i], &y), MNAP_OK);
        assert_same(&x, &y);
    }
    assert_null(mnap_keystore_name(back, 3));
    assert_int_equal(mnap_keystore_get(back, "nope", &y), MNAP_E_KS_NOT_FOUND);
    /* replace and remove */
    make_set(&x, 0x55, 0x02, 16, 0);
    assert_int_equal(mnap_keystore_put(back, "region", &x), MNAP_OK);
    assert_int_equal(mnap_keystore_count(back), 3);
    assert_int_equal(mnap_keystore_remove(back, "transport"), MNAP_OK);
    assert_int_equal(mnap_keystore_remove(back, "transport"), MNAP_E_KS_NOT_FOUND);
    assert_int_equal(mnap_keystore_save(back, path, "pw2", 3), MNAP_OK);
    mnap_keystore_free(back);
    assert_int_equal(mnap_keystore_load(&back, path, "pw2", 3), MNAP_OK);
    assert_int_equal(mnap_keystore_count(back), 2);
    assert_int_equal(mnap_keystore_get(back, "region", &y), MNAP_OK);
    assert_same(&x, &y);
    /* the file is private */
    {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    mnap_keystore_free(back);
    mnap_keystore_free(ks);
}

static void test_bad_names_and_params(void **state)
{
    mnap_keystore *ks;
    mnap_keyset x;
    char longname[80];
    (void)state;
    assert_int_equal(mnap_keystore_new(&ks), MNAP_OK);
    make_set(&x, 1, 1, 16, 0);
    assert_int_equal(mnap_keystore_put(ks, "", &x), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_put(ks, "has space", &x), MNAP_E_PARAM);
    memset(longname, 'a', 65);
    longname[65] = 0;
    assert_int_equal(mnap_keystore_put(ks, longname, &x), MNAP_E_PARAM);
    longname[64] = 0;
    assert_int_equal(mnap_keystore_put(ks, longname, &x), MNAP_OK);
    x.key_len = 20;
    assert_int_equal(mnap_keystore_put(ks, "bad", &x), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 9, 8, 1), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 23, 8, 1), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 12, 0, 1), MNAP_E_PARAM);
    /* Costs OpenSSL's scrypt refuses (N >= 2^(16 r)) are refused up front,
     * and so is any cost above 16 times the default work (N r p <= 2^22),
     * since a file's header can claim it (fuzzing finding, docs/fuzzing.md). */
    assert_int_equal(mnap_keystore_set_kdf(ks, 22, 1, 1), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 16, 1, 1), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 21, 2, 2), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 16, 8, 16), MNAP_E_PARAM);
    assert_int_equal(mnap_keystore_set_kdf(ks, 15, 8, 16), MNAP_OK);   /* exactly 2^22 */
    assert_int_equal(mnap_keystore_set_kdf(ks, 18, 8, 2), MNAP_OK);
    assert_int_equal(mnap_keystore_set_kdf(ks, 15, 1, 1), MNAP_OK);
    mnap_keystore_free(ks);
}

static void test_wrong_passphrase(void **state)
{
    mnap_keystore *ks = sample(), *back = (mnap_keystore *)1;
    (void)state;
    assert_int_equal(mnap_keystore_save(ks, path, "secret", 6), MNAP_OK);
    assert_int_equal(mnap_keystore_load(&back, path, "Secret", 6), MNAP_E_KS_PASSPHRASE);
    assert_null(back);
    assert_int_equal(mnap_keystore_load(&back, path, "secret!", 7), MNAP_E_KS_PASSPHRASE);
    assert_int_equal(mnap_keystore_load(&back, path, "", 0), MNAP_E_KS_PASSPHRASE);
    assert_int_equal(mnap_keystore_load(&back, "/nonexistent/x", "secret", 6), MNAP_E_IO);
    mnap_keystore_free(ks);
}

static uint8_t *slurp(size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = malloc(1 << 16);
    assert_non_null(f);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void spit(const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void test_truncated(void **state)
{
    mnap_keystore *ks = sample(), *back;
    uint8_t *orig;
    size_t len, cut;
    (void)state;
    assert_int_equal(mnap_keystore_save(ks, path, "pw", 2), MNAP_OK);
    orig = slurp(&len);
    /* Every truncation point: never a success, never a passphrase error
     * once the header is intact (it is a damaged file, not a wrong word). */
    for (cut = 0; cut < len; cut++) {
        spit(orig, cut);
        back = (mnap_keystore *)1;
        assert_int_equal(mnap_keystore_load(&back, path, "pw", 2), MNAP_E_KS_CORRUPT);
        assert_null(back);
    }
    free(orig);
    mnap_keystore_free(ks);
}

static void test_bit_flips(void **state)
{
    mnap_keystore *ks = sample(), *back;
    uint8_t *orig;
    size_t len, i;
    int bit;
    (void)state;
    assert_int_equal(mnap_keystore_save(ks, path, "pw", 2), MNAP_OK);
    orig = slurp(&len);
    for (i = 0; i < len; i++) {
        bit = (int)(i % 8);
        orig[i] ^= (uint8_t)(1 << bit);
        spit(orig, len);
        back = (mnap_keystore *)1;
        mnap_err rc = mnap_keystore_load(&back, path, "pw", 2);
        /* The header checksum covers the verifier and the KDF parameters, the
         * GCM tag the rest: any flip is reported as damage, never as a wrong
         * passphrase and never as keys. */
        assert_int_equal(rc, MNAP_E_KS_CORRUPT);
        assert_null(back);
        orig[i] ^= (uint8_t)(1 << bit);
    }
    spit(orig, len);
    assert_int_equal(mnap_keystore_load(&back, path, "pw", 2), MNAP_OK);
    mnap_keystore_free(back);
    free(orig);
    mnap_keystore_free(ks);
}

static void crash_now(void *arg)
{
    (void)arg;
    _exit(42);
}

static void test_interrupted_save_keeps_old(void **state)
{
    mnap_keystore *ks = sample(), *back;
    mnap_keyset x, y;
    pid_t pid;
    int status;
    (void)state;
    assert_int_equal(mnap_keystore_save(ks, path, "old", 3), MNAP_OK);
    assert_int_equal(mnap_keystore_get(ks, "region", &x), MNAP_OK);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child changes the store and dies between writing the temp
         * file and renaming it. */
        mnap_keyset z;
        make_set(&z, 0x77, 0x05, 16, 0);
        mnap_keystore_put(ks, "region", &z);
        mnap__keystore_set_save_hook(ks, crash_now, NULL);
        mnap_keystore_save(ks, path, "new", 3);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
    /* The old file, with the old passphrase and keys. */
    assert_int_equal(mnap_keystore_load(&back, path, "new", 3), MNAP_E_KS_PASSPHRASE);
    assert_int_equal(mnap_keystore_load(&back, path, "old", 3), MNAP_OK);
    assert_int_equal(mnap_keystore_get(back, "region", &y), MNAP_OK);
    assert_same(&x, &y);
    mnap_keystore_free(back);

    /* A save to a directory that does not exist fails and creates nothing. */
    assert_int_equal(mnap_keystore_save(ks, "/nonexistent-dir/k.mks", "pw", 2), MNAP_E_IO);
    mnap_keystore_free(ks);
}

static void test_default_cost_and_empty_store(void **state)
{
    mnap_keystore *ks, *back;
    (void)state;
    assert_int_equal(mnap_keystore_new(&ks), MNAP_OK);
    assert_int_equal(mnap_keystore_save(ks, path, "pw", 2), MNAP_OK);
    assert_int_equal(mnap_keystore_load(&back, path, "pw", 2), MNAP_OK);
    assert_int_equal(mnap_keystore_count(back), 0);
    {
        size_t len;
        uint8_t *b = slurp(&len);
        assert_int_equal(b[9], 15);  /* N = 2^15 stored in the file */
        assert_int_equal(b[10], 8);
        assert_int_equal(b[11], 1);
        free(b);
    }
    mnap_keystore_free(back);
    mnap_keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_and_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_save_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_cost_and_empty_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
