/* cmd_resident.c: `mnap resident add|show|find|service-id` and `mnap card
 * register|show|stoplist`: the registry's residents and cards (docs/cli.md,
 * docs/registry.md).  These commands need a registry and a session. */
#include "cli.h"
#include "i18n.h"
#include "reg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct res_opts {
    const char *kanji, *kana, *birth, *address, *resident;
    unsigned limit;
} res_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    res_opts *o = user;
    char *end = NULL;
    unsigned long v;

    switch (opt) {
    case 'k':
        o->kanji = arg;
        return 0;
    case 'K':
        o->kana = arg;
        return 0;
    case 'b':
        o->birth = arg;
        return 0;
    case 'a':
        o->address = arg;
        return 0;
    case 'r':
        o->resident = arg;
        return 0;
    case 'l':
        v = strtoul(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > 100) {
            cli_error("--limit: 1 to 100");
            return -1;
        }
        o->limit = (unsigned)v;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "kanji", required_argument, NULL, 'k' },
    { "kana", required_argument, NULL, 'K' },
    { "birth", required_argument, NULL, 'b' },
    { "address", required_argument, NULL, 'a' },
    { "resident", required_argument, NULL, 'r' },
    { "limit", required_argument, NULL, 'l' },
    { NULL, 0, NULL, 0 }
};

static int parse(const cli *c, int argc, char **argv, res_opts *o, const char *usage, int min, int max,
                 int *first)
{
    memset(o, 0, sizeof *o);
    o->limit = 20;
    if (cli_getopt(argc, argv, opts, on_opt, o, first) != 0 || cli_operands(argc, *first, min, max, usage) != 0) {
        return EX_USAGE;
    }
    return cli_registry_required(c);
}

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0) {
        snprintf(out, 32, "-");
        return;
    }
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void json_field(const char *name, const char *value, bool last)
{
    printf("\"%s\":", name);
    cli_json_str(stdout, value);
    if (!last) {
        putchar(',');
    }
}

/* --- residents -------------------------------------------------------------- */
static const char u_add[] = N_(
    "resident add NUMBER --kanji NAME --kana NAME --birth YYYY-MM-DD --address TEXT\n"
    "  Registers a resident of the logged-in operator's municipality under the\n"
    "  municipality's own resident number (1 to 15 digits), as imported.\n");
static const char u_show[] = N_(
    "resident show NUMBER [--json]\n"
    "  The resident's record and cards.\n");
static const char u_find[] = N_(
    "resident find TEXT [--limit N] [--json]\n"
    "  Residents whose kana or kanji name contains TEXT (at most N, default 20).\n");
static const char u_sid[] = N_(
    "resident service-id NUMBER SYSTEM [--json]\n"
    "  The resident's pseudonymous ID for a business system (library,\n"
    "  certificate, ...): the same for the same system, unrelated between two.\n");

static int resident_add(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_add, 1, 1, &first);
    mnap_reg_resident r;
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    if (o.kanji == NULL || o.kana == NULL || o.birth == NULL || o.address == NULL) {
        cli_error("resident add: --kanji, --kana, --birth and --address are required");
        return EX_USAGE;
    }
    memset(&r, 0, sizeof r);
    if (strlen(argv[first]) >= sizeof r.number || strlen(o.kanji) >= sizeof r.name_kanji ||
        strlen(o.kana) >= sizeof r.name_kana || strlen(o.birth) >= sizeof r.birth_date ||
        strlen(o.address) >= sizeof r.address) {
        cli_error("resident add: a field is too long");
        return EX_USAGE;
    }
    snprintf(r.number, sizeof r.number, "%s", argv[first]);
    snprintf(r.name_kanji, sizeof r.name_kanji, "%s", o.kanji);
    snprintf(r.name_kana, sizeof r.name_kana, "%s", o.kana);
    snprintf(r.birth_date, sizeof r.birth_date, "%s", o.birth);
    snprintf(r.address, sizeof r.address, "%s", o.address);
    e = mnap_reg_resident_add(c->reg, &c->actor, &r);
    char what[80];
    snprintf(what, sizeof what, "resident %s added", r.number);
    if (reg_audit_note(c, "resident add", NULL, e, what) != EX_OK) {
        return EX_REGISTRY;
    }
    if (e == MNAP_REG_E_PARAM) {
        cli_error("resident add: invalid field (number: 1 to 15 digits; birth: a real YYYY-MM-DD date; "
                  "names and address: UTF-8 text without control characters)");
        return EX_USAGE;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "resident add");
    }
    printf(_("resident %s added\n"), r.number);
    return EX_OK;
}

