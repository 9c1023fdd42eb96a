/* card_harness.c: the in-process test card and the test-side SCP03 host
 * (see card_harness.h): card life, APDU sending (wrapping, 61xx / GET
 * RESPONSE, chaining), selection and channel opening, state snapshots.  Host
 * crypto comes only from common/ over OpenSSL's AES block
 * (mc_sim_openssl_aes), the same way the host library does it.  Key set data,
 * area setup and AP images are in card_setup.c. */
#include "card_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_apdu.h"
#include "cm_ct.h"
#include "cm_err.h"
#include "cm_tlv.h"

#if defined(__has_include)
#if __has_include("mc_debug.h")
#include "mc_debug.h"
#define CH_HAVE_DEBUG_DUMP 1
#endif
#endif

const uint8_t ch_am_aid[CH_AM_AID_LEN] = {0xF0, 0x4D, 0x4E, 0x41, 0x50, 0x41, 0x4D};
const uint8_t ch_serial[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
const uint8_t ch_family[2] = {0x00, 0x01};
const uint8_t ch_div_data[10] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x01};

/* ---------------------------------------------------------------- keys -- */

void ch_transport_keys(cm_keyset *ks)
{
    memset(ks, 0, sizeof(*ks));
    for (unsigned i = 0; i < 16; i++) {
        ks->enc[i] = (uint8_t)(0x40 + i);
        ks->mac[i] = (uint8_t)(0x40 + i);
        ks->dek[i] = (uint8_t)(0x40 + i);
    }
    ks->key_len = 16;
    ks->kvn = 0xFF;
}

void ch_make_keys(cm_keyset *ks, uint8_t kvn, uint8_t seed, uint8_t key_len)
{
    memset(ks, 0, sizeof(*ks));
    for (unsigned i = 0; i < CM_SCP03_MAX_KEY; i++) {
        ks->enc[i] = (uint8_t)(seed + i);
        ks->mac[i] = (uint8_t)(seed + 0x40 + i);
        ks->dek[i] = (uint8_t)(seed + 0x80 + i);
    }
    ks->key_len = key_len;
    ks->kvn = kvn;
}

void ch_region_keys(cm_keyset *ks)
{
    ch_make_keys(ks, 0x01, 0x10, 16);
}

/* ---------------------------------------------------------------- life -- */

int ch_init(ch_card *c, uint32_t nvm_size)
{
    static const uint8_t seed[16] = {'m', 'n', 'a', 'p', '-', 't', 'e', 's', 't'};
    cm_keyset tk;

    mc_simcard_make mk;
    int rc;

    memset(c, 0, sizeof(*c));
    c->aes.fn = mc_sim_openssl_aes;
    c->aes.ctx = NULL;
    ch_transport_keys(&tk);
    memset(&mk, 0, sizeof(mk));
    mk.serial = ch_serial;
    mk.family = ch_family;
    mk.enc = tk.enc;
    mk.mac = tk.mac;
    mk.dek = tk.dek;
    mk.key_len = tk.key_len;
    mk.det_seed = seed;
    rc = mc_simcard_new_mem(&c->sc, nvm_size, &mk, NULL);
    cm_wipe(&tk, sizeof(tk));
    return rc == 0 ? 0 : -1;
}

void ch_free(ch_card *c)
{
    /* Tests power the card on and off directly too: off, whatever the
     * holder last saw. */
    mc_power_off(&c->sc.card);
    c->sc.powered = false;
    mc_simcard_close(&c->sc);
    cm_scp03_close(&c->scp);
    memset(c, 0, sizeof(*c));
}

void ch_forget(ch_card *c)
{
    c->chan_open = false;
    c->iu_pending = false;
}

mc_status ch_power_cycle(ch_card *c)
{
    mc_power_off(&c->sc.card);
    mc_sim_power_restore(&c->sc.sim);
    ch_forget(c);
    c->selected_aid_len = 0;
    return mc_power_on(&c->sc.card, &c->sc.sim);
}

mc_status ch_restart(ch_card *c)
{
    mc_power_off(&c->sc.card);
    ch_forget(c);
    c->selected_aid_len = 0;
    return mc_power_on(&c->sc.card, &c->sc.sim);
}

mc_status ch_clone(ch_card *dst, const ch_card *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->aes.fn = mc_sim_openssl_aes;
    dst->aes.ctx = NULL;
    dst->challenge_counter = src->challenge_counter + 0x10000;
    return mc_simcard_clone_mem(&dst->sc, &src->sc);
}

