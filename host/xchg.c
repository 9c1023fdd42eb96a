/* xchg.c: the APDU exchange layer.  mnap__exchange moves one command and
 * collects its whole response (61xx -> GET RESPONSE, 6Cxx -> re-send with the
 * card's Le); mnap__send adds secure messaging when a session is open: wrap,
 * exchange, verify the R-MAC and decrypt.  Both trace, with redaction. */
#include <stdlib.h>
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"
#include "cm_err.h"
#include "cm_sw.h"

/* A card may split a response into many GET RESPONSE parts; more than this
 * many is a card in a loop. */
#define MAX_PARTS 1024

#define INS_GET_RESPONSE 0xC0

/* What an instruction carries that the trace must hide, whoever sends it
 * (the public mnap_transmit and mnap_command included). */
static unsigned redact_for_ins(uint8_t ins)
{
    switch (ins) {
    case 0x20: /* VERIFY: the PIN */
    case 0x24: /* CHANGE REFERENCE DATA: old and new PIN */
    case 0x2C: /* RESET RETRY COUNTER: new PIN */
    case 0xD8: /* PUT KEY: wrapped keys */
    case 0xE8: /* LOAD AP: wrapped keys and the initial PIN */
        return RED_CMD;
    case 0xB0: /* READ BINARY */
    case 0xB2: /* READ RECORD */
        return RED_FILE_RSP;
    case 0xD6: /* UPDATE BINARY */
    case 0xDC: /* UPDATE RECORD */
    case 0xE2: /* APPEND RECORD */
        return RED_FILE_CMD;
    default:
        return RED_NONE;
    }
}

/* A PIN verified (or changed, which verifies it) in the session: noted for
 * every VERIFY / CHANGE REFERENCE DATA, whoever built it (mnap_command
 * included), so that the trace hides file contents from then on. */
static void note_pin(mnap_ctx *ctx, const mnap_apdu *a, uint16_t sw)
{
    if ((a->ins == 0x20 || a->ins == 0x24) && a->lc != 0 && sw == CM_SW_OK)
        ctx->pin_verified = true;
}

/* File contents are shown only when asked for and no PIN was verified in
 * the session (then no PIN-rule file can have been reached). */
static bool redact_cmd(const mnap_ctx *ctx, unsigned red)
{
    if (red & RED_CMD)
        return true;
    if (red & RED_FILE_CMD)
        return !((ctx->trace_flags & MNAP_TRACE_FILE_DATA) && !ctx->pin_verified);
    return false;
}

static bool redact_rsp(const mnap_ctx *ctx, unsigned red)
{
    if (red & RED_FILE_RSP)
        return !((ctx->trace_flags & MNAP_TRACE_FILE_DATA) && !ctx->pin_verified);
    return false;
}

static void trace_cmd(mnap_ctx *ctx, const char *tag, const uint8_t *cmd, size_t len,
                      unsigned red)
{
    size_t off, dlen;

    if (!mnap__trace_on(ctx))
        return;
    mnap__cmd_data_span(cmd, len, &off, &dlen);
    mnap__trace_apdu(ctx, '>', tag, cmd, len, off, dlen, redact_cmd(ctx, red));
}

/* A short re-sent command: header, Lc, 255 data bytes, Le. */
#define RESEND_SHORT_CAP (4u + 1u + 255u + 1u)

/* One command and its answer through the transport, traced: the status word
 * in *sw, its data (ctx->rsp) *dlen bytes.  A reset or new power-up selects
 * nothing and ends any channel. */
