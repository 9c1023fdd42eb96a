/* cmd_audit.c: `mnap audit verify|checkpoint|export|purge`.  Without a
 * registry the audit's home is the file (audit.h); with one (logged in) it
 * is the registry (docs/registry.md, "Audit"), and verify checks that. */
#include "audit.h"
#include "cli.h"
#include "conn.h"
#include "cm_ct.h"
#include "i18n.h"
#include "mnap/mnap_stoplist.h"

#include <openssl/evp.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The checkpoint key's public half: --key HEX, else from key set "audit"
 * of the key store when it opens without a prompt.  0 with pub, -1 none. */
static int audit_pub(const cli *c, const char *hex, uint8_t pub[32])
{
    mnap_keystore *ks = NULL;
    size_t n = 0;
    int ok = -1;

    if (hex != NULL) {
        return cli_hex_parse(hex, pub, 32, 32, &n) == 0 ? 0 : -2;
    }
    if (getenv("MNAP_PASSPHRASE") == NULL) {
        return -1;
    }
    if (ks_open(c, &ks) == EX_OK && mnap_keystore_ed25519_public(ks, "audit", pub) == MNAP_OK) {
        ok = 0;
    }
    mnap_keystore_free(ks);
    return ok;
}

static int reg_verify(cli *c, const char *key)
{
    uint8_t pub[32];
    int have = audit_pub(c, key, pub);
    mnap_reg_audit_report rep;
    mnap_reg_err e;

    if (have == -2) {
        cli_error("audit verify: --key: 64 hex digits (the public key of 'mnap audit key')");
        return EX_USAGE;
    }
    (void)audit_spool_settle(c);
    (void)audit_checkpoint_if_due(c, false);
    e = mnap_reg_audit_verify(c->reg, &c->actor, have == 0 ? pub : NULL, &rep);
    if (e != MNAP_REG_OK && e != MNAP_REG_E_AUDIT) {
        cli_error("audit verify: %s", mnap_reg_strerror(e));
        return EX_REGISTRY;
    }
    if (c->json) {
        printf("{\"registry\":\"%s\",\"intact\":%s,\"rows\":%" PRIu64 ",\"first\":%" PRIu64 ",\"last\":%" PRIu64
               ",\"checkpoints\":%" PRIu64 ",\"signatures_checked\":%s,\"unsettled\":%" PRIu64 ",\"last_hash\":\"%s\"",
               c->actor.municipality, e == MNAP_REG_OK ? "true" : "false", rep.rows, rep.first_seq, rep.last_seq,
               rep.checkpoints, rep.signatures_checked ? "true" : "false", rep.unsettled, rep.last_hash);
        if (e != MNAP_REG_OK) {
            printf(",\"problem\":");
            cli_json_str(stdout, rep.why);
        }
        printf("}\n");
    }
    if (e != MNAP_REG_OK) {
        cli_error("audit verify: registry audit of %s: %s", c->actor.municipality, rep.why);
        return EX_LOCAL;
    }
    if (!c->json) {
        printf("registry audit of %s: %" PRIu64 " row%s (%" PRIu64 "..%" PRIu64 "), chain intact, %" PRIu64
               " checkpoint%s (signatures %s), last hash %s\n",
               c->actor.municipality, rep.rows, rep.rows == 1 ? "" : "s", rep.first_seq, rep.last_seq, rep.checkpoints,
               rep.checkpoints == 1 ? "" : "s", rep.signatures_checked ? "checked" : "not checked: no --key", rep.last_hash);
        if (rep.unsettled != 0) {
            printf("  %" PRIu64 " command%s began without an outcome row (killed, or still running)\n", rep.unsettled,
                   rep.unsettled == 1 ? "" : "s");
        }
    }
    return EX_OK;
}

