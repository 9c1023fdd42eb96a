/* main.c: mnap-console, the operator console (console.h, docs/console.md).
 *
 *   mnap-console CONFIG
 *
 * One thread serves every request (libmicrohttpd's internal polling
 * thread), so the one registry context is used by one thread at a time. */
#include "console.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <locale.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX 16384
#define FIELD_MAX 32
#define UPLOAD_MAX (16u << 20) /* a resident file of about 100,000 rows */
#define IMPORT_SHOWN 500       /* rows of a good import shown on the page */
#define COOKIE "mnap_session"
#define PRE_COOKIE "mnap_pre"

#ifndef MNAP_LOCALEDIR
#define MNAP_LOCALEDIR "/usr/local/share/locale"
#endif

static console_cfg cfg;
static mnap_reg *reg;
static uint8_t csrf_key[32];
static char self_dir[900];
static char municipality_name[200];
static volatile sig_atomic_t stop;

/* --- one request ----------------------------------------------------------------- */
typedef struct req {
    sbuf body;
    bool too_big;
    size_t nf;
    char *fk[FIELD_MAX], *fv[FIELD_MAX];
    bool bad_encoding;
    /* A multipart form (the resident import): its small fields go to
     * fk/fv, the file to a temporary file of state_dir. */
    struct MHD_PostProcessor *pp;
    int up_fd;
    bool up_seen;
    size_t up_len;
    char up_path[1100];
    char up_name[256];
} req;

static void req_free(req *r) {
    for (size_t i = 0; i < r->nf; i++) {
        free(r->fk[i]);
        if (r->fv[i]) OPENSSL_cleanse(r->fv[i], strlen(r->fv[i]));
        free(r->fv[i]);
    }
    if (r->pp) MHD_destroy_post_processor(r->pp);
    if (r->up_fd >= 0) close(r->up_fd);
    if (r->up_path[0]) unlink(r->up_path);
    if (r->body.p) OPENSSL_cleanse(r->body.p, r->body.len);
    sb_free(&r->body);
    free(r);
}
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *urldecode(const char *s, size_t n, bool *bad) {
    char *o = malloc(n + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') *w++ = ' ';
        else if (s[i] == '%') {
            int a = i + 1 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (a < 0 || b < 0) { *bad = true; *w++ = '?'; continue; }
            *w++ = (char)(a * 16 + b);
            i += 2;
        } else *w++ = s[i];
    }
    *w = 0;
    if (strlen(o) != (size_t)(w - o)) *bad = true; /* an encoded NUL */
    return o;
}

static void parse_form(req *r) {
    const char *s = r->body.p ? r->body.p : "";
    while (*s && r->nf < FIELD_MAX) {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        size_t kl = eq ? (size_t)(eq - s) : n;
        r->fk[r->nf] = urldecode(s, kl, &r->bad_encoding);
        r->fv[r->nf] = eq ? urldecode(eq + 1, n - kl - 1, &r->bad_encoding) : strdup("");
        if (!r->fk[r->nf] || !r->fv[r->nf]) break;
        r->nf++;
        s += n;
        if (*s == '&') s++;
    }
}

static const char *field(const req *r, const char *k) {
    for (size_t i = 0; i < r->nf; i++)
        if (strcmp(r->fk[i], k) == 0) return r->fv[i];
    return "";
}

/* --- tokens ------------------------------------------------------------------------ */
static void hex(const uint8_t *in, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *out, size_t n) {
    if (!s || strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i] = (uint8_t)(a * 16 + b);
    }
    return 0;
}

/* The form token of a cookie value: HMAC-SHA-256 under the process key. */
static void csrf_of(const char *cookie, char out[65]) {
    uint8_t mac[32];
    unsigned len = sizeof mac;
    HMAC(EVP_sha256(), csrf_key, sizeof csrf_key, (const uint8_t *)cookie, strlen(cookie), mac, &len);
    hex(mac, 32, out);
}

static bool csrf_ok(const char *cookie, const char *got) {
    char want[65];
    if (!cookie || !got || strlen(got) != 64) return false;
    csrf_of(cookie, want);
    return CRYPTO_memcmp(want, got, 64) == 0;
}

/* The multipart parts of the import form: "file" is written to a private
 * temporary file (at most UPLOAD_MAX bytes), the others are small fields. */
static enum MHD_Result post_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size) {
    req *r = cls;
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (!key) return MHD_YES;
    if (strcmp(key, "file") == 0) {
        if (!r->up_seen) {
            r->up_seen = true;
            snprintf(r->up_name, sizeof r->up_name, "%s", filename ? filename : "");
            snprintf(r->up_path, sizeof r->up_path, "%s/upload-XXXXXX", cfg.state_dir);
            r->up_fd = mkstemp(r->up_path);
            if (r->up_fd < 0) {
                r->up_path[0] = 0;
                r->bad_encoding = true;
                return MHD_YES;
            }
        }
        if (r->up_fd < 0 || size == 0) return MHD_YES;
        if (r->up_len + size > UPLOAD_MAX) {
            r->too_big = true;
            return MHD_YES;
        }
        for (size_t done = 0; done < size;) {
            ssize_t k = write(r->up_fd, data + done, size - done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                r->bad_encoding = true;
                return MHD_YES;
            }
            done += (size_t)k;
        }
        r->up_len += size;
        return MHD_YES;
    }
    /* A small field, maybe in pieces. */
    size_t i = r->nf;
    if (off > 0 && r->nf > 0 && strcmp(r->fk[r->nf - 1], key) == 0) i = r->nf - 1;
    if (i == r->nf) {
        if (r->nf == FIELD_MAX) return MHD_YES;
        r->fk[i] = strdup(key);
        r->fv[i] = strdup("");
        if (!r->fk[i] || !r->fv[i]) {
            free(r->fk[i]);
            free(r->fv[i]);
            return MHD_NO;
        }
        r->nf++;
    }
    size_t have = strlen(r->fv[i]);
    if (have + size > 1024 || memchr(data, 0, size)) {
        r->too_big = true;
        return MHD_YES;
    }
    char *v = realloc(r->fv[i], have + size + 1);
    if (!v) return MHD_NO;
    memcpy(v + have, data, size);
    v[have + size] = 0;
    r->fv[i] = v;
    return MHD_YES;
}

/* --- the audit ----------------------------------------------------------------------------
 * Card work and the resident import are recorded by the mnap CLI in the
 * registry's hash-chained audit (begun and outcome rows); what only the
 * console sees is one row of the same chain (mnap_reg_audit_append): logins
 * and failed ones ("login", as the CLI writes them), logouts, refusals of a
 * role, a form token or a dead session ("console URL"), tuning, operator
 * changes and the export.  Results are in English, as the CLI's are.  0, or
 * -1 when the row could not be written (the caller fails closed where it
 * matters: a login, the export). */
static int console_audit(const char *who, const char *command, const char *result) {
    mnap_reg_err e = mnap_reg_audit_append(reg, cfg.municipality, who && *who ? who : "-", command, NULL, NULL,
                                           result, NULL);
    if (e != MNAP_REG_OK) {
        fprintf(stderr, "mnap-console: audit (registry): %s: %s: %s\n", command, mnap_reg_strerror(e),
                mnap_reg_last_message(reg));
        return -1;
    }
    return 0;
}

/* The registry's errors in the operator's words (mnap_reg_strerror is the
 * log's English). */
static const char *reg_text(mnap_reg_err e) {
    switch (e) {
    case MNAP_REG_OK: return N_("Done.");
    case MNAP_REG_E_PARAM: return N_("A value is not in the right form.");
    case MNAP_REG_E_NOT_FOUND: return N_("No such record.");
    case MNAP_REG_E_EXISTS: return N_("It is already registered.");
    case MNAP_REG_E_DENIED: return N_("Your role does not allow this operation.");
    case MNAP_REG_E_AUTH: return N_("Wrong operator ID or password.");
    case MNAP_REG_E_LOCKED: return N_("The operator is locked.");
    case MNAP_REG_E_SESSION: return N_("The session has ended.");
    case MNAP_REG_E_STATE: return N_("The card's state does not allow it.");
    case MNAP_REG_E_HAS_CARD: return N_("The resident already has a card in use.");
    case MNAP_REG_E_BUSY: return N_("The registry is busy. Try again.");
    default: return N_("The registry failed. Call the system administrator.");
    }
}

static const char *role_text(mnap_reg_role r) {
    switch (r) {
    case MNAP_ROLE_CLERK: return N_("clerk");
    case MNAP_ROLE_SUPERVISOR: return N_("supervisor");
    case MNAP_ROLE_AUDITOR: return N_("auditor");
    case MNAP_ROLE_ADMIN: return N_("admin");
    case MNAP_ROLE_KIOSK: return N_("kiosk");
    default: return "?";
    }
}