static mnap_err transmit_one(mnap_ctx *ctx, const uint8_t *cmd, size_t len, unsigned red,
                             size_t *dlen, uint16_t *sw, size_t *raw_used)
{
    size_t rlen;
    mnap_err rc;

    trace_cmd(ctx, NULL, cmd, len, red);
    rc = ctx->tr.transmit(ctx->tr.self, cmd, len, ctx->rsp, MNAP_RSP_CAP, &rlen);
    if (rc != MNAP_OK) {
        mnap__trace_text(ctx, mnap_strerror(rc));
        if (rc == MNAP_E_CARD_RESET || rc == MNAP_E_CARD_REMOVED ||
            rc == MNAP_E_CARD_MUTE || rc == MNAP_E_NO_SERVICE) {
            mnap__session_drop(ctx);
            mnap__forget_selection(ctx);
        }
        return rc;
    }
    if (rlen > *raw_used)
        *raw_used = rlen < MNAP_RSP_CAP ? rlen : MNAP_RSP_CAP;
    if (rlen < 2 || rlen > MNAP_RSP_CAP)
        return MNAP_E_PROTOCOL;
    *dlen = rlen - 2;
    *sw = (uint16_t)((ctx->rsp[*dlen] << 8) | ctx->rsp[*dlen + 1]);
    ctx->last_sw = *sw;
    mnap__trace_apdu(ctx, '<', NULL, ctx->rsp, rlen, 0, *dlen, redact_rsp(ctx, red));
    return MNAP_OK;
}

/* 6Cxx, wrong Le: the same command again with the card's Le (xx, 00 for
 * 256), coded by the codec into buf (cap bytes).  *n is its length. */
static mnap_err wrong_le_command(const uint8_t *cmd, size_t len, uint16_t sw, uint8_t *buf,
                                 size_t cap, size_t *n)
{
    mnap_apdu a;

    if (mnap__apdu_parse(cmd, len, &a) != 0)
        return MNAP_E_PARAM;
    a.ne = (sw & 0xFF) ? (sw & 0xFF) : 256;
    a.extended = 0;
    *n = mnap__apdu_encode(&a, buf, cap);
    return *n ? MNAP_OK : MNAP_E_PARAM;
}

/* 61xx: GET RESPONSE with Le xx (00 for 256) until the card has given
 * everything, appending to out after *total bytes (the data of the answer
 * that said 61xx already there).  *sw is the last status word. */
static mnap_err get_responses(mnap_ctx *ctx, unsigned red, uint8_t *out, size_t cap,
                              size_t *total, uint16_t *sw, size_t *raw_used, unsigned *parts)
{
    uint8_t gr[5];
    mnap_apdu a;
    size_t dlen, n;
    mnap_err rc;

    while ((*sw & 0xFF00) == CM_SW_BYTES_REMAINING) {
        if (++*parts > MAX_PARTS)
            return MNAP_E_PROTOCOL;
        /* 00 C0 00 00 xx: Le = SW2, 00 for 256. */
        mnap__apdu_init(&a, 0x00, INS_GET_RESPONSE, 0x00, 0x00);
        a.ne = (*sw & 0xFF) ? (*sw & 0xFF) : 256;
        n = mnap__apdu_encode(&a, gr, sizeof(gr));
        rc = transmit_one(ctx, gr, n, red, &dlen, sw, raw_used);
        if (rc != MNAP_OK)
            return rc;
        if (dlen > cap - *total)
            return MNAP_E_BUFFER;
        memcpy(out + *total, ctx->rsp, dlen);
        *total += dlen;
    }
    return MNAP_OK;
}

/* mnap__exchange with the buffer for an extended 6Cxx re-send named by the
 * caller (big, disjoint from cmd and out; a short one goes on the stack). */
