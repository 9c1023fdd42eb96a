/* manifest_text.c: the two text forms a manifest carries bytes in: hex
 * strings (AIDs, FIDs, binary initial contents) and JSON text strings (UTF-8
 * initial contents).  jsmn hands over a string's raw text, escapes included,
 * so undoing the escapes is done here. */
#include <string.h>

#include "manifest_int.h"
#include "mt_json.h"

static void put(uint8_t *out, size_t cap, size_t *len, uint8_t b)
{
    if (out != NULL && *len < cap)
        out[*len] = b;
    (*len)++;
}

int mf_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len, size_t *bad)
{
    size_t len = 0;
    size_t hi_at = 0;
    int hi = -1;                 /* pending high nibble, -1 at a byte boundary */

    *bad = 0;
    for (size_t i = 0; i < n; i++) {
        int v;
        /* Spaces may separate bytes ("A0 00 01"), for long contents that a
         * reader wants to count; never inside a byte, nor first or last. */
        if (s[i] == ' ' && hi < 0 && i > 0 && i + 1 < n) {
            continue;
        }
        if (s[i] == ' ' && hi >= 0) {
            *bad = hi_at;
            *out_len = len;
            return MF_TXT_ODD;
        }
        v = mt_hex_digit(s[i]);
        if (v < 0) {
            *bad = i;
            *out_len = len;
            return MF_TXT_BAD_CHAR;
        }
        if (hi < 0) {
            hi = v;
            hi_at = i;
        } else {
            put(out, cap, &len, (uint8_t)((hi << 4) | v));
            hi = -1;
        }
    }
    *out_len = len;
    if (hi >= 0) {
        *bad = hi_at;
        return MF_TXT_ODD;
    }
    return MF_TXT_OK;
}

static void put_utf8(uint8_t *out, size_t cap, size_t *len, uint32_t cp)
{
    if (cp < 0x80) {
        put(out, cap, len, (uint8_t)cp);
    } else if (cp < 0x800) {
        put(out, cap, len, (uint8_t)(0xC0 | (cp >> 6)));
        put(out, cap, len, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        put(out, cap, len, (uint8_t)(0xE0 | (cp >> 12)));
        put(out, cap, len, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        put(out, cap, len, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        put(out, cap, len, (uint8_t)(0xF0 | (cp >> 18)));
        put(out, cap, len, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
        put(out, cap, len, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        put(out, cap, len, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

/* Four hex digits of a \u escape at s[i..i+4), or -1. */
static long u_escape(const char *s, size_t n, size_t i)
{
    long v = 0;
    if (i + 4 > n)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int d = mt_hex_digit(s[i + k]);
        if (d < 0)
            return -1;
        v = (v << 4) | d;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t need;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (i + need >= n)      /* the sequence would run past the string */
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

int mf_json_text_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = 0;
    size_t i = 0;

    *bad = 0;
    while (i < n) {
        if (u[i] == '\\') {
            long cp;
            if (i + 1 >= n)
                goto bad_escape;
            switch (s[i + 1]) {
            case '"':  put(out, cap, &len, '"');  i += 2; continue;
            case '\\': put(out, cap, &len, '\\'); i += 2; continue;
            case '/':  put(out, cap, &len, '/');  i += 2; continue;
            case 'b':  put(out, cap, &len, 0x08); i += 2; continue;
            case 'f':  put(out, cap, &len, 0x0C); i += 2; continue;
            case 'n':  put(out, cap, &len, 0x0A); i += 2; continue;
            case 'r':  put(out, cap, &len, 0x0D); i += 2; continue;
            case 't':  put(out, cap, &len, 0x09); i += 2; continue;
            case 'u':  break;
            default:   goto bad_escape;
            }
            cp = u_escape(s, n, i + 2);
            if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                goto bad_escape;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate only makes sense with its low half. */
                long lo;
                if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u')
                    goto bad_escape;
                lo = u_escape(s, n, i + 8);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    goto bad_escape;
                put_utf8(out, cap, &len, 0x10000u + (((uint32_t)cp - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u));
                i += 12;
            } else {
                put_utf8(out, cap, &len, (uint32_t)cp);
                i += 6;
            }
            continue;
        }
        if (u[i] < 0x20) {
            /* Raw control characters are not JSON; jsmn lets them through. */
            *bad = i;
            *out_len = len;
            return MF_TXT_BAD_CHAR;
        }
        {
            size_t k = utf8_seq(u, n, i);
            if (k == 0) {
                *bad = i;
                *out_len = len;
                return MF_TXT_BAD_UTF8;
            }
            for (size_t j = 0; j < k; j++)
                put(out, cap, &len, u[i + j]);
            i += k;
        }
    }
    *out_len = len;
    return MF_TXT_OK;

bad_escape:
    *bad = i;
    *out_len = len;
    return MF_TXT_BAD_ESCAPE;
}
