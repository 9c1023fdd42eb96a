/* reg_audit.c: the operator audit in the registry (schema 3): rows
 * hash-chained per municipality in the audit file's format, signed
 * checkpoints of the chain head (Ed25519, OpenSSL), verification, retention
 * (docs/registry.md, "Audit"). */
#include "reg_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char genesis[65] = "0000000000000000000000000000000000000000000000000000000000000000";

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int from_hex(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || strlen(s) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) {
            return -1;
        }
        out[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : out[i / 2] | v);
    }
    return 0;
}

/* A field as the audit file writes it: at most 200 bytes, tabs and control
 * characters as '_', "-" when empty. */
static void field(char out[MNAP_REG_AUDIT_FIELD + 1], const char *in)
{
    size_t n = 0;
    for (; in != NULL && in[n] != '\0' && n < MNAP_REG_AUDIT_FIELD; n++) {
        unsigned char ch = (unsigned char)in[n];
        out[n] = ch < 0x20 || ch == 0x7F ? '_' : (char)ch;
    }
    out[n] = '\0';
    if (n == 0) {
        strcpy(out, "-");
    }
}

static void iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* hash = hex SHA-256(prev "\n" seq TAB time TAB operator TAB command TAB serial TAB aid TAB result). */
static mnap_reg_err row_hash(const char *prev, const mnap_reg_audit_row *row, char out[65])
{
    char t[32], *body;
    size_t cap = 64 + 32 + 5 * (MNAP_REG_AUDIT_FIELD + 1) + 8;
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_MD_CTX *m;
    int ok;

    body = malloc(cap);
    if (body == NULL) {
        return MNAP_REG_E_NOMEM;
    }
    iso(row->at, t);
    int n = snprintf(body, cap, "%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s", row->seq, t, row->operator_id,
                     row->command, row->serial, row->aid, row->result);
    m = EVP_MD_CTX_new();
    ok = m != NULL && n > 0 && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(m, prev, 64) == 1 && EVP_DigestUpdate(m, "\n", 1) == 1 &&
         EVP_DigestUpdate(m, body, (size_t)n) == 1 && EVP_DigestFinal_ex(m, md, &md_len) == 1;
    EVP_MD_CTX_free(m);
    free(body);
    if (!ok) {
        return MNAP_REG_E_CRYPTO;
    }
    to_hex(md, 32, out);
    return MNAP_REG_OK;
}

/* The chain of a municipality is extended by one writer at a time. */
static mnap_reg_err lock_chain(mnap_reg *r, const char *municipality)
{
    const char *p[1] = { municipality };
    if (!r->eng->pg) {
        return MNAP_REG_OK; /* BEGIN IMMEDIATE holds the write lock */
    }
    return reg_exec(r, "SELECT pg_advisory_xact_lock(724171801, CAST($1 AS INTEGER))", 1, p, NULL);
}

