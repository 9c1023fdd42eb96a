/* reg_core.c: opening and closing a registry, the engine choice by
 * connection string, error texts, transactions and input checks. */
#include "reg_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const err_text[MNAP_REG_E__COUNT] = {
    [MNAP_REG_OK] = "ok",
    [MNAP_REG_E_PARAM] = "invalid argument",
    [MNAP_REG_E_NOMEM] = "out of memory",
    [MNAP_REG_E_CONNECT] = "cannot connect to the registry database",
    [MNAP_REG_E_DB] = "the registry database failed",
    [MNAP_REG_E_SCHEMA_OLD] = "registry schema is older than this program (run 'mnap registry upgrade')",
    [MNAP_REG_E_SCHEMA_NEW] = "registry schema is newer than this program",
    [MNAP_REG_E_NOT_FOUND] = "not found",
    [MNAP_REG_E_EXISTS] = "already exists",
    [MNAP_REG_E_DENIED] = "not allowed for this operator's role",
    [MNAP_REG_E_AUTH] = "wrong operator ID or password",
    [MNAP_REG_E_LOCKED] = "operator locked (a supervisor unlocks it)",
    [MNAP_REG_E_SESSION] = "not logged in, or the session expired (run 'mnap login')",
    [MNAP_REG_E_STATE] = "the card's state does not allow this",
    [MNAP_REG_E_PENDING] = "an interrupted AP change on this card is not yet settled",
    [MNAP_REG_E_BUSY] = "the registry is busy (another terminal holds the lock)",
    [MNAP_REG_E_CRYPTO] = "random number or key derivation failure",
    [MNAP_REG_E_HAS_CARD] = "the resident already has a card in use",
    [MNAP_REG_E_AUDIT] = "the audit chain does not verify",
    [MNAP_REG_E_RETENTION] = "audit rows are kept 366 days: younger rows cannot be purged",
};

const char *mnap_reg_strerror(mnap_reg_err e)
{
    if ((unsigned)e < MNAP_REG_E__COUNT && err_text[e] != NULL) {
        return err_text[e];
    }
    return "unknown registry error";
}

void reg_msg(mnap_reg *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

const char *mnap_reg_last_message(const mnap_reg *r)
{
    return r != NULL ? r->msg : "";
}

const char *mnap_reg_engine(const mnap_reg *r)
{
    return r->eng->name;
}

int64_t reg_now(const mnap_reg *r)
{
    return r->clock != 0 ? r->clock : (int64_t)time(NULL);
}

void mnap_reg_set_clock(mnap_reg *r, int64_t now)
{
    r->clock = now;
}

mnap_reg_err mnap_reg_set_kdf_cost(mnap_reg *r, unsigned log2n)
{
    if (r == NULL || log2n < 10 || log2n > 20) {
        return MNAP_REG_E_PARAM;
    }
    r->kdf_log2n = log2n;
    return MNAP_REG_OK;
}

static bool is_pg(const char *c)
{
    return strncmp(c, "postgresql://", 13) == 0 || strncmp(c, "postgres://", 11) == 0 ||
           strchr(c, '=') != NULL;
}

mnap_reg_err mnap_reg_open(mnap_reg **out, const char *conninfo, unsigned flags, char *why,
                           size_t why_cap)
{
    mnap_reg *r;
    mnap_reg_err e;

    if (why != NULL && why_cap > 0) {
        why[0] = '\0';
    }
    if (out == NULL || conninfo == NULL || conninfo[0] == '\0' || (flags & ~MNAP_REG_OPEN_MIGRATE) != 0) {
        return MNAP_REG_E_PARAM;
    }
    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return MNAP_REG_E_NOMEM;
    }
    r->eng = is_pg(conninfo) && strncmp(conninfo, "sqlite:", 7) != 0 ? &reg_pg_engine : &reg_sqlite_engine;
    r->kdf_log2n = 15;
    e = r->eng->open(r, conninfo);
    if (e == MNAP_REG_OK) {
        e = reg_schema_check(r, (flags & MNAP_REG_OPEN_MIGRATE) != 0);
        if (e != MNAP_REG_OK) {
            r->eng->close(r);
        }
    }
    if (e != MNAP_REG_OK) {
        if (why != NULL && why_cap > 0) {
            reg_copy(why, why_cap, r->msg[0] != '\0' ? r->msg : mnap_reg_strerror(e));
        }
        free(r);
        return e;
    }
    *out = r;
    return MNAP_REG_OK;
}

void mnap_reg_close(mnap_reg *r)
{
    if (r == NULL) {
        return;
    }
    if (r->in_tx) {
        reg_rollback(r);
    }
    r->eng->close(r);
    free(r);
}

mnap_reg_err reg_exec(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                      reg_rows *rows)
{
    return r->eng->exec(r, sql, n, params, rows);
}

void reg_rows_free(reg_rows *rows)
{
    if (rows == NULL) {
        return;
    }
    if (rows->cell != NULL) {
        for (size_t i = 0; i < rows->nrows * rows->ncols; i++) {
            free(rows->cell[i]);
        }
        free(rows->cell);
    }
    memset(rows, 0, sizeof *rows);
}

const char *reg_cell(const reg_rows *rows, size_t row, size_t col)
{
    if (row >= rows->nrows || col >= rows->ncols) {
        return NULL;
    }
    return rows->cell[row * rows->ncols + col];
}

const char *reg_for_update(const mnap_reg *r)
{
    return r->eng->pg ? " FOR UPDATE" : "";
}

