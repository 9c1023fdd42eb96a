/* cmd_registry.c: `mnap registry init|upgrade|add-municipality|status`,
 * `mnap login`, `mnap logout`, `mnap whoami` and `mnap operator
 * add|lock|unlock|role|show` (docs/cli.md, docs/registry.md). */
#include "cli.h"
#include "i18n.h"
#include "reg.h"
#include "secret.h"
#include "cm_ct.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct reg_opts {
    const char *name, *role, *municipality, *admin, *admin_name;
    unsigned max_failed;
    unsigned ttl;
    bool password_stdin;
} reg_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    reg_opts *o = user;
    char *end = NULL;
    unsigned long v;

    switch (opt) {
    case 'n':
        o->name = arg;
        return 0;
    case 'r':
        o->role = arg;
        return 0;
    case 'm':
        o->municipality = arg;
        return 0;
    case 'a':
        o->admin = arg;
        return 0;
    case 'A':
        o->admin_name = arg;
        return 0;
    case 'p':
        o->password_stdin = true;
        return 0;
    case 'f':
        v = strtoul(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > 20) {
            cli_error("--max-failed: 1 to 20");
            return -1;
        }
        o->max_failed = (unsigned)v;
        return 0;
    case 't':
        v = strtoul(arg, &end, 10);
        if (*end != '\0' || v < 60 || v > 7 * 86400) {
            cli_error("--ttl: 60 to 604800 seconds");
            return -1;
        }
        o->ttl = (unsigned)v;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "name", required_argument, NULL, 'n' },
    { "role", required_argument, NULL, 'r' },
    { "municipality", required_argument, NULL, 'm' },
    { "admin", required_argument, NULL, 'a' },
    { "admin-name", required_argument, NULL, 'A' },
    { "password-stdin", no_argument, NULL, 'p' },
    { "max-failed", required_argument, NULL, 'f' },
    { "ttl", required_argument, NULL, 't' },
    { NULL, 0, NULL, 0 }
};

static int parse(int argc, char **argv, reg_opts *o, const char *usage, int min, int max, int *first)
{
    memset(o, 0, sizeof *o);
    o->ttl = 8 * 3600;
    if (cli_getopt(argc, argv, opts, on_opt, o, first) != 0 || cli_operands(argc, *first, min, max, usage) != 0) {
        return -1;
    }
    return 0;
}

/* A new password: prompted twice, or one line on stdin. */
static int new_password(const char *what, bool from_stdin, char *pw, size_t cap, size_t *len)
{
    if (secret_pin(what, from_stdin, !from_stdin, pw, cap, len) != 0) {
        return EX_USAGE;
    }
    if (*len < 8) {
        cli_error("a password has at least 8 characters");
        cm_wipe(pw, cap);
        return EX_USAGE;
    }
    return EX_OK;
}

/* --- registry ---------------------------------------------------------------- */
static const char u_init[] = N_(
    "registry init\n"
    "  Creates the registry's schema, or upgrades it to this program's version\n"
    "  (the same as 'registry upgrade').  Without --registry, the SQLite file\n"
    "  $XDG_DATA_HOME/mnap/registry.db beside the key store; on PostgreSQL, run it\n"
    "  as the database's owner (docs/registry.md).\n");
static const char u_upgrade[] = N_(
    "registry upgrade\n"
    "  Applies the schema migrations the registry lacks.\n");
static const char u_addm[] = N_(
    "registry add-municipality CODE --name NAME [--max-failed N] [--admin ID\n"
    "                         [--admin-name NAME] [--password-stdin]]\n"
    "  Registers a municipality (6-digit local government code); failed logins\n"
    "  that lock an operator: N (default 3).  With --admin, also its first\n"
    "  operator, role admin (password asked twice, or one line on stdin).  On\n"
    "  PostgreSQL it creates the roles mnap_m_CODE and mnap_k_CODE.\n");
static const char u_status[] = N_(
    "registry status [--json]\n"
    "  The engine, the schema version and the municipalities this connection sees.\n");

