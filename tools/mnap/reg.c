/* reg.c: registry mode of the command line: defaults, the session file, the
 * permission gate every command passes, and the AP change protocol around
 * the card (reg.h, docs/registry.md). */
#include "reg.h"
#include "cm_ct.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- defaults -------------------------------------------------------------- */
int reg_defaults(cli *c)
{
    const char *v;

    if (c->registry == NULL && (v = getenv("MNAP_REGISTRY")) != NULL && v[0] != '\0') {
        c->registry = v;
    }
    if (c->registry == NULL && cli_data_path("registry.db", c->registry_buf, sizeof c->registry_buf) == 0) {
        struct stat st;
        if (stat(c->registry_buf, &st) == 0) {
            c->registry = c->registry_buf;
        }
    }
    if (c->session == NULL && (v = getenv("MNAP_SESSION")) != NULL && v[0] != '\0') {
        c->session = v;
    }
    /* Without a home the session file must be named; only the commands
     * that use it say so. */
    if (c->session == NULL && cli_data_path("session", c->session_buf, sizeof c->session_buf) == 0) {
        c->session = c->session_buf;
    }
    return 0;
}

int reg_fail(const mnap_reg *r, mnap_reg_err e, const char *what)
{
    const char *m = r != NULL ? mnap_reg_last_message(r) : "";

    if (e == MNAP_REG_E_DB || e == MNAP_REG_E_CONNECT) {
        cli_error("%s: %s (%s)", what, mnap_reg_strerror(e), m);
    } else {
        cli_error("%s: %s", what, mnap_reg_strerror(e));
    }
    return e == MNAP_REG_E_PARAM ? EX_USAGE : EX_REGISTRY;
}

static int no_registry(void)
{
    cli_error("no registry: give --registry CONN (or MNAP_REGISTRY), or run 'mnap registry init'");
    return EX_REGISTRY;
}

int cli_registry_required(const cli *c)
{
    return c->logged_in ? EX_OK : no_registry();
}

int reg_open(const cli *c, bool migrate, mnap_reg **out)
{
    char why[600];
    mnap_reg_err e;
    const char *cost = getenv("MNAP_REG_KDF_COST");

    *out = NULL;
    if (c->registry == NULL) {
        return no_registry();
    }
    e = mnap_reg_open(out, c->registry, migrate ? MNAP_REG_OPEN_MIGRATE : 0, why, sizeof why);
    if (e != MNAP_REG_OK) {
        if (e == MNAP_REG_E_SCHEMA_OLD || e == MNAP_REG_E_SCHEMA_NEW) {
            cli_error("registry: %s", mnap_reg_strerror(e));
        } else {
            cli_error("registry: %s (%s)", mnap_reg_strerror(e), why);
        }
        return EX_REGISTRY;
    }
    /* Test hook: a cheaper scrypt for new password hashes (10..20). */
    if (cost != NULL && mnap_reg_set_kdf_cost(*out, (unsigned)atoi(cost)) != MNAP_REG_OK) {
        cli_error("MNAP_REG_KDF_COST: 10 to 20");
        mnap_reg_close(*out);
        *out = NULL;
        return EX_USAGE;
    }
    return EX_OK;
}

/* --- session file: "mnap-session 1\n<64 hex digits>\n", mode 0600 ----------- */
int reg_session_write(const cli *c, const uint8_t token[MNAP_REG_TOKEN_LEN])
{
    char text[16 + 2 * MNAP_REG_TOKEN_LEN + 2];
    int rc;

    if (c->session == NULL) {
        cli_error("no HOME or XDG_DATA_HOME: give --session PATH");
        return EX_USAGE;
    }
    memcpy(text, "mnap-session 1\n", 15);
    mt_hex_encode(token, MNAP_REG_TOKEN_LEN, text + 15, MT_HEX_UPPER);
    text[15 + 2 * MNAP_REG_TOKEN_LEN] = '\n';
    if (cli_mkdirs_for(c->session) != 0) {
        cli_error("session file %s: %s", c->session, strerror(errno));
        cm_wipe(text, sizeof text);
        return EX_LOCAL;
    }
    rc = cli_write_atomic(c->session, (const uint8_t *)text, 16 + 2 * MNAP_REG_TOKEN_LEN, 0600);
    cm_wipe(text, sizeof text);
    if (rc != 0) {
        cli_error("session file %s: %s", c->session, strerror(errno));
        return EX_LOCAL;
    }
    return EX_OK;
}