/* --- pages ----------------------------------------------------------------------------- */
typedef struct page {
    int status;
    sbuf html;
    char set_cookie[2][256];
    char location[256];
    const char *content_type;   /* NULL: HTML */
    char disposition[128];      /* a download's Content-Disposition */
} page;

static const char CSP[] =
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

/* title: a msgid. */
static void layout_open(page *p, const tuning *t, const mnap_reg_actor *a, const char *title) {
    sb_add(&p->html, "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
                     "<link rel=\"stylesheet\" href=\"/static/console.css\">"
                     "<script src=\"/static/console.js\" defer></script><title>");
    sb_bi(&p->html, title, " / ");
    sb_add(&p->html, "</title></head><body data-bg=\"");
    sb_esc(&p->html, tune_get(t, "bg_color", ""));
    sb_add(&p->html, "\"><header><h1 id=\"title\">");
    sb_esc(&p->html, tune_get(t, "title", ""));
    sb_add(&p->html, "</h1>");
    if (a) {
        sb_add(&p->html, "<p id=\"who\">");
        sb_esc(&p->html, municipality_name);
        sb_add(&p->html, " (");
        sb_esc(&p->html, a->municipality);
        sb_add(&p->html, ") ／ ");
        sb_bi(&p->html, N_("Operator"), " ");
        sb_add(&p->html, ": <b>");
        sb_esc(&p->html, a->operator_id);
        sb_add(&p->html, "</b> (");
        sb_bi(&p->html, role_text(a->role), " / ");
        sb_add(&p->html, ")</p><nav><a href=\"/\">");
        sb_bi(&p->html, N_("Menu"), " / ");
        sb_add(&p->html, "</a></nav>");
    }
    sb_add(&p->html, "</header><main><h2>");
    sb_bi(&p->html, title, " / ");
    sb_add(&p->html, "</h2>");
}

static void layout_close(page *p, const char *cookie) {
    sb_add(&p->html, "</main>");
    if (cookie) {
        char tok[65];
        csrf_of(cookie, tok);
        sb_printf(&p->html,
                  "<footer><form method=\"post\" action=\"/logout\">"
                  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                  "<button id=\"logout\" type=\"submit\">",
                  tok);
        sb_bi(&p->html, N_("Log out"), " / ");
        sb_add(&p->html, "</button></form></footer>");
    }
    sb_add(&p->html, "<div id=\"progress\" hidden>");
    sb_bi(&p->html, N_("Working with the card… do not remove it."), "<br>");
    sb_add(&p->html, "</div></body></html>\n");
}

static void csrf_field(page *p, const char *cookie) {
    char tok[65];
    csrf_of(cookie, tok);
    sb_printf(&p->html, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok);
}

/* The outcome box: msgid in the catalogue's words, the English under it. */
static void outcome(page *p, bool ok, const char *msgid, const char *detail) {
    sb_printf(&p->html, "<div class=\"outcome %s\" id=\"outcome\"><p>", ok ? "ok" : "ng");
    sb_tr(&p->html, msgid);
    sb_add(&p->html, "</p>");
    if (strcmp(_(msgid), msgid) != 0) {
        sb_add(&p->html, "<p lang=\"en\">");
        sb_esc(&p->html, msgid);
        sb_add(&p->html, "</p>");
    }
    if (detail && *detail) {
        sb_add(&p->html, "<pre id=\"detail\">");
        sb_esc(&p->html, detail);
        sb_add(&p->html, "</pre>");
    }
    sb_add(&p->html, "</div>");
}

/* An element with a bilingual text: <tag attrs>text</tag>. */
static void el(page *p, const char *open, const char *msgid, const char *close) {
    sb_add(&p->html, open);
    sb_bi(&p->html, msgid, " / ");
    sb_add(&p->html, close);
}

/* --- the mnap command line ------------------------------------------------------------ */
typedef struct run_out {
    int rc;
    char out[65536];
    char err[16384];
    char *xout;     /* run_mnap_x: stdout goes here instead (xcap bytes) */
    size_t xcap;
} run_out;

static void slurp(int fd, char *buf, size_t cap) {
    size_t n = 0;
    ssize_t k;
    lseek(fd, 0, SEEK_SET);
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)k;
    buf[n] = 0;
    close(fd);
}