static mnap_err exchange(mnap_ctx *ctx, const uint8_t *cmd, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len, uint16_t *sw_out, uint8_t *spare, size_t spare_cap)
{
    uint8_t resend[RESEND_SHORT_CAP];
    size_t total = 0, dlen = 0, raw_used = 0, n = 0;
    unsigned parts = 1, red;
    uint16_t sw = 0;
    mnap_err rc;

    if (ctx == NULL || cmd == NULL || len < 4 || out_len == NULL || sw_out == NULL ||
        (out == NULL && cap))
        return MNAP_E_PARAM;
    if (ctx->tr.transmit == NULL)
        return MNAP_E_NOT_CONNECTED;
    red = redact_for_ins(cmd[1]);
    *out_len = 0;
    rc = mnap__hold(ctx);
    if (rc != MNAP_OK)
        return rc;
    rc = transmit_one(ctx, cmd, len, red, &dlen, &sw, &raw_used);
    if (rc == MNAP_OK && (sw & 0xFF00) == 0x6C00 && !(cmd[0] & 0x04)) {
        /* Wrong Le: the command again, once, with the card's Le.  Not inside
         * secure messaging, where the MAC covers Le.  Re-coded on the stack
         * when short; a command whose data needs the extended form goes in
         * the caller's spare buffer. */
        uint8_t *buf = resend;
        size_t bcap = sizeof(resend);

        if (len > RESEND_SHORT_CAP) {
            buf = spare;
            bcap = spare_cap;
        }
        rc = wrong_le_command(cmd, len, sw, buf, bcap, &n);
        if (rc == MNAP_OK) {
            parts++;
            rc = transmit_one(ctx, buf, n, red, &dlen, &sw, &raw_used);
            /* the command again: a PIN outside a session */
            cm_wipe(buf, n);
        }
    }
    if (rc == MNAP_OK && dlen > cap)
        rc = MNAP_E_BUFFER;
    if (rc == MNAP_OK) {
        if (dlen)
            memcpy(out, ctx->rsp, dlen);
        total = dlen;
        rc = get_responses(ctx, red, out, cap, &total, &sw, &raw_used, &parts);
    }
    if (rc == MNAP_OK) {
        *sw_out = sw;
        *out_len = total;
    }
    /* The raw buffer held response data that may be secret. */
    cm_wipe(ctx->rsp, raw_used);
    if (rc != MNAP_OK)
        cm_wipe(out, total);
    mnap__release_idle(ctx);
    return rc;
}

mnap_err mnap__exchange(mnap_ctx *ctx, const uint8_t *cmd, size_t len, uint8_t *out, size_t cap,
                        size_t *out_len, uint16_t *sw)
{
    /* The working buffer that holds neither the command nor the answer:
     * commands are coded in ctx->cmd, and ctx->tmp takes protected answers. */
    uint8_t *spare;

    if (ctx == NULL)
        return MNAP_E_PARAM;
    spare = cmd == ctx->cmd || out == ctx->cmd ? ctx->tmp : ctx->cmd;
    return exchange(ctx, cmd, len, out, cap, out_len, sw, spare, MNAP_CMD_CAP);
}

mnap_err mnap__hold(mnap_ctx *ctx)
{
    mnap_err rc;

    if (ctx->held || ctx->tr.begin == NULL)
        return MNAP_OK;
    rc = ctx->tr.begin(ctx->tr.self);
    if (rc != MNAP_OK) {
        mnap__trace_text(ctx, mnap_strerror(rc));
        /* The card was reset (or taken) since this context last used it:
         * whatever it thought was open or selected is gone. */
        mnap__session_drop(ctx);
        mnap__forget_selection(ctx);
        return rc;
    }
    ctx->held = true;
    return MNAP_OK;
}

void mnap__release_idle(mnap_ctx *ctx)
{
    if (!ctx->held || ctx->open || ctx->op_depth > 0)
        return;
    if (ctx->tr.end != NULL)
        ctx->tr.end(ctx->tr.self);
    ctx->held = false;
    mnap__forget_selection(ctx);
}

void mnap__op_begin(mnap_ctx *ctx)
{
    ctx->op_depth++;
}

void mnap__op_end(mnap_ctx *ctx)
{
    if (ctx->op_depth > 0)
        ctx->op_depth--;
    mnap__release_idle(ctx);
}

mnap_err mnap_hold_card(mnap_ctx *ctx)
{
    mnap_err rc;

    if (ctx == NULL)
        return MNAP_E_PARAM;
    rc = mnap__hold(ctx);
    if (rc == MNAP_OK)
        mnap__op_begin(ctx);
    return rc;
}

mnap_err mnap_release_card(mnap_ctx *ctx)
{
    if (ctx == NULL)
        return MNAP_E_PARAM;
    if (ctx->op_depth == 0)
        return MNAP_E_STATE;
    mnap__op_end(ctx);
    return MNAP_OK;
}

