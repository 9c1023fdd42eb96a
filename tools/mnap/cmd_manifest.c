/* cmd_manifest.c: `mnap manifest check|build`: thin wrappers over the
 * manifest compiler (tools/lib/manifest.h, docs/manifest.md). */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "image.h"
#include "cm_ct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char u_check[] = N_(
    "manifest check FILE\n"
    "  Checks an AP manifest and reports every problem as FILE:LINE:COLUMN: message\n"
    "  on stderr (exit 5 when there is any).  With --json, a summary on stdout.\n");
static const char u_build[] = N_(
    "manifest build FILE -o IMAGE [--region NAME] [--div HEX]\n"
    "  Compiles a manifest into an AP image file (written atomically).  The AP's\n"
    "  key set (the manifest's key_set) comes from the key store and is wrapped\n"
    "  under the Key-DEK of the region key set NAME (default 'region').  Master\n"
    "  keys need the target card's 10 bytes of diversification data (--div).\n");

static int manifest_check(cli *c, int argc, char **argv)
{
    mt_manifest *m = NULL;
    size_t problems = 0;
    int first;

    if (cli_no_options(argc, argv, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_check) != 0) {
        return EX_USAGE;
    }
    int rc = image_check(argv[first], &m, &problems);
    if (c->json) {
        printf("{\"file\":");
        cli_json_str(stdout, argv[first]);
        printf(",\"valid\":%s,\"problems\":%zu", rc == EX_OK ? "true" : "false", problems);
        if (rc == EX_OK) {
            char aid[2 * MNAP_AID_MAX + 1];
            mt_hex_encode(m->aid, m->aid_len, aid, MT_HEX_UPPER);
            printf(",\"aid\":\"%s\",\"key_set\":", aid);
            cli_json_str(stdout, m->key_set);
            printf(",\"files\":%zu", m->ef_count);
        }
        printf("}\n");
    } else if (rc == EX_OK) {
        char aid[2 * MNAP_AID_MAX + 1];
        mt_hex_encode(m->aid, m->aid_len, aid, MT_HEX_UPPER);
        printf(_("%s: OK (AP %s, key set '%s', %zu EF%s)\n"), argv[first], aid, m->key_set, m->ef_count,
               m->ef_count == 1 ? "" : "s");
    } else if (problems > 0) {
        cli_error("%s: %zu problem%s", argv[first], problems, problems == 1 ? "" : "s");
    }
    image_free(m);
    return rc;
}

typedef struct build_opts {
    const char *out;
    const char *region;
    const char *div;
} build_opts;

static int on_build(void *user, int opt, const char *arg)
{
    build_opts *o = user;

    switch (opt) {
    case 'o':
        o->out = arg;
        return 0;
    case 'r':
        o->region = arg;
        return 0;
    case 'd':
        o->div = arg;
        return 0;
    default:
        return -1;
    }
}

static int manifest_build(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "region", required_argument, NULL, 'r' },
        { "div", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 }
    };
    build_opts o = { NULL, "region", NULL };
    uint8_t div[MNAP_DIV_DATA_LEN];
    size_t div_len = 0;
    mt_manifest *m = NULL;
    mnap_keystore *ks = NULL;
    mnap_keyset region;
    size_t problems;
    uint8_t *img;
    size_t img_len = 0;
    int first;
    int rc;

    if (cli_getopt(argc, argv, opts, on_build, &o, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_build) != 0) {
        return EX_USAGE;
    }
    if (o.out == NULL) {
        cli_error("manifest build: -o IMAGE is required");
        return EX_USAGE;
    }
    if (o.div != NULL && cli_hex_parse(o.div, div, MNAP_DIV_DATA_LEN, MNAP_DIV_DATA_LEN, &div_len) != 0) {
        cli_error("--div: 10 bytes of hex");
        return EX_USAGE;
    }
    rc = image_check(argv[first], &m, &problems);
    if (rc != EX_OK) {
        return rc;
    }
    img = malloc(MT_MANIFEST_MAX_IMAGE);
    if (img == NULL) {
        image_free(m);
        cli_error("out of memory");
        return EX_LOCAL;
    }
    rc = ks_open(c, &ks);
    if (rc == EX_OK) {
        rc = ks_get(ks, o.region, &region);
        if (rc == EX_OK) {
            rc = image_build(argv[first], m, ks, &region, o.div != NULL ? div : NULL, img,
                             MT_MANIFEST_MAX_IMAGE, &img_len);
            mnap_keyset_wipe(&region);
        }
        mnap_keystore_free(ks);
    }
    if (rc == EX_OK) {
        /* The image carries wrapped keys only, but is still kept private. */
        if (cli_write_atomic(o.out, img, img_len, 0600) != 0) {
            cli_error("%s: %s", o.out, strerror(errno));
            rc = EX_LOCAL;
        } else {
            printf(_("%s: %zu bytes\n"), o.out, img_len);
        }
    }
    cm_wipe(img, MT_MANIFEST_MAX_IMAGE);
    free(img);
    image_free(m);
    return rc;
}

static const cli_sub subs[] = {
    { "check", manifest_check, u_check },
    { "build", manifest_build, u_build },
};

int cmd_manifest(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "manifest", subs, sizeof subs / sizeof subs[0], argc, argv);
}