/* Runs `mnap ARGS...` with the session of cookie; stdout and stderr kept. */
static void run_mnap_x(const uint8_t token[MNAP_REG_TOKEN_LEN], const char *const *args, run_out *o, char *xout,
                       size_t xcap) {
    char sess[1100], outp[1100], errp[1100], tokhex[65], pass[512] = "";
    memset(o, 0, sizeof *o);
    o->xout = xout;
    o->xcap = xcap;
    o->rc = -1;
    snprintf(sess, sizeof sess, "%s/session-XXXXXX", cfg.state_dir);
    snprintf(outp, sizeof outp, "%s/out-XXXXXX", cfg.state_dir);
    snprintf(errp, sizeof errp, "%s/err-XXXXXX", cfg.state_dir);
    int sfd = mkstemp(sess), ofd = mkstemp(outp), efd = mkstemp(errp);
    if (sfd < 0 || ofd < 0 || efd < 0) {
        snprintf(o->err, sizeof o->err, "state_dir: %s", strerror(errno));
        goto done;
    }
    unlink(outp);
    unlink(errp);
    hex(token, MNAP_REG_TOKEN_LEN, tokhex);
    dprintf(sfd, "mnap-session 1\n%s\n", tokhex);
    OPENSSL_cleanse(tokhex, sizeof tokhex);
    close(sfd);
    sfd = -1;
    if (cfg.passphrase_file[0]) {
        FILE *f = fopen(cfg.passphrase_file, "r");
        if (f) {
            if (!fgets(pass, sizeof pass, f)) pass[0] = 0;
            pass[strcspn(pass, "\n")] = 0;
            fclose(f);
        }
    }
    /* Everything the child needs is made before fork: the console has
     * libmicrohttpd's thread, so the child only calls async-signal-safe
     * functions until exec.  Its environment is fixed, not inherited. */
    static char e_reg[1100], e_sess[1200], e_ks[1100], e_audit[1100], e_pass[600];
    const char *argv[32], *envp[28];
    size_t n = 0, ne = 0;
    argv[n++] = cfg.mnap;
    if (cfg.reader[0]) { argv[n++] = "--reader"; argv[n++] = cfg.reader; }
    for (size_t i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(e_reg, sizeof e_reg, "MNAP_REGISTRY=%s", cfg.registry);
    snprintf(e_sess, sizeof e_sess, "MNAP_SESSION=%s", sess);
    envp[ne++] = e_reg;
    envp[ne++] = e_sess;
    envp[ne++] = "PATH=/usr/bin:/bin";
    /* The CLI's own lines (the detail under the clerk's outcome) in the
     * console's language (the same catalogue); LOCPATH and MNAP_LOCALEDIR
     * pass through for a terminal that keeps them elsewhere. */
    static char e_lang[100], e_locpath[1100];
    snprintf(e_lang, sizeof e_lang, "LANG=%s", cfg.locale);
    envp[ne++] = e_lang;
    const char *locpath = getenv("LOCPATH");
    if (locpath) {
        snprintf(e_locpath, sizeof e_locpath, "LOCPATH=%s", locpath);
        envp[ne++] = e_locpath;
    }
    if (cfg.keystore[0]) {
        snprintf(e_ks, sizeof e_ks, "MNAP_KEYSTORE=%s", cfg.keystore);
        envp[ne++] = e_ks;
    }
    if (cfg.audit[0]) {
        snprintf(e_audit, sizeof e_audit, "MNAP_AUDIT=%s", cfg.audit);
        envp[ne++] = e_audit;
    }
    if (pass[0]) {
        snprintf(e_pass, sizeof e_pass, "MNAP_PASSPHRASE=%s", pass);
        envp[ne++] = e_pass;
    }
    const char *ldir = getenv("MNAP_LOCALEDIR");
    static char e_ldir[1100];
    if (ldir) {
        snprintf(e_ldir, sizeof e_ldir, "MNAP_LOCALEDIR=%s", ldir);
        envp[ne++] = e_ldir;
    }
    const char *home = getenv("HOME");
    static char e_home[1100];
    if (home) {
        snprintf(e_home, sizeof e_home, "HOME=%s", home);
        envp[ne++] = e_home;
    }
    /* pcsc-lite's socket, when the terminal moved it. */
    const char *sock = getenv("PCSCLITE_CSOCK_NAME");
    static char e_sock[1100];
    if (sock) {
        snprintf(e_sock, sizeof e_sock, "PCSCLITE_CSOCK_NAME=%s", sock);
        envp[ne++] = e_sock;
    }
    /* A sanitizer build's options (make check's), when set. */
    static char e_san[3][1100];
    static const char *const san[] = { "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS" };
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(san[i]);
        if (v) {
            snprintf(e_san[i], sizeof e_san[i], "%s=%s", san[i], v);
            envp[ne++] = e_san[i];
        }
    }
    envp[ne] = NULL;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        if (nul >= 0) dup2(nul, 0);
        execve(cfg.mnap, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    if (nul >= 0) close(nul);
    OPENSSL_cleanse(e_pass, sizeof e_pass);
    OPENSSL_cleanse(pass, sizeof pass);
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        o->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
done:
    if (ofd >= 0) {
        if (o->xout) slurp(ofd, o->xout, o->xcap);
        else slurp(ofd, o->out, sizeof o->out);
    }
    if (efd >= 0) slurp(efd, o->err, sizeof o->err);
    if (sfd >= 0) close(sfd);
    unlink(sess);
}

static void run_mnap(const uint8_t token[MNAP_REG_TOKEN_LEN], const char *const *args, run_out *o) {
    run_mnap_x(token, args, o, NULL, 0);
}

/* The outcome in the clerk's words by the CLI's exit code (docs/cli.md). */
static void cli_outcome(page *p, const run_out *o, const char *ok_msgid) {
    static const char *const msg[] = {
        [1] = N_("The card refused the operation."),
        [2] = N_("The input is not valid."),
        [3] = N_("The card cannot be read, or it was removed during the operation. Put it back on the reader "
                 "and try again (an interrupted change is checked against the card and settled by the next "
                 "operation)."),
        [4] = N_("The key store cannot be opened. Call the system administrator."),
        [5] = N_("A local file of the terminal has a problem. Call the system administrator."),
        [6] = N_("The registry did not allow the operation."),
    };
    const char *d = o->err;
    if (strncmp(d, "mnap: ", 6) == 0) d += 6;
    if (o->rc == 0) outcome(p, true, ok_msgid, o->out);
    else if (o->rc >= 1 && o->rc <= 6) outcome(p, false, msg[o->rc], d);
    else outcome(p, false, N_("The operation did not complete."), d);
}

/* --- authorisation ---------------------------------------------------------------------- */
typedef struct ctx {
    struct MHD_Connection *conn;
    const char *url, *method;
    req *r;
    tuning t;
    const char *cookie;      /* the session cookie (hex), when any */
    uint8_t token[MNAP_REG_TOKEN_LEN];
    bool logged_in;
    mnap_reg_actor a;
} ctx;

/* A refused request: the page, and its audit row ("console URL", why). */
static void refuse(ctx *c, page *p, int status, const char *msgid, const char *why) {
    char cmd[200];
    p->status = status;
    layout_open(p, &c->t, c->logged_in ? &c->a : NULL, N_("Refused"));
    outcome(p, false, msgid, NULL);
    layout_close(p, c->logged_in ? c->cookie : NULL);
    snprintf(cmd, sizeof cmd, "console %s %s", c->method, c->url);
    console_audit(c->logged_in ? c->a.operator_id : "-", cmd, why);
}

static bool need_perm(ctx *c, page *p, mnap_reg_perm perm) {
    if (mnap_reg_allowed(c->a.role, perm)) return true;
    char why[160];
    snprintf(why, sizeof why, "refused: role %s; needs %s", mnap_reg_role_name(c->a.role),
             mnap_reg_perm_name(perm));
    refuse(c, p, 403, N_("Your role does not allow this operation."), why);
    return false;
}

/* --- screens -------------------------------------------------------------------------------- */
static void login_page(ctx *c, page *p, const char *msgid) {
    uint8_t pre[16];
    char prehex[33], tok[65];
    /* The login form's token is tied to a pre-session cookie; a cookie the
     * browser already holds is kept (another tab's form stays valid). */
    const char *have = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, PRE_COOKIE);
    if (have && !c->logged_in && unhex(have, pre, sizeof pre) == 0) {
        snprintf(prehex, sizeof prehex, "%s", have);
    } else {
        if (RAND_bytes(pre, sizeof pre) != 1) memset(pre, 0, sizeof pre);
        hex(pre, sizeof pre, prehex);
        snprintf(p->set_cookie[1], sizeof p->set_cookie[1],
                 PRE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", prehex);
    }
    csrf_of(prehex, tok);
    layout_open(p, &c->t, NULL, N_("Log in"));
    if (msgid) outcome(p, false, msgid, NULL);
    sb_printf(&p->html,
              "<form method=\"post\" action=\"/login\" class=\"card\">"
              "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
              tok);
    el(p, "<label>", N_("Operator ID"),
       "<input name=\"id\" id=\"id\" maxlength=\"32\" autocomplete=\"username\" required></label>");
    el(p, "<label>", N_("Password"),
       "<input type=\"password\" name=\"password\" id=\"password\" maxlength=\"128\" "
       "autocomplete=\"current-password\" required></label>");
    el(p, "<button type=\"submit\" id=\"login\">", N_("Log in"), "</button></form>");
    layout_close(p, NULL);
}

static void do_login(ctx *c, page *p) {
    const char *id = field(c->r, "id"), *pw = field(c->r, "password");
    if (!*id || strlen(id) > MNAP_REG_ID_MAX || !text_ok(id, MNAP_REG_ID_MAX, false) ||
        strlen(pw) > 128) {
        login_page(c, p, N_("The operator ID or password is not in the right form."));
        return;
    }
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;
    mnap_reg_err e = mnap_reg_login(reg, cfg.municipality, id, pw, strlen(pw), cfg.ttl, tok, &a);
    char result[120];
    if (e == MNAP_REG_OK) snprintf(result, sizeof result, "ok (console)");
    else snprintf(result, sizeof result, "error: %s (console)", mnap_reg_strerror(e));
    /* Every login and failed login is a row, as the CLI's; a login that
     * cannot be recorded fails closed. */
    int audited = console_audit(e == MNAP_REG_OK ? a.operator_id : id, "login", result);
    if (e == MNAP_REG_E_LOCKED) {
        login_page(c, p, N_("This operator is locked. Ask a supervisor to unlock it."));
        return;
    }
    if (e != MNAP_REG_OK) {
        login_page(c, p, N_("Wrong operator ID or password."));
        return;
    }
    if (audited != 0) {
        mnap_reg_logout(reg, tok);
        OPENSSL_cleanse(tok, sizeof tok);
        login_page(c, p, N_("The login could not be recorded in the audit. Call the system administrator."));
        return;
    }
    char th[65];
    hex(tok, sizeof tok, th);
    OPENSSL_cleanse(tok, sizeof tok);
    snprintf(p->set_cookie[0], sizeof p->set_cookie[0],
             COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", th);
    OPENSSL_cleanse(th, sizeof th);
    p->status = 303;
    snprintf(p->location, sizeof p->location, "/");
}

static void menu_item(page *p, const char *id, const char *href, const char *msgid) {
    sb_printf(&p->html, "<li><a id=\"%s\" href=\"%s\">", id, href);
    sb_bi(&p->html, msgid, "<br><small>");
    sb_add(&p->html, strcmp(_(msgid), msgid) != 0 ? "</small></a></li>" : "</a></li>");
}

static void home(ctx *c, page *p) {
    layout_open(p, &c->t, &c->a, N_("Menu"));
    sb_add(&p->html, "<p id=\"guidance\">");
    sb_esc(&p->html, tune_get(&c->t, "guidance", ""));
    sb_add(&p->html, "</p><ul class=\"menu\">");
    menu_item(p, "m-card", "/card", N_("Card operations"));
    menu_item(p, "m-data", "/data", N_("Data management"));
    menu_item(p, "m-operators", "/operators", N_("Operators"));
    menu_item(p, "m-settings", "/settings", N_("System settings"));
    if (mnap_reg_allowed(c->a.role, MNAP_PERM_SETTINGS)) menu_item(p, "m-tuning", "/tuning", N_("Tuning"));
    sb_add(&p->html, "</ul>");
    layout_close(p, c->cookie);
}

static void manifest_options(page *p) {
    static const char *const names[] = { "library", "certificate", NULL };
    for (size_t i = 0; names[i]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.json", cfg.manifests, names[i]);
        if (access(path, R_OK) == 0)
            sb_printf(&p->html, "<option value=\"%s\">%s</option>", names[i], names[i]);
    }
}

static void card_menu(ctx *c, page *p) {
    layout_open(p, &c->t, &c->a, N_("Card operations"));
    const tuning *t = &c->t;
    el(p, "<section class=\"card\"><h3>", N_("Register resident and card"),
       "</h3><form method=\"post\" action=\"/card/register\" class=\"work\">");
    csrf_field(p, c->cookie);
    el(p, "<label>", N_("Resident number"), "<input name=\"number\" id=\"number\" maxlength=\"15\" required></label>");
    el(p, "<label>", N_("Name (kanji)"), "<input name=\"kanji\" id=\"kanji\" maxlength=\"64\" required></label>");
    el(p, "<label>", N_("Name (kana)"), "<input name=\"kana\" id=\"kana\" maxlength=\"64\" required></label>");
    el(p, "<label>", N_("Birth date"),
       "<input name=\"birth\" id=\"birth\" placeholder=\"YYYY-MM-DD\" maxlength=\"10\" required></label>");
    el(p, "<label>", N_("Address"), "<input name=\"address\" id=\"address\" maxlength=\"128\" required></label>");
    const char *extra = tune_get(t, "extra_fields", "");
    if (*extra) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", extra);
        int i = 0;
        char *save = NULL;
        for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save), i++) {
            sb_printf(&p->html, "<label>");
            sb_esc(&p->html, s);
            sb_printf(&p->html, "<input name=\"extra%d\" id=\"extra%d\" maxlength=\"255\"></label>", i, i);
        }
    }
    sb_add(&p->html, "<button type=\"submit\" id=\"do-register\">");
    sb_esc(&p->html, tune_get(t, "label_register", ""));
    sb_add(&p->html, "</button></form></section>");
    el(p, "<section class=\"card\"><h3>", N_("Load an AP"),
       "</h3><form method=\"post\" action=\"/ap/load\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>AP<select name=\"manifest\" id=\"manifest\">");
    manifest_options(p);
    sb_add(&p->html, "</select></label><button type=\"submit\" id=\"do-load\">");
    sb_esc(&p->html, tune_get(t, "label_load", ""));
    sb_add(&p->html, "</button></form></section>");
    el(p, "<section class=\"card\"><h3>", N_("Delete an AP"),
       "</h3><form method=\"post\" action=\"/ap/delete\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>AID<input name=\"aid\" id=\"aid\" maxlength=\"32\" required></label>");
    el(p, "<button type=\"submit\" id=\"do-delete\">", N_("Delete AP"), "</button></form></section>");
    el(p, "<section class=\"card\"><h3>", N_("The card"), "</h3><form method=\"post\" action=\"/ap/list\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<button type=\"submit\" id=\"do-list\">");
    sb_esc(&p->html, tune_get(t, "label_list", ""));
    sb_add(&p->html, "</button></form><form method=\"post\" action=\"/card/diagnose\" class=\"work\">");
    csrf_field(p, c->cookie);
    el(p, "<button type=\"submit\" id=\"do-diagnose\">", N_("Fault isolation"), "</button></form></section>");
    layout_close(p, c->cookie);
}

