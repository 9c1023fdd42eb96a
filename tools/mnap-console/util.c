/* util.c: the console's configuration, strings, input checks and tuning. */
#include "console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s); }

int cfg_load(console_cfg *c, const char *path, char *why, size_t why_cap) {
    memset(c, 0, sizeof *c);
    copy(c->listen, sizeof c->listen, "127.0.0.1");
    c->port = 8443;
    c->ttl = 1800;
    copy(c->locale, sizeof c->locale, "ja_JP.UTF-8");
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[2048];
    unsigned no = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        char *s = line;
        s[strcspn(s, "\r\n")] = 0;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, why_cap, "%s:%u: expected KEY = VALUE", path, no);
            fclose(f);
            return -1;
        }
        char *k = s, *v = eq + 1, *e = eq;
        while (e > k && (e[-1] == ' ' || e[-1] == '\t')) e--;
        *e = 0;
        while (*v == ' ' || *v == '\t') v++;
        e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        struct { const char *k; char *dst; size_t cap; } str[] = {
            { "listen", c->listen, sizeof c->listen }, { "cert", c->cert, sizeof c->cert },
            { "key", c->key, sizeof c->key }, { "registry", c->registry, sizeof c->registry },
            { "municipality", c->municipality, sizeof c->municipality },
            { "mnap", c->mnap, sizeof c->mnap }, { "keystore", c->keystore, sizeof c->keystore },
            { "passphrase_file", c->passphrase_file, sizeof c->passphrase_file },
            { "audit", c->audit, sizeof c->audit },
            { "reader", c->reader, sizeof c->reader },
            { "manifests", c->manifests, sizeof c->manifests },
            { "state_dir", c->state_dir, sizeof c->state_dir },
            { "locale", c->locale, sizeof c->locale },
            { "cli_locale", c->locale, sizeof c->locale }, /* its old name */
        };
        bool done = false;
        for (size_t i = 0; i < sizeof str / sizeof str[0]; i++) {
            if (strcmp(k, str[i].k) == 0) {
                if (strlen(v) >= str[i].cap) {
                    snprintf(why, why_cap, "%s:%u: %s is too long", path, no, k);
                    fclose(f);
                    return -1;
                }
                copy(str[i].dst, str[i].cap, v);
                done = true;
            }
        }
        if (!done && (strcmp(k, "port") == 0 || strcmp(k, "session_ttl") == 0)) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n == 0 || n > 86400) {
                snprintf(why, why_cap, "%s:%u: %s: a number from 1 to 86400", path, no, k);
                fclose(f);
                return -1;
            }
            if (k[0] == 'p') c->port = (unsigned)n; else c->ttl = (unsigned)n;
            done = true;
        }
        if (!done) {
            snprintf(why, why_cap, "%s:%u: unknown key '%s'", path, no, k);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    const char *need[][2] = { { "cert", c->cert }, { "key", c->key }, { "registry", c->registry },
                              { "municipality", c->municipality }, { "state_dir", c->state_dir } };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!need[i][1][0]) {
            snprintf(why, why_cap, "%s: '%s' is missing", path, need[i][0]);
            return -1;
        }
    }
    return 0;
}

/* --- strings --------------------------------------------------------------- */
void sb_addn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
void sb_add(sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }
void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_addn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
void sb_esc(sbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_add(b, "&lt;"); break;
        case '>': sb_add(b, "&gt;"); break;
        case '&': sb_add(b, "&amp;"); break;
        case '"': sb_add(b, "&quot;"); break;
        case '\'': sb_add(b, "&#39;"); break;
        default: sb_addn(b, s, 1);
        }
    }
}
void sb_tr(sbuf *b, const char *msgid) { sb_esc(b, _(msgid)); }
void sb_bi(sbuf *b, const char *msgid, const char *sep) {
    const char *t = _(msgid);
    sb_esc(b, t);
    if (strcmp(t, msgid) != 0) {
        sb_add(b, sep);
        sb_esc(b, msgid);
    }
}
void sb_free(sbuf *b) { free(b->p); memset(b, 0, sizeof *b); }

bool text_ok(const char *s, size_t max_bytes, bool multiline) {
    size_t n = strlen(s);
    if (n > max_bytes) return false;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7F)
                return false;
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
        else return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += k + 1;
    }
    return true;
}

/* --- tuning ------------------------------------------------------------------ */
const char *const tune_keys[][2] = {
    { "title", N_("My Number Card local-resident area: counter terminal") },
    { "guidance", N_("Choose a task.") },
    { "label_register", N_("Register resident and card") },
    { "label_load", N_("Load AP") },
    { "label_list", N_("List APs") },
    { "bg_color", "#f4f7fb" },
    { "extra_fields", "" },
    { NULL, NULL },
};

const char *tune_default(size_t i) {
    static char shown[8][600];
    const char *k = tune_keys[i][0], *v = tune_keys[i][1];
    if (!*v || v[0] == '#') return v;
    /* The title in the catalogue's language alone; texts and labels with
     * the English beside them. */
    if (strcmp(k, "title") == 0 || strcmp(_(v), v) == 0) return _(v);
    snprintf(shown[i], sizeof shown[i], "%s / %s", _(v), v);
    return shown[i];
}

const char *tune_get(const tuning *t, const char *key, const char *def) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->key[i], key) == 0) return t->val[i];
    for (size_t i = 0; tune_keys[i][0]; i++)
        if (strcmp(tune_keys[i][0], key) == 0) return tune_default(i);
    return def;
}

int tune_set(tuning *t, const char *key, const char *val) {
    if (strlen(key) >= sizeof t->key[0] || strlen(val) >= sizeof t->val[0]) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->key[i], key) == 0) {
            copy(t->val[i], sizeof t->val[i], val);
            return 0;
        }
    }
    if (t->n == TUNE_MAX) return -1;
    copy(t->key[t->n], sizeof t->key[0], key);
    copy(t->val[t->n], sizeof t->val[0], val);
    t->n++;
    return 0;
}

static void tune_cb(void *user, const char *key, const char *value) {
    tuning *t = user;
    if (text_ok(value, 255, false)) tune_set(t, key, value);
}

void tune_load(mnap_reg *r, const char *municipality, tuning *t) {
    memset(t, 0, sizeof *t);
    mnap_reg_tuning_list(r, municipality, tune_cb, t);
}