void ch_reset(ch_card *c)
{
    mc_reset(&c->sc.card);
    ch_forget(c);
    c->selected_aid_len = 0;
}

/* ----------------------------------------------------------- raw APDUs -- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

size_t ch_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (; *hex; hex++) {
        int v;
        if (*hex == ' ' || *hex == '\n' || *hex == '\t' || *hex == '|')
            continue;
        v = hexval(*hex);
        if (v < 0)
            return (size_t)-1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap)
                return (size_t)-1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? n : (size_t)-1;
}

size_t ch_apdu(uint8_t *out, size_t cap, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
               const uint8_t *data, size_t data_len, long le)
{
    cm_apdu a;

    if (cap < 4 + 3 + data_len + 3 || data_len > 65535 || le > 65536)
        return 0;
    memset(&a, 0, sizeof(a));
    a.cla = cla;
    a.ins = ins;
    a.p1 = p1;
    a.p2 = p2;
    a.data = data;
    a.nc = data_len;
    /* le < 0: no Le field; 0: Le 00 (or 00 00 when extended), the maximum. */
    a.ne = le < 0 ? 0 : le > 0 ? (size_t)le : data_len > 255 ? 65536 : 256;
    return cm_apdu_encode(&a, out, cap);
}

/* What the card does to its channel on this command, mirrored on the host:
 * SELECT by AID and INITIALIZE UPDATE end it (PROTOCOL.md §2, §3). */
static void host_track(ch_card *c, const uint8_t *apdu, size_t len)
{
    if (len < 4)
        return;
    if (apdu[1] == 0xA4 && apdu[2] == 0x04)
        ch_forget(c);
    if (apdu[1] == 0x50 && (apdu[0] & 0x04) == 0)
        ch_forget(c);
}

uint16_t ch_raw(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp)
{
    static uint8_t buf[MC_RSP_BUF_SIZE + 64];
    size_t n;
    uint16_t sw;

    host_track(c, apdu, len);
    n = mc_process(&c->sc.card, apdu, len, buf, sizeof(buf));
    if (rsp) {
        rsp->len = 0;
        rsp->raw_len = 0;
        rsp->sw = CH_SW_MUTE;
    }
    if (n == 0)
        return CH_SW_MUTE;
    if (n < 2 || n - 2 > CH_RSP_MAX)
        return CH_SW_HARNESS;
    sw = (uint16_t)(buf[n - 2] << 8 | buf[n - 1]);
    if (rsp) {
        memcpy(rsp->data, buf, n - 2);
        rsp->len = n - 2;
        rsp->raw_len = n - 2;
        rsp->sw = sw;
    }
    /* A successful SELECT by AID changes what is selected; a failed one leaves
     * the previous application selected (PROTOCOL.md §2).  Lc short or
     * extended.  Over T=0 success may be 61xx (the FCI by GET RESPONSE). */
    if (len > 5 && apdu[1] == 0xA4 && apdu[2] == 0x04 &&
        (sw == 0x9000 || (sw & 0xFF00) == 0x6100)) {
        cm_apdu a;
        if (cm_apdu_parse(apdu, len, &a) == CM_OK && a.nc >= 5 && a.nc <= 16) {
            memcpy(c->selected_aid, a.data, a.nc);
            c->selected_aid_len = a.nc;
        }
    }
    /* SELECT with no AID selects the default application, the AM (§2). */
    if ((len == 4 || len == 5) && apdu[1] == 0xA4 && apdu[2] == 0x04 && sw == 0x9000) {
        memcpy(c->selected_aid, ch_am_aid, CH_AM_AID_LEN);
        c->selected_aid_len = CH_AM_AID_LEN;
    }
    return sw;
}

uint16_t ch_rawx(ch_card *c, const char *hex, ch_rsp *rsp)
{
    uint8_t apdu[MC_CMD_BUF_SIZE + 64];
    size_t n = ch_hex(hex, apdu, sizeof(apdu));

    if (n == (size_t)-1)
        return CH_SW_HARNESS;
    return ch_raw(c, apdu, n, rsp);
}

static bool sw_has_rmac(uint16_t sw)
{
    return sw == 0x9000 || (sw & 0xFF00) == 0x6200 || (sw & 0xFF00) == 0x6300;
}

/* Unwraps a final response in rsp when the host has a channel whose level
 * protects responses. */
static uint16_t unwrap_final(ch_card *c, bool was_open, ch_rsp *rsp)
{
    size_t plain = 0;

    if (!was_open || !(c->scp.level & CM_SL_RMAC) || !sw_has_rmac(rsp->sw))
        return rsp->sw;
    if (cm_scp03_unwrap_response(&c->scp, rsp->data, rsp->len, rsp->sw, &plain) != CM_OK)
        return CH_SW_RMAC;
    rsp->len = plain;
    return rsp->sw;
}

