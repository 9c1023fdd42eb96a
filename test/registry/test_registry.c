/* test_registry.c: the registry library's API-level cases, the same on both
 * engines.  Without MNAP_REG_TEST_PG it runs on SQLite (a temporary file per
 * case); test/registry/run.sh starts a private PostgreSQL and runs it again
 * with MNAP_REG_TEST_PG=<conninfo of a superuser> (a fresh database per case;
 * terminals connect as login roles city_a / city_b, members of mnap_m_<code>,
 * never as the tables' owner).  On PostgreSQL it also checks that a forged
 * actor gets nothing of another municipality: the database, not the library,
 * stops it there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mnap/mnap.h"
#include "mnap/mnap_registry.h"

#define CODE_A "131016"
#define CODE_B "271004"
#define PW_ADMIN "admin password A"
#define PW_CLERK "clerk password A"
#define PW_SUP "supervisor pw A"

typedef struct fx {
    bool pg;
    char path[256];
    char admin_conn[512];
    char a_conn[512];
    char b_conn[512];
    mnap_reg *ra, *rb;        /* city A's and city B's terminals */
    mnap_reg_actor admin_a, clerk_a, sup_a, admin_b, clerk_b, kiosk_a, auditor_a;
} fx;

static const char *pg_base(void)
{
    const char *s = getenv("MNAP_REG_TEST_PG");
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_admin_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *res;

    PQsetNoticeProcessor(c, quiet, NULL);

    if (PQstatus(c) != CONNECTION_OK) {
        fail_msg("connect %s: %s", conninfo, PQerrorMessage(c));
    }
    res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    PQclear(res);
    PQfinish(c);
}

