/* stress_card.c: what every stress card carries and how the stress test
 * reaches it: fixed test keys, the AP image, connections through libmnap's
 * PC/SC transport, and the one-time preparation of a blank card (area setup
 * with the transport keys, AP load).  Error names for the report live here
 * too. */
#include <stdio.h>
#include <string.h>

#include "stress.h"

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i * 7u);
}

int st_transport_keys(mnap_keyset *ks)
{
    uint8_t k[16];
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = (uint8_t)(0x40 + i);   /* the simulator's transport key set */
    return mnap_keyset_set(ks, 0xFF, k, k, k, sizeof k, 0) == MNAP_OK ? 0 : -1;
}

/* Master keys: the library diversifies them per card, as a real terminal
 * would, so the stress run exercises the KDF on every session too. */
int st_region_keys(mnap_keyset *ks)
{
    uint8_t e[16], m[16], d[16];
    fill(e, 16, 0x11);
    fill(m, 16, 0x22);
    fill(d, 16, 0x33);
    return mnap_keyset_set(ks, 0x01, e, m, d, 16, 1) == MNAP_OK ? 0 : -1;
}

int st_ap_keys(mnap_keyset *ks, unsigned idx)
{
    uint8_t e[16], m[16], d[16];
    fill(e, 16, (uint8_t)(0x61 + idx));
    fill(m, 16, (uint8_t)(0x72 + idx));
    fill(d, 16, (uint8_t)(0x83 + idx));
    return mnap_keyset_set(ks, 0x01, e, m, d, 16, 1) == MNAP_OK ? 0 : -1;
}

void st_aid(unsigned idx, uint8_t aid[ST_AID_LEN])
{
    static const uint8_t base[ST_AID_LEN] = { 0xD3, 0x92, 0x10, 0x57, 0x52, 0x00 };
    memcpy(aid, base, ST_AID_LEN);
    aid[ST_AID_LEN - 1] = (uint8_t)idx;
}

void st_data_content(unsigned idx, uint8_t out[ST_DATA_SIZE])
{
    for (size_t i = 0; i < ST_DATA_SIZE; i++)
        out[i] = (uint8_t)(i * 5u + idx * 31u);
}

/* --- a minimal BER-TLV writer (one-byte tags, lengths below 0x100) ------- */

typedef struct tbuf {
    uint8_t *p;
    size_t n, cap;
    int over;
} tbuf;

static void tput(tbuf *t, unsigned tag, const void *v, size_t len)
{
    size_t need = 2 + (len >= 0x80 ? 1 : 0) + len;
    if (t->over || len > 0xFF || t->n + need > t->cap) {
        t->over = 1;
        return;
    }
    t->p[t->n++] = (uint8_t)tag;
    if (len >= 0x80)
        t->p[t->n++] = 0x81;
    t->p[t->n++] = (uint8_t)len;
    memcpy(t->p + t->n, v, len);
    t->n += len;
}

static void tput_u8(tbuf *t, unsigned tag, uint8_t v)
{
    tput(t, tag, &v, 1);
}

static void tput_u16(tbuf *t, unsigned tag, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    tput(t, tag, b, 2);
}

/* The AP image without tag A1: mnap_area_load_ap adds the key set, wrapped
 * with the session's Key-DEK.  EF 0101 holds known bytes (read back by every
 * flow); EF 0201 is cyclic, so the appends of a long run never fill it. */
size_t st_build_image(unsigned idx, uint8_t *out, size_t cap)
{
    uint8_t aid[ST_AID_LEN], content[ST_DATA_SIZE];
    uint8_t polb[32], ef1b[160], ef2b[48];
    tbuf img = { out, 0, cap, 0 }, pol = { polb, 0, sizeof polb, 0 };
    tbuf ef1 = { ef1b, 0, sizeof ef1b, 0 }, ef2 = { ef2b, 0, sizeof ef2b, 0 };

    st_aid(idx, aid);
    st_data_content(idx, content);
    tput_u8(&pol, 0x80, ST_PIN_TRIES);
    tput_u8(&pol, 0x81, 4);
    tput_u8(&pol, 0x82, 8);
    tput(&pol, 0x83, ST_PIN, strlen(ST_PIN));

    tput_u16(&ef1, 0x83, ST_EF_DATA);
    tput_u8(&ef1, 0x88, 1);
    tput_u8(&ef1, 0x82, 0x01);
    tput_u16(&ef1, 0x80, ST_DATA_SIZE);
    tput_u8(&ef1, 0x86, 0x00);
    tput_u8(&ef1, 0x87, 0x00);
    tput(&ef1, 0x53, content, sizeof content);

    tput_u16(&ef2, 0x83, ST_EF_LOG);
    tput_u8(&ef2, 0x88, 2);
    tput_u8(&ef2, 0x82, 0x06);
    tput_u8(&ef2, 0x84, ST_REC_LEN);
    tput_u8(&ef2, 0x85, ST_REC_COUNT);
    tput_u8(&ef2, 0x86, 0x00);
    tput_u8(&ef2, 0x87, 0x01);

    tput(&img, 0x4F, aid, sizeof aid);
    tput(&img, 0xA0, pol.p, pol.n);
    tput(&img, 0xA3, ef1.p, ef1.n);
    tput(&img, 0xA3, ef2.p, ef2.n);
    if (img.over || pol.over || ef1.over || ef2.over)
        return 0;
    return img.n;
}