static uint16_t send_maybe_wrapped(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp,
                                   bool *was_open)
{
    static uint8_t wbuf[MC_CMD_BUF_SIZE + CH_IMAGE_MAX + 64];
    size_t wlen = 0;

    *was_open = c->chan_open;
    if (!c->chan_open)
        return ch_raw(c, apdu, len, rsp);
    if (cm_scp03_wrap_command(&c->scp, apdu, len, wbuf, sizeof(wbuf), &wlen) != CM_OK)
        return CH_SW_HARNESS;
    return ch_raw(c, wbuf, wlen, rsp);
}

/* GET RESPONSE until the card has nothing more: never wrapped (§3). */
static uint16_t get_responses(ch_card *c, ch_rsp *rsp)
{
    static ch_rsp part;

    while ((rsp->sw & 0xFF00) == 0x6100) {
        uint8_t gr[5] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)(rsp->sw & 0xFF)};
        uint16_t sw = ch_raw(c, gr, sizeof(gr), &part);
        if (sw == CH_SW_MUTE)
            return sw;
        if (rsp->len + part.len > CH_RSP_MAX)
            return CH_SW_HARNESS;
        memcpy(rsp->data + rsp->len, part.data, part.len);
        rsp->len += part.len;
        rsp->raw_len = rsp->len;
        rsp->sw = sw;
    }
    return rsp->sw;
}

uint16_t ch_cmd_nogr(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp)
{
    static ch_rsp local;
    bool was_open;
    uint16_t sw;

    if (!rsp)
        rsp = &local;
    sw = send_maybe_wrapped(c, apdu, len, rsp, &was_open);
    if (sw == CH_SW_MUTE || sw == CH_SW_HARNESS)
        return sw;
    if (sw == 0x6988)
        ch_forget(c);   /* the card closed the channel (§3) */
    if ((sw & 0xFF00) == 0x6100)
        return sw;
    return unwrap_final(c, was_open && c->chan_open, rsp);
}

uint16_t ch_cmd(ch_card *c, const uint8_t *apdu, size_t len, ch_rsp *rsp)
{
    static ch_rsp local;
    bool was_open;
    uint16_t sw;

    if (!rsp)
        rsp = &local;
    sw = send_maybe_wrapped(c, apdu, len, rsp, &was_open);
    if (sw == CH_SW_MUTE || sw == CH_SW_HARNESS)
        return sw;
    if (sw == 0x6988)
        ch_forget(c);
    sw = get_responses(c, rsp);
    if (sw == CH_SW_MUTE || sw == CH_SW_HARNESS)
        return sw;
    return unwrap_final(c, was_open && c->chan_open, rsp);
}

uint16_t ch_cmdx(ch_card *c, const char *hex, ch_rsp *rsp)
{
    static uint8_t apdu[MC_CMD_BUF_SIZE + 64];
    size_t n = ch_hex(hex, apdu, sizeof(apdu));

    if (n == (size_t)-1)
        return CH_SW_HARNESS;
    return ch_cmd(c, apdu, n, rsp);
}

uint16_t ch_cmdf(ch_card *c, ch_rsp *rsp, const char *fmt, ...)
{
    static char hex[2 * (MC_CMD_BUF_SIZE + 64)];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(hex, sizeof(hex), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(hex))
        return CH_SW_HARNESS;
    return ch_cmdx(c, hex, rsp);
}

uint16_t ch_cmdl(ch_card *c, ch_rsp *rsp, const char *hdr_hex, const char *data_hex, long le)
{
    static uint8_t data[MC_CMD_BUF_SIZE], apdu[MC_CMD_BUF_SIZE + 16];
    uint8_t hdr[4];
    size_t dn, n;

    if (ch_hex(hdr_hex, hdr, sizeof(hdr)) != 4)
        return CH_SW_HARNESS;
    dn = ch_hex(data_hex, data, sizeof(data));
    if (dn == (size_t)-1)
        return CH_SW_HARNESS;
    n = ch_apdu(apdu, sizeof(apdu), hdr[0], hdr[1], hdr[2], hdr[3], data, dn, le);
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_cmd(c, apdu, n, rsp);
}

