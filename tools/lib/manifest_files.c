/* manifest_files.c: the "files" array of a manifest: one JSON object per
 * elementary file, checked field by field against PROTOCOL.md §6 (types,
 * sizes, access rules, initial content), then FIDs and SFIs checked for
 * uniqueness across the AP. */
#include <stdio.h>
#include <string.h>

#include "manifest_int.h"

enum { F_FID, F_SFI, F_TYPE, F_SIZE, F_RECLEN, F_RECCOUNT, F_READ, F_WRITE, F_HEX, F_TEXT, F_DESC,
       F_COUNT };
static const char *const ef_fields[F_COUNT] = {
    "fid", "sfi", "type", "size", "record_length", "record_count", "read", "write",
    "content_hex", "content_text", "description"
};
static const char *const type_names[] = { "transparent", "linear-fixed", "cyclic" };
static const uint8_t type_codes[] = { MNAP_EF_TRANSPARENT, MNAP_EF_LINEAR_FIXED, MNAP_EF_CYCLIC };
static const char *const rule_names[] = { "SM", "PIN", "NEVER" };
static const uint8_t rule_codes[] = { MNAP_RULE_SM, MNAP_RULE_PIN, MNAP_RULE_NEVER };

/* What the cross checks need of each stored EF. */
typedef struct ef_seen {
    bool fid_ok, sfi_ok;
    uint16_t fid;
    uint8_t sfi;
} ef_seen;

static bool reserved_fid(uint16_t fid)
{
    return fid == 0x3F00 || fid == 0x3FFF || fid == 0xFFFF;
}

static void path_of(char *buf, size_t cap, size_t i, const char *field)
{
    (void)snprintf(buf, cap, "files[%zu]%s%s", i, field[0] != '\0' ? "." : "", field);
}

/* Decodes the initial content (hex or text) of one EF into the manifest's
 * content pool, or only measures it when the pool is full (the image size
 * check then reports the manifest). */
static int read_content(mt_manifest_report *r, const mj_doc *doc, int tok, bool hex, size_t i,
                        mt_manifest *m, size_t *len)
{
    char path[48];
    const char *s;
    size_t n, bad;
    size_t room = sizeof m->content - m->content_used;
    uint8_t *dst = m->content + m->content_used;
    int rc;

    path_of(path, sizeof path, i, hex ? "content_hex" : "content_text");
    if (mf_read_string(r, doc, tok, path, &s, &n) != 0)
        return -1;
    rc = hex ? mf_hex_decode(s, n, dst, room, len, &bad)
             : mf_json_text_decode(s, n, dst, room, len, &bad);
    if (rc != MF_TXT_OK) {
        mf_text_problem(r, doc, tok, path, hex, rc, bad);
        return -1;
    }
    return 0;
}

