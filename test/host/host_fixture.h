/* host_fixture.h: what the in-process tests of libmnap share: a simulated
 * card behind an mnap_ctx, the key sets of the tests, and an AP image builder
 * (PROTOCOL.md §6) that leaves tag A1 to the library.  Include after
 * cmocka.h.  Header-only (static inline) because test/host/ builds one
 * binary per test_*.c file. */
#ifndef HOST_FIXTURE_H
#define HOST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnap/mnap.h"
#include "inproc/mnap_inproc.h"
#include "cm_tlv.h"

typedef struct fx {
    mnap_inproc *ip;
    mnap_ctx *ctx;
    mnap_keyset transport;   /* 40..4F, KVN FF (the simulator's) */
    mnap_keyset region;      /* KVN 01 */
    mnap_keyset ap;          /* KVN 21, the standard APs' keys */
} fx;

#define FX_PIN "1234"
#define FX_EF_BIG 0x0101      /* transparent, 4000 bytes, SM/SM */
#define FX_EF_SECRET 0x0102   /* transparent, 32 bytes, PIN/PIN */
#define FX_EF_LINEAR 0x0201   /* linear fixed 16 x 3, SM/SM */
#define FX_EF_CYCLIC 0x0301   /* cyclic 8 x 3, SM/SM */
#define FX_EF_RO 0x0103       /* transparent 16, SM/NEVER */
#define FX_BIG_SIZE 4000

static inline void fx_fill(uint8_t *k, size_t n, uint8_t seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        k[i] = (uint8_t)(seed + 7 * i);
}

static inline void fx_keys(mnap_keyset *ks, uint8_t kvn, uint8_t seed, size_t len)
{
    uint8_t e[32], m[32], d[32];
    fx_fill(e, len, seed);
    fx_fill(m, len, (uint8_t)(seed + 0x55));
    fx_fill(d, len, (uint8_t)(seed + 0xAA));
    assert_int_equal(mnap_keyset_set(ks, kvn, e, m, d, len, 0), MNAP_OK);
}

/* A blank card (serial NULL = 00..07) and a context on it. */
static inline void fx_new(fx *f, const uint8_t *serial, uint32_t nvm)
{
    mnap_transport t;
    static const uint8_t k40[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                     0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F };
    memset(f, 0, sizeof(*f));
    assert_int_equal(mnap_inproc_new(&f->ip, serial, NULL, 0, nvm), MNAP_OK);
    t = mnap_inproc_transport(f->ip);
    assert_int_equal(mnap_ctx_new(&f->ctx, &t), MNAP_OK);
    assert_int_equal(mnap_keyset_set(&f->transport, 0xFF, k40, k40, k40, 16, 0), MNAP_OK);
    fx_keys(&f->region, 0x01, 0x10, 16);
    fx_keys(&f->ap, 0x21, 0x90, 16);
}

/* Blank card, area set up with the region keys, AM session open at 33 with
 * the region keys. */
static inline void fx_active(fx *f, const uint8_t *serial, uint32_t nvm)
{
    fx_new(f, serial, nvm);
    assert_int_equal(mnap_am_open(f->ctx, &f->transport, MNAP_LEVEL_FULL), MNAP_OK);
    assert_int_equal(mnap_area_setup(f->ctx, &f->region), MNAP_OK);
    assert_int_equal(mnap_am_open(f->ctx, &f->region, MNAP_LEVEL_FULL), MNAP_OK);
}

static inline void fx_free(fx *f)
{
    mnap_ctx_free(f->ctx);
    mnap_inproc_free(f->ip);
    mnap_keyset_wipe(&f->transport);
    mnap_keyset_wipe(&f->region);
    mnap_keyset_wipe(&f->ap);
}

/* --- AP images ------------------------------------------------------------ */
typedef struct fx_ef {
    uint16_t fid;
    uint8_t sfi, type;
    uint16_t size;
    uint8_t rec_len, rec_count, rd, wr;
    const uint8_t *content;
    size_t content_len;
} fx_ef;

