/* test_sim.c: the simulator port (card/port/sim): memory NVM, counters,
 * file images (round trip, refused headers), power-cut semantics with exact
 * bytes, AES against FIPS-197 and deterministic random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "mc_card.h"
#include "mc_sim.h"
#include "port.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mnap-test-sim-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void test_init_mem(void **state)
{
    mc_sim sim;
    mc_card card;
    (void)state;
    assert_int_equal(mc_sim_init_mem(&sim, 4096), 0);
    card.port = &sim;
    assert_int_equal(mc_port_nvm_size(&card), 4096);
    assert_int_equal(sim.fd, -1);
    for (uint32_t i = 0; i < 4096; i++)
        assert_int_equal(sim.nvm[i], 0xFF);
    assert_int_equal(sim.writes, 0);
    assert_int_equal(sim.bytes_written, 0);
    assert_false(sim.power_cut);
    mc_sim_close(&sim);
    assert_null(sim.nvm);
    assert_int_equal(mc_sim_init_mem(&sim, 0), -1);
}

static void test_read_write_counters(void **state)
{
    mc_sim sim;
    mc_card card;
    uint8_t in[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, out[10];
    (void)state;
    assert_int_equal(mc_sim_init_mem(&sim, 256), 0);
    card.port = &sim;
    assert_int_equal(mc_port_nvm_write(&card, 100, in, sizeof(in)), 0);
    assert_int_equal(mc_port_nvm_write(&card, 250, in, 6), 0);       /* up to the end */
    assert_int_equal(sim.writes, 2);
    assert_int_equal(sim.bytes_written, 16);
    assert_int_equal(mc_port_nvm_read(&card, 100, out, sizeof(out)), 0);
    assert_memory_equal(out, in, sizeof(in));
    assert_int_equal(sim.nvm[99], 0xFF);
    assert_int_equal(sim.nvm[110], 0xFF);
    assert_int_equal(sim.reads, 1);
    /* out of range: refused, nothing counted, nothing written */
    assert_int_equal(mc_port_nvm_write(&card, 250, in, 7), -1);
    assert_int_equal(mc_port_nvm_write(&card, 0xFFFFFFFFu, in, 2), -1);
    assert_int_equal(mc_port_nvm_read(&card, 256, out, 1), -1);
    assert_int_equal(mc_port_nvm_read(&card, 200, out, 57), -1);
    assert_int_equal(sim.writes, 2);
    /* zero-length write: not a write */
    assert_int_equal(mc_port_nvm_write(&card, 0, in, 0), 0);
    assert_int_equal(sim.writes, 2);
    assert_int_equal(mc_port_nvm_flush(&card), 0);
    assert_int_equal(sim.flushes, 1);
    mc_sim_reset_counters(&sim);
    assert_int_equal(sim.writes, 0);
    assert_int_equal(sim.bytes_written, 0);
    assert_int_equal(sim.reads, 0);
    assert_int_equal(sim.flushes, 0);
    /* no port context */
    card.port = NULL;
    assert_int_equal(mc_port_nvm_write(&card, 0, in, 1), -1);
    assert_int_equal(mc_port_nvm_size(&card), 0);
    mc_sim_close(&sim);
}

/* Cut during the 2nd write after 3 bytes: exactly 3 bytes land, the write and
 * every later one fail and change nothing, reads still work, restore ends it. */
