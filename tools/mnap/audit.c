/* audit.c: the operator audit log: hash-chained lines, appended under a lock
 * (format in audit.h and docs/cli.md). */
#include "audit.h"
#include "cli.h"
#include "lock.h"
#include "mt_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

static const char genesis[AUDIT_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

int audit_hash(const char *prev, const char *body, size_t body_len, char out[AUDIT_HASH_HEX + 1])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    int ok;
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    if (m == NULL) {
        return -1;
    }
    ok = EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(m, prev, AUDIT_HASH_HEX) == 1 &&
         EVP_DigestUpdate(m, "\n", 1) == 1 &&
         EVP_DigestUpdate(m, body, body_len) == 1 &&
         EVP_DigestFinal_ex(m, md, &md_len) == 1 && md_len == sizeof md;
    EVP_MD_CTX_free(m);
    if (!ok) {
        return -1;
    }
    mt_hex_encode(md, sizeof md, out, MT_HEX_LOWER);
    return 0;
}

static int is_hash(const char *s, size_t len)
{
    if (len != AUDIT_HASH_HEX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Splits one line (without its newline) into the body (first seven fields)
 * and the hash; reads the sequence number.  0, or -1 with why. */
static int parse_line(const char *line, size_t len, uint64_t *seq, size_t *body_len,
                      const char **hash, char *why, size_t why_cap)
{
    size_t tabs = 0;
    const char *last_tab = NULL;
    char *end = NULL;

    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\t') {
            tabs++;
            last_tab = line + i;
        }
    }
    if (tabs != 7) {
        snprintf(why, why_cap, "%zu fields instead of 8", tabs + 1);
        return -1;
    }
    if (!is_hash(last_tab + 1, len - (size_t)(last_tab + 1 - line))) {
        snprintf(why, why_cap, "the last field is not a SHA-256 hash");
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(line, &end, 10);
    if (errno != 0 || end == line || *end != '\t' || line[0] == '-' || line[0] == '+') {
        snprintf(why, why_cap, "the first field is not a sequence number");
        return -1;
    }
    *seq = v;
    *body_len = (size_t)(last_tab - line);
    *hash = last_tab + 1;
    return 0;
}

/* Reads the last line of the file (at most AUDIT_LINE_MAX bytes). */
static int read_tail(audit_log *a, char *err, size_t err_cap)
{
    struct stat st;
    char buf[AUDIT_LINE_MAX + 2];
    char why[160];

    if (fstat(a->fd, &st) != 0) {
        snprintf(err, err_cap, "cannot stat the audit file: %s", strerror(errno));
        return -1;
    }
    if (st.st_size == 0) {
        a->next_seq = 1;
        memcpy(a->prev_hash, genesis, sizeof genesis);
        return 0;
    }
    size_t want = st.st_size > (off_t)sizeof buf ? sizeof buf : (size_t)st.st_size;
    ssize_t got = pread(a->fd, buf, want, st.st_size - (off_t)want);
    if (got != (ssize_t)want) {
        snprintf(err, err_cap, "cannot read the audit file: %s", got < 0 ? strerror(errno) : "short read");
        return -1;
    }
    if (buf[want - 1] != '\n') {
        snprintf(err, err_cap, "the audit file's last line is incomplete: run 'mnap audit verify'");
        return -1;
    }
    size_t start = want - 1;
    while (start > 0 && buf[start - 1] != '\n') {
        start--;
    }
    if (start == 0 && want < (size_t)st.st_size) {
        snprintf(err, err_cap, "the audit file's last line is too long: run 'mnap audit verify'");
        return -1;
    }
    uint64_t seq;
    size_t body_len;
    const char *hash;
    if (parse_line(buf + start, want - 1 - start, &seq, &body_len, &hash, why, sizeof why) != 0) {
        snprintf(err, err_cap, "the audit file's last line is damaged (%s): run 'mnap audit verify'", why);
        return -1;
    }
    a->next_seq = seq + 1;
    memcpy(a->prev_hash, hash, AUDIT_HASH_HEX);
    a->prev_hash[AUDIT_HASH_HEX] = '\0';
    return 0;
}

int audit_open(audit_log *a, const char *path, char *err, size_t err_cap)
{
    a->fd = -1;
    if (cli_mkdirs_for(path) != 0) {
        snprintf(err, err_cap, "%s: cannot create its directory: %s", path, strerror(errno));
        return -1;
    }
    /* O_APPEND: every write lands at the end, whatever else happens. */
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    {
        char what[64 + 4096];
        snprintf(what, sizeof what, "the audit log %s", path);
        if (lock_wait(a->fd, LOCK_EX, what, err, err_cap) != 0) {
            audit_close(a);
            return -1;
        }
    }
    if (read_tail(a, err, err_cap) != 0) {
        audit_close(a);
        return -1;
    }
    return 0;
}

/* Copies a field, replacing what would break the line format. */
static size_t put_field(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    if (s == NULL || s[0] == '\0') {
        s = "-";
    }
    for (; *s != '\0' && n < AUDIT_FIELD_MAX && n + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        out[n++] = (ch < 0x20 || ch == 0x7F) ? '_' : (char)ch;
    }
    return n;
}

int audit_format(const audit_log *a, time_t when, const char *operator_id, const char *command,
                 const char *serial, const char *aid, const char *result, char line[AUDIT_LINE_MAX],
                 size_t *line_len, char hash[AUDIT_HASH_HEX + 1], char *err, size_t err_cap)
{
    struct tm tm;
    size_t n;
    const char *fields[5] = { operator_id, command, serial, aid, result };

    if (a->fd < 0) {
        snprintf(err, err_cap, "audit file not open");
        return -1;
    }
    if (gmtime_r(&when, &tm) == NULL) {
        snprintf(err, err_cap, "bad time");
        return -1;
    }
    int k = snprintf(line, AUDIT_LINE_MAX, "%" PRIu64 "\t", a->next_seq);
    n = (size_t)k;
    n += strftime(line + n, AUDIT_LINE_MAX - n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (size_t i = 0; i < 5; i++) {
        line[n++] = '\t';
        n += put_field(line + n, AUDIT_LINE_MAX - n, fields[i]);
    }
    if (audit_hash(a->prev_hash, line, n, hash) != 0) {
        snprintf(err, err_cap, "SHA-256 failed");
        return -1;
    }
    /* 5 fields of at most AUDIT_FIELD_MAX, the time and seq: always fits. */
    line[n++] = '\t';
    memcpy(line + n, hash, AUDIT_HASH_HEX);
    n += AUDIT_HASH_HEX;
    line[n++] = '\n';
    *line_len = n;
    return 0;
}

int audit_append(audit_log *a, time_t when, const char *operator_id, const char *command,
                 const char *serial, const char *aid, const char *result, char *err,
                 size_t err_cap)
{
    char line[AUDIT_LINE_MAX];
    char hash[AUDIT_HASH_HEX + 1];
    struct stat st;
    size_t n;

    if (audit_format(a, when, operator_id, command, serial, aid, result, line, &n, hash, err,
                     err_cap) != 0) {
        return -1;
    }
    if (fstat(a->fd, &st) != 0) {
        snprintf(err, err_cap, "cannot stat the audit file: %s", strerror(errno));
        return -1;
    }
    ssize_t w = write(a->fd, line, n);
    if (w != (ssize_t)n) {
        int saved = errno;
        /* Nothing half written: cut a partial line away again. */
        if (w > 0 && ftruncate(a->fd, st.st_size) != 0) {
            snprintf(err, err_cap, "audit write failed and the partial line could not be removed");
            return -1;
        }
        snprintf(err, err_cap, "cannot write the audit file: %s", w < 0 ? strerror(saved) : "disk full");
        return -1;
    }
    if (fsync(a->fd) != 0) {
        snprintf(err, err_cap, "cannot fsync the audit file: %s", strerror(errno));
        return -1;
    }
    a->next_seq++;
    memcpy(a->prev_hash, hash, sizeof hash);
    return 0;
}

void audit_close(audit_log *a)
{
    if (a->fd >= 0) {
        close(a->fd); /* drops the lock */
        a->fd = -1;
    }
}

int audit_verify(const char *path, const char *expect_last, audit_report *r)
{
    char prev[AUDIT_HASH_HEX + 1];
    char calc[AUDIT_HASH_HEX + 1];
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    int rc = 0;

    memset(r, 0, sizeof *r);
    memcpy(prev, genesis, sizeof genesis);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(r->why, sizeof r->why, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* A shared lock: never read a line another mnap is writing. */
    {
        char what[64 + 4096];
        snprintf(what, sizeof what, "the audit log %s", path);
        if (lock_wait(fileno(f), LOCK_SH, what, r->why, sizeof r->why) != 0) {
            fclose(f);
            return -1;
        }
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        uint64_t seq;
        size_t body_len;
        const char *hash;
        lineno++;
        r->bad_line = lineno;
        if (line[len - 1] != '\n') {
            snprintf(r->why, sizeof r->why, "incomplete last line (no newline)");
            rc = 1;
            break;
        }
        if (parse_line(line, (size_t)len - 1, &seq, &body_len, &hash, r->why, sizeof r->why) != 0) {
            rc = 1;
            break;
        }
        if (seq != lineno) {
            snprintf(r->why, sizeof r->why, "sequence %" PRIu64 " where %" PRIu64 " was expected (a line removed or inserted)",
                     seq, lineno);
            rc = 1;
            break;
        }
        if (audit_hash(prev, line, body_len, calc) != 0) {
            snprintf(r->why, sizeof r->why, "SHA-256 failed");
            rc = -1;
            break;
        }
        if (memcmp(calc, hash, AUDIT_HASH_HEX) != 0) {
            snprintf(r->why, sizeof r->why, "hash does not match (the line was edited, or one before it)");
            rc = 1;
            break;
        }
        memcpy(prev, calc, sizeof calc);
        r->lines = lineno;
        r->bad_line = 0;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(r->why, sizeof r->why, "%s: read error", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    memcpy(r->last_hash, prev, sizeof prev);
    if (rc == 0 && expect_last != NULL && strcmp(expect_last, prev) != 0) {
        snprintf(r->why, sizeof r->why,
                 "the last hash is not the expected one (lines removed at the end, or another file)");
        r->bad_line = lineno + 1;
        rc = 1;
    }
    return rc;
}