static int registry_migrate(cli *c, int argc, char **argv, const char *usage)
{
    int first;
    mnap_reg *r;
    int rc, have = 0, want = 0;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, usage) != 0) {
        return EX_USAGE;
    }
    if (c->registry == NULL) {
        if (c->registry_buf[0] == '\0') {
            cli_error("no HOME or XDG_DATA_HOME: give --registry CONN");
            return EX_USAGE;
        }
        c->registry = c->registry_buf; /* the default file, made now */
        if (cli_mkdirs_for(c->registry) != 0) {
            cli_error("registry %s: cannot create its directory", c->registry);
            return EX_LOCAL;
        }
    }
    rc = reg_open(c, true, &r);
    if (rc != EX_OK) {
        return rc;
    }
    if (mnap_reg_schema_version(r, &have, &want) == MNAP_REG_OK) {
        printf(_("registry (%s): schema version %d\n"), mnap_reg_engine(r), have);
    }
    mnap_reg_close(r);
    return EX_OK;
}

static int registry_init(cli *c, int argc, char **argv)
{
    return registry_migrate(c, argc, argv, u_init);
}

static int registry_upgrade(cli *c, int argc, char **argv)
{
    return registry_migrate(c, argc, argv, u_upgrade);
}

static int registry_addm(cli *c, int argc, char **argv)
{
    reg_opts o;
    int first, rc;
    mnap_reg *r;
    mnap_reg_err e;
    char pw[SECRET_MAX];
    size_t pw_len = 0;

    if (parse(argc, argv, &o, u_addm, 1, 1, &first) != 0) {
        return EX_USAGE;
    }
    if (o.name == NULL) {
        cli_error("registry add-municipality: --name is required");
        return EX_USAGE;
    }
    if (o.admin != NULL && new_password("password of the new admin", o.password_stdin, pw, sizeof pw, &pw_len) != EX_OK) {
        return EX_USAGE;
    }
    rc = reg_open(c, false, &r);
    if (rc == EX_OK) {
        e = mnap_reg_municipality_add(r, argv[first], o.name, o.max_failed);
        if (e != MNAP_REG_OK) {
            rc = reg_fail(r, e, "registry add-municipality");
        } else {
            printf(_("municipality %s (%s) registered\n"), argv[first], o.name);
        }
        if (rc == EX_OK && o.admin != NULL) {
            e = mnap_reg_bootstrap_admin(r, argv[first], o.admin, o.admin_name != NULL ? o.admin_name : o.admin, pw,
                                         pw_len);
            if (e != MNAP_REG_OK) {
                rc = reg_fail(r, e, "registry add-municipality: first admin");
            } else {
                printf(_("operator %s (admin) added\n"), o.admin);
            }
        }
        mnap_reg_close(r);
    }
    cm_wipe(pw, sizeof pw);
    return rc;
}

typedef struct muni_print {
    const cli *c;
    size_t n;
} muni_print;

static void print_muni(void *user, const char *code, const char *name)
{
    muni_print *p = user;

    if (p->c->json) {
        printf("%s{\"code\":", p->n == 0 ? "" : ",");
        cli_json_str(stdout, code);
        printf(",\"name\":");
        cli_json_str(stdout, name);
        printf("}");
    } else {
        printf("  %s %s\n", code, name);
    }
    p->n++;
}

static int registry_status(cli *c, int argc, char **argv)
{
    int first, rc, have = 0, want = 0;
    mnap_reg *r;
    muni_print p = { c, 0 };

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, u_status) != 0) {
        return EX_USAGE;
    }
    rc = reg_open(c, false, &r);
    if (rc != EX_OK) {
        return rc;
    }
    mnap_reg_schema_version(r, &have, &want);
    if (c->json) {
        printf("{\"engine\":\"%s\",\"schema\":%d,\"municipalities\":[", mnap_reg_engine(r), have);
    } else {
        printf(_("engine %s, schema version %d\nmunicipalities:\n"), mnap_reg_engine(r), have);
    }
    mnap_reg_err e = mnap_reg_municipalities(r, print_muni, &p);
    if (c->json) {
        printf("]}\n");
    }
    if (e != MNAP_REG_OK) {
        rc = reg_fail(r, e, "registry status");
    }
    mnap_reg_close(r);
    return rc;
}

