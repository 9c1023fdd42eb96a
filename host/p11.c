/* p11.c: the PKCS#11 key source: key sets as secret-key objects in a token,
 * reached through p11-kit (module loading, RFC 7512 URIs).
 *
 * Object scheme (docs/host.md): a key set NAME is three CKO_SECRET_KEY /
 * CKK_AES objects labelled "NAME/enc", "NAME/mac" and "NAME/dek", each with
 * CKA_ID = KVN || kind (2 bytes; kind 01 master keys, 00 card keys).  Master
 * keys are CKA_SENSITIVE, not CKA_EXTRACTABLE, and usable only to derive
 * (CKA_DERIVE: SP 800-108 in the token), to MAC (CKA_SIGN: AES-CMAC as the
 * KDF's PRF) and to encrypt (CKA_ENCRYPT: the key check value).  Their value
 * is never asked for.  Card keys (transport keys, a card's own set) are
 * extractable: the host needs their value for SCP03.
 *
 * Per-card diversification (PROTOCOL.md §7) runs in the token, either as
 * CKM_SP800_108_COUNTER_KDF with an AES-CMAC PRF (the NSS softoken) or as
 * one C_Sign with CKM_AES_CMAC per KDF block (SoftHSMv2).  Its result, the
 * card's static keys, comes back to host memory (mnap_keyset), since the
 * SCP03 session computation and the key set data wrapping run there.
 *
 * The module: module-path in the URI, else MNAP_PKCS11_MODULE.  C_Initialize
 * gets MNAP_PKCS11_INIT_ARGS as pReserved when set (the NSS softoken's
 * "configdir='sql:DIR' ..." string).  One process may open a module several
 * times: it is initialised once and finalised with its last user. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "mnap_int.h"
#include "cm_cbc.h"
#include "cm_ct.h"
#include "cm_err.h"

/* PKCS#11 3.0 SP 800-108 definitions (p11-kit 0.24's header predates them). */
#define P11_CKM_SP800_108_COUNTER_KDF 0x000003acUL
#define P11_SP800_108_ITERATION_VARIABLE 0x00000001UL
#define P11_SP800_108_DKM_LENGTH 0x00000003UL
#define P11_SP800_108_BYTE_ARRAY 0x00000004UL
#define P11_SP800_108_DKM_LENGTH_SUM_OF_KEYS 0x00000001UL

typedef struct {
    CK_ULONG type;
    CK_VOID_PTR pValue;
    CK_ULONG ulValueLen;
} p11_prf_data_param;
typedef struct {
    CK_BBOOL bLittleEndian;
    CK_ULONG ulWidthInBits;
} p11_counter_format;
typedef struct {
    CK_ULONG dkmLengthMethod;
    CK_BBOOL bLittleEndian;
    CK_ULONG ulWidthInBits;
} p11_dkm_format;
typedef struct {
    CK_MECHANISM_TYPE prfType;
    CK_ULONG ulNumberOfDataParams;
    p11_prf_data_param *pDataParams;
    CK_ULONG ulAdditionalDerivedKeys;
    void *pAdditionalDerivedKeys;
} p11_kdf_params;

#define KIND_CARD 0x00
#define KIND_MASTER 0x01
#define MAX_NAMES MNAP_KS_MAX_ENTRIES

static const char *const suffix[3] = { "/enc", "/mac", "/dek" };

struct mnap_p11 {
    CK_FUNCTION_LIST *m;
    CK_SESSION_HANDLE s;
    int has_kdf, has_cmac, has_xor;
    int has_eddsa;               /* CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA */
    int use_kdf;                 /* diversify with the KDF mechanism, else C_Sign */
    char (*names)[MNAP_KS_NAME_MAX + 1];
    size_t n;
};

/* --- modules: one C_Initialize per module and process -------------------- */
typedef struct {
    CK_FUNCTION_LIST *m;
    unsigned refs;
} mod_ref;
static mod_ref mods[8];
static pthread_mutex_t mods_lock = PTHREAD_MUTEX_INITIALIZER;

static mnap_err mod_get(const char *path, const char *init_args, CK_FUNCTION_LIST **out)
{
    CK_FUNCTION_LIST *m;
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;
    size_t i, free_slot = sizeof(mods) / sizeof(mods[0]);
    mnap_err rc = MNAP_E_KS_TOKEN;

    m = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
    if (m == NULL)
        return MNAP_E_KS_TOKEN;
    pthread_mutex_lock(&mods_lock);
    for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        if (mods[i].refs != 0 && mods[i].m == m) {
            mods[i].refs++;
            pthread_mutex_unlock(&mods_lock);
            /* p11-kit counts its loads too: one release per load. */
            p11_kit_module_release(m);
            *out = m;
            return MNAP_OK;
        }
        if (mods[i].refs == 0 && free_slot == sizeof(mods) / sizeof(mods[0]))
            free_slot = i;
    }
    if (free_slot == sizeof(mods) / sizeof(mods[0])) {
        rc = MNAP_E_NOMEM;
        goto fail;
    }
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    args.pReserved = (void *)init_args;
    rv = m->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        goto fail;
    mods[free_slot].m = m;
    mods[free_slot].refs = 1;
    pthread_mutex_unlock(&mods_lock);
    *out = m;
    return MNAP_OK;
fail:
    pthread_mutex_unlock(&mods_lock);
    p11_kit_module_release(m);
    return rc;
}

static void mod_put(CK_FUNCTION_LIST *m)
{
    size_t i;

    pthread_mutex_lock(&mods_lock);
    for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        if (mods[i].refs != 0 && mods[i].m == m) {
            if (--mods[i].refs == 0) {
                (void)m->C_Finalize(NULL);
                p11_kit_module_release(m);
                mods[i].m = NULL;
            }
            break;
        }
    }
    pthread_mutex_unlock(&mods_lock);
}

