/* fuzz_puppet.c: the fuzz-driven card behind libmnap's transport interface
 * (see fuzz_puppet.h).  The honest card side is built on common/ (the same
 * SCP03 code the card runtime uses), with OpenSSL's AES block. */
#include "fuzz_puppet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_err.h"
#include "mc_sim.h"

#define BUF_CAP (65536u + 64u)

void fz_puppet_violation(const char *msg, const uint8_t *cmd, size_t len)
{
    fprintf(stderr, "\n*** host invariant violated: %s\n    command:", msg);
    for (size_t i = 0; cmd && i < len && i < 64; i++)
        fprintf(stderr, " %02X", cmd[i]);
    fprintf(stderr, "\n");
    abort();
}

void fz_puppet_init(fz_puppet *p, const uint8_t *in, size_t n, const cm_keyset *ks,
                    const uint8_t div[10])
{
    memset(p, 0, sizeof(*p));
    p->in = in;
    p->n = n;
    p->aes.fn = mnap_aes_block;
    p->keys = *ks;
    memcpy(p->div, div, 10);
    p->seq = 0x000100;
}

/* ISO 7816-3 cases 1-4, short and extended: the data field's place, or -1
 * when the bytes are not one well-formed command. */
static int parse_apdu(const uint8_t *c, size_t len, size_t *doff, size_t *dlen)
{
    *doff = 0;
    *dlen = 0;
    if (len < 4)
        return -1;
    if (len <= 5)
        return 0;                                   /* case 1, case 2 short */
    if (c[4] != 0) {
        *doff = 5;
        *dlen = c[4];
        return len == 5u + c[4] || len == 6u + c[4] ? 0 : -1;
    }
    if (len == 7)
        return 0;                                   /* case 2 extended */
    if (len < 7)
        return -1;
    *doff = 7;
    *dlen = (size_t)c[5] << 8 | c[6];
    if (*dlen == 0)
        return -1;
    return len == 7 + *dlen || len == 9 + *dlen ? 0 : -1;
}

static mnap_err put_rsp(const uint8_t *d, size_t n, uint16_t sw, uint8_t *rsp, size_t cap,
                        size_t *rsp_len)
{
    if (n + 2 > cap)
        return MNAP_E_BUFFER;
    if (n)
        memcpy(rsp, d, n);
    rsp[n] = (uint8_t)(sw >> 8);
    rsp[n + 1] = (uint8_t)sw;
    *rsp_len = n + 2;
    return MNAP_OK;
}

/* Splits an honest record into data and SW. */
static void split(const uint8_t *b, size_t bl, size_t *dl, uint16_t *sw)
{
    if (bl < 2) {
        *dl = bl;
        *sw = 0x9000;
    } else {
        *dl = bl - 2;
        *sw = (uint16_t)(b[bl - 2] << 8 | b[bl - 1]);
    }
}

static mnap_err honest_iu(fz_puppet *p, const uint8_t *cmd, size_t len, const uint8_t *b,
                          size_t bl, uint8_t *rsp, size_t cap, size_t *rsp_len)
{
    uint8_t r[32], sq[3];

    if (bl >= 2 && (b[0] & 1))
        return put_rsp(NULL, 0, (uint16_t)(b[bl - 2] << 8 | b[bl - 1]), rsp, cap, rsp_len);
    if (len < 13 || cmd[4] != 8)
        return put_rsp(NULL, 0, 0x6700, rsp, cap, rsp_len);
    p->seq++;
    sq[0] = (uint8_t)(p->seq >> 16);
    sq[1] = (uint8_t)(p->seq >> 8);
    sq[2] = (uint8_t)p->seq;
    memcpy(p->hc, cmd + 5, 8);
    if (cm_scp03_card_challenge(&p->aes, p->keys.enc, p->keys.key_len, sq, p->sel_aid,
                                p->sel_len, p->cc) != CM_OK ||
        cm_scp03_init(&p->scp, &p->aes, p->keys.enc, p->keys.mac, p->keys.key_len, p->hc,
                      p->cc) != CM_OK ||
        cm_scp03_cryptogram(&p->scp, CM_DC_CARD_CRYPTOGRAM, p->hc, p->cc, r + 21) != CM_OK)
        fz_puppet_violation("puppet: SCP03 set-up failed", cmd, len);
    memcpy(r, p->div, 10);
    r[10] = cmd[2] ? cmd[2] : p->keys.kvn;
    r[11] = 0x03;
    r[12] = 0x70;
    memcpy(r + 13, p->cc, 8);
    memcpy(r + 29, sq, 3);
    p->iu_pending = true;
    return put_rsp(r, sizeof(r), 0x9000, rsp, cap, rsp_len);
}