static void login_as(mnap_reg *r, const char *code, const char *id, const char *pw, mnap_reg_actor *a)
{
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    assert_int_equal(mnap_reg_login(r, code, id, pw, strlen(pw), 3600, tok, a), MNAP_REG_OK);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    mnap_reg *adm = NULL;
    char why[256];
    const char *base = pg_base();

    assert_non_null(f);
    if (base != NULL) {
        char sql[512];
        f->pg = true;
        snprintf(f->admin_conn, sizeof f->admin_conn, "%s dbname=postgres", base);
        pg_admin_exec(f->admin_conn, "DROP DATABASE IF EXISTS mnap_t WITH (FORCE)");
        pg_admin_exec(f->admin_conn, "CREATE DATABASE mnap_t");
        snprintf(f->admin_conn, sizeof f->admin_conn, "%s dbname=mnap_t", base);
        snprintf(f->a_conn, sizeof f->a_conn, "%s dbname=mnap_t user=city_a", base);
        snprintf(f->b_conn, sizeof f->b_conn, "%s dbname=mnap_t user=city_b", base);
        (void)sql;
    } else {
        snprintf(f->path, sizeof f->path, "/tmp/mnap-reg-test-%ld-XXXXXX", (long)getpid());
        int fd = mkstemp(f->path);
        assert_true(fd >= 0);
        close(fd);
        unlink(f->path);
        snprintf(f->admin_conn, sizeof f->admin_conn, "sqlite:%s", f->path);
        snprintf(f->a_conn, sizeof f->a_conn, "sqlite:%s", f->path);
        snprintf(f->b_conn, sizeof f->b_conn, "%s", f->path);
    }
    assert_int_equal(mnap_reg_open(&adm, f->admin_conn, MNAP_REG_OPEN_MIGRATE, why, sizeof why), MNAP_REG_OK);
    assert_int_equal(mnap_reg_set_kdf_cost(adm, 10), MNAP_REG_OK);
    assert_int_equal(mnap_reg_municipality_add(adm, CODE_A, "千代田区", 0), MNAP_REG_OK);
    assert_int_equal(mnap_reg_municipality_add(adm, CODE_B, "大阪市", 5), MNAP_REG_OK);
    assert_int_equal(mnap_reg_bootstrap_admin(adm, CODE_A, "admin", "管理者", PW_ADMIN, strlen(PW_ADMIN)),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_bootstrap_admin(adm, CODE_B, "admin", "管理者", "admin password B", 16),
                     MNAP_REG_OK);
    mnap_reg_close(adm);
    if (f->pg) {
        /* The terminals' login roles: members of their municipality's role
         * only.  Roles are cluster-wide, so made once. */
        pg_admin_exec(f->admin_conn,
                      "DO $$ BEGIN "
                      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'city_a') THEN "
                      "CREATE ROLE city_a LOGIN IN ROLE mnap_m_131016; END IF; "
                      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'city_b') THEN "
                      "CREATE ROLE city_b LOGIN IN ROLE mnap_m_271004; END IF; "
                      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kiosk_a') THEN "
                      "CREATE ROLE kiosk_a LOGIN IN ROLE mnap_k_131016; END IF; END $$");
    }
    assert_int_equal(mnap_reg_open(&f->ra, f->a_conn, 0, why, sizeof why), MNAP_REG_OK);
    assert_int_equal(mnap_reg_open(&f->rb, f->b_conn, 0, why, sizeof why), MNAP_REG_OK);
    mnap_reg_set_kdf_cost(f->ra, 10);
    mnap_reg_set_kdf_cost(f->rb, 10);
    login_as(f->ra, CODE_A, "admin", PW_ADMIN, &f->admin_a);
    login_as(f->rb, CODE_B, "admin", "admin password B", &f->admin_b);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "clerk1", "窓口 一郎", MNAP_ROLE_CLERK, PW_CLERK,
                                           strlen(PW_CLERK)),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "sup1", "監督 花子", MNAP_ROLE_SUPERVISOR, PW_SUP,
                                           strlen(PW_SUP)),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "kiosk1", "kiosk 1", MNAP_ROLE_KIOSK,
                                           "kiosk password", 14),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "aud1", "監査", MNAP_ROLE_AUDITOR,
                                           "auditor password", 16),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_add(f->rb, &f->admin_b, "clerk1", "clerk B", MNAP_ROLE_CLERK,
                                           "clerk password B", 16),
                     MNAP_REG_OK);
    login_as(f->ra, CODE_A, "clerk1", PW_CLERK, &f->clerk_a);
    login_as(f->ra, CODE_A, "sup1", PW_SUP, &f->sup_a);
    login_as(f->ra, CODE_A, "kiosk1", "kiosk password", &f->kiosk_a);
    login_as(f->ra, CODE_A, "aud1", "auditor password", &f->auditor_a);
    login_as(f->rb, CODE_B, "clerk1", "clerk password B", &f->clerk_b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    mnap_reg_close(f->ra);
    mnap_reg_close(f->rb);
    if (!f->pg) {
        char p[300];
        unlink(f->path);
        snprintf(p, sizeof p, "%s-wal", f->path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", f->path);
        unlink(p);
    }
    free(f);
    return 0;
}

/* Raw SQL on the database, bypassing the library: as the DBA (admin: the
 * superuser on PostgreSQL, the file itself on SQLite) or as city A's
 * terminal role.  true when the statement succeeded. */
static bool raw_sql(const fx *f, bool admin, const char *sql)
{
    if (f->pg) {
        PGconn *c = PQconnectdb(admin ? f->admin_conn : f->a_conn);
        PQsetNoticeProcessor(c, quiet, NULL);
        PGresult *res = PQexec(c, sql);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        PQfinish(c);
        return ok;
    }
    sqlite3 *db = NULL;
    bool ok = sqlite3_open(f->path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
}

static void resident(mnap_reg_resident *r, const char *num, const char *kanji, const char *kana)
{
    memset(r, 0, sizeof *r);
    snprintf(r->number, sizeof r->number, "%s", num);
    snprintf(r->name_kanji, sizeof r->name_kanji, "%s", kanji);
    snprintf(r->name_kana, sizeof r->name_kana, "%s", kana);
    snprintf(r->birth_date, sizeof r->birth_date, "1985-04-01");
    snprintf(r->address, sizeof r->address, "東京都千代田区千代田1-1");
}

/* --- schema ------------------------------------------------------------------- */
static void test_schema(void **state)
{
    fx *f = *state;
    int have = 0, want = 0;
    mnap_reg *r = NULL;

    assert_int_equal(mnap_reg_schema_version(f->ra, &have, &want), MNAP_REG_OK);
    assert_int_equal(have, want);
    assert_true(want >= 1);
    assert_string_equal(mnap_reg_engine(f->ra), f->pg ? "postgresql" : "sqlite");
    /* Migrating an up-to-date schema again changes nothing. */
    assert_int_equal(mnap_reg_open(&r, f->admin_conn, MNAP_REG_OPEN_MIGRATE, NULL, 0), MNAP_REG_OK);
    mnap_reg_close(r);
    if (!f->pg) {
        char p[300];
        snprintf(p, sizeof p, "%s.empty", f->path);
        assert_int_equal(mnap_reg_open(&r, p, 0, NULL, 0), MNAP_REG_E_SCHEMA_OLD);
        assert_null(r);
        unlink(p);
    } else {
        /* The application role cannot migrate: it owns nothing. */
        char why[256];
        pg_admin_exec(f->admin_conn, "DROP DATABASE IF EXISTS mnap_empty WITH (FORCE)");
        pg_admin_exec(f->admin_conn, "CREATE DATABASE mnap_empty");
        char c[600];
        snprintf(c, sizeof c, "%s dbname=mnap_empty user=city_a", pg_base());
        assert_int_equal(mnap_reg_open(&r, c, 0, why, sizeof why), MNAP_REG_E_SCHEMA_OLD);
        pg_admin_exec(f->admin_conn, "DROP DATABASE mnap_empty");
    }
    assert_int_equal(mnap_reg_open(&r, "", 0, NULL, 0), MNAP_REG_E_PARAM);
}

/* --- the two tables ------------------------------------------------------------- */
static void test_permission_table(void **state)
{
    (void)state;
    assert_true(mnap_reg_allowed(MNAP_ROLE_CLERK, MNAP_PERM_CARD_OPS));
    assert_false(mnap_reg_allowed(MNAP_ROLE_CLERK, MNAP_PERM_OPERATOR_UNLOCK));
    assert_false(mnap_reg_allowed(MNAP_ROLE_CLERK, MNAP_PERM_OPERATOR_ADMIN));
    assert_false(mnap_reg_allowed(MNAP_ROLE_CLERK, MNAP_PERM_KEYS));
    assert_true(mnap_reg_allowed(MNAP_ROLE_SUPERVISOR, MNAP_PERM_OPERATOR_UNLOCK));
    assert_true(mnap_reg_allowed(MNAP_ROLE_SUPERVISOR, MNAP_PERM_CARD_STOP));
    assert_false(mnap_reg_allowed(MNAP_ROLE_CLERK, MNAP_PERM_CARD_STOP));
    for (int p = 0; p < MNAP_PERM__COUNT; p++) {
        assert_int_equal(mnap_reg_allowed(MNAP_ROLE_AUDITOR, (mnap_reg_perm)p), p == MNAP_PERM_AUDIT_READ);
        assert_int_equal(mnap_reg_allowed(MNAP_ROLE_KIOSK, (mnap_reg_perm)p),
                         p == MNAP_PERM_STOPLIST_READ || p == MNAP_PERM_KIOSK_FLOW);
    }
    assert_true(mnap_reg_allowed(MNAP_ROLE_ADMIN, MNAP_PERM_KEYS));
    assert_false(mnap_reg_allowed(MNAP_ROLE_ADMIN, MNAP_PERM_CARD_OPS));
    assert_false(mnap_reg_allowed((mnap_reg_role)99, MNAP_PERM_CARD_OPS));
    for (int r = 0; r < MNAP_ROLE__COUNT; r++) {
        mnap_reg_role back;
        assert_int_equal(mnap_reg_role_parse(mnap_reg_role_name((mnap_reg_role)r), &back), MNAP_REG_OK);
        assert_int_equal(back, r);
    }
    mnap_reg_role x;
    assert_int_equal(mnap_reg_role_parse("root", &x), MNAP_REG_E_PARAM);
}

static char *read_doc(void)
{
    FILE *fp = fopen("docs/registry.md", "r");
    static char buf[200000];
    size_t n;

    if (fp == NULL) {
        return NULL;
    }
    n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_state_table(void **state)
{
    mnap_reg_card_state from, to;
    const char *why;
    size_t n = 0;
    char *doc = read_doc();

    (void)state;
    assert_non_null(doc);
    while (mnap_reg_card_transition_at(n, &from, &to, &why)) {
        char row[600];
        assert_int_equal(mnap_reg_card_transition(from, to, NULL), MNAP_REG_OK);
        /* Published in docs/registry.md, word for word. */
        snprintf(row, sizeof row, "| %s | %s | %s |", mnap_reg_card_state_name(from), mnap_reg_card_state_name(to),
                 why);
        if (strstr(doc, row) == NULL) {
            fail_msg("docs/registry.md lacks the row: %s", row);
        }
        n++;
    }
    assert_int_equal(n, 7);
    /* Final states have no way out; nothing goes back to NONE. */
    for (int s = 0; s < MNAP_CARD__COUNT; s++) {
        assert_int_equal(mnap_reg_card_transition(MNAP_CARD_STOPPED, (mnap_reg_card_state)s, NULL), MNAP_REG_E_STATE);
        assert_int_equal(mnap_reg_card_transition(MNAP_CARD_TERMINATED, (mnap_reg_card_state)s, NULL),
                         MNAP_REG_E_STATE);
        assert_int_equal(mnap_reg_card_transition((mnap_reg_card_state)s, MNAP_CARD_NONE, NULL), MNAP_REG_E_STATE);
    }
    assert_int_equal(mnap_reg_card_transition(MNAP_CARD_ACTIVE, MNAP_CARD_ACTIVE, NULL), MNAP_REG_E_STATE);
    for (int r = 0; r < MNAP_ROLE__COUNT; r++) {
        char row[400];
        int k = snprintf(row, sizeof row, "| %s |", mnap_reg_role_name((mnap_reg_role)r));
        for (int p = 0; p < MNAP_PERM__COUNT; p++) {
            k += snprintf(row + k, sizeof row - (size_t)k, " %s |",
                          mnap_reg_allowed((mnap_reg_role)r, (mnap_reg_perm)p) ? "yes" : "-");
        }
        if (strstr(doc, row) == NULL) {
            fail_msg("docs/registry.md lacks the permission row: %s", row);
        }
    }
}

/* --- operators, login, sessions ----------------------------------------------------- */
static void test_login_lockout(void **state)
{
    fx *f = *state;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;
    mnap_reg_operator op;

    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", "wrong", 5, 60, tok, &a), MNAP_REG_E_AUTH);
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", "wrong", 5, 60, tok, &a), MNAP_REG_E_AUTH);
    assert_int_equal(mnap_reg_operator_get(f->ra, &f->sup_a, "clerk1", &op), MNAP_REG_OK);
    assert_int_equal(op.failed_logins, 2);
    assert_false(op.locked);
    /* The third in a row locks (the municipality's default limit). */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", "wrong", 5, 60, tok, &a), MNAP_REG_E_LOCKED);
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 60, tok, &a),
                     MNAP_REG_E_LOCKED);
    /* Only a supervisor (or admin) unlocks; a clerk may not. */
    assert_int_equal(mnap_reg_operator_lock(f->ra, &f->clerk_a, "clerk1", false), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_operator_lock(f->ra, &f->sup_a, "clerk1", false), MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_get(f->ra, &f->sup_a, "clerk1", &op), MNAP_REG_OK);
    assert_int_equal(op.failed_logins, 0);
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 60, tok, &a), MNAP_REG_OK);
    assert_string_equal(a.operator_id, "clerk1");
    assert_int_equal(a.role, MNAP_ROLE_CLERK);
    /* A success resets the count: two failures, a success, two failures. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", "bad", 3, 60, tok, &a), MNAP_REG_E_AUTH);
    }
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 60, tok, &a), MNAP_REG_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", "bad", 3, 60, tok, &a), MNAP_REG_E_AUTH);
    }
    /* Municipality B set five. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mnap_reg_login(f->rb, CODE_B, "clerk1", "bad", 3, 60, tok, &a), MNAP_REG_E_AUTH);
    }
    assert_int_equal(mnap_reg_login(f->rb, CODE_B, "clerk1", "bad", 3, 60, tok, &a), MNAP_REG_E_LOCKED);
    /* An unknown operator is told apart from nothing. */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "nobody", "whatever", 8, 60, tok, &a), MNAP_REG_E_AUTH);
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "bad id!", "whatever", 8, 60, tok, &a), MNAP_REG_E_PARAM);
}

