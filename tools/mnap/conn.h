/* conn.h: how a command reaches the card, opens its key store and records
 * what it did.
 *
 *   conn_*   the card connection: PC/SC (--reader NAME|INDEX, default the
 *            first reader with a card) or the in-process card over an image
 *            file (--card-image PATH / MNAP_CARD_IMAGE), and its mnap_ctx;
 *   ks_*     the encrypted key store (passphrase from MNAP_PASSPHRASE or a
 *            prompt) and key set look-ups with one-line errors;
 *   op_*     a card-changing command: the audit file is opened and locked
 *            first (a broken audit file stops the command before the card is
 *            touched), then one line records the outcome, whatever it is.
 *
 * Every function returning int returns an exit code of cli.h (EX_OK...) and
 * has already printed the one-line error. */
#ifndef MNAP_CONN_H
#define MNAP_CONN_H

#include "audit.h"
#include "cli.h"
#include "simcard.h"
#include "mnap/mnap_pcsc.h"

#define CONN_READER_MAX 256

typedef struct cli_conn {
    mnap_pcsc *pcsc;
    simcard *sim;
    mnap_ctx *ctx;
    mnap_transport tr;
    char reader[CONN_READER_MAX];
    mnap_err err;              /* why conn_open failed: MNAP_E_NO_CARD, ... */
} cli_conn;

int conn_open(const cli *c, cli_conn *k);
void conn_close(cli_conn *k);
/* The ATR (when the transport gives it). */
mnap_err conn_atr(cli_conn *k, uint8_t *out, size_t cap, size_t *len);

/* Opens the key store at c->keystore with the passphrase. */
int ks_open(const cli *c, mnap_keystore **out);
/* The same, keeping the passphrase in pass for a later save (wipe it).  With
 * lock not NULL, a read-modify-write: after the passphrase, takes the key
 * store's lock (ks_lock) and keeps it in *lock (mnap_keystore_unlock it
 * after the save); on failure nothing is held. */
int ks_open_pass(const cli *c, mnap_keystore **out, mnap_kslock **lock, char *pass,
                 size_t cap, size_t *pass_len);
/* Takes the key store's lock: after a second of waiting, says so on stderr;
 * after MNAP_LOCK_TIMEOUT seconds a named error (MNAP_E_KS_BUSY). */
int ks_lock(const cli *c, mnap_kslock **lock);
/* Copies key set name; wipe *out after use. */
int ks_get(const mnap_keystore *ks, const char *name, mnap_keyset *out);

typedef struct cli_op {
    const cli *c;
    audit_log audit;
    /* With a registry (logged in) the audit's home is the registry: a row
     * "begun" (reg_seq) at op_begin, an outcome row "[row N] result" at
     * op_end; an interruption is written by the signal handler to the
     * spool file beside the audit file (spool_fd) and settled into the
     * registry by the next command (audit_spool_settle). */
    bool reg;
    uint64_t reg_seq;
    int spool_fd;
    char command[96];
    char aid[2 * MNAP_AID_MAX + 1];
    char serial[17];
    char result[200];
} cli_op;

/* Settles the interruptions the spool beside c->audit holds into the
 * registry (rows "[row N] interrupted (SIGINT|SIGTERM)").  Prints what it
 * does; returns an exit code. */
int audit_spool_settle(const cli *c);
/* Writes a signed checkpoint of the registry audit when the last one is more
 * than 24 h old (force: always), with key set "audit" of the key store.
 * Returns an exit code. */
int audit_checkpoint_if_due(const cli *c, bool force);

/* Opens the audit log for a command ("ap delete"); aid may be NULL. */
int op_begin(cli_op *op, const cli *c, const char *command, const uint8_t *aid, size_t aid_len);
/* Records the card's serial (8 bytes). */
void op_serial(cli_op *op, const uint8_t serial[8]);
/* Prints the error line for e (as cli_fail) and records it as the result. */
int op_fail(cli_op *op, mnap_ctx *ctx, mnap_err e, const char *what);
/* Records a failure that is not a library error (message already printed). */
int op_fail_msg(cli_op *op, int code, const char *result);
/* Appends the audit line (result "ok" when rc is EX_OK and none was set),
 * closes the log.  Returns rc, or EX_LOCAL when the line cannot be written. */
int op_end(cli_op *op, int rc);

/* Opens an AM session at level 33 with key set keyname from the key store
 * (already opened), and reads the serial into op.  Returns an exit code. */
int op_am_session(cli_op *op, cli_conn *k, const mnap_keystore *ks, const char *keyname);

/* The frame of an area-manager command: audit log (when `audited`: the
 * command changes the card), key store, connection, AM session with key set
 * keyname.  am_begin returns an exit code; whatever it returns, call am_end
 * with the command's final code: it records the audit line and frees all. */
typedef struct am_frame {
    cli_op op;
    bool audited;
    bool audit_open;
    cli_conn conn;
    mnap_keystore *ks;
    bool reg_intent;          /* a registry intent is open (reg.h) */
} am_frame;

int am_begin(am_frame *f, const cli *c, bool audited, const char *command, const uint8_t *aid,
             size_t aid_len, const char *keyname);
int am_end(am_frame *f, int rc);

#endif
