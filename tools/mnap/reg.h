/* reg.h: the `mnap` command line and the registry (libmnapreg,
 * docs/registry.md).
 *
 * Registry mode is on when --registry CONN / MNAP_REGISTRY is given, or when
 * the default file $XDG_DATA_HOME/mnap/registry.db exists (made by 'mnap
 * registry init').  Then every command but help, login, logout and registry
 * needs a live session (the session file, --session PATH / MNAP_SESSION,
 * default $XDG_DATA_HOME/mnap/session) and a role that the permission table
 * allows for it (reg_gate, before the command touches the card or the
 * registry); the logged-in operator is the one the audit log names.  Without
 * a registry, mnap works as a stateless tool with --operator.
 *
 * ap load / ap delete record the change in the registry in the same step
 * (regap_*): repair of an earlier interrupted change on the card, intent,
 * card change, settlement.  Test hook MNAP_REG_FAULT=STEP (docs/cli.md):
 *   begin        the intent cannot be written (the card is not touched)
 *   after-begin  the process dies after the intent, before the card change
 *   after-card   the process dies after the card change, before settling
 *   finish       the settlement cannot be written */
#ifndef MNAP_TOOL_REG_H
#define MNAP_TOOL_REG_H

#include "cli.h"
#include "conn.h"

/* Fills c->registry and c->session from options, environment, defaults. */
int reg_defaults(cli *c);
/* The permission check of a command line (rest[0] is the command): opens the
 * registry and resumes the session when the command needs one.  Prints the
 * one-line refusal itself.  Returns an exit code. */
int reg_gate(cli *c, int argc, char **argv);
/* Closes what reg_gate opened. */
void reg_end(cli *c);
/* For the commands that work on the registry's records: EX_OK when logged
 * in; else prints that there is no registry (how to name or make one) and
 * returns EX_REGISTRY. */
int cli_registry_required(const cli *c);
/* Opens c->registry into *out (migrate: create or upgrade the schema).
 * Prints the error.  Returns an exit code. */
int reg_open(const cli *c, bool migrate, mnap_reg **out);
/* Prints "mnap: <what>: <reason>" for a registry error; returns EX_REGISTRY
 * (EX_USAGE for MNAP_REG_E_PARAM). */
int reg_fail(const mnap_reg *r, mnap_reg_err e, const char *what);
/* Session file. */
int reg_session_write(const cli *c, const uint8_t token[MNAP_REG_TOKEN_LEN]);
int reg_session_read(const cli *c, uint8_t token[MNAP_REG_TOKEN_LEN]);

/* --- card changes with their record ------------------------------------------ */
/* Settles every unsettled intent on the card in f by the card's AP list
 * (one line on stderr per repair).  Returns an exit code. */
int regap_repair(cli *c, am_frame *f);
/* Repair, then the intent (card must be registered and ACTIVE).  aid: hex.
 * Returns an exit code (the refusal printed and recorded in the audit). */
int regap_begin(cli *c, am_frame *f, mnap_reg_ap_op op, const char *aid, const char *service);
/* After the card change: card_rc is the command's exit code so far (EX_OK:
 * the card did it; EX_CARD: the card refused; anything else: unknown, the
 * intent stays for the next command to settle).  Returns the exit code. */
int regap_end(cli *c, am_frame *f, const char *aid, int card_rc);
/* After the card answered that the AP is not there: the intent is settled
 * as absent.  Returns card_rc, or EX_REGISTRY when the record fails. */
int regap_absent(cli *c, am_frame *f, const char *aid, int card_rc);
/* For pin unblock: the card must be registered and ACTIVE. */
int regap_require_active(cli *c, am_frame *f);

/* One audit row for a registry-only action (operator add/lock/unlock/role,
 * resident add, card register): e is the outcome, what says what was done.
 * Returns an exit code (EX_REGISTRY when the row cannot be written). */
int reg_audit_note(const cli *c, const char *command, const char *serial, mnap_reg_err e, const char *what);

/* --- resident import (cmd_import.c) ------------------------------------------------ */
extern const char u_resident_import[];
int resident_import(cli *c, int argc, char **argv);

/* --- stop measures (cmd_stop.c) --------------------------------------------------- */
extern const char u_card_stop[], u_card_resume[], u_card_terminate[], u_card_export[], u_card_pubkey[];
int card_stop(cli *c, int argc, char **argv);
int card_resume(cli *c, int argc, char **argv);
int card_terminate(cli *c, int argc, char **argv);
int card_stoplist_export(cli *c, int argc, char **argv);
int card_stoplist_key(cli *c, int argc, char **argv);
/* The clock of the stop-list export (time(), or the test hook MNAP_TEST_NOW). */
int64_t stop_now(void);
/* May the card be served?  Offline against list (signed file) with key (hex
 * public key) when either is given; online through the registry when the
 * operator logged in is a kiosk.  Prints the refusal and puts the audit
 * result in why.  Returns an exit code. */
int stop_check(const cli *c, const uint8_t serial[8], const char *list, const char *key, char *why,
               size_t why_cap);

#endif
