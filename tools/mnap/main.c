/* main.c: `mnap`, the loading-terminal and kiosk command line of the mnap
 * local-resident area.  This file holds the global options, the command
 * table and the top-level help; each command group lives in cmd_*.c and
 * docs/cli.md is the reference. */
#include "cli.h"
#include "i18n.h"
#include "reg.h"

#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "readers", cmd_readers, N_("list the PC/SC readers") },
    { "info", cmd_info, N_("ATR, serial, area state, free NVM, number of APs") },
    { "keys", cmd_keys, N_("the encrypted key store: init, import, generate, derive, list, passwd") },
    { "area", cmd_area, N_("area setup, rotate-keys, lock, unlock, terminate") },
    { "ap", cmd_ap, N_("applications: load, delete, list, suspend, resume, rotate-keys") },
    { "pin", cmd_pin, N_("pin unblock AID (at the municipal counter)") },
    { "log", cmd_log, N_("the card's security log, decoded") },
    { "diagnose", cmd_diagnose, N_("card fault isolation: one check per line and a conclusion") },
    { "kiosk", cmd_kiosk, N_("business flows: kiosk library AID, kiosk certificate AID") },
    { "ef", cmd_ef, N_("any AP's files: ef read|update|append AID FID") },
    { "manifest", cmd_manifest, N_("manifest check FILE, manifest build FILE -o IMAGE") },
    { "audit", cmd_audit, N_("audit verify: check the operator audit log's hash chain") },
    { "simcard", cmd_simcard, N_("simcard create PATH: a blank card image for --card-image") },
    { "registry", cmd_registry, N_("the registry: init, upgrade, add-municipality, status") },
    { "login", cmd_login, N_("login OPERATOR: open a session (registry mode)") },
    { "logout", cmd_logout, N_("end the session") },
    { "whoami", cmd_whoami, N_("the logged-in operator") },
    { "operator", cmd_operator, N_("operators: add, lock, unlock, role, show") },
    { "resident", cmd_resident, N_("residents: add, show, find, service-id") },
    { "card", cmd_regcard, N_("registered cards: register, show, stoplist") },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs(_("Usage: mnap [GLOBAL OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "The loading terminal and kiosk tool of the My Number card's local-resident area.\n"
          "\n"
          "Commands:\n"),
          out);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, gettext(commands[i].summary));
    }
    fputs(_("\n"
          "Global options (before or after the command):\n"
          "  --reader NAME|INDEX  PC/SC reader by name or by number in 'mnap readers'\n"
          "                       (MNAP_READER; default: the first reader with a card)\n"
          "  --json               machine-readable output of read commands\n"
          "  --card-image PATH    use the in-process card over a simulator image file\n"
          "                       instead of PC/SC (also MNAP_CARD_IMAGE)\n"
          "  --keystore PATH      key store file (MNAP_KEYSTORE; default\n"
          "                       $XDG_DATA_HOME/mnap/keys.mks), or a PKCS#11 token:\n"
          "                       'pkcs11:token=LABEL' (module: MNAP_PKCS11_MODULE)\n"
          "  --audit PATH         operator audit log (MNAP_AUDIT; default\n"
          "                       $XDG_DATA_HOME/mnap/audit.log)\n"
          "  --operator ID        operator named in the audit log (MNAP_OPERATOR;\n"
          "                       default the login name)\n"
          "  --registry CONN      the registry: a SQLite file or a PostgreSQL conninfo\n"
          "                       (MNAP_REGISTRY; default $XDG_DATA_HOME/mnap/registry.db\n"
          "                       when it exists); with a registry every command needs\n"
          "                       'mnap login' and a role that allows it\n"
          "  --session PATH       session file (MNAP_SESSION; default\n"
          "                       $XDG_DATA_HOME/mnap/session)\n"
          "  -h, --help           help; 'mnap COMMAND --help' for each command\n"
          "  --version            the versions of mnap and libmnap\n"
          "\n"
          "Environment: MNAP_PASSPHRASE (key store passphrase, else prompted without\n"
          "echo), MNAP_TRACE=1 (APDU trace on stderr, secrets redacted).\n"
          "Exit codes: 0 ok, 1 card refused, 2 usage, 3 no reader or card, 4 key store,\n"
          "5 local file (manifest, I/O, audit chain), 6 registry (not logged in, role\n"
          "refused, card not ACTIVE, database).\n"),
          out);
}