static void test_sessions(void **state)
{
    fx *f = *state;
    uint8_t tok[MNAP_REG_TOKEN_LEN], other[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a, b;

    mnap_reg_set_clock(f->ra, 1000000);
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 600, tok, &a), MNAP_REG_OK);
    assert_int_equal(mnap_reg_session_resume(f->ra, tok, &b), MNAP_REG_OK);
    assert_string_equal(b.operator_id, "clerk1");
    assert_string_equal(b.municipality, CODE_A);
    /* An edited token is worth nothing. */
    memcpy(other, tok, sizeof other);
    other[5] ^= 1;
    assert_int_equal(mnap_reg_session_resume(f->ra, other, &b), MNAP_REG_E_SESSION);
    /* Expiry. */
    mnap_reg_set_clock(f->ra, 1000000 + 599);
    assert_int_equal(mnap_reg_session_resume(f->ra, tok, &b), MNAP_REG_OK);
    mnap_reg_set_clock(f->ra, 1000000 + 600);
    assert_int_equal(mnap_reg_session_resume(f->ra, tok, &b), MNAP_REG_E_SESSION);
    mnap_reg_set_clock(f->ra, 0);
    /* Logout ends it for good. */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 600, tok, &a), MNAP_REG_OK);
    assert_int_equal(mnap_reg_logout(f->ra, tok), MNAP_REG_OK);
    assert_int_equal(mnap_reg_session_resume(f->ra, tok, &b), MNAP_REG_E_SESSION);
    assert_int_equal(mnap_reg_logout(f->ra, tok), MNAP_REG_E_SESSION);
    /* A lock by a supervisor ends the operator's sessions. */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 600, tok, &a), MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_lock(f->ra, &f->sup_a, "clerk1", true), MNAP_REG_OK);
    assert_int_equal(mnap_reg_session_resume(f->ra, tok, &b), MNAP_REG_E_SESSION);
    /* A session of A is not one of B's terminals. */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "sup1", PW_SUP, strlen(PW_SUP), 600, tok, &a), MNAP_REG_OK);
    if (f->pg) {
        assert_int_equal(mnap_reg_session_resume(f->rb, tok, &b), MNAP_REG_E_SESSION);
    }
}

static void test_operator_admin(void **state)
{
    fx *f = *state;
    mnap_reg_operator op;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;

    /* Only an admin manages operators. */
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->clerk_a, "x1", "x", MNAP_ROLE_ADMIN, "password1", 9),
                     MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->sup_a, "x1", "x", MNAP_ROLE_CLERK, "password1", 9),
                     MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_operator_set_role(f->ra, &f->clerk_a, "clerk1", MNAP_ROLE_ADMIN), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "clerk1", "dup", MNAP_ROLE_CLERK, "password1", 9),
                     MNAP_REG_E_EXISTS);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "short", "x", MNAP_ROLE_CLERK, "1234567", 7),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_operator_add(f->ra, &f->admin_a, "a b", "x", MNAP_ROLE_CLERK, "password1", 9),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_operator_set_role(f->ra, &f->admin_a, "clerk1", MNAP_ROLE_SUPERVISOR), MNAP_REG_OK);
    assert_int_equal(mnap_reg_operator_get(f->ra, &f->admin_a, "clerk1", &op), MNAP_REG_OK);
    assert_int_equal(op.role, MNAP_ROLE_SUPERVISOR);
    assert_string_equal(op.display_name, "窓口 一郎");
    /* The role is read at every resume: the new one holds at once. */
    assert_int_equal(mnap_reg_login(f->ra, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 600, tok, &a), MNAP_REG_OK);
    assert_int_equal(a.role, MNAP_ROLE_SUPERVISOR);
    assert_int_equal(mnap_reg_operator_set_role(f->ra, &f->admin_a, "nobody", MNAP_ROLE_CLERK), MNAP_REG_E_NOT_FOUND);
    /* The bootstrap admin is a one-time door. */
    mnap_reg *adm;
    assert_int_equal(mnap_reg_open(&adm, f->admin_conn, 0, NULL, 0), MNAP_REG_OK);
    assert_int_equal(mnap_reg_bootstrap_admin(adm, CODE_A, "admin2", "x", "password2", 9), MNAP_REG_E_EXISTS);
    assert_int_equal(mnap_reg_bootstrap_admin(adm, "999999", "admin2", "x", "password2", 9), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_municipality_add(adm, CODE_A, "again", 0), MNAP_REG_E_EXISTS);
    assert_int_equal(mnap_reg_municipality_add(adm, "12345", "bad code", 0), MNAP_REG_E_PARAM);
    mnap_reg_close(adm);
    /* An operator sees its own record, not others' (clerk). */
    mnap_reg_actor clerk = f->clerk_a;
    assert_int_equal(mnap_reg_operator_get(f->ra, &clerk, "sup1", &op), MNAP_REG_E_DENIED);
}

