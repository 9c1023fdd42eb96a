/* reg_data.c: residents, pseudonymous service IDs, cards, their states and
 * issued APs.  Every function checks the actor's permission first and
 * names the actor's municipality in every statement (on PostgreSQL the
 * row-level security policies enforce the same a second time).  Writes lock
 * the card or resident row they depend on before reading it (see reg_tx). */
#include "reg_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static void now_text(const mnap_reg *r, char out[24])
{
    snprintf(out, 24, "%lld", (long long)reg_now(r));
}

/* --- residents ---------------------------------------------------------------- */
mnap_reg_field mnap_reg_resident_check(const mnap_reg_resident *res)
{
    if (res == NULL || !reg_valid_digits(res->number, 1, 15)) {
        return MNAP_REG_FIELD_NUMBER;
    }
    if (!reg_valid_text(res->name_kanji, 192)) {
        return MNAP_REG_FIELD_NAME_KANJI;
    }
    if (!reg_valid_text(res->name_kana, 192)) {
        return MNAP_REG_FIELD_NAME_KANA;
    }
    if (!reg_valid_date(res->birth_date)) {
        return MNAP_REG_FIELD_BIRTH_DATE;
    }
    if (!reg_valid_text(res->address, 384)) {
        return MNAP_REG_FIELD_ADDRESS;
    }
    return MNAP_REG_FIELD_NONE;
}

static bool valid_resident(const mnap_reg_resident *res)
{
    return mnap_reg_resident_check(res) == MNAP_REG_FIELD_NONE;
}

typedef struct res_ctx {
    const mnap_reg_actor *a;
    const mnap_reg_resident *res;
} res_ctx;

static mnap_reg_err resident_add_tx(mnap_reg *r, void *p)
{
    res_ctx *c = p;
    char now[24];
    const char *params[8] = { c->a->municipality, c->res->number, c->res->name_kanji, c->res->name_kana,
                              c->res->birth_date, c->res->address, now, c->a->operator_id };

    now_text(r, now);
    return reg_exec(r,
                    "INSERT INTO residents (municipality, number, name_kanji, name_kana, birth_date, address, "
                    "imported_at, imported_by) VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS BIGINT), $8)",
                    8, params, NULL);
}

mnap_reg_err mnap_reg_resident_add(mnap_reg *r, const mnap_reg_actor *a,
                                   const mnap_reg_resident *res)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_WRITE);
    res_ctx c = { a, res };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!valid_resident(res)) {
        return MNAP_REG_E_PARAM;
    }
    return reg_tx(r, resident_add_tx, &c);
}

typedef struct import_ctx {
    const mnap_reg_actor *a;
    const mnap_reg_resident *res;
    size_t n;
    bool skip_bad, check_only, checked;
    mnap_reg_err *status;
    size_t imported, bad;
} import_ctx;

static mnap_reg_err import_tx(mnap_reg *r, void *p)
{
    import_ctx *c = p;
    char now[24];

    /* Again from the start on a retry: the statuses are of this attempt. */
    c->imported = 0;
    c->bad = 0;
    now_text(r, now);
    for (size_t i = 0; i < c->n; i++) {
        const mnap_reg_resident *res = &c->res[i];
        const char *params[8] = { c->a->municipality, res->number, res->name_kanji, res->name_kana,
                                  res->birth_date, res->address, now, c->a->operator_id };
        uint64_t changed = 0;
        mnap_reg_err e;

        if (!valid_resident(res)) {
            c->status[i] = MNAP_REG_E_PARAM;
            c->bad++;
            continue;
        }
        e = reg_exec_changed(r,
                             "INSERT INTO residents (municipality, number, name_kanji, name_kana, birth_date, "
                             "address, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5, $6, "
                             "CAST($7 AS BIGINT), $8) ON CONFLICT (municipality, number) DO NOTHING",
                             8, params, &changed);
        if (e != MNAP_REG_OK) {
            return e;
        }
        c->status[i] = changed == 1 ? MNAP_REG_OK : MNAP_REG_E_EXISTS;
        if (c->status[i] == MNAP_REG_OK) {
            c->imported++;
        } else {
            c->bad++;
        }
    }
    /* A file with bad rows changes nothing unless they are to be skipped:
     * the transaction is rolled back (reg_tx rolls back on any error); so is
     * a check. */
    if (c->check_only) {
        c->checked = true;
        return MNAP_REG_E_PARAM;
    }
    if (c->bad != 0 && !c->skip_bad) {
        return MNAP_REG_E_PARAM;
    }
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_resident_import(mnap_reg *r, const mnap_reg_actor *a, const mnap_reg_resident *res,
                                      size_t n, unsigned flags, mnap_reg_err *status, size_t *imported)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_WRITE);
    import_ctx c;

    if (imported != NULL) {
        *imported = 0;
    }
    if (e != MNAP_REG_OK) {
        return e;
    }
    if ((res == NULL && n != 0) || (status == NULL && n != 0)) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.res = res;
    c.n = n;
    c.skip_bad = (flags & MNAP_REG_IMPORT_SKIP_BAD) != 0;
    c.check_only = (flags & MNAP_REG_IMPORT_CHECK) != 0;
    c.status = status;
    e = reg_tx(r, import_tx, &c);
    if (c.check_only && c.checked && e == MNAP_REG_E_PARAM) {
        return c.bad != 0 ? MNAP_REG_E_PARAM : MNAP_REG_OK;
    }
    if (e == MNAP_REG_OK && imported != NULL) {
        *imported = c.imported;
    }
    return e;
}

