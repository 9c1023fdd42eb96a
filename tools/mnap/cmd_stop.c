/* cmd_stop.c: stop measures (停止措置, issue #19): `mnap card stop|resume|
 * terminate` move a card through the registry's one transition table and
 * record who, when and why; `mnap card stoplist-export` writes the signed
 * offline stop list (mnap/mnap_stoplist.h) signed by Ed25519 key 'stoplist'
 * of the key source (mnap_keystore_ed25519_*: the file store or a PKCS#11
 * token);
 * `mnap card stoplist-key` prints the public key the kiosks are given.  The
 * kiosk flows check a card with stop_check (online through the registry
 * for the kiosk role, offline with a list and its public key) before any
 * PIN is asked. */
#include "cli.h"
#include "conn.h"
#include "reg.h"
#include "cm_ct.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct stop_opts {
    const char *reason, *keys;
    unsigned long hours;
} stop_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    stop_opts *o = user;
    char *end = NULL;

    switch (opt) {
    case 'r':
        o->reason = arg;
        return 0;
    case 'k':
        o->keys = arg;
        return 0;
    case 'v':
        o->hours = strtoul(arg, &end, 10);
        if (*end != '\0' || o->hours < 1 || o->hours > 24 * 31) {
            cli_error("--valid-hours: 1 to 744");
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "reason", required_argument, NULL, 'r' },
    { "keys", required_argument, NULL, 'k' },
    { "valid-hours", required_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 }
};

int64_t stop_now(void)
{
    /* Test hook: the clock of the stop-list export (the signing side, whose
     * operator holds the key anyway); the kiosk's check never reads it. */
    const char *v = getenv("MNAP_TEST_NOW");
    if (v != NULL && v[0] != '\0') {
        return strtoll(v, NULL, 10);
    }
    return (int64_t)time(NULL);
}

static int parse(const cli *c, int argc, char **argv, stop_opts *o, const char *usage, int min, int max,
                 int *first)
{
    memset(o, 0, sizeof *o);
    o->hours = 24;
    if (cli_getopt(argc, argv, opts, on_opt, o, first) != 0 || cli_operands(argc, *first, min, max, usage) != 0) {
        return EX_USAGE;
    }
    return cli_registry_required(c);
}

const char u_card_stop[] =
    "card stop SERIAL --reason missing|lost|stolen\n"
    "  Stops a card (supervisor): missing -> SUSPENDED (may be resumed when\n"
    "  found); lost or stolen -> STOPPED (final).  Every kiosk and counter then\n"
    "  refuses it.\n";
const char u_card_resume[] =
    "card resume SERIAL\n"
    "  A SUSPENDED card that was found: ACTIVE again (supervisor).\n";
const char u_card_terminate[] =
    "card terminate SERIAL --reason returned|expired\n"
    "  The card is returned or expired: TERMINATED (final; supervisor).\n";

static int change(cli *c, const char *command, const char *serial_in, const char *reason,
                  const char *const *allowed)
{
    uint8_t b[8];
    size_t n = 0;
    char serial[MNAP_REG_SERIAL_HEX + 1];
    mnap_reg_card_state to = MNAP_CARD_NONE, was = MNAP_CARD_NONE;
    mnap_reg_card card;
    cli_op op;
    bool ok = false;
    mnap_reg_err e;
    int rc;

    for (size_t i = 0; reason != NULL && allowed[i] != NULL; i++) {
        ok = ok || strcmp(reason, allowed[i]) == 0;
    }
    if (!ok) {
        cli_error("%s: --reason must be one of: %s%s%s%s%s", command, allowed[0],
                  allowed[1] != NULL ? ", " : "", allowed[1] != NULL ? allowed[1] : "",
                  allowed[1] != NULL && allowed[2] != NULL ? ", " : "",
                  allowed[1] != NULL && allowed[2] != NULL ? allowed[2] : "");
        return EX_USAGE;
    }
    if (cli_hex_parse(serial_in, b, 8, 8, &n) != 0) {
        cli_error("%s: '%s' is not a card serial (8 bytes of hex)", command, serial_in);
        return EX_USAGE;
    }
    mt_hex_encode(b, 8, serial, MT_HEX_UPPER);
    (void)mnap_reg_card_reason_target(reason, &to);
    rc = op_begin(&op, c, command, NULL, 0);
    if (rc != EX_OK) {
        return rc;
    }
    op_serial(&op, b);
    e = mnap_reg_card_get(c->reg, &c->actor, serial, &card);
    if (e == MNAP_REG_OK) {
        was = card.state;
        e = mnap_reg_card_set_state(c->reg, &c->actor, serial, to, reason);
    }
    if (e == MNAP_REG_E_NOT_FOUND) {
        cli_error("%s: card %s is not registered", command, serial);
        rc = op_fail_msg(&op, EX_REGISTRY, "card not registered");
    } else if (e == MNAP_REG_E_STATE) {
        cli_error("%s: card %s is %s: it cannot become %s (docs/registry.md, card states)", command, serial,
                  mnap_reg_card_state_name(was), mnap_reg_card_state_name(to));
        rc = op_fail_msg(&op, EX_REGISTRY, "state does not allow it");
    } else if (e != MNAP_REG_OK) {
        rc = reg_fail(c->reg, e, command);
        (void)op_fail_msg(&op, rc, mnap_reg_strerror(e));
    } else {
        printf("card %s: %s -> %s (%s) by %s\n", serial, mnap_reg_card_state_name(was),
               mnap_reg_card_state_name(to), reason, c->actor.operator_id);
        (void)snprintf(op.result, sizeof op.result, "ok: %s -> %s (%s)", mnap_reg_card_state_name(was),
                       mnap_reg_card_state_name(to), reason);
    }
    return op_end(&op, rc);
}