void mnap__forget_selection(mnap_ctx *ctx)
{
    ctx->selected = false;
    ctx->am_selected = false;
    ctx->sel_aid_len = 0;
}

mnap_err mnap_transmit(mnap_ctx *ctx, const uint8_t *apdu, size_t len, uint8_t *out, size_t cap,
                       size_t *out_len, uint16_t *sw)
{
    if (ctx == NULL || apdu == NULL || len < 4 || len > MNAP_CMD_CAP)
        return MNAP_E_PARAM;
    /* A raw command bypasses the session: the card ends its channel on a
     * command without SM (and SELECT / INITIALIZE UPDATE end it anyway), and
     * may change the selection.  GET RESPONSE alone leaves both alone. */
    if (apdu[1] != 0xC0) {
        mnap__session_drop(ctx);
        mnap__forget_selection(ctx);
    }
    return mnap__exchange(ctx, apdu, len, out, cap, out_len, sw);
}

/* Status words the card gives before it checks (and advances) the MAC
 * chain, or with which it ends the channel (PROTOCOL.md §3, §9): after them
 * the host's chain is ahead of the card's, so the session is over. */
static bool ends_session(uint16_t sw)
{
    return sw == CM_SW_CLA_NOT_SUPPORTED || sw == CM_SW_LOGICAL_CHANNEL ||
           sw == CM_SW_CHAINING_UNSUPPORTED || sw == CM_SW_SM_NOT_SUPPORTED ||
           sw == CM_SW_SM_DATA_INCORRECT;
}

void mnap__session_drop(mnap_ctx *ctx)
{
    if (ctx->open)
        mnap__trace_text(ctx, "session closed");
    cm_scp03_close(&ctx->scp);
    cm_wipe(ctx->dek, sizeof(ctx->dek));
    ctx->dek_len = 0;
    ctx->open = false;
    ctx->level = 0;
    ctx->pin_verified = false;
}

/* The protected response of a session command, now in ctx->tmp (rlen bytes):
 * verifies the R-MAC and decrypts (a failure ends the session), traces the
 * plain response, and copies it to the caller's buffer. */
static mnap_err deliver_response(mnap_ctx *ctx, size_t rlen, uint16_t sw, unsigned red,
                                 uint8_t *out, size_t cap, size_t *out_len)
{
    size_t plen;
    int crc = cm_scp03_unwrap_response(&ctx->scp, ctx->tmp, rlen, sw, &plen);

    if (crc != CM_OK) {
        cm_wipe(ctx->tmp, rlen);
        mnap__trace_text(ctx, "response failed its R-MAC / R-ENC check");
        mnap__session_drop(ctx);
        return MNAP_E_RMAC;
    }
    if (plen > cap) {
        cm_wipe(ctx->tmp, rlen);
        return MNAP_E_BUFFER;
    }
    if (mnap__trace_on(ctx) && (ctx->level & (CM_SL_RMAC | CM_SL_RENC))) {
        /* The plain response, as the caller gets it. */
        uint8_t *line = malloc(plen + 2);
        if (line != NULL) {
            memcpy(line, ctx->tmp, plen);
            line[plen] = (uint8_t)(sw >> 8);
            line[plen + 1] = (uint8_t)sw;
            mnap__trace_apdu(ctx, '<', "plain", line, plen + 2, 0, plen, redact_rsp(ctx, red));
            cm_wipe(line, plen + 2);
            free(line);
        }
    }
    if (plen)
        memcpy(out, ctx->tmp, plen);
    cm_wipe(ctx->tmp, rlen);
    *out_len = plen;
    return MNAP_OK;
}

bool mnap__t0(const mnap_ctx *ctx)
{
    return ctx->tr.protocol != NULL && ctx->tr.protocol(ctx->tr.self) == MNAP_PROTO_T0;
}

/* The Lc a command with n plain data bytes has on the wire now. */
static size_t wire_lc(const mnap_ctx *ctx, size_t n)
{
    if (!ctx->open)
        return n;
    if ((ctx->level & CM_SL_CDEC) && n != 0)
        n = (n / 16 + 1) * 16;        /* ISO padding, always at least one byte */
    return n + 8;                     /* C-MAC */
}