/* --- residents and service IDs ----------------------------------------------------- */
static void test_residents(void **state)
{
    fx *f = *state;
    mnap_reg_resident r, got, list[8];
    size_t n = 0;

    resident(&r, "100000000001", "山田 太郎", "ヤマダ タロウ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_E_EXISTS);
    resident(&r, "100000000002", "山田 花子", "ヤマダ ハナコ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    resident(&r, "100000000003", "鈴木 100%_x", "スズキ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    assert_int_equal(mnap_reg_resident_get(f->ra, &f->clerk_a, "100000000001", &got), MNAP_REG_OK);
    assert_string_equal(got.name_kanji, "山田 太郎");
    assert_string_equal(got.name_kana, "ヤマダ タロウ");
    assert_string_equal(got.birth_date, "1985-04-01");
    assert_int_equal(mnap_reg_resident_find(f->ra, &f->clerk_a, "ヤマダ", list, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].number, "100000000001");
    assert_int_equal(mnap_reg_resident_find(f->ra, &f->clerk_a, "ヤマダ", list, 1, &n), MNAP_REG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mnap_reg_resident_find(f->ra, &f->clerk_a, "%", list, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 1); /* the % is a character, not a wildcard */
    assert_int_equal(mnap_reg_resident_find(f->ra, &f->clerk_a, "0%_", list, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 1);
    /* Bad input is refused before the database. */
    resident(&r, "12a", "x", "x");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_E_PARAM);
    resident(&r, "5", "x", "x");
    snprintf(r.birth_date, sizeof r.birth_date, "2023-02-29");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_E_PARAM);
    resident(&r, "5", "x\ty", "x");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_E_PARAM);
    resident(&r, "5", "\xe3\x81", "x");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_E_PARAM);
    /* Roles: an auditor, a kiosk and an admin read no resident. */
    assert_int_equal(mnap_reg_resident_get(f->ra, &f->auditor_a, "100000000001", &got), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_resident_get(f->ra, &f->kiosk_a, "100000000001", &got), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_resident_get(f->ra, &f->admin_a, "100000000001", &got), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_resident_get(f->ra, NULL, "100000000001", &got), MNAP_REG_E_SESSION);
}

static void test_service_ids(void **state)
{
    fx *f = *state;
    mnap_reg_resident r;
    char lib[65], lib2[65], cert[65], other[65], b[65];

    resident(&r, "42", "佐藤 一", "サトウ ハジメ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    resident(&r, "43", "佐藤 二", "サトウ ジ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    resident(&r, "42", "B の 住民", "ビー");
    assert_int_equal(mnap_reg_resident_add(f->rb, &f->clerk_b, &r), MNAP_REG_OK);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->clerk_a, "42", "library", lib), MNAP_REG_OK);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->clerk_a, "42", "library", lib2), MNAP_REG_OK);
    assert_string_equal(lib, lib2);
    assert_int_equal(strlen(lib), 64);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->clerk_a, "42", "certificate", cert), MNAP_REG_OK);
    assert_string_not_equal(lib, cert);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->clerk_a, "43", "library", other), MNAP_REG_OK);
    assert_string_not_equal(lib, other);
    /* The same resident number in another municipality: another key. */
    assert_int_equal(mnap_reg_service_id(f->rb, &f->clerk_b, "42", "library", b), MNAP_REG_OK);
    assert_string_not_equal(lib, b);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->clerk_a, "44", "library", other), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_service_id(f->ra, &f->kiosk_a, "42", "library", other), MNAP_REG_E_DENIED);
}

/* --- cards and states ------------------------------------------------------------ */
static void stop_cb(void *user, const char *serial, mnap_reg_card_state st, int64_t since)
{
    char *acc = user;
    (void)since;
    strcat(acc, serial);
    strcat(acc, ":");
    strcat(acc, mnap_reg_card_state_name(st));
    strcat(acc, " ");
}

static void add_resident_card(fx *f, const char *num, const char *serial)
{
    mnap_reg_resident r;
    resident(&r, num, "住民", "ジュウミン");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &r), MNAP_REG_OK);
    if (serial != NULL) {
        assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, serial, num), MNAP_REG_OK);
    }
}

static void test_cards_states(void **state)
{
    fx *f = *state;
    mnap_reg_card c;
    char stops[512] = "";

    add_resident_card(f, "7", "0102030405060708");
    assert_int_equal(mnap_reg_card_get(f->ra, &f->clerk_a, "0102030405060708", &c), MNAP_REG_OK);
    assert_int_equal(c.state, MNAP_CARD_ACTIVE);
    assert_string_equal(c.resident, "7");
    assert_string_equal(c.registered_by, "clerk1");
    /* One card in use per resident; the serial is the card's. */
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "1111111111111111", "7"), MNAP_REG_E_HAS_CARD);
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "0102030405060708", "8"), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "01020304050607", "7"), MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "010203040506070g", "7"), MNAP_REG_E_PARAM);
    /* A clerk does not stop cards; a supervisor does, through the table. */
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->clerk_a, "0102030405060708", MNAP_CARD_SUSPENDED, "missing"),
                     MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_SUSPENDED, "missing"), MNAP_REG_OK);
    /* Nothing is loaded, deleted or unblocked on a card not ACTIVE. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, "0102030405060708", MNAP_REG_AP_LOAD, "D276000101",
                                       "library"),
                     MNAP_REG_E_STATE);
    assert_int_equal(mnap_reg_card_require_active(f->ra, &f->clerk_a, "0102030405060708"), MNAP_REG_E_STATE);
    /* Still SUSPENDED: the resident may not get a second card yet. */
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "1111111111111111", "7"), MNAP_REG_E_HAS_CARD);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_ACTIVE, "found"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_STOPPED, "lost"), MNAP_REG_OK);
    /* Final. */
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_ACTIVE, "found"), MNAP_REG_E_STATE);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_TERMINATED, "returned"),
                     MNAP_REG_E_STATE);
    /* Now a new card. */
    assert_int_equal(mnap_reg_card_register(f->ra, &f->clerk_a, "1111111111111111", "7"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "1111111111111111", MNAP_CARD_TERMINATED, "returned"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "9999999999999999", MNAP_CARD_TERMINATED, "returned"),
                     MNAP_REG_E_NOT_FOUND);
    /* The stop list: a kiosk reads it, and nothing else. */
    assert_int_equal(mnap_reg_stop_list(f->ra, &f->kiosk_a, stop_cb, stops), MNAP_REG_OK);
    assert_string_equal(stops, "0102030405060708:STOPPED 1111111111111111:TERMINATED ");
    assert_int_equal(mnap_reg_card_get(f->ra, &f->kiosk_a, "0102030405060708", &c), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_stop_list(f->ra, &f->auditor_a, stop_cb, stops), MNAP_REG_E_DENIED);
}