static void resident_row(const reg_rows *rows, size_t i, mnap_reg_resident *out)
{
    memset(out, 0, sizeof *out);
    reg_copy(out->number, sizeof out->number, reg_cell(rows, i, 0));
    reg_copy(out->name_kanji, sizeof out->name_kanji, reg_cell(rows, i, 1));
    reg_copy(out->name_kana, sizeof out->name_kana, reg_cell(rows, i, 2));
    reg_copy(out->birth_date, sizeof out->birth_date, reg_cell(rows, i, 3));
    reg_copy(out->address, sizeof out->address, reg_cell(rows, i, 4));
}

mnap_reg_err mnap_reg_resident_get(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                   mnap_reg_resident *out)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_READ);
    const char *params[2];
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_digits(number, 1, 15) || out == NULL) {
        return MNAP_REG_E_PARAM;
    }
    params[0] = a->municipality;
    params[1] = number;
    e = reg_get_one(r,
                    "SELECT number, name_kanji, name_kana, birth_date, address FROM residents "
                    "WHERE municipality = $1 AND number = $2",
                    false, 2, params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    resident_row(&rows, 0, out);
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_resident_find(mnap_reg *r, const mnap_reg_actor *a, const char *text,
                                    mnap_reg_resident *out, size_t max, size_t *count)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_RESIDENT_READ);
    char pattern[400];
    char lim[24];
    const char *params[3] = { NULL, pattern, lim };
    size_t k = 0;
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_text(text, 192) || count == NULL || (out == NULL && max > 0)) {
        return MNAP_REG_E_PARAM;
    }
    *count = 0;
    params[0] = a->municipality;
    /* A substring match with LIKE's wildcards escaped: the text is a name,
     * not a pattern. */
    pattern[k++] = '%';
    for (const char *s = text; *s != '\0'; s++) {
        if (*s == '%' || *s == '_' || *s == '!') {
            pattern[k++] = '!';
        }
        pattern[k++] = *s;
    }
    pattern[k++] = '%';
    pattern[k] = '\0';
    snprintf(lim, sizeof lim, "%zu", max);
    e = reg_exec(r,
                 "SELECT number, name_kanji, name_kana, birth_date, address FROM residents "
                 "WHERE municipality = $1 AND (name_kana LIKE $2 ESCAPE '!' OR name_kanji LIKE $2 ESCAPE '!') "
                 "ORDER BY number LIMIT CAST($3 AS INTEGER)",
                 3, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows && i < max; i++) {
        resident_row(&rows, i, &out[i]);
        (*count)++;
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

typedef struct sid_ctx {
    const mnap_reg_actor *a;
    const char *number, *system;
    char *out;
} sid_ctx;

static mnap_reg_err service_id_tx(mnap_reg *r, void *p)
{
    sid_ctx *c = p;
    const char *params[5] = { c->a->municipality, c->number, c->system, NULL, NULL };
    char now[24];
    uint8_t key[32], mac[32];
    unsigned int mac_len = 0;
    reg_rows rows;
    mnap_reg_err e;
    const char *k;
    uint8_t *msg;
    size_t ls = strlen(c->system), ln = strlen(c->number);

    e = reg_get_one(r, "SELECT number FROM residents WHERE municipality = $1 AND number = $2", false, 2, params,
                    MNAP_REG_E_NOT_FOUND, NULL);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_get_one(r, "SELECT service_key FROM municipalities WHERE code = $1", false, 1, params, MNAP_REG_E_DB,
                    &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    k = reg_cell(&rows, 0, 0);
    if (k == NULL || strlen(k) != 64) {
        reg_rows_free(&rows);
        return MNAP_REG_E_DB;
    }
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(k + 2 * i, "%2x", &v) != 1) {
            v = 0;
        }
        key[i] = (uint8_t)v;
    }
    OPENSSL_cleanse(rows.cell[0], 64);
    reg_rows_free(&rows);
    /* HMAC-SHA-256(key, system || 00 || resident number): the system's name
     * is in the hashed text, so two systems get unrelated IDs. */
    msg = malloc(ls + 1 + ln);
    if (msg == NULL) {
        OPENSSL_cleanse(key, sizeof key);
        return MNAP_REG_E_NOMEM;
    }
    memcpy(msg, c->system, ls);
    msg[ls] = 0;
    memcpy(msg + ls + 1, c->number, ln);
    if (HMAC(EVP_sha256(), key, sizeof key, msg, ls + 1 + ln, mac, &mac_len) == NULL || mac_len != 32) {
        e = MNAP_REG_E_CRYPTO;
    }
    OPENSSL_cleanse(key, sizeof key);
    free(msg);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < 32; i++) {
        snprintf(c->out + 2 * i, 3, "%02x", mac[i]);
    }
    now_text(r, now);
    params[3] = c->out;
    params[4] = now;
    e = reg_exec(r,
                 "INSERT INTO service_ids (municipality, resident, system, service_id, created_at) "
                 "VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT)) ON CONFLICT (municipality, resident, system) "
                 "DO NOTHING",
                 5, params, NULL);
    return e;
}