static const cli_sub registry_subs[] = {
    { "init", registry_init, u_init },
    { "upgrade", registry_upgrade, u_upgrade },
    { "add-municipality", registry_addm, u_addm },
    { "status", registry_status, u_status },
};

int cmd_registry(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "registry", registry_subs, sizeof registry_subs / sizeof registry_subs[0], argc, argv);
}

/* --- login, logout, whoami ------------------------------------------------------ */
static const char u_login[] = N_(
    "login OPERATOR [--municipality CODE] [--password-stdin] [--ttl SECONDS]\n"
    "  Opens a session: the password is asked without echo (or read as one line\n"
    "  from stdin), never taken from the command line.  The session (a random\n"
    "  token; the registry keeps only its hash) goes to the session file and\n"
    "  lasts SECONDS (default 28800, 8 hours) or until 'mnap logout'.  Failed\n"
    "  logins in a row (3 unless the municipality set another number) lock the\n"
    "  operator until a supervisor unlocks it.  The municipality: --municipality,\n"
    "  MNAP_MUNICIPALITY, or the only one the registry shows.\n");

static void one_muni(void *user, const char *code, const char *name)
{
    char *out = user;
    (void)name;
    if (out[0] == '\0') {
        snprintf(out, 8, "%s", code);
    } else {
        out[7] = 'x'; /* more than one */
    }
}

int cmd_login(cli *c, int argc, char **argv)
{
    reg_opts o;
    int first, rc;
    mnap_reg *r = NULL;
    mnap_reg_err e;
    char pw[SECRET_MAX];
    size_t pw_len = 0;
    char muni[9] = { 0 };
    uint8_t token[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_login), stdout);
        return EX_OK;
    }
    if (parse(argc, argv, &o, u_login, 1, 1, &first) != 0) {
        return EX_USAGE;
    }
    if (o.municipality == NULL) {
        o.municipality = getenv("MNAP_MUNICIPALITY");
    }
    rc = reg_open(c, false, &r);
    if (rc != EX_OK) {
        return rc;
    }
    if (o.municipality == NULL || o.municipality[0] == '\0') {
        e = mnap_reg_municipalities(r, one_muni, muni);
        if (e != MNAP_REG_OK) {
            rc = reg_fail(r, e, "login");
        } else if (muni[0] == '\0' || muni[7] == 'x') {
            cli_error("login: give --municipality CODE (the registry has %s)", muni[0] == '\0' ? "none" : "several");
            rc = EX_USAGE;
        }
        o.municipality = muni;
    }
    if (rc == EX_OK) {
        if (o.password_stdin) {
            rc = secret_stdin(pw, sizeof pw, &pw_len) == 0 ? EX_OK : EX_USAGE;
            if (rc != EX_OK) {
                cli_error("login: no password on stdin");
            }
        } else {
            char prompt[96];
            snprintf(prompt, sizeof prompt, "password of %s", argv[first]);
            rc = secret_prompt(prompt, pw, sizeof pw, &pw_len) == 0 ? EX_OK : EX_USAGE;
        }
    }
    if (rc == EX_OK) {
        e = mnap_reg_login(r, o.municipality, argv[first], pw, pw_len, o.ttl, token, &a);
        if (e == MNAP_REG_OK) {
            rc = reg_session_write(c, token);
            if (rc == EX_OK) {
                time_t until = time(NULL) + (time_t)o.ttl;
                struct tm tm;
                char when[32];
                gmtime_r(&until, &tm);
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf(_("logged in: %s (%s) of %s until %s\n"), a.operator_id, mnap_reg_role_name(a.role),
                       a.municipality, when);
            } else {
                (void)mnap_reg_logout(r, token);
            }
        } else {
            rc = reg_fail(r, e, "login");
        }
        /* Every login, and every failed one, is an audit row of the
         * municipality (a login that cannot be recorded still fails closed:
         * the session is ended). */
        if (e == MNAP_REG_OK || e == MNAP_REG_E_AUTH || e == MNAP_REG_E_LOCKED) {
            char result[120];
            snprintf(result, sizeof result, e == MNAP_REG_OK ? "ok" : "error: %s", mnap_reg_strerror(e));
            mnap_reg_err ae = mnap_reg_audit_append(r, o.municipality, argv[first], "login", NULL, NULL, result, NULL);
            if (ae != MNAP_REG_OK && e == MNAP_REG_OK) {
                (void)mnap_reg_logout(r, token);
                (void)unlink(c->session);
                rc = reg_fail(r, ae, "login: the audit row");
            }
        }
        cm_wipe(token, sizeof token);
    }
    cm_wipe(pw, sizeof pw);
    mnap_reg_close(r);
    return rc;
}