static const char u_verify[] = N_(
    "audit verify [--last HASH] [--key HEX]\n"
    "  Checks every line of the audit log (--audit PATH): the format, the sequence\n"
    "  numbers and the SHA-256 chain.  An edited, inserted or removed line is\n"
    "  reported with its line number (exit 5).  --last also checks the last hash\n"
    "  against one written down earlier, which catches lines removed at the end.\n"
    "  Prints the number of lines and the last hash.  With a registry, checks the\n"
    "  municipality's audit rows and their signed checkpoints instead; --key HEX\n"
    "  (the public key of 'mnap audit key') checks the checkpoint signatures.\n");

static int on_opt(void *user, int opt, const char *arg)
{
    const char **o = user;

    if (opt == 'l') {
        o[0] = arg;
    } else if (opt == 'k') {
        o[1] = arg;
    } else if (opt == 'f') {
        o[2] = arg;
    } else if (opt == 't') {
        o[3] = arg;
    } else if (opt == 'b') {
        o[2] = arg;
    } else {
        return -1;
    }
    return 0;
}

static int need_registry(const cli *c, const char *what)
{
    if (!c->logged_in || c->reg == NULL) {
        cli_error("%s: needs the registry (the audit file is checked with 'mnap audit verify')", what);
        return EX_REGISTRY;
    }
    return EX_OK;
}

/* YYYY-MM-DD (UTC midnight) or seconds since 1970. */
static int parse_date(const char *s, int64_t *out)
{
    struct tm tm;
    char *end = NULL;

    int y, m, d;
    char extra;
    memset(&tm, 0, sizeof tm);
    if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) == 3 && m >= 1 && m <= 12 && d >= 1 &&
        d <= 31) {
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        *out = (int64_t)timegm(&tm);
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && v >= 0) {
        *out = v;
        return 0;
    }
    return -1;
}

static const char u_checkpoint[] =
    "audit checkpoint\n"
    "  Signs the registry audit's chain head now (Ed25519 key 'audit' of the key\n"
    "  store or PKCS#11 token; make it once with 'mnap keys ed25519 audit').\n"
    "  For a daily timer; any audit command also writes one when the last is more\n"
    "  than 24 h old.\n";

static int audit_checkpoint_cmd(cli *c, int argc, char **argv)
{
    int first, rc;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, u_checkpoint) != 0) {
        return EX_USAGE;
    }
    rc = need_registry(c, "audit checkpoint");
    if (rc == EX_OK) {
        (void)audit_spool_settle(c);
        rc = audit_checkpoint_if_due(c, true);
    }
    return rc;
}

static const char u_key[] =
    "audit key\n"
    "  Prints the public key (64 hex digits) of Ed25519 key 'audit': what verifies the\n"
    "  checkpoints and exports (audit verify --key, audit verify-export --key).\n";

static int audit_key_cmd(cli *c, int argc, char **argv)
{
    uint8_t pub[32];
    char hex[65];
    int first;
    mnap_keystore *ks = NULL;

    if (cli_no_options(argc, argv, &first) != 0 || cli_operands(argc, first, 0, 0, u_key) != 0) {
        return EX_USAGE;
    }
    int rc = ks_open(c, &ks);
    if (rc == EX_OK) {
        mnap_err e = mnap_keystore_ed25519_public(ks, "audit", pub);
        if (e != MNAP_OK) {
            cli_error("audit key: Ed25519 key 'audit': %s (make it once with 'mnap keys ed25519 audit')",
                      mnap_strerror(e));
            rc = EX_KEYSTORE;
        }
    }
    mnap_keystore_free(ks);
    if (rc == EX_OK) {
        mt_hex_encode(pub, 32, hex, MT_HEX_UPPER);
        printf("%s\n", hex);
    }
    return rc;
}

static const char u_purge[] =
    "audit purge --before YYYY-MM-DD\n"
    "  Deletes the registry audit rows older than the date (auditor).  Rows are\n"
    "  kept 366 days: a younger date is refused and nothing is deleted.\n";