/* --- small helpers ------------------------------------------------------- */
static mnap_err map_rv(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return MNAP_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE: return MNAP_E_KS_PASSPHRASE;
    case CKR_HOST_MEMORY: return MNAP_E_NOMEM;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID: return MNAP_E_KS_MECHANISM;
    default: return MNAP_E_KS_TOKEN;
    }
}

static void label_of(char *out, const char *name, int i, const char *extra)
{
    strcpy(out, name);
    strcat(out, suffix[i]);
    if (extra != NULL)
        strcat(out, extra);
}

#define LABEL_MAX (MNAP_KS_NAME_MAX + 16)

/* The one token object of class cls labelled label: MNAP_OK,
 * MNAP_E_KS_NOT_FOUND (none) or MNAP_E_KS_CORRUPT (several). */
static mnap_err find_obj(mnap_p11 *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *h)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[3] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv;

    rv = t->m->C_FindObjectsInit(t->s, tmpl, 3);
    if (rv != CKR_OK)
        return map_rv(rv);
    rv = t->m->C_FindObjects(t->s, found, 2, &n);
    (void)t->m->C_FindObjectsFinal(t->s);
    if (rv != CKR_OK)
        return map_rv(rv);
    if (n == 0)
        return MNAP_E_KS_NOT_FOUND;
    if (n > 1)
        return MNAP_E_KS_CORRUPT;
    *h = found[0];
    return MNAP_OK;
}

/* The one secret-key object labelled label (find_obj). */
static mnap_err find_label(mnap_p11 *t, const char *label, CK_OBJECT_HANDLE *h)
{
    return find_obj(t, CKO_SECRET_KEY, label, h);
}

static int has_name(const mnap_p11 *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (strcmp(t->names[i], name) == 0)
            return 1;
    return 0;
}

static void forget_name(mnap_p11 *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->names[i], name) == 0) {
            memmove(t->names[i], t->names[i + 1], (t->n - i - 1) * sizeof(t->names[0]));
            t->n--;
            return;
        }
    }
}

static void remember_name(mnap_p11 *t, const char *name)
{
    if (!has_name(t, name) && t->n < MAX_NAMES)
        strcpy(t->names[t->n++], name);
}

/* Every key set in the token: labels ending in "/enc" whose "/mac" and
 * "/dek" exist too. */
static mnap_err list_names(mnap_p11 *t)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[1] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE hs[64];
    CK_ULONG n = 0, i;
    CK_RV rv;
    char (*enc)[MNAP_KS_NAME_MAX + 1];
    size_t nenc = 0, j;
    mnap_err rc = MNAP_OK;

    enc = calloc(MAX_NAMES, sizeof(*enc));
    if (enc == NULL)
        return MNAP_E_NOMEM;
    rv = t->m->C_FindObjectsInit(t->s, tmpl, 1);
    if (rv != CKR_OK) {
        free(enc);
        return map_rv(rv);
    }
    do {
        rv = t->m->C_FindObjects(t->s, hs, 64, &n);
        if (rv != CKR_OK)
            break;
        for (i = 0; i < n; i++) {
            char label[LABEL_MAX + 1];
            CK_ATTRIBUTE a = { CKA_LABEL, label, LABEL_MAX };
            size_t l;
            if (t->m->C_GetAttributeValue(t->s, hs[i], &a, 1) != CKR_OK ||
                a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > LABEL_MAX)
                continue;
            l = a.ulValueLen;
            label[l] = '\0';
            if (l > 4 && l - 4 <= MNAP_KS_NAME_MAX && strcmp(label + l - 4, "/enc") == 0 &&
                nenc < MAX_NAMES) {
                label[l - 4] = '\0';
                if (mnap__ks_name_ok(label))
                    strcpy(enc[nenc++], label);
            }
        }
    } while (n == 64);
    (void)t->m->C_FindObjectsFinal(t->s);
    if (rv != CKR_OK)
        rc = map_rv(rv);
    for (j = 0; j < nenc && rc == MNAP_OK; j++) {
        char label[LABEL_MAX + 1];
        CK_OBJECT_HANDLE h;
        label_of(label, enc[j], 1, NULL);
        if (find_label(t, label, &h) != MNAP_OK)
            continue;
        label_of(label, enc[j], 2, NULL);
        if (find_label(t, label, &h) != MNAP_OK)
            continue;
        remember_name(t, enc[j]);
    }
    free(enc);
    return rc;
}

static int mech_flags(mnap_p11 *t, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech, CK_FLAGS want)
{
    CK_MECHANISM_INFO mi;

    memset(&mi, 0, sizeof(mi));
    return t->m->C_GetMechanismInfo(slot, mech, &mi) == CKR_OK && (mi.flags & want) == want;
}

