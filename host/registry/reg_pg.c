/* reg_pg.c: the PostgreSQL engine of the registry (libpq).  Statements go
 * with PQexecParams (text parameters, never spliced into the SQL); writing
 * transactions are READ COMMITTED with the rows they change locked first
 * (SELECT ... FOR UPDATE), and a serialization failure, deadlock or lock
 * timeout is reported as MNAP_REG_E_BUSY for the caller's retry loop. */
#include "reg_int.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

static mnap_reg_err map_state(mnap_reg *r, const PGresult *res)
{
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(r->db);
    size_t len = strlen(m);

    while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' ')) {
        len--;
    }
    reg_msg(r, "postgresql: %.*s", (int)len, m);
    if (st == NULL) {
        return PQstatus(r->db) == CONNECTION_OK ? MNAP_REG_E_DB : MNAP_REG_E_CONNECT;
    }
    if (strcmp(st, "23505") == 0) {
        return MNAP_REG_E_EXISTS;
    }
    if (strcmp(st, "23503") == 0) {
        return MNAP_REG_E_NOT_FOUND;
    }
    if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0) {
        return MNAP_REG_E_PARAM;
    }
    if (strcmp(st, "42501") == 0) {
        return MNAP_REG_E_DENIED; /* no privilege, or a row-level security check */
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0) {
        return MNAP_REG_E_BUSY;
    }
    if (strncmp(st, "08", 2) == 0) {
        return MNAP_REG_E_CONNECT;
    }
    return MNAP_REG_E_DB;
}

static void no_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static mnap_reg_err pg_open(mnap_reg *r, const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *res;

    if (c == NULL) {
        return MNAP_REG_E_NOMEM;
    }
    r->db = c;
    if (PQstatus(c) != CONNECTION_OK) {
        map_state(r, NULL);
        PQfinish(c);
        r->db = NULL;
        return MNAP_REG_E_CONNECT;
    }
    PQsetNoticeProcessor(c, no_notice, NULL);
    /* A known environment for every statement: UTC, no statement left
     * waiting on a lock for ever. */
    res = PQexec(c, "SET TIME ZONE 'UTC'; SET lock_timeout = '10s'; "
                    "SET default_transaction_isolation = 'read committed'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        map_state(r, res);
        PQclear(res);
        PQfinish(c);
        r->db = NULL;
        return MNAP_REG_E_CONNECT;
    }
    PQclear(res);
    return MNAP_REG_OK;
}

static void pg_close(mnap_reg *r)
{
    PQfinish(r->db);
    r->db = NULL;
}

static mnap_reg_err pg_exec(mnap_reg *r, const char *sql, size_t n, const char *const *params,
                            reg_rows *rows)
{
    PGresult *res;
    ExecStatusType st;
    mnap_reg_err e = MNAP_REG_OK;

    if (rows != NULL) {
        memset(rows, 0, sizeof *rows);
    }
    res = PQexecParams(r->db, sql, (int)n, NULL, params, NULL, NULL, 0);
    if (res == NULL) {
        return map_state(r, NULL);
    }
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        e = map_state(r, res);
        PQclear(res);
        return e;
    }
    if (rows != NULL) {
        const char *ch = PQcmdTuples(res);
        rows->changed = ch[0] != '\0' ? (uint64_t)strtoull(ch, NULL, 10) : 0;
        if (st == PGRES_TUPLES_OK) {
            rows->nrows = (size_t)PQntuples(res);
            rows->ncols = (size_t)PQnfields(res);
            if (rows->nrows * rows->ncols > 0) {
                rows->cell = calloc(rows->nrows * rows->ncols, sizeof *rows->cell);
                if (rows->cell == NULL) {
                    rows->nrows = 0;
                    e = MNAP_REG_E_NOMEM;
                }
            }
            for (size_t i = 0; e == MNAP_REG_OK && i < rows->nrows; i++) {
                for (size_t c = 0; c < rows->ncols; c++) {
                    if (PQgetisnull(res, (int)i, (int)c)) {
                        continue;
                    }
                    rows->cell[i * rows->ncols + c] = strdup(PQgetvalue(res, (int)i, (int)c));
                    if (rows->cell[i * rows->ncols + c] == NULL) {
                        e = MNAP_REG_E_NOMEM;
                        break;
                    }
                }
            }
        }
    }
    PQclear(res);
    if (e != MNAP_REG_OK && rows != NULL) {
        reg_rows_free(rows);
    }
    return e;
}

static mnap_reg_err pg_script(mnap_reg *r, const char *sql)
{
    PGresult *res = PQexec(r->db, sql);
    mnap_reg_err e = MNAP_REG_OK;
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        e = map_state(r, res);
    }
    PQclear(res);
    return e;
}

const reg_engine reg_pg_engine = {
    .name = "postgresql",
    .pg = true,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .script = pg_script,
    .begin_write = "BEGIN ISOLATION LEVEL READ COMMITTED",
    .begin_read = "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
};