static bool card_serial(ctx *c, run_out *o, char serial[17]) {
    const char *args[] = { "info", "--json", NULL };
    run_mnap(c->token, args, o);
    const char *s = strstr(o->out, "\"serial\":\"");
    if (o->rc != 0 || !s) return false;
    s += 10;
    if (strlen(s) < 16) return false;
    memcpy(serial, s, 16);
    serial[16] = 0;
    for (int i = 0; i < 16; i++)
        if (hexval(serial[i]) < 0) return false;
    return true;
}

static void do_register(ctx *c, page *p) {
    const req *r = c->r;
    const char *number = field(r, "number"), *kanji = field(r, "kanji"), *kana = field(r, "kana"),
               *birth = field(r, "birth"), *addr = field(r, "address");
    bool ok = *number && strlen(number) <= 15 && strspn(number, "0123456789") == strlen(number) &&
              text_ok(kanji, 192, false) && *kanji && text_ok(kana, 192, false) && *kana &&
              strlen(birth) == 10 && text_ok(addr, 384, false) && *addr;
    for (size_t i = 0; i < r->nf; i++)
        if (strncmp(r->fk[i], "extra", 5) == 0 && !text_ok(r->fv[i], MNAP_REG_TUNING_VALUE_MAX, false))
            ok = false;
    layout_open(p, &c->t, &c->a, N_("Register resident and card"));
    if (!ok) {
        p->status = 400;
        outcome(p, false,
                N_("The input is not valid (too long, or characters that cannot be used). Nothing was changed."),
                NULL);
        layout_close(p, c->cookie);
        return;
    }
    run_out o;
    char serial[17];
    /* The card first: nothing is written unless it answers. */
    if (!card_serial(c, &o, serial)) {
        cli_outcome(p, &o, N_("Done."));
        layout_close(p, c->cookie);
        return;
    }
    /* A card the registry already knows: refused before anything is written. */
    mnap_reg_card known;
    if (mnap_reg_card_get(reg, &c->a, serial, &known) == MNAP_REG_OK) {
        char d[120];
        snprintf(d, sizeof d, "%s %s: %s (%s %s)", _("card"), serial, mnap_reg_card_state_name(known.state),
                 _("resident"), known.resident);
        outcome(p, false, N_("This card is already registered. Nothing was changed."), d);
        layout_close(p, c->cookie);
        return;
    }
    mnap_reg_resident have;
    if (mnap_reg_resident_get(reg, &c->a, number, &have) != MNAP_REG_OK) {
        const char *args[] = { "resident", "add", number, "--kanji", kanji, "--kana", kana,
                               "--birth", birth, "--address", addr, NULL };
        run_mnap(c->token, args, &o);
        if (o.rc != 0) {
            cli_outcome(p, &o, N_("Done."));
            layout_close(p, c->cookie);
            return;
        }
    }
    /* The extra fields the municipality records (tuning extra_fields). */
    char names[256];
    snprintf(names, sizeof names, "%s", tune_get(&c->t, "extra_fields", ""));
    int i = 0;
    char *save = NULL;
    for (char *f = strtok_r(names, ",", &save); f; f = strtok_r(NULL, ",", &save), i++) {
        char key[16];
        snprintf(key, sizeof key, "extra%d", i);
        mnap_reg_err e = mnap_reg_resident_extra_set(reg, &c->a, number, f, field(r, key));
        if (e != MNAP_REG_OK) {
            outcome(p, false, N_("The extra fields could not be recorded. The card is not registered."),
                    _(reg_text(e)));
            layout_close(p, c->cookie);
            return;
        }
    }
    const char *args[] = { "card", "register", serial, "--resident", number, NULL };
    run_mnap(c->token, args, &o);
    cli_outcome(p, &o, N_("The resident and the card are registered."));
    layout_close(p, c->cookie);
}

static void do_card_cmd(ctx *c, page *p, const char *title, const char *const *args, const char *ok_msgid) {
    run_out o;
    layout_open(p, &c->t, &c->a, title);
    run_mnap(c->token, args, &o);
    cli_outcome(p, &o, ok_msgid);
    layout_close(p, c->cookie);
}