/* Stop measures: each change is recorded with who, when and why; a reason
 * leads to one state; a kiosk asks "may this card be served?". */
static void test_card_stop_measures(void **state)
{
    fx *f = *state;
    mnap_reg_card_event ev[8];
    mnap_reg_card_state st = MNAP_CARD_NONE;
    size_t n = 0;

    add_resident_card(f, "7", "0102030405060708");
    add_resident_card(f, "8", "0202030405060708");
    /* The reason must lead to the state asked for; "registered" is not a move. */
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_SUSPENDED, "lost"),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_ACTIVE, "registered"),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_STOPPED, "broken"),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->kiosk_a, "0102030405060708", &st), MNAP_REG_OK);
    assert_int_equal(st, MNAP_CARD_ACTIVE);
    mnap_reg_set_clock(f->ra, 1800000000);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_SUSPENDED, "missing"),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->kiosk_a, "0102030405060708", &st), MNAP_REG_E_STATE);
    assert_int_equal(st, MNAP_CARD_SUSPENDED);
    mnap_reg_set_clock(f->ra, 1800000100);
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_STOPPED, "stolen"),
                     MNAP_REG_OK);
    mnap_reg_set_clock(f->ra, 0);
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->kiosk_a, "0102030405060708", &st), MNAP_REG_E_STATE);
    assert_int_equal(st, MNAP_CARD_STOPPED);
    /* The other card is served; the question is the kiosk's, not a clerk's. */
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->kiosk_a, "0202030405060708", NULL), MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->clerk_a, "0102030405060708", NULL), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_card_servable(f->ra, &f->kiosk_a, "01020304", NULL), MNAP_REG_E_PARAM);
    /* Who, when, why. */
    assert_int_equal(mnap_reg_card_events(f->ra, &f->clerk_a, "0102030405060708", ev, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ev[0].from, MNAP_CARD_NONE);
    assert_int_equal(ev[0].to, MNAP_CARD_ACTIVE);
    assert_string_equal(ev[0].reason, "registered");
    assert_string_equal(ev[0].actor, "clerk1");
    assert_int_equal(ev[1].from, MNAP_CARD_ACTIVE);
    assert_int_equal(ev[1].to, MNAP_CARD_SUSPENDED);
    assert_string_equal(ev[1].reason, "missing");
    assert_string_equal(ev[1].actor, f->sup_a.operator_id);
    assert_int_equal(ev[1].at, 1800000000);
    assert_int_equal(ev[2].to, MNAP_CARD_STOPPED);
    assert_string_equal(ev[2].reason, "stolen");
    assert_int_equal(ev[2].at, 1800000100);
    /* A refused move records nothing. */
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_TERMINATED, "expired"),
                     MNAP_REG_E_STATE);
    assert_int_equal(mnap_reg_card_events(f->ra, &f->clerk_a, "0102030405060708", ev, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 3);
    /* Another municipality's operator sees no history of this card. */
    assert_int_equal(mnap_reg_card_events(f->ra, &f->clerk_b, "0102030405060708", ev, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 0);
}

/* The operator audit in the registry: the chain, checkpoints, the newest
 * rows deleted behind the library's back, retention by an injected clock. */
static int count_row(void *user, const mnap_reg_audit_row *row)
{
    (*(size_t *)user)++;
    (void)row;
    return 0;
}

static void test_audit(void **state)
{
    fx *f = *state;
    static const uint8_t seed[32] = { 7, 7, 7 }, other[32] = { 8 };
    uint8_t pub[32], wrong[32];
    mnap_reg_audit_report rep;
    uint64_t seq = 0, removed = 0;
    bool due = false;
    size_t n = 0;
    int64_t now = (int64_t)time(NULL);

    assert_int_equal(mnap_stoplist_public_key(seed, pub), MNAP_OK);
    assert_int_equal(mnap_stoplist_public_key(other, wrong), MNAP_OK);
    /* A year and more ago (the clock is injected, never waited for). */
    mnap_reg_set_clock(f->ra, now - 400 * 86400);
    assert_int_equal(mnap_reg_audit_append(f->ra, CODE_A, "clerk1", "ap load", "0102030405060708", "D392F000014C4942",
                                           "begun", &seq), MNAP_REG_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(mnap_reg_audit_append(f->ra, CODE_A, "clerk1", "ap load", "0102030405060708", "D392F000014C4942",
                                           "[row 1] ok", &seq), MNAP_REG_OK);
    assert_int_equal(mnap_reg_audit_checkpoint_due(f->ra, CODE_A, &due), MNAP_REG_OK);
    assert_true(due);
    assert_int_equal(mnap_reg_audit_checkpoint(f->ra, CODE_A, seed, &seq), MNAP_REG_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(mnap_reg_audit_checkpoint_due(f->ra, CODE_A, &due), MNAP_REG_OK);
    assert_false(due);
    /* Today. */
    mnap_reg_set_clock(f->ra, 0);
    assert_int_equal(mnap_reg_audit_checkpoint_due(f->ra, CODE_A, &due), MNAP_REG_OK);
    assert_true(due); /* 400 days old */
    assert_int_equal(mnap_reg_audit_append(f->ra, CODE_A, "sup1", "card stop", "0102030405060708", NULL,
                                           "begun", &seq), MNAP_REG_OK);
    assert_int_equal(mnap_reg_audit_append(f->ra, CODE_A, "sup1", "login", NULL, NULL, "tab\there", &seq),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_audit_append(f->rb, CODE_B, "clerk1", "login", NULL, NULL, "ok", &seq), MNAP_REG_OK);
    assert_int_equal(seq, 1); /* B's chain is its own */
    assert_int_equal(mnap_reg_audit_checkpoint(f->ra, CODE_A, seed, &seq), MNAP_REG_OK);
    assert_int_equal(seq, 4);
    /* Only the auditor reads, verifies and purges. */
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->sup_a, pub, &rep), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_audit_rows(f->ra, &f->clerk_a, 0, now + 10, count_row, &n), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, pub, &rep), MNAP_REG_OK);
    assert_int_equal(rep.rows, 4);
    assert_int_equal(rep.checkpoints, 2);
    assert_int_equal(rep.unsettled, 1); /* the card stop begun and never settled */
    assert_true(rep.signatures_checked);
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, wrong, &rep), MNAP_REG_E_AUDIT);
    assert_non_null(strstr(rep.why, "signature does not verify"));
    assert_int_equal(mnap_reg_audit_rows(f->ra, &f->auditor_a, now - 86400, now + 10, count_row, &n), MNAP_REG_OK);
    assert_int_equal(n, 2);
    /* No row is changed, none of this year deleted: not even by raw SQL of
     * the terminal's role. */
    assert_false(raw_sql(f, false, "UPDATE audit_log SET result = 'ok' WHERE seq = 3"));
    assert_false(raw_sql(f, false, "DELETE FROM audit_log WHERE seq = 4"));
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, pub, &rep), MNAP_REG_OK);
    /* Retention: rows younger than 366 days are kept. */
    assert_int_equal(mnap_reg_audit_purge(f->ra, &f->auditor_a, now - 30 * 86400, &removed), MNAP_REG_E_RETENTION);
    assert_int_equal(mnap_reg_audit_purge(f->ra, &f->clerk_a, now - 367 * 86400, &removed), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_audit_purge(f->ra, &f->auditor_a, now - 367 * 86400, &removed), MNAP_REG_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, pub, &rep), MNAP_REG_OK);
    assert_int_equal(rep.first_seq, 3);
    assert_int_equal(rep.last_seq, 5); /* the purge is a row */
    /* The newest rows deleted behind the library's back (the DBA switches the
     * guard off): the checkpoint of row 4 catches it. */
    assert_true(raw_sql(f, true, f->pg ? "ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"
                                       : "DROP TRIGGER audit_log_keep"));
    assert_true(raw_sql(f, true, "DELETE FROM audit_log WHERE municipality = '131016' AND seq >= 4"));
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, NULL, &rep), MNAP_REG_E_AUDIT);
    assert_string_equal(rep.why, "a checkpoint holds row 4 but the chain ends at row 3: the newest rows were deleted");
    /* An edit is caught by the chain itself. */
    assert_true(raw_sql(f, true, f->pg ? "UPDATE audit_log SET result = 'x' WHERE municipality = '131016' AND seq = 3"
                                       : "DROP TRIGGER audit_log_no_update"));
    if (!f->pg) {
        assert_true(raw_sql(f, true, "UPDATE audit_log SET result = 'x' WHERE municipality = '131016' AND seq = 3"));
    }
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, NULL, &rep), MNAP_REG_E_AUDIT);
    assert_non_null(strstr(rep.why, "row 3: hash does not match"));
}

