/* cmd_keys.c: `mnap keys`: the encrypted key store of the terminal.  Key
 * values go in (from a file or stdin, never the command line, where `ps`
 * would show them) and never come out: only key check values are printed. */
#include "audit.h"
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "secret.h"
#include "cm_ct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct keys_opts {
    unsigned kdf_cost;
    int kvn;                 /* -1: not given */
    bool master;
    bool force;
    size_t length;
    const char *file;
    const char *div;
    const char *as;
    const char *officer[4];
    int officers;
} keys_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    keys_opts *o = user;
    char *end = NULL;
    unsigned long v;

    switch (opt) {
    case 'k':
        v = strtoul(arg, &end, 10);
        /* With r = 8 the key store's work bound (N * r * p <= 2^22, 16 times
         * the default) allows N up to 2^19. */
        if (*end != '\0' || v < 10 || v > 19) {
            cli_error("--kdf-cost: log2 of scrypt's N, 10 to 19");
            return -1;
        }
        o->kdf_cost = (unsigned)v;
        return 0;
    case 'v':
        v = strtoul(arg, &end, 16);
        if (*end != '\0' || end == arg || v == 0 || (v > 0x7F && v != 0xFF)) {
            cli_error("--kvn: a key version number in hex, 01 to 7F or FF");
            return -1;
        }
        o->kvn = (int)v;
        return 0;
    case 'm':
        o->master = true;
        return 0;
    case 'f':
        o->force = true;
        return 0;
    case 'l':
        v = strtoul(arg, &end, 10);
        if (*end != '\0' || (v != 16 && v != 24 && v != 32)) {
            cli_error("--length: 16, 24 or 32 bytes");
            return -1;
        }
        o->length = v;
        return 0;
    case 'F':
        o->file = arg;
        return 0;
    case 'd':
        o->div = arg;
        return 0;
    case 'a':
        o->as = arg;
        return 0;
    case 'o':
        if (o->officers == 3) {
            cli_error("--officer: two or three officers");
            return -1;
        }
        if (*arg == '\0' || strlen(arg) > 64) {
            cli_error("--officer: an officer ID of 1 to 64 characters");
            return -1;
        }
        o->officer[o->officers++] = arg;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "kdf-cost", required_argument, NULL, 'k' },
    { "kvn", required_argument, NULL, 'v' },
    { "master", no_argument, NULL, 'm' },
    { "force", no_argument, NULL, 'f' },
    { "length", required_argument, NULL, 'l' },
    { "file", required_argument, NULL, 'F' },
    { "div", required_argument, NULL, 'd' },
    { "as", required_argument, NULL, 'a' },
    { "officer", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 }
};

static int parse(int argc, char **argv, keys_opts *o, int *first)
{
    memset(o, 0, sizeof *o);
    o->kvn = -1;
    o->length = 16;
    return cli_getopt(argc, argv, opts, on_opt, o, first) == 0 ? 0 : -1;
}

static const char u_init[] = N_(
    "keys init [--kdf-cost LOG2N] [--force]\n"
    "  Creates an empty key store (--keystore PATH).  The passphrase comes from\n"
    "  MNAP_PASSPHRASE or is asked twice without echo.  --kdf-cost sets scrypt's\n"
    "  N = 2^LOG2N (10..19, default 15).  An existing store is kept unless --force.\n"
    "  With --keystore 'pkcs11:token=LABEL' it checks the token and its PIN\n"
    "  (the token itself is initialised with its own tools: docs/cli.md).\n");
static const char u_import[] = N_(
    "keys import NAME --kvn KVN [--master] [--file PATH] [--force]\n"
    "  Adds a key set read from PATH or stdin: one line of hex (the same key for\n"
    "  ENC, MAC and DEK) or three lines (ENC, MAC, DEK), 16/24/32 bytes each.\n"
    "  --master marks master keys, diversified per card.  Prints the KCVs.\n"
    "  Names mnap uses: transport, region, and each AP manifest's key_set\n"
    "  (library, certificate in tools/examples).\n");
static const char u_generate[] = N_(
    "keys generate NAME --kvn KVN [--length 16|24|32] [--master] [--force]\n"
    "  Adds a key set of fresh random keys (OpenSSL RAND_bytes).  Prints the KCVs.\n"
    "  In a PKCS#11 token, master keys are generated inside it and never leave it.\n");
