/* test_keystore_lock.c: two programs changing one key store file (issue
 * #21, item 1): a save never overwrites a version it did not load
 * (MNAP_E_KS_STALE, nothing written), the store's lock makes a
 * read-modify-write wait its turn, says so after a second, and gives up with
 * MNAP_E_KS_BUSY.  Several processes (fork) load, change and save at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "mnap/mnap_keys.h"

static char dir[64];
static char path[128];
static char lockpath[140];

static int setup(void **state)
{
    mnap_keystore *ks = NULL;
    (void)state;
    strcpy(dir, "/tmp/mnap-kslock-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/keys.mks", dir);
    snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
    unsetenv("MNAP_LOCK_TIMEOUT");
    if (mnap_keystore_new(&ks) != MNAP_OK || mnap_keystore_set_kdf(ks, 10, 8, 1) != MNAP_OK ||
        mnap_keystore_save(ks, path, "pw", 2) != MNAP_OK)
        return -1;
    mnap_keystore_free(ks);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_random(mnap_keystore *ks, const char *name)
{
    mnap_keyset set;
    assert_int_equal(mnap_keystore_generate(ks, name, 1, 16, 0), MNAP_OK);
    assert_int_equal(mnap_keystore_get(ks, name, &set), MNAP_OK);
    mnap_keyset_wipe(&set);
}

static int has(const char *name)
{
    mnap_keystore *ks = NULL;
    mnap_keyset set;
    int yes;
    assert_int_equal(mnap_keystore_load(&ks, path, "pw", 2), MNAP_OK);
    yes = mnap_keystore_get(ks, name, &set) == MNAP_OK;
    mnap_keyset_wipe(&set);
    mnap_keystore_free(ks);
    return yes;
}

/* Only keys.mks and its lock file: no temp file left behind. */
static void no_leftovers(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "keys.mks") &&
            strcmp(e->d_name, "keys.mks.lock"))
            fail_msg("left behind: %s", e->d_name);
    }
    closedir(d);
}

/* Two loads of one version: the first save wins, the second is refused and
 * writes nothing; after a new load it goes through. */
static void test_stale_save_refused(void **state)
{
    mnap_keystore *a = NULL, *b = NULL;
    (void)state;
    assert_int_equal(mnap_keystore_load(&a, path, "pw", 2), MNAP_OK);
    assert_int_equal(mnap_keystore_load(&b, path, "pw", 2), MNAP_OK);
    put_random(a, "alpha");
    put_random(b, "beta");
    assert_int_equal(mnap_keystore_save(a, path, "pw", 2), MNAP_OK);
    assert_int_equal(mnap_keystore_save(b, path, "pw", 2), MNAP_E_KS_STALE);
    assert_true(has("alpha"));
    assert_false(has("beta"));
    no_leftovers();
    /* a saves again: its own last save is the version on disk. */
    put_random(a, "gamma");
    assert_int_equal(mnap_keystore_save(a, path, "pw", 2), MNAP_OK);
    mnap_keystore_free(b);
    assert_int_equal(mnap_keystore_load(&b, path, "pw", 2), MNAP_OK);
    put_random(b, "beta");
    assert_int_equal(mnap_keystore_save(b, path, "pw", 2), MNAP_OK);
    assert_true(has("alpha") && has("beta") && has("gamma"));
    assert_string_equal(mnap_err_name(MNAP_E_KS_STALE), "MNAP_E_KS_STALE");
    assert_string_equal(mnap_err_name(MNAP_E_KS_BUSY), "MNAP_E_KS_BUSY");
    mnap_keystore_free(a);
    mnap_keystore_free(b);
}