static int audit_purge_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = { { "before", required_argument, NULL, 'b' }, { NULL, 0, NULL, 0 } };
    const char *o[4] = { NULL, NULL, NULL, NULL };
    int64_t before;
    uint64_t removed = 0;
    int first, rc;

    if (cli_getopt(argc, argv, opts, on_opt, o, &first) != 0 || cli_operands(argc, first, 0, 0, u_purge) != 0) {
        return EX_USAGE;
    }
    if (o[2] == NULL || parse_date(o[2], &before) != 0) {
        cli_error("audit purge: --before YYYY-MM-DD is required");
        return EX_USAGE;
    }
    rc = need_registry(c, "audit purge");
    if (rc != EX_OK) {
        return rc;
    }
    mnap_reg_err e = mnap_reg_audit_purge(c->reg, &c->actor, before, &removed);
    if (e == MNAP_REG_E_RETENTION) {
        cli_error("audit purge: rows are kept 366 days: %s is too recent; nothing deleted", o[2]);
        return EX_REGISTRY;
    }
    if (e != MNAP_REG_OK) {
        cli_error("audit purge: %s", mnap_reg_strerror(e));
        return EX_REGISTRY;
    }
    printf("audit purge: %" PRIu64 " row%s older than %s removed\n", removed, removed == 1 ? "" : "s", o[2]);
    return EX_OK;
}

/* --- export: the rows in the file format, with a header and a signature ----------- */
static const char u_export[] =
    "audit export --from YYYY-MM-DD --to YYYY-MM-DD FILE\n"
    "  Writes the registry audit rows with from <= time < to (auditor) for off-line\n"
    "  keeping: a header line, the rows as audit-file lines (seq, time, operator,\n"
    "  command, serial, AID, result, hash; the first row chains to the header's\n"
    "  hash), and a signature line (Ed25519, key 'audit').  'mnap audit\n"
    "  verify-export FILE --key HEX' checks one.\n";

typedef struct exp_buf {
    char *p;
    size_t len, cap;
    uint64_t rows;
    char first_prev[65];
    char last_hash[65];
    bool nomem;
} exp_buf;

static void buf_add(exp_buf *b, const char *s, size_t n)
{
    if (b->nomem) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->len + n + 1) * 2;
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            b->nomem = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static int on_row(void *user, const mnap_reg_audit_row *row)
{
    exp_buf *b = user;
    char line[AUDIT_LINE_MAX], t[32];
    time_t tt = (time_t)row->at;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (b->rows == 0) {
        memcpy(b->first_prev, row->prev_hash, 65);
    }
    int n = snprintf(line, sizeof line, "%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row->seq, t, row->operator_id,
                     row->command, row->serial, row->aid, row->result, row->hash);
    if (n > 0 && (size_t)n < sizeof line) {
        buf_add(b, line, (size_t)n);
    }
    memcpy(b->last_hash, row->hash, 65);
    b->rows++;
    return 0;
}