static const char u_ceremony[] = N_(
    "keys ceremony NAME --kvn KVN --officer ID --officer ID [--officer ID]\n"
    "                   [--length 16|24|32] [--force]\n"
    "  Creates master key set NAME from two or three key components, one per\n"
    "  officer, each three keys ENC, MAC, DEK (hex), typed without echo on the\n"
    "  terminal or given as three lines per officer on stdin.  Prints each\n"
    "  component's KCVs for its officer to check, then the master keys' KCVs;\n"
    "  the master keys are the XOR of the components, combined in the token\n"
    "  where it can (docs/host.md).  The audit log gets a line per officer.\n");
static const char u_derive[] = N_(
    "keys derive NAME --div HEX [--as NEWNAME] [--force]\n"
    "  Diversifies the master key set NAME for one card (10 bytes of diversification\n"
    "  data, PROTOCOL.md section 7), prints the card keys' KCVs, and with --as\n"
    "  stores them as a card key set.\n");
static const char u_list[] = N_(
    "keys list\n"
    "  Lists the key sets: name, KVN, key length, master or card keys, KCVs.\n");
static const char u_remove[] = N_(
    "keys remove NAME\n"
    "  Removes a key set (the store is rewritten atomically).\n");

/* An opened store and the passphrase it was opened with, for the save. */
typedef struct store {
    mnap_keystore *ks;
    mnap_kslock *lock;   /* held from the load to the save (read-modify-write) */
    char pass[SECRET_MAX];
    size_t pass_len;
} store;

/* For a read-modify-write, locked: two terminals changing one store take
 * turns, and neither loses the other's change. */
static int store_open_for(const cli *c, store *s, bool locked)
{
    s->pass_len = 0;
    s->lock = NULL;
    return ks_open_pass(c, &s->ks, locked ? &s->lock : NULL, s->pass, sizeof s->pass, &s->pass_len);
}

static int store_open(const cli *c, store *s)
{
    return store_open_for(c, s, true);
}

static void store_close(store *s)
{
    mnap_keystore_free(s->ks);
    s->ks = NULL;
    mnap_keystore_unlock(s->lock);
    s->lock = NULL;
    cm_wipe(s->pass, sizeof s->pass);
}

/* Saves with the passphrase of the load (atomic: the library writes a temp
 * file and renames it). */
static int save(const cli *c, store *s)
{
    mnap_err e = mnap_keystore_save(s->ks, c->keystore, s->pass, s->pass_len);

    if (e != MNAP_OK) {
        cli_error("key store %s: %s [%s]", c->keystore, cli_strerror(e), mnap_err_name(e));
        return e == MNAP_E_IO ? EX_LOCAL : EX_KEYSTORE;
    }
    return EX_OK;
}

/* The officers took their time with the store unlocked: now take the lock,
 * load the store again (other terminals may have changed it meanwhile) and
 * put there the key set name of st (a token holds it already). */
static int commit_fresh(const cli *c, store *st, const char *name, bool force)
{
    mnap_keystore *fresh = NULL;
    mnap_kslock *lock = NULL;
    mnap_keyset set;
    mnap_err e;
    int rc;

    if (mnap_keystore_is_token(st->ks)) {
        return EX_OK;
    }
    rc = ks_lock(c, &lock);
    if (rc != EX_OK) {
        return rc;
    }
    e = mnap_keystore_load(&fresh, c->keystore, st->pass, st->pass_len);
    if (e == MNAP_OK && !force && mnap_keystore_get(fresh, name, &set) == MNAP_OK) {
        mnap_keyset_wipe(&set);
        cli_error("key set '%s' was created by another command meanwhile (--force replaces it)", name);
        rc = EX_KEYSTORE;
    } else if (e == MNAP_OK && (e = mnap_keystore_get(st->ks, name, &set)) == MNAP_OK) {
        e = mnap_keystore_put(fresh, name, &set);
        mnap_keyset_wipe(&set);
        if (e == MNAP_OK) {
            e = mnap_keystore_save(fresh, c->keystore, st->pass, st->pass_len);
        }
    }
    if (rc == EX_OK && e != MNAP_OK) {
        cli_error("key store %s: %s [%s]", c->keystore, cli_strerror(e), mnap_err_name(e));
        rc = e == MNAP_E_IO ? EX_LOCAL : EX_KEYSTORE;
    }
    mnap_keystore_free(fresh);
    mnap_keystore_unlock(lock);
    return rc;
}

