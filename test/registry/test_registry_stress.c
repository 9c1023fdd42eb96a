/* test_registry_stress.c: terminals against one registry for a bounded
 * time, then a check that the registry and the cards agree.
 *
 * Each terminal is a thread with its own registry connection and operator
 * session.  The cards (in-process, one per two terminals) move between
 * terminals: a terminal takes a free card (a card is in one reader at a
 * time: a mutex), settles whatever an earlier terminal left unsettled on it
 * (the CLI's repair: pending intents against the card's AP list), then loads
 * or deletes one of four APs with the registry protocol (intent, card,
 * settlement).  One change in ten "crashes" before the card change and one
 * in ten after it, leaving the intent for the next terminal.  At the end every
 * card is settled and its LOADED records must be exactly the APs on it.
 *
 * Environment: MNAP_REG_TEST_PG (superuser conninfo; else SQLite in a
 * temporary file), MNAP_REG_STRESS_DB (the database, already created),
 * MNAP_REG_STRESS_TERMINALS (default 4), MNAP_REG_STRESS_SECONDS (default 2),
 * MNAP_REG_STRESS_CRASH=0 (no crashes: the bench's AP-load rate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test/host/host_fixture.h"
#include "mnap/mnap_registry.h"

#define MAX_TERMINALS 64
#define N_APS 4

typedef struct card {
    pthread_mutex_t lock;
    fx f;
    char serial[17];
} card;

static card *cards;
static int n_cards;
static char term_conn[600];
static double seconds = 2;
static bool crashes = true;
static atomic_long n_changes, n_repairs, n_refused;
static atomic_int failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "registry_stress: " __VA_ARGS__);                              \
            fputc('\n', stderr);                                                           \
            atomic_fetch_add(&failures, 1);                                                \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)

static void aid_hex(uint8_t idx, char out[13])
{
    uint8_t aid[6];
    fx_std_aid(aid, idx);
    for (int i = 0; i < 6; i++) {
        snprintf(out + 2 * i, 3, "%02X", aid[i]);
    }
}

/* The card's AP list as a bit set of the standard APs 1..N_APS. */
static int on_card(card *cd, unsigned *set)
{
    mnap_ap_entry list[16];
    size_t n = 0;
    mnap_err e = mnap_area_list_aps(cd->f.ctx, list, 16, &n);

    CHECK(e == MNAP_OK, "GET STATUS: %s", mnap_strerror(e));
    *set = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].aid_len == 6 && list[i].aid[5] >= 1 && list[i].aid[5] <= N_APS) {
            *set |= 1u << list[i].aid[5];
        }
    }
    return 0;
}

static int repair(mnap_reg *r, const mnap_reg_actor *a, card *cd)
{
    mnap_reg_ap pend[8];
    size_t n = 0;
    unsigned set;
    mnap_reg_err e = mnap_reg_ap_pending(r, a, cd->serial, pend, 8, &n);

    CHECK(e == MNAP_REG_OK, "pending: %s (%s)", mnap_reg_strerror(e), mnap_reg_last_message(r));
    if (n == 0) {
        return 0;
    }
    if (on_card(cd, &set) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned idx = (unsigned)strtoul(pend[i].aid + 10, NULL, 16);
        e = mnap_reg_ap_resolve(r, a, cd->serial, pend[i].aid, (set >> idx) & 1u, NULL);
        CHECK(e == MNAP_REG_OK, "resolve: %s (%s)", mnap_reg_strerror(e), mnap_reg_last_message(r));
        atomic_fetch_add(&n_repairs, 1);
    }
    return 0;
}

static int change(mnap_reg *r, const mnap_reg_actor *a, card *cd, unsigned *seed)
{
    uint8_t idx = (uint8_t)(1 + rand_r(seed) % N_APS);
    char aid[13];
    unsigned set;
    int dice = (int)(rand_r(seed) % 10);
    mnap_reg_err e;
    mnap_err me;
    bool load;

    if (repair(r, a, cd) != 0 || on_card(cd, &set) != 0) {
        return -1;
    }
    load = ((set >> idx) & 1u) == 0;
    aid_hex(idx, aid);
    e = mnap_reg_ap_begin(r, a, cd->serial, load ? MNAP_REG_AP_LOAD : MNAP_REG_AP_DELETE, aid, "stress");
    CHECK(e == MNAP_REG_OK, "begin %s %s: %s (%s)", cd->serial, aid, mnap_reg_strerror(e), mnap_reg_last_message(r));
    if (crashes && dice == 0) {
        return 0; /* dies before the card change */
    }
    if (load) {
        uint8_t img[1024];
        size_t n = fx_std_image(img, sizeof img, idx, -1);
        me = mnap_area_load_ap(cd->f.ctx, img, n, &cd->f.ap, NULL);
    } else {
        uint8_t a6[6];
        fx_std_aid(a6, idx);
        me = mnap_area_delete_ap(cd->f.ctx, a6, 6);
    }
    CHECK(me == MNAP_OK, "card %s %s: %s", load ? "load" : "delete", aid, mnap_strerror(me));
    atomic_fetch_add(&n_changes, 1);
    if (crashes && dice == 1) {
        return 0; /* dies after the card change */
    }
    e = mnap_reg_ap_finish(r, a, cd->serial, aid, true);
    CHECK(e == MNAP_REG_OK, "finish: %s (%s)", mnap_reg_strerror(e), mnap_reg_last_message(r));
    return 0;
}

