/* reg_auth.c: municipalities, operators, passwords and sessions.
 *
 * Passwords are hashed with scrypt (OpenSSL 3 EVP_KDF "SCRYPT", r = 8,
 * p = 1, N = 2^kdf_log2n, 16-byte random salt) and stored as
 * "scrypt$LOG2N$R$P$SALTHEX$HASHHEX"; compared in constant time
 * (CRYPTO_memcmp); every copy of a password or derived key is wiped.  A
 * session is 32 random bytes handed to the caller; the registry keeps only
 * their SHA-256 and the expiry, so a session file is worth nothing once
 * expired or logged out. */
#include "reg_int.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define DK_LEN 32

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= c - '0';
            } else if (c >= 'a' && c <= 'f') {
                v |= c - 'a' + 10;
            } else {
                return -1;
            }
        }
        out[i] = (uint8_t)v;
    }
    return s[2 * n] == '\0' ? 0 : -1;
}

static int scrypt(const char *pw, size_t pw_len, const uint8_t *salt, unsigned log2n, uint32_t rr,
                  uint32_t pp, uint8_t out[DK_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *k = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    uint64_t n = (uint64_t)1 << log2n;
    uint64_t maxmem = (uint64_t)1 << 31;
    OSSL_PARAM params[7];
    int ok;

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, pw_len);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, SALT_LEN);
    params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &rr);
    params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp);
    params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    params[6] = OSSL_PARAM_construct_end();
    ok = k != NULL && EVP_KDF_derive(k, out, DK_LEN, params) == 1;
    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

mnap_reg_err reg_pw_hash(unsigned log2n, const char *pw, size_t pw_len, char *out, size_t cap)
{
    uint8_t salt[SALT_LEN], dk[DK_LEN];
    char salt_hex[2 * SALT_LEN + 1], dk_hex[2 * DK_LEN + 1];
    int n;

    if (RAND_bytes(salt, sizeof salt) != 1 || scrypt(pw, pw_len, salt, log2n, 8, 1, dk) != 0) {
        OPENSSL_cleanse(dk, sizeof dk);
        return MNAP_REG_E_CRYPTO;
    }
    hex(salt, sizeof salt, salt_hex);
    hex(dk, sizeof dk, dk_hex);
    n = snprintf(out, cap, "scrypt$%u$8$1$%s$%s", log2n, salt_hex, dk_hex);
    OPENSSL_cleanse(dk, sizeof dk);
    OPENSSL_cleanse(dk_hex, sizeof dk_hex);
    return n > 0 && (size_t)n < cap ? MNAP_REG_OK : MNAP_REG_E_PARAM;
}

mnap_reg_err reg_pw_verify(const char *stored, const char *pw, size_t pw_len)
{
    unsigned log2n = 0, rr = 0, pp = 0;
    char salt_hex[2 * SALT_LEN + 1], dk_hex[2 * DK_LEN + 1];
    uint8_t salt[SALT_LEN], want[DK_LEN], got[DK_LEN];
    mnap_reg_err e;

    if (stored == NULL ||
        sscanf(stored, "scrypt$%2u$%2u$%2u$%32[0-9a-f]$%64[0-9a-f]", &log2n, &rr, &pp, salt_hex, dk_hex) != 5 ||
        log2n < 10 || log2n > 20 || rr < 1 || rr > 32 || pp < 1 || pp > 16 ||
        unhex(salt_hex, salt, SALT_LEN) != 0 || unhex(dk_hex, want, DK_LEN) != 0) {
        return MNAP_REG_E_DB; /* a damaged hash in the database */
    }
    if (scrypt(pw, pw_len, salt, log2n, rr, pp, got) != 0) {
        e = MNAP_REG_E_CRYPTO;
    } else {
        e = CRYPTO_memcmp(got, want, DK_LEN) == 0 ? MNAP_REG_OK : MNAP_REG_E_AUTH;
    }
    OPENSSL_cleanse(got, sizeof got);
    OPENSSL_cleanse(want, sizeof want);
    OPENSSL_cleanse(dk_hex, sizeof dk_hex);
    return e;
}

