/* reg_tuning.c: the operator console's tuning per municipality and the
 * extra resident fields it records (schema version 2, tables tuning and
 * resident_extra).  Tuning: titles, guidance texts, button labels, the
 * background colour and extra resident fields, as key/value text.  An admin
 * (MNAP_PERM_SETTINGS) sets them; any terminal of the municipality reads
 * them (the login screen shows them before anyone is logged in, so reading
 * takes the municipality, not an actor; on PostgreSQL the tenant policy
 * still limits it to the connected role's municipalities). */
#include "reg_int.h"

#include <string.h>

bool reg_valid_tuning_key(const char *k)
{
    size_t n = k != NULL ? strlen(k) : 0;

    if (n == 0 || n > MNAP_REG_TUNING_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_')) {
            return false;
        }
    }
    return true;
}

mnap_reg_err mnap_reg_tuning_list(mnap_reg *r, const char *municipality,
                                  void (*cb)(void *user, const char *key, const char *value),
                                  void *user)
{
    const char *params[1] = { municipality };

    if (!reg_valid_code(municipality) || cb == NULL) {
        return MNAP_REG_E_PARAM;
    }
    return reg_each_pair(r, "SELECT key, value FROM tuning WHERE municipality = $1 ORDER BY key", 1, params, cb,
                         user);
}

typedef struct tune_ctx {
    const mnap_reg_actor *a;
    const char *key, *value;
} tune_ctx;

static mnap_reg_err tuning_set_tx(mnap_reg *r, void *p)
{
    tune_ctx *t = p;
    char now[24];
    const char *params[5] = { t->a->municipality, t->key, t->value, now, t->a->operator_id };
    mnap_reg_err e;

    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    e = reg_exec(r, "DELETE FROM tuning WHERE municipality = $1 AND key = $2", 2, params, NULL);
    if (e == MNAP_REG_OK && t->value != NULL && t->value[0] != '\0') {
        e = reg_exec(r,
                     "INSERT INTO tuning (municipality, key, value, changed_at, changed_by) "
                     "VALUES ($1, $2, $3, CAST($4 AS BIGINT), $5)",
                     5, params, NULL);
    }
    return e;
}

mnap_reg_err mnap_reg_tuning_set(mnap_reg *r, const mnap_reg_actor *a, const char *key,
                                 const char *value)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_SETTINGS);
    tune_ctx t = { a, key, value };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_tuning_key(key) ||
        (value != NULL && value[0] != '\0' && !reg_valid_text(value, MNAP_REG_TUNING_VALUE_MAX))) {
        return MNAP_REG_E_PARAM;
    }
    return reg_tx(r, tuning_set_tx, &t);
}

/* --- extra resident fields ------------------------------------------------------ */
typedef struct extra_ctx {
    const mnap_reg_actor *a;
    const char *number, *field, *value;
} extra_ctx;

static mnap_reg_err extra_set_tx(mnap_reg *r, void *p)
{
    extra_ctx *x = p;
    char now[24];
    const char *params[6] = { x->a->municipality, x->number, x->field, x->value, now,
                              x->a->operator_id };
    mnap_reg_err e;

    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    e = reg_get_one(r, "SELECT 1 FROM residents WHERE municipality = $1 AND number = $2", false, 2, params,
                    MNAP_REG_E_NOT_FOUND, NULL);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_exec(r, "DELETE FROM resident_extra WHERE municipality = $1 AND resident = $2 AND field = $3",
                 3, params, NULL);
    if (e == MNAP_REG_OK && x->value[0] != '\0') {
        e = reg_exec(r,
                     "INSERT INTO resident_extra (municipality, resident, field, value, changed_at, "
                     "changed_by) VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6)",
                     6, params, NULL);
    }
    return e;
}

mnap_reg_err mnap_reg_resident_extra_set(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                         const char *field, const char *value)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_WRITE);
    extra_ctx x = { a, number, field, value != NULL ? value : "" };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_digits(number, 1, 15) || !reg_valid_text(field, 64) ||
        (x.value[0] != '\0' && !reg_valid_text(x.value, MNAP_REG_TUNING_VALUE_MAX))) {
        return MNAP_REG_E_PARAM;
    }
    return reg_tx(r, extra_set_tx, &x);
}

mnap_reg_err mnap_reg_resident_extras(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                      void (*cb)(void *user, const char *field, const char *value),
                                      void *user)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_READ);
    const char *params[2] = { a != NULL ? a->municipality : "", number };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_digits(number, 1, 15) || cb == NULL) {
        return MNAP_REG_E_PARAM;
    }
    return reg_each_pair(r,
                         "SELECT field, value FROM resident_extra WHERE municipality = $1 AND resident = $2 "
                         "ORDER BY field",
                         2, params, cb, user);
}