typedef struct term {
    int id;
    pthread_t th;
} term;

static void *terminal(void *p)
{
    term *t = p;
    mnap_reg *r = NULL;
    mnap_reg_actor a;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    unsigned seed = (unsigned)(t->id * 7919 + 1);
    double end;
    char id[24];

    if (mnap_reg_open(&r, term_conn, 0, NULL, 0) != MNAP_REG_OK) {
        fprintf(stderr, "registry_stress: terminal %d cannot connect\n", t->id);
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    snprintf(id, sizeof id, "clerk%d", t->id);
    if (mnap_reg_login(r, "131016", id, "terminal password", 17, 3600, tok, &a) != MNAP_REG_OK) {
        fprintf(stderr, "registry_stress: terminal %d cannot log in (%s)\n", t->id, mnap_reg_last_message(r));
        atomic_fetch_add(&failures, 1);
        mnap_reg_close(r);
        return NULL;
    }
    end = now_s() + seconds;
    while (now_s() < end && atomic_load(&failures) == 0) {
        int k = (int)(rand_r(&seed) % (unsigned)n_cards);
        if (pthread_mutex_trylock(&cards[k].lock) != 0) {
            atomic_fetch_add(&n_refused, 1);
            continue; /* that card is in another reader */
        }
        int rc = change(r, &a, &cards[k], &seed);
        pthread_mutex_unlock(&cards[k].lock);
        if (rc != 0) {
            break;
        }
    }
    mnap_reg_close(r);
    return NULL;
}

static void setup_registry(const char *admin_conn, int n_terminals, bool pg)
{
    mnap_reg *adm = NULL;
    mnap_reg_actor admin;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    char why[300];

    assert_int_equal(mnap_reg_open(&adm, admin_conn, MNAP_REG_OPEN_MIGRATE, why, sizeof why), MNAP_REG_OK);
    mnap_reg_set_kdf_cost(adm, 10);
    assert_int_equal(mnap_reg_municipality_add(adm, "131016", "千代田区", 0), MNAP_REG_OK);
    assert_int_equal(mnap_reg_bootstrap_admin(adm, "131016", "admin", "admin", "admin password", 14), MNAP_REG_OK);
    mnap_reg_close(adm);
    if (pg) {
        /* The terminals' login role, member of the municipality's role. */
        mnap_reg *dba = NULL;
        assert_int_equal(mnap_reg_open(&dba, admin_conn, 0, NULL, 0), MNAP_REG_OK);
        mnap_reg_close(dba);
        PGconn *c = PQconnectdb(admin_conn);
        PGresult *res = PQexec(c, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stress_terminal') "
                                  "THEN CREATE ROLE stress_terminal LOGIN IN ROLE mnap_m_131016; END IF; END $$");
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(c);
    }
    mnap_reg *r = NULL;
    assert_int_equal(mnap_reg_open(&r, term_conn, 0, why, sizeof why), MNAP_REG_OK);
    mnap_reg_set_kdf_cost(r, 10);
    assert_int_equal(mnap_reg_login(r, "131016", "admin", "admin password", 14, 3600, tok, &admin), MNAP_REG_OK);
    for (int i = 0; i < n_terminals; i++) {
        char id[24];
        snprintf(id, sizeof id, "clerk%d", i);
        assert_int_equal(mnap_reg_operator_add(r, &admin, id, id, MNAP_ROLE_CLERK, "terminal password", 17),
                         MNAP_REG_OK);
    }
    mnap_reg_actor clerk;
    assert_int_equal(mnap_reg_login(r, "131016", "clerk0", "terminal password", 17, 3600, tok, &clerk), MNAP_REG_OK);
    for (int k = 0; k < n_cards; k++) {
        mnap_reg_resident res;
        uint8_t serial[8] = { 0x5A, 0, 0, 0, 0, 0, (uint8_t)(k >> 8), (uint8_t)k };
        memset(&res, 0, sizeof res);
        snprintf(res.number, sizeof res.number, "%d", 1000 + k);
        snprintf(res.name_kanji, sizeof res.name_kanji, "住民 %d", k);
        snprintf(res.name_kana, sizeof res.name_kana, "ジュウミン");
        snprintf(res.birth_date, sizeof res.birth_date, "1990-01-01");
        snprintf(res.address, sizeof res.address, "千代田区");
        assert_int_equal(mnap_reg_resident_add(r, &clerk, &res), MNAP_REG_OK);
        pthread_mutex_init(&cards[k].lock, NULL);
        fx_active(&cards[k].f, serial, 64 * 1024);
        for (int i = 0; i < 8; i++) {
            snprintf(cards[k].serial + 2 * i, 3, "%02X", serial[i]);
        }
        assert_int_equal(mnap_reg_card_register(r, &clerk, cards[k].serial, res.number), MNAP_REG_OK);
    }
    mnap_reg_close(r);
}

static void test_stress(void **state)
{
    const char *pg = getenv("MNAP_REG_TEST_PG");
    const char *db = getenv("MNAP_REG_STRESS_DB");
    const char *v;
    int n_terminals = 4;
    char admin_conn[600], path[128] = "";
    term terms[MAX_TERMINALS];
    double t0, elapsed;
    mnap_reg *r = NULL;
    mnap_reg_actor a;
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    long loaded_total = 0;

    (void)state;
    if ((v = getenv("MNAP_REG_STRESS_TERMINALS")) != NULL) {
        n_terminals = atoi(v);
    }
    if ((v = getenv("MNAP_REG_STRESS_SECONDS")) != NULL) {
        seconds = atof(v);
    }
    if ((v = getenv("MNAP_REG_STRESS_CRASH")) != NULL && strcmp(v, "0") == 0) {
        crashes = false;
    }
    assert_true(n_terminals >= 1 && n_terminals <= MAX_TERMINALS);
    n_cards = n_terminals > 1 ? n_terminals / 2 : 1;
    cards = calloc((size_t)n_cards, sizeof *cards);
    assert_non_null(cards);
    if (pg != NULL && pg[0] != '\0') {
        snprintf(admin_conn, sizeof admin_conn, "%s dbname=%s", pg, db != NULL ? db : "mnap_stress");
        snprintf(term_conn, sizeof term_conn, "%s dbname=%s user=stress_terminal", pg, db != NULL ? db : "mnap_stress");
    } else {
        snprintf(path, sizeof path, "/tmp/mnap-reg-stress-%ld.db", (long)getpid());
        unlink(path);
        snprintf(admin_conn, sizeof admin_conn, "sqlite:%s", path);
        snprintf(term_conn, sizeof term_conn, "sqlite:%s", path);
    }
    setup_registry(admin_conn, n_terminals, pg != NULL && pg[0] != '\0');

    t0 = now_s();
    for (int i = 0; i < n_terminals; i++) {
        terms[i].id = i;
        assert_int_equal(pthread_create(&terms[i].th, NULL, terminal, &terms[i]), 0);
    }
    for (int i = 0; i < n_terminals; i++) {
        pthread_join(terms[i].th, NULL);
    }
    elapsed = now_s() - t0;
    assert_int_equal(atomic_load(&failures), 0);

    /* The end: settle every card, then registry == card. */
    assert_int_equal(mnap_reg_open(&r, term_conn, 0, NULL, 0), MNAP_REG_OK);
    assert_int_equal(mnap_reg_login(r, "131016", "clerk0", "terminal password", 17, 3600, tok, &a), MNAP_REG_OK);
    for (int k = 0; k < n_cards; k++) {
        mnap_reg_ap recs[256];
        size_t n = 0;
        unsigned set = 0, recorded = 0;
        assert_int_equal(repair(r, &a, &cards[k]), 0);
        assert_int_equal(on_card(&cards[k], &set), 0);
        assert_int_equal(mnap_reg_ap_pending(r, &a, cards[k].serial, recs, 256, &n), MNAP_REG_OK);
        assert_int_equal(n, 0);
        assert_int_equal(mnap_reg_card_aps(r, &a, cards[k].serial, recs, 256, &n), MNAP_REG_OK);
        for (size_t i = 0; i < n; i++) {
            if (recs[i].status == MNAP_AP_LOADED) {
                unsigned idx = (unsigned)strtoul(recs[i].aid + 10, NULL, 16);
                assert_false((recorded >> idx) & 1u); /* one LOADED record per AP */
                recorded |= 1u << idx;
                loaded_total++;
            }
        }
        if (set != recorded) {
            fail_msg("card %s: on the card %#x, in the registry %#x", cards[k].serial, set, recorded);
        }
        fx_free(&cards[k].f);
        pthread_mutex_destroy(&cards[k].lock);
    }
    mnap_reg_close(r);
    printf("registry_stress: %s, %d terminals, %d cards, %.1f s: %ld AP changes (%.1f/s), %ld repaired, "
           "%ld APs loaded at the end; registry and cards agree\n",
           pg != NULL && pg[0] != '\0' ? "postgresql" : "sqlite", n_terminals, n_cards, elapsed,
           atomic_load(&n_changes), (double)atomic_load(&n_changes) / elapsed, atomic_load(&n_repairs), loaded_total);
    free(cards);
    if (path[0] != '\0') {
        char p[160];
        unlink(path);
        snprintf(p, sizeof p, "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", path);
        unlink(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests_name("registry stress", tests, NULL, NULL);
}