static int token_hash(const uint8_t token[MNAP_REG_TOKEN_LEN], char out[65])
{
    uint8_t md[32];
    unsigned int len = 0;

    if (EVP_Digest(token, MNAP_REG_TOKEN_LEN, md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
        return -1;
    }
    hex(md, 32, out);
    return 0;
}

static bool valid_password(const char *pw, size_t len)
{
    return pw != NULL && len >= 8 && len <= 256 && memchr(pw, '\0', len) == NULL;
}

/* --- municipalities --------------------------------------------------------- */
typedef struct muni_ctx {
    const char *code, *name;
    char max[8];
    char key[65];
} muni_ctx;

static mnap_reg_err muni_add_tx(mnap_reg *r, void *p)
{
    muni_ctx *m = p;
    char now[24];
    const char *params[5] = { m->code, m->name, m->max, m->key, now };
    mnap_reg_err e;

    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    if (r->eng->pg) {
        /* The roles the policies test; the code is 6 digits (checked), so
         * the names are safe to write into the statement. */
        static const char *const roles[2][2] = { { "mnap_m_", "mnap_app" }, { "mnap_k_", "mnap_kiosk" } };
        for (int i = 0; i < 2; i++) {
            char sql[256];
            reg_rows rows;
            const char *rp[1];
            char role[32];
            snprintf(role, sizeof role, "%s%s", roles[i][0], m->code);
            rp[0] = role;
            e = reg_exec(r, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, rp, &rows);
            if (e != MNAP_REG_OK) {
                return e;
            }
            bool have = rows.nrows > 0;
            reg_rows_free(&rows);
            if (!have) {
                snprintf(sql, sizeof sql, "CREATE ROLE %s NOLOGIN NOBYPASSRLS; GRANT %s TO %s", role,
                         roles[i][1], role);
                e = r->eng->script(r, sql);
                if (e != MNAP_REG_OK) {
                    return e;
                }
            }
        }
    }
    return reg_exec(r,
                    "INSERT INTO municipalities (code, name, max_failed_logins, service_key, created_at) "
                    "VALUES ($1, $2, CAST($3 AS INTEGER), $4, CAST($5 AS BIGINT))",
                    5, params, NULL);
}

mnap_reg_err mnap_reg_municipality_add(mnap_reg *r, const char *code, const char *name,
                                       unsigned max_failed)
{
    muni_ctx m;
    uint8_t key[32];
    mnap_reg_err e;

    if (r == NULL || !reg_valid_code(code) || !reg_valid_text(name, 192) || max_failed > 20) {
        return MNAP_REG_E_PARAM;
    }
    memset(&m, 0, sizeof m);
    m.code = code;
    m.name = name;
    snprintf(m.max, sizeof m.max, "%u", max_failed == 0 ? 3 : max_failed);
    if (RAND_bytes(key, sizeof key) != 1) {
        return MNAP_REG_E_CRYPTO;
    }
    hex(key, sizeof key, m.key);
    OPENSSL_cleanse(key, sizeof key);
    e = reg_tx(r, muni_add_tx, &m);
    OPENSSL_cleanse(m.key, sizeof m.key);
    return e;
}

mnap_reg_err mnap_reg_municipalities(mnap_reg *r,
                                     void (*cb)(void *user, const char *code, const char *name),
                                     void *user)
{
    return reg_each_pair(r, "SELECT code, name FROM municipalities ORDER BY code", 0, NULL, cb, user);
}

/* --- operators ------------------------------------------------------------------- */
typedef struct op_ctx {
    const char *municipality, *id, *name, *role;
    char hash[160];
    bool bootstrap;
    bool locked;
} op_ctx;

static mnap_reg_err op_insert_tx(mnap_reg *r, void *p)
{
    op_ctx *o = p;
    char now[24];
    const char *params[6] = { o->municipality, o->id, o->name, o->role, o->hash, now };
    mnap_reg_err e;

    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    if (o->bootstrap) {
        int64_t n = 0;
        e = reg_get_one(r, "SELECT code FROM municipalities WHERE code = $1", true, 1, params, MNAP_REG_E_NOT_FOUND,
                        NULL);
        if (e != MNAP_REG_OK) {
            return e;
        }
        e = reg_count(r, "SELECT count(*) FROM operators WHERE municipality = $1", 1, params, &n);
        if (e != MNAP_REG_OK) {
            return e;
        }
        if (n != 0) {
            return MNAP_REG_E_EXISTS;
        }
    }
    return reg_exec(r,
                    "INSERT INTO operators (municipality, id, display_name, role, password_hash, "
                    "failed_logins, locked, created_at) VALUES ($1, $2, $3, $4, $5, 0, 0, "
                    "CAST($6 AS BIGINT))",
                    6, params, NULL);
}

static mnap_reg_err op_insert(mnap_reg *r, op_ctx *o, const char *pw, size_t pw_len)
{
    mnap_reg_err e;

    if (!reg_valid_id(o->id) || !reg_valid_text(o->name, 128)) {
        return MNAP_REG_E_PARAM;
    }
    if (!valid_password(pw, pw_len)) {
        reg_msg(r, "a password has 8 to 256 bytes");
        return MNAP_REG_E_PARAM;
    }
    e = reg_pw_hash(r->kdf_log2n, pw, pw_len, o->hash, sizeof o->hash);
    if (e == MNAP_REG_OK) {
        e = reg_tx(r, op_insert_tx, o);
    }
    OPENSSL_cleanse(o->hash, sizeof o->hash);
    return e;
}

mnap_reg_err mnap_reg_bootstrap_admin(mnap_reg *r, const char *municipality, const char *id,
                                      const char *display_name, const char *password,
                                      size_t password_len)
{
    op_ctx o = { municipality, id, display_name, "admin", { 0 }, true, false };

    if (r == NULL || !reg_valid_code(municipality)) {
        return MNAP_REG_E_PARAM;
    }
    return op_insert(r, &o, password, password_len);
}

mnap_reg_err mnap_reg_operator_add(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                   const char *display_name, mnap_reg_role role,
                                   const char *password, size_t password_len)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_OPERATOR_ADMIN);
    op_ctx o;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (mnap_reg_role_name(role) == NULL) {
        return MNAP_REG_E_PARAM;
    }
    memset(&o, 0, sizeof o);
    o.municipality = a->municipality;
    o.id = id;
    o.name = display_name;
    o.role = mnap_reg_role_name(role);
    return op_insert(r, &o, password, password_len);
}

