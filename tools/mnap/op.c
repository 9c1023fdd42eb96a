/* op.c: the key store as commands use it, and the audit frame around every
 * card-changing command (conn.h). */
#include "conn.h"
#include "i18n.h"
#include "lock.h"
#include "secret.h"
#include "cm_ct.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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
    if (op->reg) {
        /* The spool line: municipality, the begun row, and what the
         * settling row will say (written by the handler, settled by the
         * next command). */
        g_int.fd = op->spool_fd;
        for (k = 0; k < 2; k++) {
            int n = snprintf(g_int.line[k], sizeof g_int.line[k], "%s\t%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\n",
                             op->c->actor.municipality, op->reg_seq, op->c->operator_id, op->command,
                             op->serial[0] != '\0' ? op->serial : "-", op->aid[0] != '\0' ? op->aid : "-", why[k]);
            g_int.len[k] = n > 0 && (size_t)n < sizeof g_int.line[k] ? (size_t)n : 0;
        }
        (void)now;
        (void)hash;
        (void)err;
    } else {
        g_int.fd = op->audit.fd;
        for (k = 0; k < 2; k++) {
            if (audit_format(&op->audit, now, op->c->operator_id, op->command, op->serial, op->aid,
                             why[k], g_int.line[k], &g_int.len[k], hash, err, sizeof err) != 0) {
                g_int.len[k] = 0;
            }
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
    op->spool_fd = -1;
    if (c->logged_in && c->reg != NULL) {
        /* The registry is the audit's home: earlier interruptions first,
         * then the row that says this command began (a command that cannot
         * be recorded is not run). */
        char spool[4200];
        int rc = audit_spool_settle(c);
        if (rc != EX_OK) {
            return rc;
        }
        (void)snprintf(spool, sizeof spool, "%s.interrupted", c->audit);
        if (cli_mkdirs_for(spool) != 0 ||
            (op->spool_fd = open(spool, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
            cli_error("audit log: cannot open %s: %s", spool, strerror(errno));
            return EX_LOCAL;
        }
        mnap_reg_err e = mnap_reg_audit_append(c->reg, c->actor.municipality, c->operator_id, command, NULL,
                                               op->aid, "begun", &op->reg_seq);
        if (e != MNAP_REG_OK) {
            close(op->spool_fd);
            op->spool_fd = -1;
            cli_error("audit (registry): %s: %s", mnap_reg_strerror(e), mnap_reg_last_message(c->reg));
            return EX_REGISTRY;
        }
        op->reg = true;
        arm_interrupt(op);
        return EX_OK;
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
    if (op->audit.fd >= 0 || op->reg) {
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
    if (op->reg) {
        char result[sizeof op->result + 32];
        (void)snprintf(result, sizeof result, "[row %" PRIu64 "] %s", op->reg_seq, op->result);
        mnap_reg_err e = mnap_reg_audit_append(op->c->reg, op->c->actor.municipality, op_id, op->command,
                                               op->serial, op->aid, result, NULL);
        if (e != MNAP_REG_OK) {
            /* The begun row stays unsettled: audit verify counts it. */
            cli_error("audit (registry): the outcome row: %s", mnap_reg_strerror(e));
            rc = EX_REGISTRY;
        }
        close(op->spool_fd);
        op->spool_fd = -1;
        op->reg = false;
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        (void)audit_checkpoint_if_due(op->c, false);
        return rc;
    }
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

/* --- the registry audit: spool of interruptions, checkpoints ------------------------ */
int audit_spool_settle(const cli *c)
{
    char spool[4200], *buf = NULL;
    struct stat st;
    int fd, rc = EX_OK;
    size_t left = 0;
    bool all = true;

    if (!c->logged_in || c->reg == NULL) {
        return EX_OK;
    }
    (void)snprintf(spool, sizeof spool, "%s.interrupted", c->audit);
    fd = open(spool, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return EX_OK; /* nothing was ever interrupted here */
    }
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
        close(fd);
        return EX_OK;
    }
    if (st.st_size == 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return EX_OK;
    }
    ssize_t got = pread(fd, buf, (size_t)st.st_size, 0);
    if (got != (ssize_t)st.st_size) {
        free(buf);
        close(fd);
        return EX_OK;
    }
    buf[got] = '\0';
    for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        char *f[7];
        size_t n = 0;
        *nl = '\0';
        for (char *p = line; n < 7; n++) {
            f[n] = p;
            char *t = strchr(p, '\t');
            if (t == NULL) {
                n++;
                break;
            }
            *t = '\0';
            p = t + 1;
        }
        if (n != 7) {
            continue; /* a torn line (the handler died mid-write): nothing to settle */
        }
        uint64_t seq = strtoull(f[1], NULL, 10);
        bool settled = true;
        if (strcmp(f[0], c->actor.municipality) != 0) {
            all = false; /* another municipality's terminal role: left for it */
            continue;
        }
        if (mnap_reg_audit_settled(c->reg, f[0], seq, &settled) != MNAP_REG_OK) {
            all = false;
            rc = EX_REGISTRY;
            continue;
        }
        if (!settled) {
            char result[300];
            (void)snprintf(result, sizeof result, "[row %" PRIu64 "] %s", seq, f[6]);
            if (mnap_reg_audit_append(c->reg, f[0], f[2], f[3], strcmp(f[4], "-") == 0 ? NULL : f[4],
                                      strcmp(f[5], "-") == 0 ? NULL : f[5], result, NULL) != MNAP_REG_OK) {
                all = false;
                rc = EX_REGISTRY;
                continue;
            }
            fprintf(stderr, "mnap: audit: row %" PRIu64 " (%s by %s) recorded as %s\n", seq, f[3], f[2], f[6]);
        }
        left++;
    }
    /* Everything settled and nothing appended meanwhile: start afresh. */
    if (all && fstat(fd, &st) == 0 && st.st_size == got) {
        (void)ftruncate(fd, 0);
    }
    (void)left;
    free(buf);
    close(fd);
    if (rc != EX_OK) {
        cli_error("audit (registry): an interrupted command could not be recorded: %s",
                  mnap_reg_last_message(c->reg));
    }
    return rc;
}

typedef struct ks_sign {
    const mnap_keystore *ks;
} ks_sign;

static int sign_with_ks(void *user, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    const ks_sign *k = user;
    return mnap_keystore_ed25519_sign(k->ks, "audit", msg, len, sig) == MNAP_OK ? 0 : -1;
}

int audit_checkpoint_if_due(const cli *c, bool force)
{
    bool due = force;
    mnap_keystore *ks = NULL;
    uint8_t pub[32];
    uint64_t seq = 0;
    int rc;

    if (!c->logged_in || c->reg == NULL) {
        return EX_OK;
    }
    if (!force && (mnap_reg_audit_checkpoint_due(c->reg, c->actor.municipality, &due) != MNAP_REG_OK || !due)) {
        return EX_OK;
    }
    if (!force && getenv("MNAP_PASSPHRASE") == NULL) {
        cli_error("audit: no signed checkpoint in the last 24 h: run 'mnap audit checkpoint'");
        return EX_OK;
    }
    rc = ks_open(c, &ks);
    if (rc == EX_OK) {
        /* Key "audit" of the key source: a file store's key set, or a key
         * pair in a PKCS#11 token that signs there (CKM_EDDSA). */
        mnap_err e = mnap_keystore_ed25519_public(ks, "audit", pub);
        if (e != MNAP_OK) {
            cli_error("audit checkpoint: Ed25519 key 'audit': %s (make it once with 'mnap keys ed25519 audit')",
                      mnap_strerror(e));
            rc = EX_KEYSTORE;
        } else {
            ks_sign k = { ks };
            mnap_reg_err re = mnap_reg_audit_checkpoint_signed(c->reg, c->actor.municipality, pub, sign_with_ks, &k,
                                                               &seq);
            if (re != MNAP_REG_OK) {
                cli_error("audit checkpoint: %s", mnap_reg_strerror(re));
                rc = EX_REGISTRY;
            } else if (force) {
                printf("audit checkpoint of %s: row %" PRIu64 " signed\n", c->actor.municipality, seq);
            }
        }
    }
    mnap_keystore_free(ks);
    if (rc != EX_OK && !force) {
        cli_error("audit: no signed checkpoint in the last 24 h, and none could be written: run "
                  "'mnap audit checkpoint'");
        return EX_OK;
    }
    return rc;
}
