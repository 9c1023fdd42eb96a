/* card_setup.c: what the harness builds and sends to set a card up (see
 * card_harness.h): key set data per PROTOCOL.md §3 (keys wrapped with a
 * Key-DEK, KCVs), PUT KEY and AREA SETUP, the default test AP, AP images per
 * §6 written with common/'s BER-TLV writer, and their loading in LOAD AP
 * blocks (optionally ISO-chained). */
#include "card_harness.h"

#include <string.h>

#include "cm_ct.h"
#include "cm_err.h"
#include "cm_tlv.h"

/* ------------------------------------------------------- key set data -- */

size_t ch_keyset_data(ch_card *c, const uint8_t *dek, size_t dek_len, const cm_keyset *nks,
                      uint8_t *out, size_t cap)
{
    size_t n = 0;

    if (cm_scp03_keyset_data(&c->aes, dek, dek_len, nks, out, cap, &n) != CM_OK)
        return 0;
    return n;
}

uint16_t ch_put_key(ch_card *c, uint8_t old_kvn, const cm_keyset *nks, ch_rsp *rsp)
{
    uint8_t data[160], apdu[200];
    size_t dn = ch_keyset_data(c, c->chan_keys.dek, c->chan_keys.key_len, nks, data, sizeof(data));
    size_t n;

    if (dn == 0)
        return CH_SW_HARNESS;
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xD8, old_kvn, 0x81, data, dn, 256);
    cm_wipe(data, sizeof(data));
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_cmd(c, apdu, n, rsp);
}

void ch_put_key_expected(ch_card *c, const cm_keyset *nks, uint8_t out[10])
{
    out[0] = nks->kvn;
    if (cm_kcv(&c->aes, nks->enc, nks->key_len, out + 1) != CM_OK ||
        cm_kcv(&c->aes, nks->mac, nks->key_len, out + 4) != CM_OK ||
        cm_kcv(&c->aes, nks->dek, nks->key_len, out + 7) != CM_OK)
        memset(out, 0, 10);
}

uint16_t ch_area_setup(ch_card *c, const cm_keyset *region)
{
    cm_keyset tk;
    uint16_t sw;

    ch_transport_keys(&tk);
    sw = ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0xFF, &tk, 0x33);
    if (sw != 0x9000)
        return sw;
    return ch_put_key(c, 0xFF, region, NULL);
}

int ch_init_active(ch_card *c)
{
    cm_keyset rk;

    if (ch_init(c, 0) != 0)
        return -1;
    ch_region_keys(&rk);
    return ch_area_setup(c, &rk) == 0x9000 ? 0 : -1;
}

uint16_t ch_open_am(ch_card *c)
{
    cm_keyset rk;

    ch_region_keys(&rk);
    return ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0x00, &rk, 0x33);
}

/* ---------------------------------------------------------- AP images -- */

void ch_ap_default(ch_ap *ap, unsigned idx)
{
    static uint8_t content1[64];
    static const uint8_t content2[32] = "secret of the resident.........";
    static uint8_t content3[16];
    ch_ef *e;

    for (unsigned i = 0; i < sizeof(content1); i++)
        content1[i] = (uint8_t)i;
    memset(content3, 0xAA, sizeof(content3));
    memset(ap, 0, sizeof(*ap));
    ap->aid[0] = 0xD3;
    ap->aid[1] = 0x92;
    ap->aid[2] = 0x10;
    ap->aid[3] = 0x00;
    ap->aid[4] = (uint8_t)idx;
    ap->aid_len = 5;
    ap->max_tries = 3;
    ap->min_len = 4;
    ap->max_len = 8;
    ap->initial_pin = "1234";
    ch_make_keys(&ap->keys, (uint8_t)(0x30 + idx), (uint8_t)(0xA0 + idx * 3), 16);
    ap->min_level = -1;

    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0101, .sfi = 1, .type = CH_EF_TRANSPARENT, .size = 64,
                 .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM,
                 .content = content1, .content_len = sizeof(content1)};
    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0102, .sfi = 2, .type = CH_EF_TRANSPARENT, .size = 32,
                 .read_rule = CH_RULE_PIN, .write_rule = CH_RULE_PIN,
                 .content = content2, .content_len = sizeof(content2)};
    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0103, .sfi = 3, .type = CH_EF_TRANSPARENT, .size = 16,
                 .read_rule = CH_RULE_SM, .write_rule = CH_RULE_NEVER,
                 .content = content3, .content_len = sizeof(content3)};
    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0201, .sfi = 4, .type = CH_EF_LINEAR, .rec_len = 16, .rec_count = 3,
                 .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0301, .sfi = 5, .type = CH_EF_CYCLIC, .rec_len = 8, .rec_count = 3,
                 .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM};
    e = &ap->efs[ap->n_efs++];
    *e = (ch_ef){.fid = 0x0202, .sfi = 6, .type = CH_EF_LINEAR, .rec_len = 10, .rec_count = 2,
                 .read_rule = CH_RULE_PIN, .write_rule = CH_RULE_PIN};
}