static void print_resident(const cli *c, const mnap_reg_resident *r, bool first)
{
    if (c->json) {
        printf("%s{", first ? "" : ",");
        json_field("number", r->number, false);
        json_field("name_kanji", r->name_kanji, false);
        json_field("name_kana", r->name_kana, false);
        json_field("birth_date", r->birth_date, false);
        json_field("address", r->address, true);
        printf("}");
    } else {
        printf(_("%-15s %s (%s) born %s, %s\n"), r->number, r->name_kanji, r->name_kana, r->birth_date, r->address);
    }
}

static int resident_show(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_show, 1, 1, &first);
    mnap_reg_resident r;
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    e = mnap_reg_resident_get(c->reg, &c->actor, argv[first], &r);
    if (e == MNAP_REG_E_NOT_FOUND) {
        cli_error("resident show: no resident %s", argv[first]);
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "resident show");
    }
    print_resident(c, &r, true);
    if (c->json) {
        putchar('\n');
    }
    return EX_OK;
}

static int resident_find(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_find, 1, 1, &first);
    mnap_reg_resident *list;
    size_t n = 0;
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    list = calloc(o.limit, sizeof *list);
    if (list == NULL) {
        cli_error("out of memory");
        return EX_LOCAL;
    }
    e = mnap_reg_resident_find(c->reg, &c->actor, argv[first], list, o.limit, &n);
    if (e != MNAP_REG_OK) {
        free(list);
        return reg_fail(c->reg, e, "resident find");
    }
    if (c->json) {
        printf("{\"residents\":[");
    } else if (n == 0) {
        printf(_("(no resident)\n"));
    }
    for (size_t i = 0; i < n; i++) {
        print_resident(c, &list[i], i == 0);
    }
    if (c->json) {
        printf("]}\n");
    }
    free(list);
    return EX_OK;
}

static int resident_sid(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_sid, 2, 2, &first);
    char id[65];
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    e = mnap_reg_service_id(c->reg, &c->actor, argv[first], argv[first + 1], id);
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "resident service-id");
    }
    if (c->json) {
        printf("{\"system\":");
        cli_json_str(stdout, argv[first + 1]);
        printf(",\"service_id\":\"%s\"}\n", id);
    } else {
        printf("%s\n", id);
    }
    return EX_OK;
}

static const cli_sub resident_subs[] = {
    { "add", resident_add, u_add },
    { "show", resident_show, u_show },
    { "find", resident_find, u_find },
    { "service-id", resident_sid, u_sid },
    { "import", resident_import, u_resident_import },
};

int cmd_resident(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "resident", resident_subs, sizeof resident_subs / sizeof resident_subs[0], argc, argv);
}

/* --- cards ----------------------------------------------------------------------- */
static const char u_register[] = N_(
    "card register SERIAL --resident NUMBER\n"
    "  Registers a card (its 8-byte serial, 16 hex digits, as 'mnap info' shows\n"
    "  it) for a resident: state ACTIVE.  A resident has one card in use at most.\n");
static const char u_cshow[] = N_(
    "card show SERIAL [--json]\n"
    "  The card's state, resident and the APs the registry records on it.\n");