mnap_reg_err mnap_reg_service_id(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                 const char *system, char out[65])
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_SERVICE_ID);
    sid_ctx c = { a, number, system, out };

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_digits(number, 1, 15) || !reg_valid_id(system) || out == NULL) {
        return MNAP_REG_E_PARAM;
    }
    return reg_tx(r, service_id_tx, &c);
}

/* --- cards ------------------------------------------------------------------------ */
typedef struct card_ctx {
    const mnap_reg_actor *a;
    const char *serial, *resident, *aid, *service;
    mnap_reg_card_state to;
    const char *reason;
    mnap_reg_ap_op op;
    bool done, on_card;
    mnap_reg_ap_status now_status;
} card_ctx;

/* Reads (and on PostgreSQL locks) the actor's card row: its state. */
static mnap_reg_err lock_card(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                              mnap_reg_card_state *state)
{
    const char *params[2] = { a->municipality, serial };
    reg_rows rows;
    mnap_reg_err e = reg_get_one(r, "SELECT state FROM cards WHERE municipality = $1 AND serial = $2", true, 2,
                                 params, MNAP_REG_E_NOT_FOUND, &rows);

    if (e != MNAP_REG_OK) {
        return e;
    }
    e = mnap_reg_card_state_parse(reg_cell(&rows, 0, 0), state) == MNAP_REG_OK ? MNAP_REG_OK : MNAP_REG_E_DB;
    reg_rows_free(&rows);
    return e;
}

/* Records one state change of a card (inside the caller's transaction, the
 * card row locked). */
static mnap_reg_err card_event(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_card_state from, mnap_reg_card_state to, const char *reason,
                               const char *now)
{
    const char *params[7] = { a->municipality, serial, mnap_reg_card_state_name(from),
                              mnap_reg_card_state_name(to), reason, a->operator_id, now };

    return reg_exec(r,
                    "INSERT INTO card_events (municipality, serial, seq, from_state, to_state, reason, actor, at) "
                    "SELECT $1, $2, COALESCE(max(seq), 0) + 1, $3, $4, $5, $6, CAST($7 AS BIGINT) "
                    "FROM card_events WHERE serial = $2",
                    7, params, NULL);
}

