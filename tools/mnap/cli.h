/* cli.h: what the modules of the `mnap` command line share: the global
 * options, the documented exit codes, the command table entry type and the
 * small helpers every command uses (errors, hex, JSON strings).
 *
 * Each subcommand group lives in its own cmd_*.c file and exports one entry
 * function `int cmd_<group>(cli *c, int argc, char **argv)` returning an exit
 * code; argv[0] is the group's name. */
#ifndef MNAP_CLI_H
#define MNAP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mnap/mnap.h"
#include "mnap/mnap_registry.h"
#include "mt_json.h"

/* Exit codes (docs/cli.md). */
enum {
    EX_OK = 0,
    EX_CARD = 1,      /* the card refused, or answered badly */
    EX_USAGE = 2,     /* bad command line */
    EX_NOCARD = 3,    /* no PC/SC service, no reader, no card, card removed */
    EX_KEYSTORE = 4,  /* key store: wrong passphrase, damaged, missing key set */
    EX_LOCAL = 5,     /* local file problem: manifest invalid, I/O, audit chain broken */
    EX_REGISTRY = 6   /* registry: not logged in, role refused, card not ACTIVE, database */
};

/* Global options, valid before or after the subcommand. */
typedef struct cli {
    const char *reader;      /* --reader NAME|INDEX */
    bool json;               /* --json */
    const char *card_image;  /* --card-image PATH / MNAP_CARD_IMAGE */
    const char *keystore;    /* --keystore PATH / MNAP_KEYSTORE */
    const char *audit;       /* --audit PATH / MNAP_AUDIT */
    const char *operator_id; /* --operator ID / MNAP_OPERATOR */
    char keystore_buf[4096];
    char audit_buf[4096];
    /* The registry (reg.h): --registry CONN / MNAP_REGISTRY, else the
     * default file when it exists; NULL: no registry, no login. */
    const char *registry;
    const char *session;     /* --session PATH / MNAP_SESSION */
    char registry_buf[4096];
    char session_buf[4096];
    mnap_reg *reg;           /* open while a command runs, when logged in */
    mnap_reg_actor actor;    /* the logged-in operator */
    bool logged_in;
} cli;

/* Command groups (cmd_*.c). */
int cmd_readers(cli *c, int argc, char **argv);
int cmd_info(cli *c, int argc, char **argv);
int cmd_keys(cli *c, int argc, char **argv);
int cmd_area(cli *c, int argc, char **argv);
int cmd_ap(cli *c, int argc, char **argv);
int cmd_pin(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_diagnose(cli *c, int argc, char **argv);
int cmd_kiosk(cli *c, int argc, char **argv);
int cmd_ef(cli *c, int argc, char **argv);
/* `ap rotate-keys` (cmd_ef.c: an AP session like ef's). */
int ap_rotate_keys(cli *c, int argc, char **argv);
extern const char ap_rotate_usage[];
int cmd_manifest(cli *c, int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_simcard(cli *c, int argc, char **argv);
int cmd_registry(cli *c, int argc, char **argv);
int cmd_login(cli *c, int argc, char **argv);
int cmd_logout(cli *c, int argc, char **argv);
int cmd_whoami(cli *c, int argc, char **argv);
int cmd_operator(cli *c, int argc, char **argv);
int cmd_resident(cli *c, int argc, char **argv);
int cmd_regcard(cli *c, int argc, char **argv);

/* A subcommand of a group ("keys init"). */
typedef struct cli_sub {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *usage;      /* "keys init [--kdf-cost N]" ... full help text */
} cli_sub;
/* Dispatches argv[1] among subs; prints the group help for --help or a
 * missing/unknown subcommand; a subcommand's --help prints its usage. */
int cli_dispatch(cli *c, const char *group, const cli_sub *subs, size_t n, int argc, char **argv);
/* getopt_long over a subcommand's argv (argv[0] is its name); *first_arg is
 * the index of the first operand.  Prints usage errors itself.  Returns 0,
 * or -1 on a bad option. */
int cli_getopt(int argc, char **argv, const struct option *opts,
               int (*on)(void *user, int opt, const char *arg), void *user, int *first_arg);
/* The same for a subcommand without options. */
int cli_no_options(int argc, char **argv, int *first_arg);
/* Checks the number of operands; prints the usage line when wrong. */
int cli_operands(int argc, int first, int min, int max, const char *usage);

/* --- helpers (util.c) ---------------------------------------------------- */
/* "mnap: <message>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit code for a library error (transport 3, key store 4, card 1...). */
int cli_exit_for(mnap_err e);
/* One-line error for a library result: "<what>: <mnap_strerror>" plus the
 * status word when the card gave one; returns cli_exit_for(e). */
int cli_fail(mnap_ctx *ctx, mnap_err e, const char *what);
/* The text of that line, without "mnap: " (for the audit log too). */
void cli_fail_text(mnap_ctx *ctx, mnap_err e, const char *what, char *out, size_t cap);
/* The same in English, for the audit log. */
void cli_fail_text_en(mnap_ctx *ctx, mnap_err e, const char *what, char *out, size_t cap);
/* Parses hex (spaces allowed) into out; -1 on bad digits or length not in
 * [min, max]. */
int cli_hex_parse(const char *s, uint8_t *out, size_t min, size_t max, size_t *len);
/* Hex output: mt_hex_encode(in, len, out, MT_HEX_UPPER) (tools/lib/mt_json.h). */
/* Writes s as a JSON string (quotes and escapes included). */
void cli_json_str(FILE *f, const char *s);
/* --json: holds back stdout until cli_json_end(rc): on success it is
 * printed, on failure one JSON object instead:
 * {"error":{"exit":N,"kind":"keystore","message":FIRST,"messages":[...],
 *  "name":"MNAP_E_...","code":-60}} (name and code when a library error was
 * reported).  Returns rc. */
void cli_json_begin(void);
int cli_json_end(int rc);
/* Records the library error behind the failure (for --json). */
void cli_note_err(mnap_err e);
/* mnap_strerror(e) in the user's language (gettext). */
const char *cli_strerror(mnap_err e);
/* True when argv holds -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);
/* The per-user data directory $XDG_DATA_HOME/mnap (or ~/.local/share/mnap)
 * joined with name; -1 when no home is known or it does not fit. */
int cli_data_path(const char *name, char *out, size_t cap);
/* Creates the parent directories of path (mode 0700). */
int cli_mkdirs_for(const char *path);
/* Writes len bytes to path atomically: temp file beside it, fsync, rename,
 * fsync of the directory.  0, or -1 with errno set. */
int cli_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode);
/* Parses an AID argument (5..16 bytes of hex); prints the error itself and
 * returns -1. */
int cli_aid_arg(const char *s, uint8_t *aid, size_t *len);

#endif
