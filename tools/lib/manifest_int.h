/* manifest_int.h: what the manifest compiler's modules share and nobody else
 * uses: problem reporting with JSON positions, the text decoders, and the
 * per-field readers of the JSON walk. */
#ifndef MT_MANIFEST_INT_H
#define MT_MANIFEST_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "manifest.h"
#include "mt_json.h"

#if defined(__GNUC__)
#define MF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MF_PRINTF(a, b)
#endif

/* --- manifest_report.c ---------------------------------------------------- */
/* Adds a problem at line/column (never fails: a full list only counts). */
void mf_problem_at(mt_manifest_report *r, int line, int column, const char *fmt, ...) MF_PRINTF(4, 5);
/* Adds a problem at the first character of token tok (the opening quote of a
 * string, the brace of an object), as mj_pos gives it: 1-based, in bytes. */
void mf_problem(mt_manifest_report *r, const mj_doc *doc, int tok, const char *fmt, ...) MF_PRINTF(4, 5);
/* Adds a problem at byte offset off inside string token tok's text. */
void mf_problem_in(mt_manifest_report *r, const mj_doc *doc, int tok, size_t off, const char *fmt, ...) MF_PRINTF(5, 6);
/* Sorts the stored problems by position (stable). */
void mf_report_sort(mt_manifest_report *r);

/* --- manifest_text.c ------------------------------------------------------ */
/* Decoding results. */
enum { MF_TXT_OK = 0, MF_TXT_BAD_CHAR = -1, MF_TXT_ODD = -2, MF_TXT_BAD_ESCAPE = -3,
       MF_TXT_BAD_UTF8 = -4 };
/* Hex digits, optionally with spaces between bytes.  out may be NULL
 * (count only); at most cap bytes are stored, *out_len counts them all.  On an
 * error *bad is the offset of the offending character. */
int mf_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len, size_t *bad);
/* A JSON string's raw text (escapes undone) to UTF-8 bytes, checking that the
 * result is well-formed UTF-8.  Same conventions as mf_hex_decode. */
int mf_json_text_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len, size_t *bad);

/* --- manifest_fields.c ---------------------------------------------------- */
/* Readers of one JSON value.  Each reports its own problem (with the field's
 * path, e.g. "files[2].size") and returns 0 on success, -1 after a report. */
int mf_read_int(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                long long lo, long long hi, long long *v);
int mf_read_string(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                   const char **s, size_t *n);
/* A string that must be one of names[0..count); *index is its position. */
int mf_read_choice(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                   const char *const *names, size_t count, size_t *index);
/* Reports what mf_hex_decode (hex) or mf_json_text_decode (!hex) refused:
 * rc at offset bad of string token tok. */
void mf_text_problem(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path, bool hex, int rc,
                     size_t bad);
/* A hex string of min..max bytes into out (cap >= max). */
int mf_read_hex(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                size_t min, size_t max, uint8_t *out, size_t *len);

/* The fields of one JSON object, checked against a list of known names:
 * unknown and duplicate keys are reported; values[i] is the value token of
 * names[i], or -1 when absent.  Returns -1 (after a report) when tok is not
 * an object, else 0. */
#define MF_MAX_FIELDS 12
int mf_fields(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
              const char *const *names, size_t count, int values[MF_MAX_FIELDS]);
/* Reports "missing required field" at the object when values[i] is -1. */
int mf_require(mt_manifest_report *r, const mj_doc *doc, int obj, const char *path,
               const char *name, int value);

/* --- manifest_files.c ----------------------------------------------------- */
/* Where each EF's identifying values are, for the cross checks. */
typedef struct mf_ef_pos {
    int obj, fid, sfi;
} mf_ef_pos;

/* Reads the "files" array into m->efs (first MT_MANIFEST_MAX_EFS entries)
 * and checks each entry and the FID/SFI uniqueness.  *image_part receives the
 * bytes all A3 TLVs take (entries beyond the limit included). */
void mf_read_files(mt_manifest_report *r, const mj_doc *doc, int tok, mt_manifest *m,
                   size_t *image_part);

/* --- manifest_size.c ------------------------------------------------------ */
/* Bytes a TLV with a one-byte tag and a value of len bytes takes. */
size_t mf_tlv_size(size_t len);
/* Bytes the A3 TLV of ef takes. */
size_t mf_ef_tlv_size(const mt_manifest_ef *ef);
/* Bytes of the key set data (A1 value) for key_len-byte keys. */
size_t mf_keyset_data_size(size_t key_len);
/* Bytes of everything but the A3 TLVs. */
size_t mf_head_size(const mt_manifest *m, size_t key_len);

#endif
