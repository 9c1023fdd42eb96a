/* main.c: mnap-console, the operator console (console.h, docs/console.md).
 *
 *   mnap-console CONFIG
 *
 * One thread serves every request (libmicrohttpd's internal polling
 * thread), so the one registry context is used by one thread at a time. */
#include "console.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#define COOKIE "mnap_session"
#define PRE_COOKIE "mnap_pre"

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
} req;

static void req_free(req *r) {
    for (size_t i = 0; i < r->nf; i++) {
        free(r->fk[i]);
        if (r->fv[i]) OPENSSL_cleanse(r->fv[i], strlen(r->fv[i]));
        free(r->fv[i]);
    }
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

/* --- the console's own events ----------------------------------------------------------
 * Card changes are recorded by the mnap CLI in its hash-chained audit log
 * (and the registry); what only the console sees (logins, logouts, refusals,
 * tuning, operator changes) goes here, one tab-separated line each:
 *   time  operator  what  outcome
 * with tabs and control characters in fields replaced by '_'. */
static void clean(char *dst, size_t cap, const char *s) {
    size_t i = 0;
    for (; s && *s && i + 1 < cap; s++) dst[i++] = ((unsigned char)*s < 0x20 || *s == 0x7F) ? '_' : *s;
    dst[i] = 0;
}

static void audit_line(const char *who, const char *what, const char *outcome) {
    char w[80], x[200], o[200], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    clean(w, sizeof w, who);
    clean(x, sizeof x, what);
    clean(o, sizeof o, outcome);
    int fd = open(cfg.console_audit, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    dprintf(fd, "%s\t%s\t%s\t%s\n", ts, w, x, o);
    fsync(fd);
    close(fd);
}

/* --- pages ----------------------------------------------------------------------------- */
typedef struct page {
    int status;
    sbuf html;
    char set_cookie[2][256];
    char location[256];
} page;

static const char CSP[] =
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

static void layout_open(page *p, const tuning *t, const mnap_reg_actor *a, const char *title) {
    sb_add(&p->html, "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
                     "<link rel=\"stylesheet\" href=\"/static/console.css\">"
                     "<script src=\"/static/console.js\" defer></script><title>");
    sb_esc(&p->html, title);
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
        sb_add(&p->html, ") ／ オペレータ Operator: <b>");
        sb_esc(&p->html, a->operator_id);
        sb_add(&p->html, "</b> (");
        sb_esc(&p->html, mnap_reg_role_name(a->role));
        sb_add(&p->html, ")</p><nav><a href=\"/\">メニュー / Menu</a></nav>");
    }
    sb_add(&p->html, "</header><main><h2>");
    sb_esc(&p->html, title);
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
                  "<button id=\"logout\" type=\"submit\">ログアウト / Log out</button></form></footer>",
                  tok);
    }
    sb_add(&p->html, "<div id=\"progress\" hidden>カードと通信しています… カードを抜かないでください。"
                     "<br>Working with the card… do not remove it.</div></body></html>\n");
}

static void csrf_field(page *p, const char *cookie) {
    char tok[65];
    csrf_of(cookie, tok);
    sb_printf(&p->html, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok);
}

static void outcome(page *p, bool ok, const char *ja, const char *en, const char *detail) {
    sb_printf(&p->html, "<div class=\"outcome %s\" id=\"outcome\"><p>", ok ? "ok" : "ng");
    sb_esc(&p->html, ja);
    sb_add(&p->html, "</p><p lang=\"en\">");
    sb_esc(&p->html, en);
    sb_add(&p->html, "</p>");
    if (detail && *detail) {
        sb_add(&p->html, "<pre id=\"detail\">");
        sb_esc(&p->html, detail);
        sb_add(&p->html, "</pre>");
    }
    sb_add(&p->html, "</div>");
}