/* Reads files[i] into *ef.  Returns 0 when the entry is valid. */
static int read_ef(mt_manifest_report *r, const mj_doc *doc, int obj, size_t i, mt_manifest *m,
                   mt_manifest_ef *ef, ef_seen *seen, int v[MF_MAX_FIELDS])
{
    char path[48];
    char fpath[64];
    int bad = 0;
    long long x;
    size_t idx;
    uint8_t fid[2];
    size_t fid_len;
    bool type_known = false;
    bool record = false;

    memset(ef, 0, sizeof *ef);
    memset(seen, 0, sizeof *seen);
    path_of(path, sizeof path, i, "");
    if (mf_fields(r, doc, obj, path, ef_fields, F_COUNT, v) != 0)
        return -1;
    /* Unknown and duplicate fields were reported already; the caller judges
     * the whole manifest by whether any problem was reported at all. */

    bad |= mf_require(r, doc, obj, path, "fid", v[F_FID]);
    bad |= mf_require(r, doc, obj, path, "type", v[F_TYPE]);
    bad |= mf_require(r, doc, obj, path, "read", v[F_READ]);
    bad |= mf_require(r, doc, obj, path, "write", v[F_WRITE]);

    if (v[F_FID] >= 0) {
        path_of(fpath, sizeof fpath, i, "fid");
        if (mf_read_hex(r, doc, v[F_FID], fpath, 2, 2, fid, &fid_len) != 0) {
            bad = -1;
        } else {
            ef->fid = (uint16_t)((fid[0] << 8) | fid[1]);
            if (reserved_fid(ef->fid)) {
                mf_problem(r, doc, v[F_FID], "%s: FID %04X is reserved", fpath, ef->fid);
                bad = -1;
            }
            seen->fid_ok = true;
            seen->fid = ef->fid;
        }
    }
    if (v[F_SFI] >= 0) {
        path_of(fpath, sizeof fpath, i, "sfi");
        if (mf_read_int(r, doc, v[F_SFI], fpath, 1, 30, &x) != 0) {
            bad = -1;
        } else {
            ef->sfi = (uint8_t)x;
            seen->sfi_ok = true;
            seen->sfi = ef->sfi;
        }
    }
    if (v[F_TYPE] >= 0) {
        path_of(fpath, sizeof fpath, i, "type");
        if (mf_read_choice(r, doc, v[F_TYPE], fpath, type_names, 3, &idx) != 0) {
            bad = -1;
        } else {
            ef->type = type_codes[idx];
            type_known = true;
            record = ef->type != MNAP_EF_TRANSPARENT;
        }
    }
    if (v[F_READ] >= 0) {
        path_of(fpath, sizeof fpath, i, "read");
        if (mf_read_choice(r, doc, v[F_READ], fpath, rule_names, 3, &idx) != 0)
            bad = -1;
        else
            ef->read_rule = rule_codes[idx];
    }
    if (v[F_WRITE] >= 0) {
        path_of(fpath, sizeof fpath, i, "write");
        if (mf_read_choice(r, doc, v[F_WRITE], fpath, rule_names, 3, &idx) != 0)
            bad = -1;
        else
            ef->write_rule = rule_codes[idx];
    }
    if (v[F_DESC] >= 0) {
        const char *s;
        size_t n;
        path_of(fpath, sizeof fpath, i, "description");
        bad |= mf_read_string(r, doc, v[F_DESC], fpath, &s, &n);
    }

    /* Size fields: each checked for range; whether it belongs depends on the
     * type, when the type is known. */
    if (type_known && !record)
        bad |= mf_require(r, doc, obj, path, "size", v[F_SIZE]);
    if (type_known && record) {
        bad |= mf_require(r, doc, obj, path, "record_length", v[F_RECLEN]);
        bad |= mf_require(r, doc, obj, path, "record_count", v[F_RECCOUNT]);
    }
    if (v[F_SIZE] >= 0) {
        path_of(fpath, sizeof fpath, i, "size");
        if (type_known && record) {
            mf_problem(r, doc, v[F_SIZE] - 1,
                       "%s: only transparent EFs have a size; record EFs take record_length and record_count",
                       fpath);
            bad = -1;
        } else if (mf_read_int(r, doc, v[F_SIZE], fpath, 1, MT_MANIFEST_MAX_TRANSPARENT, &x) != 0) {
            bad = -1;
        } else {
            ef->size = (uint16_t)x;
        }
    }
    if (v[F_RECLEN] >= 0) {
        path_of(fpath, sizeof fpath, i, "record_length");
        if (type_known && !record) {
            mf_problem(r, doc, v[F_RECLEN] - 1, "%s: only record EFs (linear-fixed, cyclic) have records",
                       fpath);
            bad = -1;
        } else if (mf_read_int(r, doc, v[F_RECLEN], fpath, 1, MT_MANIFEST_MAX_RECORD_LEN, &x) != 0) {
            bad = -1;
        } else {
            ef->record_length = (uint8_t)x;
        }
    }
    if (v[F_RECCOUNT] >= 0) {
        path_of(fpath, sizeof fpath, i, "record_count");
        if (type_known && !record) {
            mf_problem(r, doc, v[F_RECCOUNT] - 1, "%s: only record EFs (linear-fixed, cyclic) have records",
                       fpath);
            bad = -1;
        } else if (mf_read_int(r, doc, v[F_RECCOUNT], fpath, 1, MT_MANIFEST_MAX_RECORDS, &x) != 0) {
            bad = -1;
        } else {
            ef->record_count = (uint8_t)x;
        }
    }

    /* Initial content: transparent EFs only, one form, no longer than the EF. */
    if (v[F_HEX] >= 0 && v[F_TEXT] >= 0) {
        int later = v[F_HEX] > v[F_TEXT] ? v[F_HEX] : v[F_TEXT];
        path_of(fpath, sizeof fpath, i, "");
        mf_problem(r, doc, later - 1, "%s: give content_hex or content_text, not both", fpath);
        bad = -1;
    } else if (v[F_HEX] >= 0 || v[F_TEXT] >= 0) {
        bool hex = v[F_HEX] >= 0;
        int tok = hex ? v[F_HEX] : v[F_TEXT];
        size_t len = 0;
        path_of(fpath, sizeof fpath, i, hex ? "content_hex" : "content_text");
        if (type_known && record) {
            mf_problem(r, doc, tok - 1, "%s: initial content is for transparent EFs only", fpath);
            bad = -1;
        } else if (read_content(r, doc, tok, hex, i, m, &len) != 0) {
            bad = -1;
        } else if (ef->size != 0 && len > ef->size) {
            mf_problem(r, doc, tok, "%s: %zu bytes, more than the EF's size of %u bytes", fpath, len,
                       (unsigned)ef->size);
            bad = -1;
        } else if (len > MT_MANIFEST_MAX_TRANSPARENT) {
            /* No valid size to compare with: hold it to the largest EF. */
            mf_problem(r, doc, tok, "%s: %zu bytes, more than the largest EF (%d bytes)", fpath, len,
                       MT_MANIFEST_MAX_TRANSPARENT);
            bad = -1;
        } else if (len > 0) {
            ef->has_content = true;
            ef->content_len = (uint16_t)len;
            if (len <= sizeof m->content - m->content_used) {
                ef->content_off = (uint16_t)m->content_used;
                m->content_used += len;
            } else {
                /* Too much content altogether: measured, not stored; the
                 * image size check refuses the manifest. */
                bad = -1;
            }
        }
    }
    return bad != 0 ? -1 : 0;
}