/* --- open / close -------------------------------------------------------- */
mnap_err mnap__p11_open(mnap_p11 **out, const char *uri, const char *pin, size_t pin_len)
{
    P11KitUri *u = NULL;
    mnap_p11 *t = NULL;
    const char *path, *env;
    CK_SLOT_ID slots[64];
    CK_ULONG nslots = 64, i;
    CK_TOKEN_INFO ti;
    CK_RV rv;
    mnap_err rc;
    int found = 0;

    if (out == NULL || uri == NULL || (pin == NULL && pin_len))
        return MNAP_E_PARAM;
    *out = NULL;
    u = p11_kit_uri_new();
    if (u == NULL)
        return MNAP_E_NOMEM;
    if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) != P11_KIT_URI_OK) {
        p11_kit_uri_free(u);
        return MNAP_E_PARAM;
    }
    path = p11_kit_uri_get_module_path(u);
    if (path == NULL || *path == '\0')
        path = getenv("MNAP_PKCS11_MODULE");
    if (path == NULL || *path == '\0') {
        p11_kit_uri_free(u);
        return MNAP_E_KS_TOKEN;
    }
    t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->names = calloc(MAX_NAMES, sizeof(*t->names));
    if (t == NULL || t->names == NULL) {
        if (t != NULL)
            free(t);
        p11_kit_uri_free(u);
        return MNAP_E_NOMEM;
    }
    t->s = CK_INVALID_HANDLE;
    env = getenv("MNAP_PKCS11_INIT_ARGS");
    rc = mod_get(path, (env != NULL && *env != '\0') ? env : NULL, &t->m);
    if (rc != MNAP_OK) {
        free(t->names);
        free(t);
        p11_kit_uri_free(u);
        return rc;
    }
    rc = MNAP_E_KS_TOKEN;
    rv = t->m->C_GetSlotList(CK_TRUE, slots, &nslots);
    if (rv != CKR_OK)
        goto fail;
    for (i = 0; i < nslots; i++) {
        memset(&ti, 0, sizeof(ti));
        if (t->m->C_GetTokenInfo(slots[i], &ti) == CKR_OK && p11_kit_uri_match_token_info(u, &ti)) {
            found = 1;
            break;
        }
    }
    if (!found)
        goto fail;
    rv = t->m->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->s);
    if (rv != CKR_OK) {
        rc = map_rv(rv);
        goto fail;
    }
    rv = t->m->C_Login(t->s, CKU_USER, (CK_UTF8CHAR *)pin, pin_len);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        rc = map_rv(rv);
        if (rv == CKR_PIN_LOCKED)
            rc = MNAP_E_KS_PASSPHRASE;
        goto fail;
    }
    t->has_kdf = mech_flags(t, slots[i], P11_CKM_SP800_108_COUNTER_KDF, CKF_DERIVE);
    t->has_cmac = mech_flags(t, slots[i], CKM_AES_CMAC, CKF_SIGN);
    t->has_xor = mech_flags(t, slots[i], CKM_XOR_BASE_AND_DATA, CKF_DERIVE);
    t->has_eddsa = mech_flags(t, slots[i], CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR) &&
                   mech_flags(t, slots[i], CKM_EDDSA, CKF_SIGN);
    /* Card keys that must reach host memory (SCP03, key set data) come
     * from C_Sign: a key the KDF mechanism derives from a non-extractable
     * master is itself non-extractable (the NSS softoken enforces it).  The
     * KDF mechanism serves what can stay in the token (diversified KCVs). */
    env = getenv("MNAP_PKCS11_KDF");
    t->use_kdf = t->has_kdf && !(env != NULL && strcmp(env, "sign") == 0);
    if (!t->has_cmac) {
        rc = MNAP_E_KS_MECHANISM;
        goto fail;
    }
    rc = list_names(t);
    if (rc != MNAP_OK)
        goto fail;
    p11_kit_uri_free(u);
    *out = t;
    return MNAP_OK;
fail:
    p11_kit_uri_free(u);
    mnap__p11_close(t);
    return rc;
}

void mnap__p11_close(mnap_p11 *t)
{
    if (t == NULL)
        return;
    /* No C_Logout: the login belongs to the whole application, and another
     * open store may share it; closing the last session logs out. */
    if (t->s != CK_INVALID_HANDLE)
        (void)t->m->C_CloseSession(t->s);
    mod_put(t->m);
    free(t->names);
    free(t);
}

size_t mnap__p11_count(const mnap_p11 *t)
{
    return t->n;
}

const char *mnap__p11_name(const mnap_p11 *t, size_t i)
{
    return i < t->n ? t->names[i] : NULL;
}

const char *mnap__p11_method(const mnap_p11 *t)
{
    return t->use_kdf ? "C_Sign CKM_AES_CMAC; KCVs by CKM_SP800_108_COUNTER_KDF"
                      : "C_Sign CKM_AES_CMAC";
}

/* --- get ------------------------------------------------------------------ */
static mnap_err value_of(mnap_p11 *t, CK_OBJECT_HANDLE h, size_t key_len, uint8_t *out);

mnap_err mnap__p11_get(mnap_p11 *t, const char *name, mnap_keyset *out)
{
    CK_OBJECT_HANDLE h[3];
    uint8_t id[3][2 + LABEL_MAX];
    CK_ULONG vlen[3];
    CK_KEY_TYPE kt[3];
    mnap_keyset k;
    char label[LABEL_MAX + 1];
    mnap_err rc;
    int i;

    if (!mnap__ks_name_ok(name))
        return MNAP_E_KS_NOT_FOUND;
    memset(&k, 0, sizeof(k));
    for (i = 0; i < 3; i++) {
        CK_ATTRIBUTE a[3] = {
            { CKA_ID, id[i], sizeof(id[i]) },
            { CKA_VALUE_LEN, &vlen[i], sizeof(vlen[i]) },
            { CKA_KEY_TYPE, &kt[i], sizeof(kt[i]) },
        };
        label_of(label, name, i, NULL);
        rc = find_label(t, label, &h[i]);
        if (rc != MNAP_OK)
            return rc;
        if (t->m->C_GetAttributeValue(t->s, h[i], a, 3) != CKR_OK ||
            a[0].ulValueLen != 2 + strlen(label) || memcmp(id[i] + 2, label, strlen(label)) != 0)
            return MNAP_E_KS_CORRUPT;
        if (kt[i] != CKK_AES || (vlen[i] != 16 && vlen[i] != 24 && vlen[i] != 32) ||
            id[i][1] > KIND_MASTER || memcmp(id[i], id[0], 2) != 0 || vlen[i] != vlen[0])
            return MNAP_E_KS_CORRUPT;
    }
    k.key_len = (uint8_t)vlen[0];
    k.kvn = id[0][0];
    k.master = id[0][1] == KIND_MASTER;
    if (k.master) {
        for (i = 0; i < 3; i++)
            k.obj[i] = h[i];
    } else {
        uint8_t *dst[3] = { k.enc, k.mac, k.dek };
        for (i = 0; i < 3; i++) {
            rc = value_of(t, h[i], k.key_len, dst[i]);
            if (rc != MNAP_OK) {
                cm_wipe(&k, sizeof(k));
                return rc;
            }
        }
    }
    *out = k;
    cm_wipe(&k, sizeof(k));
    return MNAP_OK;
}

