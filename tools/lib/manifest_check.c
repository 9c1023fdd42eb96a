/* manifest_check.c: parses a manifest and checks it against PROTOCOL.md §2
 * and §6, reporting every problem rather than stopping at the first: the top
 * level (AID, PIN policy, key set name, minimum level) is read here, the EFs
 * in manifest_files.c, and the image size limit is checked last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_ct.h"
#include "manifest_int.h"

static const uint8_t am_aid[] = { 0xF0, 0x4D, 0x4E, 0x41, 0x50, 0x41, 0x4D };

enum { T_AID, T_PIN, T_KEYSET, T_LEVEL, T_FILES, T_DESC, T_COUNT };
static const char *const top_fields[T_COUNT] = {
    "aid", "pin", "key_set", "min_level", "files", "description"
};
enum { P_TRIES, P_MIN, P_MAX, P_INITIAL, P_COUNT };
static const char *const pin_fields[P_COUNT] = { "max_tries", "min_length", "max_length", "initial" };
static const char *const level_names[] = { "01", "03", "11", "13", "33" };
static const uint8_t level_codes[] = { 0x01, 0x03, 0x11, 0x13, 0x33 };

static void read_aid(mt_manifest_report *r, const mj_doc *doc, int tok, mt_manifest *m)
{
    uint8_t aid[MT_MANIFEST_AID_MAX];
    size_t len;
    size_t common;
    char hex[2 * MT_MANIFEST_AID_MAX + 1];

    if (mf_read_hex(r, doc, tok, "aid", MT_MANIFEST_AID_MIN, MT_MANIFEST_AID_MAX, aid, &len) != 0)
        return;
    for (size_t i = 0; i < len; i++)
        (void)snprintf(hex + 2 * i, 3, "%02X", aid[i]);
    /* The card refuses an AID that equals the AM's, or that is a prefix of it
     * or has it as a prefix (PROTOCOL.md §2, LOAD AP 6A89). */
    common = len < sizeof am_aid ? len : sizeof am_aid;
    if (memcmp(aid, am_aid, common) == 0) {
        if (len == sizeof am_aid)
            mf_problem(r, doc, tok, "aid: %s is the area manager's AID", hex);
        else if (len < sizeof am_aid)
            mf_problem(r, doc, tok, "aid: %s is a prefix of the area manager's AID F04D4E4150414D", hex);
        else
            mf_problem(r, doc, tok, "aid: %s starts with the area manager's AID F04D4E4150414D", hex);
        return;
    }
    memcpy(m->aid, aid, len);
    m->aid_len = (uint8_t)len;
}

static void read_pin(mt_manifest_report *r, const mj_doc *doc, int tok, mt_manifest *m)
{
    int v[MF_MAX_FIELDS];
    long long x;
    bool min_ok = false, max_ok = false;

    if (mf_fields(r, doc, tok, "pin", pin_fields, P_COUNT, v) != 0)
        return;
    (void)mf_require(r, doc, tok, "pin", "max_tries", v[P_TRIES]);
    (void)mf_require(r, doc, tok, "pin", "min_length", v[P_MIN]);
    (void)mf_require(r, doc, tok, "pin", "max_length", v[P_MAX]);
    if (v[P_TRIES] >= 0 && mf_read_int(r, doc, v[P_TRIES], "pin.max_tries", 1, MT_MANIFEST_MAX_TRIES, &x) == 0)
        m->max_tries = (uint8_t)x;
    if (v[P_MIN] >= 0 &&
        mf_read_int(r, doc, v[P_MIN], "pin.min_length", MT_MANIFEST_PIN_MIN, MT_MANIFEST_PIN_MAX, &x) == 0) {
        m->pin_min = (uint8_t)x;
        min_ok = true;
    }
    if (v[P_MAX] >= 0 &&
        mf_read_int(r, doc, v[P_MAX], "pin.max_length", MT_MANIFEST_PIN_MIN, MT_MANIFEST_PIN_MAX, &x) == 0) {
        m->pin_max = (uint8_t)x;
        max_ok = true;
    }
    if (min_ok && max_ok && m->pin_min > m->pin_max) {
        mf_problem(r, doc, v[P_MAX], "pin.max_length: %u is less than min_length %u", (unsigned)m->pin_max,
                   (unsigned)m->pin_min);
        max_ok = false;
    }
    if (v[P_INITIAL] >= 0) {
        const char *s;
        size_t n;
        if (mf_read_string(r, doc, v[P_INITIAL], "pin.initial", &s, &n) != 0)
            return;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') {
                /* The PIN itself is never echoed: only where it breaks the rule. */
                mf_problem_in(r, doc, v[P_INITIAL], i, "pin.initial: a PIN is ASCII digits only");
                return;
            }
        }
        if (min_ok && max_ok && (n < m->pin_min || n > m->pin_max)) {
            mf_problem(r, doc, v[P_INITIAL], "pin.initial: %zu digits, the policy allows %u to %u", n,
                       (unsigned)m->pin_min, (unsigned)m->pin_max);
            return;
        }
        if (n > MT_MANIFEST_PIN_MAX) {
            mf_problem(r, doc, v[P_INITIAL], "pin.initial: %zu digits, at most %d", n, MT_MANIFEST_PIN_MAX);
            return;
        }
        memcpy(m->initial_pin, s, n);
        m->initial_pin_len = (uint8_t)n;
    }
}

static void read_key_set(mt_manifest_report *r, const mj_doc *doc, int tok, mt_manifest *m)
{
    const char *s;
    size_t n;

    if (mf_read_string(r, doc, tok, "key_set", &s, &n) != 0)
        return;
    if (n == 0 || n > MT_MANIFEST_KEY_NAME_MAX) {
        mf_problem(r, doc, tok, "key_set: a key set name has 1 to %d characters", MT_MANIFEST_KEY_NAME_MAX);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.')) {
            mf_problem_in(r, doc, tok, i, "key_set: a key set name uses only letters, digits, '-', '_' and '.'");
            return;
        }
    }
    memcpy(m->key_set, s, n);
    m->key_set[n] = '\0';
}