static void do_load(ctx *c, page *p) {
    const char *m = field(c->r, "manifest");
    if (strcmp(m, "library") != 0 && strcmp(m, "certificate") != 0) {
        refuse(c, p, 400, N_("That AP cannot be chosen. Nothing was changed."), "refused: bad manifest");
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", cfg.manifests, m);
    const char *args[] = { "ap", "load", path, NULL };
    do_card_cmd(c, p, N_("Load an AP"), args, N_("The AP is loaded."));
}

static void do_delete(ctx *c, page *p) {
    const char *aid = field(c->r, "aid");
    size_t n = strlen(aid);
    if (n < 10 || n > 32 || n % 2 || strspn(aid, "0123456789abcdefABCDEF") != n) {
        refuse(c, p, 400, N_("An AID is 10 to 32 hex digits. Nothing was changed."), "refused: bad AID");
        return;
    }
    const char *args[] = { "ap", "delete", aid, NULL };
    do_card_cmd(c, p, N_("Delete an AP"), args, N_("The AP is deleted."));
}

static void do_list(ctx *c, page *p) {
    const char *args[] = { "ap", "list", NULL };
    run_out o;
    layout_open(p, &c->t, &c->a, N_("APs on the card"));
    run_mnap(c->token, args, &o);
    if (o.rc == 0) {
        el(p, "<div class=\"outcome ok\" id=\"outcome\"><p>", N_("The APs on the card:"), "</p><pre id=\"aplist\">");
        if (o.out[0]) sb_esc(&p->html, o.out);
        else sb_bi(&p->html, N_("(none)"), " / ");
        sb_add(&p->html, "</pre></div>");
    } else cli_outcome(p, &o, N_("Done."));
    layout_close(p, c->cookie);
}
/* --- data management: find, import, export ----------------------------------------------------- */
static void resident_table_head(page *p, const char *id) {
    sb_printf(&p->html, "<table id=\"%s\"><tr>", id);
    el(p, "<th>", N_("Line"), "</th>");
    el(p, "<th>", N_("Resident number"), "</th>");
    el(p, "<th>", N_("Name (kanji)"), "</th>");
    el(p, "<th>", N_("Name (kana)"), "</th>");
    el(p, "<th>", N_("Birth date"), "</th>");
    el(p, "<th>", N_("Address"), "</th></tr>");
}

static void resident_row(page *p, const char *line, const char *number, const char *kanji, const char *kana,
                         const char *birth, const char *addr) {
    const char *cells[] = { line, number, kanji, kana, birth, addr };
    sb_add(&p->html, "<tr>");
    for (size_t i = 0; i < 6; i++) {
        sb_add(&p->html, "<td>");
        sb_esc(&p->html, cells[i]);
        sb_add(&p->html, "</td>");
    }
    sb_add(&p->html, "</tr>");
}

static void data_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, N_("Data management"));
    if (pre) sb_add(&p->html, pre);
    el(p, "<section class=\"card\"><h3>", N_("Find a resident"), "</h3><form method=\"get\" action=\"/data\">");
    el(p, "<label>", N_("Name"), "<input name=\"q\" maxlength=\"64\"></label>");
    el(p, "<button type=\"submit\">", N_("Find"), "</button></form>");
    const char *q = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "q");
    if (q && *q) {
        if (!text_ok(q, 192, false)) {
            outcome(p, false, N_("The search text is not valid."), NULL);
        } else {
            mnap_reg_resident res[20];
            size_t n = 0;
            mnap_reg_err e = mnap_reg_resident_find(reg, &c->a, q, res, 20, &n);
            if (e != MNAP_REG_OK) outcome(p, false, N_("Cannot search."), _(reg_text(e)));
            resident_table_head(p, "found");
            for (size_t i = 0; i < n; i++)
                resident_row(p, "", res[i].number, res[i].name_kanji, res[i].name_kana, res[i].birth_date,
                             res[i].address);
            sb_add(&p->html, "</table>");
        }
    }
    sb_add(&p->html, "</section>");
    if (mnap_reg_allowed(c->a.role, MNAP_PERM_RESIDENT_WRITE)) {
        el(p, "<section class=\"card\"><h3>", N_("Import residents"),
           "</h3><form method=\"post\" action=\"/data/import\" enctype=\"multipart/form-data\" class=\"work\">");
        csrf_field(p, c->cookie);
        el(p, "<p class=\"note\">",
           N_("A CSV file of the resident system: a header row naming the columns number (住民番号), name_kanji "
              "(氏名), name_kana (氏名カナ), birth_date (生年月日, YYYY-MM-DD) and address (住所). The whole file "
              "is imported, or nothing when any line is wrong."),
           "</p>");
        el(p, "<label>", N_("CSV file"),
           "<input type=\"file\" name=\"file\" id=\"import-file\" accept=\".csv,text/csv\" required></label>");
        el(p, "<label>", N_("Character encoding"), "<select name=\"encoding\" id=\"import-encoding\">");
        el(p, "<option value=\"auto\">", N_("automatic"), "</option>");
        sb_add(&p->html, "<option value=\"utf-8\">UTF-8</option><option value=\"shift_jis\">Shift_JIS</option>"
                         "</select></label>");
        el(p, "<button type=\"submit\" id=\"do-import\">", N_("Import"), "</button></form></section>");
    }
    el(p, "<section class=\"card\"><h3>", N_("Export residents"),
       "</h3><form method=\"post\" action=\"/data/export\">");
    csrf_field(p, c->cookie);
    el(p, "<p class=\"note\">", N_("Every resident of the municipality as a CSV file that the import reads."), "</p>");
    el(p, "<button type=\"submit\" id=\"do-export\">", N_("Export (CSV)"), "</button></form></section>");
    layout_close(p, c->cookie);
}

/* The CLI's lines about the file, each without "mnap: resident import: ",
 * the upload's temporary path shown as the clerk's file name, and without
 * the CLI's closing hint about --skip-bad (the console imports all or
 * nothing) or its other lines (an audit checkpoint that is due is the
 * administrator's, not the clerk's). */
static void import_errors(page *p, const char *err, const char *tmp, const char *name) {
    const char *hint = _("resident import: %zu bad row%s: nothing imported (fix %s, or give --skip-bad)");
    size_t hint_n = strcspn(hint, "%");
    bool any = strstr(err, "resident import: ") != NULL;
    sb_add(&p->html, "<ul id=\"import-errors\">");
    for (const char *s = err; *s;) {
        size_t n = strcspn(s, "\n");
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), s);
        s += n + (s[n] == '\n');
        char *l = line;
        if (strncmp(l, "mnap: ", 6) == 0) l += 6;
        if (strncmp(l, hint, hint_n) == 0 || !*l) continue;
        if (strncmp(l, "resident import: ", 17) == 0) l += 17;
        else if (any) continue;
        sb_add(&p->html, "<li>");
        for (char *at; tmp[0] && (at = strstr(l, tmp)) != NULL;) {
            *at = 0;
            sb_esc(&p->html, l);
            sb_esc(&p->html, name);
            l = at + strlen(tmp);
        }
        sb_esc(&p->html, l);
        sb_add(&p->html, "</li>");
    }
    sb_add(&p->html, "</ul>");
}

static void do_import(ctx *c, page *p) {
    req *r = c->r;
    page tmp = { 0 };
    const char *enc = field(r, "encoding");
    if (!*enc) enc = "auto";
    if (!r->up_seen || r->up_fd < 0 || r->up_len == 0) {
        p->status = 400;
        outcome(&tmp, false, N_("Choose a CSV file to import. Nothing was changed."), NULL);
    } else if (strcmp(enc, "auto") != 0 && strcmp(enc, "utf-8") != 0 && strcmp(enc, "shift_jis") != 0) {
        p->status = 400;
        outcome(&tmp, false, N_("The input is not valid. Nothing was changed."), NULL);
    } else {
        close(r->up_fd);
        r->up_fd = -1;
        /* The CLI's import: the same checks, one transaction, its audit rows. */
        const char *args[] = { "--json", "resident", "import", r->up_path, "--encoding", enc, NULL };
        /* The JSON of every row added (about the file's size again). */
        size_t xcap = 2 * (size_t)UPLOAD_MAX + (1u << 20);
        run_out *o = malloc(sizeof *o);
        char *xout = malloc(xcap);
        if (!o || !xout) {
            free(o);
            free(xout);
            p->status = 500;
            outcome(&tmp, false, N_("The operation did not complete."), NULL);
        } else {
            run_mnap_x(c->token, args, o, xout, xcap);
            json_t *j = o->rc == 0 ? json_loads(o->xout, 0, NULL) : NULL;
            json_t *rows = json_object_get(j, "rows");
            if (o->rc == 0) {
                char d[120];
                snprintf(d, sizeof d, "%s: %lld", _("Residents imported"),
                         (long long)json_integer_value(json_object_get(j, "imported")));
                outcome(&tmp, true, N_("The residents are imported."), d);
                resident_table_head(&tmp, "imported");
                for (size_t i = 0; i < json_array_size(rows) && i < IMPORT_SHOWN; i++) {
                    json_t *x = json_array_get(rows, i);
                    char line[24];
                    snprintf(line, sizeof line, "%lld", (long long)json_integer_value(json_object_get(x, "line")));
                    resident_row(&tmp, line, json_string_value(json_object_get(x, "number")),
                                 json_string_value(json_object_get(x, "name_kanji")),
                                 json_string_value(json_object_get(x, "name_kana")),
                                 json_string_value(json_object_get(x, "birth_date")),
                                 json_string_value(json_object_get(x, "address")));
                }
                sb_add(&tmp.html, "</table>");
                if (json_array_size(rows) > IMPORT_SHOWN) {
                    sb_printf(&tmp.html, "<p id=\"more\">… %zu ", json_array_size(rows) - IMPORT_SHOWN);
                    sb_bi(&tmp.html, N_("more rows were imported (not shown)."), " / ");
                    sb_add(&tmp.html, "</p>");
                }
            } else if (o->rc == 5 || o->rc == 2) {
                /* The file's lines are wrong (EX_LOCAL: bad rows, encoding,
                 * quotes): nothing was imported. */
                p->status = 400;
                outcome(&tmp, false,
                        N_("The file has errors, so nothing was imported. Correct the lines below and import "
                           "the whole file again."),
                        NULL);
                import_errors(&tmp, o->err, r->up_path, r->up_name[0] ? r->up_name : "CSV");
                if (strlen(o->err) == sizeof o->err - 1)
                    el(&tmp, "<p id=\"more\">", N_("… and more lines with errors (not shown)."), "</p>");
            } else {
                cli_outcome(&tmp, o, N_("Done."));
            }
            json_decref(j);
            free(o->xout);
            free(o);
        }
    }
    data_page(c, p, tmp.html.p);
    sb_free(&tmp.html);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
 * line break.  A field that starts with = + - @ TAB or CR (what a
 * spreadsheet program takes for a formula: CSV injection, OWASP) or with an
 * apostrophe gets one more apostrophe in front; `mnap resident import`
 * removes it again (an apostrophe followed by one of those), so the file
 * reads back byte for byte. */
static void csv_field(sbuf *b, const char *s, bool last) {
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) sb_add(b, "\"");
    if (*s != '\0' && strchr("=+-@\t\r'", *s)) sb_add(b, "'");
    if (quote) {
        for (; *s; s++) sb_addn(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
        sb_add(b, "\"");
    } else sb_add(b, s);
    sb_add(b, last ? "\r\n" : ",");
}

static int export_row(void *user, const mnap_reg_resident *res) {
    sbuf *b = user;
    csv_field(b, res->number, false);
    csv_field(b, res->name_kanji, false);
    csv_field(b, res->name_kana, false);
    csv_field(b, res->birth_date, false);
    csv_field(b, res->address, true);
    return b->oom ? 1 : 0;
}

static void do_export(ctx *c, page *p) {
    sbuf csv = { 0 };
    sb_add(&csv, "number,name_kanji,name_kana,birth_date,address\r\n");
    mnap_reg_err e = mnap_reg_resident_each(reg, &c->a, export_row, &csv);
    size_t rows = 0;
    for (size_t i = 0; csv.p && i < csv.len; i++) rows += csv.p[i] == '\n';
    char result[80];
    if (e == MNAP_REG_OK) snprintf(result, sizeof result, "ok: %zu residents", rows - 1);
    else snprintf(result, sizeof result, "error: %s", mnap_reg_strerror(e));
    /* The export of personal data is recorded before it leaves; no row,
     * no file. */
    if (e != MNAP_REG_OK || csv.oom || console_audit(c->a.operator_id, "console resident export", result) != 0) {
        if (csv.p) OPENSSL_cleanse(csv.p, csv.len);
        sb_free(&csv);
        page tmp = { 0 };
        p->status = 500;
        outcome(&tmp, false, N_("The residents could not be exported."), _(reg_text(e)));
        data_page(c, p, tmp.html.p);
        sb_free(&tmp.html);
        return;
    }
    p->html = csv;
    p->content_type = "text/csv; charset=utf-8";
    snprintf(p->disposition, sizeof p->disposition, "attachment; filename=\"residents-%s.csv\"",
             c->a.municipality);
}

/* --- operators, settings, tuning ----------------------------------------------------------------- */
static void op_form(page *p, ctx *c, const char *action, const char *title, void (*fields)(page *p),
                    const char *button) {
    sb_add(&p->html, "<section class=\"card\"><h3>");
    sb_bi(&p->html, title, " / ");
    sb_printf(&p->html, "</h3><form method=\"post\" action=\"%s\">", action);
    csrf_field(p, c->cookie);
    fields(p);
    el(p, "<button type=\"submit\">", button, "</button></form></section>");
}

static void f_id(page *p) { sb_add(&p->html, "<label>ID<input name=\"id\" maxlength=\"32\" required></label>"); }
static void f_role(page *p) {
    el(p, "<label>", N_("Role"), "<select name=\"role\">");
    for (int r = 0; r < MNAP_ROLE__COUNT; r++) {
        sb_printf(&p->html, "<option value=\"%s\">", mnap_reg_role_name((mnap_reg_role)r));
        sb_bi(&p->html, role_text((mnap_reg_role)r), " / ");
        sb_add(&p->html, "</option>");
    }
    sb_add(&p->html, "</select></label>");
}
static void f_add(page *p) {
    f_id(p);
    el(p, "<label>", N_("Name"), "<input name=\"name\" maxlength=\"64\" required></label>");
    f_role(p);
    el(p, "<label>", N_("Password"),
       "<input type=\"password\" name=\"password\" maxlength=\"128\" required></label>");
}
static void f_id_role(page *p) {
    f_id(p);
    f_role(p);
}

static void operators_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, N_("Operators"));
    if (pre) sb_add(&p->html, pre);
    if (mnap_reg_allowed(c->a.role, MNAP_PERM_OPERATOR_ADMIN)) {
        op_form(p, c, "/operators/add", N_("Add an operator"), f_add, N_("Add"));
        op_form(p, c, "/operators/role", N_("Change the role"), f_id_role, N_("Change"));
    }
    op_form(p, c, "/operators/lock", N_("Lock"), f_id, N_("Lock"));
    op_form(p, c, "/operators/unlock", N_("Unlock"), f_id, N_("Unlock"));
    layout_close(p, c->cookie);
}