static const char u_stop[] = N_(
    "card stoplist [--json]\n"
    "  The cards of the municipality that are not ACTIVE (kiosks read this).\n");

static int upper_serial(const char *in, char out[MNAP_REG_SERIAL_HEX + 1])
{
    uint8_t b[8];
    size_t n = 0;

    if (cli_hex_parse(in, b, 8, 8, &n) != 0) {
        cli_error("'%s' is not a card serial (8 bytes of hex)", in);
        return -1;
    }
    mt_hex_encode(b, 8, out, MT_HEX_UPPER);
    return 0;
}

static int card_register(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_register, 1, 1, &first);
    char serial[MNAP_REG_SERIAL_HEX + 1];
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    if (o.resident == NULL) {
        cli_error("card register: --resident is required");
        return EX_USAGE;
    }
    if (upper_serial(argv[first], serial) != 0) {
        return EX_USAGE;
    }
    e = mnap_reg_card_register(c->reg, &c->actor, serial, o.resident);
    char what[80];
    snprintf(what, sizeof what, "registered for resident %s", o.resident);
    if (reg_audit_note(c, "card register", serial, e, what) != EX_OK) {
        return EX_REGISTRY;
    }
    if (e == MNAP_REG_E_NOT_FOUND) {
        cli_error("card register: no resident %s", o.resident);
        return EX_REGISTRY;
    }
    if (e == MNAP_REG_E_EXISTS) {
        cli_error("card register: card %s is already registered", serial);
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "card register");
    }
    printf(_("card %s registered for resident %s: ACTIVE\n"), serial, o.resident);
    return EX_OK;
}

static int card_show(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_cshow, 1, 1, &first);
    char serial[MNAP_REG_SERIAL_HEX + 1];
    mnap_reg_card card;
    mnap_reg_ap aps[64];
    mnap_reg_card_event ev[32];
    size_t n = 0, nev = 0;
    mnap_reg_err e;
    char t1[32], t2[32];

    if (rc != EX_OK) {
        return rc;
    }
    if (upper_serial(argv[first], serial) != 0) {
        return EX_USAGE;
    }
    e = mnap_reg_card_get(c->reg, &c->actor, serial, &card);
    if (e == MNAP_REG_E_NOT_FOUND) {
        cli_error("card show: card %s is not registered", serial);
        return EX_REGISTRY;
    }
    if (e == MNAP_REG_OK) {
        e = mnap_reg_card_aps(c->reg, &c->actor, serial, aps, sizeof aps / sizeof aps[0], &n);
    }
    if (e == MNAP_REG_OK) {
        e = mnap_reg_card_events(c->reg, &c->actor, serial, ev, sizeof ev / sizeof ev[0], &nev);
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "card show");
    }
    iso_time(card.registered_at, t1);
    iso_time(card.state_changed_at, t2);
    if (c->json) {
        printf("{");
        json_field("serial", card.serial, false);
        json_field("state", mnap_reg_card_state_name(card.state), false);
        json_field("resident", card.resident, false);
        json_field("registered_at", t1, false);
        json_field("registered_by", card.registered_by, false);
        json_field("state_changed_at", t2, false);
        printf("\"aps\":[");
        for (size_t i = 0; i < n; i++) {
            char l[32], d[32];
            iso_time(aps[i].loaded_at, l);
            iso_time(aps[i].deleted_at, d);
            printf("%s{", i == 0 ? "" : ",");
            json_field("aid", aps[i].aid, false);
            json_field("service", aps[i].service, false);
            json_field("status", mnap_reg_ap_status_name(aps[i].status), false);
            json_field("loaded_at", l, false);
            json_field("loaded_by", aps[i].loaded_by[0] != '\0' ? aps[i].loaded_by : "-", false);
            json_field("deleted_at", d, false);
            json_field("deleted_by", aps[i].deleted_by[0] != '\0' ? aps[i].deleted_by : "-", true);
            printf("}");
        }
        printf("],\"history\":[");
        for (size_t i = 0; i < nev; i++) {
            char at[32];
            iso_time(ev[i].at, at);
            printf("%s{", i == 0 ? "" : ",");
            json_field("at", at, false);
            json_field("from", mnap_reg_card_state_name(ev[i].from), false);
            json_field("to", mnap_reg_card_state_name(ev[i].to), false);
            json_field("reason", ev[i].reason, false);
            json_field("by", ev[i].actor, true);
            printf("}");
        }
        printf("]}\n");
        return EX_OK;
    }
    printf(_("card %s: %s since %s, resident %s, registered %s by %s\n"), card.serial,
           mnap_reg_card_state_name(card.state), t2, card.resident, t1, card.registered_by);
    if (n == 0) {
        printf(_("  (no AP recorded)\n"));
    }
    for (size_t i = 0; i < n; i++) {
        char l[32], d[32];
        iso_time(aps[i].loaded_at, l);
        iso_time(aps[i].deleted_at, d);
        printf(_("  AP %-32s %-9s %-12s loaded %s by %s"), aps[i].aid, mnap_reg_ap_status_name(aps[i].status),
               aps[i].service[0] != '\0' ? aps[i].service : "-", l,
               aps[i].loaded_by[0] != '\0' ? aps[i].loaded_by : "-");
        if (aps[i].deleted_at != 0) {
            printf(", deleted %s by %s", d, aps[i].deleted_by);
        }
        putchar('\n');
    }
    for (size_t i = 0; i < nev; i++) {
        char at[32];
        iso_time(ev[i].at, at);
        printf("  %s %s -> %s (%s) by %s\n", at, mnap_reg_card_state_name(ev[i].from),
               mnap_reg_card_state_name(ev[i].to), ev[i].reason, ev[i].actor);
    }
    return EX_OK;
}