static const char u_logout[] = N_(
    "logout\n"
    "  Ends the session in the registry and removes the session file.\n");

int cmd_logout(cli *c, int argc, char **argv)
{
    int first, rc;
    mnap_reg *r = NULL;
    uint8_t token[MNAP_REG_TOKEN_LEN];

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_logout), stdout);
        return EX_OK;
    }
    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, u_logout) != 0) {
        return EX_USAGE;
    }
    if (reg_session_read(c, token) != 0) {
        cli_error("logout: not logged in");
        return EX_REGISTRY;
    }
    rc = reg_open(c, false, &r);
    if (rc == EX_OK) {
        mnap_reg_err e = mnap_reg_logout(r, token);
        if (e != MNAP_REG_OK && e != MNAP_REG_E_SESSION) {
            rc = reg_fail(r, e, "logout");
        }
        mnap_reg_close(r);
    }
    cm_wipe(token, sizeof token);
    if (rc == EX_OK) {
        (void)unlink(c->session);
        printf(_("logged out\n"));
    }
    return rc;
}

static const char u_whoami[] = N_(
    "whoami [--json]\n"
    "  The logged-in operator: ID, role, municipality.\n");

int cmd_whoami(cli *c, int argc, char **argv)
{
    int first;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_whoami), stdout);
        return EX_OK;
    }
    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, u_whoami) != 0) {
        return EX_USAGE;
    }
    if (cli_registry_required(c) != EX_OK) {
        return EX_REGISTRY;
    }
    if (c->json) {
        printf("{\"operator\":");
        cli_json_str(stdout, c->actor.operator_id);
        printf(",\"role\":\"%s\",\"municipality\":\"%s\"}\n", mnap_reg_role_name(c->actor.role),
               c->actor.municipality);
    } else {
        printf("%s (%s) of %s\n", c->actor.operator_id, mnap_reg_role_name(c->actor.role), c->actor.municipality);
    }
    return EX_OK;
}

/* --- operators ------------------------------------------------------------------------ */
static const char u_opadd[] = N_(
    "operator add ID --name NAME --role ROLE [--password-stdin]\n"
    "  Adds an operator of the logged-in admin's municipality.  ROLE: clerk,\n"
    "  supervisor, auditor, admin or kiosk.  The password (8 characters or more)\n"
    "  is asked twice without echo, or read as one line from stdin.\n");
static const char u_oplock[] = N_(
    "operator lock ID\n"
    "  Locks an operator (supervisor or admin): no login, open sessions end.\n");
static const char u_opunlock[] = N_(
    "operator unlock ID\n"
    "  Unlocks an operator and resets its failed-login count (supervisor or admin).\n");
static const char u_oprole[] = N_(
    "operator role ID ROLE\n"
    "  Gives an operator another role (admin).\n");
static const char u_opshow[] = N_(
    "operator show ID [--json]\n"
    "  An operator's name, role, failed logins and lock.\n");

static int op_add(cli *c, int argc, char **argv)
{
    reg_opts o;
    int first, rc;
    mnap_reg_role role;
    char pw[SECRET_MAX];
    size_t pw_len = 0;
    mnap_reg_err e;

    if (parse(argc, argv, &o, u_opadd, 1, 1, &first) != 0) {
        return EX_USAGE;
    }
    if (o.name == NULL || o.role == NULL) {
        cli_error("operator add: --name and --role are required");
        return EX_USAGE;
    }
    if (mnap_reg_role_parse(o.role, &role) != MNAP_REG_OK) {
        cli_error("operator add: unknown role '%s' (clerk, supervisor, auditor, admin, kiosk)", o.role);
        return EX_USAGE;
    }
    if (cli_registry_required(c) != EX_OK) {
        return EX_REGISTRY;
    }
    rc = new_password("password of the new operator", o.password_stdin, pw, sizeof pw, &pw_len);
    if (rc != EX_OK) {
        return rc;
    }
    e = mnap_reg_operator_add(c->reg, &c->actor, argv[first], o.name, role, pw, pw_len);
    cm_wipe(pw, sizeof pw);
    char what[120];
    snprintf(what, sizeof what, "operator %s added, role %s", argv[first], o.role);
    if (reg_audit_note(c, "operator add", NULL, e, what) != EX_OK) {
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "operator add");
    }
    printf(_("operator %s (%s) added\n"), argv[first], o.role);
    return EX_OK;
}