enum op_kind { OP_ADD, OP_ROLE, OP_LOCK, OP_UNLOCK };

static void do_operator(ctx *c, page *p, enum op_kind k) {
    static const char *const what[] = { "console operator add", "console operator role", "console operator lock",
                                        "console operator unlock" };
    const char *id = field(c->r, "id");
    page tmp = { 0 };
    mnap_reg_err e;
    mnap_reg_role role;
    if (!*id || !text_ok(id, MNAP_REG_ID_MAX, false)) e = MNAP_REG_E_PARAM;
    else if (k == OP_ADD) {
        const char *name = field(c->r, "name"), *pw = field(c->r, "password");
        if (!*name || !text_ok(name, 128, false) ||
            mnap_reg_role_parse(field(c->r, "role"), &role) != MNAP_REG_OK || strlen(pw) < 8 ||
            strlen(pw) > 128)
            e = MNAP_REG_E_PARAM;
        else e = mnap_reg_operator_add(reg, &c->a, id, name, role, pw, strlen(pw));
    } else if (k == OP_ROLE) {
        if (mnap_reg_role_parse(field(c->r, "role"), &role) != MNAP_REG_OK) e = MNAP_REG_E_PARAM;
        else e = mnap_reg_operator_set_role(reg, &c->a, id, role);
    } else e = mnap_reg_operator_lock(reg, &c->a, id, k == OP_LOCK);
    char result[160];
    if (e == MNAP_REG_OK) snprintf(result, sizeof result, "ok: %s", id);
    else snprintf(result, sizeof result, "error: %s: %s", id, mnap_reg_strerror(e));
    console_audit(c->a.operator_id, what[k], result);
    if (e == MNAP_REG_OK) outcome(&tmp, true, N_("Done."), id);
    else {
        p->status = e == MNAP_REG_E_PARAM ? 400 : e == MNAP_REG_E_DENIED ? 403 : 200;
        outcome(&tmp, false, N_("It could not be done. Nothing was changed."), _(reg_text(e)));
    }
    operators_page(c, p, tmp.html.p);
    sb_free(&tmp.html);
}

static void settings_page(ctx *c, page *p) {
    layout_open(p, &c->t, &c->a, N_("System settings"));
    el(p, "<section class=\"card\"><h3>", N_("Region keys"),
       "</h3><form method=\"post\" action=\"/settings/region-key\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>KVN<input name=\"kvn\" maxlength=\"2\" value=\"01\" required></label>");
    el(p, "<button type=\"submit\">", N_("Generate region keys"),
       "</button></form><form method=\"post\" action=\"/settings/keys\" class=\"work\">");
    csrf_field(p, c->cookie);
    el(p, "<button type=\"submit\">", N_("List keys"), "</button></form></section>");
    layout_close(p, c->cookie);
}

static const char *const tune_labels[] = {
    N_("Title"), N_("Guidance"), N_("Button: register"), N_("Button: load an AP"), N_("Button: list the APs"),
    N_("Background colour (#RRGGBB)"), N_("Extra resident fields (comma-separated)"),
};

static void tuning_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, N_("Tuning"));
    if (pre) sb_add(&p->html, pre);
    sb_add(&p->html, "<form method=\"post\" action=\"/tuning\" class=\"card\">");
    csrf_field(p, c->cookie);
    for (size_t i = 0; tune_keys[i][0]; i++) {
        sb_add(&p->html, "<label>");
        sb_bi(&p->html, tune_labels[i], " / ");
        sb_printf(&p->html, " <small>(%s)</small><input name=\"%s\" id=\"t-%s\" maxlength=\"200\" value=\"",
                  tune_keys[i][0], tune_keys[i][0], tune_keys[i][0]);
        sb_esc(&p->html, tune_get(&c->t, tune_keys[i][0], ""));
        sb_add(&p->html, "\"></label>");
    }
    el(p, "<button type=\"submit\" id=\"save-tuning\">", N_("Save"), "</button></form>");
    layout_close(p, c->cookie);
}

static bool colour_ok(const char *s) {
    return strlen(s) == 7 && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == 6;
}

/* The whole form is checked, then saved in one transaction with its audit
 * row (mnap_reg_tuning_save): every changed field, or none. */