static mnap_err honest(fz_puppet *p, const uint8_t *cmd, size_t len, size_t doff, size_t dlen,
                       const uint8_t *b, size_t bl, uint8_t *rsp, size_t cap, size_t *rsp_len)
{
    static uint8_t buf[BUF_CAP];
    size_t dl, out = 0;
    uint16_t sw;

    if (cmd[1] == 0x50 && !(cmd[0] & 0x04))
        return honest_iu(p, cmd, len, b, bl, rsp, cap, rsp_len);
    if (cmd[0] == 0x84 && cmd[1] == 0x82) {
        bool ok = p->iu_pending && dlen == 16 &&
                  cm_scp03_verify_external_auth(&p->scp, cmd, cmd + doff, doff == 7) == CM_OK;
        p->iu_pending = false;
        p->open = ok;
        return put_rsp(NULL, 0, ok ? 0x9000 : 0x6300, rsp, cap, rsp_len);
    }
    split(b, bl, &dl, &sw);
    if (!p->open || !(cmd[0] & 0x04) || cmd[1] == 0xC0)
        return put_rsp(b, dl, sw, rsp, cap, rsp_len);
    /* A wrapped command was already unwrapped by transmit(); protect the
     * answer as the card would. */
    memcpy(buf, b, dl);
    if (cm_scp03_wrap_response(&p->scp, buf, dl, sizeof(buf), sw, &out) != CM_OK)
        return put_rsp(NULL, 0, 0x6F00, rsp, cap, rsp_len);
    return put_rsp(buf, out, sw, rsp, cap, rsp_len);
}

/* Appends the record used to rec (generator mode): kind, 2-byte length. */
static void record(fz_puppet *p, uint8_t kind, const uint8_t *b, size_t bl)
{
    if (p->rec == NULL || p->rec_len + 3 + bl > p->rec_cap)
        return;
    p->rec[p->rec_len++] = (uint8_t)(kind | 0x80);
    p->rec[p->rec_len++] = (uint8_t)(bl >> 8);
    p->rec[p->rec_len++] = (uint8_t)bl;
    memcpy(p->rec + p->rec_len, b, bl);
    p->rec_len += bl;
}