int reg_session_read(const cli *c, uint8_t token[MNAP_REG_TOKEN_LEN])
{
    char text[128];
    ssize_t n;
    size_t len = 0;
    int fd = c->session != NULL ? open(c->session, O_RDONLY | O_CLOEXEC) : -1;
    int rc = -1;

    if (fd < 0) {
        return -1;
    }
    n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n == 16 + 2 * MNAP_REG_TOKEN_LEN && memcmp(text, "mnap-session 1\n", 15) == 0 &&
        text[n - 1] == '\n') {
        text[n - 1] = '\0';
        rc = cli_hex_parse(text + 15, token, MNAP_REG_TOKEN_LEN, MNAP_REG_TOKEN_LEN, &len);
    }
    cm_wipe(text, sizeof text);
    return rc;
}

/* --- the gate ------------------------------------------------------------------ */
#define NEEDS_NOTHING (-1) /* no session: help, login, registry administration */
#define NEEDS_LOGIN (-2)   /* any logged-in operator */

typedef struct gate_rule {
    const char *cmd, *sub; /* sub NULL: every subcommand */
    int perm;
} gate_rule;

/* What each command needs: first match wins. */
static const gate_rule rules[] = {
    { "login", NULL, NEEDS_NOTHING },
    { "logout", NULL, NEEDS_NOTHING },
    { "registry", NULL, NEEDS_NOTHING },
    { "whoami", NULL, NEEDS_LOGIN },
    { "manifest", NULL, NEEDS_LOGIN },
    { "simcard", NULL, NEEDS_LOGIN },
    { "readers", NULL, MNAP_PERM_CARD_READ },
    { "info", NULL, MNAP_PERM_CARD_READ },
    { "log", NULL, MNAP_PERM_CARD_READ },
    { "diagnose", NULL, MNAP_PERM_CARD_READ },
    { "keys", NULL, MNAP_PERM_KEYS },
    { "area", NULL, MNAP_PERM_CARD_OPS },
    { "ap", "list", MNAP_PERM_CARD_READ },
    { "ap", NULL, MNAP_PERM_CARD_OPS },
    { "pin", NULL, MNAP_PERM_CARD_OPS },
    { "kiosk", NULL, MNAP_PERM_KIOSK_FLOW },
    { "ef", NULL, MNAP_PERM_CARD_OPS },
    { "audit", NULL, MNAP_PERM_AUDIT_READ },
    { "operator", "add", MNAP_PERM_OPERATOR_ADMIN },
    { "operator", "role", MNAP_PERM_OPERATOR_ADMIN },
    { "operator", NULL, MNAP_PERM_OPERATOR_UNLOCK },
    { "resident", "add", MNAP_PERM_RESIDENT_WRITE },
    { "resident", "import", MNAP_PERM_RESIDENT_WRITE },
    { "resident", "service-id", MNAP_PERM_SERVICE_ID },
    { "resident", NULL, MNAP_PERM_RESIDENT_READ },
    { "card", "register", MNAP_PERM_CARD_REGISTER },
    { "card", "stoplist", MNAP_PERM_STOPLIST_READ },
    { "card", "stop", MNAP_PERM_CARD_STOP },
    { "card", "resume", MNAP_PERM_CARD_STOP },
    { "card", "terminate", MNAP_PERM_CARD_STOP },
    { "card", "stoplist-export", MNAP_PERM_CARD_STOP },
    { "card", "stoplist-key", MNAP_PERM_CARD_STOP },
    { "card", NULL, MNAP_PERM_CARD_READ },
};