static void test_ap_protocol(void **state)
{
    fx *f = *state;
    const char *s = "0102030405060708";
    mnap_reg_ap aps[8];
    size_t n = 0;
    mnap_reg_ap_status st;

    add_resident_card(f, "7", s);
    /* load: intent, card, settle */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010101", "library"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_pending(f->ra, &f->clerk_a, s, aps, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(aps[0].status, MNAP_AP_LOADING);
    /* A second change on the card waits until the first is settled. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010102", "cert"),
                     MNAP_REG_E_PENDING);
    assert_int_equal(mnap_reg_ap_finish(f->ra, &f->clerk_a, s, "D27600010101", true), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_pending(f->ra, &f->clerk_a, s, aps, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010101", "library"),
                     MNAP_REG_E_EXISTS);
    /* A refused load leaves a FAILED record and nothing pending. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010102", "cert"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_finish(f->ra, &f->clerk_a, s, "D27600010102", false), MNAP_REG_OK);
    /* An interrupted load: repaired by what the card holds. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010102", "cert"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_resolve(f->ra, &f->clerk_a, s, "D27600010102", true, &st), MNAP_REG_OK);
    assert_int_equal(st, MNAP_AP_LOADED);
    assert_int_equal(mnap_reg_ap_resolve(f->ra, &f->clerk_a, s, "D27600010102", true, &st), MNAP_REG_E_NOT_FOUND);
    /* An interrupted delete that did not reach the card: LOADED again. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_DELETE, "D27600010102", NULL), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_resolve(f->ra, &f->clerk_a, s, "D27600010102", true, &st), MNAP_REG_OK);
    assert_int_equal(st, MNAP_AP_LOADED);
    /* One that did: DELETED, with who and when. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_DELETE, "D27600010102", NULL), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_resolve(f->ra, &f->sup_a, s, "D27600010102", false, &st), MNAP_REG_OK);
    assert_int_equal(st, MNAP_AP_DELETED);
    /* An interrupted load that did not reach the card: FAILED. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D27600010103", "x"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_resolve(f->ra, &f->clerk_a, s, "D27600010103", false, &st), MNAP_REG_OK);
    assert_int_equal(st, MNAP_AP_FAILED);
    /* A delete of an AP the registry never saw (loaded before it). */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_DELETE, "D27600010109", NULL), MNAP_REG_OK);
    assert_int_equal(mnap_reg_ap_finish(f->ra, &f->clerk_a, s, "D27600010109", true), MNAP_REG_OK);
    assert_int_equal(mnap_reg_card_aps(f->ra, &f->clerk_a, s, aps, 8, &n), MNAP_REG_OK);
    assert_int_equal(n, 5);
    int loaded = 0, deleted = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        loaded += aps[i].status == MNAP_AP_LOADED;
        deleted += aps[i].status == MNAP_AP_DELETED;
        failed += aps[i].status == MNAP_AP_FAILED;
        if (aps[i].status == MNAP_AP_DELETED && strcmp(aps[i].aid, "D27600010102") == 0) {
            assert_string_equal(aps[i].deleted_by, "sup1");
            assert_string_equal(aps[i].loaded_by, "clerk1");
        }
    }
    assert_int_equal(loaded, 1);
    assert_int_equal(deleted, 2);
    assert_int_equal(failed, 2);
    /* Roles and arguments. */
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->auditor_a, s, MNAP_REG_AP_LOAD, "D27600010104", "x"),
                     MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, s, MNAP_REG_AP_LOAD, "D276", "x"), MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_ap_begin(f->ra, &f->clerk_a, "0000000000000000", MNAP_REG_AP_LOAD, "D27600010104", "x"),
                     MNAP_REG_E_NOT_FOUND);
}

