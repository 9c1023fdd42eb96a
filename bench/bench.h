/* bench.h: what the benchmark programs of bench/ share: the key sets, the
 * benchmark AP image (PROTOCOL.md §6), a monotonic clock and the kiosk flow.
 *
 * Header-only (static inline) because the Makefile builds every .c file of bench/ as
 * a program of its own: there is no bench library to put shared code in.
 *
 * The benchmark AP has three EFs, all with the SM rule so that one channel
 * reaches them at any level:
 *   0101 SFI 1 transparent 256 bytes  (the kiosk flow reads all of it)
 *   0102 SFI 2 transparent 128 bytes  (the SELECT EF + READ BINARY workload)
 *   0301 SFI 3 cyclic 16 x 8          (the kiosk flow appends one record)
 * and optionally 0104, a transparent EF with initial content that pads the
 * image to a chosen size (LOAD AP of n KiB).  PIN "1234", 3 tries, 4..8
 * digits; min_level 01 so one AP serves the level 01 and level 33 runs. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cm_tlv.h"
#include "mnap/mnap.h"

#define BENCH_PIN "1234"
#define BENCH_EF_READ 0x0101    /* 256 bytes, read whole by the kiosk flow */
#define BENCH_EF_SMALL 0x0102   /* 128 bytes, the throughput workload */
#define BENCH_EF_LOG 0x0301     /* cyclic 16 x 8, appended to by the kiosk flow */
#define BENCH_EF_BULK 0x0104    /* pads an image to a chosen size */
#define BENCH_AID_LEN 6
/* Tag A1 the library adds to an image for an AES-128 key set: 2 bytes of
 * header around new-KVN + 3 x (88 Ll Lk E(key)[16] 03 KCV[3]) = 70 bytes. */
#define BENCH_A1_LEN 72
#define BENCH_IMAGE_MAX 32768

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void bench_aid(uint8_t aid[BENCH_AID_LEN], unsigned idx)
{
    static const uint8_t base[BENCH_AID_LEN] = { 0xD3, 0x92, 0xF0, 0x00, 0x42, 0x00 };
    memcpy(aid, base, BENCH_AID_LEN);
    aid[5] = (uint8_t)idx;
}

/* The key sets: the simulator's transport keys 40..4F (KVN FF), a region key
 * set (KVN 01) and the benchmark APs' key set (KVN 21).  Test keys only. */
static inline void bench_key(mnap_keyset *ks, uint8_t kvn, uint8_t seed)
{
    uint8_t e[16], m[16], d[16];
    for (unsigned i = 0; i < 16; i++) {
        e[i] = (uint8_t)(seed + i);
        m[i] = (uint8_t)(seed + 0x40 + i);
        d[i] = (uint8_t)(seed + 0x80 + i);
    }
    mnap_keyset_set(ks, kvn, e, m, d, 16, 0);
}

static inline void bench_transport_keys(mnap_keyset *ks)
{
    uint8_t k[16];
    for (unsigned i = 0; i < 16; i++)
        k[i] = (uint8_t)(0x40 + i);
    mnap_keyset_set(ks, 0xFF, k, k, k, 16, 0);
}

static inline void bench_region_keys(mnap_keyset *ks) { bench_key(ks, 0x01, 0x10); }
static inline void bench_ap_keys(mnap_keyset *ks) { bench_key(ks, 0x21, 0x90); }

static inline void bench_put_ef(cm_tlv_writer *w, uint16_t fid, uint8_t sfi, uint8_t type,
                                uint16_t size, uint8_t rec_len, uint8_t rec_count,
                                const uint8_t *content, size_t content_len)
{
    size_t m = cm_tlv_open(w, 0xA3);
    cm_tlv_put_u16(w, 0x83, fid);
    if (sfi)
        cm_tlv_put_u8(w, 0x88, sfi);
    cm_tlv_put_u8(w, 0x82, type);
    if (type == 0x01) {
        cm_tlv_put_u16(w, 0x80, size);
    } else {
        cm_tlv_put_u8(w, 0x84, rec_len);
        cm_tlv_put_u8(w, 0x85, rec_count);
    }
    cm_tlv_put_u8(w, 0x86, 0x00);   /* read: SM */
    cm_tlv_put_u8(w, 0x87, 0x00);   /* write: SM */
    if (content != NULL)
        cm_tlv_put(w, 0x53, content, content_len);
    cm_tlv_close(w, m);
}

/* The benchmark AP idx without tag A1 (the library adds it from the AP key
 * set).  bulk > 0 adds EF 0104 with bulk bytes of initial content.  Returns
 * the length, 0 when it does not fit. */