size_t mnap__cmd_room(const mnap_ctx *ctx)
{
    size_t room = ctx->max_cmd;

    if (mnap__t0(ctx)) {
        size_t t0 = !ctx->open ? 255 : (ctx->level & CM_SL_CDEC) ? 239 : 247;
        if (t0 < room)
            room = t0;
    }
    return room;
}

size_t mnap__rsp_room(const mnap_ctx *ctx)
{
    return mnap__t0(ctx) && ctx->max_rsp > 256 ? 256 : ctx->max_rsp;
}

mnap_err mnap__send(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                    size_t *out_len, uint16_t *sw)
{
    size_t n, wn, rlen;
    unsigned red;
    mnap_err rc;
    mnap_apdu t0a;
    int crc;

    if (ctx == NULL || a == NULL || out_len == NULL || sw == NULL || (out == NULL && cap))
        return MNAP_E_PARAM;
    if (mnap__t0(ctx)) {
        /* T=0 carries short APDUs only (PROTOCOL.md §10). */
        if (wire_lc(ctx, a->lc) > 255)
            return MNAP_E_PARAM;
        t0a = *a;
        t0a.extended = 0;
        if (t0a.ne > 256)
            t0a.ne = 256;
        a = &t0a;
    }
    red = redact_for_ins(a->ins);
    if (!ctx->open) {
        n = mnap__apdu_encode(a, ctx->cmd, MNAP_CMD_CAP);
        if (n == 0)
            return MNAP_E_PARAM;
        rc = mnap__exchange(ctx, ctx->cmd, n, out, cap, out_len, sw);
        cm_wipe(ctx->cmd, n);
        return rc;
    }
    n = mnap__apdu_encode(a, ctx->tmp, MNAP_CMD_CAP);
    if (n == 0)
        return MNAP_E_PARAM;
    trace_cmd(ctx, "plain", ctx->tmp, n, red);
    crc = cm_scp03_wrap_command(&ctx->scp, ctx->tmp, n, ctx->cmd, MNAP_CMD_CAP, &wn);
    cm_wipe(ctx->tmp, n);
    if (crc != CM_OK)
        return crc == CM_E_SPACE ? MNAP_E_PARAM : MNAP_E_CRYPTO;
    rc = mnap__exchange(ctx, ctx->cmd, wn, ctx->tmp, MNAP_RSP_CAP, &rlen, sw);
    cm_wipe(ctx->cmd, wn);
    if (rc != MNAP_OK) {
        /* The MAC chain of the card and ours may now differ: the session is
         * unusable. */
        mnap__session_drop(ctx);
        return rc;
    }
    if (ends_session(*sw)) {
        mnap__session_drop(ctx);
        *out_len = 0;
        return MNAP_OK;
    }
    note_pin(ctx, a, *sw);
    return deliver_response(ctx, rlen, *sw, red, out, cap, out_len);
}

mnap_err mnap__send_ok(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                       size_t *out_len)
{
    uint16_t sw = 0;
    size_t dummy;
    mnap_err rc = mnap__send(ctx, a, out, cap, out_len ? out_len : &dummy, &sw);

    if (rc != MNAP_OK)
        return rc;
    return mnap_err_from_sw(sw);
}

mnap_err mnap_command(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    if (ctx == NULL || a == NULL)
        return MNAP_E_PARAM;
    /* SELECT by AID and INITIALIZE UPDATE are never wrapped and end the
     * channel; the selection is then the caller's business. */
    if ((a->ins == 0xA4 && a->p1 == 0x04) || a->ins == 0x50) {
        mnap__session_drop(ctx);
        mnap__forget_selection(ctx);
    }
    return mnap__send_ok(ctx, a, out, cap, out_len);
}