int card_stop(cli *c, int argc, char **argv)
{
    static const char *const allowed[] = { "missing", "lost", "stolen", NULL };
    stop_opts o;
    int first, rc = parse(c, argc, argv, &o, u_card_stop, 1, 1, &first);

    return rc != EX_OK ? rc : change(c, "card stop", argv[first], o.reason, allowed);
}

int card_resume(cli *c, int argc, char **argv)
{
    static const char *const allowed[] = { "found", NULL };
    stop_opts o;
    int first, rc = parse(c, argc, argv, &o, u_card_resume, 1, 1, &first);

    return rc != EX_OK ? rc : change(c, "card resume", argv[first], "found", allowed);
}

int card_terminate(cli *c, int argc, char **argv)
{
    static const char *const allowed[] = { "returned", "expired", NULL };
    stop_opts o;
    int first, rc = parse(c, argc, argv, &o, u_card_terminate, 1, 1, &first);

    return rc != EX_OK ? rc : change(c, "card terminate", argv[first], o.reason, allowed);
}

/* --- the signed offline list ------------------------------------------------- */
const char u_card_export[] =
    "card stoplist-export FILE [--keys NAME] [--valid-hours H]\n"
    "  Writes the municipality's stop list (every card not ACTIVE) as a signed\n"
    "  file for kiosks and business systems that check offline: Ed25519 with key\n"
    "  NAME of the key store or PKCS#11 token (default 'stoplist'; make it once\n"
    "  with 'mnap keys ed25519 stoplist'), issued now, valid H hours\n"
    "  (default 24; 1..744).  Supervisor.\n";
const char u_card_pubkey[] =
    "card stoplist-key [--keys NAME]\n"
    "  Prints the public key (64 hex digits) that checks the lists signed with\n"
    "  key set NAME (default 'stoplist'): give it to the kiosks.\n";

/* One line for a key source error on Ed25519 key name. */
static int ed_fail(const char *name, mnap_err e)
{
    if (e == MNAP_E_KS_NOT_FOUND) {
        cli_error("no Ed25519 key '%s' in the key store (make it once with 'mnap keys ed25519 %s')", name, name);
    } else if (e == MNAP_E_PARAM) {
        cli_error("key set %s is not an Ed25519 key: the stop-list key needs 32-byte keys (mnap keys ed25519 %s)",
                  name, name);
    } else {
        cli_error("Ed25519 key %s: %s", name, mnap_strerror(e));
    }
    return EX_KEYSTORE;
}

typedef struct collect {
    mnap_stoplist_entry *e;
    size_t n, cap;
    bool nomem;
} collect;

static void on_stop(void *user, const char *serial, mnap_reg_card_state st, int64_t since)
{
    collect *k = user;
    size_t got = 0;

    (void)since;
    if (k->nomem) {
        return;
    }
    if (k->n == k->cap) {
        size_t ncap = k->cap == 0 ? 256 : k->cap * 2;
        mnap_stoplist_entry *ne = realloc(k->e, ncap * sizeof *ne);
        if (ne == NULL) {
            k->nomem = true;
            return;
        }
        k->e = ne;
        k->cap = ncap;
    }
    if (cli_hex_parse(serial, k->e[k->n].serial, 8, 8, &got) == 0) {
        k->e[k->n].state = (uint8_t)st;
        k->n++;
    }
}