static mnap_reg_err card_register_tx(mnap_reg *r, void *p)
{
    card_ctx *c = p;
    const char *params[5] = { c->a->municipality, c->resident, c->serial, NULL, c->a->operator_id };
    char now[24];
    int64_t n = 0;
    mnap_reg_err e;

    /* The resident's row is locked first, so two terminals registering two
     * cards for one resident at once cannot both see "no card in use". */
    e = reg_get_one(r, "SELECT number FROM residents WHERE municipality = $1 AND number = $2", true, 2, params,
                    MNAP_REG_E_NOT_FOUND, NULL);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_count(r,
                  "SELECT count(*) FROM cards WHERE municipality = $1 AND resident = $2 AND "
                  "state IN ('ACTIVE', 'SUSPENDED')",
                  2, params, &n);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (n != 0) {
        return MNAP_REG_E_HAS_CARD;
    }
    if (mnap_reg_card_transition(MNAP_CARD_NONE, MNAP_CARD_ACTIVE, NULL) != MNAP_REG_OK) {
        return MNAP_REG_E_STATE;
    }
    now_text(r, now);
    params[3] = now;
    e = reg_exec(r,
                 "INSERT INTO cards (serial, municipality, resident, state, registered_at, registered_by, "
                 "state_changed_at) VALUES ($3, $1, $2, 'ACTIVE', CAST($4 AS BIGINT), $5, CAST($4 AS BIGINT))",
                 5, params, NULL);
    if (e == MNAP_REG_OK) {
        e = card_event(r, c->a, c->serial, MNAP_CARD_NONE, MNAP_CARD_ACTIVE, "registered", now);
    }
    return e;
}

mnap_reg_err mnap_reg_card_register(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                    const char *resident)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_REGISTER);
    card_ctx c;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || !reg_valid_digits(resident, 1, 15)) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.serial = serial;
    c.resident = resident;
    return reg_tx(r, card_register_tx, &c);
}

mnap_reg_err mnap_reg_card_get(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_card *out)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_READ);
    const char *params[2];
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || out == NULL) {
        return MNAP_REG_E_PARAM;
    }
    params[0] = a->municipality;
    params[1] = serial;
    e = reg_get_one(r,
                    "SELECT serial, resident, state, registered_at, registered_by, state_changed_at FROM cards "
                    "WHERE municipality = $1 AND serial = $2",
                    false, 2, params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    memset(out, 0, sizeof *out);
    reg_copy(out->serial, sizeof out->serial, reg_cell(&rows, 0, 0));
    reg_copy(out->resident, sizeof out->resident, reg_cell(&rows, 0, 1));
    if (mnap_reg_card_state_parse(reg_cell(&rows, 0, 2), &out->state) != MNAP_REG_OK) {
        e = MNAP_REG_E_DB;
    }
    out->registered_at = reg_i64(reg_cell(&rows, 0, 3));
    reg_copy(out->registered_by, sizeof out->registered_by, reg_cell(&rows, 0, 4));
    out->state_changed_at = reg_i64(reg_cell(&rows, 0, 5));
    reg_rows_free(&rows);
    return e;
}

static mnap_reg_err card_state_tx(mnap_reg *r, void *p)
{
    card_ctx *c = p;
    mnap_reg_card_state from;
    char now[24];
    const char *params[4] = { c->a->municipality, c->serial, mnap_reg_card_state_name(c->to), now };
    mnap_reg_err e = lock_card(r, c->a, c->serial, &from);

    if (e != MNAP_REG_OK) {
        return e;
    }
    /* The one place a card's state changes: through the table. */
    e = mnap_reg_card_transition(from, c->to, NULL);
    if (e != MNAP_REG_OK) {
        reg_msg(r, "a card %s cannot become %s", mnap_reg_card_state_name(from), mnap_reg_card_state_name(c->to));
        return e;
    }
    now_text(r, now);
    e = reg_exec(r,
                 "UPDATE cards SET state = $3, state_changed_at = CAST($4 AS BIGINT) "
                 "WHERE municipality = $1 AND serial = $2",
                 4, params, NULL);
    if (e == MNAP_REG_OK) {
        e = card_event(r, c->a, c->serial, from, c->to, c->reason, now);
    }
    return e;
}

mnap_reg_err mnap_reg_card_set_state(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                     mnap_reg_card_state to, const char *reason)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_STOP);
    mnap_reg_card_state target = MNAP_CARD_NONE;
    card_ctx c;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || to <= MNAP_CARD_NONE || to >= MNAP_CARD__COUNT ||
        mnap_reg_card_reason_target(reason, &target) != MNAP_REG_OK || target != to ||
        strcmp(reason, "registered") == 0) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.serial = serial;
    c.to = to;
    c.reason = reason;
    return reg_tx(r, card_state_tx, &c);
}