/* A loaded store whose file was replaced by a damaged one, or removed. */
static void test_stale_other_cases(void **state)
{
    mnap_keystore *a = NULL, *fresh = NULL;
    FILE *f;
    (void)state;
    assert_int_equal(mnap_keystore_load(&a, path, "pw", 2), MNAP_OK);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("not a key store", f);
    fclose(f);
    assert_int_equal(mnap_keystore_save(a, path, "pw", 2), MNAP_E_KS_STALE);
    /* A fresh store replaces whatever is there (keys init --force). */
    assert_int_equal(mnap_keystore_new(&fresh), MNAP_OK);
    assert_int_equal(mnap_keystore_set_kdf(fresh, 10, 8, 1), MNAP_OK);
    assert_int_equal(mnap_keystore_save(fresh, path, "pw", 2), MNAP_OK);
    /* A removed file is no newer version: the save recreates it. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mnap_keystore_save(a, path, "pw", 2), MNAP_OK);
    mnap_keystore_free(a);
    mnap_keystore_free(fresh);
}

static int waits;
static void on_wait(void *arg, const char *lp, unsigned timeout_s)
{
    assert_ptr_equal(arg, &waits);
    assert_string_equal(lp, lockpath);
    assert_int_equal(timeout_s, 2);
    waits++;
}

/* The lock: a second holder waits, hears once after a second, and gives up
 * with MNAP_E_KS_BUSY; a save while another holds it gives up too, writing
 * nothing; the holder's own saves do not wait for themselves. */
static void test_lock_busy(void **state)
{
    mnap_kslock *l1 = NULL, *l2 = NULL;
    mnap_keystore *a = NULL, *b = NULL;
    int fd;
    (void)state;
    assert_int_equal(mnap_keystore_lock(path, 0, NULL, NULL, &l1), MNAP_OK);
    assert_int_equal(mnap_keystore_load(&a, path, "pw", 2), MNAP_OK);
    put_random(a, "mine");
    assert_int_equal(mnap_keystore_save(a, path, "pw", 2), MNAP_OK);   /* no self-wait */
    waits = 0;
    assert_int_equal(mnap_keystore_lock(path, 2, on_wait, &waits, &l2), MNAP_E_KS_BUSY);
    assert_null(l2);
    assert_int_equal(waits, 1);
    mnap_keystore_unlock(l1);

    /* Another program (here: another descriptor) holds the lock file. */
    fd = open(lockpath, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(mnap_keystore_load(&b, path, "pw", 2), MNAP_OK);
    put_random(b, "theirs");
    setenv("MNAP_LOCK_TIMEOUT", "0", 1);
    assert_int_equal(mnap_keystore_save(b, path, "pw", 2), MNAP_E_KS_BUSY);
    unsetenv("MNAP_LOCK_TIMEOUT");
    no_leftovers();
    assert_false(has("theirs"));
    close(fd);
    assert_int_equal(mnap_keystore_save(b, path, "pw", 2), MNAP_OK);
    assert_true(has("theirs") && has("mine"));
    /* A token needs no lock: a lock holding nothing. */
    assert_int_equal(mnap_keystore_lock("pkcs11:token=x", 0, NULL, NULL, &l1), MNAP_OK);
    assert_non_null(l1);
    mnap_keystore_unlock(l1);
    assert_int_equal(mnap_keystore_lock(NULL, 0, NULL, NULL, &l1), MNAP_E_PARAM);
    mnap_keystore_free(a);
    mnap_keystore_free(b);
}

/* 6 processes, each a read-modify-write under the lock: 6 key sets. */
static void test_parallel_processes(void **state)
{
    pid_t pids[6];
    int i, st;
    char name[16];
    (void)state;
    for (i = 0; i < 6; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            mnap_kslock *l = NULL;
            mnap_keystore *ks = NULL;
            snprintf(name, sizeof name, "p%d", i);
            if (mnap_keystore_lock(path, 30, NULL, NULL, &l) != MNAP_OK ||
                mnap_keystore_load(&ks, path, "pw", 2) != MNAP_OK ||
                mnap_keystore_generate(ks, name, 1, 16, 0) != MNAP_OK ||
                mnap_keystore_save(ks, path, "pw", 2) != MNAP_OK)
                _exit(1);
            mnap_keystore_free(ks);
            mnap_keystore_unlock(l);
            _exit(0);
        }
    }
    for (i = 0; i < 6; i++) {
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_true(has(name));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_save_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_other_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