static void do_tuning(ctx *c, page *p) {
    bool ok = true;
    for (size_t i = 0; tune_keys[i][0]; i++) {
        const char *v = field(c->r, tune_keys[i][0]);
        if (!text_ok(v, 200, false) || (strcmp(tune_keys[i][0], "bg_color") == 0 && *v && !colour_ok(v))) {
            ok = false;
            break;
        }
        if (strcmp(tune_keys[i][0], "extra_fields") == 0) {
            /* Comma-separated names of 1..64 bytes. */
            for (const char *f = v; *v && ok; f += strcspn(f, ",") + (f[strcspn(f, ",")] != 0)) {
                size_t n = strcspn(f, ",");
                if (n == 0 || n > 64) ok = false;
                if (!f[n]) break;
            }
        }
    }
    const char *keys[TUNE_MAX], *vals[TUNE_MAX];
    size_t n = 0;
    char result[400] = "ok:";
    for (size_t i = 0; ok && tune_keys[i][0] && n < TUNE_MAX; i++) {
        const char *v = field(c->r, tune_keys[i][0]);
        /* The default again, or emptied: nothing stored (the default shows). */
        if (strcmp(v, tune_default(i)) == 0) v = "";
        if (strcmp(v, tune_get(&c->t, tune_keys[i][0], "")) != 0 &&
            !(v[0] == 0 && strcmp(tune_get(&c->t, tune_keys[i][0], ""), tune_default(i)) == 0)) {
            keys[n] = tune_keys[i][0];
            vals[n++] = v;
            size_t l = strlen(result);
            snprintf(result + l, sizeof result - l, " %s", tune_keys[i][0]);
        }
    }
    mnap_reg_err e = MNAP_REG_OK;
    if (ok && n > 0) e = mnap_reg_tuning_save(reg, &c->a, n, keys, vals, "console tuning", result);
    page tmp = { 0 };
    if (ok && e == MNAP_REG_OK) {
        tune_load(reg, cfg.municipality, &c->t);
        outcome(&tmp, true, N_("Saved; shown from the next page."), NULL);
    } else {
        p->status = ok ? 500 : 400;
        char why[200];
        snprintf(why, sizeof why, "error: %s", ok ? mnap_reg_strerror(e) : "bad input");
        console_audit(c->a.operator_id, "console tuning", why);
        if (ok)
            outcome(&tmp, false, N_("The registry could not store it. Nothing was changed."), _(reg_text(e)));
        else
            outcome(&tmp, false, N_("The input is not valid (a colour is #RRGGBB). Nothing was changed."), NULL);
    }
    tuning_page(c, p, tmp.html.p);
    sb_free(&tmp.html);
}

/* --- static files ------------------------------------------------------------------------------- */
static const char CSS[] =
    "body{font-family:'Noto Sans CJK JP',sans-serif;margin:0;background:#f4f7fb;color:#111}\n"
    "header{background:#1d3a6e;color:#fff;padding:.5em 1em}header a{color:#fff}\n"
    "h1{font-size:1.3em;margin:.2em 0}main{padding:1em}\n"
    ".menu{list-style:none;display:flex;flex-wrap:wrap;gap:1em;padding:0}\n"
    ".menu a{display:block;padding:1.2em 2em;background:#fff;border:2px solid #1d3a6e;border-radius:8px;"
    "text-decoration:none;color:#1d3a6e;font-size:1.2em}\n"
    ".card{background:#fff;border:1px solid #ccd;border-radius:6px;padding:.8em;margin:.8em 0}\n"
    "label{display:block;margin:.4em 0}input,select{margin-left:.5em;font-size:1em}\n"
    "button{font-size:1em;padding:.4em 1.2em;margin:.4em 0}\n"
    ".outcome{padding:.6em;border-radius:6px;margin:.6em 0}.ok{background:#e3f6e3}.ng{background:#fde4e4}\n"
    "#progress{position:fixed;top:40%;left:20%;right:20%;padding:2em;background:#fffbe0;"
    "border:2px solid #c90;text-align:center}\nfooter{padding:1em}\n";

/* Applies the tuned background colour (the page carries it in a data
 * attribute, so no inline style is needed under the CSP) and shows the
 * progress box while a card form is being worked on. */
static const char JS[] =
    "document.addEventListener('DOMContentLoaded',function(){\n"
    " var bg=document.body.getAttribute('data-bg');\n"
    " if(bg&&/^#[0-9a-fA-F]{6}$/.test(bg))document.body.style.backgroundColor=bg;\n"
    " document.querySelectorAll('form.work').forEach(function(f){f.addEventListener('submit',function(){\n"
    "  document.getElementById('progress').hidden=false;});});\n"
    "});\n";