mnap_reg_err mnap_reg_card_events(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                  mnap_reg_card_event *out, size_t max, size_t *count)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_READ);
    const char *params[2] = { NULL, serial };
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || count == NULL || (out == NULL && max != 0)) {
        return MNAP_REG_E_PARAM;
    }
    *count = 0;
    params[0] = a->municipality;
    e = reg_exec(r,
                 "SELECT from_state, to_state, reason, actor, at FROM card_events "
                 "WHERE municipality = $1 AND serial = $2 ORDER BY seq",
                 2, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows && *count < max; i++) {
        mnap_reg_card_event *ev = &out[*count];
        memset(ev, 0, sizeof *ev);
        if (strcmp(reg_cell(&rows, i, 0), "NONE") != 0) {
            (void)mnap_reg_card_state_parse(reg_cell(&rows, i, 0), &ev->from);
        }
        (void)mnap_reg_card_state_parse(reg_cell(&rows, i, 1), &ev->to);
        reg_copy(ev->reason, sizeof ev->reason, reg_cell(&rows, i, 2));
        reg_copy(ev->actor, sizeof ev->actor, reg_cell(&rows, i, 3));
        ev->at = reg_i64(reg_cell(&rows, i, 4));
        (*count)++;
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_card_servable(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                    mnap_reg_card_state *state)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_KIOSK_FLOW);
    const char *params[2] = { NULL, serial };
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16)) {
        return MNAP_REG_E_PARAM;
    }
    params[0] = a->municipality;
    e = reg_exec(r, "SELECT state FROM stop_list WHERE municipality = $1 AND serial = $2", 2, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (rows.nrows != 0) {
        mnap_reg_card_state s = MNAP_CARD_STOPPED;
        (void)mnap_reg_card_state_parse(reg_cell(&rows, 0, 0), &s);
        if (state != NULL) {
            *state = s;
        }
        e = MNAP_REG_E_STATE;
    } else if (state != NULL) {
        *state = MNAP_CARD_ACTIVE;
    }
    reg_rows_free(&rows);
    return e;
}

mnap_reg_err mnap_reg_card_require_active(mnap_reg *r, const mnap_reg_actor *a,
                                          const char *serial)
{
    mnap_reg_card card;
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_OPS);

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!mnap_reg_allowed(a->role, MNAP_PERM_CARD_READ)) {
        return MNAP_REG_E_DENIED;
    }
    e = mnap_reg_card_get(r, a, serial, &card);
    if (e == MNAP_REG_OK && card.state != MNAP_CARD_ACTIVE) {
        e = MNAP_REG_E_STATE;
    }
    return e;
}

static mnap_reg_err ap_rows(mnap_reg *r, const mnap_reg_actor *a, const char *serial, bool pending,
                            mnap_reg_ap *out, size_t max, size_t *count)
{
    const char *params[2] = { a->municipality, serial };
    reg_rows rows;
    mnap_reg_err e;

    *count = 0;
    e = reg_exec(r,
                 pending ? "SELECT aid, service, status, loaded_at, loaded_by, deleted_at, deleted_by FROM issued_aps "
                           "WHERE municipality = $1 AND serial = $2 AND status IN ('LOADING', 'DELETING') "
                           "ORDER BY seq DESC, aid"
                         : "SELECT aid, service, status, loaded_at, loaded_by, deleted_at, deleted_by FROM issued_aps "
                           "WHERE municipality = $1 AND serial = $2 ORDER BY begun_at DESC, seq DESC, aid",
                 2, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows && *count < max; i++) {
        mnap_reg_ap *ap = &out[*count];
        memset(ap, 0, sizeof *ap);
        reg_copy(ap->aid, sizeof ap->aid, reg_cell(&rows, i, 0));
        reg_copy(ap->service, sizeof ap->service, reg_cell(&rows, i, 1));
        ap->status = MNAP_AP__COUNT;
        for (unsigned s = 0; s < MNAP_AP__COUNT; s++) {
            if (reg_cell(&rows, i, 2) != NULL &&
                strcmp(reg_cell(&rows, i, 2), mnap_reg_ap_status_name((mnap_reg_ap_status)s)) == 0) {
                ap->status = (mnap_reg_ap_status)s;
            }
        }
        ap->loaded_at = reg_i64(reg_cell(&rows, i, 3));
        reg_copy(ap->loaded_by, sizeof ap->loaded_by, reg_cell(&rows, i, 4));
        ap->deleted_at = reg_i64(reg_cell(&rows, i, 5));
        reg_copy(ap->deleted_by, sizeof ap->deleted_by, reg_cell(&rows, i, 6));
        (*count)++;
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_card_aps(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_ap *out, size_t max, size_t *count)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_READ);

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || count == NULL || (out == NULL && max > 0)) {
        return MNAP_REG_E_PARAM;
    }
    return ap_rows(r, a, serial, false, out, max, count);
}