/* An image without A1 (the library adds it from the AP key set). */
static inline size_t fx_image(uint8_t *out, size_t cap, const uint8_t *aid, size_t aid_len,
                              const char *pin, int min_level, const fx_ef *efs, size_t n)
{
    cm_tlv_writer w;
    size_t m, i;
    cm_tlv_writer_init(&w, out, cap);
    cm_tlv_put(&w, 0x4F, aid, aid_len);
    m = cm_tlv_open(&w, 0xA0);
    cm_tlv_put_u8(&w, 0x80, 3);
    cm_tlv_put_u8(&w, 0x81, 4);
    cm_tlv_put_u8(&w, 0x82, 8);
    if (pin != NULL)
        cm_tlv_put(&w, 0x83, (const uint8_t *)pin, strlen(pin));
    cm_tlv_close(&w, m);
    if (min_level >= 0) {
        m = cm_tlv_open(&w, 0xA2);
        cm_tlv_put_u8(&w, 0x80, (uint8_t)min_level);
        cm_tlv_close(&w, m);
    }
    for (i = 0; i < n; i++) {
        const fx_ef *e = &efs[i];
        m = cm_tlv_open(&w, 0xA3);
        cm_tlv_put_u16(&w, 0x83, e->fid);
        if (e->sfi)
            cm_tlv_put_u8(&w, 0x88, e->sfi);
        cm_tlv_put_u8(&w, 0x82, e->type);
        if (e->type == 0x01) {
            cm_tlv_put_u16(&w, 0x80, e->size);
        } else {
            cm_tlv_put_u8(&w, 0x84, e->rec_len);
            cm_tlv_put_u8(&w, 0x85, e->rec_count);
        }
        cm_tlv_put_u8(&w, 0x86, e->rd);
        cm_tlv_put_u8(&w, 0x87, e->wr);
        if (e->content != NULL)
            cm_tlv_put(&w, 0x53, e->content, e->content_len);
        cm_tlv_close(&w, m);
    }
    assert_int_equal(w.error, 0);
    return w.pos;
}

static const uint8_t fx_secret_content[] = "resident-secret-0123456789abcdef";

/* The standard AP idx: AID D2 76 00 01 01 idx, PIN "1234" (3 tries, 4..8),
 * min level as given (-1: default 33), the five EFs named above. */
static inline size_t fx_std_image(uint8_t *out, size_t cap, uint8_t idx, int min_level)
{
    const uint8_t aid[6] = { 0xD2, 0x76, 0x00, 0x01, 0x01, idx };
    fx_ef efs[5] = {
        { FX_EF_BIG, 1, 0x01, FX_BIG_SIZE, 0, 0, 0x00, 0x00, NULL, 0 },
        { FX_EF_SECRET, 2, 0x01, 32, 0, 0, 0x01, 0x01, fx_secret_content, 32 },
        { FX_EF_LINEAR, 3, 0x02, 0, 16, 3, 0x00, 0x00, NULL, 0 },
        { FX_EF_CYCLIC, 4, 0x06, 0, 8, 3, 0x00, 0x00, NULL, 0 },
        { FX_EF_RO, 5, 0x01, 16, 0, 0, 0x00, 0xFF, NULL, 0 },
    };
    return fx_image(out, cap, aid, 6, FX_PIN, min_level, efs, 5);
}

static inline void fx_std_aid(uint8_t aid[6], uint8_t idx)
{
    aid[0] = 0xD2; aid[1] = 0x76; aid[2] = 0x00; aid[3] = 0x01; aid[4] = 0x01; aid[5] = idx;
}

/* Loads the standard AP idx with f->ap through the open AM session. */
static inline void fx_load_std(fx *f, uint8_t idx)
{
    uint8_t img[4096];
    size_t n = fx_std_image(img, sizeof(img), idx, -1);
    assert_int_equal(mnap_area_load_ap(f->ctx, img, n, &f->ap, NULL), MNAP_OK);
}

/* Opens a session on the standard AP idx at level 33. */
static inline mnap_err fx_open_ap(fx *f, uint8_t idx, const mnap_keyset *ks, uint8_t level)
{
    uint8_t aid[6];
    fx_std_aid(aid, idx);
    return mnap_ap_open(f->ctx, aid, 6, ks, level);
}

#endif