/* --- put / generate / remove --------------------------------------------- */
/* The attributes of a new key object: master keys sensitive and usable only
 * in the token, card keys readable. */
typedef struct {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    CK_BBOOL yes, no;
    CK_ULONG vlen;
    uint8_t id[2 + LABEL_MAX];
    char label[LABEL_MAX + 1];
    CK_ATTRIBUTE a[20];
    CK_ULONG n;
} tmpl_t;

static void tmpl_add(tmpl_t *x, CK_ATTRIBUTE_TYPE type, void *v, CK_ULONG len)
{
    x->a[x->n].type = type;
    x->a[x->n].pValue = v;
    x->a[x->n].ulValueLen = len;
    x->n++;
}

/* token: a token object (else a session object); value: NULL for
 * C_GenerateKey / C_DeriveKey (CKA_VALUE_LEN is given instead). */
static void key_tmpl(tmpl_t *x, const char *label, uint8_t kvn, int master, int token,
                     size_t key_len, const uint8_t *value, int with_len)
{
    memset(x, 0, sizeof(*x));
    x->cls = CKO_SECRET_KEY;
    x->kt = CKK_AES;
    x->yes = CK_TRUE;
    x->no = CK_FALSE;
    x->vlen = key_len;
    tmpl_add(x, CKA_CLASS, &x->cls, sizeof(x->cls));
    tmpl_add(x, CKA_KEY_TYPE, &x->kt, sizeof(x->kt));
    tmpl_add(x, CKA_TOKEN, token ? &x->yes : &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_PRIVATE, &x->yes, sizeof(CK_BBOOL));
    if (label != NULL) {
        x->id[0] = kvn;
        x->id[1] = master ? KIND_MASTER : KIND_CARD;
        strcpy(x->label, label);
        memcpy(x->id + 2, label, strlen(label));
        tmpl_add(x, CKA_LABEL, x->label, strlen(x->label));
        tmpl_add(x, CKA_ID, x->id, 2 + strlen(label));
    }
    tmpl_add(x, CKA_SENSITIVE, master ? &x->yes : &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_EXTRACTABLE, master ? &x->no : &x->yes, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_DERIVE, master ? &x->yes : &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_SIGN, master ? &x->yes : &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_ENCRYPT, master ? &x->yes : &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_DECRYPT, &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_WRAP, &x->no, sizeof(CK_BBOOL));
    tmpl_add(x, CKA_UNWRAP, &x->no, sizeof(CK_BBOOL));
    if (value != NULL)
        tmpl_add(x, CKA_VALUE, (void *)value, key_len);
    else if (with_len)
        tmpl_add(x, CKA_VALUE_LEN, &x->vlen, sizeof(x->vlen));
}

static void destroy(mnap_p11 *t, CK_OBJECT_HANDLE *h, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (h[i] != CK_INVALID_HANDLE)
            (void)t->m->C_DestroyObject(t->s, h[i]);
        h[i] = CK_INVALID_HANDLE;
    }
}

/* Makes room for a new set NAME: the old one (if any) goes first.  Not
 * atomic: a crash between this and the creation leaves the name without a
 * set (the NSS softoken does not find a token object again under a label
 * changed by C_SetAttributeValue, so a temporary label cannot be renamed). */
static mnap_err clear_set(mnap_p11 *t, const char *name)
{
    CK_OBJECT_HANDLE old;
    char label[LABEL_MAX + 1];
    int i;
    mnap_err rc;

    for (i = 0; i < 3; i++) {
        label_of(label, name, i, NULL);
        rc = find_label(t, label, &old);
        if (rc == MNAP_OK)
            destroy(t, &old, 1);
        else if (rc != MNAP_E_KS_NOT_FOUND)
            return rc;
    }
    forget_name(t, name);
    return MNAP_OK;
}