/* --- connections ----------------------------------------------------------- */

mnap_err st_conn_open(st_conn *c, const char *reader)
{
    mnap_err e;
    mnap_transport t;

    memset(c, 0, sizeof *c);
    e = mnap_pcsc_new(&c->pcsc);
    if (e != MNAP_OK)
        return e;
    e = mnap_pcsc_connect(c->pcsc, reader);
    if (e == MNAP_OK) {
        t = mnap_pcsc_transport(c->pcsc);
        e = mnap_ctx_new(&c->ctx, &t);
    }
    if (e != MNAP_OK)
        st_conn_close(c);
    return e;
}

void st_conn_close(st_conn *c)
{
    if (c->ctx != NULL)
        mnap_ctx_free(c->ctx);
    if (c->pcsc != NULL)
        mnap_pcsc_free(c->pcsc);
    memset(c, 0, sizeof *c);
}

mnap_err st_open_am(st_conn *c)
{
    mnap_keyset ks;
    mnap_err e;
    if (st_region_keys(&ks) != 0)
        return MNAP_E_PARAM;
    e = mnap_am_open(c->ctx, &ks, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&ks);
    return e;
}

mnap_err st_open_ap(st_conn *c, unsigned idx)
{
    mnap_keyset ks;
    uint8_t aid[ST_AID_LEN];
    mnap_err e;
    if (st_ap_keys(&ks, idx) != 0)
        return MNAP_E_PARAM;
    st_aid(idx, aid);
    e = mnap_ap_open(c->ctx, aid, sizeof aid, &ks, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&ks);
    return e;
}

/* Area setup with the transport keys, then the AP; a step that fails is
 * reported by name. */
mnap_err st_prepare(const char *reader, unsigned idx)
{
    st_conn c;
    mnap_keyset tk, rk, ak;
    uint8_t img[512];
    size_t n = st_build_image(idx, img, sizeof img);
    mnap_err e = MNAP_E_PARAM;

    if (n == 0 || st_transport_keys(&tk) != 0 || st_region_keys(&rk) != 0 ||
        st_ap_keys(&ak, idx) != 0)
        return MNAP_E_PARAM;
    e = st_conn_open(&c, reader);
    if (e == MNAP_OK)
        e = mnap_am_open(c.ctx, &tk, MNAP_LEVEL_FULL);
    if (e == MNAP_OK)
        e = mnap_area_setup(c.ctx, &rk);
    if (e == MNAP_OK)
        e = st_open_am(&c);
    if (e == MNAP_OK)
        e = mnap_area_load_ap(c.ctx, img, n, &ak, NULL);
    if (e == MNAP_OK)
        e = mnap_close(c.ctx);
    if (e != MNAP_OK)
        fprintf(stderr, "stress: preparing card %u on '%s': %s\n", idx, reader, st_err_name(e));
    st_conn_close(&c);
    mnap_keyset_wipe(&tk);
    mnap_keyset_wipe(&rk);
    mnap_keyset_wipe(&ak);
    return e;
}

/* --- error names ------------------------------------------------------------ */

const char *st_err_name(mnap_err e)
{
    const char *n = mnap_err_name(e);
    return n != NULL ? n : "(unnamed)";
}

/* MNAP_E_TRANSPORT ("unclassified PC/SC error") and MNAP_E_CARD_STATUS (a
 * status word PROTOCOL.md does not define) are the library's catch-alls: a
 * failure reported with them has not been named, and neither has a value
 * outside the enum. */
int st_err_is_named(mnap_err e)
{
    if (e == MNAP_E_TRANSPORT || e == MNAP_E_CARD_STATUS)
        return 0;
    return strcmp(st_err_name(e), "(unnamed)") != 0;
}
