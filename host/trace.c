/* trace.c: the optional APDU trace.  Lines go to a callback or stderr.
 * Redaction happens here, on the bytes, before any text is built: the
 * redacted span is never formatted, so no secret can reach a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnap_int.h"

bool mnap__trace_on(const mnap_ctx *ctx)
{
    return ctx != NULL && (ctx->trace_flags & MNAP_TRACE_ON) != 0;
}

void mnap_trace_set(mnap_ctx *ctx, unsigned flags, mnap_trace_fn fn, void *user)
{
    if (ctx == NULL)
        return;
    ctx->trace_flags = flags;
    ctx->trace_fn = fn;
    ctx->trace_user = user;
}

static void emit(mnap_ctx *ctx, const char *line)
{
    if (ctx->trace_fn != NULL)
        ctx->trace_fn(ctx->trace_user, line);
    else
        fprintf(stderr, "mnap: %s\n", line);
}

void mnap__trace_text(mnap_ctx *ctx, const char *text)
{
    if (mnap__trace_on(ctx))
        emit(ctx, text);
}

void mnap__cmd_data_span(const uint8_t *cmd, size_t len, size_t *off, size_t *dlen)
{
    mnap_apdu a;

    *off = len;
    *dlen = 0;
    if (mnap__apdu_parse(cmd, len, &a) != 0) {
        /* Unparseable: treat everything after the header as data, so that a
         * redacting caller still hides it. */
        if (len > 4) {
            *off = 4;
            *dlen = len - 4;
        }
        return;
    }
    if (a.lc) {
        *off = (size_t)(a.data - cmd);
        *dlen = a.lc;
    }
}

static char *hex_bytes(char *p, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        *p++ = ' ';
        *p++ = digits[b[i] >> 4];
        *p++ = digits[b[i] & 15];
    }
    return p;
}

void mnap__trace_apdu(mnap_ctx *ctx, char dir, const char *tag, const uint8_t *buf, size_t len,
                      size_t data_off, size_t data_len, bool redact)
{
    char *line, *p;
    size_t cap;

    if (!mnap__trace_on(ctx))
        return;
    if (data_off > len)
        data_off = len;
    if (data_len > len - data_off)
        data_len = len - data_off;
    cap = 3 * len + 64 + (tag ? strlen(tag) : 0);
    line = malloc(cap);
    if (line == NULL) {
        emit(ctx, "(trace line dropped: out of memory)");
        return;
    }
    p = line;
    *p++ = dir;
    if (tag != NULL && tag[0] != '\0')
        p += sprintf(p, " [%s]", tag);
    if (!redact || data_len == 0) {
        p = hex_bytes(p, buf, len);
    } else {
        p = hex_bytes(p, buf, data_off);
        p += sprintf(p, " [%zu bytes redacted]", data_len);
        p = hex_bytes(p, buf + data_off + data_len, len - data_off - data_len);
    }
    *p = '\0';
    emit(ctx, line);
    free(line);
}