mnap_err mnap__p11_put(mnap_p11 *t, const char *name, const mnap_keyset *set)
{
    const uint8_t *src[3];
    CK_OBJECT_HANDLE nh[3] = { CK_INVALID_HANDLE, CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    tmpl_t x;
    char label[LABEL_MAX + 1];
    mnap_err rc;
    int i;

    if (!mnap__ks_name_ok(name) || set == NULL || set->src != NULL ||
        (set->key_len != 16 && set->key_len != 24 && set->key_len != 32))
        return MNAP_E_PARAM;
    rc = clear_set(t, name);
    if (rc != MNAP_OK)
        return rc;
    src[0] = set->enc;
    src[1] = set->mac;
    src[2] = set->dek;
    for (i = 0; i < 3; i++) {
        label_of(label, name, i, NULL);
        key_tmpl(&x, label, set->kvn, set->master, 1, set->key_len, src[i], 0);
        CK_RV rv = t->m->C_CreateObject(t->s, x.a, x.n, &nh[i]);
        cm_wipe(&x, sizeof(x));
        if (rv != CKR_OK) {
            destroy(t, nh, 3);
            return map_rv(rv);
        }
    }
    remember_name(t, name);
    return MNAP_OK;
}

mnap_err mnap__p11_generate(mnap_p11 *t, const char *name, uint8_t kvn, size_t key_len)
{
    CK_OBJECT_HANDLE nh[3] = { CK_INVALID_HANDLE, CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
    tmpl_t x;
    char label[LABEL_MAX + 1];
    mnap_err rc;
    int i;

    if (!mnap__ks_name_ok(name) || (key_len != 16 && key_len != 24 && key_len != 32))
        return MNAP_E_PARAM;
    rc = clear_set(t, name);
    if (rc != MNAP_OK)
        return rc;
    for (i = 0; i < 3; i++) {
        label_of(label, name, i, NULL);
        key_tmpl(&x, label, kvn, 1, 1, key_len, NULL, 1);
        CK_RV rv = t->m->C_GenerateKey(t->s, &mech, x.a, x.n, &nh[i]);
        if (rv != CKR_OK) {
            destroy(t, nh, 3);
            return map_rv(rv);
        }
    }
    remember_name(t, name);
    return MNAP_OK;
}

mnap_err mnap__p11_remove(mnap_p11 *t, const char *name)
{
    CK_OBJECT_HANDLE h[3];
    char label[LABEL_MAX + 1];
    mnap_err rc;
    int i;

    if (!mnap__ks_name_ok(name))
        return MNAP_E_KS_NOT_FOUND;
    for (i = 0; i < 3; i++) {
        label_of(label, name, i, NULL);
        rc = find_label(t, label, &h[i]);
        if (rc != MNAP_OK)
            return rc;
    }
    for (i = 0; i < 3; i++)
        if (t->m->C_DestroyObject(t->s, h[i]) != CKR_OK)
            return MNAP_E_KS_TOKEN;
    forget_name(t, name);
    return MNAP_OK;
}

/* --- operations on master keys in the token ------------------------------- */
mnap_err mnap__p11_kcv(mnap_p11 *t, const mnap_keyset *ks, uint8_t kcv[3][3])
{
    CK_MECHANISM mech = { CKM_AES_ECB, NULL, 0 };
    uint8_t in[16], out[16];
    CK_ULONG n;
    int i;

    memset(in, 0x01, sizeof(in));
    for (i = 0; i < 3; i++) {
        n = sizeof(out);
        if (t->m->C_EncryptInit(t->s, &mech, (CK_OBJECT_HANDLE)ks->obj[i]) != CKR_OK)
            return MNAP_E_KS_TOKEN;
        if (t->m->C_Encrypt(t->s, in, 16, out, &n) != CKR_OK || n != 16)
            return MNAP_E_KS_TOKEN;
        memcpy(kcv[i], out, 3);
    }
    cm_wipe(out, sizeof(out));
    return MNAP_OK;
}

/* The value of a non-master key object (a card key, or a key just derived)
 * in host memory.  A token that refuses CKA_VALUE of a token key (the NSS
 * softoken does, even for an extractable, non-sensitive one) wraps it
 * instead (CKM_AES_CBC_PAD, zero IV) under a one-time AES-256 key made for
 * this call and destroyed at once; the key is unwrapped here. */
static mnap_err wrap_out(mnap_p11 *t, CK_OBJECT_HANDLE h, size_t key_len, uint8_t *out)
{
    uint8_t iv[16], wk[32], wrapped[MNAP_KEY_MAX + 16], plain[MNAP_KEY_MAX + 16];
    CK_MECHANISM wmech = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG wlen = sizeof(wrapped);
    CK_ATTRIBUTE wtmpl[7] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_WRAP, &yes, sizeof(yes) },
        { CKA_ENCRYPT, &no, sizeof(no) },
        { CKA_DECRYPT, &no, sizeof(no) },
        { CKA_VALUE, wk, sizeof(wk) },
    };
    CK_OBJECT_HANDLE wh = CK_INVALID_HANDLE;
    cm_aes aes;
    mnap_err rc = MNAP_E_KS_TOKEN;
    CK_RV rv;
    size_t i;
    uint8_t bad = 0, pad;

    memset(iv, 0, sizeof(iv));
    if (mnap__random(wk, sizeof(wk)) != MNAP_OK)
        return MNAP_E_CRYPTO;
    rv = t->m->C_CreateObject(t->s, wtmpl, 7, &wh);
    if (rv == CKR_OK)
        rv = t->m->C_WrapKey(t->s, &wmech, wh, h, wrapped, &wlen);
    destroy(t, &wh, 1);
    /* PKCS#7 padding: a whole block after a 16- or 32-byte key, 8 bytes of
     * 08 after a 24-byte key. */
    if (rv != CKR_OK) {
        rc = map_rv(rv);
    } else if (wlen == ((key_len / 16) + 1) * 16) {
        mnap__aes_init(&aes);
        pad = (uint8_t)(wlen - key_len);
        if (cm_cbc_decrypt(&aes, wk, sizeof(wk), iv, wrapped, plain, wlen) == CM_OK) {
            for (i = key_len; i < wlen; i++)
                bad |= (uint8_t)(plain[i] ^ pad);
            if (bad == 0) {
                memcpy(out, plain, key_len);
                rc = MNAP_OK;
            }
        }
    }
    cm_wipe(wk, sizeof(wk));
    cm_wipe(wrapped, sizeof(wrapped));
    cm_wipe(plain, sizeof(plain));
    return rc;
}

static mnap_err value_of(mnap_p11 *t, CK_OBJECT_HANDLE h, size_t key_len, uint8_t *out)
{
    CK_ATTRIBUTE a = { CKA_VALUE, out, key_len };
    CK_RV rv = t->m->C_GetAttributeValue(t->s, h, &a, 1);

    if (rv == CKR_OK && a.ulValueLen == key_len)
        return MNAP_OK;
    cm_wipe(out, key_len);
    if (rv == CKR_ATTRIBUTE_SENSITIVE)
        return wrap_out(t, h, key_len, out);
    return MNAP_E_KS_CORRUPT;
}