/* --- the mnap command line ------------------------------------------------------------ */
typedef struct run_out {
    int rc;
    char out[8192];
    char err[2048];
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
static void run_mnap(const uint8_t token[MNAP_REG_TOKEN_LEN], const char *const *args, run_out *o) {
    char sess[1100], outp[1100], errp[1100], tokhex[65], pass[512] = "";
    memset(o, 0, sizeof *o);
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
    const char *argv[32], *envp[20];
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
     * catalogue's Japanese (issue #21) when the locale exists; LOCPATH
     * passes through for a terminal that keeps its locales elsewhere. */
    static char e_lang[100], e_locpath[1100];
    snprintf(e_lang, sizeof e_lang, "LANG=%s", cfg.cli_locale);
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
    if (ofd >= 0) slurp(ofd, o->out, sizeof o->out);
    if (efd >= 0) slurp(efd, o->err, sizeof o->err);
    if (sfd >= 0) close(sfd);
    unlink(sess);
}

/* The outcome in the clerk's words by the CLI's exit code (docs/cli.md). */
static void cli_outcome(page *p, const run_out *o, const char *ok_ja, const char *ok_en) {
    static const char *const ja[] = {
        [1] = "カードが処理を受け付けませんでした。",
        [2] = "入力内容に誤りがあります。",
        [3] = "カードが読めないか、操作の途中でカードとの通信が途切れました。カードをリーダに置き直して、"
              "もう一度操作してください（途中の変更は次の操作でカードに合わせて確認・修復されます）。",
        [4] = "鍵の保管庫を開けません。システム管理者に連絡してください。",
        [5] = "端末のファイルに問題があります。システム管理者に連絡してください。",
        [6] = "登録簿が処理を認めませんでした。",
    };
    static const char *const en[] = {
        [1] = "The card refused the operation.",
        [2] = "The input is not valid.",
        [3] = "The card cannot be read, or it was removed during the operation. Put it back on the reader "
              "and try again (an interrupted change is checked against the card and settled by the next "
              "operation).",
        [4] = "The key store cannot be opened. Call the system administrator.",
        [5] = "A local file of the terminal has a problem. Call the system administrator.",
        [6] = "The registry did not allow the operation.",
    };
    const char *d = o->err;
    if (strncmp(d, "mnap: ", 6) == 0) d += 6;
    if (o->rc == 0) outcome(p, true, ok_ja, ok_en, o->out);
    else if (o->rc >= 1 && o->rc <= 6) outcome(p, false, ja[o->rc], en[o->rc], d);
    else outcome(p, false, "処理を完了できませんでした。", "The operation did not complete.", d);
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

static void refuse(ctx *c, page *p, int status, const char *ja, const char *en, const char *why) {
    p->status = status;
    layout_open(p, &c->t, c->logged_in ? &c->a : NULL, "処理できません / Refused");
    outcome(p, false, ja, en, NULL);
    layout_close(p, c->logged_in ? c->cookie : NULL);
    audit_line(c->logged_in ? c->a.operator_id : "-", c->url, why);
}

static bool need_perm(ctx *c, page *p, mnap_reg_perm perm) {
    if (mnap_reg_allowed(c->a.role, perm)) return true;
    char why[160];
    snprintf(why, sizeof why, "refused: role %s; needs %s", mnap_reg_role_name(c->a.role),
             mnap_reg_perm_name(perm));
    refuse(c, p, 403, "この操作を行う権限がありません。", "Your role does not allow this operation.",
           why);
    return false;
}

/* --- screens -------------------------------------------------------------------------------- */
static void login_page(ctx *c, page *p, const char *ja, const char *en) {
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
    layout_open(p, &c->t, NULL, "ログイン / Log in");
    if (ja) outcome(p, false, ja, en, NULL);
    sb_printf(&p->html,
              "<form method=\"post\" action=\"/login\" class=\"card\">"
              "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
              "<label>オペレータID / Operator ID<input name=\"id\" id=\"id\" maxlength=\"32\" "
              "autocomplete=\"username\" required></label>"
              "<label>パスワード / Password<input type=\"password\" name=\"password\" id=\"password\" "
              "maxlength=\"128\" autocomplete=\"current-password\" required></label>"
              "<button type=\"submit\" id=\"login\">ログイン / Log in</button></form>",
              tok);
    layout_close(p, NULL);
}

static void do_login(ctx *c, page *p) {
    const char *id = field(c->r, "id"), *pw = field(c->r, "password");
    if (!*id || strlen(id) > MNAP_REG_ID_MAX || !text_ok(id, MNAP_REG_ID_MAX, false) ||
        strlen(pw) > 128) {
        login_page(c, p, "オペレータIDまたはパスワードの形式が正しくありません。",
                   "The operator ID or password is not in the right form.");
        return;
    }
    uint8_t tok[MNAP_REG_TOKEN_LEN];
    mnap_reg_actor a;
    mnap_reg_err e = mnap_reg_login(reg, cfg.municipality, id, pw, strlen(pw), cfg.ttl, tok, &a);
    if (e == MNAP_REG_E_LOCKED) {
        audit_line(id, "login", "refused: locked");
        login_page(c, p, "このオペレータはロックされています。監督者に解除を依頼してください。",
                   "This operator is locked. Ask a supervisor to unlock it.");
        return;
    }
    if (e != MNAP_REG_OK) {
        audit_line(id, "login", mnap_reg_strerror(e));
        login_page(c, p, "オペレータIDまたはパスワードが違います。",
                   "Wrong operator ID or password.");
        return;
    }
    char th[65];
    hex(tok, sizeof tok, th);
    OPENSSL_cleanse(tok, sizeof tok);
    snprintf(p->set_cookie[0], sizeof p->set_cookie[0],
             COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", th);
    OPENSSL_cleanse(th, sizeof th);
    audit_line(a.operator_id, "login", "ok");
    p->status = 303;
    snprintf(p->location, sizeof p->location, "/");
}

static void home(ctx *c, page *p) {
    layout_open(p, &c->t, &c->a, "メニュー / Menu");
    sb_add(&p->html, "<p id=\"guidance\">");
    sb_esc(&p->html, tune_get(&c->t, "guidance", ""));
    sb_add(&p->html, "</p><ul class=\"menu\">"
                     "<li><a id=\"m-card\" href=\"/card\">カード運用<br><small>Card operations</small></a></li>"
                     "<li><a id=\"m-data\" href=\"/data\">データ管理<br><small>Data</small></a></li>"
                     "<li><a id=\"m-operators\" href=\"/operators\">オペレータ管理<br><small>Operators</small></a></li>"
                     "<li><a id=\"m-settings\" href=\"/settings\">システム設定<br><small>System settings</small></a></li>");
    if (mnap_reg_allowed(c->a.role, MNAP_PERM_SETTINGS))
        sb_add(&p->html, "<li><a id=\"m-tuning\" href=\"/tuning\">チューニング<br><small>Tuning</small></a></li>");
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

static void card_menu(ctx *c, page *p, const char *pre_html) {
    layout_open(p, &c->t, &c->a, "カード運用 / Card operations");
    if (pre_html) sb_add(&p->html, pre_html);
    const tuning *t = &c->t;
    sb_add(&p->html, "<section class=\"card\"><h3>住民とカードの登録 / Register resident and card</h3>"
                     "<form method=\"post\" action=\"/card/register\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html,
           "<label>住民番号 / Resident number<input name=\"number\" id=\"number\" maxlength=\"15\" required></label>"
           "<label>氏名 / Name (kanji)<input name=\"kanji\" id=\"kanji\" maxlength=\"64\" required></label>"
           "<label>フリガナ / Name (kana)<input name=\"kana\" id=\"kana\" maxlength=\"64\" required></label>"
           "<label>生年月日 / Birth date<input name=\"birth\" id=\"birth\" placeholder=\"YYYY-MM-DD\" maxlength=\"10\" required></label>"
           "<label>住所 / Address<input name=\"address\" id=\"address\" maxlength=\"128\" required></label>");
    const char *extra = tune_get(t, "extra_fields", "");
    if (*extra) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", extra);
        int i = 0;
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","), i++) {
            sb_printf(&p->html, "<label>");
            sb_esc(&p->html, s);
            sb_printf(&p->html, "<input name=\"extra%d\" id=\"extra%d\" maxlength=\"255\"></label>", i, i);
        }
    }
    sb_add(&p->html, "<button type=\"submit\" id=\"do-register\">");
    sb_esc(&p->html, tune_get(t, "label_register", ""));
    sb_add(&p->html, "</button></form></section>"
                     "<section class=\"card\"><h3>APの搭載 / Load an AP</h3>"
                     "<form method=\"post\" action=\"/ap/load\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>AP<select name=\"manifest\" id=\"manifest\">");
    manifest_options(p);
    sb_add(&p->html, "</select></label><button type=\"submit\" id=\"do-load\">");
    sb_esc(&p->html, tune_get(t, "label_load", ""));
    sb_add(&p->html, "</button></form></section>"
                     "<section class=\"card\"><h3>APの削除 / Delete an AP</h3>"
                     "<form method=\"post\" action=\"/ap/delete\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>AID<input name=\"aid\" id=\"aid\" maxlength=\"32\" required></label>"
                     "<button type=\"submit\" id=\"do-delete\">APを削除 / Delete AP</button></form></section>"
                     "<section class=\"card\"><h3>カードの確認 / The card</h3>"
                     "<form method=\"post\" action=\"/ap/list\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<button type=\"submit\" id=\"do-list\">");
    sb_esc(&p->html, tune_get(t, "label_list", ""));
    sb_add(&p->html, "</button></form><form method=\"post\" action=\"/card/diagnose\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<button type=\"submit\" id=\"do-diagnose\">カード障害切り分け / Fault isolation</button>"
                     "</form></section>");
    layout_close(p, c->cookie);
}

static void result_page(ctx *c, page *p, const char *title) {
    layout_open(p, &c->t, &c->a, title);
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
    result_page(c, p, "住民とカードの登録 / Register resident and card");
    if (!ok) {
        p->status = 400;
        outcome(p, false, "入力内容に誤りがあります（長すぎる、または使えない文字があります）。何も変更していません。",
                "The input is not valid (too long, or characters that cannot be used). Nothing was changed.",
                NULL);
        layout_close(p, c->cookie);
        return;
    }
    run_out o;
    char serial[17];
    /* The card first: nothing is written unless it answers. */
    if (!card_serial(c, &o, serial)) {
        cli_outcome(p, &o, "", "");
        layout_close(p, c->cookie);
        return;
    }
    /* A card the registry already knows: refused before anything is written. */
    mnap_reg_card known;
    if (mnap_reg_card_get(reg, &c->a, serial, &known) == MNAP_REG_OK) {
        char d[120];
        snprintf(d, sizeof d, "card %s: %s (resident %s)", serial, mnap_reg_card_state_name(known.state),
                 known.resident);
        outcome(p, false, "このカードはすでに登録されています。何も変更していません。",
                "This card is already registered. Nothing was changed.", d);
        layout_close(p, c->cookie);
        return;
    }
    mnap_reg_resident have;
    if (mnap_reg_resident_get(reg, &c->a, number, &have) != MNAP_REG_OK) {
        const char *args[] = { "resident", "add", number, "--kanji", kanji, "--kana", kana,
                               "--birth", birth, "--address", addr, NULL };
        run_mnap(c->token, args, &o);
        if (o.rc != 0) {
            cli_outcome(p, &o, "", "");
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
            outcome(p, false, "追加項目を登録できませんでした。カードは登録していません。",
                    "The extra fields could not be recorded. The card is not registered.",
                    mnap_reg_strerror(e));
            layout_close(p, c->cookie);
            return;
        }
    }
    const char *args[] = { "card", "register", serial, "--resident", number, NULL };
    run_mnap(c->token, args, &o);
    cli_outcome(p, &o, "住民とカードを登録しました。", "The resident and the card are registered.");
    layout_close(p, c->cookie);
}

static void do_card_cmd(ctx *c, page *p, const char *title, const char *const *args,
                        const char *ok_ja, const char *ok_en) {
    run_out o;
    result_page(c, p, title);
    run_mnap(c->token, args, &o);
    cli_outcome(p, &o, ok_ja, ok_en);
    layout_close(p, c->cookie);
}

static void do_load(ctx *c, page *p) {
    const char *m = field(c->r, "manifest");
    if (strcmp(m, "library") != 0 && strcmp(m, "certificate") != 0) {
        refuse(c, p, 400, "そのAPは選べません。何も変更していません。",
               "That AP cannot be chosen. Nothing was changed.", "bad manifest");
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", cfg.manifests, m);
    const char *args[] = { "ap", "load", path, NULL };
    do_card_cmd(c, p, "APの搭載 / Load an AP", args, "APを搭載しました。", "The AP is loaded.");
}

static void do_delete(ctx *c, page *p) {
    const char *aid = field(c->r, "aid");
    size_t n = strlen(aid);
    if (n < 10 || n > 32 || n % 2 || strspn(aid, "0123456789abcdefABCDEF") != n) {
        refuse(c, p, 400, "AIDは10〜32桁の16進数で入力してください。何も変更していません。",
               "An AID is 10 to 32 hex digits. Nothing was changed.", "bad AID");
        return;
    }
    const char *args[] = { "ap", "delete", aid, NULL };
    do_card_cmd(c, p, "APの削除 / Delete an AP", args, "APを削除しました。", "The AP is deleted.");
}

static void do_list(ctx *c, page *p) {
    const char *args[] = { "ap", "list", NULL };
    run_out o;
    result_page(c, p, "カードのAP一覧 / APs on the card");
    run_mnap(c->token, args, &o);
    if (o.rc == 0) {
        sb_add(&p->html, "<div class=\"outcome ok\" id=\"outcome\"><p>カードのAPは次のとおりです。</p>"
                         "<p lang=\"en\">The APs on the card:</p><pre id=\"aplist\">");
        sb_esc(&p->html, o.out[0] ? o.out : "(なし / none)\n");
        sb_add(&p->html, "</pre></div>");
    } else cli_outcome(p, &o, "", "");
    layout_close(p, c->cookie);
}

static void data_page(ctx *c, page *p) {
    layout_open(p, &c->t, &c->a, "データ管理 / Data");
    sb_add(&p->html, "<section class=\"card\"><h3>住民の検索 / Find a resident</h3>"
                     "<form method=\"get\" action=\"/data\"><label>氏名・フリガナ / Name"
                     "<input name=\"q\" maxlength=\"64\"></label><button type=\"submit\">検索 / Find</button>"
                     "</form>");
    const char *q = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "q");
    if (q && *q) {
        if (!text_ok(q, 192, false)) {
            outcome(p, false, "検索語に使えない文字があります。", "The search text is not valid.", NULL);
        } else {
            mnap_reg_resident res[20];
            size_t n = 0;
            mnap_reg_err e = mnap_reg_resident_find(reg, &c->a, q, res, 20, &n);
            if (e != MNAP_REG_OK) outcome(p, false, "検索できません。", "Cannot search.", mnap_reg_strerror(e));
            sb_add(&p->html, "<table><tr><th>番号</th><th>氏名</th><th>フリガナ</th><th>生年月日</th></tr>");
            for (size_t i = 0; i < n; i++) {
                sb_add(&p->html, "<tr><td>");
                sb_esc(&p->html, res[i].number);
                sb_add(&p->html, "</td><td>");
                sb_esc(&p->html, res[i].name_kanji);
                sb_add(&p->html, "</td><td>");
                sb_esc(&p->html, res[i].name_kana);
                sb_add(&p->html, "</td><td>");
                sb_esc(&p->html, res[i].birth_date);
                sb_add(&p->html, "</td></tr>");
            }
            sb_add(&p->html, "</table>");
        }
    }
    sb_add(&p->html, "</section>");
    layout_close(p, c->cookie);
}

static void op_form(page *p, ctx *c, const char *action, const char *title, const char *fields,
                    const char *button) {
    sb_printf(&p->html, "<section class=\"card\"><h3>%s</h3><form method=\"post\" action=\"%s\">", title,
              action);
    csrf_field(p, c->cookie);
    sb_add(&p->html, fields);
    sb_printf(&p->html, "<button type=\"submit\">%s</button></form></section>", button);
}

#define ROLE_SELECT                                                                                \
    "<label>役割 / Role<select name=\"role\"><option>clerk</option><option>supervisor</option>" \
    "<option>auditor</option><option>admin</option><option>kiosk</option></select></label>"
#define ID_FIELD "<label>ID<input name=\"id\" maxlength=\"32\" required></label>"

static void operators_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, "オペレータ管理 / Operators");
    if (pre) sb_add(&p->html, pre);
    if (mnap_reg_allowed(c->a.role, MNAP_PERM_OPERATOR_ADMIN)) {
        op_form(p, c, "/operators/add", "オペレータの追加 / Add an operator",
                ID_FIELD "<label>氏名 / Name<input name=\"name\" maxlength=\"64\" required></label>" ROLE_SELECT
                         "<label>パスワード / Password<input type=\"password\" name=\"password\" "
                         "maxlength=\"128\" required></label>",
                "追加 / Add");
        op_form(p, c, "/operators/role", "役割の変更 / Change the role", ID_FIELD ROLE_SELECT,
                "変更 / Change");
    }
    op_form(p, c, "/operators/lock", "ロック / Lock", ID_FIELD, "ロック / Lock");
    op_form(p, c, "/operators/unlock", "ロックの解除 / Unlock", ID_FIELD, "解除 / Unlock");
    layout_close(p, c->cookie);
}