static void print_kcv_raw(const cli *c, const char *name, uint8_t kvn, size_t key_len, bool master,
                          const uint8_t ke[3], const uint8_t km[3], const uint8_t kd[3], bool first)
{
    char he[7], hm[7], hd[7];

    mt_hex_encode(ke, 3, he, MT_HEX_UPPER);
    mt_hex_encode(km, 3, hm, MT_HEX_UPPER);
    mt_hex_encode(kd, 3, hd, MT_HEX_UPPER);
    if (c->json) {
        printf("%s{\"name\":", first ? "" : ",");
        cli_json_str(stdout, name);
        printf(",\"kvn\":\"%02X\",\"key_length\":%zu,\"master\":%s,"
               "\"kcv\":{\"enc\":\"%s\",\"mac\":\"%s\",\"dek\":\"%s\"}}",
               kvn, key_len, master ? "true" : "false", he, hm, hd);
    } else {
        printf(_("%-24s KVN %02X  AES-%zu  %-6s  KCV ENC %s MAC %s DEK %s\n"), name, kvn,
               key_len * 8u, master ? "master" : "card", he, hm, hd);
    }
}

static void print_kcv(const cli *c, const char *name, const mnap_keyset *ks, bool first)
{
    uint8_t ke[3], km[3], kd[3];

    if (mnap_keyset_kcv(ks, ke, km, kd) != MNAP_OK) {
        memset(ke, 0, 3);
        memset(km, 0, 3);
        memset(kd, 0, 3);
    }
    print_kcv_raw(c, name, ks->kvn, ks->key_len, ks->master != 0, ke, km, kd, first);
}

static int keys_init(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    struct stat st;
    char pass[SECRET_MAX];
    size_t len = 0;
    mnap_keystore *ks = NULL;
    mnap_err e;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 0, 0, u_init) != 0) {
        return EX_USAGE;
    }
    if (strncmp(c->keystore, "pkcs11:", 7) == 0) {
        /* A token is initialised by its own tools; here: is it reachable,
         * is the PIN right. */
        store tok;
        int rc = store_open_for(c, &tok, false);
        if (rc == EX_OK) {
            printf(_("token %s ready: %zu key set(s); diversification by %s\n"), c->keystore,
                   mnap_keystore_count(tok.ks), mnap_keystore_method(tok.ks));
        }
        store_close(&tok);
        return rc;
    }
    if (stat(c->keystore, &st) == 0 && !o.force) {
        cli_error("key store %s exists (--force replaces it)", c->keystore);
        return EX_KEYSTORE;
    }
    if (cli_mkdirs_for(c->keystore) != 0) {
        cli_error("%s: cannot create its directory: %s", c->keystore, strerror(errno));
        return EX_LOCAL;
    }
    if (secret_passphrase(true, pass, sizeof pass, &len) != 0) {
        return EX_KEYSTORE;
    }
    /* Under the lock, look again: another terminal may have created it. */
    mnap_kslock *lock = NULL;
    int lrc = ks_lock(c, &lock);
    if (lrc != EX_OK) {
        cm_wipe(pass, sizeof pass);
        return lrc;
    }
    if (stat(c->keystore, &st) == 0 && !o.force) {
        mnap_keystore_unlock(lock);
        cm_wipe(pass, sizeof pass);
        cli_error("key store %s exists (--force replaces it)", c->keystore);
        return EX_KEYSTORE;
    }
    e = mnap_keystore_new(&ks);
    if (e == MNAP_OK && o.kdf_cost != 0) {
        e = mnap_keystore_set_kdf(ks, o.kdf_cost, 8, 1);
    }
    if (e == MNAP_OK) {
        e = mnap_keystore_save(ks, c->keystore, pass, len);
    }
    cm_wipe(pass, sizeof pass);
    mnap_keystore_free(ks);
    mnap_keystore_unlock(lock);
    if (e != MNAP_OK) {
        cli_error("key store %s: %s", c->keystore, cli_strerror(e));
        return e == MNAP_E_IO ? EX_LOCAL : EX_KEYSTORE;
    }
    printf(_("key store %s created\n"), c->keystore);
    return EX_OK;
}

