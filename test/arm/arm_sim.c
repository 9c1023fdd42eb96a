/* arm_sim.c: the simulator's test API (card/port/sim/mc_sim.h) on the ARM
 * target, so that the card suites of test/card/ and their harness
 * (test/support/card_harness.c, card/port/sim/sim_card.c) run unchanged on
 * the target.  Memory NVM comes from newlib's heap; built with
 * -DMQ_NVM_HOST (the microbit, 16 KiB of RAM) "memory" NVM is a fresh host
 * file through semihosting instead (mq-nvm-<n>.img in QEMU's working
 * directory).  File images of the simulator's own format (mc_sim_create_file,
 * mc_sim_open_file) are host-only: they fail here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bearssl_block.h>
#include "mc_sim.h"
#include "mq_port.h"
#include "arm_sim.h"

const uint8_t mc_sim_test_key[16] = {
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F
};
const uint8_t mc_sim_test_family[2] = { 0x00, 0x01 };


static void sim_clear(mc_sim *sim)
{
    memset(sim, 0, sizeof(*sim));
    sim->fd = -1;
}

int mc_sim_init_mem(mc_sim *sim, uint32_t size)
{
    if (sim == NULL)
        return -1;
    sim_clear(sim);
    if (size == 0 || size > (16u << 20))
        return -1;
#ifdef MQ_NVM_HOST
    static unsigned n;
    char path[32];
    snprintf(path, sizeof(path), "mq-nvm-%u.img", n++ % 8u);
    if (arm_sim_open_host(sim, path, size) != 0) {
        sim_clear(sim);
        return -1;
    }
    return 0;
#else
    sim->nvm = malloc(size);
    if (sim->nvm == NULL)
        return -1;
    memset(sim->nvm, 0xFF, size);
    sim->nvm_size = size;
    return 0;
#endif
}

int mc_sim_create_file(mc_sim *sim, const char *path, uint32_t size, bool truncate)
{
    (void)path, (void)size, (void)truncate;
    sim_clear(sim);
    return -1;
}

int mc_sim_open_file(mc_sim *sim, const char *path, char *err, size_t err_cap)
{
    (void)path;
    sim_clear(sim);
    if (err != NULL && err_cap > 0)
        snprintf(err, err_cap, "simulator image files are host-only (QEMU port)");
    return -1;
}

int mc_sim_lock(mc_sim *sim, const char *path, char *err, size_t err_cap)
{
    (void)sim, (void)path, (void)err, (void)err_cap;
    return 0;
}

void mc_sim_close(mc_sim *sim)
{
    if (sim == NULL)
        return;
    if (sim->nvm == NULL)
        arm_sim_close_host(sim);
    free(sim->nvm);
    sim_clear(sim);
}

/* The simulator's OpenSSL AES by its name: the harness and the tests call
 * it for the HOST side of every exchange (cryptograms, C-MACs, key wrapping
 * the test computes).  Here BearSSL's table-based aes_big: not constant-time,
 * which the test's host side does not need, and on the Cortex-M3 about
 * twice as fast as aes_ct, which the card's own mc_port_aes keeps
 * (mq_aes.c); the tearing suites spend ~40% of their time here. */
int mc_sim_openssl_aes(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                       const uint8_t in[16], uint8_t out[16])
{
    uint8_t iv[16], blk[16];
    (void)ctx;

    if (key == NULL || in == NULL || out == NULL ||
        (key_len != 16 && key_len != 24 && key_len != 32))
        return -1;
    memset(iv, 0, sizeof(iv));
    memcpy(blk, in, 16);
    if (decrypt) {
        br_aes_big_cbcdec_keys kd;
        br_aes_big_cbcdec_init(&kd, key, key_len);
        br_aes_big_cbcdec_run(&kd, iv, blk, 16);
    } else {
        br_aes_big_cbcenc_keys ke;
        br_aes_big_cbcenc_init(&ke, key, key_len);
        br_aes_big_cbcenc_run(&ke, iv, blk, 16);
    }
    memcpy(out, blk, 16);
    return 0;
}

