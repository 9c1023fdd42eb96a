/* mq_aes.c: mc_port_aes on the QEMU port, from BearSSL's constant-time
 * aes_ct (bitsliced, no table lookups indexed by secret data, no
 * data-dependent branches; written for 32-bit cores, so the right one of
 * BearSSL's implementations for a Cortex-M).  The sources come from
 * Debian's bearssl source package (card/port/qemu/bearssl.sh) and are
 * compiled for the target with the rest of the firmware.  One block in ECB
 * is a one-block CBC with a zero IV, which is BearSSL's public API for aes_ct.
 * The expanded keys live on the stack and are wiped before returning.
 */
#include <string.h>
#include <bearssl_block.h>
#include "cm_ct.h"
#include "mq_port.h"
#include "port.h"

int mq_aes_block(int decrypt, const uint8_t *key, size_t key_len, const uint8_t in[16],
                     uint8_t out[16])
{
    uint8_t iv[16], blk[16];
    int rc = 0;

    if (key == NULL || in == NULL || out == NULL)
        return -1;
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    memset(iv, 0, sizeof(iv));
    memcpy(blk, in, 16);
    if (decrypt) {
        br_aes_ct_cbcdec_keys kd;
        br_aes_ct_cbcdec_init(&kd, key, key_len);
        br_aes_ct_cbcdec_run(&kd, iv, blk, 16);
        cm_wipe(&kd, sizeof(kd));
    } else {
        br_aes_ct_cbcenc_keys ke;
        br_aes_ct_cbcenc_init(&ke, key, key_len);
        br_aes_ct_cbcenc_run(&ke, iv, blk, 16);
        cm_wipe(&ke, sizeof(ke));
    }
    memcpy(out, blk, 16);
    cm_wipe(blk, sizeof(blk));
    cm_wipe(iv, sizeof(iv));
    return rc;
}

int mc_port_aes(void *card, int decrypt, const uint8_t *key, size_t key_len,
                const uint8_t in[16], uint8_t out[16])
{
    (void)card;
    return mq_aes_block(decrypt, key, key_len, in, out);
}