static int op_lock_common(cli *c, int argc, char **argv, const char *usage, bool lock)
{
    int first;
    mnap_reg_err e;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 1, 1, usage) != 0) {
        return EX_USAGE;
    }
    if (cli_registry_required(c) != EX_OK) {
        return EX_REGISTRY;
    }
    e = mnap_reg_operator_lock(c->reg, &c->actor, argv[first], lock);
    char what[120];
    snprintf(what, sizeof what, "operator %s %s", argv[first], lock ? "locked" : "unlocked");
    if (reg_audit_note(c, lock ? "operator lock" : "operator unlock", NULL, e, what) != EX_OK) {
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, lock ? "operator lock" : "operator unlock");
    }
    printf(_("operator %s %s\n"), argv[first], lock ? "locked" : "unlocked");
    return EX_OK;
}

static int op_lock(cli *c, int argc, char **argv)
{
    return op_lock_common(c, argc, argv, u_oplock, true);
}

static int op_unlock(cli *c, int argc, char **argv)
{
    return op_lock_common(c, argc, argv, u_opunlock, false);
}

static int op_role(cli *c, int argc, char **argv)
{
    int first;
    mnap_reg_role role;
    mnap_reg_err e;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 2, 2, u_oprole) != 0) {
        return EX_USAGE;
    }
    if (mnap_reg_role_parse(argv[first + 1], &role) != MNAP_REG_OK) {
        cli_error("operator role: unknown role '%s' (clerk, supervisor, auditor, admin, kiosk)", argv[first + 1]);
        return EX_USAGE;
    }
    if (cli_registry_required(c) != EX_OK) {
        return EX_REGISTRY;
    }
    e = mnap_reg_operator_set_role(c->reg, &c->actor, argv[first], role);
    char what[120];
    snprintf(what, sizeof what, "operator %s is now %s", argv[first], argv[first + 1]);
    if (reg_audit_note(c, "operator role", NULL, e, what) != EX_OK) {
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "operator role");
    }
    printf(_("operator %s is now %s\n"), argv[first], argv[first + 1]);
    return EX_OK;
}

static int op_show(cli *c, int argc, char **argv)
{
    int first;
    mnap_reg_operator op;
    mnap_reg_err e;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 1, 1, u_opshow) != 0) {
        return EX_USAGE;
    }
    if (cli_registry_required(c) != EX_OK) {
        return EX_REGISTRY;
    }
    e = mnap_reg_operator_get(c->reg, &c->actor, argv[first], &op);
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, "operator show");
    }
    if (c->json) {
        printf("{\"id\":");
        cli_json_str(stdout, op.id);
        printf(",\"name\":");
        cli_json_str(stdout, op.display_name);
        printf(",\"role\":\"%s\",\"failed_logins\":%u,\"locked\":%s}\n", mnap_reg_role_name(op.role),
               op.failed_logins, op.locked ? "true" : "false");
    } else {
        printf(_("%s  %s  role %s  failed logins %u%s\n"), op.id, op.display_name, mnap_reg_role_name(op.role),
               op.failed_logins, op.locked ? "  LOCKED" : "");
    }
    return EX_OK;
}

static const cli_sub operator_subs[] = {
    { "add", op_add, u_opadd },
    { "lock", op_lock, u_oplock },
    { "unlock", op_unlock, u_opunlock },
    { "role", op_role, u_oprole },
    { "show", op_show, u_opshow },
};

int cmd_operator(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "operator", operator_subs, sizeof operator_subs / sizeof operator_subs[0], argc, argv);
}
