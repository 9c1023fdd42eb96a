/* cm_tlv.c: bounded BER-TLV reading and writing (see cm_tlv.h for the subset
 * accepted).  Every read is checked against the end of its container first. */
#include <string.h>
#include "cm_tlv.h"

#define CM_TLV_MAX_DEPTH 8

/* The header parser and parse_at are inlined into their callers (one body
 * without calls was 80 bytes shorter on the Cortex-M0+ than three functions
 * when the card linked cm_tlv_next; it links no reader now: mc_install.c's
 * PIN policy reads its few TLVs itself, by the same rules; docs/size.md). */
CM_ALWAYS_INLINE int header(const uint8_t *buf, size_t n, uint16_t *tag, size_t *len,
                            size_t *header_len)
{
    size_t p = 1;

    if (n < 1)
        return CM_E_FORMAT;
    *tag = buf[0];
    if ((buf[0] & 0x1F) == 0x1F) {
        /* A second byte with bit 8 set would announce a third tag byte. */
        if (n < 2 || (buf[1] & 0x80))
            return CM_E_FORMAT;
        *tag = (uint16_t)((buf[0] << 8) | buf[1]);
        p = 2;
    }
    if (p >= n)
        return CM_E_FORMAT;
    if (buf[p] < 0x80) {
        *len = buf[p++];
    } else if (buf[p] == 0x81 && n - p >= 2) {
        *len = buf[p + 1];
        p += 2;
    } else if (buf[p] == 0x82 && n - p >= 3) {
        *len = ((size_t)buf[p + 1] << 8) | buf[p + 2];
        p += 3;
    } else {
        return CM_E_FORMAT;   /* indefinite (80), longer than 3 length bytes, or cut */
    }
    *header_len = p;
    return CM_OK;
}

int cm_tlv_header(const uint8_t *buf, size_t n, uint16_t *tag, size_t *len, size_t *header_len)
{
    return header(buf, n, tag, len, header_len);
}

/* Parses one TLV at buf[pos] with end as the container's end. */
CM_ALWAYS_INLINE int parse_at(const uint8_t *buf, size_t end, size_t pos, cm_tlv *out)
{
    size_t len, hl;
    uint16_t tag;

    if (pos >= end || header(buf + pos, end - pos, &tag, &len, &hl) != CM_OK ||
        len > end - pos - hl)
        return CM_E_FORMAT;
    out->tag = tag;
    out->len = len;
    out->value = buf + pos + hl;
    out->header_len = hl;
    out->constructed = (buf[pos] & 0x20) != 0;
    return CM_OK;
}

int cm_tlv_next(const uint8_t *buf, size_t len, size_t *pos, cm_tlv *out)
{
    int rc;

    if (CM_NULL(pos) || CM_NULL(out) || (CM_NULL(buf) && len > 0) || *pos > len)
        return CM_E_FORMAT;
    if (*pos == len)
        return 1;
    rc = parse_at(buf, len, *pos, out);
    if (rc != CM_OK)
        return rc;
    *pos += out->header_len + out->len;
    return CM_OK;
}

int cm_tlv_find(const uint8_t *buf, size_t len, uint16_t tag, cm_tlv *out)
{
    size_t pos = 0;
    cm_tlv t;
    int rc;

    while ((rc = cm_tlv_next(buf, len, &pos, &t)) == CM_OK) {
        if (t.tag == tag) {
            if (out != NULL)
                *out = t;
            return CM_OK;
        }
    }
    return rc;
}

int cm_tlv_validate(const uint8_t *buf, size_t len, unsigned depth)
{
    size_t ends[CM_TLV_MAX_DEPTH + 1];
    unsigned level = 0;
    size_t pos = 0;
    cm_tlv t;

    if (CM_NULL(buf) && len > 0)
        return CM_E_FORMAT;
    if (depth > CM_TLV_MAX_DEPTH)
        depth = CM_TLV_MAX_DEPTH;
    ends[0] = len;
    for (;;) {
        if (pos == ends[level]) {
            if (level == 0)
                return CM_OK;
            level--;
            continue;
        }
        if (parse_at(buf, ends[level], pos, &t) != CM_OK)
            return CM_E_FORMAT;
        if (t.constructed && level < depth) {
            ends[level + 1] = pos + t.header_len + t.len;
            level++;
            pos += t.header_len;
        } else {
            pos += t.header_len + t.len;
        }
    }
}