/* One key of PROTOCOL.md §7 with the KDF mechanism, as a session object that
 * never leaves the token: sensitive, not extractable (as its master), usable
 * to encrypt (its KCV) and to sign (tests compare a CMAC under it). */
static mnap_err kdf_obj(mnap_p11 *t, CK_OBJECT_HANDLE base, uint8_t constant, const uint8_t *div,
                        size_t key_len, CK_OBJECT_HANDLE *h)
{
    uint8_t label[13];
    p11_counter_format ctr = { CK_FALSE, 8 };
    p11_dkm_format dkm = { P11_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_FALSE, 16 };
    p11_prf_data_param dp[4] = {
        { P11_SP800_108_BYTE_ARRAY, label, sizeof(label) },
        { P11_SP800_108_DKM_LENGTH, &dkm, sizeof(dkm) },
        { P11_SP800_108_ITERATION_VARIABLE, &ctr, sizeof(ctr) },
        { P11_SP800_108_BYTE_ARRAY, (void *)div, MNAP_DIV_DATA_LEN },
    };
    p11_kdf_params kp = { CKM_AES_CMAC, 4, dp, 0, NULL };
    CK_MECHANISM mech = { P11_CKM_SP800_108_COUNTER_KDF, &kp, sizeof(kp) };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG vlen = key_len;
    CK_ATTRIBUTE tmpl[8] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &vlen, sizeof(vlen) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_SIGN, &yes, sizeof(yes) },
    };

    /* label: 11 zero bytes, the constant, the 00 separator */
    memset(label, 0, sizeof(label));
    label[11] = constant;
    *h = CK_INVALID_HANDLE;
    return map_rv(t->m->C_DeriveKey(t->s, &mech, base, tmpl, 8, h));
}

int mnap__p11_has_kdf(const mnap_p11 *t)
{
    return t->use_kdf;
}

/* The diversified keys' KCVs (and, for tests, a CMAC of msg under each),
 * the keys derived by the KDF mechanism and destroyed without leaving the
 * token. */
mnap_err mnap__p11_kdf_check(mnap_p11 *t, const mnap_keyset *master, const uint8_t *div,
                             uint8_t kcv[3][3], const uint8_t *msg, size_t msg_len,
                             uint8_t mac[3][16])
{
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    CK_MECHANISM cmac = { CKM_AES_CMAC, NULL, 0 };
    uint8_t in[16], out[16];
    CK_OBJECT_HANDLE h;
    CK_ULONG n;
    CK_RV rv;
    mnap_err rc;
    int i;

    if (!t->has_kdf)
        return MNAP_E_KS_MECHANISM;
    memset(in, 0x01, sizeof(in));
    for (i = 0; i < 3; i++) {
        rc = kdf_obj(t, (CK_OBJECT_HANDLE)master->obj[i], (uint8_t)(0x11 + i), div,
                     master->key_len, &h);
        if (rc != MNAP_OK)
            return rc;
        n = sizeof(out);
        rv = t->m->C_EncryptInit(t->s, &ecb, h);
        if (rv == CKR_OK)
            rv = t->m->C_Encrypt(t->s, in, 16, out, &n);
        if (rv == CKR_OK && n == 16)
            memcpy(kcv[i], out, 3);
        if (rv == CKR_OK && mac != NULL) {
            n = 16;
            rv = t->m->C_SignInit(t->s, &cmac, h);
            if (rv == CKR_OK)
                rv = t->m->C_Sign(t->s, (CK_BYTE_PTR)msg, msg_len, mac[i], &n);
            if (rv == CKR_OK && n != 16)
                rv = CKR_FUNCTION_FAILED;
        }
        destroy(t, &h, 1);
        cm_wipe(out, sizeof(out));
        if (rv != CKR_OK)
            return map_rv(rv);
    }
    return MNAP_OK;
}

/* The same with the PRF alone: one AES-CMAC per 16-byte block of output,
 * the KDF input block built here. */
static mnap_err div_sign(mnap_p11 *t, CK_OBJECT_HANDLE base, uint8_t constant, const uint8_t *div,
                         size_t key_len, uint8_t *out)
{
    CK_MECHANISM mech = { CKM_AES_CMAC, NULL, 0 };
    uint8_t in[16 + MNAP_DIV_DATA_LEN], mac[16];
    size_t done = 0, take;
    uint8_t i;
    CK_ULONG n;
    CK_RV rv;

    memset(in, 0, sizeof(in));
    in[11] = constant;
    in[12] = 0x00;
    in[13] = (uint8_t)((key_len * 8) >> 8);
    in[14] = (uint8_t)(key_len * 8);
    memcpy(in + 16, div, MNAP_DIV_DATA_LEN);
    for (i = 1; done < key_len; i++) {
        in[15] = i;
        n = sizeof(mac);
        rv = t->m->C_SignInit(t->s, &mech, base);
        if (rv == CKR_OK)
            rv = t->m->C_Sign(t->s, in, sizeof(in), mac, &n);
        if (rv != CKR_OK || n != 16) {
            cm_wipe(mac, sizeof(mac));
            cm_wipe(out, key_len);
            return rv != CKR_OK ? map_rv(rv) : MNAP_E_KS_TOKEN;
        }
        take = key_len - done < 16 ? key_len - done : 16;
        memcpy(out + done, mac, take);
        done += take;
    }
    cm_wipe(mac, sizeof(mac));
    return MNAP_OK;
}

