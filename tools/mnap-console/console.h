/* console.h: the operator console (issue #22, docs/console.md).
 *
 * A small HTTPS server on libmicrohttpd for the loading terminal's own
 * browser.  Operators log in with their registry ID and password
 * (libmnapreg: lockout, session expiry); the session is the registry's
 * (its token in an HttpOnly cookie); every page is rendered on the server
 * on the server; card work and the resident import run the `mnap` command
 * line of this build in registry mode with the operator's session, so the
 * role gate, the registry record and the audit rows are exactly the CLI's.
 * What only the console sees (logins, refusals, CSRF, tuning, operator
 * changes, the export) is a row of the same hash-chained registry audit
 * (mnap_reg_audit_append).  Every text an operator reads is a message of
 * the "mnap" gettext catalogue (po/ja.po), shown Japanese first with the
 * English original beside it. */
#ifndef MNAP_CONSOLE_H
#define MNAP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libintl.h>

#include "mnap/mnap_registry.h"

#define _(s) gettext(s)
#define N_(s) s

/* The configuration file (KEY = VALUE lines, docs/console.md). */
typedef struct console_cfg {
    char listen[64];        /* 127.0.0.1 */
    unsigned port;          /* 8443 */
    char cert[1024];        /* PEM certificate (chain) */
    char key[1024];         /* PEM private key */
    char registry[1024];    /* registry connection string */
    char municipality[8];   /* the terminal's municipality code */
    char mnap[1024];        /* the mnap command line (default: beside this program) */
    char keystore[1024];
    char passphrase_file[1024];
    char audit[1024];       /* the CLI's audit file (used only without a registry: never here) */
    char reader[256];       /* PC/SC reader name (empty: the first) */
    char manifests[1024];   /* folder of AP manifests offered for loading */
    char state_dir[900];   /* session files of card work (0700) */
    char locale[64];        /* the console's and the CLI's language (ja_JP.UTF-8) */
    unsigned ttl;           /* session lifetime, seconds (1800) */
} console_cfg;

int cfg_load(console_cfg *c, const char *path, char *why, size_t why_cap);

/* A growing string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;
void sb_add(sbuf *b, const char *s);
void sb_addn(sbuf *b, const char *s, size_t n);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HTML-escaped text. */
void sb_esc(sbuf *b, const char *s);
void sb_free(sbuf *b);

/* The catalogue's text of msgid, HTML-escaped; then, when it was
 * translated, sep (HTML) and the English original.  sb_tr: the text only. */
void sb_bi(sbuf *b, const char *msgid, const char *sep);
void sb_tr(sbuf *b, const char *msgid);

/* Tuning: the municipality's texts and colour, kept in the registry
 * (mnap_reg_tuning_*), read for every page, so a change shows on the next
 * page load. */
#define TUNE_MAX 32
typedef struct tuning {
    size_t n;
    char key[TUNE_MAX][48];
    char val[TUNE_MAX][256];
} tuning;
void tune_load(mnap_reg *r, const char *municipality, tuning *t);
/* The tuned text for key, else its default (the catalogue's, with the
 * English beside it), else def. */
const char *tune_get(const tuning *t, const char *key, const char *def);
int tune_set(tuning *t, const char *key, const char *val);
/* The keys an admin may tune, with their defaults as msgids (NULL-terminated). */
extern const char *const tune_keys[][2];
/* The default of tune_keys[i] as shown (translated). */
const char *tune_default(size_t i);

/* UTF-8 validity without control characters (tab and newline allowed when
 * multiline). */
bool text_ok(const char *s, size_t max_bytes, bool multiline);

#endif