/* Reads one or three hex keys, one per line, from f. */
static int read_keys(FILE *f, uint8_t keys[3][MNAP_KEY_MAX], size_t *key_len)
{
    char line[256];
    size_t lens[3];
    int n = 0;
    int rc = -1;

    while (fgets(line, sizeof line, f) != NULL) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (l == 0) {
            continue;
        }
        if (n == 3 || cli_hex_parse(line, keys[n], 16, 32, &lens[n]) != 0 ||
            (lens[n] != 16 && lens[n] != 24 && lens[n] != 32)) {
            cli_error("key input: expected one or three lines of 16, 24 or 32 bytes of hex");
            goto out;
        }
        n++;
    }
    if (n == 1) {
        memcpy(keys[1], keys[0], lens[0]);
        memcpy(keys[2], keys[0], lens[0]);
        lens[1] = lens[2] = lens[0];
    } else if (n != 3) {
        cli_error("key input: expected one or three lines of 16, 24 or 32 bytes of hex");
        goto out;
    }
    if (lens[1] != lens[0] || lens[2] != lens[0]) {
        cli_error("key input: the three keys must have one length");
        goto out;
    }
    *key_len = lens[0];
    rc = 0;
out:
    cm_wipe(line, sizeof line);
    return rc;
}

/* Puts set under name (refusing to replace unless force) and saves. */
static int store_set(const cli *c, store *st, const char *name, const mnap_keyset *set,
                     bool force)
{
    mnap_keystore *ks = st->ks;
    mnap_keyset old;
    mnap_err e;

    if (strlen(name) == 0 || strlen(name) > MNAP_KS_NAME_MAX) {
        cli_error("a key set name has 1 to %d characters", MNAP_KS_NAME_MAX);
        return EX_USAGE;
    }
    if (!force && mnap_keystore_get(ks, name, &old) == MNAP_OK) {
        mnap_keyset_wipe(&old);
        cli_error("key set '%s' exists (--force replaces it)", name);
        return EX_KEYSTORE;
    }
    mnap_keyset_wipe(&old);
    e = mnap_keystore_put(ks, name, set);
    if (e != MNAP_OK) {
        cli_error("key set '%s': %s", name, cli_strerror(e));
        return cli_exit_for(e) == EX_KEYSTORE ? EX_KEYSTORE : EX_USAGE;
    }
    int rc = save(c, st);
    if (rc == EX_OK) {
        print_kcv(c, name, set, true);
        if (c->json) {
            putchar('\n');
        }
    }
    return rc;
}

static int keys_import(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    uint8_t k[3][MNAP_KEY_MAX];
    size_t key_len = 0;
    mnap_keyset set;
    store st;
    FILE *f = stdin;
    int rc;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_import) != 0) {
        return EX_USAGE;
    }
    if (o.kvn < 0) {
        cli_error("keys import: --kvn is required");
        return EX_USAGE;
    }
    /* Open the store first: a wrong passphrase should not cost a key entry. */
    rc = store_open(c, &st);
    if (rc != EX_OK) {
        return rc;
    }
    if ((o.file == NULL || strcmp(o.file, "-") == 0) && isatty(STDIN_FILENO)) {
        /* Typed keys would stay on the screen: a file or a pipe only. */
        cli_error("keys import: give the keys in a file (--file PATH) or through a pipe, not typed");
        store_close(&st);
        return EX_USAGE;
    }
    if (o.file != NULL && strcmp(o.file, "-") != 0) {
        f = fopen(o.file, "re");
        if (f == NULL) {
            cli_error("%s: %s", o.file, strerror(errno));
            store_close(&st);
            return EX_LOCAL;
        }
    }
    /* No stdio buffer: it would keep a copy of the key lines after fclose. */
    setvbuf(f, NULL, _IONBF, 0);
    rc = read_keys(f, k, &key_len);
    if (f != stdin) {
        fclose(f);
    }
    if (rc != 0) {
        cm_wipe(k, sizeof k);
        store_close(&st);
        return EX_USAGE;
    }
    mnap_err e = mnap_keyset_set(&set, (uint8_t)o.kvn, k[0], k[1], k[2], key_len, o.master);
    cm_wipe(k, sizeof k);
    if (e != MNAP_OK) {
        store_close(&st);
        cli_error("key set: %s", cli_strerror(e));
        return EX_USAGE;
    }
    rc = store_set(c, &st, argv[first], &set, o.force);
    mnap_keyset_wipe(&set);
    store_close(&st);
    return rc;
}