/* --- dispatch -------------------------------------------------------------------------------------- */
static void route(ctx *c, page *p) {
    bool post = strcmp(c->method, "POST") == 0;
    const char *u = c->url;
    tune_load(reg, cfg.municipality, &c->t);
    p->status = 200;

    /* Session (first, so that a refusal's audit row names the operator). */
    bool stale = false;
    c->cookie = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, COOKIE);
    if (c->cookie && unhex(c->cookie, c->token, sizeof c->token) == 0) {
        if (mnap_reg_session_resume(reg, c->token, &c->a) == MNAP_REG_OK) c->logged_in = true;
        else stale = true;   /* expired, logged out elsewhere, or the operator locked */
    }
    if (!c->logged_in) c->cookie = NULL;

    if (!post && strcmp(c->method, "GET") != 0) {
        refuse(c, p, 405, N_("Method not allowed."), "refused: bad method");
        return;
    }
    if (c->r->too_big || c->r->bad_encoding) {
        refuse(c, p, 400, N_("The input is too long or not encoded correctly. Nothing was changed."),
               "refused: bad input");
        return;
    }

    if (strcmp(u, "/login") == 0) {
        if (!post) {
            const char *m = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "ended");
            login_page(c, p, m ? N_("Your session has ended (it expired or was closed). Log in again.") : NULL);
            return;
        }
        const char *pre = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, PRE_COOKIE);
        if (!csrf_ok(pre, field(c->r, "csrf"))) {
            refuse(c, p, 403, N_("The form could not be verified. Open the screen again."),
                   "refused: CSRF token");
            return;
        }
        do_login(c, p);
        return;
    }
    if (!c->logged_in) {
        if (stale) {
            /* A dead session's cookie is cleared; a POST with it changes
             * nothing and is recorded. */
            snprintf(p->set_cookie[0], sizeof p->set_cookie[0],
                     COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
            if (post) {
                char cmd[200];
                p->status = 401;
                layout_open(p, &c->t, NULL, N_("Refused"));
                outcome(p, false, N_("Your session has ended, so nothing was changed. Log in again."), NULL);
                el(p, "<p><a id=\"relogin\" href=\"/login\">", N_("Log in"), "</a></p>");
                layout_close(p, NULL);
                snprintf(cmd, sizeof cmd, "console POST %s", u);
                console_audit("-", cmd, "refused: session ended");
                return;
            }
        }
        p->status = 303;
        snprintf(p->location, sizeof p->location, stale ? "/login?ended=1" : "/login");
        return;
    }
    if (post && !csrf_ok(c->cookie, field(c->r, "csrf"))) {
        refuse(c, p, 403, N_("The form could not be verified. Open the screen again. Nothing was changed."),
               "refused: CSRF token");
        return;
    }
    if (post && strcmp(u, "/logout") == 0) {
        mnap_reg_logout(reg, c->token);
        console_audit(c->a.operator_id, "logout", "ok (console)");
        snprintf(p->set_cookie[0], sizeof p->set_cookie[0],
                 COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
        c->logged_in = false;
        p->status = 303;
        snprintf(p->location, sizeof p->location, "/login");
        return;
    }
    if (!post && strcmp(u, "/") == 0) { home(c, p); return; }
    if (strcmp(u, "/card") == 0 || strncmp(u, "/card/", 6) == 0 || strncmp(u, "/ap/", 4) == 0) {
        if (!need_perm(c, p, MNAP_PERM_CARD_READ)) return;
        if (!post && strcmp(u, "/card") == 0) { card_menu(c, p); return; }
        if (post && strcmp(u, "/ap/list") == 0) { do_list(c, p); return; }
        if (post && strcmp(u, "/card/diagnose") == 0) {
            const char *args[] = { "diagnose", NULL };
            do_card_cmd(c, p, N_("Fault isolation"), args, N_("The card shows no fault."));
            return;
        }
        if (post && strcmp(u, "/card/register") == 0) {
            if (need_perm(c, p, MNAP_PERM_CARD_REGISTER) && need_perm(c, p, MNAP_PERM_RESIDENT_WRITE))
                do_register(c, p);
            return;
        }
        if (!need_perm(c, p, MNAP_PERM_CARD_OPS)) return;
        if (post && strcmp(u, "/ap/load") == 0) { do_load(c, p); return; }
        if (post && strcmp(u, "/ap/delete") == 0) { do_delete(c, p); return; }
    }
    if (strcmp(u, "/data") == 0 || strncmp(u, "/data/", 6) == 0) {
        if (!need_perm(c, p, MNAP_PERM_RESIDENT_READ)) return;
        if (!post && strcmp(u, "/data") == 0) { data_page(c, p, NULL); return; }
        if (post && strcmp(u, "/data/export") == 0) { do_export(c, p); return; }
        if (post && strcmp(u, "/data/import") == 0) {
            if (need_perm(c, p, MNAP_PERM_RESIDENT_WRITE)) do_import(c, p);
            return;
        }
    }
    if (strcmp(u, "/operators") == 0 || strncmp(u, "/operators/", 11) == 0) {
        /* Supervisors lock and unlock; adding and roles need operator-admin. */
        if (!need_perm(c, p, MNAP_PERM_OPERATOR_UNLOCK)) return;
        if (!post && strcmp(u, "/operators") == 0) { operators_page(c, p, NULL); return; }
        if (post && strcmp(u, "/operators/lock") == 0) { do_operator(c, p, OP_LOCK); return; }
        if (post && strcmp(u, "/operators/unlock") == 0) { do_operator(c, p, OP_UNLOCK); return; }
        if (!need_perm(c, p, MNAP_PERM_OPERATOR_ADMIN)) return;
        if (post && strcmp(u, "/operators/add") == 0) { do_operator(c, p, OP_ADD); return; }
        if (post && strcmp(u, "/operators/role") == 0) { do_operator(c, p, OP_ROLE); return; }
    }
    if (strcmp(u, "/settings") == 0 || strncmp(u, "/settings/", 10) == 0) {
        if (!need_perm(c, p, MNAP_PERM_KEYS)) return;
        if (!post && strcmp(u, "/settings") == 0) { settings_page(c, p); return; }
        if (post && strcmp(u, "/settings/keys") == 0) {
            const char *args[] = { "keys", "list", NULL };
            do_card_cmd(c, p, N_("Keys"), args, N_("The keys:"));
            return;
        }
        if (post && strcmp(u, "/settings/region-key") == 0) {
            const char *kvn = field(c->r, "kvn");
            if (strlen(kvn) != 2 || hexval(kvn[0]) < 0 || hexval(kvn[1]) < 0) {
                refuse(c, p, 400, N_("A KVN is two hex digits. Nothing was changed."), "refused: bad KVN");
                return;
            }
            const char *args[] = { "keys", "generate", "region", "--kvn", kvn, "--master", NULL };
            do_card_cmd(c, p, N_("Region keys"), args, N_("The region keys are generated."));
            return;
        }
    }
    if (strcmp(u, "/tuning") == 0) {
        if (!need_perm(c, p, MNAP_PERM_SETTINGS)) return;
        if (post) do_tuning(c, p);
        else tuning_page(c, p, NULL);
        return;
    }
    refuse(c, p, 404, N_("No such screen."), "refused: not found");
}

static enum MHD_Result send_static(struct MHD_Connection *conn, const char *body, const char *type) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    (void)cls;
    (void)version;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->up_fd = -1;
        *con_cls = r;
        /* The resident import's file comes as multipart/form-data. */
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (strcmp(method, "POST") == 0 && strcmp(url, "/data/import") == 0 && ct &&
            strncmp(ct, "multipart/form-data", 19) == 0) {
            r->pp = MHD_create_post_processor(conn, 16384, post_part, r);
            if (!r->pp) r->bad_encoding = true;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->pp) {
            if (!r->too_big && !r->bad_encoding && MHD_post_process(r->pp, upload, *upload_size) != MHD_YES)
                r->bad_encoding = true;
        } else if (r->body.len + *upload_size > BODY_MAX) r->too_big = true;
        else sb_addn(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/static/console.css") == 0)
        return send_static(conn, CSS, "text/css; charset=utf-8");
    if (strcmp(method, "GET") == 0 && strcmp(url, "/static/console.js") == 0)
        return send_static(conn, JS, "text/javascript; charset=utf-8");
    if (strcmp(url, "/favicon.ico") == 0) {
        struct MHD_Response *nf = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, nf);
        MHD_destroy_response(nf);
        return ret;
    }
    if (r->pp) {
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    } else if (strcmp(method, "POST") == 0) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) r->bad_encoding = true;
        parse_form(r);
    }
    ctx c = { .conn = conn, .url = url, .method = method, .r = r };
    page p = { 0 };
    route(&c, &p);
    OPENSSL_cleanse(c.token, sizeof c.token);
    /* An uploaded file is gone before the answer leaves. */
    if (r->up_fd >= 0) close(r->up_fd);
    r->up_fd = -1;
    if (r->up_path[0]) unlink(r->up_path);
    r->up_path[0] = 0;
    if (p.html.oom) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        p.html.len, p.html.p ? p.html.p : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (p.html.p) OPENSSL_cleanse(p.html.p, p.html.len);
    sb_free(&p.html);
    MHD_add_response_header(resp, "Content-Type", p.content_type ? p.content_type : "text/html; charset=utf-8");
    if (p.disposition[0]) MHD_add_response_header(resp, "Content-Disposition", p.disposition);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    for (int i = 0; i < 2; i++)
        if (p.set_cookie[i][0]) MHD_add_response_header(resp, "Set-Cookie", p.set_cookie[i]);
    if (p.location[0]) MHD_add_response_header(resp, "Location", p.location);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)p.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The catalogue: MNAP_LOCALEDIR, else <the program's directory>/../locale
 * (the build tree), else the installed one; the language of cfg.locale
 * (the CLI's i18n_init does the same from LANG). */
static void i18n_init(void) {
    static char exe_dir[PATH_MAX + 16];
    const char *dir = getenv("MNAP_LOCALEDIR");
    struct stat st;
    if (!dir || !*dir) {
        dir = MNAP_LOCALEDIR;
        if (self_dir[0]) {
            snprintf(exe_dir, sizeof exe_dir, "%s/../locale", self_dir);
            if (stat(exe_dir, &st) == 0 && S_ISDIR(st.st_mode)) dir = exe_dir;
        }
    }
    if (!setlocale(LC_MESSAGES, cfg.locale) || !setlocale(LC_CTYPE, cfg.locale))
        fprintf(stderr, "mnap-console: the locale %s is not installed: the screens are in English\n", cfg.locale);
    bindtextdomain("mnap", dir);
    bind_textdomain_codeset("mnap", "UTF-8");
    textdomain("mnap");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    if (*con_cls) req_free(*con_cls);
    *con_cls = NULL;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    sbuf b = { 0 };
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    return b.p;
}

static void on_signal(int s) { (void)s; stop = 1; }

static void name_cb(void *user, const char *code, const char *name) {
    (void)user;
    if (strcmp(code, cfg.municipality) == 0)
        snprintf(municipality_name, sizeof municipality_name, "%s", name);
}

int main(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: mnap-console CONFIG   (docs/console.md)\n");
        return 2;
    }
    char why[1200];
    if (cfg_load(&cfg, argv[1], why, sizeof why) != 0) {
        fprintf(stderr, "mnap-console: %s\n", why);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
    if (n > 0) {
        self_dir[n] = 0;
        char *sl = strrchr(self_dir, '/');
        if (sl) *sl = 0;
    }
    if (!cfg.mnap[0]) snprintf(cfg.mnap, sizeof cfg.mnap, "%s/mnap", self_dir);
    i18n_init();
    if (mkdir(cfg.state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mnap-console: state_dir %s: %s\n", cfg.state_dir, strerror(errno));
        return 5;
    }
    chmod(cfg.state_dir, 0700);
    /* What a console that was killed left behind: an uploaded resident
     * file, a session file or the output of a card operation. */
    DIR *sd = opendir(cfg.state_dir);
    for (struct dirent *de; sd && (de = readdir(sd)) != NULL;) {
        static const char *const left[] = { "upload-", "session-", "out-", "err-" };
        for (size_t i = 0; i < 4; i++)
            if (strncmp(de->d_name, left[i], strlen(left[i])) == 0) unlinkat(dirfd(sd), de->d_name, 0);
    }
    if (sd) closedir(sd);
    char *cert = read_file(cfg.cert), *key = read_file(cfg.key);
    if (!cert || !key) {
        fprintf(stderr, "mnap-console: cannot read the certificate %s or key %s\n", cfg.cert, cfg.key);
        return 5;
    }
    mnap_reg_err e = mnap_reg_open(&reg, cfg.registry, 0, why, sizeof why);
    if (e != MNAP_REG_OK) {
        fprintf(stderr, "mnap-console: registry: %s: %s\n", mnap_reg_strerror(e), why);
        return 6;
    }
    mnap_reg_municipalities(reg, name_cb, NULL);
    if (RAND_bytes(csrf_key, sizeof csrf_key) != 1) return 5;
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.listen, &sa.sin_addr) != 1) {
        fprintf(stderr, "mnap-console: listen: not an IPv4 address: %s\n", cfg.listen);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, (uint16_t)cfg.port, NULL,
        NULL, handler, NULL, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mnap-console: cannot serve https://%s:%u/\n", cfg.listen, cfg.port);
        return 5;
    }
    printf("mnap-console: https://%s:%u/ (municipality %s)\n", cfg.listen, cfg.port, cfg.municipality);
    fflush(stdout);
    while (!stop) pause();
    MHD_stop_daemon(d);
    mnap_reg_close(reg);
    OPENSSL_cleanse(key, strlen(key));
    free(key);
    free(cert);
    return 0;
}
