/* load.c: LOAD AP (PROTOCOL.md §4, §6): optional (re)building of the image's
 * key set (tag A1) under the session's Key-DEK, cutting the image into the
 * largest blocks the card takes, ISO chaining for blocks above the card's
 * command limit, progress reports, and all-or-nothing on error. */
#include <stdlib.h>
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_sw.h"
#include "cm_tlv.h"

#define MAX_IMAGE 32768u
#define MAX_BLOCKS 256u

/* Copies image to out with tag A1 replaced by (or, when absent, inserted
 * after A0 / 4F as) the key set data in a1. */
static mnap_err rebuild_image(const uint8_t *image, size_t len, const uint8_t *a1, size_t a1_len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    cm_tlv_writer w;
    cm_tlv t;
    size_t pos = 0;
    int rc, placed = 0, has_a0 = cm_tlv_find(image, len, 0xA0, NULL) == CM_OK;
    int has_a1 = cm_tlv_find(image, len, 0xA1, NULL) == CM_OK;

    cm_tlv_writer_init(&w, out, cap);
    while ((rc = cm_tlv_next(image, len, &pos, &t)) == CM_OK) {
        if (t.tag == 0xA1) {
            if (!placed)
                cm_tlv_put(&w, 0xA1, a1, a1_len);
            placed = 1;
            continue;
        }
        cm_tlv_put(&w, t.tag, t.value, t.len);
        if (!has_a1 && !placed && (t.tag == 0xA0 || (t.tag == 0x4F && !has_a0))) {
            cm_tlv_put(&w, 0xA1, a1, a1_len);
            placed = 1;
        }
    }
    if (rc != 1)
        return MNAP_E_IMAGE;
    if (!placed)
        cm_tlv_put(&w, 0xA1, a1, a1_len);
    if (w.error != CM_OK)
        return MNAP_E_IMAGE;
    *out_len = w.pos;
    return MNAP_OK;
}

/* Makes the card drop a partial load: any other command does it (PROTOCOL.md
 * §4).  GET DATA DF20 changes nothing and keeps a healthy session; after a
 * failed session a SELECT ends the card's channel and the load together.  A
 * card that is gone or was reset has lost the partial load already. */
static void abort_load(mnap_ctx *ctx, mnap_err why)
{
    uint8_t r[256];
    size_t rlen;
    uint16_t sw;
    mnap_apdu a;

    if (why == MNAP_E_CARD_REMOVED || why == MNAP_E_CARD_MUTE || why == MNAP_E_CARD_RESET ||
        why == MNAP_E_NO_SERVICE ||
        why == MNAP_E_NOT_CONNECTED || why == MNAP_E_TRANSPORT)
        return;
    if (!ctx->open) {
        (void)mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
        return;
    }
    mnap__apdu_init(&a, 0x80, 0xCA, 0xDF, 0x20);
    a.ne = 256;
    if (mnap__send(ctx, &a, r, sizeof(r), &rlen, &sw) != MNAP_OK || sw != CM_SW_OK) {
        /* Last resort: a SELECT ends channel and partial load alike. */
        (void)mnap__select_aid(ctx, mnap_am_aid, MNAP_AM_AID_LEN);
    }
}

mnap_err mnap_area_load_ap(mnap_ctx *ctx, const uint8_t *image, size_t image_len,
                           const mnap_keyset *ap_keys, const mnap_load_opts *opts)
{
    uint8_t *img = NULL, a1[CM_KEYSET_DATA_MAX], r[64];
    const uint8_t *src = image;
    size_t len = image_len, bs, nblocks, i, off, a1_len, rlen;
    uint16_t sw = 0;
    mnap_keyset sk;
    mnap_apdu a;
    mnap_err rc;

    if (ctx == NULL || image == NULL || image_len == 0)
        return MNAP_E_PARAM;
    rc = mnap__need_session(ctx, 1);
    if (rc != MNAP_OK)
        return rc;
    /* Top level only: the content of A1 (key set data) is not BER-TLV. */
    if (image_len > MAX_IMAGE || cm_tlv_validate(image, image_len, 0) != CM_OK ||
        cm_tlv_find(image, image_len, 0x4F, NULL) != CM_OK)
        return MNAP_E_IMAGE;
    if (ap_keys != NULL) {
        rc = mnap__static_keys(ap_keys, ctx->have_div ? ctx->div : NULL, &sk);
        if (rc != MNAP_OK)
            return rc;
        rc = mnap__keyset_data(&ctx->aes, ctx->dek, ctx->dek_len, &sk, a1, sizeof(a1), &a1_len,
                               NULL);
        mnap_keyset_wipe(&sk);
        if (rc != MNAP_OK)
            return rc;
        img = malloc(MAX_IMAGE + sizeof(a1) + 8);
        if (img == NULL) {
            cm_wipe(a1, sizeof(a1));
            return MNAP_E_NOMEM;
        }
        rc = rebuild_image(image, image_len, a1, a1_len, img, MAX_IMAGE, &len);
        cm_wipe(a1, sizeof(a1));
        if (rc != MNAP_OK)
            goto out;
        src = img;
    }

    bs = (opts != NULL && opts->block_size) ? opts->block_size : ctx->max_cmd;
    nblocks = (len + bs - 1) / bs;
    if (nblocks > MAX_BLOCKS) {
        if (opts != NULL && opts->block_size) {
            rc = MNAP_E_PARAM;
            goto out;
        }
        /* Too many blocks at the card's command size: larger, chained blocks. */
        bs = (len + MAX_BLOCKS - 1) / MAX_BLOCKS;
        nblocks = (len + bs - 1) / bs;
    }
    if (opts != NULL && opts->progress != NULL)
        opts->progress(opts->user, 0, len);
    for (i = 0, off = 0; i < nblocks; i++, off += bs) {
        size_t n = len - off < bs ? len - off : bs;
        int last = i + 1 == nblocks;

        mnap__apdu_init(&a, 0x80, 0xE8, last ? 0x80 : 0x00, (uint8_t)i);
        a.data = src + off;
        a.lc = n;
        /* Over T=0 a block whose wrapped form needs more than 255 bytes of
         * Lc goes chained in short segments (PROTOCOL.md §10). */
        if (n <= mnap__cmd_room(ctx))
            rc = mnap__send(ctx, &a, r, sizeof(r), &rlen, &sw);
        else
            rc = mnap__send_chained(ctx, &a, mnap__t0(ctx) ? 255 : ctx->max_cmd, r, sizeof(r),
                                    &rlen, &sw);
        if (rc == MNAP_OK)
            rc = mnap_err_from_sw(sw);
        if (rc != MNAP_OK) {
            /* The card installs nothing before the last block; make sure it
             * forgets the blocks it has. */
            if (!last)
                abort_load(ctx, rc);
            goto out;
        }
        if (opts != NULL && opts->progress != NULL)
            opts->progress(opts->user, off + n, len);
    }
    rc = MNAP_OK;
out:
    if (img != NULL) {
        cm_wipe(img, MAX_IMAGE + sizeof(a1) + 8);
        free(img);
    }
    return rc;
}