static mnap_reg_err op_lock_tx(mnap_reg *r, void *p)
{
    op_ctx *o = p;
    const char *params[2] = { o->municipality, o->id };
    uint64_t n = 0;
    mnap_reg_err e;

    e = reg_exec_changed(r,
                         o->locked ? "UPDATE operators SET locked = 1 WHERE municipality = $1 AND id = $2"
                                   : "UPDATE operators SET locked = 0, failed_logins = 0 "
                                     "WHERE municipality = $1 AND id = $2",
                         2, params, &n);
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (n == 0) {
        return MNAP_REG_E_NOT_FOUND;
    }
    if (o->locked) {
        /* A locked operator's open sessions end now. */
        e = reg_exec(r, "DELETE FROM sessions WHERE municipality = $1 AND operator = $2", 2, params, NULL);
    }
    return e;
}

mnap_reg_err mnap_reg_operator_lock(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                    bool locked)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_OPERATOR_UNLOCK);
    op_ctx o;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_id(id)) {
        return MNAP_REG_E_PARAM;
    }
    memset(&o, 0, sizeof o);
    o.municipality = a->municipality;
    o.id = id;
    o.locked = locked;
    return reg_tx(r, op_lock_tx, &o);
}

static mnap_reg_err op_role_tx(mnap_reg *r, void *p)
{
    op_ctx *o = p;
    const char *params[3] = { o->municipality, o->id, o->role };
    uint64_t n = 0;
    mnap_reg_err e = reg_exec_changed(r, "UPDATE operators SET role = $3 WHERE municipality = $1 AND id = $2", 3,
                                      params, &n);

    if (e != MNAP_REG_OK) {
        return e;
    }
    return n == 0 ? MNAP_REG_E_NOT_FOUND : MNAP_REG_OK;
}

mnap_reg_err mnap_reg_operator_set_role(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                        mnap_reg_role role)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_OPERATOR_ADMIN);
    op_ctx o;

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_id(id) || mnap_reg_role_name(role) == NULL) {
        return MNAP_REG_E_PARAM;
    }
    memset(&o, 0, sizeof o);
    o.municipality = a->municipality;
    o.id = id;
    o.role = mnap_reg_role_name(role);
    return reg_tx(r, op_role_tx, &o);
}