/* --- municipalities apart ------------------------------------------------------------ */
static void test_isolation(void **state)
{
    fx *f = *state;
    mnap_reg_resident r, got;
    mnap_reg_card c;
    char stops[512] = "";
    size_t n = 0;
    mnap_reg_resident list[4];

    add_resident_card(f, "7", "0102030405060708");
    assert_int_equal(mnap_reg_card_set_state(f->ra, &f->sup_a, "0102030405060708", MNAP_CARD_SUSPENDED, "missing"), MNAP_REG_OK);
    /* B's clerk: A's resident, card and stop list are not there. */
    assert_int_equal(mnap_reg_resident_get(f->rb, &f->clerk_b, "7", &got), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_resident_find(f->rb, &f->clerk_b, "ジュウミン", list, 4, &n), MNAP_REG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mnap_reg_card_get(f->rb, &f->clerk_b, "0102030405060708", &c), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_card_register(f->rb, &f->clerk_b, "2222222222222222", "7"), MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_ap_begin(f->rb, &f->clerk_b, "0102030405060708", MNAP_REG_AP_LOAD, "D27600010101", "x"),
                     MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_stop_list(f->rb, &f->clerk_b, stop_cb, stops), MNAP_REG_OK);
    assert_string_equal(stops, "");
    /* B's operators cannot be managed from A. */
    assert_int_equal(mnap_reg_operator_lock(f->ra, &f->admin_a, "clerk1", true), MNAP_REG_OK);
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;
    assert_int_equal(mnap_reg_login(f->rb, CODE_B, "clerk1", "clerk password B", 16, 60, tok, &a), MNAP_REG_OK);
    if (f->pg) {
        /* A forged actor on B's connection claims municipality A: the
         * database itself gives nothing and refuses every write. */
        mnap_reg_actor forged = f->sup_a;
        assert_int_equal(mnap_reg_resident_get(f->rb, &forged, "7", &got), MNAP_REG_E_NOT_FOUND);
        assert_int_equal(mnap_reg_card_get(f->rb, &forged, "0102030405060708", &c), MNAP_REG_E_NOT_FOUND);
        assert_int_equal(mnap_reg_card_set_state(f->rb, &forged, "0102030405060708", MNAP_CARD_STOPPED, "lost"),
                         MNAP_REG_E_NOT_FOUND);
        resident(&r, "99", "偽", "ニセ");
        assert_int_equal(mnap_reg_resident_add(f->rb, &forged, &r), MNAP_REG_E_DENIED);
        assert_int_equal(mnap_reg_stop_list(f->rb, &forged, stop_cb, stops), MNAP_REG_OK);
        assert_string_equal(stops, "");
        assert_int_equal(mnap_reg_login(f->rb, CODE_A, "clerk1", PW_CLERK, strlen(PW_CLERK), 60, tok, &a),
                         MNAP_REG_E_AUTH);
        assert_int_equal(mnap_reg_card_get(f->ra, &f->sup_a, "0102030405060708", &c), MNAP_REG_OK);
        assert_int_equal(c.state, MNAP_CARD_SUSPENDED);
    }
}

/* --- two terminals at once ------------------------------------------------------------ */
typedef struct race {
    const char *conn;
    const mnap_reg_actor *actor;
    int what;
    mnap_reg_err result;
    int ok, failed;
} race;

static pthread_barrier_t barrier;

static void *racer(void *p)
{
    race *x = p;
    mnap_reg *r = NULL;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;

    if (mnap_reg_open(&r, x->conn, 0, NULL, 0) != MNAP_REG_OK) {
        x->result = MNAP_REG_E_CONNECT;
        pthread_barrier_wait(&barrier);
        return NULL;
    }
    mnap_reg_set_kdf_cost(r, 10);
    pthread_barrier_wait(&barrier);
    if (x->what == 0) {
        x->result = mnap_reg_ap_begin(r, x->actor, "0102030405060708", MNAP_REG_AP_LOAD, "D27600010101", "library");
    } else if (x->what == 1) {
        x->result = mnap_reg_card_register(r, x->actor, "3333333333333333", "8");
        if (x->result == MNAP_REG_E_EXISTS || x->result == MNAP_REG_E_HAS_CARD) {
            /* the other won */
        }
    } else {
        for (int i = 0; i < 4; i++) {
            mnap_reg_err e = mnap_reg_login(r, CODE_B, "clerk1", "wrong", 5, 60, tok, &a);
            if (e == MNAP_REG_E_AUTH || e == MNAP_REG_E_LOCKED) {
                x->failed++;
            }
        }
        x->result = MNAP_REG_OK;
    }
    mnap_reg_close(r);
    return NULL;
}