static inline size_t bench_image(uint8_t *out, size_t cap, unsigned idx, size_t bulk)
{
    static uint8_t content[BENCH_IMAGE_MAX];
    cm_tlv_writer w;
    uint8_t aid[BENCH_AID_LEN];
    size_t m;

    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 7 + 3);
    bench_aid(aid, idx);
    cm_tlv_writer_init(&w, out, cap);
    cm_tlv_put(&w, 0x4F, aid, sizeof(aid));
    m = cm_tlv_open(&w, 0xA0);
    cm_tlv_put_u8(&w, 0x80, 3);
    cm_tlv_put_u8(&w, 0x81, 4);
    cm_tlv_put_u8(&w, 0x82, 8);
    cm_tlv_put(&w, 0x83, (const uint8_t *)BENCH_PIN, strlen(BENCH_PIN));
    cm_tlv_close(&w, m);
    m = cm_tlv_open(&w, 0xA2);
    cm_tlv_put_u8(&w, 0x80, 0x01);
    cm_tlv_close(&w, m);
    bench_put_ef(&w, BENCH_EF_READ, 1, 0x01, 256, 0, 0, content, 256);
    bench_put_ef(&w, BENCH_EF_SMALL, 2, 0x01, 128, 0, 0, content + 256, 128);
    bench_put_ef(&w, BENCH_EF_LOG, 3, 0x06, 0, 16, 8, NULL, 0);
    if (bulk > 0 && bulk <= 32767)
        bench_put_ef(&w, BENCH_EF_BULK, 4, 0x01, (uint16_t)bulk, 0, 0, content, bulk);
    return w.error ? 0 : w.pos;
}

/* An image that is exactly target bytes on the card (with the library's tag
 * A1), padded with EF 0104; 0 when no bulk size hits it. */
static inline size_t bench_image_sized(uint8_t *out, size_t cap, unsigned idx, size_t target)
{
    size_t base = bench_image(out, cap, idx, 0) + BENCH_A1_LEN;
    /* EF 0104's TLV around its content is at most 24 bytes; try downwards. */
    for (size_t bulk = target > base ? target - base : 0; bulk > 0 && bulk + 40 > target - base;
         bulk--) {
        size_t n = bench_image(out, cap, idx, bulk);
        if (n != 0 && n + BENCH_A1_LEN == target)
            return n;
    }
    return 0;
}

/* The kiosk flow (PROTOCOL.md §5): SELECT + INITIALIZE UPDATE + EXTERNAL
 * AUTHENTICATE at level, VERIFY, SELECT EF + READ BINARY of 256 bytes,
 * SELECT EF + APPEND RECORD of 16 bytes, then mnap_close (SELECT of the AM).
 * step (may be NULL) is told the name of each step before it runs. */
static inline mnap_err bench_kiosk(mnap_ctx *ctx, unsigned idx, const mnap_keyset *ks,
                                   uint8_t level, void (*step)(void *, const char *), void *user)
{
    uint8_t aid[BENCH_AID_LEN], buf[256], rec[16];
    size_t got = 0;
    mnap_err rc;

    bench_aid(aid, idx);
    memset(rec, 0x5A, sizeof(rec));
    if (step)
        step(user, "kiosk.open");
    rc = mnap_ap_open(ctx, aid, sizeof(aid), ks, level);
    if (rc == MNAP_OK) {
        if (step)
            step(user, "kiosk.verify");
        rc = mnap_ap_verify_pin(ctx, BENCH_PIN, strlen(BENCH_PIN), NULL);
    }
    if (rc == MNAP_OK) {
        if (step)
            step(user, "kiosk.read");
        rc = mnap_ap_read_binary(ctx, BENCH_EF_READ, 0, buf, sizeof(buf), &got);
        if (rc == MNAP_OK && got != sizeof(buf))
            rc = MNAP_E_CARD_STATUS;
    }
    if (rc == MNAP_OK) {
        if (step)
            step(user, "kiosk.append");
        rc = mnap_ap_append_record(ctx, BENCH_EF_LOG, rec, sizeof(rec));
    }
    if (step)
        step(user, "kiosk.close");
    if (rc == MNAP_OK)
        rc = mnap_close(ctx);
    else
        mnap_close(ctx);
    return rc;
}

/* Area set up with the region keys, then APs 1..n_aps loaded, through an
 * AM session that is closed at the end. */
static inline mnap_err bench_prepare(mnap_ctx *ctx, unsigned n_aps)
{
    static uint8_t img[BENCH_IMAGE_MAX];
    mnap_keyset tk, rk, ak;
    mnap_err rc;

    bench_transport_keys(&tk);
    bench_region_keys(&rk);
    bench_ap_keys(&ak);
    rc = mnap_am_open(ctx, &tk, MNAP_LEVEL_FULL);
    if (rc == MNAP_OK)
        rc = mnap_area_setup(ctx, &rk);
    if (rc == MNAP_OK)
        rc = mnap_am_open(ctx, &rk, MNAP_LEVEL_FULL);
    for (unsigned i = 1; rc == MNAP_OK && i <= n_aps; i++) {
        size_t n = bench_image(img, sizeof(img), i, 0);
        rc = n ? mnap_area_load_ap(ctx, img, n, &ak, NULL) : MNAP_E_PARAM;
    }
    if (rc == MNAP_OK)
        rc = mnap_close(ctx);
    mnap_keyset_wipe(&tk);
    mnap_keyset_wipe(&rk);
    mnap_keyset_wipe(&ak);
    return rc;
}

#endif