enum op_kind { OP_ADD, OP_ROLE, OP_LOCK, OP_UNLOCK };

static void do_operator(ctx *c, page *p, enum op_kind k) {
    static const char *const what[] = { "operator add", "operator role", "operator lock", "operator unlock" };
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
    audit_line(c->a.operator_id, what[k], e == MNAP_REG_OK ? "ok" : mnap_reg_strerror(e));
    if (e == MNAP_REG_OK) outcome(&tmp, true, "完了しました。", "Done.", id);
    else {
        p->status = e == MNAP_REG_E_PARAM ? 400 : e == MNAP_REG_E_DENIED ? 403 : 200;
        outcome(&tmp, false, "処理できませんでした。何も変更していません。",
                "It could not be done. Nothing was changed.", mnap_reg_strerror(e));
    }
    operators_page(c, p, tmp.html.p);
    sb_free(&tmp.html);
}

static void settings_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, "システム設定 / System settings");
    if (pre) sb_add(&p->html, pre);
    sb_add(&p->html, "<section class=\"card\"><h3>地域鍵 / Region keys</h3>"
                     "<form method=\"post\" action=\"/settings/region-key\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<label>KVN<input name=\"kvn\" maxlength=\"2\" value=\"01\" required></label>"
                     "<button type=\"submit\">地域鍵を生成 / Generate region keys</button></form>"
                     "<form method=\"post\" action=\"/settings/keys\" class=\"work\">");
    csrf_field(p, c->cookie);
    sb_add(&p->html, "<button type=\"submit\">鍵の一覧 / List keys</button></form></section>");
    layout_close(p, c->cookie);
}