void mf_read_files(mt_manifest_report *r, const mj_doc *doc, int tok, mt_manifest *m,
                   size_t *image_part)
{
    ef_seen seen[MT_MANIFEST_MAX_EFS];
    int n;

    *image_part = 0;
    m->ef_count = 0;
    /* Entries that are not objects leave their slot empty: nothing to clash with. */
    memset(seen, 0, sizeof seen);
    if (mj_kind(doc, tok) != MJ_ARRAY) {
        mf_problem(r, doc, tok, "files: expected an array of EF objects");
        return;
    }
    n = mj_size(doc, tok);
    for (int i = 0; i < n; i++) {
        int obj = mj_array_at(doc, tok, i);
        int v[MF_MAX_FIELDS];
        mt_manifest_ef ef;
        ef_seen s;
        int rc;
        size_t keep = (size_t)i;

        if (obj < 0)
            continue;
        if (i == MT_MANIFEST_MAX_EFS)
            mf_problem(r, doc, obj, "files[%d]: more than %d EFs in one AP", i, MT_MANIFEST_MAX_EFS);
        rc = read_ef(r, doc, obj, (size_t)i, m, &ef, &s, v);
        *image_part += mf_ef_tlv_size(&ef);
        if (mj_kind(doc, obj) != MJ_OBJECT)
            continue;
        /* FIDs and SFIs are unique within the AP: report the later one. */
        for (size_t j = 0; j < keep && j < MT_MANIFEST_MAX_EFS; j++) {
            if (s.fid_ok && seen[j].fid_ok && seen[j].fid == s.fid) {
                mf_problem(r, doc, v[F_FID], "files[%d].fid: FID %04X is already used by files[%zu]", i,
                           s.fid, j);
                rc = -1;
                break;
            }
        }
        for (size_t j = 0; j < keep && j < MT_MANIFEST_MAX_EFS; j++) {
            if (s.sfi_ok && seen[j].sfi_ok && seen[j].sfi == s.sfi) {
                mf_problem(r, doc, v[F_SFI], "files[%d].sfi: SFI %u is already used by files[%zu]", i,
                           (unsigned)s.sfi, j);
                rc = -1;
                break;
            }
        }
        if (keep < MT_MANIFEST_MAX_EFS) {
            seen[keep] = s;
            if (rc == 0 && m->ef_count == keep)
                m->efs[m->ef_count++] = ef;
        }
    }
}
