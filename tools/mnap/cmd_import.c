/* cmd_import.c: `mnap resident import FILE.csv`: residents from the export
 * of an existing resident system (issue #19 item 3).
 *
 * The file is UTF-8 or Shift_JIS (Windows code page 932, what such systems
 * write; converted with iconv), has a header row naming the columns, and
 * RFC 4180 quoting: a quoted field may hold commas, "" for a quote, and line
 * breaks (a line break inside a field becomes one space: the registry keeps
 * one-line text).  The whole file is imported in one transaction; every bad
 * row is reported with the line it starts on and why, and a file with a bad
 * row changes nothing unless --skip-bad is given.  An encoding error or a
 * broken quote is an error of the file: nothing is imported, --skip-bad or
 * not.
 *
 * Why not libcsv (Debian libcsv-dev 3.0.3): it parses the same RFC 4180
 * subset, but reports neither the line a record starts on nor where a quote
 * breaks (one CSV_EPARSE for the buffer), and both are what this command
 * must tell the operator; its upstream has had no release since 2013.  The
 * state machine below is small and tested by cli_import.sh. */
#include "cli.h"
#include "conn.h"
#include "reg.h"
#include "i18n.h"

#include <errno.h>
#include <iconv.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { COL_NUMBER, COL_KANJI, COL_KANA, COL_BIRTH, COL_ADDRESS, COL__COUNT };
static const char *const col_names[COL__COUNT][4] = {
    [COL_NUMBER] = { "number", "resident_number", "住民番号", "住民票コード" },
    [COL_KANJI] = { "name_kanji", "name", "氏名", NULL },
    [COL_KANA] = { "name_kana", "kana", "氏名カナ", "フリガナ" },
    [COL_BIRTH] = { "birth_date", "birth", "生年月日", NULL },
    [COL_ADDRESS] = { "address", "住所", NULL, NULL },
};

/* One record: its fields (pointers into the parser's buffer) and line. */
#define MAX_FIELDS 64
typedef struct record {
    size_t line;
    size_t n;
    char *f[MAX_FIELDS];
} record;

typedef struct parser {
    char *p, *end;
    size_t line;
} parser;

/* Parses the next record in place (fields are NUL-terminated inside the
 * buffer; a quoted field is unquoted in place).  Returns 1 with a record, 0
 * at the end, -1 on an error of the file (msg says what). */
static int next_record(parser *ps, record *rec, char *msg, size_t cap)
{
    /* Blank lines between records are skipped. */
    while (ps->p < ps->end && (*ps->p == '\n' || *ps->p == '\r')) {
        if (*ps->p == '\n') {
            ps->line++;
        }
        ps->p++;
    }
    if (ps->p >= ps->end) {
        return 0;
    }
    rec->line = ps->line;
    rec->n = 0;
    for (;;) {
        char *out = ps->p, *start = ps->p;
        if (rec->n == MAX_FIELDS) {
            snprintf(msg, cap, _("line %zu: more than %d fields"), rec->line, MAX_FIELDS);
            return -1;
        }
        if (ps->p < ps->end && *ps->p == '"') {
            size_t qline = ps->line;
            ps->p++;
            for (;;) {
                if (ps->p >= ps->end) {
                    snprintf(msg, cap, _("line %zu: a quoted field is not closed (broken quote)"), qline);
                    return -1;
                }
                if (*ps->p == '"') {
                    if (ps->p + 1 < ps->end && ps->p[1] == '"') {
                        *out++ = '"';
                        ps->p += 2;
                        continue;
                    }
                    ps->p++;
                    break;
                }
                if (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n') {
                    ps->p++;
                }
                if (*ps->p == '\n') {
                    ps->line++;
                    *out++ = ' ';
                    ps->p++;
                    continue;
                }
                *out++ = *ps->p++;
            }
            if (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' && *ps->p != '\r') {
                snprintf(msg, cap, _("line %zu: text after a closing quote (broken quote)"), ps->line);
                return -1;
            }
        } else {
            while (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' && *ps->p != '\r') {
                if (*ps->p == '"') {
                    snprintf(msg, cap, _("line %zu: a quote inside an unquoted field (broken quote)"), ps->line);
                    return -1;
                }
                ps->p++;
            }
            out = ps->p;
        }
        char sep = ps->p < ps->end ? *ps->p : '\n';
        rec->f[rec->n++] = start;
        if (sep == ',') {
            *out = '\0';
            ps->p++;
            continue;
        }
        /* End of the record: \n, \r\n or the end of the file. */
        if (ps->p < ps->end && *ps->p == '\r') {
            ps->p++;
        }
        if (ps->p < ps->end && *ps->p == '\n') {
            ps->p++;
            ps->line++;
        }
        *out = '\0';
        return 1;
    }
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t j = 2; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                return false;
            }
        }
        i += k + 1;
    }
    return true;
}

