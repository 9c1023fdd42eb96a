/* reg_int.h: inside libmnapreg: the context, the engine interface the two
 * backends (reg_sqlite.c, reg_pg.c) fill in, and helpers shared by the
 * modules.  Statements are written once with $1..$n parameters, passed and
 * read as text; the engines convert (SQLite by column affinity, PostgreSQL
 * by the parameter's inferred type). */
#ifndef MNAP_REG_INT_H
#define MNAP_REG_INT_H

#include "mnap/mnap_registry.h"

#include <stdio.h>

#define REG_MAX_PARAMS 12
#define REG_MSG_MAX 512

/* The rows of one statement, every cell as text (NULL for SQL NULL). */
typedef struct reg_rows {
    size_t nrows, ncols;
    char **cell;              /* nrows * ncols */
    uint64_t changed;         /* rows changed by INSERT/UPDATE/DELETE */
} reg_rows;

typedef struct reg_engine {
    const char *name;
    bool pg;
    mnap_reg_err (*open)(mnap_reg *r, const char *conninfo);
    void (*close)(mnap_reg *r);
    /* Runs one statement; rows may be NULL when none are wanted. */
    mnap_reg_err (*exec)(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                         reg_rows *rows);
    /* Runs a script of several statements without parameters. */
    mnap_reg_err (*script)(mnap_reg *r, const char *sql);
    /* BEGIN for a writing transaction (SQLite IMMEDIATE; PostgreSQL READ
     * COMMITTED, rows locked with FOR UPDATE) or a reading one. */
    const char *begin_write;
    const char *begin_read;
} reg_engine;

struct mnap_reg {
    const reg_engine *eng;
    void *db;
    unsigned kdf_log2n;
    int64_t clock;
    bool in_tx;
    char msg[REG_MSG_MAX];
};

extern const reg_engine reg_sqlite_engine;
extern const reg_engine reg_pg_engine;

int64_t reg_now(const mnap_reg *r);
void reg_msg(mnap_reg *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

mnap_reg_err reg_exec(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                      reg_rows *rows);
void reg_rows_free(reg_rows *rows);
const char *reg_cell(const reg_rows *rows, size_t row, size_t col);
/* " FOR UPDATE" on PostgreSQL, "" on SQLite (whose BEGIN IMMEDIATE already
 * holds the write lock). */
const char *reg_for_update(const mnap_reg *r);
/* The one row a key names: runs sql (with reg_for_update appended when lock)
 * and returns MNAP_REG_OK with exactly that row in *rows (the caller frees
 * it), `missing` when there is no such row (or more than one; *rows is then
 * empty), or the engine's error.  rows may be NULL when only whether the row
 * is there matters. */
mnap_reg_err reg_get_one(mnap_reg *r, const char *sql, bool lock, size_t n, const char *const *params,
                         mnap_reg_err missing, reg_rows *rows);
/* A statement whose answer is one number (SELECT count(*) ...): *out the
 * first cell (0 when there is none); untouched on an error. */
mnap_reg_err reg_count(mnap_reg *r, const char *sql, size_t n, const char *const *params, int64_t *out);
/* An INSERT, UPDATE or DELETE: *changed the rows it changed; untouched on an
 * error. */
mnap_reg_err reg_exec_changed(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                              uint64_t *changed);
/* Hands the first two cells of every row to cb, in the statement's order. */
mnap_reg_err reg_each_pair(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                           void (*cb)(void *user, const char *a, const char *b), void *user);

/* Transactions.  reg_begin(write) ... reg_commit; reg_rollback on any error
 * (a no-op outside a transaction).  reg_retryable: the error is a
 * serialization failure, deadlock or lock timeout worth one more try. */
mnap_reg_err reg_begin(mnap_reg *r, bool write);
mnap_reg_err reg_commit(mnap_reg *r);
void reg_rollback(mnap_reg *r);
#define REG_RETRIES 8
/* Runs body in a writing transaction, again (up to REG_RETRIES times) while
 * it ends in MNAP_REG_E_BUSY. */
mnap_reg_err reg_tx(mnap_reg *r, mnap_reg_err (*body)(mnap_reg *r, void *ctx), void *ctx);

/* Checks of input. */
bool reg_valid_code(const char *s);             /* 6 digits */
bool reg_valid_id(const char *s);               /* [A-Za-z0-9._-]{1,32} */
bool reg_valid_digits(const char *s, size_t min, size_t max);
bool reg_valid_text(const char *s, size_t max); /* UTF-8, no control char, 1..max bytes */
bool reg_valid_hex(const char *s, size_t min, size_t max); /* upper-case hex, even length */
bool reg_valid_date(const char *s);             /* YYYY-MM-DD, a real date */
bool reg_valid_tuning_key(const char *k);      /* [a-z0-9_]{1,MNAP_REG_TUNING_KEY_MAX} */
/* Copies src into dst (cap bytes, NUL-terminated, cut when longer). */
void reg_copy(char *dst, size_t cap, const char *src);
int64_t reg_i64(const char *s);

/* The actor's permission (and validity) check every call starts with. */
mnap_reg_err reg_check(const mnap_reg_actor *a, mnap_reg_perm perm);

/* Password hashes (reg_auth.c). */
mnap_reg_err reg_pw_hash(unsigned log2n, const char *pw, size_t pw_len, char *out, size_t cap);
/* MNAP_REG_OK when pw matches, MNAP_REG_E_AUTH when not. */
mnap_reg_err reg_pw_verify(const char *stored, const char *pw, size_t pw_len);

/* Schema (reg_schema.c). */
int reg_schema_latest(void);
mnap_reg_err reg_schema_check(mnap_reg *r, bool migrate);

#endif