/* The head: seq and hash of the newest row (0 and genesis when none). */
static mnap_reg_err head(mnap_reg *r, const char *municipality, uint64_t *seq, char hash[65])
{
    const char *p[1] = { municipality };
    reg_rows rows;
    mnap_reg_err e = reg_exec(r, "SELECT seq, hash FROM audit_log WHERE municipality = $1 ORDER BY seq DESC LIMIT 1",
                              1, p, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    *seq = 0;
    memcpy(hash, genesis, 65);
    if (rows.nrows == 1) {
        *seq = (uint64_t)reg_i64(reg_cell(&rows, 0, 0));
        reg_copy(hash, 65, reg_cell(&rows, 0, 1));
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

typedef struct append_ctx {
    const char *municipality;
    mnap_reg_audit_row row;
    uint64_t ref;
} append_ctx;

static mnap_reg_err append_rows(mnap_reg *r, append_ctx *c)
{
    uint64_t last = 0;
    char seq[24], at[24], ref[24];
    mnap_reg_err e = lock_chain(r, c->municipality);

    if (e == MNAP_REG_OK) {
        e = head(r, c->municipality, &last, c->row.prev_hash);
    }
    if (e != MNAP_REG_OK) {
        return e;
    }
    c->row.seq = last + 1;
    c->row.at = reg_now(r);
    e = row_hash(c->row.prev_hash, &c->row, c->row.hash);
    if (e != MNAP_REG_OK) {
        return e;
    }
    snprintf(seq, sizeof seq, "%" PRIu64, c->row.seq);
    snprintf(at, sizeof at, "%lld", (long long)c->row.at);
    snprintf(ref, sizeof ref, "%" PRIu64, c->ref);
    const char *p[11] = { c->municipality, seq, at, c->row.operator_id, c->row.command, c->row.serial,
                          c->row.aid, c->row.result, ref, c->row.prev_hash, c->row.hash };
    return reg_exec(r,
                    "INSERT INTO audit_log (municipality, seq, at, operator, command, serial, aid, result, ref, "
                    "prev_hash, hash) VALUES ($1, CAST($2 AS BIGINT), CAST($3 AS BIGINT), $4, $5, $6, $7, $8, "
                    "CAST($9 AS BIGINT), $10, $11)",
                    11, p, NULL);
}

static mnap_reg_err append_tx(mnap_reg *r, void *p)
{
    return append_rows(r, p);
}

/* "[row N] ..." names the row it settles. */
static uint64_t ref_of(const char *result)
{
    if (strncmp(result, "[row ", 5) != 0) {
        return 0;
    }
    return strtoull(result + 5, NULL, 10);
}

mnap_reg_err mnap_reg_audit_append(mnap_reg *r, const char *municipality, const char *operator_id,
                                   const char *command, const char *serial, const char *aid,
                                   const char *result, uint64_t *seq)
{
    append_ctx c;
    mnap_reg_err e;

    if (r == NULL || !reg_valid_code(municipality) || command == NULL || result == NULL) {
        return MNAP_REG_E_PARAM;
    }
    memset(&c, 0, sizeof c);
    c.municipality = municipality;
    field(c.row.operator_id, operator_id);
    field(c.row.command, command);
    field(c.row.serial, serial);
    field(c.row.aid, aid);
    field(c.row.result, result);
    c.ref = ref_of(c.row.result);
    e = r->in_tx ? append_rows(r, &c) : reg_tx(r, append_tx, &c);
    if (e == MNAP_REG_OK && seq != NULL) {
        *seq = c.row.seq;
    }
    return e;
}

mnap_reg_err mnap_reg_audit_settled(mnap_reg *r, const char *municipality, uint64_t seq, bool *settled)
{
    char s[24];
    const char *p[2] = { municipality, s };
    int64_t n = 0;
    mnap_reg_err e;

    if (r == NULL || !reg_valid_code(municipality) || settled == NULL) {
        return MNAP_REG_E_PARAM;
    }
    snprintf(s, sizeof s, "%" PRIu64, seq);
    e = reg_count(r, "SELECT count(*) FROM audit_log WHERE municipality = $1 AND ref = CAST($2 AS BIGINT)", 2, p,
                  &n);
    if (e == MNAP_REG_OK) {
        *settled = n > 0;
    }
    return e;
}

static void fill_row(const reg_rows *rows, size_t i, mnap_reg_audit_row *row)
{
    memset(row, 0, sizeof *row);
    row->seq = (uint64_t)reg_i64(reg_cell(rows, i, 0));
    row->at = reg_i64(reg_cell(rows, i, 1));
    reg_copy(row->operator_id, sizeof row->operator_id, reg_cell(rows, i, 2));
    reg_copy(row->command, sizeof row->command, reg_cell(rows, i, 3));
    reg_copy(row->serial, sizeof row->serial, reg_cell(rows, i, 4));
    reg_copy(row->aid, sizeof row->aid, reg_cell(rows, i, 5));
    reg_copy(row->result, sizeof row->result, reg_cell(rows, i, 6));
    reg_copy(row->prev_hash, sizeof row->prev_hash, reg_cell(rows, i, 7));
    reg_copy(row->hash, sizeof row->hash, reg_cell(rows, i, 8));
}

#define ROW_COLS "seq, at, operator, command, serial, aid, result, prev_hash, hash"

mnap_reg_err mnap_reg_audit_rows(mnap_reg *r, const mnap_reg_actor *a, int64_t from, int64_t to,
                                 int (*cb)(void *user, const mnap_reg_audit_row *row), void *user)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_AUDIT_READ);
    char f[24], t[24];
    const char *p[3] = { NULL, f, t };
    reg_rows rows;
    mnap_reg_audit_row row;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (cb == NULL || to < from) {
        return MNAP_REG_E_PARAM;
    }
    p[0] = a->municipality;
    snprintf(f, sizeof f, "%lld", (long long)from);
    snprintf(t, sizeof t, "%lld", (long long)to);
    e = reg_exec(r,
                 "SELECT " ROW_COLS " FROM audit_log WHERE municipality = $1 AND at >= CAST($2 AS BIGINT) "
                 "AND at < CAST($3 AS BIGINT) ORDER BY seq",
                 3, p, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    for (size_t i = 0; i < rows.nrows; i++) {
        fill_row(&rows, i, &row);
        if (cb(user, &row) != 0) {
            break;
        }
    }
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

/* The signed text of a checkpoint. */
static int checkpoint_text(char *out, size_t cap, const char *municipality, const char *seq, const char *head_hash,
                           const char *at)
{
    return snprintf(out, cap, "mnap audit checkpoint 1\n%s\n%s\n%s\n%s\n", municipality, seq, head_hash, at);
}

mnap_reg_err mnap_reg_audit_verify(mnap_reg *r, const mnap_reg_actor *a, const uint8_t *pub,
                                   mnap_reg_audit_report *rep)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_AUDIT_READ);
    const char *p[1];
    reg_rows rows, cps;
    mnap_reg_audit_row row;
    char prev[65], want[65];
    uint64_t *settled_refs = NULL;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (rep == NULL) {
        return MNAP_REG_E_PARAM;
    }
    memset(rep, 0, sizeof *rep);
    memcpy(rep->last_hash, genesis, 65);
    p[0] = a->municipality;
    e = reg_begin(r, false);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_exec(r, "SELECT " ROW_COLS ", ref FROM audit_log WHERE municipality = $1 ORDER BY seq", 1, p, &rows);
    if (e != MNAP_REG_OK) {
        reg_rollback(r);
        return e;
    }
    e = reg_exec(r, "SELECT seq, head, at, signature FROM audit_checkpoints WHERE municipality = $1 ORDER BY at, seq",
                 1, p, &cps);
    reg_rollback(r); /* a read: nothing to commit */
    if (e != MNAP_REG_OK) {
        reg_rows_free(&rows);
        return e;
    }
    e = MNAP_REG_OK;
    memcpy(prev, genesis, 65);
    for (size_t i = 0; i < rows.nrows && e == MNAP_REG_OK; i++) {
        fill_row(&rows, i, &row);
        if (i == 0) {
            rep->first_seq = row.seq;
            /* Rows before the first one were purged (or this is row 1): its
             * stored link is where the chain starts. */
            if (row.seq == 1 && strcmp(row.prev_hash, genesis) != 0) {
                snprintf(rep->why, sizeof rep->why, "row 1: does not start the chain");
                e = MNAP_REG_E_AUDIT;
                break;
            }
            memcpy(prev, row.prev_hash, 65);
        } else if (row.seq != rep->last_seq + 1) {
            snprintf(rep->why, sizeof rep->why, "rows %" PRIu64 "..%" PRIu64 " are missing (deleted)",
                     rep->last_seq + 1, row.seq - 1);
            e = MNAP_REG_E_AUDIT;
            break;
        }
        if (strcmp(row.prev_hash, prev) != 0 || row_hash(prev, &row, want) != MNAP_REG_OK ||
            strcmp(want, row.hash) != 0) {
            snprintf(rep->why, sizeof rep->why, "row %" PRIu64 ": hash does not match (the row was edited, or one before it)",
                     row.seq);
            e = MNAP_REG_E_AUDIT;
            break;
        }
        memcpy(prev, row.hash, 65);
        rep->last_seq = row.seq;
        rep->rows++;
    }
    memcpy(rep->last_hash, prev, 65);
    /* Begun rows ("begun") with no outcome row naming them. */
    if (e == MNAP_REG_OK && rows.nrows > 0) {
        settled_refs = calloc(rows.nrows, sizeof *settled_refs);
        size_t nref = 0;
        for (size_t i = 0; settled_refs != NULL && i < rows.nrows; i++) {
            uint64_t ref = (uint64_t)reg_i64(reg_cell(&rows, i, 9));
            if (ref != 0) {
                settled_refs[nref++] = ref;
            }
        }
        for (size_t i = 0; settled_refs != NULL && i < rows.nrows; i++) {
            if (strcmp(reg_cell(&rows, i, 6), "begun") == 0) {
                uint64_t s = (uint64_t)reg_i64(reg_cell(&rows, i, 0));
                bool found = false;
                for (size_t k = 0; k < nref && !found; k++) {
                    found = settled_refs[k] == s;
                }
                rep->unsettled += !found;
            }
        }
        free(settled_refs);
    }
    /* Checkpoints: each names a head the chain must still hold. */
    for (size_t i = 0; i < cps.nrows && e == MNAP_REG_OK; i++) {
        const char *cseq = reg_cell(&cps, i, 0), *chead = reg_cell(&cps, i, 1), *cat = reg_cell(&cps, i, 2);
        uint64_t s = (uint64_t)reg_i64(cseq);
        rep->checkpoints++;
        rep->last_checkpoint_at = reg_i64(cat);
        if (pub != NULL) {
            char text[256];
            uint8_t sig[64];
            int n = checkpoint_text(text, sizeof text, a->municipality, cseq, chead, cat);
            EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
            EVP_MD_CTX *md = EVP_MD_CTX_new();
            bool ok = k != NULL && md != NULL && from_hex(reg_cell(&cps, i, 3), sig, sizeof sig) == 0 &&
                      EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
                      EVP_DigestVerify(md, sig, sizeof sig, (const unsigned char *)text, (size_t)n) == 1;
            EVP_MD_CTX_free(md);
            EVP_PKEY_free(k);
            rep->signatures_checked = true;
            if (!ok) {
                snprintf(rep->why, sizeof rep->why, "checkpoint of row %" PRIu64 ": the signature does not verify", s);
                e = MNAP_REG_E_AUDIT;
                break;
            }
        }
        if (s > rep->last_seq) {
            snprintf(rep->why, sizeof rep->why,
                     "a checkpoint holds row %" PRIu64 " but the chain ends at row %" PRIu64 ": the newest rows were deleted",
                     s, rep->last_seq);
            e = MNAP_REG_E_AUDIT;
            break;
        }
        if (s >= rep->first_seq && s > 0) {
            const char *h = reg_cell(&rows, (size_t)(s - rep->first_seq), 8);
            if (h == NULL || strcmp(h, chead) != 0) {
                snprintf(rep->why, sizeof rep->why, "row %" PRIu64 ": not the row its checkpoint signed", s);
                e = MNAP_REG_E_AUDIT;
                break;
            }
        }
    }
    reg_rows_free(&rows);
    reg_rows_free(&cps);
    return e;
}

typedef struct cp_ctx {
    const char *municipality;
    const uint8_t *pub;
    mnap_reg_signer sign;
    void *user;
    uint64_t seq;
} cp_ctx;

static mnap_reg_err checkpoint_tx(mnap_reg *r, void *p)
{
    cp_ctx *c = p;
    char hash[65], seq[24], at[24], text[256], sig_hex[129], pub_hex[65];
    uint8_t sig[64];
    mnap_reg_err e = lock_chain(r, c->municipality);

    if (e == MNAP_REG_OK) {
        e = head(r, c->municipality, &c->seq, hash);
    }
    if (e != MNAP_REG_OK) {
        return e;
    }
    snprintf(seq, sizeof seq, "%" PRIu64, c->seq);
    snprintf(at, sizeof at, "%lld", (long long)reg_now(r));
    int n = checkpoint_text(text, sizeof text, c->municipality, seq, hash, at);
    if (c->sign(c->user, (const uint8_t *)text, (size_t)n, sig) != 0) {
        reg_msg(r, "the checkpoint could not be signed");
        return MNAP_REG_E_CRYPTO;
    }
    to_hex(sig, sizeof sig, sig_hex);
    to_hex(c->pub, 32, pub_hex);
    const char *p6[6] = { c->municipality, seq, hash, at, pub_hex, sig_hex };
    return reg_exec(r,
                    "INSERT INTO audit_checkpoints (municipality, seq, head, at, public_key, signature) "
                    "VALUES ($1, CAST($2 AS BIGINT), $3, CAST($4 AS BIGINT), $5, $6)",
                    6, p6, NULL);
}

mnap_reg_err mnap_reg_audit_checkpoint_signed(mnap_reg *r, const char *municipality, const uint8_t pub[32],
                                              mnap_reg_signer sign, void *user, uint64_t *seq)
{
    cp_ctx c = { municipality, pub, sign, user, 0 };
    mnap_reg_err e;

    if (r == NULL || !reg_valid_code(municipality) || pub == NULL || sign == NULL) {
        return MNAP_REG_E_PARAM;
    }
    e = reg_tx(r, checkpoint_tx, &c);
    if (e == MNAP_REG_OK && seq != NULL) {
        *seq = c.seq;
    }
    return e;
}

static int seed_sign(void *user, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, user, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 64;
    bool ok = k != NULL && md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
              EVP_DigestSign(md, sig, &siglen, msg, len) == 1 && siglen == 64;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

mnap_reg_err mnap_reg_audit_checkpoint(mnap_reg *r, const char *municipality, const uint8_t seed[32],
                                       uint64_t *seq)
{
    uint8_t pub[32];
    size_t publen = sizeof pub;
    EVP_PKEY *k;
    bool ok;

    if (seed == NULL) {
        return MNAP_REG_E_PARAM;
    }
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    ok = k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &publen) == 1;
    EVP_PKEY_free(k);
    if (!ok) {
        return MNAP_REG_E_CRYPTO;
    }
    return mnap_reg_audit_checkpoint_signed(r, municipality, pub, seed_sign, (void *)seed, seq);
}

mnap_reg_err mnap_reg_audit_checkpoint_due(mnap_reg *r, const char *municipality, bool *due)
{
    const char *p[1] = { municipality };
    reg_rows rows;
    mnap_reg_err e;

    if (r == NULL || !reg_valid_code(municipality) || due == NULL) {
        return MNAP_REG_E_PARAM;
    }
    e = reg_exec(r,
                 "SELECT (SELECT max(at) FROM audit_checkpoints WHERE municipality = $1), "
                 "(SELECT count(*) FROM audit_log WHERE municipality = $1)",
                 1, p, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    const char *last = reg_cell(&rows, 0, 0);
    int64_t n = reg_i64(reg_cell(&rows, 0, 1));
    *due = last == NULL ? n > 0 : reg_now(r) - reg_i64(last) > MNAP_REG_AUDIT_CHECKPOINT_AGE;
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

typedef struct purge_ctx {
    const mnap_reg_actor *a;
    int64_t before;
    uint64_t removed;
} purge_ctx;

static mnap_reg_err purge_tx(mnap_reg *r, void *p)
{
    purge_ctx *c = p;
    char b[24], result[120];
    const char *params[2] = { c->a->municipality, b };
    mnap_reg_err e = lock_chain(r, c->a->municipality);

    if (e != MNAP_REG_OK) {
        return e;
    }
    snprintf(b, sizeof b, "%lld", (long long)c->before);
    e = reg_exec_changed(r, "DELETE FROM audit_log WHERE municipality = $1 AND at < CAST($2 AS BIGINT)", 2, params,
                         &c->removed);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = reg_exec(r, "DELETE FROM audit_checkpoints WHERE municipality = $1 AND at < CAST($2 AS BIGINT)", 2, params,
                 NULL);
    if (e != MNAP_REG_OK) {
        return e;
    }
    char t[32];
    iso(c->before, t);
    snprintf(result, sizeof result, "ok: %" PRIu64 " rows older than %s removed", c->removed, t);
    append_ctx ac;
    memset(&ac, 0, sizeof ac);
    ac.municipality = c->a->municipality;
    field(ac.row.operator_id, c->a->operator_id);
    field(ac.row.command, "audit purge");
    field(ac.row.serial, NULL);
    field(ac.row.aid, NULL);
    field(ac.row.result, result);
    return append_rows(r, &ac);
}

mnap_reg_err mnap_reg_audit_purge(mnap_reg *r, const mnap_reg_actor *a, int64_t before, uint64_t *removed)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_AUDIT_READ);
    purge_ctx c = { a, before, 0 };

    if (removed != NULL) {
        *removed = 0;
    }
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (before > reg_now(r) - MNAP_REG_AUDIT_KEEP) {
        reg_msg(r, "rows are kept 366 days: the purge may only remove rows older than that");
        return MNAP_REG_E_RETENTION;
    }
    e = reg_tx(r, purge_tx, &c);
    if (e == MNAP_REG_OK && removed != NULL) {
        *removed = c.removed;
    }
    return e;
}