mnap_err mnap__p11_diversify(mnap_p11 *t, const mnap_keyset *master, const uint8_t *div,
                             mnap_keyset *out)
{
    uint8_t *dst[3];
    mnap_keyset k;
    mnap_err rc = MNAP_OK;
    int i;

    memset(&k, 0, sizeof(k));
    dst[0] = k.enc;
    dst[1] = k.mac;
    dst[2] = k.dek;
    for (i = 0; i < 3 && rc == MNAP_OK; i++) {
        CK_OBJECT_HANDLE base = (CK_OBJECT_HANDLE)master->obj[i];
        uint8_t constant = (uint8_t)(0x11 + i);   /* CM_DC_DIV_ENC, _MAC, _DEK */
        rc = div_sign(t, base, constant, div, master->key_len, dst[i]);
    }
    if (rc != MNAP_OK) {
        cm_wipe(&k, sizeof(k));
        return rc;
    }
    k.key_len = master->key_len;
    k.kvn = master->kvn;
    *out = k;
    cm_wipe(&k, sizeof(k));
    return MNAP_OK;
}

/* --- key ceremony ----------------------------------------------------------- */
struct mnap_p11_cer {
    mnap_p11 *t;
    size_t key_len;
    unsigned parts;
    int in_token;                    /* CKM_XOR_BASE_AND_DATA */
    CK_OBJECT_HANDLE h[3];           /* in_token: the running XOR, session objects */
    uint8_t acc[3][MNAP_KEY_MAX];    /* otherwise: the running XOR in host memory */
};

int mnap__p11_xor_in_token(const mnap_p11 *t)
{
    return t->has_xor;
}

/* Whether C_DeriveKey performs CKM_XOR_BASE_AND_DATA, tried on a throwaway
 * random session key: the NSS softoken does though C_GetMechanismInfo does
 * not list it. */
