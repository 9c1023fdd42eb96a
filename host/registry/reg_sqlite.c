/* reg_sqlite.c: the SQLite engine of the registry (libsqlite3): one file,
 * WAL journal, foreign keys on, a busy timeout so that two terminals on one
 * file wait for each other's write transaction (BEGIN IMMEDIATE) instead of
 * failing. */
#include "reg_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 10000

static mnap_reg_err map_err(mnap_reg *r, int rc)
{
    sqlite3 *db = r->db;

    reg_msg(r, "sqlite: %s", db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MNAP_REG_E_BUSY;
    case SQLITE_NOMEM:
        return MNAP_REG_E_NOMEM;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
            return MNAP_REG_E_EXISTS;
        }
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
            return MNAP_REG_E_NOT_FOUND;
        }
        return MNAP_REG_E_PARAM;
    default:
        return MNAP_REG_E_DB;
    }
}

static mnap_reg_err sq_open(mnap_reg *r, const char *conninfo)
{
    sqlite3 *db = NULL;
    const char *path = strncmp(conninfo, "sqlite:", 7) == 0 ? conninfo + 7 : conninfo;
    int rc;

    if (path[0] == '\0') {
        reg_msg(r, "sqlite: no file name");
        return MNAP_REG_E_PARAM;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        reg_msg(r, "sqlite: %s: %s", path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return MNAP_REG_E_CONNECT;
    }
    r->db = db;
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    if (sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
                         "PRAGMA synchronous = FULL;", NULL, NULL, NULL) != SQLITE_OK) {
        mnap_reg_err e = map_err(r, sqlite3_errcode(db));
        sqlite3_close(db);
        r->db = NULL;
        return e == MNAP_REG_E_BUSY ? e : MNAP_REG_E_CONNECT;
    }
    return MNAP_REG_OK;
}

static void sq_close(mnap_reg *r)
{
    sqlite3_close(r->db);
    r->db = NULL;
}

static mnap_reg_err sq_exec(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                            reg_rows *rows)
{
    sqlite3 *db = r->db;
    sqlite3_stmt *st = NULL;
    mnap_reg_err e = MNAP_REG_OK;
    size_t cap = 0;
    int rc;

    if (rows != NULL) {
        memset(rows, 0, sizeof *rows);
    }
    if (n > REG_MAX_PARAMS) {
        return MNAP_REG_E_PARAM;
    }
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return map_err(r, rc);
    }
    /* The same $1..$n text as PostgreSQL: SQLite takes "$1" as a named
     * parameter, bound here by its name whatever order it appears in. */
    for (size_t i = 0; i < n; i++) {
        char name[24];
        int idx;
        snprintf(name, sizeof name, "$%zu", i + 1);
        idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0) {
            continue;
        }
        rc = params[i] == NULL ? sqlite3_bind_null(st, idx)
                               : sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT);
        if (rc != SQLITE_OK) {
            e = map_err(r, rc);
            goto out;
        }
    }
    if (rows != NULL) {
        rows->ncols = (size_t)sqlite3_column_count(st);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows == NULL || rows->ncols == 0) {
            continue;
        }
        if (rows->nrows == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            char **nc = realloc(rows->cell, ncap * rows->ncols * sizeof *nc);
            if (nc == NULL) {
                e = MNAP_REG_E_NOMEM;
                goto out;
            }
            rows->cell = nc;
            cap = ncap;
        }
        for (size_t c = 0; c < rows->ncols; c++) {
            const unsigned char *t = sqlite3_column_text(st, (int)c);
            char **slot = &rows->cell[rows->nrows * rows->ncols + c];
            *slot = NULL;
            if (t != NULL) {
                *slot = strdup((const char *)t);
                if (*slot == NULL) {
                    rows->nrows++;
                    e = MNAP_REG_E_NOMEM;
                    goto out;
                }
            }
        }
        rows->nrows++;
    }
    if (rc != SQLITE_DONE) {
        e = map_err(r, sqlite3_extended_errcode(db));
        goto out;
    }
    if (rows != NULL) {
        rows->changed = (uint64_t)sqlite3_changes64(db);
    }
out:
    sqlite3_finalize(st);
    if (e != MNAP_REG_OK && rows != NULL) {
        reg_rows_free(rows);
    }
    return e;
}

static mnap_reg_err sq_script(mnap_reg *r, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(r->db, sql, NULL, NULL, &err);

    if (rc != SQLITE_OK) {
        reg_msg(r, "sqlite: %s", err != NULL ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return (rc & 0xff) == SQLITE_BUSY ? MNAP_REG_E_BUSY : MNAP_REG_E_DB;
    }
    return MNAP_REG_OK;
}

const reg_engine reg_sqlite_engine = {
    .name = "sqlite",
    .pg = false,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .script = sq_script,
    .begin_write = "BEGIN IMMEDIATE",
    .begin_read = "BEGIN",
};