static void tuning_page(ctx *c, page *p, const char *pre) {
    layout_open(p, &c->t, &c->a, "チューニング / Tuning");
    if (pre) sb_add(&p->html, pre);
    sb_add(&p->html, "<form method=\"post\" action=\"/tuning\" class=\"card\">");
    csrf_field(p, c->cookie);
    for (size_t i = 0; tune_keys[i][0]; i++) {
        sb_printf(&p->html, "<label>%s<input name=\"%s\" id=\"t-%s\" maxlength=\"200\" value=\"",
                  tune_keys[i][0], tune_keys[i][0], tune_keys[i][0]);
        sb_esc(&p->html, tune_get(&c->t, tune_keys[i][0], ""));
        sb_add(&p->html, "\"></label>");
    }
    sb_add(&p->html, "<button type=\"submit\" id=\"save-tuning\">保存 / Save</button></form>");
    layout_close(p, c->cookie);
}

static bool colour_ok(const char *s) {
    return strlen(s) == 7 && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == 6;
}

static void do_tuning(ctx *c, page *p) {
    bool ok = true;
    /* Every field is checked before anything is written. */
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
    mnap_reg_err e = MNAP_REG_OK;
    for (size_t i = 0; ok && e == MNAP_REG_OK && tune_keys[i][0]; i++) {
        const char *v = field(c->r, tune_keys[i][0]);
        /* The default again, or emptied: nothing stored (the default shows). */
        if (strcmp(v, tune_keys[i][1]) == 0) v = "";
        if (strcmp(v, tune_get(&c->t, tune_keys[i][0], "")) != 0)
            e = mnap_reg_tuning_set(reg, &c->a, tune_keys[i][0], v);
    }
    page tmp = { 0 };
    if (ok && e == MNAP_REG_OK) {
        tune_load(reg, cfg.municipality, &c->t);
        audit_line(c->a.operator_id, "tuning", "ok");
        outcome(&tmp, true, "保存しました。次の画面から反映されます。", "Saved; shown from the next page.", NULL);
    } else {
        p->status = 400;
        audit_line(c->a.operator_id, "tuning", ok ? mnap_reg_strerror(e) : "refused: bad input");
        if (ok)
            outcome(&tmp, false, "登録簿に保存できませんでした。", "The registry could not store it.",
                    mnap_reg_strerror(e));
        else
            outcome(&tmp, false, "入力内容に誤りがあります（色は #RRGGBB）。何も変更していません。",
                    "The input is not valid (a colour is #RRGGBB). Nothing was changed.", NULL);
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

    if (!post && strcmp(c->method, "GET") != 0) {
        refuse(c, p, 405, "その方法では要求できません。", "Method not allowed.", "bad method");
        return;
    }
    if (c->r->too_big || c->r->bad_encoding) {
        refuse(c, p, 400, "入力が長すぎるか、正しく符号化されていません。何も変更していません。",
               "The input is too long or not encoded correctly. Nothing was changed.", "bad input");
        return;
    }
    /* Session. */
    c->cookie = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, COOKIE);
    if (c->cookie && unhex(c->cookie, c->token, sizeof c->token) == 0 &&
        mnap_reg_session_resume(reg, c->token, &c->a) == MNAP_REG_OK)
        c->logged_in = true;
    else c->cookie = NULL;

    if (strcmp(u, "/login") == 0) {
        if (!post) { login_page(c, p, NULL, NULL); return; }
        const char *pre = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, PRE_COOKIE);
        if (!csrf_ok(pre, field(c->r, "csrf"))) {
            refuse(c, p, 403, "フォームの確認に失敗しました。画面を開き直してください。",
                   "The form could not be verified. Open the screen again.", "refused: CSRF token");
            return;
        }
        do_login(c, p);
        return;
    }
    if (!c->logged_in) {
        p->status = 303;
        snprintf(p->location, sizeof p->location, "/login");
        return;
    }
    if (post && !csrf_ok(c->cookie, field(c->r, "csrf"))) {
        refuse(c, p, 403, "フォームの確認に失敗しました。画面を開き直してください。何も変更していません。",
               "The form could not be verified. Open the screen again. Nothing was changed.",
               "refused: CSRF token");
        return;
    }
    if (post && strcmp(u, "/logout") == 0) {
        mnap_reg_logout(reg, c->token);
        audit_line(c->a.operator_id, "logout", "ok");
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
        if (!post && strcmp(u, "/card") == 0) { card_menu(c, p, NULL); return; }
        if (post && strcmp(u, "/ap/list") == 0) { do_list(c, p); return; }
        if (post && strcmp(u, "/card/diagnose") == 0) {
            const char *args[] = { "diagnose", NULL };
            do_card_cmd(c, p, "カード障害切り分け / Fault isolation", args, "カードに異常はありません。",
                        "The card shows no fault.");
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
    if (strcmp(u, "/data") == 0 && !post) {
        if (need_perm(c, p, MNAP_PERM_RESIDENT_READ)) data_page(c, p);
        return;
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
        if (!post && strcmp(u, "/settings") == 0) { settings_page(c, p, NULL); return; }
        if (post && strcmp(u, "/settings/keys") == 0) {
            const char *args[] = { "keys", "list", NULL };
            do_card_cmd(c, p, "鍵の一覧 / Keys", args, "鍵の一覧です。", "The keys:");
            return;
        }
        if (post && strcmp(u, "/settings/region-key") == 0) {
            const char *kvn = field(c->r, "kvn");
            if (strlen(kvn) != 2 || hexval(kvn[0]) < 0 || hexval(kvn[1]) < 0) {
                refuse(c, p, 400, "KVNは2桁の16進数です。何も変更していません。",
                       "A KVN is two hex digits. Nothing was changed.", "bad KVN");
                return;
            }
            const char *args[] = { "keys", "generate", "region", "--kvn", kvn, "--master", NULL };
            do_card_cmd(c, p, "地域鍵 / Region keys", args, "地域鍵を生成しました。",
                        "The region keys are generated.");
            return;
        }
    }
    if (strcmp(u, "/tuning") == 0) {
        if (!need_perm(c, p, MNAP_PERM_SETTINGS)) return;
        if (post) do_tuning(c, p);
        else tuning_page(c, p, NULL);
        return;
    }
    refuse(c, p, 404, "その画面はありません。", "No such screen.", "not found");
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
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > BODY_MAX) r->too_big = true;
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
    if (strcmp(method, "POST") == 0) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) r->bad_encoding = true;
        parse_form(r);
    }
    ctx c = { .conn = conn, .url = url, .method = method, .r = r };
    page p = { 0 };
    route(&c, &p);
    OPENSSL_cleanse(c.token, sizeof c.token);
    if (p.html.oom) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        p.html.len, p.html.p ? p.html.p : (void *)"", MHD_RESPMEM_MUST_COPY);
    sb_free(&p.html);
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
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
    if (!cfg.mnap[0]) {
        ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
        if (n > 0) {
            self_dir[n] = 0;
            char *sl = strrchr(self_dir, '/');
            if (sl) *sl = 0;
        }
        snprintf(cfg.mnap, sizeof cfg.mnap, "%s/mnap", self_dir);
    }
    if (mkdir(cfg.state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mnap-console: state_dir %s: %s\n", cfg.state_dir, strerror(errno));
        return 5;
    }
    chmod(cfg.state_dir, 0700);
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