int reg_gate(cli *c, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    int need = NEEDS_LOGIN;
    uint8_t token[MNAP_REG_TOKEN_LEN];
    mnap_reg_err e;
    int rc;

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(argv[0], rules[i].cmd) == 0 && (rules[i].sub == NULL || strcmp(sub, rules[i].sub) == 0)) {
            need = rules[i].perm;
            break;
        }
    }
    /* Without a registry nothing is gated; help never is. */
    if (c->registry == NULL || need == NEEDS_NOTHING || cli_wants_help(argc, argv)) {
        return EX_OK;
    }
    /* A group without its subcommand only prints the group's help. */
    if (argc < 2) {
        static const char *const groups[] = { "keys", "area", "ap", "pin", "kiosk", "ef", "manifest", "audit",
                                              "simcard", "operator", "resident", "card" };
        for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
            if (strcmp(argv[0], groups[i]) == 0) {
                return EX_OK;
            }
        }
    }
    rc = reg_open(c, false, &c->reg);
    if (rc != EX_OK) {
        return rc;
    }
    if (reg_session_read(c, token) != 0) {
        cli_error("%s: not logged in (run 'mnap login OPERATOR')", argv[0]);
        return EX_REGISTRY;
    }
    e = mnap_reg_session_resume(c->reg, token, &c->actor);
    cm_wipe(token, sizeof token);
    if (e != MNAP_REG_OK) {
        return reg_fail(c->reg, e, argv[0]);
    }
    c->logged_in = true;
    c->operator_id = c->actor.operator_id;
    if (need >= 0 && !mnap_reg_allowed(c->actor.role, (mnap_reg_perm)need)) {
        cli_error("%s%s%s: not allowed for %s (role %s; needs %s)", argv[0], argc > 1 ? " " : "",
                  argc > 1 ? argv[1] : "", c->actor.operator_id, mnap_reg_role_name(c->actor.role),
                  mnap_reg_perm_name((mnap_reg_perm)need));
        return EX_REGISTRY;
    }
    return EX_OK;
}

void reg_end(cli *c)
{
    if (c->reg != NULL) {
        mnap_reg_close(c->reg);
        c->reg = NULL;
    }
    c->logged_in = false;
}

/* --- AP changes with their record ------------------------------------------------ */
static const char *fault(void)
{
    const char *f = getenv("MNAP_REG_FAULT");
    return f != NULL ? f : "";
}

int regap_repair(cli *c, am_frame *f)
{
    mnap_reg_ap pend[8];
    size_t n = 0;
    mnap_ap_entry list[32];
    size_t count = 0;
    mnap_reg_err e;
    mnap_err me;

    if (c->reg == NULL) {
        return EX_OK;
    }
    e = mnap_reg_ap_pending(c->reg, &c->actor, f->op.serial, pend, 8, &n);
    if (e == MNAP_REG_E_NOT_FOUND || (e == MNAP_REG_OK && n == 0)) {
        return EX_OK;
    }
    if (e != MNAP_REG_OK) {
        return op_fail_msg(&f->op, reg_fail(c->reg, e, "registry"), "registry");
    }
    /* The card is held by this command: what it lists is the truth. */
    me = mnap_area_list_aps(f->conn.ctx, list, sizeof list / sizeof list[0], &count);
    if (me != MNAP_OK) {
        return op_fail(&f->op, f->conn.ctx, me, "GET STATUS (registry repair)");
    }
    for (size_t i = 0; i < n; i++) {
        bool on_card = false;
        mnap_reg_ap_status now = MNAP_AP_FAILED;
        for (size_t k = 0; k < count && k < sizeof list / sizeof list[0]; k++) {
            char hex[2 * MNAP_AID_MAX + 1];
            mt_hex_encode(list[k].aid, list[k].aid_len, hex, MT_HEX_UPPER);
            on_card = on_card || strcmp(hex, pend[i].aid) == 0;
        }
        e = mnap_reg_ap_resolve(c->reg, &c->actor, f->op.serial, pend[i].aid, on_card, &now);
        if (e != MNAP_REG_OK) {
            return op_fail_msg(&f->op, reg_fail(c->reg, e, "registry repair"), "registry repair");
        }
        cli_error("registry repaired: the %s of AP %s on card %s was interrupted; the card %s it: now %s",
                  pend[i].status == MNAP_AP_LOADING ? "load" : "delete", pend[i].aid, f->op.serial,
                  on_card ? "has" : "does not have", mnap_reg_ap_status_name(now));
    }
    return EX_OK;
}

static int card_refusal(cli *c, am_frame *f, mnap_reg_err e, const char *command)
{
    mnap_reg_card card;

    if (e == MNAP_REG_E_STATE && mnap_reg_card_get(c->reg, &c->actor, f->op.serial, &card) == MNAP_REG_OK) {
        cli_error("%s: card %s is %s: APs are loaded, deleted and PINs unblocked only on ACTIVE cards", command,
                  f->op.serial, mnap_reg_card_state_name(card.state));
        return op_fail_msg(&f->op, EX_REGISTRY, "card not ACTIVE");
    }
    if (e == MNAP_REG_E_NOT_FOUND) {
        cli_error("%s: card %s is not registered (mnap card register %s --resident NUMBER)", command,
                  f->op.serial, f->op.serial);
        return op_fail_msg(&f->op, EX_REGISTRY, "card not registered");
    }
    return op_fail_msg(&f->op, reg_fail(c->reg, e, command), "registry");
}

