/* reg_console.c: what the operator console needs beyond the CLI's calls
 * (issue #22, docs/console.md): a tuning form saved in one transaction with
 * its audit row, and every resident of a municipality for the export. */
#include "reg_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct save_ctx {
    const mnap_reg_actor *a;
    const char *const *keys, *const *values;
    size_t n;
    const char *command, *result;
} save_ctx;

static mnap_reg_err save_tx(mnap_reg *r, void *p)
{
    save_ctx *s = p;
    char now[24];
    const char *fault = getenv("MNAP_REG_FAULT");
    mnap_reg_err e = MNAP_REG_OK;

    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    for (size_t i = 0; i < s->n && e == MNAP_REG_OK; i++) {
        const char *v = s->values[i] != NULL ? s->values[i] : "";
        const char *params[5] = { s->a->municipality, s->keys[i], v, now, s->a->operator_id };
        /* Test hook (docs/cli.md, MNAP_REG_FAULT): the database fails after
         * the first field of the form is written. */
        if (i == 1 && fault != NULL && strcmp(fault, "tuning-save") == 0) {
            reg_msg(r, "MNAP_REG_FAULT=tuning-save");
            return MNAP_REG_E_DB;
        }
        e = reg_exec(r, "DELETE FROM tuning WHERE municipality = $1 AND key = $2", 2, params, NULL);
        if (e == MNAP_REG_OK && v[0] != '\0') {
            e = reg_exec(r,
                         "INSERT INTO tuning (municipality, key, value, changed_at, changed_by) "
                         "VALUES ($1, $2, $3, CAST($4 AS BIGINT), $5)",
                         5, params, NULL);
        }
    }
    if (e == MNAP_REG_OK && s->command != NULL) {
        e = mnap_reg_audit_append(r, s->a->municipality, s->a->operator_id, s->command, NULL, NULL,
                                  s->result, NULL);
    }
    return e;
}

mnap_reg_err mnap_reg_tuning_save(mnap_reg *r, const mnap_reg_actor *a, size_t n, const char *const *keys,
                                  const char *const *values, const char *audit_command,
                                  const char *audit_result)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_SETTINGS);
    save_ctx s = { a, keys, values, n, audit_command, audit_result };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if ((n > 0 && (keys == NULL || values == NULL)) || (audit_command != NULL && audit_result == NULL)) {
        return MNAP_REG_E_PARAM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!reg_valid_tuning_key(keys[i]) ||
            (values[i] != NULL && values[i][0] != '\0' && !reg_valid_text(values[i], MNAP_REG_TUNING_VALUE_MAX))) {
            return MNAP_REG_E_PARAM;
        }
    }
    return reg_tx(r, save_tx, &s);
}

mnap_reg_err mnap_reg_resident_each(mnap_reg *r, const mnap_reg_actor *a,
                                    int (*cb)(void *user, const mnap_reg_resident *res), void *user)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_READ);
    const char *params[1] = { a != NULL ? a->municipality : "" };
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (cb == NULL) {
        return MNAP_REG_E_PARAM;
    }
    e = reg_exec(r,
                 "SELECT number, name_kanji, name_kana, birth_date, address FROM residents "
                 "WHERE municipality = $1 ORDER BY number",
                 1, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows; i++) {
        mnap_reg_resident res;
        memset(&res, 0, sizeof res);
        reg_copy(res.number, sizeof res.number, reg_cell(&rows, i, 0));
        reg_copy(res.name_kanji, sizeof res.name_kanji, reg_cell(&rows, i, 1));
        reg_copy(res.name_kana, sizeof res.name_kana, reg_cell(&rows, i, 2));
        reg_copy(res.birth_date, sizeof res.birth_date, reg_cell(&rows, i, 3));
        reg_copy(res.address, sizeof res.address, reg_cell(&rows, i, 4));
        if (cb(user, &res) != 0) {
            break;
        }
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}