/* Master keys generated inside the token: the host never sees them. */
static int token_generate(const cli *c, store *st, const char *name, const keys_opts *o)
{
    mnap_keyset set;
    mnap_err e;

    if (strlen(name) == 0 || strlen(name) > MNAP_KS_NAME_MAX) {
        cli_error("a key set name has 1 to %d characters", MNAP_KS_NAME_MAX);
        return EX_USAGE;
    }
    if (!o->force && mnap_keystore_get(st->ks, name, &set) == MNAP_OK) {
        mnap_keyset_wipe(&set);
        cli_error("key set '%s' exists (--force replaces it)", name);
        return EX_KEYSTORE;
    }
    e = mnap_keystore_generate(st->ks, name, (uint8_t)o->kvn, o->length, 1);
    if (e == MNAP_OK) {
        e = mnap_keystore_get(st->ks, name, &set);
    }
    if (e != MNAP_OK) {
        cli_error("key set '%s': %s", name, cli_strerror(e));
        return EX_KEYSTORE;
    }
    print_kcv(c, name, &set, true);
    if (c->json) {
        putchar('\n');
    }
    mnap_keyset_wipe(&set);
    return EX_OK;
}

static int keys_generate(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    mnap_keyset set;
    store st;
    int rc;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_generate) != 0) {
        return EX_USAGE;
    }
    if (o.kvn < 0) {
        cli_error("keys generate: --kvn is required");
        return EX_USAGE;
    }
    rc = store_open(c, &st);
    if (rc != EX_OK) {
        return rc;
    }
    if (mnap_keystore_is_token(st.ks) && o.master) {
        rc = token_generate(c, &st, argv[first], &o);
        store_close(&st);
        return rc;
    }
    mnap_err e = mnap_keyset_random(&set, (uint8_t)o.kvn, o.length);
    if (e != MNAP_OK) {
        store_close(&st);
        cli_error("random keys: %s", cli_strerror(e));
        return EX_LOCAL;
    }
    set.master = o.master ? 1 : 0;
    rc = store_set(c, &st, argv[first], &set, o.force);
    mnap_keyset_wipe(&set);
    store_close(&st);
    return rc;
}

static int keys_derive(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    uint8_t div[MNAP_DIV_DATA_LEN];
    size_t div_len = 0;
    mnap_keyset master, card;
    store st;
    int rc;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_derive) != 0) {
        return EX_USAGE;
    }
    if (o.div == NULL || cli_hex_parse(o.div, div, MNAP_DIV_DATA_LEN, MNAP_DIV_DATA_LEN, &div_len) != 0) {
        cli_error("keys derive: --div takes the card's 10 bytes of diversification data in hex");
        return EX_USAGE;
    }
    rc = store_open_for(c, &st, o.as != NULL);
    if (rc != EX_OK) {
        return rc;
    }
    rc = ks_get(st.ks, argv[first], &master);
    if (rc == EX_OK && !master.master) {
        cli_error("key set '%s' holds card keys, not master keys", argv[first]);
        rc = EX_KEYSTORE;
    }
    if (rc == EX_OK) {
        mnap_err e;
        if (o.as == NULL) {
            /* KCVs only: in a token with the KDF mechanism the card keys
             * are derived and checked there, never reaching this process. */
            uint8_t ke[3], km[3], kd[3];
            e = mnap_keyset_diversify_kcv(&master, div, ke, km, kd);
            if (e == MNAP_OK) {
                print_kcv_raw(c, argv[first], master.kvn, master.key_len, false, ke, km, kd, true);
                if (c->json) {
                    putchar('\n');
                }
            }
        } else {
            e = mnap_keyset_diversify(&master, div, &card);
            if (e == MNAP_OK) {
                rc = store_set(c, &st, o.as, &card, o.force);
            }
            mnap_keyset_wipe(&card);
        }
        if (e != MNAP_OK) {
            cli_error("diversification: %s", cli_strerror(e));
            rc = cli_exit_for(e) == EX_KEYSTORE ? EX_KEYSTORE : EX_LOCAL;
        }
    }
    mnap_keyset_wipe(&master);
    store_close(&st);
    return rc;
}


/* One officer's component: three lines of hex from stdin, or three
 * prompts without echo on the terminal. */