static mnap_err transmit(void *self, const uint8_t *cmd, size_t len, uint8_t *rsp,
                         size_t rsp_cap, size_t *rsp_len)
{
    static const mnap_err errs[6] = {MNAP_E_CARD_RESET, MNAP_E_CARD_REMOVED,
                                     MNAP_E_NO_SERVICE, MNAP_E_NOT_CONNECTED, MNAP_E_BUFFER,
                                     MNAP_E_TRANSPORT};
    static uint8_t data[BUF_CAP], chain[BUF_CAP], auto_body[4096];
    fz_puppet *p = self;
    size_t doff, dlen, bl, plain = 0;
    const uint8_t *b;
    uint8_t kind;
    bool wrapped, segment, unwrapped_ok = false;

    p->transmits++;
    if (cmd == NULL || rsp == NULL || rsp_len == NULL)
        fz_puppet_violation("the library sent a malformed command APDU", cmd, len);
    if (parse_apdu(cmd, len, &doff, &dlen) != 0) {
        /* The caller's raw bytes go out as they are (mnap_transmit): the
         * card answers a malformed command; nothing else may be one. */
        if (!p->raw_cmd)
            fz_puppet_violation("the library sent a malformed command APDU", cmd, len);
        doff = len;
        dlen = 0;
    }
    p->raw_cmd = false;
    if (p->pos + 2 <= p->n) {
        kind = p->in[p->pos++];
        bl = p->in[p->pos++];
        if ((kind & 0x80) && p->pos < p->n)
            bl = bl << 8 | p->in[p->pos++];
        if (bl > p->n - p->pos)
            bl = p->n - p->pos;
        b = p->in + p->pos;
        p->pos += bl;
    } else if (p->auto_answer != NULL) {
        kind = 0x80;
        bl = p->auto_answer(cmd, len, auto_body, sizeof(auto_body));
        b = auto_body;
    } else {
        return MNAP_E_CARD_REMOVED;
    }
    record(p, kind, b, bl);

    /* The card's own bookkeeping, whatever the answer: SELECT by AID and
     * INITIALIZE UPDATE end the channel; a wrapped command advances the MAC
     * chain when its C-MAC verifies (PROTOCOL.md §2, §3, §9). */
    wrapped = p->open && (cmd[0] & 0x04) && cmd[1] != 0x82;
    segment = wrapped && (cmd[0] & 0x10);
    if (segment) {
        /* Not the last segment: keep its data for the whole. */
        if (dlen <= sizeof(chain) - p->chain_len) {
            memcpy(chain + p->chain_len, cmd + doff, dlen);
            p->chain_len += dlen;
        }
        wrapped = false;
    } else if (cmd[1] == 0xA4 && cmd[2] == 0x04) {
        p->open = p->iu_pending = false;
        if (dlen <= sizeof(p->sel_aid)) {
            memcpy(p->sel_aid, cmd + doff, dlen);
            p->sel_len = dlen;
        }
    } else if (cmd[1] == 0x50 && !(cmd[0] & 0x04)) {
        p->open = p->iu_pending = false;
    } else if (wrapped) {
        /* A lone command, or the last segment: the whole is the segments'
         * data joined, MACed with this header (CLA without the chaining bit). */
        size_t whole = p->chain_len + dlen;
        if (whole <= sizeof(data)) {
            memcpy(data, chain, p->chain_len);
            memcpy(data + p->chain_len, cmd + doff, dlen);
            /* A chained command MACs the shortest Lc, a lone one its own (§3). */
            unwrapped_ok = cm_scp03_unwrap_command(&p->scp, cmd, data, whole,
                                                   p->chain_len == 0 && doff == 7,
                                                   &plain) == CM_OK;
        }
        if (!unwrapped_ok)
            p->open = false;
    }
    if (!segment)
        p->chain_len = 0;

    switch (kind & 3) {
    case 2:
        return errs[(bl ? b[0] : 0) % 6];
    case 1:
        if (bl < 2)
            return MNAP_E_TRANSPORT;
        if (cmd[1] == 0x50 && !(cmd[0] & 0x04))
            p->iu_raw = true;
        if (wrapped && (p->scp.level & CM_SL_RMAC)) {
            uint16_t sw = (uint16_t)(b[bl - 2] << 8 | b[bl - 1]);
            if (sw == 0x9000 || (sw & 0xFF00) == 0x6200 || (sw & 0xFF00) == 0x6300)
                p->forged++;
        }
        if (bl > rsp_cap)
            return MNAP_E_BUFFER;
        memcpy(rsp, b, bl);
        *rsp_len = bl;
        return MNAP_OK;
    default:
        if (segment)
            return put_rsp(NULL, 0, 0x9000, rsp, rsp_cap, rsp_len);
        if (cmd[1] == 0x50 && !(cmd[0] & 0x04))
            p->iu_raw = false;
        if (wrapped && !unwrapped_ok)
            return put_rsp(NULL, 0, 0x6988, rsp, rsp_cap, rsp_len);
        return honest(p, cmd, len, doff, dlen, b, bl, rsp, rsp_cap, rsp_len);
    }
}

static mnap_err reconnect(void *self)
{
    fz_puppet *p = self;

    p->open = p->iu_pending = false;
    p->sel_len = 0;
    return MNAP_OK;
}

static mnap_err atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    static const uint8_t a[] = {0x3B, 0x84, 0x80, 0x01, 'M', 'N', 'A', 'P', 0x00};

    (void)self;
    if (cap < sizeof(a))
        return MNAP_E_BUFFER;
    memcpy(out, a, sizeof(a));
    *len = sizeof(a);
    return MNAP_OK;
}

mnap_transport fz_puppet_transport(fz_puppet *p)
{
    mnap_transport t = {p, transmit, reconnect, atr, NULL, NULL, NULL};
    return t;
}
