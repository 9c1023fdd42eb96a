/* image.c: manifest -> AP image with keys from the key store (image.h). */
#include "image.h"
#include "cli.h"
#include "i18n.h"
#include "cm_ct.h"

#include <stdlib.h>
#include <string.h>

static void print_report(const char *path, const mt_manifest_report *r)
{
    size_t shown = r->count < r->cap ? r->count : r->cap;

    for (size_t i = 0; i < shown; i++) {
        if (r->items[i].line > 0) {
            fprintf(stderr, "%s:%d:%d: %s\n", path, r->items[i].line, r->items[i].column,
                    r->items[i].message);
        } else {
            fprintf(stderr, "%s: %s\n", path, r->items[i].message);
        }
    }
    if (r->count > shown) {
        fprintf(stderr, _("%s: %zu more problems not shown\n"), path, r->count - shown);
    }
}

#define MAX_PROBLEMS 64

int image_check(const char *path, mt_manifest **m, size_t *problems)
{
    mt_manifest_problem items[MAX_PROBLEMS];
    mt_manifest_report r;

    *problems = 0;
    *m = calloc(1, sizeof **m);
    if (*m == NULL) {
        cli_error("out of memory");
        return EX_LOCAL;
    }
    mt_manifest_report_init(&r, items, MAX_PROBLEMS);
    int rc = mt_manifest_check_file(path, *m, &r);
    if (rc == MT_MANIFEST_OK) {
        return EX_OK;
    }
    print_report(path, &r);
    *problems = r.count;
    if (r.count == 0) {
        cli_error("%s: manifest check failed (code %d)", path, rc);
    }
    image_free(*m);
    *m = NULL;
    return rc == MT_MANIFEST_E_PARAM ? EX_USAGE : EX_LOCAL;
}

typedef struct key_lookup {
    const mnap_keystore *ks;
    const uint8_t *div;
    char why[160];
} key_lookup;

/* The manifest compiler's key callback: the named set, diversified for the
 * card when it holds master keys. */
static int lookup(void *ctx, const char *name, cm_keyset *out)
{
    key_lookup *l = ctx;
    mnap_keyset set, card;
    const mnap_keyset *use = &set;
    int rc = -1;

    if (mnap_keystore_get(l->ks, name, &set) != MNAP_OK) {
        (void)snprintf(l->why, sizeof l->why, "key set '%s' is not in the key store", name);
        return -1;
    }
    if (set.master) {
        if (l->div == NULL || mnap_keyset_diversify(&set, l->div, &card) != MNAP_OK) {
            (void)snprintf(l->why, sizeof l->why,
                           "key set '%s' holds master keys: the card's diversification data is needed", name);
            mnap_keyset_wipe(&set);
            return -1;
        }
        use = &card;
    }
    memcpy(out->enc, use->enc, use->key_len);
    memcpy(out->mac, use->mac, use->key_len);
    memcpy(out->dek, use->dek, use->key_len);
    out->key_len = use->key_len;
    out->kvn = use->kvn;
    rc = 0;
    mnap_keyset_wipe(&set);
    mnap_keyset_wipe(&card);
    return rc;
}

int image_build(const char *path, const mt_manifest *m, const mnap_keystore *ks,
                const mnap_keyset *region, const uint8_t *div, uint8_t *out, size_t cap,
                size_t *out_len)
{
    mt_manifest_problem items[MAX_PROBLEMS];
    mt_manifest_report r;
    key_lookup l = { ks, div, "" };
    /* libmnap's AES block (OpenSSL), through its public API. */
    cm_aes aes = { mnap_aes_block, NULL };
    mnap_keyset card;
    const mnap_keyset *dek_set = region;
    int rc;

    memset(&card, 0, sizeof card);
    if (region->master) {
        if (div == NULL || mnap_keyset_diversify(region, div, &card) != MNAP_OK) {
            cli_error("the region key set holds master keys: the card's diversification data is needed");
            return EX_KEYSTORE;
        }
        dek_set = &card;
    }
    mt_manifest_report_init(&r, items, MAX_PROBLEMS);
    rc = mt_manifest_build(m, lookup, &l, &aes, dek_set->dek, dek_set->key_len, out, cap, out_len, &r);
    mnap_keyset_wipe(&card);
    if (rc == MT_MANIFEST_OK) {
        return EX_OK;
    }
    if (rc == MT_MANIFEST_E_KEY && l.why[0] != '\0' && r.count > 0 && items[0].line > 0) {
        /* The lookup knows why better than the compiler's "no key set":
         * one line, at the manifest's key_set. */
        fprintf(stderr, _("%s:%d:%d: key_set: %s\n"), path, items[0].line, items[0].column, l.why);
        return EX_KEYSTORE;
    }
    print_report(path, &r);
    if (rc == MT_MANIFEST_E_KEY) {
        return EX_KEYSTORE;
    }
    if (r.count == 0) {
        cli_error("%s: image build failed (code %d)", path, rc);
    }
    return EX_LOCAL;
}

void image_free(mt_manifest *m)
{
    if (m != NULL) {
        mt_manifest_wipe(m);
        free(m);
    }
}
