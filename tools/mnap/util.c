/* util.c: the helpers every `mnap` command uses: error lines and exit codes,
 * hex, JSON strings, the per-user data directory and atomic file writes. */
#include "cli.h"
#include "i18n.h"
#include "mt_json.h"
#include "cm_ct.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --json: what the command prints on stdout is held back (a memory stream
 * takes stdout's place), so that a command that fails prints one JSON
 * object, its error, instead of a document it broke off. */
static struct {
    bool on;
    FILE *real;
    FILE *mem;
    char *buf;
    size_t len;
    json_t *messages;          /* every error line, in order */
    mnap_err err;              /* the last library error reported (cli_fail) */
    bool have_err;
} g_js;

void cli_json_begin(void)
{
    g_js.mem = open_memstream(&g_js.buf, &g_js.len);
    g_js.messages = json_array();
    if (g_js.mem == NULL || g_js.messages == NULL) {
        return;   /* no capture: plain output */
    }
    g_js.real = stdout;
    stdout = g_js.mem;
    g_js.on = true;
}

static const char *exit_kind(int rc)
{
    switch (rc) {
    case EX_CARD: return "card";
    case EX_USAGE: return "usage";
    case EX_NOCARD: return "no_card";
    case EX_KEYSTORE: return "keystore";
    case EX_LOCAL: return "local";
    default: return "other";
    }
}

int cli_json_end(int rc)
{
    if (!g_js.on) {
        return rc;
    }
    fflush(g_js.mem);
    stdout = g_js.real;
    g_js.on = false;
    if (rc == EX_OK || (json_array_size(g_js.messages) == 0 && g_js.len > 0)) {
        /* Success, or a failure the command's own JSON tells (manifest
         * check: {"valid":false,...}) without an error line. */
        if (g_js.len > 0) {
            fwrite(g_js.buf, 1, g_js.len, stdout);
        }
    } else {
        json_t *msg = json_array_get(g_js.messages, 0);
        json_t *o = json_pack("{s:{s:i,s:s,s:O,s:O}}", "error", "exit", rc, "kind", exit_kind(rc),
                              "message", msg != NULL ? msg : json_string(""), "messages", g_js.messages);
        if (o != NULL && g_js.have_err && mnap_err_name(g_js.err) != NULL) {
            json_object_set_new(json_object_get(o, "error"), "name",
                                json_string(mnap_err_name(g_js.err)));
            json_object_set_new(json_object_get(o, "error"), "code", json_integer(g_js.err));
        }
        char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text != NULL) {
            puts(text);
            free(text);
        }
        json_decref(o);
    }
    fclose(g_js.mem);
    free(g_js.buf);
    json_decref(g_js.messages);
    fflush(stdout);
    return rc;
}

/* s made valid UTF-8 (each byte of an invalid sequence becomes U+FFFD), as a
 * jansson string; NULL when out of memory. */
static json_t *json_text(const char *s)
{
    size_t n = strlen(s), i = 0, o = 0;
    char *buf = malloc(3 * n + 1);
    json_t *j;

    if (buf == NULL) {
        return NULL;
    }
    while (i < n) {
        const unsigned char *p = (const unsigned char *)s + i;
        size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
                   : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (p[k] & 0xC0) == 0x80;
        }
        /* overlong forms, surrogates and values above U+10FFFF */
        if (ok && ((len == 2 && p[0] < 0xC2) || (len == 3 && p[0] == 0xE0 && p[1] < 0xA0) ||
                   (len == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
                   (len == 4 && p[0] == 0xF0 && p[1] < 0x90) || (len == 4 && p[0] > 0xF4) ||
                   (len == 4 && p[0] == 0xF4 && p[1] >= 0x90))) {
            ok = false;
        }
        if (ok) {
            memcpy(buf + o, p, len);
            o += len;
            i += len;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    char line[1024];

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, gettext(fmt), ap);   /* the format, translated */
    va_end(ap);
    fprintf(stderr, "mnap: %s\n", line);
    if (g_js.on) {
        json_t *j = json_text(line);
        if (j != NULL) {
            json_array_append_new(g_js.messages, j);
        }
    }
}

const char *cli_strerror(mnap_err e)
{
    return gettext(mnap_strerror(e));
}

/* LOCALEDIR: where make install puts the catalogues. */
#ifndef MNAP_LOCALEDIR
#define MNAP_LOCALEDIR "/usr/local/share/locale"
#endif

void i18n_init(void)
{
    const char *dir = getenv("MNAP_LOCALEDIR");
    static char exe_dir[PATH_MAX + 16];
    char exe[PATH_MAX];
    struct stat st;
    ssize_t n;

    (void)setlocale(LC_ALL, "");
    if (dir == NULL || dir[0] == '\0') {
        dir = MNAP_LOCALEDIR;
        /* The build tree: BUILD/bin/mnap finds BUILD/locale. */
        n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash != NULL) {
                *slash = '\0';
                (void)snprintf(exe_dir, sizeof exe_dir, "%s/../locale", exe);
                if (stat(exe_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
                    dir = exe_dir;
                }
            }
        }
    }
    (void)bindtextdomain("mnap", dir);
    (void)bind_textdomain_codeset("mnap", "UTF-8");
    (void)textdomain("mnap");
}