mnap_reg_err mnap_reg_operator_get(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                   mnap_reg_operator *out)
{
    mnap_reg_err e = reg_check(a, MNAP_PERM_OPERATOR_UNLOCK);
    const char *params[2];
    reg_rows rows;

    /* An operator may always see its own record. */
    if (e == MNAP_REG_E_DENIED && id != NULL && strcmp(id, a->operator_id) == 0) {
        e = MNAP_REG_OK;
    }
    if (e != MNAP_REG_OK) {
        return e;
    }
    if (!reg_valid_id(id)) {
        return MNAP_REG_E_PARAM;
    }
    params[0] = a->municipality;
    params[1] = id;
    e = reg_get_one(r,
                    "SELECT id, display_name, role, failed_logins, locked FROM operators "
                    "WHERE municipality = $1 AND id = $2",
                    false, 2, params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    memset(out, 0, sizeof *out);
    reg_copy(out->id, sizeof out->id, reg_cell(&rows, 0, 0));
    reg_copy(out->display_name, sizeof out->display_name, reg_cell(&rows, 0, 1));
    if (mnap_reg_role_parse(reg_cell(&rows, 0, 2), &out->role) != MNAP_REG_OK) {
        e = MNAP_REG_E_DB;
    }
    out->failed_logins = (unsigned)reg_i64(reg_cell(&rows, 0, 3));
    out->locked = reg_i64(reg_cell(&rows, 0, 4)) != 0;
    reg_rows_free(&rows);
    return e;
}

/* --- login and sessions ----------------------------------------------------------- */
typedef struct login_ctx {
    const char *municipality, *id;
    bool ok;              /* the password matched */
    char token_hash[65];
    int64_t expires;
    bool locked_now;      /* out: this failure locked the operator */
} login_ctx;

static mnap_reg_err login_tx(mnap_reg *r, void *p)
{
    login_ctx *l = p;
    const char *params[5];
    char now[24], exp[24];
    reg_rows rows;
    mnap_reg_err e;

    params[0] = l->municipality;
    params[1] = l->id;
    e = reg_get_one(r, "SELECT locked FROM operators WHERE municipality = $1 AND id = $2", true, 2, params,
                    MNAP_REG_E_AUTH, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    bool locked = reg_i64(reg_cell(&rows, 0, 0)) != 0;
    reg_rows_free(&rows);
    if (locked) {
        return MNAP_REG_E_LOCKED;
    }
    if (!l->ok) {
        /* One atomic increment under the row lock: two terminals failing at
         * once count two. */
        e = reg_exec(r,
                     "UPDATE operators SET failed_logins = failed_logins + 1, "
                     "locked = CASE WHEN failed_logins + 1 >= (SELECT max_failed_logins FROM "
                     "municipalities WHERE code = $1) THEN 1 ELSE 0 END "
                     "WHERE municipality = $1 AND id = $2 RETURNING locked",
                     2, params, &rows);
        if (e != MNAP_REG_OK) {
            return e;
        }
        l->locked_now = rows.nrows == 1 && reg_i64(reg_cell(&rows, 0, 0)) != 0;
        reg_rows_free(&rows);
        return MNAP_REG_OK;
    }
    snprintf(now, sizeof now, "%lld", (long long)reg_now(r));
    snprintf(exp, sizeof exp, "%lld", (long long)l->expires);
    e = reg_exec(r, "UPDATE operators SET failed_logins = 0 WHERE municipality = $1 AND id = $2", 2, params,
                 NULL);
    if (e == MNAP_REG_OK) {
        params[2] = now;
        e = reg_exec(r,
                     "DELETE FROM sessions WHERE municipality = $1 AND operator = $2 AND "
                     "expires_at <= CAST($3 AS BIGINT)",
                     3, params, NULL);
    }
    if (e == MNAP_REG_OK) {
        params[2] = l->token_hash;
        params[3] = now;
        params[4] = exp;
        e = reg_exec(r,
                     "INSERT INTO sessions (token_hash, municipality, operator, created_at, expires_at) "
                     "VALUES ($3, $1, $2, CAST($4 AS BIGINT), CAST($5 AS BIGINT))",
                     5, params, NULL);
    }
    return e;
}

mnap_reg_err mnap_reg_login(mnap_reg *r, const char *municipality, const char *id,
                            const char *password, size_t password_len, unsigned ttl,
                            uint8_t token[MNAP_REG_TOKEN_LEN], mnap_reg_actor *actor)
{
    const char *params[2] = { municipality, id };
    reg_rows rows;
    mnap_reg_err e, pw;
    login_ctx l;
    char stored[200];
    mnap_reg_role role = MNAP_ROLE_CLERK;
    bool known;

    if (r == NULL || token == NULL || actor == NULL || !reg_valid_code(municipality) || !reg_valid_id(id) ||
        password == NULL || password_len == 0 || password_len > 256 || ttl == 0 || ttl > 7 * 86400) {
        return MNAP_REG_E_PARAM;
    }
    memset(actor, 0, sizeof *actor);
    e = reg_get_one(r, "SELECT password_hash, role FROM operators WHERE municipality = $1 AND id = $2", false, 2,
                    params, MNAP_REG_E_NOT_FOUND, &rows);
    if (e != MNAP_REG_OK && e != MNAP_REG_E_NOT_FOUND) {
        return e;
    }
    known = e == MNAP_REG_OK;
    stored[0] = '\0';
    if (known) {
        reg_copy(stored, sizeof stored, reg_cell(&rows, 0, 0));
        if (mnap_reg_role_parse(reg_cell(&rows, 0, 1), &role) != MNAP_REG_OK) {
            known = false;
        }
    }
    reg_rows_free(&rows);
    if (!known) {
        /* The same work as for a known operator, so that timing does not
         * tell which IDs exist. */
        char dummy[160];
        (void)reg_pw_hash(r->kdf_log2n, password, password_len, dummy, sizeof dummy);
        OPENSSL_cleanse(dummy, sizeof dummy);
        return MNAP_REG_E_AUTH;
    }
    pw = reg_pw_verify(stored, password, password_len);
    OPENSSL_cleanse(stored, sizeof stored);
    if (pw != MNAP_REG_OK && pw != MNAP_REG_E_AUTH) {
        return pw;
    }
    memset(&l, 0, sizeof l);
    l.municipality = municipality;
    l.id = id;
    l.ok = pw == MNAP_REG_OK;
    l.expires = reg_now(r) + (int64_t)ttl;
    if (l.ok) {
        if (RAND_bytes(token, MNAP_REG_TOKEN_LEN) != 1 || token_hash(token, l.token_hash) != 0) {
            OPENSSL_cleanse(token, MNAP_REG_TOKEN_LEN);
            return MNAP_REG_E_CRYPTO;
        }
    }
    e = reg_tx(r, login_tx, &l);
    if (e == MNAP_REG_OK && !l.ok) {
        e = l.locked_now ? MNAP_REG_E_LOCKED : MNAP_REG_E_AUTH;
    }
    if (e != MNAP_REG_OK) {
        if (l.ok) {
            OPENSSL_cleanse(token, MNAP_REG_TOKEN_LEN);
        }
        return e;
    }
    reg_copy(actor->municipality, sizeof actor->municipality, municipality);
    reg_copy(actor->operator_id, sizeof actor->operator_id, id);
    actor->role = role;
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_session_resume(mnap_reg *r, const uint8_t token[MNAP_REG_TOKEN_LEN],
                                     mnap_reg_actor *actor)
{
    char th[65];
    const char *params[1] = { th };
    reg_rows rows;
    mnap_reg_err e;

    if (r == NULL || token == NULL || actor == NULL) {
        return MNAP_REG_E_PARAM;
    }
    memset(actor, 0, sizeof *actor);
    if (token_hash(token, th) != 0) {
        return MNAP_REG_E_CRYPTO;
    }
    e = reg_get_one(r,
                    "SELECT s.token_hash, s.municipality, s.operator, s.expires_at, o.role, o.locked "
                    "FROM sessions s JOIN operators o ON o.municipality = s.municipality AND o.id = s.operator "
                    "WHERE s.token_hash = $1",
                    false, 1, params, MNAP_REG_E_SESSION, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    e = MNAP_REG_E_SESSION;
    if (reg_cell(&rows, 0, 0) != NULL && strlen(reg_cell(&rows, 0, 0)) == 64 &&
        CRYPTO_memcmp(reg_cell(&rows, 0, 0), th, 64) == 0 && reg_i64(reg_cell(&rows, 0, 3)) > reg_now(r) &&
        reg_i64(reg_cell(&rows, 0, 5)) == 0 &&
        mnap_reg_role_parse(reg_cell(&rows, 0, 4), &actor->role) == MNAP_REG_OK) {
        reg_copy(actor->municipality, sizeof actor->municipality, reg_cell(&rows, 0, 1));
        reg_copy(actor->operator_id, sizeof actor->operator_id, reg_cell(&rows, 0, 2));
        e = MNAP_REG_OK;
    }
    reg_rows_free(&rows);
    if (e != MNAP_REG_OK) {
        memset(actor, 0, sizeof *actor);
    }
    return e;
}

mnap_reg_err mnap_reg_logout(mnap_reg *r, const uint8_t token[MNAP_REG_TOKEN_LEN])
{
    char th[65];
    const char *params[1] = { th };
    uint64_t n = 0;
    mnap_reg_err e;

    if (r == NULL || token == NULL) {
        return MNAP_REG_E_PARAM;
    }
    if (token_hash(token, th) != 0) {
        return MNAP_REG_E_CRYPTO;
    }
    e = reg_exec_changed(r, "DELETE FROM sessions WHERE token_hash = $1", 1, params, &n);
    if (e != MNAP_REG_OK) {
        return e;
    }
    return n == 1 ? MNAP_REG_OK : MNAP_REG_E_SESSION;
}