/* Shift_JIS (CP932) to UTF-8.  Returns 0, or -1 with msg (the line of the bad byte). */
static int from_sjis(const char *in, size_t n, char **out, size_t *out_len, char *msg, size_t cap)
{
    iconv_t cd = iconv_open("UTF-8", "CP932");
    size_t ocap = n * 3 / 2 + 16, left_in = n, left_out;
    char *buf, *ip = (char *)in, *op;

    if (cd == (iconv_t)-1) {
        snprintf(msg, cap, "iconv cannot convert from Shift_JIS (CP932) here");
        return -1;
    }
    buf = malloc(ocap);
    if (buf == NULL) {
        iconv_close(cd);
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    op = buf;
    left_out = ocap;
    while (left_in > 0) {
        if (iconv(cd, &ip, &left_in, &op, &left_out) != (size_t)-1) {
            continue;
        }
        if (errno == E2BIG) {
            size_t used = (size_t)(op - buf);
            char *nb = realloc(buf, ocap * 2);
            if (nb == NULL) {
                break;
            }
            buf = nb;
            op = buf + used;
            left_out += ocap;
            ocap *= 2;
            continue;
        }
        size_t line = 1;
        for (const char *q = in; q < ip; q++) {
            line += *q == '\n';
        }
        snprintf(msg, cap, _("line %zu: not valid Shift_JIS (byte %02X): nothing imported"), line,
                 (unsigned)(unsigned char)*ip);
        free(buf);
        iconv_close(cd);
        return -1;
    }
    iconv_close(cd);
    if (left_in > 0) {
        free(buf);
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    *out = buf;
    *out_len = (size_t)(op - buf);
    return 0;
}

/* The export's guard against spreadsheet formulas (the operator console's,
 * OWASP's CSV injection advice) puts an apostrophe in front of a field that
 * starts with = + - @ TAB CR or an apostrophe; it is removed here, and only
 * before one of those, so a resident system's field "'a" keeps its
 * apostrophe. */
static void unguard(char *f)
{
    if (f[0] == '\'' && f[1] != '\0' && strchr("=+-@\t\r'", f[1]) != NULL) {
        memmove(f, f + 1, strlen(f));
    }
}

/* Copies a field into a resident's zeroed fixed-size member, or leaves it
 * empty when the field does not fit: the registry's check then refuses the
 * member under the field's own name. */
static void put(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n < cap) {
        memcpy(dst, src, n + 1);
    }
}

/* Why a row is bad, or NULL.  The rules are the registry's own
 * (mnap_reg_resident_check), so that a row this check passes is one the
 * registry takes; only the messages are the importer's. */
static const char *row_problem(const record *rec, const int *col, size_t ncols, mnap_reg_resident *out)
{
    static const char *const why[] = {
        [MNAP_REG_FIELD_NUMBER] = N_("number: 1 to 15 digits"),
        [MNAP_REG_FIELD_NAME_KANJI] = N_("name_kanji: empty, too long (192 bytes) or not text"),
        [MNAP_REG_FIELD_NAME_KANA] = N_("name_kana: empty, too long (192 bytes) or not text"),
        [MNAP_REG_FIELD_BIRTH_DATE] = N_("birth_date: not a date YYYY-MM-DD from 1850 on"),
        [MNAP_REG_FIELD_ADDRESS] = N_("address: empty, too long (384 bytes) or not text"),
    };
    mnap_reg_field bad;

    if (rec->n != ncols) {
        return N_("the number of fields differs from the header's");
    }
    memset(out, 0, sizeof *out);
    put(out->number, sizeof out->number, rec->f[col[COL_NUMBER]]);
    put(out->name_kanji, sizeof out->name_kanji, rec->f[col[COL_KANJI]]);
    put(out->name_kana, sizeof out->name_kana, rec->f[col[COL_KANA]]);
    put(out->birth_date, sizeof out->birth_date, rec->f[col[COL_BIRTH]]);
    put(out->address, sizeof out->address, rec->f[col[COL_ADDRESS]]);
    bad = mnap_reg_resident_check(out);
    return bad == MNAP_REG_FIELD_NONE ? NULL : why[bad];
}

const char u_resident_import[] =
    "resident import FILE.csv [--encoding auto|utf-8|shift_jis] [--skip-bad]\n"
    "  Imports residents from a resident system's CSV export: a header row naming\n"
    "  the columns number (住民番号), name_kanji (氏名), name_kana (氏名カナ),\n"
    "  birth_date (生年月日, YYYY-MM-DD) and address (住所), in any order (other\n"
    "  columns are ignored); quoted fields may hold commas, quotes (\"\") and line\n"
    "  breaks; a leading apostrophe before = + - @ TAB CR or ' is dropped (the\n"
    "  console's export guards such fields against spreadsheet formulas).\n"
    "  UTF-8 or Shift_JIS (auto: UTF-8 when the file is valid UTF-8).\n"
    "  One transaction: every bad row is reported with its line, and a file with\n"
    "  bad rows changes nothing unless --skip-bad imports the good ones.\n";

static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);

    if (f == NULL || buf == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        free(buf);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    int bad = ferror(f) || n == cap;
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

typedef struct imp_opts {
    const char *encoding;
    bool skip_bad;
} imp_opts;

static int on_imp(void *user, int opt, const char *arg)
{
    imp_opts *o = user;
    if (opt == 'e') {
        o->encoding = arg;
    } else if (opt == 's') {
        o->skip_bad = true;
    } else {
        return -1;
    }
    return 0;
}

int resident_import(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "encoding", required_argument, NULL, 'e' },
        { "skip-bad", no_argument, NULL, 's' },
        { NULL, 0, NULL, 0 }
    };
    imp_opts o = { "auto", false };
    char msg[300] = "", *raw = NULL, *text = NULL;
    size_t raw_len = 0, text_len = 0, nrec = 0, cap = 0, bad = 0, imported = 0;
    mnap_reg_resident *rows = NULL;
    size_t *lines = NULL;
    mnap_reg_err *status = NULL;
    int col[COL__COUNT], first, rc = EX_OK;
    record rec;
    parser ps;
    cli_op op;

    if (cli_getopt(argc, argv, opts, on_imp, &o, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_resident_import) != 0) {
        return EX_USAGE;
    }
    if (strcmp(o.encoding, "auto") != 0 && strcmp(o.encoding, "utf-8") != 0 && strcmp(o.encoding, "shift_jis") != 0) {
        cli_error("resident import: --encoding is auto, utf-8 or shift_jis");
        return EX_USAGE;
    }
    rc = cli_registry_required(c);
    if (rc != EX_OK) {
        return rc;
    }
    rc = op_begin(&op, c, "resident import", NULL, 0);
    if (rc != EX_OK) {
        return rc;
    }
    if (read_all(argv[first], &raw, &raw_len) != 0) {
        cli_error("resident import: cannot read %s", argv[first]);
        return op_end(&op, op_fail_msg(&op, EX_LOCAL, "cannot read the file"));
    }
    bool utf8 = valid_utf8((const unsigned char *)raw, raw_len);
    if (strcmp(o.encoding, "utf-8") == 0 && !utf8) {
        snprintf(msg, sizeof msg, "%s", _("the file is not valid UTF-8 (try --encoding shift_jis): nothing imported"));
    } else if (strcmp(o.encoding, "shift_jis") == 0 || !utf8) {
        if (from_sjis(raw, raw_len, &text, &text_len, msg, sizeof msg) != 0) {
            text = NULL;
        }
        free(raw);
        raw = NULL;
    } else {
        text = raw;
        text_len = raw_len;
        raw = NULL;
    }
    free(raw);
    if (text == NULL) {
        cli_error("resident import: %s: %s", argv[first], msg);
        return op_end(&op, op_fail_msg(&op, EX_LOCAL, "bad encoding"));
    }
    ps.p = text;
    ps.end = text + text_len;
    ps.line = 1;
    if (text_len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        ps.p += 3; /* a UTF-8 byte order mark */
    }
    /* The header. */
    int got = next_record(&ps, &rec, msg, sizeof msg);
    size_t ncols = rec.n;
    for (int k = 0; k < COL__COUNT; k++) {
        col[k] = -1;
    }
    for (size_t i = 0; got == 1 && i < rec.n; i++) {
        for (int k = 0; k < COL__COUNT; k++) {
            for (int j = 0; j < 4 && col_names[k][j] != NULL; j++) {
                if (strcmp(rec.f[i], col_names[k][j]) == 0 && col[k] < 0) {
                    col[k] = (int)i;
                }
            }
        }
    }
    for (int k = 0; got == 1 && k < COL__COUNT; k++) {
        if (col[k] < 0) {
            snprintf(msg, sizeof msg, _("line %zu: the header names no column %s (or %s)"), rec.line, col_names[k][0],
                     col_names[k][2] != NULL ? col_names[k][2] : col_names[k][1]);
            got = -1;
        }
    }
    if (got == 0) {
        snprintf(msg, sizeof msg, "%s", _("the file is empty (no header row)"));
    }
    /* The rows. */
    while (got == 1 && (got = next_record(&ps, &rec, msg, sizeof msg)) == 1) {
        if (nrec == cap) {
            size_t ncap = cap == 0 ? 1024 : cap * 2;
            mnap_reg_resident *nr = realloc(rows, ncap * sizeof *nr);
            size_t *nl = nr != NULL ? realloc(lines, ncap * sizeof *nl) : NULL;
            if (nr != NULL) {
                rows = nr;
            }
            if (nl == NULL) {
                snprintf(msg, sizeof msg, "out of memory");
                got = -1;
                break;
            }
            lines = nl;
            cap = ncap;
        }
        for (size_t i = 0; i < rec.n; i++) {
            unguard(rec.f[i]);
        }
        const char *why = row_problem(&rec, col, ncols, &rows[nrec]);
        if (why != NULL) {
            cli_error("resident import: line %zu: %s", rec.line, _(why));
            bad++;
            continue;
        }
        lines[nrec++] = rec.line;
    }
    if (got != 0) {
        cli_error("resident import: %s: %s: nothing imported", argv[first], msg);
        rc = op_fail_msg(&op, EX_LOCAL, "bad file");
        goto out;
    }
    status = calloc(nrec ? nrec : 1, sizeof *status);
    if (status == NULL) {
        rc = op_fail_msg(&op, cli_fail(NULL, MNAP_E_NOMEM, "resident import"), "out of memory");
        goto out;
    }
    mnap_reg_err e;
    /* With rows the file already shows bad and no --skip-bad, the registry
     * is only asked what else is bad (a check: nothing is changed). */
    e = mnap_reg_resident_import(c->reg, &c->actor, rows, nrec,
                                 bad != 0 && !o.skip_bad ? MNAP_REG_IMPORT_CHECK
                                 : o.skip_bad            ? MNAP_REG_IMPORT_SKIP_BAD
                                                         : 0u,
                                 status, &imported);
    if (e != MNAP_REG_OK && e != MNAP_REG_E_PARAM) {
        rc = reg_fail(c->reg, e, "resident import");
        (void)op_fail_msg(&op, rc, mnap_reg_strerror(e));
        goto out;
    }
    for (size_t i = 0; i < nrec; i++) {
        if (status[i] == MNAP_REG_E_EXISTS) {
            cli_error("resident import: line %zu: resident %s is already registered (or twice in the file)",
                      lines[i], rows[i].number);
            bad++;
        } else if (status[i] == MNAP_REG_E_PARAM) {
            cli_error("resident import: line %zu: a field is not valid", lines[i]);
            bad++;
        }
    }
    if (bad != 0 && !o.skip_bad) {
        cli_error("resident import: %zu bad row%s: nothing imported (fix %s, or give --skip-bad)", bad,
                  bad == 1 ? "" : "s", bad == 1 ? "it" : "them");
        char r[80];
        snprintf(r, sizeof r, "%zu bad rows, nothing imported", bad);
        rc = op_fail_msg(&op, EX_LOCAL, r);
        goto out;
    }
    if (c->json) {
        /* --json: the rows added, with the line each came from (the
         * operator console shows them). */
        json_t *list = json_array();
        for (size_t i = 0; list != NULL && i < nrec; i++) {
            if (status[i] == MNAP_REG_OK) {
                json_array_append_new(list, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "line", (json_int_t)lines[i],
                                                      "number", rows[i].number, "name_kanji", rows[i].name_kanji,
                                                      "name_kana", rows[i].name_kana, "birth_date",
                                                      rows[i].birth_date, "address", rows[i].address));
            }
        }
        json_t *res = json_pack("{s:I,s:I,s:o*}", "imported", (json_int_t)imported, "skipped", (json_int_t)bad,
                              "rows", list);
        char *out = res != NULL ? json_dumps(res, JSON_COMPACT) : NULL;
        if (out != NULL) {
            puts(out);
        }
        free(out);
        json_decref(res);
    } else {
        printf("imported %zu resident%s from %s", imported, imported == 1 ? "" : "s", argv[first]);
        if (bad != 0) {
            printf(" (%zu bad row%s skipped)", bad, bad == 1 ? "" : "s");
        }
        putchar('\n');
    }
    (void)snprintf(op.result, sizeof op.result, "ok: %zu imported, %zu bad rows skipped", imported, bad);
out:
    free(status);
    free(rows);
    free(lines);
    free(text);
    return op_end(&op, rc);
}