void cm_tlv_writer_init(cm_tlv_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->pos = 0;
    w->error = CM_OK;
}

static size_t tag_len(uint16_t tag)
{
    return tag > 0xFF ? 2 : 1;
}

static size_t len_len(size_t len)
{
    return len < 0x80 ? 1 : (len <= 0xFF ? 2 : 3);
}

/* The body of cm_tlv_header_len, inlined into cm_tlv_put. */
CM_ALWAYS_INLINE size_t header_len(uint16_t tag, size_t len)
{
    return tag_len(tag) + len_len(len);
}

size_t cm_tlv_header_len(uint16_t tag, size_t len)
{
    return header_len(tag, len);
}

/* The length in the short form or 81 xx / 82 xx xx; returns its bytes.
 * Kept out of line (GCC would copy it into put_header and close). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static size_t put_len(uint8_t *p, size_t len)
{
    if (len < 0x80) {
        p[0] = (uint8_t)len;
        return 1;
    }
    if (len <= 0xFF) {
        p[0] = 0x81;
        p[1] = (uint8_t)len;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    return 3;
}

static size_t put_header(uint8_t *p, uint16_t tag, size_t len)
{
    size_t n = 0;

    if (tag > 0xFF)
        p[n++] = (uint8_t)(tag >> 8);
    p[n++] = (uint8_t)tag;
    return n + put_len(p + n, len);
}

/* Whether n more bytes fit; an error (sticky) leaves the writer as it is. */
static int room(cm_tlv_writer *w, size_t n)
{
    if (w->error != CM_OK)
        return 0;
    if (w->cap - w->pos < n) {
        w->error = CM_E_SPACE;
        return 0;
    }
    return 1;
}

void cm_tlv_put(cm_tlv_writer *w, uint16_t tag, const uint8_t *value, size_t len)
{
    if (w->error != CM_OK)
        return;
    if (len > 0xFFFF || (CM_NULL(value) && len > 0)) {
        w->error = CM_E_PARAM;
        return;
    }
    if (!room(w, header_len(tag, len) + len))
        return;
    w->pos += put_header(w->buf + w->pos, tag, len);
    if (len > 0)
        memcpy(w->buf + w->pos, value, len);   /* value is never inside buf (cm_tlv.h) */
    w->pos += len;
}

void cm_tlv_put_u8(cm_tlv_writer *w, uint16_t tag, uint8_t v)
{
    cm_tlv_put(w, tag, &v, 1);
}

void cm_tlv_put_u16(cm_tlv_writer *w, uint16_t tag, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    cm_tlv_put(w, tag, b, 2);
}

void cm_tlv_put_u32(cm_tlv_writer *w, uint16_t tag, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    cm_tlv_put(w, tag, b, 4);
}

size_t cm_tlv_open(cm_tlv_writer *w, uint16_t tag)
{
    /* The header with one length byte reserved (00); close() widens it when
     * the value is long. */
    cm_tlv_put(w, tag, NULL, 0);
    return w->error != CM_OK ? 0 : w->pos - 1;
}

void cm_tlv_close(cm_tlv_writer *w, size_t mark)
{
    size_t value_start = mark + 1, len, extra, i;

    if (w->error != CM_OK)
        return;
    len = w->pos - value_start;
    if (len > 0xFFFF) {
        w->error = CM_E_PARAM;
        return;
    }
    extra = len_len(len) - 1;
    if (extra > 0) {
        if (!room(w, extra))
            return;
        /* Shift the value right by extra bytes, from its end, since the
         * ranges overlap (and common/ links no memmove). */
        for (i = len; i > 0; i--)
            w->buf[value_start + extra + i - 1] = w->buf[value_start + i - 1];
        w->pos += extra;
    }
    put_len(w->buf + mark, len);
}