static void test_power_cut_exact_bytes(void **state)
{
    mc_sim sim;
    mc_card card;
    const uint8_t a[4] = {0xA0, 0xA1, 0xA2, 0xA3};
    const uint8_t b[8] = {0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7};
    const uint8_t want[8] = {0xB0, 0xB1, 0xB2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    uint8_t out[8];
    (void)state;
    assert_int_equal(mc_sim_init_mem(&sim, 64), 0);
    card.port = &sim;
    mc_sim_arm_cut(&sim, 2, 3);
    assert_int_equal(mc_port_nvm_write(&card, 0, a, 4), 0);
    assert_false(sim.power_cut);
    assert_int_equal(mc_port_nvm_write(&card, 10, b, 8), -1);
    assert_true(sim.power_cut);
    assert_memory_equal(sim.nvm + 10, want, 8);
    assert_int_equal(sim.writes, 2);
    assert_int_equal(sim.bytes_written, 4 + 3);
    /* later writes are lost */
    assert_int_equal(mc_port_nvm_write(&card, 0, b, 8), -1);
    assert_memory_equal(sim.nvm, a, 4);
    assert_int_equal(sim.nvm[4], 0xFF);
    assert_int_equal(sim.writes, 2);
    assert_int_equal(mc_port_nvm_flush(&card), -1);
    /* reads work */
    assert_int_equal(mc_port_nvm_read(&card, 10, out, 8), 0);
    assert_memory_equal(out, want, 8);
    /* power back: writes work, no further cut */
    mc_sim_power_restore(&sim);
    assert_false(sim.power_cut);
    assert_int_equal(mc_port_nvm_write(&card, 10, b, 8), 0);
    assert_memory_equal(sim.nvm + 10, b, 8);
    assert_int_equal(mc_port_nvm_write(&card, 20, b, 8), 0);
    mc_sim_close(&sim);
}

static void test_power_cut_edges(void **state)
{
    mc_sim sim;
    mc_card card;
    const uint8_t b[4] = {1, 2, 3, 4};
    const uint8_t ff[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    (void)state;
    assert_int_equal(mc_sim_init_mem(&sim, 64), 0);
    card.port = &sim;
    /* K = 0: nothing lands */
    mc_sim_arm_cut(&sim, 1, 0);
    assert_int_equal(mc_port_nvm_write(&card, 0, b, 4), -1);
    assert_memory_equal(sim.nvm, ff, 4);
    assert_int_equal(sim.bytes_written, 0);
    mc_sim_power_restore(&sim);
    /* K >= len: the whole write lands, the power goes right after it */
    mc_sim_arm_cut(&sim, 1, 4);
    assert_int_equal(mc_port_nvm_write(&card, 0, b, 4), -1);
    assert_memory_equal(sim.nvm, b, 4);
    assert_true(sim.power_cut);
    mc_sim_power_restore(&sim);
    /* disarm */
    mc_sim_arm_cut(&sim, 1, 0);
    mc_sim_disarm(&sim);
    assert_int_equal(mc_port_nvm_write(&card, 8, b, 4), 0);
    /* reset_counters keeps an armed cut at the same distance */
    mc_sim_arm_cut(&sim, 3, 1);
    assert_int_equal(mc_port_nvm_write(&card, 16, b, 4), 0);
    mc_sim_reset_counters(&sim);
    assert_int_equal(mc_port_nvm_write(&card, 20, b, 4), 0);
    assert_int_equal(mc_port_nvm_write(&card, 24, b, 4), -1);
    assert_int_equal(sim.nvm[24], 1);
    assert_int_equal(sim.nvm[25], 0xFF);
    assert_int_equal(sim.writes, 2);
    mc_sim_close(&sim);
}

/* A create that cannot write the whole image (here: a file size limit, as
 * on a full disk) fails and leaves no file. */
static void test_file_create_fails_whole(void **state)
{
    char path[128];
    mc_sim sim;
    struct rlimit old, small = { 4096, 4096 };
    void (*old_handler)(int);
    int rc, e;
    (void)state;
    path_in_tmp(path, sizeof(path), "partial.nvm");
    unlink(path);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    old_handler = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    rc = mc_sim_create_file(&sim, path, 65536, false);
    e = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_file_round_trip(void **state)
{
    char path[128], err[160];
    mc_sim sim;
    mc_card card;
    const uint8_t data[5] = {0x11, 0x22, 0x33, 0x44, 0x55};
    const uint8_t torn[6] = {0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB};
    FILE *f;
    long sz;
    (void)state;
    path_in_tmp(path, sizeof(path), "rt.nvm");
    assert_int_equal(mc_sim_create_file(&sim, path, 1024, false), 0);
    card.port = &sim;
    assert_true(sim.fd >= 0);
    assert_int_equal(mc_port_nvm_write(&card, 1000, data, 5), 0);
    assert_int_equal(mc_port_nvm_flush(&card), 0);
    /* a torn write reaches the file too, exactly its first 2 bytes */
    mc_sim_arm_cut(&sim, 1, 2);
    assert_int_equal(mc_port_nvm_write(&card, 0, torn, 6), -1);
    mc_sim_close(&sim);

    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    fclose(f);
    assert_int_equal(sz, 16 + 1024);

    assert_int_equal(mc_sim_open_file(&sim, path, err, sizeof(err)), 0);
    card.port = &sim;
    assert_int_equal(sim.nvm_size, 1024);
    assert_memory_equal(sim.nvm + 1000, data, 5);
    assert_int_equal(sim.nvm[0], 0x66);
    assert_int_equal(sim.nvm[1], 0x77);
    assert_int_equal(sim.nvm[2], 0xFF);
    assert_int_equal(sim.nvm[999], 0xFF);
    assert_int_equal(sim.writes, 0);
    mc_sim_close(&sim);

    /* create refuses an existing file unless asked to truncate */
    assert_int_equal(mc_sim_create_file(&sim, path, 512, false), -1);
    assert_int_equal(mc_sim_create_file(&sim, path, 512, true), 0);
    mc_sim_close(&sim);
    assert_int_equal(mc_sim_open_file(&sim, path, err, sizeof(err)), 0);
    assert_int_equal(sim.nvm_size, 512);
    assert_int_equal(sim.nvm[0], 0xFF);
    mc_sim_close(&sim);
}

/* Writes a file with the given bytes. */
static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void expect_refused(const char *path, const char *msg_part)
{
    mc_sim sim;
    char err[200];
    memset(err, 0, sizeof(err));
    assert_int_equal(mc_sim_open_file(&sim, path, err, sizeof(err)), -1);
    assert_null(sim.nvm);
    assert_int_equal(sim.fd, -1);
    if (strstr(err, msg_part) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, msg_part);
}

static void test_file_bad_header(void **state)
{
    char path[128];
    uint8_t img[16 + 64];
    mc_sim sim;
    (void)state;
    path_in_tmp(path, sizeof(path), "bad.nvm");
    assert_int_equal(mc_sim_create_file(&sim, path, 64, true), 0);
    mc_sim_close(&sim);
    {
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(img, 1, sizeof(img), f), sizeof(img));
        fclose(f);
    }
    assert_memory_equal(img, "MNAPNVM\0", 8);
    assert_int_equal(img[8], 1);
    assert_int_equal(img[12], 64);

    img[0] = 'X';
    write_file(path, img, sizeof(img));
    expect_refused(path, "bad magic");
    img[0] = 'M';
    img[8] = 2;
    write_file(path, img, sizeof(img));
    expect_refused(path, "version");
    img[8] = 1;
    img[12] = 65;                                  /* header says 65, file has 64 */
    write_file(path, img, sizeof(img));
    expect_refused(path, "size");
    img[12] = 64;
    write_file(path, img, sizeof(img) - 1);        /* image one byte short */
    expect_refused(path, "size");
    img[12] = 0;
    write_file(path, img, 16);                     /* size 0 */
    expect_refused(path, "size");
    write_file(path, img, 10);                     /* no full header */
    expect_refused(path, "header");
    path_in_tmp(path, sizeof(path), "missing.nvm");
    expect_refused(path, "No such file");
    /* the good image still opens */
    img[12] = 64;
    path_in_tmp(path, sizeof(path), "good.nvm");
    write_file(path, img, sizeof(img));
    assert_int_equal(mc_sim_open_file(&sim, path, NULL, 0), 0);
    mc_sim_close(&sim);
}

/* FIPS-197 appendix C vectors, through the port entry and the cm_aes_fn. */
static void test_aes_fips197(void **state)
{
    static const uint8_t pt[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const uint8_t ct128[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                      0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    static const uint8_t ct192[16] = {0xdd, 0xa9, 0x7c, 0xa4, 0x86, 0x4c, 0xdf, 0xe0,
                                      0x6e, 0xaf, 0x70, 0xa0, 0xec, 0x0d, 0x71, 0x91};
    static const uint8_t ct256[16] = {0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf,
                                      0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89};
    const uint8_t *cts[3] = {ct128, ct192, ct256};
    uint8_t key[32], out[16], buf[16];
    mc_card card;
    (void)state;
    card.port = NULL;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 3; i++) {
        size_t kl = 16 + 8 * (size_t)i;
        assert_int_equal(mc_port_aes(&card, 0, key, kl, pt, out), 0);
        assert_memory_equal(out, cts[i], 16);
        assert_int_equal(mc_sim_openssl_aes(NULL, 1, key, kl, out, out), 0);  /* in place */
        assert_memory_equal(out, pt, 16);
        memcpy(buf, pt, 16);
        assert_int_equal(mc_sim_openssl_aes(NULL, 0, key, kl, buf, buf), 0);
        assert_memory_equal(buf, cts[i], 16);
    }
    assert_int_equal(mc_port_aes(&card, 0, key, 15, pt, out), -1);
    assert_int_equal(mc_port_aes(&card, 0, key, 0, pt, out), -1);
    assert_int_equal(mc_port_aes(&card, 0, key, 33, pt, out), -1);
}

static void test_random(void **state)
{
    mc_sim s1, s2;
    mc_card c1, c2;
    const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const uint8_t seed2[16] = {2};
    uint8_t a[40], b[40], z[40];
    const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t ctr[16] = {0}, blk[16];
    (void)state;
    assert_int_equal(mc_sim_init_mem(&s1, 16), 0);
    assert_int_equal(mc_sim_init_mem(&s2, 16), 0);
    c1.port = &s1;
    c2.port = &s2;
    /* OpenSSL random: two draws differ (40 bytes: a collision is impossible in practice) */
    assert_int_equal(mc_port_random(&c1, a, sizeof(a)), 0);
    assert_int_equal(mc_port_random(&c1, b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    /* deterministic: same seed, same stream; block 0 is AES(seed, 0) */
    mc_sim_set_deterministic_random(&s1, seed);
    mc_sim_set_deterministic_random(&s2, seed);
    assert_int_equal(mc_port_random(&c1, a, sizeof(a)), 0);
    assert_int_equal(mc_port_random(&c2, b, sizeof(b)), 0);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(mc_sim_openssl_aes(NULL, 0, key, 16, ctr, blk), 0);
    assert_memory_equal(a, blk, 16);
    assert_int_equal(mc_port_random(&c1, b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));          /* the stream moves on */
    mc_sim_set_deterministic_random(&s2, seed2);
    assert_int_equal(mc_port_random(&c2, z, sizeof(z)), 0);
    assert_memory_not_equal(a, z, sizeof(a));
    assert_int_equal(mc_port_random(&c1, NULL, 1), -1);
    mc_sim_close(&s1);
    mc_sim_close(&s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_mem),
        cmocka_unit_test(test_read_write_counters),
        cmocka_unit_test(test_power_cut_exact_bytes),
        cmocka_unit_test(test_power_cut_edges),
        cmocka_unit_test(test_file_create_fails_whole),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_bad_header),
        cmocka_unit_test(test_aes_fips197),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
