/* op.c: the key store as commands use it, and the audit frame around every
 * card-changing command (conn.h). */
#include "conn.h"
#include "i18n.h"
#include "lock.h"
#include "secret.h"
#include "cm_ct.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ks_open(const cli *c, mnap_keystore **out)
{
    char pass[SECRET_MAX];
    size_t pass_len = 0;
    int rc = ks_open_pass(c, out, NULL, pass, sizeof pass, &pass_len);

    cm_wipe(pass, sizeof pass);
    return rc;
}

static void on_ks_wait(void *arg, const char *lock_path, unsigned timeout_s)
{
    (void)lock_path;
    fprintf(stderr, _("mnap: waiting for the key store %s: another mnap command holds it (up to %u s)\n"),
            (const char *)arg, timeout_s);
}

int ks_lock(const cli *c, mnap_kslock **lock)
{
    unsigned t = (unsigned)lock_timeout();
    mnap_err e = mnap_keystore_lock(c->keystore, t, on_ks_wait, (void *)c->keystore, lock);

    if (e == MNAP_E_KS_BUSY) {
        cli_error("the key store %s is held by another mnap command: gave up after %u s "
                  "(MNAP_LOCK_TIMEOUT) [MNAP_E_KS_BUSY]", c->keystore, t);
        return EX_KEYSTORE;
    }
    if (e != MNAP_OK) {
        cli_error("the key store %s: cannot lock %s.lock: %s", c->keystore, c->keystore,
                  cli_strerror(e));
        return EX_LOCAL;
    }
    return EX_OK;
}

int ks_open_pass(const cli *c, mnap_keystore **out, mnap_kslock **lock, char *pass,
                 size_t cap, size_t *pass_len)
{
    mnap_err e;

    *out = NULL;
    if (lock != NULL) {
        *lock = NULL;
    }
    if (secret_passphrase_for(c->keystore, false, pass, cap, pass_len) != 0) {
        cm_wipe(pass, cap);
        return EX_KEYSTORE;
    }
    /* The lock after the prompt: a terminal waiting for its operator's
     * passphrase holds nothing. */
    if (lock != NULL) {
        int rc = ks_lock(c, lock);
        if (rc != EX_OK) {
            cm_wipe(pass, cap);
            return rc;
        }
    }
    e = mnap_keystore_load(out, c->keystore, pass, *pass_len);
    if (e != MNAP_OK) {
        cli_note_err(e);
        if (e == MNAP_E_IO) {
            cli_error("key store %s: cannot be read (create it with 'mnap keys init')", c->keystore);
        } else {
            cli_error("key store %s: %s", c->keystore, cli_strerror(e));
        }
        if (lock != NULL) {
            mnap_keystore_unlock(*lock);
            *lock = NULL;
        }
        return EX_KEYSTORE;
    }
    return EX_OK;
}

int ks_get(const mnap_keystore *ks, const char *name, mnap_keyset *out)
{
    mnap_err e = mnap_keystore_get(ks, name, out);

    if (e != MNAP_OK) {
        cli_error("key set '%s': %s", name, cli_strerror(e));
        return EX_KEYSTORE;
    }
    return EX_OK;
}

/* Ctrl-C (SIGINT) or SIGTERM in the middle of a card-changing command still
 * leaves its audit line, with the outcome "interrupted (SIGINT)".  A signal
 * handler may call only async-signal-safe functions, so the two possible
 * lines are formatted beforehand, each time what they would say changes
 * (op_begin, op_serial), and the handler does write(2), fsync(2), _exit(2).
 * op_end blocks both signals while it writes the real line, so the chain
 * never gets two lines with one sequence number. */
static struct {
    int fd;
    char line[2][AUDIT_LINE_MAX];     /* [0] SIGINT, [1] SIGTERM */
    size_t len[2];
    volatile sig_atomic_t armed;
    bool installed;
    struct sigaction old_int, old_term;
} g_int = { .fd = -1 };

static void on_interrupt(int sig)
{
    static const char msg[] = "mnap: interrupted: the audit log records it\n";
    int k = sig == SIGINT ? 0 : 1;

    if (g_int.armed && g_int.fd >= 0 && g_int.len[k] > 0) {
        (void)!write(g_int.fd, g_int.line[k], g_int.len[k]);
        (void)fsync(g_int.fd);
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    }
    _exit(128 + sig);
}

static void block_interrupts(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    (void)sigprocmask(SIG_BLOCK, &set, old);
}

/* Makes the interrupted lines of op ready and the handler live. */
static void arm_interrupt(const cli_op *op)
{
    static const char *const why[2] = { "interrupted (SIGINT)", "interrupted (SIGTERM)" };
    char hash[AUDIT_HASH_HEX + 1], err[300];
    sigset_t old;
    time_t now = time(NULL);
    int k;

    block_interrupts(&old);
    g_int.fd = op->audit.fd;
    for (k = 0; k < 2; k++) {
        if (audit_format(&op->audit, now, op->c->operator_id, op->command, op->serial, op->aid,
                         why[k], g_int.line[k], &g_int.len[k], hash, err, sizeof err) != 0) {
            g_int.len[k] = 0;
        }
    }
    g_int.armed = 1;
    if (!g_int.installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_interrupt;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGINT);
        sigaddset(&sa.sa_mask, SIGTERM);
        (void)sigaction(SIGINT, &sa, &g_int.old_int);
        (void)sigaction(SIGTERM, &sa, &g_int.old_term);
        g_int.installed = true;
    }
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Called with both signals blocked. */
static void disarm_interrupt(void)
{
    g_int.armed = 0;
    g_int.fd = -1;
    if (g_int.installed) {
        (void)sigaction(SIGINT, &g_int.old_int, NULL);
        (void)sigaction(SIGTERM, &g_int.old_term, NULL);
        g_int.installed = false;
    }
}

