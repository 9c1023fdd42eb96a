/* op.c: the key store as commands use it, and the audit frame around every
 * card-changing command (conn.h). */
#include "conn.h"
#include "secret.h"
#include "cm_ct.h"

#include <string.h>
#include <time.h>

int ks_open(const cli *c, mnap_keystore **out)
{
    char pass[SECRET_MAX];
    size_t pass_len = 0;
    int rc = ks_open_pass(c, out, pass, sizeof pass, &pass_len);

    cm_wipe(pass, sizeof pass);
    return rc;
}

int ks_open_pass(const cli *c, mnap_keystore **out, char *pass, size_t cap, size_t *pass_len)
{
    mnap_err e;

    *out = NULL;
    if (secret_passphrase_for(c->keystore, false, pass, cap, pass_len) != 0) {
        cm_wipe(pass, cap);
        return EX_KEYSTORE;
    }
    e = mnap_keystore_load(out, c->keystore, pass, *pass_len);
    if (e == MNAP_E_IO) {
        cli_error("key store %s: cannot be read (create it with 'mnap keys init')", c->keystore);
        return EX_KEYSTORE;
    }
    if (e != MNAP_OK) {
        cli_error("key store %s: %s", c->keystore, mnap_strerror(e));
        return EX_KEYSTORE;
    }
    return EX_OK;
}

int ks_get(const mnap_keystore *ks, const char *name, mnap_keyset *out)
{
    mnap_err e = mnap_keystore_get(ks, name, out);

    if (e != MNAP_OK) {
        cli_error("key set '%s': %s", name, mnap_strerror(e));
        return EX_KEYSTORE;
    }
    return EX_OK;
}

int op_begin(cli_op *op, const cli *c, const char *command, const uint8_t *aid, size_t aid_len)
{
    char err[400];

    memset(op, 0, sizeof *op);
    op->c = c;
    op->audit.fd = -1;
    (void)snprintf(op->command, sizeof op->command, "%s", command);
    if (aid != NULL) {
        cli_hex(aid, aid_len, op->aid);
    }
    if (audit_open(&op->audit, c->audit, err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        return EX_LOCAL;
    }
    return EX_OK;
}

void op_serial(cli_op *op, const uint8_t serial[8])
{
    cli_hex(serial, 8, op->serial);
}

int op_fail(cli_op *op, mnap_ctx *ctx, mnap_err e, const char *what)
{
    char line[sizeof op->result - 8];

    cli_fail_text(ctx, e, what, line, sizeof line);
    cli_error("%s", line);
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

    if (op->result[0] == '\0') {
        (void)snprintf(op->result, sizeof op->result, rc == EX_OK ? "ok" : "error: exit %d", rc);
    }
    if (audit_append(&op->audit, time(NULL), op_id, op->command, op->serial, op->aid, op->result,
                     err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        audit_close(&op->audit);
        return EX_LOCAL;
    }
    audit_close(&op->audit);
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