mnap_reg_err mnap_reg_ap_pending(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                 mnap_reg_ap *out, size_t max, size_t *count)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_READ);

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || count == NULL || (out == NULL && max > 0)) {
        return MNAP_REG_E_PARAM;
    }
    return ap_rows(r, a, serial, true, out, max, count);
}

mnap_reg_err mnap_reg_stop_list(mnap_reg *r, const mnap_reg_actor *a,
                                void (*cb)(void *user, const char *serial,
                                           mnap_reg_card_state state, int64_t since),
                                void *user)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_STOPLIST_READ);
    const char *params[1];
    reg_rows rows;

    if (e != MNAP_REG_OK) {
        return e;
    }
    params[0] = a->municipality;
    e = reg_exec(r, "SELECT serial, state, state_changed_at FROM stop_list WHERE municipality = $1 ORDER BY serial",
                 1, params, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows; i++) {
        mnap_reg_card_state s = MNAP_CARD_NONE;
        (void)mnap_reg_card_state_parse(reg_cell(&rows, i, 1), &s);
        cb(user, reg_cell(&rows, i, 0), s, reg_i64(reg_cell(&rows, i, 2)));
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

/* --- the AP change protocol ------------------------------------------------------ */

static mnap_reg_err ap_begin_tx(mnap_reg *r, void *p)
{
    card_ctx *c = p;
    mnap_reg_card_state st;
    char now[24];
    const char *params[6] = { c->a->municipality, c->serial, c->aid, c->service, now, c->a->operator_id };
    int64_t n = 0;
    mnap_reg_err e = lock_card(r, c->a, c->serial, &st);

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (st != MNAP_CARD_ACTIVE) {
        reg_msg(r, "card %s is %s", c->serial, mnap_reg_card_state_name(st));
        return MNAP_REG_E_STATE;
    }
    e = reg_count(r,
                  "SELECT count(*) FROM issued_aps WHERE municipality = $1 AND serial = $2 AND "
                  "status IN ('LOADING', 'DELETING')",
                  2, params, &n);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (n != 0) {
        return MNAP_REG_E_PENDING;
    }
    now_text(r, now);
    if (c->op == MNAP_REG_AP_LOAD) {
        e = reg_count(r,
                      "SELECT count(*) FROM issued_aps WHERE municipality = $1 AND serial = $2 AND aid = $3 "
                      "AND status = 'LOADED'",
                      3, params, &n);
        if (e != MNAP_REG_OK) {
            return e;
        }
        if (n != 0) {
            return MNAP_REG_E_EXISTS;
        }
        return reg_exec(r,
                        "INSERT INTO issued_aps (municipality, serial, aid, seq, service, status, begun_at, "
                        "begun_by) VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) + 1 FROM issued_aps "
                        "WHERE serial = $2 AND aid = $3), $4, 'LOADING', CAST($5 AS BIGINT), $6)",
                        6, params, NULL);
    }
    /* A delete: the loaded record becomes DELETING; an AP the registry never
     * recorded (loaded before the registry) gets a record now. */
    uint64_t changed = 0;
    e = reg_exec_changed(r,
                         "UPDATE issued_aps SET status = 'DELETING' WHERE municipality = $1 AND serial = $2 AND "
                         "aid = $3 AND status = 'LOADED'",
                         3, params, &changed);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (changed != 0) {
        return MNAP_REG_OK;
    }
    params[3] = "";
    return reg_exec(r,
                    "INSERT INTO issued_aps (municipality, serial, aid, seq, service, status, begun_at, begun_by) "
                    "VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) + 1 FROM issued_aps WHERE serial = $2 "
                    "AND aid = $3), $4, 'DELETING', CAST($5 AS BIGINT), $6)",
                    6, params, NULL);
}

static bool valid_aid(const char *aid)
{
    return reg_valid_hex(aid, 10, 32);
}

mnap_reg_err mnap_reg_ap_begin(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_ap_op op, const char *aid, const char *service)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_OPS);
    card_ctx c;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || !valid_aid(aid) || (op != MNAP_REG_AP_LOAD && op != MNAP_REG_AP_DELETE) ||
        (op == MNAP_REG_AP_LOAD && !reg_valid_text(service, 64))) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.serial = serial;
    c.aid = aid;
    c.service = service != NULL ? service : "";
    c.op = op;
    return reg_tx(r, ap_begin_tx, &c);
}