void cli_note_err(mnap_err e)
{
    g_js.err = e;
    g_js.have_err = true;
}

int cli_exit_for(mnap_err e)
{
    switch (e) {
    case MNAP_OK:
        return EX_OK;
    case MNAP_E_NO_SERVICE:
    case MNAP_E_NO_READER:
    case MNAP_E_NO_CARD:
    case MNAP_E_TIMEOUT:
    case MNAP_E_CARD_RESET:
    case MNAP_E_CARD_REMOVED:
    case MNAP_E_CARD_MUTE:
    case MNAP_E_CARD_BUSY:
    case MNAP_E_NOT_CONNECTED:
    case MNAP_E_TRANSPORT:
        return EX_NOCARD;
    case MNAP_E_KS_PASSPHRASE:
    case MNAP_E_KS_CORRUPT:
    case MNAP_E_KS_NOT_FOUND:
    case MNAP_E_KS_FULL:
    case MNAP_E_KS_TOKEN:
    case MNAP_E_KS_MECHANISM:
    case MNAP_E_KS_BUSY:
    case MNAP_E_KS_STALE:
        return EX_KEYSTORE;
    case MNAP_E_PARAM:
        return EX_USAGE;
    case MNAP_E_IO:
    case MNAP_E_NOMEM:
        return EX_LOCAL;
    default:
        return EX_CARD;
    }
}

/* The line for e after what; localized: in the user's language (the
 * screen), else English (the audit log). */
static void fail_text(mnap_ctx *ctx, mnap_err e, const char *what, bool localized, char *out,
                      size_t cap)
{
    uint16_t sw = ctx != NULL ? mnap_last_sw(ctx) : 0;
    const char *why = localized ? cli_strerror(e) : mnap_strerror(e);
    char hex[8];

    if (localized) {
        what = gettext(what);
    }
    /* The status word helps the counter staff and the card vendor; it is
     * shown only when the error came from the card's answer, and once. */
    (void)snprintf(hex, sizeof hex, "%04X", (unsigned)sw);
    if (cli_exit_for(e) == EX_CARD && sw != 0 && sw != 0x9000 && strstr(mnap_strerror(e), hex) == NULL) {
        (void)snprintf(out, cap, "%s: %s (SW %s)", what, why, hex);
    } else {
        (void)snprintf(out, cap, "%s: %s", what, why);
    }
}

void cli_fail_text(mnap_ctx *ctx, mnap_err e, const char *what, char *out, size_t cap)
{
    cli_note_err(e);
    fail_text(ctx, e, what, true, out, cap);
}

void cli_fail_text_en(mnap_ctx *ctx, mnap_err e, const char *what, char *out, size_t cap)
{
    fail_text(ctx, e, what, false, out, cap);
}

int cli_fail(mnap_ctx *ctx, mnap_err e, const char *what)
{
    char line[300];

    cli_fail_text(ctx, e, what, line, sizeof line);
    cli_error("%s", line);
    return cli_exit_for(e);
}

int cli_hex_parse(const char *s, uint8_t *out, size_t min, size_t max, size_t *len)
{
    char digits[2 * 64];
    size_t n = 0;
    int rc;

    /* Spaces and colons group the bytes for people; the digits alone go to
     * the shared decoder. */
    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == ':') {
            continue;
        }
        if (n == sizeof digits) {
            cm_wipe(digits, sizeof digits);
            return -1;
        }
        digits[n++] = *s;
    }
    /* The digits may be a key (keys import): wiped on every way out. */
    rc = n / 2 < min || n / 2 > max || mt_hex_decode(digits, n, out, max, len) != 0 ? -1 : 0;
    cm_wipe(digits, sizeof digits);
    return rc;
}

/* Escaped by jansson, and always valid UTF-8: a path or name with bytes
 * that are not UTF-8 (FF) shows them as U+FFFD. */
void cli_json_str(FILE *f, const char *s)
{
    json_t *j = json_text(s);
    char *text = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

    fputs(text != NULL ? text : "\"\"", f);
    free(text);
    json_decref(j);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return false;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return true;
        }
    }
    return false;
}

int cli_data_path(const char *name, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;

    /* XDG Base Directory: an unset or relative XDG_DATA_HOME is ignored. */
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, cap, "%s/mnap/%s", xdg, name);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(out, cap, "%s/.local/share/mnap/%s", home, name);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int cli_mkdirs_for(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/') {
            continue;
        }
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            return -1;
        }
        buf[i] = '/';
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int cli_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    size_t off = 0;

    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return -1;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    /* rename() replaces the target in one step: a reader sees the old file
     * or the complete new one, never a half-written one. */
    if (rename(tmp, path) != 0) {
        goto fail;
    }
    return fsync_dir_of(path);
fail: {
        int saved = errno;
        if (fd >= 0) {
            close(fd);
        }
        unlink(tmp);
        errno = saved;
        return -1;
    }
}

int cli_aid_arg(const char *s, uint8_t *aid, size_t *len)
{
    if (cli_hex_parse(s, aid, MNAP_AID_MIN, MNAP_AID_MAX, len) != 0) {
        cli_error("'%s' is not an AID (5 to 16 bytes of hex)", s);
        return -1;
    }
    return 0;
}
