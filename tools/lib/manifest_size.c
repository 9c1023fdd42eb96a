/* manifest_size.c: how many bytes each part of an AP image takes, so that a
 * manifest can be held to the 32 KiB image limit before any key is known, and
 * the writer's output can be checked against the same arithmetic. */
#include "cm_tlv.h"
#include "manifest_int.h"

size_t mf_tlv_size(size_t len)
{
    /* Every tag of an AP image is one byte: 4F stands for all of them. */
    return cm_tlv_header_len(0x4F, len) + len;
}

size_t mf_ef_tlv_size(const mt_manifest_ef *ef)
{
    size_t v = mf_tlv_size(2) + mf_tlv_size(1);            /* 83 FID, 82 type */
    if (ef->sfi != 0)
        v += mf_tlv_size(1);                                /* 88 SFI */
    if (ef->type == MNAP_EF_TRANSPARENT)
        v += mf_tlv_size(2);                                /* 80 size */
    else
        v += mf_tlv_size(1) + mf_tlv_size(1);               /* 84 length, 85 count */
    v += mf_tlv_size(1) + mf_tlv_size(1);                   /* 86 read, 87 write */
    if (ef->has_content && ef->content_len > 0)
        v += mf_tlv_size(ef->content_len);                  /* 53 content */
    return mf_tlv_size(v);
}

size_t mf_keyset_data_size(size_t key_len)
{
    /* AES-192 keys are padded to two blocks before wrapping (PROTOCOL.md §3). */
    size_t wrapped = key_len == 24 ? 32 : key_len;
    /* KVN, then per key: 88 Ll Lk E(key) 03 KCV. */
    return 1 + 3 * (1 + 1 + 1 + wrapped + 1 + 3);
}

size_t mf_head_size(const mt_manifest *m, size_t key_len)
{
    size_t pin = 3 * mf_tlv_size(1);
    size_t v = mf_tlv_size(m->aid_len);
    if (m->initial_pin_len > 0)
        pin += mf_tlv_size(m->initial_pin_len);
    v += mf_tlv_size(pin);
    v += mf_tlv_size(mf_keyset_data_size(key_len));
    if (m->has_min_level)
        v += mf_tlv_size(mf_tlv_size(1));
    return v;
}

size_t mt_manifest_image_size(const mt_manifest *m, size_t key_len)
{
    size_t v = mf_head_size(m, key_len);
    for (size_t i = 0; i < m->ef_count; i++)
        v += mf_ef_tlv_size(&m->efs[i]);
    return v;
}
