/* mt_json.h: a small JSON document reader on top of jsmn, for the tools
 * (manifest compiler) and the tests (vector files).  Not for the card.
 *
 * A document owns its text and its token array; lookups return token indexes
 * (-1 when absent).  Every token knows its line and column for error reports. */
#ifndef MT_JSON_H
#define MT_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum { MJ_UNDEFINED = 0, MJ_OBJECT, MJ_ARRAY, MJ_STRING, MJ_PRIMITIVE } mj_type;

typedef struct mj_doc {
    char *text;          /* NUL-terminated copy of the input */
    size_t len;
    void *tokens;        /* jsmntok_t[] */
    int ntok;
    char err[160];       /* set when parsing fails: "line L, column C: ..." */
} mj_doc;

/* Parses text (len bytes).  0 on success, -1 with doc->err set. */
int mj_parse(mj_doc *doc, const char *text, size_t len);
/* Reads and parses a file.  0, or -1 with doc->err set. */
int mj_load_file(mj_doc *doc, const char *path);
void mj_free(mj_doc *doc);

mj_type mj_kind(const mj_doc *doc, int tok);
/* Number of elements of an array, or of key/value pairs of an object. */
int mj_size(const mj_doc *doc, int tok);
/* The i-th element of an array (-1 if out of range). */
int mj_array_at(const mj_doc *doc, int arr, int i);
/* The value of key in object obj (-1 when absent or obj is no object). */
int mj_get(const mj_doc *doc, int obj, const char *key);
/* The i-th key of an object (its value is the next token: mj_next of it). */
int mj_object_key_at(const mj_doc *doc, int obj, int i);
/* The token after tok and all its children. */
int mj_skip(const mj_doc *doc, int tok);

/* Token text (not NUL-terminated) and its length. */
const char *mj_str(const mj_doc *doc, int tok, size_t *len);
/* True when the token is a string equal to s. */
bool mj_eq(const mj_doc *doc, int tok, const char *s);
/* Copies a string token into out (NUL-terminated).  0, or -1 if it does not fit. */
int mj_copy(const mj_doc *doc, int tok, char *out, size_t cap);
/* Integer primitive: 0 and *v, or -1 when not an integer in range. */
int mj_int(const mj_doc *doc, int tok, long long *v);
/* Boolean primitive: 0 and *v, or -1. */
int mj_bool(const mj_doc *doc, int tok, bool *v);
/* Decodes a hex string token into out (cap bytes).  0 and *out_len, or -1
 * (odd length, bad digit, too long). */
int mj_hex(const mj_doc *doc, int tok, uint8_t *out, size_t cap, size_t *out_len);
/* 1-based line and column of the token's first character. */
void mj_pos(const mj_doc *doc, int tok, int *line, int *col);

/* Hex helpers for tests and tools.  mt_hex_digit: 0..15 for a hex digit
 * (either case), -1 for anything else. */
int mt_hex_digit(char c);
int mt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap, size_t *out_len);
/* The one hex writer of the tools: 2*len digits and a NUL into out, in
 * lower case (MT_HEX_LOWER: digests, JSON) or upper case (MT_HEX_UPPER: what
 * the mnap CLI shows: AIDs, serials, ATRs, KCVs). */
#define MT_HEX_LOWER 0
#define MT_HEX_UPPER 1
void mt_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */, int hex_case);

#endif