static int xor_works(mnap_p11 *t)
{
    uint8_t v[16], d[16];
    CK_KEY_DERIVATION_STRING_DATA sd;
    CK_MECHANISM mech = { CKM_XOR_BASE_AND_DATA, &sd, sizeof(sd) };
    CK_OBJECT_HANDLE h[2] = { CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    tmpl_t x;
    CK_RV rv;

    if (mnap__random(v, sizeof(v)) != MNAP_OK)
        return 0;
    memset(d, 0x5A, sizeof(d));
    sd.pData = d;
    sd.ulLen = sizeof(d);
    key_tmpl(&x, NULL, 0, 1, 0, sizeof(v), v, 0);
    rv = t->m->C_CreateObject(t->s, x.a, x.n, &h[0]);
    cm_wipe(&x, sizeof(x));
    cm_wipe(v, sizeof(v));
    if (rv == CKR_OK) {
        key_tmpl(&x, NULL, 0, 1, 0, sizeof(v), NULL, 1);
        rv = t->m->C_DeriveKey(t->s, &mech, h[0], x.a, x.n, &h[1]);
    }
    destroy(t, h, 2);
    return rv == CKR_OK;
}

mnap_err mnap__p11_cer_begin(mnap_p11 *t, size_t key_len, mnap_p11_cer **out)
{
    mnap_p11_cer *c;
    const char *env = getenv("MNAP_PKCS11_XOR");

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return MNAP_E_NOMEM;
    c->t = t;
    c->key_len = key_len;
    c->in_token = (t->has_xor || xor_works(t)) && !(env != NULL && strcmp(env, "host") == 0);
    c->h[0] = c->h[1] = c->h[2] = CK_INVALID_HANDLE;
    *out = c;
    return MNAP_OK;
}

int mnap__p11_cer_in_token(const mnap_p11_cer *c)
{
    return c->in_token;
}

/* XOR of the running value with data (in the token); final: the result is
 * the master key set's token object NAME/xxx. */
static mnap_err xor_step(mnap_p11_cer *c, int i, const uint8_t *data, const char *final_label,
                         uint8_t kvn, CK_OBJECT_HANDLE *nh)
{
    mnap_p11 *t = c->t;
    CK_KEY_DERIVATION_STRING_DATA sd;
    CK_MECHANISM mech = { CKM_XOR_BASE_AND_DATA, &sd, sizeof(sd) };
    tmpl_t x;
    CK_RV rv;

    sd.pData = (CK_BYTE_PTR)data;
    sd.ulLen = c->key_len;
    key_tmpl(&x, final_label, kvn, 1, final_label != NULL, c->key_len, NULL, 1);
    rv = t->m->C_DeriveKey(t->s, &mech, c->h[i], x.a, x.n, nh);
    return map_rv(rv);
}

mnap_err mnap__p11_cer_add(mnap_p11_cer *c, const mnap_keyset *part)
{
    const uint8_t *src[3] = { part->enc, part->mac, part->dek };
    mnap_p11 *t = c->t;
    int i;
    size_t j;

    if (part->key_len != c->key_len)
        return MNAP_E_PARAM;
    for (i = 0; i < 3; i++) {
        if (!c->in_token) {
            for (j = 0; j < c->key_len; j++)
                c->acc[i][j] ^= src[i][j];
            continue;
        }
        if (c->parts == 0) {
            /* The first component becomes a session key: sensitive, usable
             * only as the base of the next XOR. */
            tmpl_t x;
            CK_RV rv;
            key_tmpl(&x, NULL, 0, 1, 0, c->key_len, src[i], 0);
            rv = t->m->C_CreateObject(t->s, x.a, x.n, &c->h[i]);
            cm_wipe(&x, sizeof(x));
            if (rv != CKR_OK)
                return map_rv(rv);
        } else {
            CK_OBJECT_HANDLE nh = CK_INVALID_HANDLE;
            mnap_err rc = xor_step(c, i, src[i], NULL, 0, &nh);
            if (rc != MNAP_OK)
                return rc;
            destroy(t, &c->h[i], 1);
            c->h[i] = nh;
        }
    }
    c->parts++;
    return MNAP_OK;
}

mnap_err mnap__p11_cer_finish(mnap_p11_cer *c, const char *name, uint8_t kvn)
{
    mnap_p11 *t = c->t;
    CK_OBJECT_HANDLE nh[3] = { CK_INVALID_HANDLE, CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    uint8_t zero[MNAP_KEY_MAX];
    char label[LABEL_MAX + 1];
    mnap_keyset k;
    mnap_err rc;
    int i;

    if (!mnap__ks_name_ok(name) || c->parts < 2)
        return MNAP_E_PARAM;
    if (!c->in_token) {
        rc = mnap_keyset_set(&k, kvn, c->acc[0], c->acc[1], c->acc[2], c->key_len, 1);
        cm_wipe(c->acc, sizeof(c->acc));
        if (rc == MNAP_OK)
            rc = mnap__p11_put(t, name, &k);
        mnap_keyset_wipe(&k);
        return rc;
    }
    rc = clear_set(t, name);
    if (rc != MNAP_OK)
        return rc;
    memset(zero, 0, sizeof(zero));
    for (i = 0; i < 3; i++) {
        /* XOR with zeros: the running value becomes the token object. */
        label_of(label, name, i, NULL);
        rc = xor_step(c, i, zero, label, kvn, &nh[i]);
        if (rc != MNAP_OK) {
            destroy(t, nh, 3);
            return rc;
        }
    }
    remember_name(t, name);
    return MNAP_OK;
}

void mnap__p11_cer_free(mnap_p11_cer *c)
{
    if (c == NULL)
        return;
    if (c->in_token)
        destroy(c->t, c->h, 3);
    cm_wipe(c, sizeof(*c));
    free(c);
}

/* --- Ed25519 signing keys (the stop list, audit checkpoints) ------------------------
 * A key pair labelled "NAME/ed25519": the private key CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, usable only to sign (CKM_EDDSA); the public key readable
 * (CKA_EC_POINT).  CKA_EC_PARAMS is the curve's OID 1.3.101.112. */
static const uint8_t ed25519_oid[] = { 0x06, 0x03, 0x2B, 0x65, 0x70 };

static void ed_label(char out[LABEL_MAX + 1], const char *name)
{
    strcpy(out, name);
    strcat(out, "/ed25519");
}

int mnap__p11_has_eddsa(const mnap_p11 *t)
{
    return t != NULL && t->has_eddsa;
}

mnap_err mnap__p11_ed_generate(mnap_p11 *t, const char *name)
{
    char label[LABEL_MAX + 1];
    CK_OBJECT_HANDLE h, pub, priv;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_RV rv;

    if (!mnap__ks_name_ok(name))
        return MNAP_E_PARAM;
    if (!t->has_eddsa)
        return MNAP_E_KS_MECHANISM;
    ed_label(label, name);
    if (find_obj(t, CKO_PRIVATE_KEY, label, &h) != MNAP_E_KS_NOT_FOUND ||
        find_obj(t, CKO_PUBLIC_KEY, label, &h) != MNAP_E_KS_NOT_FOUND)
        return MNAP_E_PARAM; /* one key pair per name: remove the old one first */
    CK_ATTRIBUTE pa[] = {
        { CKA_CLASS, &pubc, sizeof(pubc) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_EC_PARAMS, (void *)ed25519_oid, sizeof(ed25519_oid) },
        { CKA_LABEL, label, strlen(label) },
    };
    CK_ATTRIBUTE va[] = {
        { CKA_CLASS, &privc, sizeof(privc) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_DERIVE, &no, sizeof(no) },
        { CKA_LABEL, label, strlen(label) },
    };
    rv = t->m->C_GenerateKeyPair(t->s, &mech, pa, sizeof pa / sizeof pa[0], va, sizeof va / sizeof va[0], &pub,
                                 &priv);
    return rv == CKR_OK ? MNAP_OK : map_rv(rv);
}

mnap_err mnap__p11_ed_public(mnap_p11 *t, const char *name, uint8_t pub[32])
{
    char label[LABEL_MAX + 1];
    CK_OBJECT_HANDLE h;
    uint8_t point[80];
    CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof(point) };
    mnap_err rc;

    if (!mnap__ks_name_ok(name))
        return MNAP_E_KS_NOT_FOUND;
    ed_label(label, name);
    rc = find_obj(t, CKO_PUBLIC_KEY, label, &h);
    if (rc != MNAP_OK)
        return rc;
    if (t->m->C_GetAttributeValue(t->s, h, &a, 1) != CKR_OK)
        return MNAP_E_KS_TOKEN;
    /* The 32 bytes, bare or as a DER OCTET STRING (04 20 ...). */
    if (a.ulValueLen == 32) {
        memcpy(pub, point, 32);
    } else if (a.ulValueLen == 34 && point[0] == 0x04 && point[1] == 0x20) {
        memcpy(pub, point + 2, 32);
    } else {
        return MNAP_E_KS_CORRUPT;
    }
    return MNAP_OK;
}

mnap_err mnap__p11_ed_sign(mnap_p11 *t, const char *name, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    char label[LABEL_MAX + 1];
    CK_OBJECT_HANDLE h;
    CK_MECHANISM mech = { CKM_EDDSA, NULL, 0 };
    CK_ULONG siglen = 64;
    mnap_err rc;
    CK_RV rv;

    if (!mnap__ks_name_ok(name))
        return MNAP_E_KS_NOT_FOUND;
    if (!t->has_eddsa)
        return MNAP_E_KS_MECHANISM;
    ed_label(label, name);
    rc = find_obj(t, CKO_PRIVATE_KEY, label, &h);
    if (rc != MNAP_OK)
        return rc;
    rv = t->m->C_SignInit(t->s, &mech, h);
    if (rv == CKR_OK)
        rv = t->m->C_Sign(t->s, (CK_BYTE_PTR)msg, (CK_ULONG)len, sig, &siglen);
    if (rv != CKR_OK)
        return map_rv(rv);
    return siglen == 64 ? MNAP_OK : MNAP_E_KS_TOKEN;
}