typedef struct stop_print {
    const cli *c;
    size_t n;
} stop_print;

static void print_stop(void *user, const char *serial, mnap_reg_card_state st, int64_t since)
{
    stop_print *p = user;
    char t[32];

    iso_time(since, t);
    if (p->c->json) {
        printf("%s{\"serial\":\"%s\",\"state\":\"%s\",\"since\":\"%s\"}", p->n == 0 ? "" : ",", serial,
               mnap_reg_card_state_name(st), t);
    } else {
        printf(_("%s %-10s since %s\n"), serial, mnap_reg_card_state_name(st), t);
    }
    p->n++;
}

static int card_stoplist(cli *c, int argc, char **argv)
{
    res_opts o;
    int first;
    int rc = parse(c, argc, argv, &o, u_stop, 0, 0, &first);
    stop_print p = { c, 0 };
    mnap_reg_err e;

    if (rc != EX_OK) {
        return rc;
    }
    if (c->json) {
        printf("{\"stop_list\":[");
    }
    e = mnap_reg_stop_list(c->reg, &c->actor, print_stop, &p);
    if (c->json) {
        printf("]}\n");
    } else if (e == MNAP_REG_OK && p.n == 0) {
        printf(_("(no card stopped)\n"));
    }
    return e == MNAP_REG_OK ? EX_OK : reg_fail(c->reg, e, "card stoplist");
}

static const cli_sub card_subs[] = {
    { "register", card_register, u_register },
    { "show", card_show, u_cshow },
    { "stoplist", card_stoplist, u_stop },
    { "stop", card_stop, u_card_stop },
    { "resume", card_resume, u_card_resume },
    { "terminate", card_terminate, u_card_terminate },
    { "stoplist-export", card_stoplist_export, u_card_export },
    { "stoplist-key", card_stoplist_key, u_card_pubkey },
};

int cmd_regcard(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "card", card_subs, sizeof card_subs / sizeof card_subs[0], argc, argv);
}