/* Takes the value of a global option written "--opt VALUE" or "--opt=VALUE". */
static int take_value(int argc, char **argv, int *i, const char *opt, const char **out)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];

    if (strncmp(a, opt, n) != 0) {
        return 0;
    }
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", opt);
        return -1;
    }
    (*i)++;
    *out = argv[*i];
    return 1;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* Pulls the global options out of argv wherever they are (before "--"),
 * leaving the command and its own arguments in rest. */
static int parse_globals(cli *c, int argc, char **argv, char **rest, int *nrest)
{
    static const char *const opts[] = { "--reader", "--card-image", "--keystore", "--audit",
                                        "--operator", "--registry", "--session" };
    const char **slots[] = { &c->reader, &c->card_image, &c->keystore, &c->audit,
                             &c->operator_id, &c->registry, &c->session };
    bool dashdash = false;

    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        int hit = 0;
        if (!dashdash && strcmp(argv[i], "--") == 0) {
            dashdash = true;
        } else if (!dashdash && strcmp(argv[i], "--json") == 0) {
            c->json = true;
            continue;
        } else if (!dashdash) {
            for (size_t k = 0; k < sizeof opts / sizeof opts[0] && hit == 0; k++) {
                hit = take_value(argc, argv, &i, opts[k], slots[k]);
            }
        }
        if (hit < 0) {
            return -1;
        }
        if (hit == 0) {
            rest[(*nrest)++] = argv[i];
        }
    }
    rest[*nrest] = NULL;
    return 0;
}

static int defaults(cli *c)
{
    if (c->reader == NULL) {
        c->reader = env_or("MNAP_READER", NULL);
    }
    if (c->card_image == NULL) {
        c->card_image = env_or("MNAP_CARD_IMAGE", NULL);
    }
    if (c->keystore == NULL) {
        c->keystore = env_or("MNAP_KEYSTORE", NULL);
    }
    if (c->keystore == NULL) {
        if (cli_data_path("keys.mks", c->keystore_buf, sizeof c->keystore_buf) != 0) {
            cli_error("no HOME or XDG_DATA_HOME: give --keystore PATH");
            return -1;
        }
        c->keystore = c->keystore_buf;
    }
    if (c->audit == NULL) {
        c->audit = env_or("MNAP_AUDIT", NULL);
    }
    if (c->audit == NULL) {
        if (cli_data_path("audit.log", c->audit_buf, sizeof c->audit_buf) != 0) {
            cli_error("no HOME or XDG_DATA_HOME: give --audit PATH");
            return -1;
        }
        c->audit = c->audit_buf;
    }
    if (c->operator_id == NULL) {
        c->operator_id = env_or("MNAP_OPERATOR", env_or("LOGNAME", env_or("USER", "unknown")));
    }
    return reg_defaults(c);
}

int main(int argc, char **argv)
{
    cli c;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    int rc;

    if (rest == NULL) {
        cli_error("out of memory");
        return EX_LOCAL;
    }
    memset(&c, 0, sizeof c);
    i18n_init();
    if (parse_globals(&c, argc, argv, rest, &nrest) != 0) {
        free(rest);
        return EX_USAGE;
    }
    if (c.json) {
        cli_json_begin();
    }
    if (nrest == 0) {
        usage(stderr);
        free(rest);
        return cli_json_end(EX_USAGE);
    }
    if (strcmp(rest[0], "-h") == 0 || strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "help") == 0) {
        usage(stdout);
        free(rest);
        return cli_json_end(EX_OK);
    }
    if (strcmp(rest[0], "--version") == 0 || strcmp(rest[0], "version") == 0) {
        printf(_("mnap %s (libmnap %s)\n"), MNAP_VERSION_STRING, mnap_version());
        free(rest);
        return cli_json_end(EX_OK);
    }
    if (defaults(&c) != 0) {
        free(rest);
        return cli_json_end(EX_USAGE);
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(rest[0], commands[i].name) == 0) {
            /* With a registry: the session and the role, before the command
             * touches the card or the registry. */
            rc = reg_gate(&c, nrest, rest);
            if (rc == EX_OK) {
                rc = commands[i].run(&c, nrest, rest);
            }
            reg_end(&c);
            free(rest);
            /* A failed write of stdout (full disk, closed pipe) is an error. */
            if (fflush(stdout) != 0 || ferror(stdout)) {
                cli_error("cannot write the output");
                return cli_json_end(rc != EX_OK ? rc : EX_LOCAL);
            }
            return cli_json_end(rc);
        }
    }
    cli_error("unknown command '%s' (see 'mnap --help')", rest[0]);
    free(rest);
    return cli_json_end(EX_USAGE);
}