/* Settles the pending record of (serial, aid): to LOADED, DELETED or FAILED. */
static mnap_reg_err settle(mnap_reg *r, card_ctx *c, bool present)
{
    const char *params[5] = { c->a->municipality, c->serial, c->aid, NULL, c->a->operator_id };
    char now[24];
    reg_rows rows;
    mnap_reg_card_state st;
    mnap_reg_err e = lock_card(r, c->a, c->serial, &st);

    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_get_one(r,
                    "SELECT status FROM issued_aps WHERE municipality = $1 AND serial = $2 AND aid = $3 AND "
                    "status IN ('LOADING', 'DELETING')",
                    true, 3, params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    bool loading = strcmp(reg_cell(&rows, 0, 0), "LOADING") == 0;
    reg_rows_free(&rows);
    now_text(r, now);
    params[3] = now;
    if (loading && present) {
        c->now_status = MNAP_AP_LOADED;
        return reg_exec(r,
                        "UPDATE issued_aps SET status = 'LOADED', loaded_at = CAST($4 AS BIGINT), loaded_by = $5 "
                        "WHERE municipality = $1 AND serial = $2 AND aid = $3 AND status = 'LOADING'",
                        5, params, NULL);
    }
    if (loading) {
        c->now_status = MNAP_AP_FAILED;
        return reg_exec(r,
                        "UPDATE issued_aps SET status = 'FAILED' "
                        "WHERE municipality = $1 AND serial = $2 AND aid = $3 AND status = 'LOADING'",
                        3, params, NULL);
    }
    if (present) {
        c->now_status = MNAP_AP_LOADED;
        return reg_exec(r,
                        "UPDATE issued_aps SET status = 'LOADED' "
                        "WHERE municipality = $1 AND serial = $2 AND aid = $3 AND status = 'DELETING'",
                        3, params, NULL);
    }
    c->now_status = MNAP_AP_DELETED;
    return reg_exec(r,
                    "UPDATE issued_aps SET status = 'DELETED', deleted_at = CAST($4 AS BIGINT), deleted_by = $5 "
                    "WHERE municipality = $1 AND serial = $2 AND aid = $3 AND status = 'DELETING'",
                    5, params, NULL);
}

static mnap_reg_err ap_finish_tx(mnap_reg *r, void *p)
{
    card_ctx *c = p;
    reg_rows rows;
    const char *params[3] = { c->a->municipality, c->serial, c->aid };
    mnap_reg_err e;
    bool present;

    /* done: the card did what the intent said; not done: it did not. */
    e = reg_get_one(r,
                    "SELECT status FROM issued_aps WHERE municipality = $1 AND serial = $2 AND aid = $3 AND "
                    "status IN ('LOADING', 'DELETING')",
                    false, 3, params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    bool loading = strcmp(reg_cell(&rows, 0, 0), "LOADING") == 0;
    reg_rows_free(&rows);
    present = loading ? c->done : !c->done;
    return settle(r, c, present);
}

mnap_reg_err mnap_reg_ap_finish(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                const char *aid, bool done)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_OPS);
    card_ctx c;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || !valid_aid(aid)) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.serial = serial;
    c.aid = aid;
    c.done = done;
    return reg_tx(r, ap_finish_tx, &c);
}

static mnap_reg_err ap_resolve_tx(mnap_reg *r, void *p)
{
    card_ctx *c = p;
    return settle(r, c, c->on_card);
}

mnap_reg_err mnap_reg_ap_resolve(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                 const char *aid, bool on_card, mnap_reg_ap_status *now)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_CARD_OPS);
    card_ctx c;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_hex(serial, 16, 16) || !valid_aid(aid)) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.a = a;
    c.serial = serial;
    c.aid = aid;
    c.on_card = on_card;
    e = reg_tx(r, ap_resolve_tx, &c);
    if (e == MNAP_REG_OK && now != NULL) {
        *now = c.now_status;
    }
    return e;
}