size_t ch_build_image(ch_card *c, const uint8_t *region_dek, size_t dek_len, const ch_ap *ap,
                      uint8_t *out, size_t cap)
{
    cm_tlv_writer w;
    uint8_t ksd[160];
    size_t ksn, m;

    ksn = ch_keyset_data(c, region_dek, dek_len, &ap->keys, ksd, sizeof(ksd));
    if (ksn == 0)
        return 0;
    cm_tlv_writer_init(&w, out, cap);
    cm_tlv_put(&w, 0x4F, ap->aid, ap->aid_len);
    m = cm_tlv_open(&w, 0xA0);
    cm_tlv_put_u8(&w, 0x80, ap->max_tries);
    cm_tlv_put_u8(&w, 0x81, ap->min_len);
    cm_tlv_put_u8(&w, 0x82, ap->max_len);
    if (ap->initial_pin)
        cm_tlv_put(&w, 0x83, (const uint8_t *)ap->initial_pin, strlen(ap->initial_pin));
    cm_tlv_close(&w, m);
    cm_tlv_put(&w, 0xA1, ksd, ksn);
    cm_wipe(ksd, sizeof(ksd));
    if (ap->min_level >= 0) {
        m = cm_tlv_open(&w, 0xA2);
        cm_tlv_put_u8(&w, 0x80, (uint8_t)ap->min_level);
        cm_tlv_close(&w, m);
    }
    for (size_t i = 0; i < ap->n_efs; i++) {
        const ch_ef *e = &ap->efs[i];
        m = cm_tlv_open(&w, 0xA3);
        cm_tlv_put_u16(&w, 0x83, e->fid);
        if (e->sfi)
            cm_tlv_put_u8(&w, 0x88, e->sfi);
        cm_tlv_put_u8(&w, 0x82, e->type);
        if (e->type == CH_EF_TRANSPARENT) {
            cm_tlv_put_u16(&w, 0x80, e->size);
        } else {
            cm_tlv_put_u8(&w, 0x84, e->rec_len);
            cm_tlv_put_u8(&w, 0x85, e->rec_count);
        }
        cm_tlv_put_u8(&w, 0x86, e->read_rule);
        cm_tlv_put_u8(&w, 0x87, e->write_rule);
        if (e->content)
            cm_tlv_put(&w, 0x53, e->content, e->content_len);
        cm_tlv_close(&w, m);
    }
    return w.error ? 0 : w.pos;
}

uint16_t ch_load_image(ch_card *c, const uint8_t *img, size_t len, size_t block, size_t seg)
{
    static uint8_t apdu[CH_IMAGE_MAX + 64];
    size_t nblocks = (len + block - 1) / block;
    uint16_t sw = CH_SW_HARNESS;

    if (block == 0 || nblocks == 0 || nblocks > 256)
        return CH_SW_HARNESS;
    for (size_t i = 0; i < nblocks; i++) {
        size_t off = i * block;
        size_t n = len - off < block ? len - off : block;
        bool last = i + 1 == nblocks;
        size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, last ? 0x80 : 0x00, (uint8_t)i,
                            img + off, n, -1);
        if (an == 0)
            return CH_SW_HARNESS;
        sw = seg ? ch_cmd_chained(c, apdu, an, seg, NULL) : ch_cmd(c, apdu, an, NULL);
        if (sw != 0x9000)
            return sw;
    }
    return sw;
}

uint16_t ch_load_ap(ch_card *c, const ch_ap *ap)
{
    static uint8_t img[CH_IMAGE_MAX];
    cm_keyset rk;
    size_t n;

    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, ap, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_load_image(c, img, n, n > 2048 ? 2048 : n, 0);
}

uint16_t ch_open_ap(ch_card *c, const ch_ap *ap, uint8_t level)
{
    return ch_open(c, ap->aid, ap->aid_len, 0x00, &ap->keys, level);
}

uint16_t ch_verify(ch_card *c, const char *pin)
{
    uint8_t apdu[64];
    size_t n;

    if (!pin)
        n = ch_apdu(apdu, sizeof(apdu), 0x00, 0x20, 0x00, 0x81, NULL, 0, -1);
    else
        n = ch_apdu(apdu, sizeof(apdu), 0x00, 0x20, 0x00, 0x81, (const uint8_t *)pin,
                    strlen(pin), -1);
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_cmd(c, apdu, n, NULL);
}