static int read_component(const char *officer, bool tty, size_t key_len, mnap_keyset *out)
{
    static const char *const role[3] = { "ENC", "MAC", "DEK" };
    uint8_t k[3][MNAP_KEY_MAX];
    char line[SECRET_MAX], prompt[128];
    size_t len = 0, n = 0;
    int i, rc = -1;

    for (i = 0; i < 3; i++) {
        if (tty) {
            (void)snprintf(prompt, sizeof prompt, "officer %s, component %s (hex)", officer, role[i]);
            if (secret_prompt(prompt, line, sizeof line, &len) != 0) {
                goto out;
            }
        } else if (secret_stdin(line, sizeof line, &len) != 0) {
            cli_error("keys ceremony: officer %s: expected three lines of hex (ENC, MAC, DEK)", officer);
            goto out;
        }
        line[len] = '\0';
        if (cli_hex_parse(line, k[i], key_len, key_len, &n) != 0 || n != key_len) {
            cli_error("keys ceremony: officer %s: component %s is not %zu bytes of hex", officer,
                      role[i], key_len);
            goto out;
        }
    }
    rc = mnap_keyset_set(out, 0, k[0], k[1], k[2], key_len, 0) == MNAP_OK ? 0 : -1;
out:
    cm_wipe(k, sizeof k);
    cm_wipe(line, sizeof line);
    return rc;
}

static void kcv_text(const mnap_keyset *set, char *out, size_t cap)
{
    uint8_t ke[3], km[3], kd[3];
    char he[7], hm[7], hd[7];

    if (mnap_keyset_kcv(set, ke, km, kd) != MNAP_OK) {
        (void)snprintf(out, cap, "KCV unavailable");
        return;
    }
    mt_hex_encode(ke, 3, he, MT_HEX_UPPER);
    mt_hex_encode(km, 3, hm, MT_HEX_UPPER);
    mt_hex_encode(kd, 3, hd, MT_HEX_UPPER);
    (void)snprintf(out, cap, "KCV ENC %s MAC %s DEK %s", he, hm, hd);
}

static int keys_ceremony(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first, i, rc;
    store st;
    audit_log au;
    mnap_ceremony *cer = NULL;
    mnap_keyset part, set;
    char err[300], what[160], kcv[64], result[256];
    bool tty = isatty(STDIN_FILENO) != 0, started = false, closed = false;
    mnap_err e;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_ceremony) != 0) {
        return EX_USAGE;
    }
    if (o.kvn < 0 || o.kvn == 0xFF) {
        cli_error("keys ceremony: --kvn 01 to 7F is required");
        return EX_USAGE;
    }
    if (o.officers < 2) {
        cli_error("keys ceremony: two or three officers (--officer ID each)");
        return EX_USAGE;
    }
    for (i = 0; i < o.officers; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(o.officer[i], o.officer[j]) == 0) {
                cli_error("keys ceremony: officer %s is named twice: each component needs its own officer",
                          o.officer[i]);
                return EX_USAGE;
            }
        }
    }
    const char *name = argv[first];
    if (strlen(name) == 0 || strlen(name) > MNAP_KS_NAME_MAX) {
        cli_error("a key set name has 1 to %d characters", MNAP_KS_NAME_MAX);
        return EX_USAGE;
    }
    /* First the audit log: a ceremony that cannot be recorded is not run. */
    if (audit_open(&au, c->audit, err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        return EX_LOCAL;
    }
    rc = store_open_for(c, &st, false);
    if (rc != EX_OK) {
        audit_close(&au);
        return rc;
    }
    if (!o.force && mnap_keystore_get(st.ks, name, &set) == MNAP_OK) {
        mnap_keyset_wipe(&set);
        cli_error("key set '%s' exists (--force replaces it)", name);
        rc = EX_KEYSTORE;
        goto out;
    }
    e = mnap_ceremony_begin(st.ks, o.length, &cer);
    if (e != MNAP_OK) {
        cli_error("key ceremony: %s", cli_strerror(e));
        rc = EX_KEYSTORE;
        goto out;
    }
    (void)snprintf(what, sizeof what, "keys ceremony %s", name);
    started = true;
    for (i = 0; i < o.officers; i++) {
        if (read_component(o.officer[i], tty, o.length, &part) != 0) {
            rc = EX_USAGE;
            goto out;
        }
        kcv_text(&part, kcv, sizeof kcv);
        e = mnap_ceremony_add(cer, &part);
        mnap_keyset_wipe(&part);
        if (e != MNAP_OK) {
            cli_error("key ceremony: officer %s: %s", o.officer[i], cli_strerror(e));
            rc = EX_KEYSTORE;
            goto out;
        }
        printf(_("officer %s: component %d of %d %s\n"), o.officer[i], i + 1, o.officers, kcv);
        fflush(stdout);
        (void)snprintf(result, sizeof result, "component %d/%d entered, %s", i + 1, o.officers, kcv);
        if (audit_append(&au, time(NULL), o.officer[i], what, NULL, NULL, result, err, sizeof err) != 0) {
            cli_error("audit log: %s", err);
            rc = EX_LOCAL;
            goto out;
        }
    }
    e = mnap_ceremony_finish(cer, name, (uint8_t)o.kvn);
    if (e == MNAP_OK) {
        rc = commit_fresh(c, &st, name, o.force);
    } else {
        cli_error("key ceremony: %s", cli_strerror(e));
        rc = EX_KEYSTORE;
    }
    if (rc == EX_OK && mnap_keystore_get(st.ks, name, &set) == MNAP_OK) {
        kcv_text(&set, kcv, sizeof kcv);
        mnap_keyset_wipe(&set);
        printf(_("master key set '%s' KVN %02X AES-%zu %s; components combined %s\n"), name, o.kvn,
               o.length * 8, kcv,
               mnap_ceremony_in_token(cer) ? "in the token (CKM_XOR_BASE_AND_DATA)" : "in host memory");
        (void)snprintf(result, sizeof result, "ok: master key set KVN %02X AES-%zu %s, combined %s",
                       o.kvn, o.length * 8, kcv, mnap_ceremony_in_token(cer) ? "in the token" : "in host memory");
    } else {
        (void)snprintf(result, sizeof result, "error: exit %d", rc);
    }
    closed = true;
    if (audit_append(&au, time(NULL), c->operator_id, what, NULL, NULL, result, err, sizeof err) != 0) {
        cli_error("audit log: %s", err);
        rc = rc == EX_OK ? EX_LOCAL : rc;
    }
out:
    if (started && !closed) {
        /* A ceremony broken off is recorded too; no key set was made. */
        (void)snprintf(result, sizeof result, "error: exit %d, no key set made", rc);
        (void)audit_append(&au, time(NULL), c->operator_id, what, NULL, NULL, result, err, sizeof err);
    }
    mnap_ceremony_free(cer);
    store_close(&st);
    audit_close(&au);
    return rc;
}