int op_begin(cli_op *op, const cli *c, const char *command, const uint8_t *aid, size_t aid_len)
{
    char err[400];

    memset(op, 0, sizeof *op);
    op->c = c;
    op->audit.fd = -1;
    (void)snprintf(op->command, sizeof op->command, "%s", command);
    if (aid != NULL) {
        mt_hex_encode(aid, aid_len, op->aid, MT_HEX_UPPER);
    }
    if (audit_open(&op->audit, c->audit, err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        return EX_LOCAL;
    }
    arm_interrupt(op);
    return EX_OK;
}

void op_serial(cli_op *op, const uint8_t serial[8])
{
    mt_hex_encode(serial, 8, op->serial, MT_HEX_UPPER);
    if (op->audit.fd >= 0) {
        arm_interrupt(op);
    }
}

int op_fail(cli_op *op, mnap_ctx *ctx, mnap_err e, const char *what)
{
    char line[sizeof op->result - 8];

    cli_fail_text(ctx, e, what, line, sizeof line);
    cli_error("%s", line);
    /* The audit log stays in English, whatever the screen's language. */
    cli_fail_text_en(ctx, e, what, line, sizeof line);
    (void)snprintf(op->result, sizeof op->result, "error: %s", line);
    return cli_exit_for(e);
}

int op_fail_msg(cli_op *op, int code, const char *result)
{
    (void)snprintf(op->result, sizeof op->result, "error: %s", result);
    return code;
}

int op_end(cli_op *op, int rc)
{
    char err[300];
    const char *op_id = op->c->operator_id;

    sigset_t old;

    if (op->result[0] == '\0') {
        (void)snprintf(op->result, sizeof op->result, rc == EX_OK ? "ok" : "error: exit %d", rc);
    }
    /* The outcome is known: a signal from here on takes its usual course
     * once the real line is written. */
    block_interrupts(&old);
    disarm_interrupt();
    if (audit_append(&op->audit, time(NULL), op_id, op->command, op->serial, op->aid, op->result,
                     err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        rc = EX_LOCAL;
    }
    audit_close(&op->audit);
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int op_am_session(cli_op *op, cli_conn *k, const mnap_keystore *ks, const char *keyname)
{
    mnap_keyset set;
    mnap_area_info info;
    int rc = ks_get(ks, keyname, &set);
    mnap_err e;

    if (rc != EX_OK) {
        return op_fail_msg(op, rc, "key set not in the key store");
    }
    e = mnap_am_open(k->ctx, &set, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&set);
    if (e != MNAP_OK) {
        /* The card's refusal in the operator's terms: the area's state
         * (GET DATA needs no session) usually says why. */
        mnap_area_info ai;
        bool setup = strcmp(op->command, "area setup") == 0;
        if ((e == MNAP_E_REF_NOT_FOUND || e == MNAP_E_CONDITIONS || e == MNAP_E_AUTH_FAILED ||
             e == MNAP_E_CARD_AUTH) && mnap_area_info_get(k->ctx, &ai) == MNAP_OK) {
            cli_note_err(e);
            if (setup && ai.state != MNAP_AREA_BLANK && ai.state != MNAP_AREA_TERMINATED) {
                cli_error("the area is already set up (%s): area setup is done once per card",
                          ai.state == MNAP_AREA_LOCKED ? "LOCKED" : "ACTIVE");
                return op_fail_msg(op, EX_CARD, "area already set up");
            }
            if (!setup && ai.state == MNAP_AREA_BLANK) {
                cli_error("the area is BLANK: run area setup first");
                return op_fail_msg(op, EX_CARD, "area BLANK");
            }
            if (ai.state == MNAP_AREA_TERMINATED) {
                cli_error("the area is TERMINATED: it can no longer be used");
                return op_fail_msg(op, EX_CARD, "area TERMINATED");
            }
        }
        return op_fail(op, k->ctx, e, "opening the area manager session");
    }
    e = mnap_area_info_get(k->ctx, &info);
    if (e != MNAP_OK) {
        return op_fail(op, k->ctx, e, "reading the area information");
    }
    if (info.have_am_fields) {
        op_serial(op, info.serial);
    }
    return EX_OK;
}

int am_begin(am_frame *f, const cli *c, bool audited, const char *command, const uint8_t *aid,
             size_t aid_len, const char *keyname)
{
    int rc;

    memset(f, 0, sizeof *f);
    f->audited = audited;
    f->op.audit.fd = -1;
    f->op.c = c;
    f->op.result[0] = '\0';
    if (audited) {
        /* First the audit log: a command that cannot be recorded is not run. */
        rc = op_begin(&f->op, c, command, aid, aid_len);
        if (rc != EX_OK) {
            return rc;
        }
        f->audit_open = true;
    }
    rc = ks_open(c, &f->ks);
    if (rc != EX_OK) {
        return op_fail_msg(&f->op, rc, "key store not opened");
    }
    rc = conn_open(c, &f->conn);
    if (rc != EX_OK) {
        return op_fail_msg(&f->op, rc, "no card");
    }
    return op_am_session(&f->op, &f->conn, f->ks, keyname);
}

int am_end(am_frame *f, int rc)
{
    if (f->audit_open) {
        rc = op_end(&f->op, rc);
        f->audit_open = false;
    }
    conn_close(&f->conn);
    if (f->ks != NULL) {
        mnap_keystore_free(f->ks);
        f->ks = NULL;
    }
    return rc;
}
