/* manifest_build.c: writes the AP image (PROTOCOL.md §6) of a checked
 * manifest.  The AP's key set comes from the caller's lookup, is wrapped
 * under the region Key-DEK into key set data (§3, tag A1) and wiped; the
 * rest of the image is a direct encoding of the manifest:
 *
 *   4F AID
 *   A0 { 80 max tries  81 min length  82 max length  [83 initial PIN] }
 *   A1 KVN { 88 Ll Lk E(key) 03 KCV } x 3 (ENC, MAC, DEK)
 *   [A2 { 80 min level }]                      only when the manifest sets it
 *   A3 { 83 FID(2) [88 SFI] 82 type  80 size(2) | 84 rec len 85 rec count
 *        86 read 87 write [53 content] }       one per EF, in manifest order */
#include <string.h>

#include "cm_ct.h"
#include "cm_scp03.h"
#include "cm_tlv.h"
#include "manifest_int.h"

static void write_ef(cm_tlv_writer *w, const mt_manifest *m, const mt_manifest_ef *ef)
{
    size_t mark = cm_tlv_open(w, 0xA3);
    cm_tlv_put_u16(w, 0x83, ef->fid);
    if (ef->sfi != 0)
        cm_tlv_put_u8(w, 0x88, ef->sfi);
    cm_tlv_put_u8(w, 0x82, ef->type);
    if (ef->type == MNAP_EF_TRANSPARENT) {
        cm_tlv_put_u16(w, 0x80, ef->size);
    } else {
        cm_tlv_put_u8(w, 0x84, ef->record_length);
        cm_tlv_put_u8(w, 0x85, ef->record_count);
    }
    cm_tlv_put_u8(w, 0x86, ef->read_rule);
    cm_tlv_put_u8(w, 0x87, ef->write_rule);
    if (ef->has_content && ef->content_len > 0)
        cm_tlv_put(w, 0x53, m->content + ef->content_off, ef->content_len);
    cm_tlv_close(w, mark);
}

static void write_image(cm_tlv_writer *w, const mt_manifest *m, const uint8_t *ksd, size_t ksd_len)
{
    size_t mark;

    cm_tlv_put(w, 0x4F, m->aid, m->aid_len);
    mark = cm_tlv_open(w, 0xA0);
    cm_tlv_put_u8(w, 0x80, m->max_tries);
    cm_tlv_put_u8(w, 0x81, m->pin_min);
    cm_tlv_put_u8(w, 0x82, m->pin_max);
    if (m->initial_pin_len > 0)
        cm_tlv_put(w, 0x83, m->initial_pin, m->initial_pin_len);
    cm_tlv_close(w, mark);
    cm_tlv_put(w, 0xA1, ksd, ksd_len);
    if (m->has_min_level) {
        mark = cm_tlv_open(w, 0xA2);
        cm_tlv_put_u8(w, 0x80, m->min_level);
        cm_tlv_close(w, mark);
    }
    for (size_t i = 0; i < m->ef_count; i++)
        write_ef(w, m, &m->efs[i]);
}

int mt_manifest_build(const mt_manifest *m, mt_manifest_key_fn keys, void *keys_ctx,
                        const cm_aes *aes, const uint8_t *region_dek, size_t dek_len,
                        uint8_t *out, size_t cap, size_t *out_len, mt_manifest_report *r)
{
    cm_keyset ks;
    uint8_t ksd[CM_KEYSET_DATA_MAX];
    size_t ksd_len;
    size_t expect;
    cm_tlv_writer w;
    int rc;

    if (m == NULL || !m->checked || keys == NULL || aes == NULL || region_dek == NULL || out == NULL || out_len == NULL ||
        !cm_aes_valid_key_len(dek_len))
        return MT_MANIFEST_E_PARAM;
    *out_len = 0;
    memset(&ks, 0, sizeof ks);

    if (keys(keys_ctx, m->key_set, &ks) != 0) {
        mf_problem_at(r, m->key_set_line, m->key_set_column, "key_set: no key set \"%s\" in the key store",
                      m->key_set);
        rc = MT_MANIFEST_E_KEY;
        goto done;
    }
    if (!cm_aes_valid_key_len(ks.key_len)) {
        mf_problem_at(r, m->key_set_line, m->key_set_column,
                      "key_set: key set \"%s\" has %u-byte keys; AES keys are 16, 24 or 32 bytes", m->key_set,
                      (unsigned)ks.key_len);
        rc = MT_MANIFEST_E_KEY;
        goto done;
    }
    if (ks.kvn < 0x01 || ks.kvn > 0x7F) {
        mf_problem_at(r, m->key_set_line, m->key_set_column,
                      "key_set: key set \"%s\" has KVN %02X; an AP key set has KVN 01 to 7F", m->key_set,
                      (unsigned)ks.kvn);
        rc = MT_MANIFEST_E_KEY;
        goto done;
    }
    if (cm_scp03_keyset_data(aes, region_dek, dek_len, &ks, ksd, sizeof ksd, &ksd_len) != CM_OK ||
        ksd_len != mf_keyset_data_size(ks.key_len)) {
        rc = MT_MANIFEST_E_CRYPTO;
        goto done;
    }
    expect = mt_manifest_image_size(m, ks.key_len);
    if (expect > MT_MANIFEST_MAX_IMAGE) {
        /* Unreachable for a manifest that passed the check. */
        mf_problem_at(r, 1, 1, "the AP image would be %zu bytes, more than %d", expect, MT_MANIFEST_MAX_IMAGE);
        rc = MT_MANIFEST_E_INVALID;
        goto done;
    }
    if (cap < expect) {
        rc = MT_MANIFEST_E_SPACE;
        goto done;
    }
    cm_tlv_writer_init(&w, out, cap);
    write_image(&w, m, ksd, ksd_len);
    if (w.error != 0) {
        rc = MT_MANIFEST_E_SPACE;
        goto done;
    }
    if (w.pos != expect) {
        /* The writer and the size arithmetic must agree, or the size check
         * means nothing. */
        rc = MT_MANIFEST_E_INTERNAL;
        goto done;
    }
    *out_len = w.pos;
    rc = MT_MANIFEST_OK;

done:
    cm_wipe(&ks, sizeof ks);
    cm_wipe(ksd, sizeof ksd);
    if (rc != MT_MANIFEST_OK)
        cm_wipe(out, cap);
    return rc;
}