mnap_reg_err reg_get_one(mnap_reg *r, const char *sql, bool lock, size_t n, const char *const *params,
                         mnap_reg_err missing, reg_rows *rows)
{
    char q[512];
    reg_rows own;
    mnap_reg_err e;

    if (rows == NULL) {
        rows = &own;
    }
    if (lock) {
        int len = snprintf(q, sizeof q, "%s%s", sql, reg_for_update(r));
        if (len < 0 || (size_t)len >= sizeof q) {
            memset(rows, 0, sizeof *rows);
            return MNAP_REG_E_PARAM; /* a statement of this library too long: never */
        }
        sql = q;
    }
    e = reg_exec(r, sql, n, params, rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (rows->nrows != 1) {
        reg_rows_free(rows);
        return missing;
    }
    if (rows == &own) {
        reg_rows_free(rows);
    }
    return MNAP_REG_OK;
}

/* Runs sql: the first cell as a number into *first, the rows it changed
 * into *changed (either may be NULL); both untouched on an error. */
static mnap_reg_err exec_numbers(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                                 int64_t *first, uint64_t *changed)
{
    reg_rows rows;
    mnap_reg_err e = reg_exec(r, sql, n, params, &rows);

    if (e == MNAP_REG_OK) {
        if (first != NULL) {
            *first = reg_i64(reg_cell(&rows, 0, 0));
        }
        if (changed != NULL) {
            *changed = rows.changed;
        }
        reg_rows_free(&rows);
    }
    return e;
}

mnap_reg_err reg_count(mnap_reg *r, const char *sql, size_t n, const char *const *params, int64_t *out)
{
    return exec_numbers(r, sql, n, params, out, NULL);
}

mnap_reg_err reg_exec_changed(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                              uint64_t *changed)
{
    return exec_numbers(r, sql, n, params, NULL, changed);
}

mnap_reg_err reg_each_pair(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                           void (*cb)(void *user, const char *a, const char *b), void *user)
{
    reg_rows rows;
    mnap_reg_err e = reg_exec(r, sql, n, params, &rows);

    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows; i++) {
        cb(user, reg_cell(&rows, i, 0), reg_cell(&rows, i, 1));
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

mnap_reg_err reg_begin(mnap_reg *r, bool write)
{
    mnap_reg_err e = r->eng->script(r, write ? r->eng->begin_write : r->eng->begin_read);

    if (e == MNAP_REG_OK) {
        r->in_tx = true;
    }
    return e;
}

mnap_reg_err reg_commit(mnap_reg *r)
{
    mnap_reg_err e = r->eng->script(r, "COMMIT");

    if (e != MNAP_REG_OK) {
        char keep[REG_MSG_MAX];
        memcpy(keep, r->msg, sizeof keep);
        reg_rollback(r);
        memcpy(r->msg, keep, sizeof keep);
    }
    r->in_tx = false;
    return e;
}

void reg_rollback(mnap_reg *r)
{
    if (r->in_tx) {
        char keep[REG_MSG_MAX];
        memcpy(keep, r->msg, sizeof keep);
        (void)r->eng->script(r, "ROLLBACK");
        memcpy(r->msg, keep, sizeof keep);
        r->in_tx = false;
    }
}

/* --- input checks ---------------------------------------------------------- */
bool reg_valid_digits(const char *s, size_t min, size_t max)
{
    size_t n;

    if (s == NULL) {
        return false;
    }
    n = strlen(s);
    if (n < min || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

bool reg_valid_code(const char *s)
{
    return reg_valid_digits(s, 6, 6);
}

bool reg_valid_id(const char *s)
{
    size_t n;

    if (s == NULL) {
        return false;
    }
    n = strlen(s);
    if (n < 1 || n > MNAP_REG_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool reg_valid_text(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    if (s == NULL) {
        return false;
    }
    n = strlen(s);
    if (n < 1 || n > max) {
        return false;
    }
    /* Well-formed UTF-8 (no overlong forms, no surrogates), no control
     * characters. */
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len;
        unsigned cp;
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
            return false;
        }
        i += len;
    }
    return true;
}

bool reg_valid_hex(const char *s, size_t min, size_t max)
{
    size_t n;

    if (s == NULL) {
        return false;
    }
    n = strlen(s);
    if (n < min || n > max || n % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool reg_valid_date(const char *s)
{
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, m, d;

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return false;
        }
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1850 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return false;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return false;
    }
    return true;
}

void reg_copy(char *dst, size_t cap, const char *src)
{
    size_t n;

    if (cap == 0) {
        return;
    }
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int64_t reg_i64(const char *s)
{
    return s != NULL ? (int64_t)strtoll(s, NULL, 10) : 0;
}

mnap_reg_err reg_check(const mnap_reg_actor *a, mnap_reg_perm perm)
{
    if (a == NULL || !reg_valid_code(a->municipality) || !reg_valid_id(a->operator_id)) {
        return MNAP_REG_E_SESSION;
    }
    return mnap_reg_allowed(a->role, perm) ? MNAP_REG_OK : MNAP_REG_E_DENIED;
}

mnap_reg_err reg_tx(mnap_reg *r, mnap_reg_err (*body)(mnap_reg *r, void *ctx), void *ctx)
{
    mnap_reg_err e = MNAP_REG_E_BUSY;

    /* Writing transactions lock the rows they read before changing them
     * (PostgreSQL FOR UPDATE under READ COMMITTED; SQLite's BEGIN IMMEDIATE
     * takes the database's write lock), so no update is lost; a deadlock,
     * serialization failure or lock timeout is tried again. */
    for (int attempt = 0; attempt < REG_RETRIES && e == MNAP_REG_E_BUSY; attempt++) {
        e = reg_begin(r, true);
        if (e == MNAP_REG_OK) {
            e = body(r, ctx);
        }
        if (e == MNAP_REG_OK) {
            e = reg_commit(r);
        } else {
            reg_rollback(r);
        }
    }
    return e;
}