mnap_err mnap__send_chained(mnap_ctx *ctx, const mnap_apdu *a, size_t seg, uint8_t *out,
                            size_t cap, size_t *out_len, uint16_t *sw)
{
    mnap_apdu whole, part;
    const uint8_t *wire;
    size_t n, wn = 0, off, rlen = 0, pn;
    uint8_t *segbuf = NULL;
    mnap_err rc = MNAP_OK;
    unsigned red;
    int crc;

    if (ctx == NULL || a == NULL || seg == 0 || out_len == NULL || sw == NULL ||
        (out == NULL && cap))
        return MNAP_E_PARAM;
    /* Over T=0 every segment must be a short APDU. */
    if (mnap__t0(ctx) && (seg > 255 || a->ne > 256))
        return MNAP_E_PARAM;
    red = redact_for_ins(a->ins);
    /* A chained command has no single coding on the wire: its C-MAC codes
     * the whole command's Lc in the shortest form (PROTOCOL.md §3), whatever
     * coding the caller asked for. */
    whole = *a;
    whole.extended = 0;
    n = mnap__apdu_encode(&whole, ctx->tmp, MNAP_CMD_CAP);
    if (n == 0)
        return MNAP_E_PARAM;
    /* Security first, over the whole command; then cut (PROTOCOL.md §3). */
    if (ctx->open) {
        trace_cmd(ctx, "plain", ctx->tmp, n, red);
        crc = cm_scp03_wrap_command(&ctx->scp, ctx->tmp, n, ctx->cmd, MNAP_CMD_CAP, &wn);
        cm_wipe(ctx->tmp, n);
        if (crc != CM_OK)
            return crc == CM_E_SPACE ? MNAP_E_PARAM : MNAP_E_CRYPTO;
    } else {
        memcpy(ctx->cmd, ctx->tmp, n);
        cm_wipe(ctx->tmp, n);
        wn = n;
    }
    if (mnap__apdu_parse(ctx->cmd, wn, &whole) != 0) {
        rc = MNAP_E_PARAM;
        goto out;
    }
    /* A segment, and room for it again should the card ask for another Le. */
    segbuf = malloc(2 * (seg + 16));
    if (segbuf == NULL) {
        rc = MNAP_E_NOMEM;
        goto out;
    }
    wire = whole.data;
    off = 0;
    do {
        pn = whole.lc - off < seg ? whole.lc - off : seg;
        part = whole;
        part.extended = 0;
        part.data = wire + off;
        part.lc = pn;
        part.ne = 0;
        if (off + pn < whole.lc) {
            /* A segment before the last: chaining bit, no Le, no R-MAC. */
            part.cla |= 0x10;
        } else {
            part.ne = whole.ne;
            part.extended = whole.extended && whole.ne > 0 && !mnap__t0(ctx);
        }
        {
            size_t sl = mnap__apdu_encode(&part, segbuf, seg + 16);
            if (sl == 0) {
                rc = MNAP_E_PARAM;
                break;
            }
            rc = exchange(ctx, segbuf, sl, ctx->tmp, MNAP_RSP_CAP, &rlen, sw, segbuf + seg + 16,
                          seg + 16);
            cm_wipe(segbuf, sl);
        }
        if (rc != MNAP_OK)
            break;
        off += pn;
        if (off < whole.lc && (*sw != CM_SW_OK || rlen != 0)) {
            /* A segment refused: the card dropped the command. */
            break;
        }
    } while (off < whole.lc);
out:
    free(segbuf);
    cm_wipe(ctx->cmd, wn);
    if (rc != MNAP_OK) {
        if (ctx->open)
            mnap__session_drop(ctx);
        return rc;
    }
    if (!ctx->open) {
        if (rlen > cap)
            return MNAP_E_BUFFER;
        memcpy(out, ctx->tmp, rlen);
        *out_len = rlen;
        return MNAP_OK;
    }
    if (ends_session(*sw) || (off < whole.lc && ctx->open)) {
        /* Also a segment refused before the last: the card never saw the
         * whole command, so it did not advance its MAC chain as we did. */
        mnap__session_drop(ctx);
        *out_len = 0;
        return MNAP_OK;
    }
    return deliver_response(ctx, rlen, *sw, red, out, cap, out_len);
}