static int keys_list(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    store st;
    int rc;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 0, 0, u_list) != 0) {
        return EX_USAGE;
    }
    rc = store_open_for(c, &st, false);
    if (rc != EX_OK) {
        return rc;
    }
    size_t n = mnap_keystore_count(st.ks);
    if (c->json) {
        printf("{\"keystore\":");
        cli_json_str(stdout, c->keystore);
        printf(",\"key_sets\":[");
    }
    for (size_t i = 0; i < n && rc == EX_OK; i++) {
        mnap_keyset set;
        const char *name = mnap_keystore_name(st.ks, i);
        if (name == NULL || ks_get(st.ks, name, &set) != EX_OK) {
            rc = EX_KEYSTORE;
            break;
        }
        print_kcv(c, name, &set, i == 0);
        mnap_keyset_wipe(&set);
    }
    if (c->json) {
        printf("]}\n");
    } else if (n == 0) {
        printf(_("(no key sets)\n"));
    }
    store_close(&st);
    return rc;
}

static int keys_remove(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    store st;
    int rc;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_remove) != 0) {
        return EX_USAGE;
    }
    rc = store_open(c, &st);
    if (rc != EX_OK) {
        return rc;
    }
    mnap_err e = mnap_keystore_remove(st.ks, argv[first]);
    if (e != MNAP_OK) {
        cli_error("key set '%s': %s", argv[first], cli_strerror(e));
        rc = EX_KEYSTORE;
    } else {
        rc = save(c, &st);
        if (rc == EX_OK) {
            printf(_("key set '%s' removed\n"), argv[first]);
        }
    }
    store_close(&st);
    return rc;
}

static const char u_ed25519[] =
    "keys ed25519 NAME [--force]\n"
    "  Makes an Ed25519 signing key NAME (the stop list: 'stoplist'; the audit\n"
    "  checkpoints and exports: 'audit') and prints its public key.  In the key\n"
    "  store file: a key set of random 32-byte keys whose ENC key is the private\n"
    "  key.  In a PKCS#11 token: a key pair generated inside it\n"
    "  (CKM_EC_EDWARDS_KEY_PAIR_GEN; the private key never leaves it, signing is\n"
    "  CKM_EDDSA in the token).\n";