int regap_begin(cli *c, am_frame *f, mnap_reg_ap_op op, const char *aid, const char *service)
{
    mnap_reg_err e;
    int rc;

    if (c->reg == NULL) {
        return EX_OK;
    }
    if (f->op.serial[0] == '\0') {
        cli_error("%s: the card gave no serial: it cannot be matched with the registry", f->op.command);
        return op_fail_msg(&f->op, EX_CARD, "no serial");
    }
    rc = regap_repair(c, f);
    if (rc != EX_OK) {
        return rc;
    }
    if (strcmp(fault(), "begin") == 0) {
        cli_error("%s: registry: the intent was not written (MNAP_REG_FAULT=begin); the card is not touched",
                  f->op.command);
        return op_fail_msg(&f->op, EX_REGISTRY, "registry intent not written");
    }
    e = mnap_reg_ap_begin(c->reg, &c->actor, f->op.serial, op, aid, service);
    if (e == MNAP_REG_E_EXISTS) {
        cli_error("%s: the registry already records AP %s as loaded on card %s", f->op.command, aid, f->op.serial);
        return op_fail_msg(&f->op, EX_REGISTRY, "already recorded");
    }
    if (e != MNAP_REG_OK) {
        return card_refusal(c, f, e, f->op.command);
    }
    if (strcmp(fault(), "after-begin") == 0) {
        _exit(EX_LOCAL); /* a crash between the intent and the card */
    }
    return EX_OK;
}

int regap_end(cli *c, am_frame *f, const char *aid, int card_rc)
{
    mnap_reg_err e;

    if (c->reg == NULL) {
        return card_rc;
    }
    if (card_rc != EX_OK && card_rc != EX_CARD) {
        /* The card's outcome is not known (removed, mute): the intent stays
         * for the next command on this card, which reads the card. */
        cli_error("registry: the outcome on card %s is unknown; the next command on this card settles the record",
                  f->op.serial);
        return card_rc;
    }
    if (strcmp(fault(), "after-card") == 0) {
        _exit(EX_LOCAL); /* a crash between the card and the record */
    }
    if (strcmp(fault(), "finish") == 0) {
        e = MNAP_REG_E_DB;
    } else {
        e = mnap_reg_ap_finish(c->reg, &c->actor, f->op.serial, aid, card_rc == EX_OK);
    }
    if (e != MNAP_REG_OK) {
        cli_error("registry: %s; the card was %s; the next command on card %s settles the record",
                  mnap_reg_strerror(e), card_rc == EX_OK ? "changed" : "not changed", f->op.serial);
        return card_rc != EX_OK ? card_rc : op_fail_msg(&f->op, EX_REGISTRY, "registry record not settled");
    }
    return card_rc;
}

int regap_absent(cli *c, am_frame *f, const char *aid, int card_rc)
{
    mnap_reg_err e;

    if (c->reg == NULL) {
        return card_rc;
    }
    e = mnap_reg_ap_resolve(c->reg, &c->actor, f->op.serial, aid, false, NULL);
    if (e != MNAP_REG_OK) {
        (void)reg_fail(c->reg, e, "registry");
        return card_rc != EX_OK ? card_rc : EX_REGISTRY;
    }
    return card_rc;
}

int regap_require_active(cli *c, am_frame *f)
{
    mnap_reg_err e;

    if (c->reg == NULL) {
        return EX_OK;
    }
    e = mnap_reg_card_require_active(c->reg, &c->actor, f->op.serial);
    return e == MNAP_REG_OK ? EX_OK : card_refusal(c, f, e, f->op.command);
}

int reg_audit_note(const cli *c, const char *command, const char *serial, mnap_reg_err e, const char *what)
{
    char result[240];

    if (!c->logged_in || c->reg == NULL) {
        return EX_OK;
    }
    (void)snprintf(result, sizeof result, "%s: %s", e == MNAP_REG_OK ? "ok" : "error",
                   e == MNAP_REG_OK ? what : mnap_reg_strerror(e));
    mnap_reg_err ae = mnap_reg_audit_append(c->reg, c->actor.municipality, c->actor.operator_id, command, serial,
                                            NULL, result, NULL);
    if (ae != MNAP_REG_OK) {
        cli_error("%s: the audit row: %s", command, mnap_reg_strerror(ae));
        return EX_REGISTRY;
    }
    return EX_OK;
}
