/* manifest_fields.c: readers for the JSON values of a manifest, each
 * reporting its own problem with the field's path ("files[2].size") and the
 * value's position.  Keeping them here lets the walk over the manifest's
 * structure (manifest_check.c, manifest_files.c) read as a list of fields. */
#include <stdio.h>
#include <string.h>

#include "manifest_int.h"

/* "path: " before a message, or nothing at the top level. */
#define PFX(path) (path)[0] != '\0' ? (path) : "", (path)[0] != '\0' ? ": " : ""

int mf_read_int(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                long long lo, long long hi, long long *v)
{
    if (mj_kind(doc, tok) != MJ_PRIMITIVE || mj_int(doc, tok, v) != 0) {
        mf_problem(r, doc, tok, "%s%sexpected an integer", PFX(path));
        return -1;
    }
    if (*v < lo || *v > hi) {
        mf_problem(r, doc, tok, "%s%s%lld is out of range (%lld..%lld)", PFX(path), *v, lo, hi);
        return -1;
    }
    return 0;
}

int mf_read_string(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                   const char **s, size_t *n)
{
    if (mj_kind(doc, tok) != MJ_STRING) {
        mf_problem(r, doc, tok, "%s%sexpected a string", PFX(path));
        return -1;
    }
    *s = mj_str(doc, tok, n);
    return 0;
}

int mf_read_choice(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                   const char *const *names, size_t count, size_t *index)
{
    const char *s;
    size_t n;
    char list[96] = "";
    size_t used = 0;

    if (mf_read_string(r, doc, tok, path, &s, &n) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (mj_eq(doc, tok, names[i])) {
            *index = i;
            return 0;
        }
    }
    for (size_t i = 0; i < count && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s\"%s\"", i > 0 ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    mf_problem(r, doc, tok, "%s%s\"%.*s\" is not one of %s", PFX(path), n > 32 ? 32 : (int)n, s, list);
    return -1;
}

void mf_text_problem(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path, bool hex, int rc,
                     size_t bad)
{
    size_t n;
    const char *s = mj_str(doc, tok, &n);
    char c = (s != NULL && bad < n) ? s[bad] : '?';

    switch (rc) {
    case MF_TXT_BAD_CHAR:
        if (hex)
            mf_problem_in(r, doc, tok, bad, "%s%s'%c' is not a hex digit", PFX(path),
                          (c >= 0x20 && c < 0x7F) ? c : '?');
        else
            mf_problem_in(r, doc, tok, bad, "%s%sraw control character (use an escape such as \\n)", PFX(path));
        break;
    case MF_TXT_ODD:
        mf_problem_in(r, doc, tok, bad, "%s%shex digit without its pair", PFX(path));
        break;
    case MF_TXT_BAD_ESCAPE:
        mf_problem_in(r, doc, tok, bad, "%s%sbad escape sequence", PFX(path));
        break;
    default:
        mf_problem_in(r, doc, tok, bad, "%s%snot valid UTF-8", PFX(path));
        break;
    }
}

int mf_read_hex(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
                size_t min, size_t max, uint8_t *out, size_t *len)
{
    const char *s;
    size_t n, bad;
    int rc;

    if (mj_kind(doc, tok) != MJ_STRING) {
        mf_problem(r, doc, tok, "%s%sexpected a string of hex digits", PFX(path));
        return -1;
    }
    s = mj_str(doc, tok, &n);
    rc = mf_hex_decode(s, n, out, max, len, &bad);
    if (rc != MF_TXT_OK) {
        mf_text_problem(r, doc, tok, path, true, rc, bad);
        return -1;
    }
    if (*len < min || *len > max) {
        if (min == max)
            mf_problem(r, doc, tok, "%s%s%zu byte%s, must be exactly %zu", PFX(path), *len, *len == 1 ? "" : "s",
                       min);
        else
            mf_problem(r, doc, tok, "%s%s%zu byte%s, must be %zu to %zu", PFX(path), *len, *len == 1 ? "" : "s",
                       min, max);
        return -1;
    }
    return 0;
}

int mf_fields(mt_manifest_report *r, const mj_doc *doc, int tok, const char *path,
              const char *const *names, size_t count, int values[MF_MAX_FIELDS])
{
    int pairs;

    for (size_t i = 0; i < MF_MAX_FIELDS; i++)
        values[i] = -1;
    if (mj_kind(doc, tok) != MJ_OBJECT) {
        mf_problem(r, doc, tok, "%s%sexpected an object", PFX(path));
        return -1;
    }
    pairs = mj_size(doc, tok);
    for (int i = 0; i < pairs; i++) {
        int key = mj_object_key_at(doc, tok, i);
        size_t k;
        bool known = false;

        if (key < 0)
            continue;
        for (k = 0; k < count && k < MF_MAX_FIELDS; k++) {
            if (mj_kind(doc, key) == MJ_STRING && mj_eq(doc, key, names[k])) {
                known = true;
                break;
            }
        }
        if (!known) {
            size_t n;
            const char *s = mj_str(doc, key, &n);
            mf_problem(r, doc, key, "%s%sunknown field \"%.*s\"", PFX(path), n > 32 ? 32 : (int)n,
                       s != NULL ? s : "");
        } else if (values[k] >= 0) {
            mf_problem(r, doc, key, "%s%sduplicate field \"%s\"", PFX(path), names[k]);
        } else {
            /* jsmn stores an object as key, value, key, value... */
            values[k] = key + 1;
        }
    }
    return 0;
}

int mf_require(mt_manifest_report *r, const mj_doc *doc, int obj, const char *path,
               const char *name, int value)
{
    if (value >= 0)
        return 0;
    mf_problem(r, doc, obj, "%s%smissing required field \"%s\"", PFX(path), name);
    return -1;
}