static int keys_ed25519(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first;
    store st;
    uint8_t pub[32];
    char hex[65];
    int rc;
    mnap_err e;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 1, 1, u_ed25519) != 0) {
        return EX_USAGE;
    }
    rc = store_open(c, &st);
    if (rc != EX_OK) {
        return rc;
    }
    if (mnap_keystore_is_token(st.ks)) {
        e = mnap_keystore_ed25519_generate(st.ks, argv[first]);
        if (e != MNAP_OK) {
            cli_error("keys ed25519: %s%s", mnap_strerror(e),
                      e == MNAP_E_PARAM ? " (a key pair of that name exists: keys remove it first)" : "");
            rc = EX_KEYSTORE;
        }
    } else {
        mnap_keyset set;
        e = mnap_keyset_random(&set, 0x01, 32);
        if (e != MNAP_OK) {
            cli_error("random keys: %s", mnap_strerror(e));
            rc = EX_LOCAL;
        } else {
            rc = store_set(c, &st, argv[first], &set, o.force);
        }
        mnap_keyset_wipe(&set);
    }
    if (rc == EX_OK) {
        e = mnap_keystore_ed25519_public(st.ks, argv[first], pub);
        if (e != MNAP_OK) {
            cli_error("keys ed25519: %s", mnap_strerror(e));
            rc = EX_KEYSTORE;
        } else {
            mt_hex_encode(pub, 32, hex, MT_HEX_UPPER);
            printf("Ed25519 key %s: public key %s\n", argv[first], hex);
        }
    }
    store_close(&st);
    return rc;
}

static const char u_passwd[] = N_(
    "keys passwd\n"
    "  Changes the key store's passphrase: asks for the current one (or\n"
    "  MNAP_PASSPHRASE), then the new one twice (or MNAP_NEW_PASSPHRASE), and\n"
    "  rewrites the store atomically under it (fresh salt, same scrypt cost).\n");

static int keys_passwd(cli *c, int argc, char **argv)
{
    keys_opts o;
    int first, rc;
    store st;
    char np[SECRET_MAX];
    size_t nlen = 0;

    if (parse(argc, argv, &o, &first) != 0 || cli_operands(argc, first, 0, 0, u_passwd) != 0) {
        return EX_USAGE;
    }
    if (strncmp(c->keystore, "pkcs11:", 7) == 0) {
        cli_error("a token's PIN is changed with the token's own tools (softhsm2-util, modutil "
                  "--changepw), not with keys passwd");
        return EX_USAGE;
    }
    /* The current passphrase first: a wrong one costs no new-passphrase typing. */
    rc = store_open_for(c, &st, false);
    if (rc != EX_OK) {
        return rc;
    }
    mnap_keystore_free(st.ks);
    st.ks = NULL;
    if (secret_new_passphrase(np, sizeof np, &nlen) != 0) {
        cm_wipe(np, sizeof np);
        store_close(&st);
        return EX_KEYSTORE;
    }
    /* Load again under the lock: what another terminal saved meanwhile stays. */
    rc = ks_lock(c, &st.lock);
    if (rc == EX_OK) {
        mnap_err e = mnap_keystore_load(&st.ks, c->keystore, st.pass, st.pass_len);
        if (e == MNAP_OK) {
            e = mnap_keystore_save(st.ks, c->keystore, np, nlen);
        }
        if (e != MNAP_OK) {
            cli_error("key store %s: %s [%s]", c->keystore, cli_strerror(e), mnap_err_name(e));
            rc = e == MNAP_E_IO ? EX_LOCAL : EX_KEYSTORE;
        } else {
            printf(_("key store %s: passphrase changed\n"), c->keystore);
        }
    }
    cm_wipe(np, sizeof np);
    store_close(&st);
    return rc;
}

static const cli_sub subs[] = {
    { "init", keys_init, u_init },
    { "ed25519", keys_ed25519, u_ed25519 },
    { "import", keys_import, u_import },
    { "generate", keys_generate, u_generate },
    { "ceremony", keys_ceremony, u_ceremony },
    { "derive", keys_derive, u_derive },
    { "list", keys_list, u_list },
    { "remove", keys_remove, u_remove },
    { "passwd", keys_passwd, u_passwd },
};

int cmd_keys(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "keys", subs, sizeof subs / sizeof subs[0], argc, argv);
}