static int audit_export_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 }
    };
    const char *o[4] = { NULL, NULL, NULL, NULL };
    int64_t from, to;
    exp_buf b;
    int first, rc;

    if (cli_getopt(argc, argv, opts, on_opt, o, &first) != 0 || cli_operands(argc, first, 1, 1, u_export) != 0) {
        return EX_USAGE;
    }
    if (o[2] == NULL || o[3] == NULL || parse_date(o[2], &from) != 0 || parse_date(o[3], &to) != 0 || to < from) {
        cli_error("audit export: --from and --to (YYYY-MM-DD, from <= to) are required");
        return EX_USAGE;
    }
    rc = need_registry(c, "audit export");
    if (rc != EX_OK) {
        return rc;
    }
    (void)audit_spool_settle(c);
    (void)audit_checkpoint_if_due(c, false);
    /* The signing key first: an export that cannot be signed is not written. */
    mnap_keystore *ks = NULL;
    uint8_t pub[32];
    rc = ks_open(c, &ks);
    if (rc != EX_OK) {
        return rc;
    }
    if (mnap_keystore_ed25519_public(ks, "audit", pub) != MNAP_OK) {
        mnap_keystore_free(ks);
        cli_error("audit export: no Ed25519 key 'audit' (make it once with 'mnap keys ed25519 audit')");
        return EX_KEYSTORE;
    }
    memset(&b, 0, sizeof b);
    mnap_reg_err e = mnap_reg_audit_rows(c->reg, &c->actor, from, to, on_row, &b);
    if (e != MNAP_REG_OK || b.nomem) {
        mnap_keystore_free(ks);
        free(b.p);
        cli_error("audit export: %s", e != MNAP_REG_OK ? mnap_reg_strerror(e) : "out of memory");
        return EX_REGISTRY;
    }
    char head[300], sig_line[160], sig[129];
    if (b.rows == 0) {
        memset(b.first_prev, '0', 64);
        b.first_prev[64] = '\0';
    }
    int hn = snprintf(head, sizeof head, "# mnap audit export 1\t%s\t%lld\t%lld\t%" PRIu64 "\t%s\n",
                      c->actor.municipality, (long long)from, (long long)to, b.rows, b.first_prev);
    exp_buf all;
    memset(&all, 0, sizeof all);
    buf_add(&all, head, (size_t)hn);
    if (b.len > 0) {
        buf_add(&all, b.p, b.len);
    }
    free(b.p);
    uint8_t sigb[64];
    mnap_err se = all.nomem ? MNAP_E_NOMEM : mnap_keystore_ed25519_sign(ks, "audit", (const uint8_t *)all.p, all.len, sigb);
    mnap_keystore_free(ks);
    if (se != MNAP_OK) {
        free(all.p);
        cli_error("audit export: cannot sign: %s", mnap_strerror(se));
        return EX_KEYSTORE;
    }
    mt_hex_encode(sigb, 64, sig, MT_HEX_UPPER);
    int sn = snprintf(sig_line, sizeof sig_line, "# ed25519 %s\n", sig);
    buf_add(&all, sig_line, (size_t)sn);
    if (all.nomem || cli_write_atomic(argv[first], (const uint8_t *)all.p, all.len, 0600) != 0) {
        free(all.p);
        cli_error("audit export: cannot write %s", argv[first]);
        return EX_LOCAL;
    }
    free(all.p);
    printf("audit export of %s: %" PRIu64 " row%s from %s to %s, signed, written to %s\n", c->actor.municipality,
           b.rows, b.rows == 1 ? "" : "s", o[2], o[3], argv[first]);
    return EX_OK;
}

static char *last_tab(char *s, size_t n)
{
    while (n-- > 0) {
        if (s[n] == '\t') {
            return s + n;
        }
    }
    return NULL;
}

static const char u_vexport[] =
    "audit verify-export FILE --key HEX\n"
    "  Checks an export off-line: the signature (the public key of 'mnap audit\n"
    "  key') and the chain of its rows.  Needs neither registry nor key store.\n";