uint16_t ch_cmd_chained(ch_card *c, const uint8_t *apdu, size_t len, size_t seg, ch_rsp *rsp)
{
    static uint8_t wbuf[CH_IMAGE_MAX + 4096];
    static uint8_t sbuf[CH_IMAGE_MAX + 4096];
    static ch_rsp local;
    const uint8_t *w;
    size_t wlen, dlen, doff, off;
    long le = -1;
    cm_apdu v;
    bool was_open = c->chan_open;

    if (!rsp)
        rsp = &local;
    if (seg == 0 || len < 4)
        return CH_SW_HARNESS;
    if (c->chan_open) {
        if (cm_scp03_wrap_command(&c->scp, apdu, len, wbuf, sizeof(wbuf), &wlen) != CM_OK)
            return CH_SW_HARNESS;
        w = wbuf;
    } else {
        w = apdu;
        wlen = len;
    }
    /* Parse the (wrapped) APDU: it must carry data to chain. */
    if (cm_apdu_parse(w, wlen, &v) != CM_OK || v.nc == 0)
        return CH_SW_HARNESS;
    dlen = v.nc;
    doff = cm_apdu_head_len(&v);
    if (v.ne)
        le = (long)v.ne;
    for (off = 0;;) {
        size_t n = dlen - off < seg ? dlen - off : seg;
        bool last = off + n == dlen;
        size_t slen = ch_apdu(sbuf, sizeof(sbuf), (uint8_t)(last ? w[0] : (w[0] | 0x10)), w[1],
                              w[2], w[3], w + doff + off, n, last ? le : -1);
        uint16_t sw;

        if (slen == 0)
            return CH_SW_HARNESS;
        sw = ch_raw(c, sbuf, slen, rsp);
        off += n;
        if (!last) {
            if (sw != 0x9000 || rsp->len != 0)
                return sw;
            continue;
        }
        if (sw == CH_SW_MUTE || sw == CH_SW_HARNESS)
            return sw;
        if (sw == 0x6988)
            ch_forget(c);
        sw = get_responses(c, rsp);
        if (sw == CH_SW_MUTE || sw == CH_SW_HARNESS)
            return sw;
        return unwrap_final(c, was_open && c->chan_open, rsp);
    }
}

/* ------------------------------------------------ selection and channel -- */

uint16_t ch_select(ch_card *c, const uint8_t *aid, size_t aid_len, ch_rsp *rsp)
{
    static ch_rsp local;
    uint8_t apdu[32];
    size_t n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xA4, 0x04, 0x00, aid, aid_len, 256);
    uint16_t sw;

    if (n == 0)
        return CH_SW_HARNESS;
    if (!rsp)
        rsp = &local;
    sw = ch_raw(c, apdu, n, rsp);
    /* Over T=0 a case-4 answer comes by GET RESPONSE (§10). */
    return (sw & 0xFF00) == 0x6100 ? get_responses(c, rsp) : sw;
}

uint16_t ch_select_am(ch_card *c)
{
    return ch_select(c, ch_am_aid, sizeof(ch_am_aid), NULL);
}

uint16_t ch_initialize_update(ch_card *c, uint8_t kvn, const cm_keyset *keys, ch_rsp *rsp)
{
    static ch_rsp local;
    uint8_t apdu[14] = {0x80, 0x50, kvn, 0x00, 0x08};
    uint8_t expect[8], crypt[8];
    const uint8_t *d;
    uint16_t sw;

    if (!rsp)
        rsp = &local;
    c->challenge_counter++;
    for (unsigned i = 0; i < 8; i++)
        c->host_challenge[i] = (uint8_t)((c->challenge_counter >> (8 * (i % 4))) ^ (0x5A + i));
    memcpy(apdu + 5, c->host_challenge, 8);
    apdu[13] = 0x00;
    sw = ch_raw(c, apdu, sizeof(apdu), rsp);
    if ((sw & 0xFF00) == 0x6100)
        sw = get_responses(c, rsp);   /* T=0 (§10) */
    if (sw != 0x9000)
        return sw;
    if (rsp->len != 32)
        return CH_SW_HARNESS;
    d = rsp->data;
    if (memcmp(d, ch_div_data, 10) != 0 || d[11] != 0x03 || d[12] != 0x70)
        return CH_SW_HARNESS;
    if (kvn != 0 && d[10] != kvn)
        return CH_SW_HARNESS;
    c->iu_kvn = d[10];
    memcpy(c->card_challenge, d + 13, 8);
    memcpy(c->iu_seq, d + 29, 3);
    /* The pseudo-random card challenge is checkable by the host (§3). */
    if (cm_scp03_card_challenge(&c->aes, keys->enc, keys->key_len, c->iu_seq, c->selected_aid,
                                c->selected_aid_len, expect) != CM_OK)
        return CH_SW_HARNESS;
    if (!cm_ct_equal(expect, c->card_challenge, 8))
        return CH_SW_CRYPTO;
    if (cm_scp03_init(&c->scp, &c->aes, keys->enc, keys->mac, keys->key_len, c->host_challenge,
                      c->card_challenge) != CM_OK)
        return CH_SW_HARNESS;
    if (cm_scp03_cryptogram(&c->scp, CM_DC_CARD_CRYPTOGRAM, c->host_challenge, c->card_challenge,
                            crypt) != CM_OK)
        return CH_SW_HARNESS;
    if (!cm_ct_equal(crypt, d + 21, 8))
        return CH_SW_CRYPTO;
    c->chan_keys = *keys;
    c->iu_pending = true;
    return sw;
}