static void check_root(mt_manifest_report *r, const mj_doc *doc, mt_manifest *m)
{
    int v[MF_MAX_FIELDS];
    size_t files_part = 0;
    size_t idx;

    if (mf_fields(r, doc, 0, "", top_fields, T_COUNT, v) != 0)
        return;
    (void)mf_require(r, doc, 0, "", "aid", v[T_AID]);
    (void)mf_require(r, doc, 0, "", "pin", v[T_PIN]);
    (void)mf_require(r, doc, 0, "", "key_set", v[T_KEYSET]);
    (void)mf_require(r, doc, 0, "", "files", v[T_FILES]);

    if (v[T_AID] >= 0)
        read_aid(r, doc, v[T_AID], m);
    if (v[T_PIN] >= 0)
        read_pin(r, doc, v[T_PIN], m);
    if (v[T_KEYSET] >= 0) {
        read_key_set(r, doc, v[T_KEYSET], m);
        mj_pos(doc, v[T_KEYSET], &m->key_set_line, &m->key_set_column);
    }
    if (v[T_LEVEL] >= 0 && mf_read_choice(r, doc, v[T_LEVEL], "min_level", level_names, 5, &idx) == 0) {
        m->has_min_level = true;
        m->min_level = level_codes[idx];
    }
    if (v[T_DESC] >= 0) {
        const char *s;
        size_t n;
        (void)mf_read_string(r, doc, v[T_DESC], "description", &s, &n);
    }
    if (v[T_FILES] >= 0)
        mf_read_files(r, doc, v[T_FILES], m, &files_part);

    /* Checked with the largest key set data, so that no key set can push a
     * checked manifest over the limit when it is built. */
    {
        size_t total = mf_head_size(m, 32) + files_part;
        if (total > MT_MANIFEST_MAX_IMAGE)
            mf_problem(r, doc, v[T_FILES] >= 0 ? v[T_FILES] : 0,
                       "the AP image would be %zu bytes (with 32-byte keys), more than %d", total,
                       MT_MANIFEST_MAX_IMAGE);
    }
}

int mt_manifest_check(const char *text, size_t len, mt_manifest *m, mt_manifest_report *r)
{
    mt_manifest_report none;
    mj_doc doc;
    size_t before;

    if (r == NULL) {
        mt_manifest_report_init(&none, NULL, 0);
        r = &none;
    }
    if (text == NULL || m == NULL)
        return MT_MANIFEST_E_PARAM;
    memset(m, 0, sizeof *m);
    memset(&doc, 0, sizeof doc);
    before = r->count;

    if (mj_parse(&doc, text, len) != 0) {
        int line = 0, column = 0, off = 0;
        if (sscanf(doc.err, "line %d, column %d: %n", &line, &column, &off) >= 2 && off > 0)
            mf_problem_at(r, line, column, "JSON syntax: %s", doc.err + off);
        else
            mf_problem_at(r, 0, 0, "JSON syntax: %s", doc.err);
        mj_free(&doc);   /* wipes the text (the initial PIN) */
        return MT_MANIFEST_E_INVALID;
    }
    if (doc.ntok < 1) {
        mf_problem_at(r, 1, 1, "empty document: expected a manifest object");
    } else {
        check_root(r, &doc, m);
        /* jsmn accepts several top-level values one after another. */
        if (mj_skip(&doc, 0) < doc.ntok)
            mf_problem(r, &doc, mj_skip(&doc, 0), "unexpected data after the manifest object");
    }
    mj_free(&doc);   /* wipes the text (the initial PIN) */
    mf_report_sort(r);
    if (r->count != before) {
        mt_manifest_wipe(m);
        return MT_MANIFEST_E_INVALID;
    }
    m->checked = true;
    return MT_MANIFEST_OK;
}

int mt_manifest_check_file(const char *path, mt_manifest *m, mt_manifest_report *r)
{
    /* Generous: a full 32 KiB EF as spaced hex is about 96 KiB of JSON. */
    enum { MAX_FILE = 4 * 1024 * 1024 };
    FILE *f;
    char *buf;
    size_t n;
    int rc;

    if (path == NULL || m == NULL)
        return MT_MANIFEST_E_PARAM;
    memset(m, 0, sizeof *m);
    f = fopen(path, "rb");
    if (f == NULL) {
        mf_problem_at(r, 0, 0, "%s: cannot open", path);
        return MT_MANIFEST_E_IO;
    }
    buf = malloc(MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        mf_problem_at(r, 0, 0, "%s: out of memory", path);
        return MT_MANIFEST_E_IO;
    }
    /* The text holds the initial PIN: no stdio buffer keeps a copy, and
     * every way out wipes what was read. */
    setvbuf(f, NULL, _IONBF, 0);
    n = fread(buf, 1, MAX_FILE + 1, f);
    if (ferror(f) || n > MAX_FILE) {
        fclose(f);
        cm_wipe(buf, n);
        free(buf);
        mf_problem_at(r, 0, 0, "%s: %s", path, n > MAX_FILE ? "larger than 4 MiB" : "read error");
        return MT_MANIFEST_E_IO;
    }
    fclose(f);
    rc = mt_manifest_check(buf, n, m, r);
    cm_wipe(buf, n);
    free(buf);
    return rc;
}

void mt_manifest_wipe(mt_manifest *m)
{
    if (m != NULL)
        cm_wipe(m, sizeof *m);
}