static void test_two_terminals(void **state)
{
    fx *f = *state;
    pthread_t t[2];
    race x[2];
    mnap_reg_resident res;
    mnap_reg_operator op;
    mnap_reg_actor admin_b = f->admin_b;

    add_resident_card(f, "7", "0102030405060708");
    resident(&res, "8", "住民", "ジュウミン");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &res), MNAP_REG_OK);
    /* Two intents on one card: one wins, the other sees it pending. */
    for (int what = 0; what < 2; what++) {
        pthread_barrier_init(&barrier, NULL, 2);
        for (int i = 0; i < 2; i++) {
            memset(&x[i], 0, sizeof x[i]);
            x[i].conn = f->a_conn;
            x[i].actor = &f->clerk_a;
            x[i].what = what;
            assert_int_equal(pthread_create(&t[i], NULL, racer, &x[i]), 0);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
        }
        pthread_barrier_destroy(&barrier);
        int wins = (x[0].result == MNAP_REG_OK) + (x[1].result == MNAP_REG_OK);
        assert_int_equal(wins, 1);
        mnap_reg_err lose = x[0].result == MNAP_REG_OK ? x[1].result : x[0].result;
        if (what == 0) {
            assert_int_equal(lose, MNAP_REG_E_PENDING);
        } else {
            assert_true(lose == MNAP_REG_E_HAS_CARD || lose == MNAP_REG_E_EXISTS);
        }
    }
    /* Failed logins from two terminals at once all count (limit 5 of B:
     * 8 tries, the count must reach 5 and lock). */
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++) {
        memset(&x[i], 0, sizeof x[i]);
        x[i].conn = f->b_conn;
        x[i].what = 2;
        assert_int_equal(pthread_create(&t[i], NULL, racer, &x[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(x[0].failed + x[1].failed, 8);
    assert_int_equal(mnap_reg_operator_get(f->rb, &admin_b, "clerk1", &op), MNAP_REG_OK);
    assert_true(op.locked);
    assert_int_equal(op.failed_logins, 5);
}

/* The console's tuning (schema v2): an admin sets, a clerk may not; each
 * municipality sees its own; an empty value removes; bad keys and values
 * are refused with nothing written. */
typedef struct tune_seen {
    int n;
    char last[300];
} tune_seen;

static void tune_cb(void *user, const char *key, const char *value)
{
    tune_seen *t = user;
    t->n++;
    snprintf(t->last, sizeof t->last, "%s=%s", key, value);
}

static void test_tuning(void **state)
{
    fx *f = *state;
    tune_seen a = { 0 }, b = { 0 };
    char big[300];

    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "label_list", "カードの中身"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "label_list", "一覧"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->clerk_a, "label_list", "x"), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "Bad-Key", "x"), MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "title", "a\x01b"), MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "title", "\xff\xfe"), MNAP_REG_E_PARAM);
    memset(big, 'x', 256);
    big[256] = '\0';
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "title", big), MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_tuning_list(f->ra, CODE_A, tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.last, "label_list=一覧");
    if (!f->pg) {
        assert_int_equal(mnap_reg_tuning_list(f->rb, CODE_B, tune_cb, &b), MNAP_REG_OK);
        assert_int_equal(b.n, 0);
    }
    assert_int_equal(mnap_reg_tuning_set(f->ra, &f->admin_a, "label_list", ""), MNAP_REG_OK);
    a.n = 0;
    assert_int_equal(mnap_reg_tuning_list(f->ra, CODE_A, tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(mnap_reg_tuning_list(f->ra, "12", tune_cb, &a), MNAP_REG_E_PARAM);

    /* Extra resident fields. */
    mnap_reg_resident res;
    resident(&res, "9", "住民", "ジュウミン");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &res), MNAP_REG_OK);
    assert_int_equal(mnap_reg_resident_extra_set(f->ra, &f->clerk_a, "9", "電話番号", "03-0000-0000"),
                     MNAP_REG_OK);
    assert_int_equal(mnap_reg_resident_extra_set(f->ra, &f->clerk_a, "10", "電話番号", "x"),
                     MNAP_REG_E_NOT_FOUND);
    assert_int_equal(mnap_reg_resident_extra_set(f->ra, &f->clerk_a, "9", "電話番号", "a\nb"),
                     MNAP_REG_E_PARAM);
    assert_int_equal(mnap_reg_resident_extra_set(f->ra, &f->kiosk_a, "9", "電話番号", "x"),
                     MNAP_REG_E_DENIED);
    a.n = 0;
    assert_int_equal(mnap_reg_resident_extras(f->ra, &f->clerk_a, "9", tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.last, "電話番号=03-0000-0000");
    b.n = 0;
    assert_int_equal(mnap_reg_resident_extras(f->rb, &f->clerk_b, "9", tune_cb, &b), MNAP_REG_OK);
    assert_int_equal(b.n, 0);
    assert_int_equal(mnap_reg_resident_extra_set(f->ra, &f->clerk_a, "9", "電話番号", ""), MNAP_REG_OK);
    a.n = 0;
    assert_int_equal(mnap_reg_resident_extras(f->ra, &f->clerk_a, "9", tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 0);
}

/* What the operator console adds (reg_console.c): a tuning form in one
 * transaction with its audit row, all of it or nothing (a bad value, a
 * clerk, or the database failing after the first field:
 * MNAP_REG_FAULT=tuning-save); every resident of the actor's municipality. */
typedef struct rows_seen {
    int n;
    char last_cmd[MNAP_REG_AUDIT_FIELD + 1], last_result[MNAP_REG_AUDIT_FIELD + 1];
} rows_seen;

static int audit_seen(void *user, const mnap_reg_audit_row *row)
{
    rows_seen *s = user;
    s->n++;
    snprintf(s->last_cmd, sizeof s->last_cmd, "%s", row->command);
    snprintf(s->last_result, sizeof s->last_result, "%s", row->result);
    return 0;
}

static int each_seen(void *user, const mnap_reg_resident *res)
{
    tune_seen *t = user;
    t->n++;
    snprintf(t->last, sizeof t->last, "%s %s", res->number, res->name_kanji);
    return 0;
}

static void test_console_calls(void **state)
{
    fx *f = *state;
    tune_seen a = { 0 };
    rows_seen r0 = { 0 }, r1 = { 0 };
    mnap_reg_audit_report rep;
    const char *keys[3] = { "title", "bg_color", "label_list" };
    const char *vals[3] = { "題", "#ffeecc", "一覧" };
    const char *bad[3] = { "題2", "#000000", "a\x01" };

    assert_int_equal(mnap_reg_audit_rows(f->ra, &f->auditor_a, 0, INT64_MAX, audit_seen, &r0), MNAP_REG_OK);
    assert_int_equal(mnap_reg_tuning_save(f->ra, &f->admin_a, 3, keys, vals, "console tuning", "ok: 3"), MNAP_REG_OK);
    assert_int_equal(mnap_reg_tuning_list(f->ra, CODE_A, tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 3);
    assert_int_equal(mnap_reg_audit_rows(f->ra, &f->auditor_a, 0, INT64_MAX, audit_seen, &r1), MNAP_REG_OK);
    assert_int_equal(r1.n, r0.n + 1);
    assert_string_equal(r1.last_cmd, "console tuning");
    assert_string_equal(r1.last_result, "ok: 3");
    /* Refused before anything is written. */
    assert_int_equal(mnap_reg_tuning_save(f->ra, &f->admin_a, 3, keys, bad, "console tuning", "x"), MNAP_REG_E_PARAM);
    {
        const char *bad_keys[3] = { "title", "Bad-Key", "label_list" };
        assert_int_equal(mnap_reg_tuning_save(f->ra, &f->admin_a, 3, bad_keys, vals, "console tuning", "x"),
                         MNAP_REG_E_PARAM);
    }
    assert_int_equal(mnap_reg_tuning_save(f->ra, &f->clerk_a, 3, keys, vals, "console tuning", "x"),
                     MNAP_REG_E_DENIED);
    /* The database fails after the first field: nothing stays, no row. */
    bad[2] = "一覧2";
    setenv("MNAP_REG_FAULT", "tuning-save", 1);
    assert_int_equal(mnap_reg_tuning_save(f->ra, &f->admin_a, 3, keys, bad, "console tuning", "ok"), MNAP_REG_E_DB);
    unsetenv("MNAP_REG_FAULT");
    a.n = 0;
    assert_int_equal(mnap_reg_tuning_list(f->ra, CODE_A, tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.last, "title=題");
    r1.n = 0;
    assert_int_equal(mnap_reg_audit_rows(f->ra, &f->auditor_a, 0, INT64_MAX, audit_seen, &r1), MNAP_REG_OK);
    assert_int_equal(r1.n, r0.n + 1);
    assert_int_equal(mnap_reg_audit_verify(f->ra, &f->auditor_a, NULL, &rep), MNAP_REG_OK);
    /* An empty value removes a key. */
    vals[1] = "";
    assert_int_equal(mnap_reg_tuning_save(f->ra, &f->admin_a, 2, keys, vals, NULL, NULL), MNAP_REG_OK);
    a.n = 0;
    assert_int_equal(mnap_reg_tuning_list(f->ra, CODE_A, tune_cb, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 2);

    /* Every resident of the actor's municipality, by number. */
    mnap_reg_resident res;
    resident(&res, "20", "二十", "ニジュウ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &res), MNAP_REG_OK);
    resident(&res, "10", "十", "ジュウ");
    assert_int_equal(mnap_reg_resident_add(f->ra, &f->clerk_a, &res), MNAP_REG_OK);
    resident(&res, "30", "三十", "サンジュウ");
    assert_int_equal(mnap_reg_resident_add(f->rb, &f->clerk_b, &res), MNAP_REG_OK);
    a.n = 0;
    assert_int_equal(mnap_reg_resident_each(f->ra, &f->clerk_a, each_seen, &a), MNAP_REG_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.last, "20 二十");
    assert_int_equal(mnap_reg_resident_each(f->ra, &f->kiosk_a, each_seen, &a), MNAP_REG_E_DENIED);
    assert_int_equal(mnap_reg_resident_each(f->ra, &f->admin_a, each_seen, &a), MNAP_REG_E_DENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permission_table),
        cmocka_unit_test(test_state_table),
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_card_stop_measures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_lockout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_residents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cards_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ap_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_terminals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tuning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_calls, setup, teardown),
    };
    const char *name = pg_base() != NULL ? "registry (postgresql)" : "registry (sqlite)";

    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