static int audit_vexport_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = { { "key", required_argument, NULL, 'k' }, { NULL, 0, NULL, 0 } };
    const char *o[4] = { NULL, NULL, NULL, NULL };
    uint8_t pub[32], sig[64];
    size_t n = 0;
    int first;
    FILE *f;
    char *buf = NULL;
    size_t len = 0;

    (void)c;
    if (cli_getopt(argc, argv, opts, on_opt, o, &first) != 0 || cli_operands(argc, first, 1, 1, u_vexport) != 0) {
        return EX_USAGE;
    }
    if (o[1] == NULL || cli_hex_parse(o[1], pub, 32, 32, &n) != 0) {
        cli_error("audit verify-export: --key HEX (64 hex digits) is required");
        return EX_USAGE;
    }
    f = fopen(argv[first], "rb");
    if (f == NULL) {
        cli_error("audit verify-export: cannot read %s", argv[first]);
        return EX_LOCAL;
    }
    if (getdelim(&buf, &len, '\0', f) < 0) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf == NULL) {
        cli_error("audit verify-export: %s is empty", argv[first]);
        return EX_LOCAL;
    }
    len = strlen(buf);
    char *sl = len > 1 ? buf + len - 1 : buf;
    while (sl > buf && sl[-1] != '\n') {
        sl--;
    }
    char sig_hex[129] = "";
    if (strncmp(sl, "# ed25519 ", 10) == 0 && strlen(sl + 10) >= 128) {
        memcpy(sig_hex, sl + 10, 128);
    }
    if (strncmp(sl, "# ed25519 ", 10) != 0 || cli_hex_parse(sig_hex, sig, 64, 64, &n) != 0) {
        free(buf);
        cli_error("audit verify-export: %s: no signature line", argv[first]);
        return EX_LOCAL;
    }
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = k != NULL && md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestVerify(md, sig, 64, (const unsigned char *)buf, (size_t)(sl - buf)) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    if (!ok) {
        free(buf);
        cli_error("audit verify-export: %s: the signature does not verify (edited, or another key)", argv[first]);
        return EX_LOCAL;
    }
    /* The chain of the rows, from the header's hash. */
    char *line = buf, *nl = strchr(line, '\n');
    char prev[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
    char *h = nl != NULL ? last_tab(line, (size_t)(nl - line)) : NULL;
    if (strncmp(line, "# mnap audit export 1\t", 22) != 0 || h == NULL || nl - h - 1 != 64) {
        free(buf);
        cli_error("audit verify-export: %s: not an mnap audit export", argv[first]);
        return EX_LOCAL;
    }
    memcpy(prev, h + 1, 64);
    prev[64] = '\0';
    uint64_t rows = 0;
    for (line = nl + 1; line < sl; line = nl + 1) {
        nl = strchr(line, '\n');
        char *t = last_tab(line, (size_t)(nl - line));
        if (t == NULL || nl - t - 1 != 64 || audit_hash(prev, line, (size_t)(t - line), want) != 0 ||
            memcmp(want, t + 1, 64) != 0) {
            free(buf);
            cli_error("audit verify-export: %s: row %" PRIu64 " of the export: hash does not match", argv[first],
                      rows + 1);
            return EX_LOCAL;
        }
        memcpy(prev, t + 1, 64);
        rows++;
    }
    free(buf);
    printf("%s: %" PRIu64 " row%s, signature and chain intact\n", argv[first], rows, rows == 1 ? "" : "s");
    return EX_OK;
}

static int audit_verify_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "last", required_argument, NULL, 'l' },
        { "key", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 }
    };
    const char *last[2] = { NULL, NULL };
    audit_report r;
    int first;

    if (cli_getopt(argc, argv, opts, on_opt, last, &first) != 0 ||
        cli_operands(argc, first, 0, 0, u_verify) != 0) {
        return EX_USAGE;
    }
    if (c->logged_in && c->reg != NULL) {
        return reg_verify(c, last[1]);
    }
    int rc = audit_verify(c->audit, last[0], &r);
    if (c->json) {
        printf("{\"file\":");
        cli_json_str(stdout, c->audit);
        printf(",\"intact\":%s,\"lines\":%" PRIu64 ",\"last_hash\":\"%s\"", rc == 0 ? "true" : "false",
               r.lines, r.last_hash);
        if (rc != 0) {
            printf(",\"bad_line\":%" PRIu64 ",\"problem\":", r.bad_line);
            cli_json_str(stdout, r.why);
        }
        printf("}\n");
    }
    if (rc < 0) {
        cli_error("audit verify: %s", r.why);
        return EX_LOCAL;
    }
    if (rc > 0) {
        cli_error("audit verify: %s: line %" PRIu64 ": %s", c->audit, r.bad_line, r.why);
        return EX_LOCAL;
    }
    if (!c->json) {
        printf("%s: %" PRIu64 " line%s, chain intact, last hash %s\n", c->audit, r.lines,
               r.lines == 1 ? "" : "s", r.last_hash);
    }
    return EX_OK;
}

static const cli_sub subs[] = {
    { "verify", audit_verify_cmd, u_verify },
    { "checkpoint", audit_checkpoint_cmd, u_checkpoint },
    { "key", audit_key_cmd, u_key },
    { "export", audit_export_cmd, u_export },
    { "verify-export", audit_vexport_cmd, u_vexport },
    { "purge", audit_purge_cmd, u_purge },
};

int cmd_audit(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "audit", subs, sizeof subs / sizeof subs[0], argc, argv);
}
