/* mt_json.c: JSON documents on top of jsmn (see mt_json.h).
 *
 * jsmn tokenizes in place and reports offsets only; this wrapper owns the text
 * and the token array, grows the array as jsmn asks, and turns offsets into
 * lines and columns for error messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
/* Strict: primitives are numbers, true, false and null only, and strings
 * take only JSON's escapes.  jsmn's strict mode still accepts trailing
 * commas, missing commas and missing colons: check_separators does that. */
#define JSMN_STRICT
#include <jsmn.h>

#include "cm_ct.h"
#include "mt_json.h"

#define MJ_MAX_TEXT (16u * 1024u * 1024u)

static jsmntok_t *toks(const mj_doc *doc)
{
    return (jsmntok_t *)doc->tokens;
}

static void offset_pos(const char *text, size_t off, int *line, int *col)
{
    size_t i;
    int l = 1, c = 1;

    for (i = 0; i < off && text[i] != '\0'; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Offsets of a token's text: jsmn's string tokens exclude their quotes. */
static int text_start(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int text_end(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* The bytes in [from, to) must be whitespace around exactly one sep (or
 * whitespace alone when sep is 0).  Returns -1, or the offset of the first
 * byte that breaks the rule (to itself when the separator is missing). */
static int bad_gap(const char *text, int from, int to, char sep)
{
    int i;
    bool seen = sep == 0;

    for (i = from; i < to; i++) {
        if (is_ws(text[i]))
            continue;
        if (!seen && text[i] == sep) {
            seen = true;
            continue;
        }
        return i;
    }
    return seen ? -1 : to;
}

static int skip_ws(const char *text, int off)
{
    while (is_ws(text[off]))
        off++;
    return off;
}

/* Checks what jsmn does not: the separators between tokens.  In an object,
 * each member is a string key, ':' and one value, members apart by one ','
 * with none after the last; in an array, values apart by one ','.  jsmn
 * (with parent links) makes a value the child of its key.  Tokens come in
 * document order, so one pass that keeps, per container (and per key), the
 * end of the last child seen does.  Returns 0, or -1 with *at (the offending
 * byte) and *what set. */
static int check_separators(const char *text, const jsmntok_t *t, int n, int *last, int *at,
                            const char **what)
{
    int i, p, g;

    for (i = 0; i < n; i++)
        last[i] = -1;
    for (i = 1; i < n; i++) {
        p = t[i].parent;
        if (p < 0 || p >= i) {
            *at = text_start(&t[i]);
            *what = "text after the JSON value";
            return -1;
        }
        if (t[p].type == JSMN_STRING && (t[p].parent < 0 || t[t[p].parent].type != JSMN_OBJECT)) {
            *at = skip_ws(text, text_end(&t[p]));   /* a key in an array */
            *what = "expected ',' or ']'";
            return -1;
        }
        if (t[p].type == JSMN_STRING) {
            /* A member's value: after its key and a ':', and only one. */
            g = last[p] >= 0 ? text_start(&t[i]) : bad_gap(text, text_end(&t[p]), text_start(&t[i]), ':');
            if (g >= 0) {
                *at = g;
                *what = last[p] >= 0 ? "expected ',' or '}'" : "expected ':'";
                return -1;
            }
            if (t[i].type == JSMN_STRING && t[i].size != 0) {
                *at = skip_ws(text, text_end(&t[i]));   /* a value used as a key */
                *what = "expected ',' or '}'";
                return -1;
            }
            last[p] = last[t[p].parent] = t[i].type == JSMN_STRING ? text_end(&t[i]) : t[i].end;
            continue;
        }
        if (t[p].type == JSMN_OBJECT && t[i].type != JSMN_STRING) {
            *at = text_start(&t[i]);
            *what = "expected a string key";
            return -1;
        }
        if (t[p].type == JSMN_OBJECT && t[i].size == 0) {
            *at = skip_ws(text, text_end(&t[i]));
            *what = "expected ':'";
            return -1;
        }
        g = last[p] < 0 ? bad_gap(text, t[p].start + 1, text_start(&t[i]), 0)
                        : bad_gap(text, last[p], text_start(&t[i]), ',');
        if (g >= 0) {
            *at = g;
            *what = t[p].type == JSMN_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
        last[p] = t[i].type == JSMN_STRING ? text_end(&t[i]) : t[i].end;
    }
    /* Nothing but whitespace between the last member and the closing bracket. */
    for (i = 0; i < n; i++) {
        if (t[i].type != JSMN_OBJECT && t[i].type != JSMN_ARRAY)
            continue;
        g = bad_gap(text, last[i] < 0 ? t[i].start + 1 : last[i], t[i].end - 1, 0);
        if (g >= 0) {
            *at = g;
            *what = text[g] == ',' ? "trailing comma" :
                    t[i].type == JSMN_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
    }
    return 0;
}

int mj_parse(mj_doc *doc, const char *text, size_t len)
{
    jsmn_parser p;
    unsigned cap = 256;
    int n;

    memset(doc, 0, sizeof(*doc));
    if (len > MJ_MAX_TEXT) {
        snprintf(doc->err, sizeof(doc->err), "document larger than %u bytes", MJ_MAX_TEXT);
        return -1;
    }
    doc->text = malloc(len + 1);
    if (doc->text == NULL) {
        snprintf(doc->err, sizeof(doc->err), "out of memory");
        return -1;
    }
    memcpy(doc->text, text, len);
    doc->text[len] = '\0';
    doc->len = len;
    for (;;) {
        jsmntok_t *t = realloc(doc->tokens, cap * sizeof(jsmntok_t));
        if (t == NULL) {
            snprintf(doc->err, sizeof(doc->err), "out of memory");
            mj_free(doc);
            return -1;
        }
        doc->tokens = t;
        jsmn_init(&p);
        n = jsmn_parse(&p, doc->text, len, t, cap);
        if (n != JSMN_ERROR_NOMEM)
            break;
        cap *= 2;
    }
    if (n < 0) {
        int line, col;
        offset_pos(doc->text, p.pos, &line, &col);
        snprintf(doc->err, sizeof(doc->err), "line %d, column %d: %s", line, col,
                 n == JSMN_ERROR_PART ? "unexpected end of JSON" : "invalid JSON");
        mj_free(doc);
        return -1;
    }
    if (n == 0) {
        snprintf(doc->err, sizeof(doc->err), "line 1, column 1: empty document");
        mj_free(doc);
        return -1;
    }
    /* jsmn (non-strict) accepts trailing garbage after the top value. */
    if ((size_t)toks(doc)[0].end < len) {
        size_t i;
        for (i = (size_t)toks(doc)[0].end; i < len; i++) {
            char c = doc->text[i];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                int line, col;
                offset_pos(doc->text, i, &line, &col);
                snprintf(doc->err, sizeof(doc->err), "line %d, column %d: text after the JSON value",
                         line, col);
                mj_free(doc);
                return -1;
            }
        }
    }
    {
        int *last = malloc((size_t)n * sizeof(int)), at = 0;
        const char *what = NULL;
        if (last == NULL) {
            snprintf(doc->err, sizeof(doc->err), "out of memory");
            mj_free(doc);
            return -1;
        }
        if (check_separators(doc->text, toks(doc), n, last, &at, &what) != 0) {
            int line, col;
            free(last);
            offset_pos(doc->text, (size_t)at, &line, &col);
            snprintf(doc->err, sizeof(doc->err), "line %d, column %d: %s", line, col, what);
            mj_free(doc);
            return -1;
        }
        free(last);
    }
    doc->ntok = n;
    return 0;
}

int mj_load_file(mj_doc *doc, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    memset(doc, 0, sizeof(*doc));
    if (f == NULL) {
        snprintf(doc->err, sizeof(doc->err), "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            char *nb;
            cap = cap ? cap * 2 : 4096;
            if (cap > MJ_MAX_TEXT + 1) {
                snprintf(doc->err, sizeof(doc->err), "%s: file too large", path);
                if (buf != NULL)
                    cm_wipe(buf, len);
                free(buf);
                fclose(f);
                return -1;
            }
            /* Grow by copy, not realloc, so no unwiped copy of the text is
             * left behind in freed memory. */
            nb = malloc(cap);
            if (nb != NULL && buf != NULL) {
                memcpy(nb, buf, len);
                cm_wipe(buf, len);
                free(buf);
            }
            if (nb == NULL) {
                snprintf(doc->err, sizeof(doc->err), "out of memory");
                if (buf != NULL)
                    cm_wipe(buf, len);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(doc->err, sizeof(doc->err), "%s: read error", path);
        if (buf != NULL)
            cm_wipe(buf, len);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = mj_parse(doc, buf ? buf : "", len);
    if (buf != NULL)
        cm_wipe(buf, cap);
    free(buf);
    return rc;
}

void mj_free(mj_doc *doc)
{
    /* Manifests may carry an initial PIN: wipe the text before it goes. */
    if (doc->text != NULL)
        cm_wipe(doc->text, doc->len);
    free(doc->text);
    free(doc->tokens);
    doc->text = NULL;
    doc->tokens = NULL;
    doc->ntok = 0;
}

static int valid(const mj_doc *doc, int tok)
{
    return doc != NULL && tok >= 0 && tok < doc->ntok;
}

mj_type mj_kind(const mj_doc *doc, int tok)
{
    if (!valid(doc, tok))
        return MJ_UNDEFINED;
    switch (toks(doc)[tok].type) {
    case JSMN_OBJECT: return MJ_OBJECT;
    case JSMN_ARRAY: return MJ_ARRAY;
    case JSMN_STRING: return MJ_STRING;
    case JSMN_PRIMITIVE: return MJ_PRIMITIVE;
    default: return MJ_UNDEFINED;
    }
}

int mj_size(const mj_doc *doc, int tok)
{
    return valid(doc, tok) ? toks(doc)[tok].size : 0;
}

int mj_skip(const mj_doc *doc, int tok)
{
    /* Iterative: a token's subtree ends at the first token starting at or
     * after the token's end offset. */
    int end, i;

    if (!valid(doc, tok))
        return -1;
    end = toks(doc)[tok].end;
    for (i = tok + 1; i < doc->ntok && toks(doc)[i].start < end; i++)
        ;
    return i;
}

int mj_array_at(const mj_doc *doc, int arr, int idx)
{
    int i, t;

    if (mj_kind(doc, arr) != MJ_ARRAY || idx < 0 || idx >= mj_size(doc, arr))
        return -1;
    t = arr + 1;
    for (i = 0; i < idx; i++)
        t = mj_skip(doc, t);
    return t;
}

int mj_object_key_at(const mj_doc *doc, int obj, int idx)
{
    int i, t;

    if (mj_kind(doc, obj) != MJ_OBJECT || idx < 0 || idx >= mj_size(doc, obj))
        return -1;
    t = obj + 1;
    for (i = 0; i < idx; i++)
        t = mj_skip(doc, t + 1);   /* past the key's value */
    return t;
}

int mj_get(const mj_doc *doc, int obj, const char *key)
{
    int i, n = mj_size(doc, obj);

    if (mj_kind(doc, obj) != MJ_OBJECT)
        return -1;
    for (i = 0; i < n; i++) {
        int k = mj_object_key_at(doc, obj, i);
        if (mj_eq(doc, k, key))
            return k + 1;
    }
    return -1;
}

const char *mj_str(const mj_doc *doc, int tok, size_t *len)
{
    if (!valid(doc, tok)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = (size_t)(toks(doc)[tok].end - toks(doc)[tok].start);
    return doc->text + toks(doc)[tok].start;
}

bool mj_eq(const mj_doc *doc, int tok, const char *s)
{
    size_t len;
    const char *p;

    if (mj_kind(doc, tok) != MJ_STRING)
        return false;
    p = mj_str(doc, tok, &len);
    return strlen(s) == len && memcmp(p, s, len) == 0;
}

int mj_copy(const mj_doc *doc, int tok, char *out, size_t cap)
{
    size_t len;
    const char *p;

    if (mj_kind(doc, tok) != MJ_STRING)
        return -1;
    p = mj_str(doc, tok, &len);
    if (len + 1 > cap)
        return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

int mj_int(const mj_doc *doc, int tok, long long *v)
{
    char buf[32], *end;
    size_t len;
    const char *p;
    long long x;

    if (mj_kind(doc, tok) != MJ_PRIMITIVE)
        return -1;
    p = mj_str(doc, tok, &len);
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    x = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || !(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return -1;
    *v = x;
    return 0;
}

int mj_bool(const mj_doc *doc, int tok, bool *v)
{
    size_t len;
    const char *p;

    if (mj_kind(doc, tok) != MJ_PRIMITIVE)
        return -1;
    p = mj_str(doc, tok, &len);
    if (len == 4 && memcmp(p, "true", 4) == 0) {
        *v = true;
        return 0;
    }
    if (len == 5 && memcmp(p, "false", 5) == 0) {
        *v = false;
        return 0;
    }
    return -1;
}

int mj_hex(const mj_doc *doc, int tok, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t len;
    const char *p;

    if (mj_kind(doc, tok) != MJ_STRING)
        return -1;
    p = mj_str(doc, tok, &len);
    return mt_hex_decode(p, len, out, cap, out_len);
}

void mj_pos(const mj_doc *doc, int tok, int *line, int *col)
{
    if (!valid(doc, tok)) {
        *line = 0;
        *col = 0;
        return;
    }
    offset_pos(doc->text, (size_t)toks(doc)[tok].start, line, col);
    /* jsmn's string tokens start after the opening quote: point at the quote. */
    if (toks(doc)[tok].type == JSMN_STRING && *col > 1)
        (*col)--;
}

int mt_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t i;

    if (hex == NULL || hex_len % 2 != 0 || hex_len / 2 > cap)
        return -1;
    for (i = 0; i < hex_len; i += 2) {
        int hi = mt_hex_digit(hex[i]), lo = mt_hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)((hi << 4) | lo);
    }
    if (out_len)
        *out_len = hex_len / 2;
    return 0;
}

void mt_hex_encode(const uint8_t *in, size_t len, char *out, int hex_case)
{
    const char *digits = hex_case == MT_HEX_UPPER ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}