int card_stoplist_export(cli *c, int argc, char **argv)
{
    stop_opts o;
    int first, rc = parse(c, argc, argv, &o, u_card_export, 1, 1, &first);
    const char *name;
    uint8_t *buf = NULL;
    size_t len = 0;
    collect k = { 0 };
    mnap_keystore *ks = NULL;
    mnap_reg_err re;
    mnap_err e;

    if (rc != EX_OK) {
        return rc;
    }
    name = o.keys != NULL ? o.keys : "stoplist";
    rc = ks_open(c, &ks);
    if (rc != EX_OK) {
        return rc;
    }
    re = mnap_reg_stop_list(c->reg, &c->actor, on_stop, &k);
    if (re != MNAP_REG_OK || k.nomem) {
        mnap_keystore_free(ks);
        free(k.e);
        return re != MNAP_REG_OK ? reg_fail(c->reg, re, "card stoplist-export") : cli_fail(NULL, MNAP_E_NOMEM, "stop list");
    }
    int64_t now = stop_now();
    e = mnap_stoplist_build_ks(k.e, k.n, now, now + (int64_t)o.hours * 3600, c->actor.municipality, ks, name, &buf,
                               &len);
    mnap_keystore_free(ks);
    free(k.e);
    if (e == MNAP_E_KS_NOT_FOUND || e == MNAP_E_KS_MECHANISM || e == MNAP_E_KS_TOKEN ||
        e == MNAP_E_PARAM) {
        return ed_fail(name, e);
    }
    if (e != MNAP_OK) {
        return cli_fail(NULL, e, "signing the stop list");
    }
    if (cli_write_atomic(argv[first], buf, len, 0644) != 0) {
        free(buf);
        cli_error("card stoplist-export: cannot write %s", argv[first]);
        return EX_LOCAL;
    }
    free(buf);
    printf("stop list of %s: %zu card%s, valid %lu h, written to %s\n", c->actor.municipality, k.n,
           k.n == 1 ? "" : "s", o.hours, argv[first]);
    return EX_OK;
}

int card_stoplist_key(cli *c, int argc, char **argv)
{
    stop_opts o;
    int first, rc = parse(c, argc, argv, &o, u_card_pubkey, 0, 0, &first);
    uint8_t pub[MNAP_STOPLIST_PUB_LEN];
    char hex[2 * MNAP_STOPLIST_PUB_LEN + 1];
    const char *name;
    mnap_keystore *ks = NULL;
    mnap_err e;

    if (rc != EX_OK) {
        return rc;
    }
    name = o.keys != NULL ? o.keys : "stoplist";
    rc = ks_open(c, &ks);
    if (rc != EX_OK) {
        return rc;
    }
    e = mnap_keystore_ed25519_public(ks, name, pub);
    mnap_keystore_free(ks);
    if (e != MNAP_OK) {
        return ed_fail(name, e);
    }
    mt_hex_encode(pub, sizeof pub, hex, MT_HEX_UPPER);
    printf("%s\n", hex);
    return EX_OK;
}

/* --- the kiosk's check ----------------------------------------------------------- */
int stop_check(const cli *c, const uint8_t serial[8], const char *list, const char *key, char *why,
               size_t why_cap)
{
    char hex[MNAP_REG_SERIAL_HEX + 1];

    mt_hex_encode(serial, 8, hex, MT_HEX_UPPER);
    if (list != NULL || key != NULL) {
        uint8_t pub[MNAP_STOPLIST_PUB_LEN], st = 0;
        size_t n = 0;
        mnap_stoplist *l = NULL;
        mnap_err e;

        if (list == NULL || key == NULL || cli_hex_parse(key, pub, sizeof pub, sizeof pub, &n) != 0) {
            (void)snprintf(why, why_cap, "stop list: usage");
            cli_error("an offline stop list needs both --stop-list FILE and --stop-list-key HEX (64 hex digits)");
            return EX_USAGE;
        }
        e = mnap_stoplist_load(&l, list, pub, (int64_t)time(NULL));
        if (e != MNAP_OK) {
            cli_error("stop list %s: %s (%s): the card is not served", list, mnap_strerror(e), mnap_err_name(e));
            (void)snprintf(why, why_cap, "stop list refused (%s)", mnap_err_name(e));
            return EX_LOCAL;
        }
        e = mnap_stoplist_check(l, serial, &st);
        mnap_stoplist_free(l);
        if (e == MNAP_E_CARD_STOPPED) {
            (void)snprintf(why, why_cap, "card stopped (MNAP_E_CARD_STOPPED, offline list)");
            cli_error("card %s is on the stop list (%s, MNAP_E_CARD_STOPPED): it may not be served; the resident "
                      "should go to the municipal counter (市区町村窓口)", hex,
                      mnap_reg_card_state_name((mnap_reg_card_state)st));
            return EX_CARD;
        }
    }
    if (c->logged_in && c->reg != NULL && c->actor.role == MNAP_ROLE_KIOSK) {
        mnap_reg_card_state st = MNAP_CARD_NONE;
        mnap_reg_err e = mnap_reg_card_servable(c->reg, &c->actor, hex, &st);
        if (e == MNAP_REG_E_STATE) {
            (void)snprintf(why, why_cap, "card stopped (MNAP_E_CARD_STOPPED, registry)");
            cli_error("card %s is %s in the registry (MNAP_E_CARD_STOPPED): it may not be served; the resident "
                      "should go to the municipal counter (市区町村窓口)", hex, mnap_reg_card_state_name(st));
            return EX_CARD;
        }
        if (e != MNAP_REG_OK) {
            (void)snprintf(why, why_cap, "stop-list check failed: %s", mnap_reg_strerror(e));
            return reg_fail(c->reg, e, "stop-list check");
        }
    }
    return EX_OK;
}