uint16_t ch_external_authenticate(ch_card *c, uint8_t level)
{
    uint8_t apdu[21] = {0x84, 0x82, level, 0x00, 0x10};
    uint8_t hcrypt[8];
    uint16_t sw;

    if (!c->iu_pending)
        return CH_SW_HARNESS;
    c->iu_pending = false;
    if (cm_scp03_cryptogram(&c->scp, CM_DC_HOST_CRYPTOGRAM, c->host_challenge, c->card_challenge,
                            hcrypt) != CM_OK)
        return CH_SW_HARNESS;
    if (cm_scp03_external_auth(&c->scp, level, hcrypt, apdu + 5) != CM_OK)
        return CH_SW_HARNESS;
    memcpy(c->last_ea, apdu, sizeof(apdu));
    sw = ch_raw(c, apdu, sizeof(apdu), NULL);
    if (sw == 0x9000)
        c->chan_open = true;
    return sw;
}

uint16_t ch_open(ch_card *c, const uint8_t *aid, size_t aid_len, uint8_t kvn,
                 const cm_keyset *keys, uint8_t level)
{
    uint16_t sw = ch_select(c, aid, aid_len, NULL);

    if (sw != 0x9000)
        return sw;
    sw = ch_initialize_update(c, kvn, keys, NULL);
    if (sw != 0x9000)
        return sw;
    return ch_external_authenticate(c, level);
}

uint32_t ch_last_seq(const ch_card *c)
{
    return (uint32_t)c->iu_seq[0] << 16 | (uint32_t)c->iu_seq[1] << 8 | c->iu_seq[2];
}

/* -------------------------------------------------------- TLV helpers -- */

const uint8_t *ch_tlv_find(const uint8_t *buf, size_t len, uint16_t tag, size_t *vlen)
{
    size_t pos = 0;

    while (pos < len) {
        uint16_t t = buf[pos++];
        size_t l;
        if ((t & 0x1F) == 0x1F) {
            if (pos >= len)
                return NULL;
            t = (uint16_t)(t << 8 | buf[pos++]);
        }
        if (pos >= len)
            return NULL;
        l = buf[pos++];
        if (l == 0x81) {
            if (pos >= len)
                return NULL;
            l = buf[pos++];
        } else if (l == 0x82) {
            if (pos + 1 >= len)
                return NULL;
            l = (size_t)buf[pos] << 8 | buf[pos + 1];
            pos += 2;
        } else if (l > 0x7F) {
            return NULL;
        }
        if (l > len - pos)
            return NULL;
        if (t == tag) {
            *vlen = l;
            return buf + pos;
        }
        pos += l;
    }
    return NULL;
}

/* ---------------------------------------------------------- snapshots -- */

uint8_t *ch_nvm_copy(const ch_card *c)
{
    uint8_t *p = malloc(c->sc.sim.nvm_size);

    if (p)
        memcpy(p, c->sc.sim.nvm, c->sc.sim.nvm_size);
    return p;
}

bool ch_nvm_equal(const ch_card *c, const uint8_t *copy)
{
    return memcmp(c->sc.sim.nvm, copy, c->sc.sim.nvm_size) == 0;
}

bool ch_have_debug_dump(void)
{
#ifdef CH_HAVE_DEBUG_DUMP
    return true;
#else
    return false;
#endif
}

uint8_t *ch_dump(ch_card *c, size_t *len)
{
#ifdef CH_HAVE_DEBUG_DUMP
    size_t cap = (size_t)c->sc.sim.nvm_size * 2 + 65536;
    uint8_t *p = malloc(cap);

    if (!p)
        return NULL;
    *len = mc_debug_dump(&c->sc.card, p, cap);
    return p;
#else
    *len = c->sc.sim.nvm_size;
    return ch_nvm_copy(c);
#endif
}
