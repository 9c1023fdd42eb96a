/* cmd_ap.c: `mnap ap load|delete|list|suspend|resume` and `mnap pin unblock`:
 * the municipality's management of the area's applications, each change
 * recorded in the audit log. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "image.h"
#include "names.h"
#include "reg.h"
#include "secret.h"
#include "cm_ct.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ap_opts {
    const char *keys;
    size_t block_size;
    bool pin_stdin;
} ap_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    ap_opts *o = user;
    char *end = NULL;

    switch (opt) {
    case 'k':
        o->keys = arg;
        return 0;
    case 'b': {
        unsigned long v = strtoul(arg, &end, 10);
        if (*end != '\0' || v < 16 || v > 65535) {
            cli_error("--block-size: 16 to 65535 bytes");
            return -1;
        }
        o->block_size = v;
        return 0;
    }
    case 'p':
        o->pin_stdin = true;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "keys", required_argument, NULL, 'k' },
    { "block-size", required_argument, NULL, 'b' },
    { "pin-stdin", no_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 }
};

static int parse(int argc, char **argv, ap_opts *o, const char *usage, int nargs, int *first)
{
    memset(o, 0, sizeof *o);
    if (cli_getopt(argc, argv, opts, on_opt, o, first) != 0 ||
        cli_operands(argc, *first, nargs, nargs, usage) != 0) {
        return -1;
    }
    return 0;
}

static const char *region_name(const ap_opts *o)
{
    return o->keys != NULL ? o->keys : "region";
}

static const char u_load[] = N_(
    "ap load MANIFEST [--keys NAME] [--block-size BYTES]\n"
    "  Checks the manifest, builds the AP image (the AP's key set, named by the\n"
    "  manifest's key_set, comes from the key store, diversified for the card when\n"
    "  it holds master keys, and is wrapped under the region Key-DEK), and loads it\n"
    "  in an area manager session with key set NAME (default 'region').  A\n"
    "  progress bar is drawn on stderr when it is a terminal.  All or nothing: a\n"
    "  failed load leaves no AP.\n");
static const char u_delete[] = N_(
    "ap delete AID [--keys NAME]\n"
    "  Deletes the AP and wipes all its data and keys.\n");
static const char u_list[] = N_(
    "ap list [--keys NAME]\n"
    "  Lists the APs: AID, state, NVM used, PIN tries left (BLOCKED at 0).\n");
static const char u_suspend[] = N_(
    "ap suspend AID [--keys NAME]\n"
    "  Suspends the AP (停止): it refuses every command until resumed.\n");
static const char u_resume[] = N_(
    "ap resume AID [--keys NAME]\n"
    "  Resumes a suspended AP (再開).\n");

/* --- progress bar ---------------------------------------------------------- */
static void progress(void *user, size_t done, size_t total)
{
    const int width = 30;
    int fill = total != 0 ? (int)((done * (size_t)width) / total) : width;

    (void)user;
    fprintf(stderr, "\rloading [%.*s%*s] %3zu%%", fill, "##############################", width - fill,
            "", total != 0 ? done * 100 / total : 100);
    if (done >= total) {
        fputc('\n', stderr);
    }
    fflush(stderr);
}

/* An AP already on the card: say so, before LOAD AP (a card that checks
 * its room before the AID refuses a large AP loaded twice as "not enough
 * memory space", 6A84; others answer 6A89).  Look first. */
static int already_loaded(am_frame *f, const uint8_t *aid, size_t aid_len)
{
    mnap_ap_entry list[32];
    size_t count = 0;
    char hex[2 * MNAP_AID_MAX + 1];

    if (mnap_area_list_aps(f->conn.ctx, list, sizeof list / sizeof list[0], &count) != MNAP_OK) {
        return EX_OK;   /* LOAD AP will tell */
    }
    for (size_t i = 0; i < count; i++) {
        if (list[i].aid_len == aid_len && memcmp(list[i].aid, aid, aid_len) == 0) {
            mt_hex_encode(aid, aid_len, hex, MT_HEX_UPPER);
            cli_error("this AP is already on the card (%s, %s): delete it first (mnap ap delete %s) "
                      "to load it again", hex, ap_state_name(list[i].state), hex);
            return EX_CARD;
        }
    }
    return EX_OK;
}

static int ap_load(cli *c, int argc, char **argv)
{
    ap_opts o;
    int first;
    am_frame f;
    mt_manifest *m = NULL;
    size_t problems;
    uint8_t *img = NULL;
    size_t img_len = 0;
    int rc;

    if (parse(argc, argv, &o, u_load, 1, &first) != 0) {
        return EX_USAGE;
    }
    /* A bad manifest is reported before anything else is touched. */
    rc = image_check(argv[first], &m, &problems);
    if (rc != EX_OK) {
        if (problems > 0) {
            cli_error("%s: %zu problem%s; nothing loaded", argv[first], problems, problems == 1 ? "" : "s");
        }
        return rc;
    }
    img = malloc(MT_MANIFEST_MAX_IMAGE);
    if (img == NULL) {
        image_free(m);
        cli_error("out of memory");
        return EX_LOCAL;
    }
    rc = am_begin(&f, c, true, "ap load", m->aid, m->aid_len, region_name(&o));
    /* With a registry: repair, then the intent; the card is changed only
     * when the registry allows it (card registered and ACTIVE). */
    if (rc == EX_OK) {
        rc = regap_begin(c, &f, MNAP_REG_AP_LOAD, f.op.aid, m->key_set[0] != '\0' ? m->key_set : "-");
        if (rc == EX_OK && c->reg != NULL) {
            f.reg_intent = true;
        }
    }
    if (rc == EX_OK) {
        mnap_keyset region;
        uint8_t div[MNAP_DIV_DATA_LEN];
        rc = ks_get(f.ks, region_name(&o), &region);
        if (rc == EX_OK && mnap_card_div_data(f.conn.ctx, div) != MNAP_OK) {
            cli_error("no diversification data from the card");
            rc = EX_CARD;
        }
        if (rc == EX_OK) {
            rc = already_loaded(&f, m->aid, m->aid_len);
        }
        if (rc == EX_OK) {
            rc = image_build(argv[first], m, f.ks, &region, div, img, MT_MANIFEST_MAX_IMAGE, &img_len);
            if (rc == EX_OK && o.block_size != 0 && (img_len + o.block_size - 1) / o.block_size > 256) {
                size_t least = (img_len + 255) / 256;
                cli_error("--block-size %zu cuts this AP image (%zu bytes) into %zu blocks: a load has "
                          "at most 256 blocks, so give at least --block-size %zu (or leave it out)",
                          o.block_size, img_len, (img_len + o.block_size - 1) / o.block_size,
                          least < 16 ? 16 : least);
                rc = EX_USAGE;
            }
        }
        mnap_keyset_wipe(&region);
        if (rc != EX_OK) {
            rc = op_fail_msg(&f.op, rc, rc == EX_KEYSTORE ? "AP image not built: key set not in the key store"
                                        : rc == EX_CARD ? "AP already on the card"
                                        : rc == EX_USAGE ? "block size: more than 256 blocks"
                                                          : "AP image not built");
        } else {
            mnap_load_opts lo = { o.block_size, NULL, NULL };
            if (isatty(STDERR_FILENO) && !c->json) {
                lo.progress = progress;
            }
            mnap_err e = mnap_area_load_ap(f.conn.ctx, img, img_len, NULL, &lo);
            if (e != MNAP_OK) {
                if (lo.progress != NULL) {
                    fputc('\n', stderr);
                }
                rc = op_fail(&f.op, f.conn.ctx, e, "LOAD AP");
            } else {
                printf(_("AP %s loaded (%zu bytes)%s\n"), f.op.aid, img_len,
                       c->reg != NULL ? ", recorded in the registry" : "");
            }
            rc = regap_end(c, &f, f.op.aid, rc);
            f.reg_intent = false;
        }
    }
    if (f.reg_intent) {
        /* The image was not built: the card was not touched. */
        rc = regap_end(c, &f, f.op.aid, EX_CARD) == EX_CARD ? rc : EX_REGISTRY;
    }
    rc = am_end(&f, rc);
    cm_wipe(img, MT_MANIFEST_MAX_IMAGE);
    free(img);
    image_free(m);
    return rc;
}

/* delete, suspend and resume: one AID, one call. */
static int ap_one(cli *c, int argc, char **argv, const char *usage, const char *command,
                  mnap_err (*call)(mnap_ctx *, const uint8_t *, size_t), const char *done, bool recorded)
{
    ap_opts o;
    int first;
    am_frame f;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    int rc;

    if (parse(argc, argv, &o, usage, 1, &first) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0) {
        return EX_USAGE;
    }
    rc = am_begin(&f, c, true, command, aid, aid_len, region_name(&o));
    if (rc == EX_OK && recorded) {
        rc = regap_begin(c, &f, MNAP_REG_AP_DELETE, f.op.aid, NULL);
    }
    if (rc == EX_OK) {
        mnap_err e = call(f.conn.ctx, aid, aid_len);
        if (e == MNAP_E_REF_NOT_FOUND) {
            cli_error("%s: no AP %s on this card", command, f.op.aid);
            rc = op_fail_msg(&f.op, EX_CARD, "no such AP");
        } else if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, command);
        } else {
            printf("AP %s %s%s\n", f.op.aid, done, recorded && c->reg != NULL ? ", recorded in the registry" : "");
        }
        if (recorded && e == MNAP_E_REF_NOT_FOUND) {
            rc = regap_absent(c, &f, f.op.aid, rc); /* the card says: not there */
        } else if (recorded) {
            rc = regap_end(c, &f, f.op.aid, rc);
        }
    }
    return am_end(&f, rc);
}

static int ap_delete(cli *c, int argc, char **argv)
{
    return ap_one(c, argc, argv, u_delete, "ap delete", mnap_area_delete_ap, "deleted", true);
}

static int ap_suspend(cli *c, int argc, char **argv)
{
    return ap_one(c, argc, argv, u_suspend, "ap suspend", mnap_area_suspend_ap, "SUSPENDED", false);
}

static int ap_resume(cli *c, int argc, char **argv)
{
    return ap_one(c, argc, argv, u_resume, "ap resume", mnap_area_resume_ap, "ACTIVE", false);
}

static int ap_list(cli *c, int argc, char **argv)
{
    ap_opts o;
    int first;
    am_frame f;
    mnap_ap_entry list[32];
    size_t count = 0;
    int rc;

    if (parse(argc, argv, &o, u_list, 0, &first) != 0) {
        return EX_USAGE;
    }
    rc = am_begin(&f, c, false, "ap list", NULL, 0, region_name(&o));
    if (rc == EX_OK && c->reg != NULL && f.op.serial[0] != '\0') {
        rc = regap_repair(c, &f);
    }
    if (rc == EX_OK) {
        mnap_err e = mnap_area_list_aps(f.conn.ctx, list, sizeof list / sizeof list[0], &count);
        if (e != MNAP_OK) {
            rc = cli_fail(f.conn.ctx, e, "GET STATUS");
        }
    }
    if (rc == EX_OK) {
        if (c->json) {
            printf("{\"aps\":[");
        } else if (count == 0) {
            printf("(no AP)\n");
        } else {
            printf("%-32s %-9s %9s %s\n", "AID", "STATE", "NVM", "PIN");
        }
        for (size_t i = 0; i < count; i++) {
            char hex[2 * MNAP_AID_MAX + 1];
            mt_hex_encode(list[i].aid, list[i].aid_len, hex, MT_HEX_UPPER);
            if (c->json) {
                printf("%s{\"aid\":\"%s\",\"state\":\"%s\",\"state_code\":\"%02X\",\"nvm_used\":%lu,"
                       "\"pin_tries\":%u,\"blocked\":%s}",
                       i == 0 ? "" : ",", hex, ap_state_name(list[i].state), list[i].state,
                       (unsigned long)list[i].nvm_used, list[i].pin_tries,
                       list[i].pin_tries == 0 ? "true" : "false");
            } else {
                char pin[32];
                if (list[i].pin_tries == 0) {
                    snprintf(pin, sizeof pin, "BLOCKED");
                } else {
                    snprintf(pin, sizeof pin, "%u tries left", list[i].pin_tries);
                }
                printf("%-32s %-9s %9lu %s\n", hex, ap_state_name(list[i].state),
                       (unsigned long)list[i].nvm_used, pin);
            }
        }
        if (c->json) {
            printf("]}\n");
        }
    }
    return am_end(&f, rc);
}

static const cli_sub ap_subs[] = {
    { "load", ap_load, u_load },
    { "rotate-keys", ap_rotate_keys, ap_rotate_usage },
    { "delete", ap_delete, u_delete },
    { "list", ap_list, u_list },
    { "suspend", ap_suspend, u_suspend },
    { "resume", ap_resume, u_resume },
};

int cmd_ap(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "ap", ap_subs, sizeof ap_subs / sizeof ap_subs[0], argc, argv);
}

/* --- pin unblock ---------------------------------------------------------- */
static const char u_unblock[] = N_(
    "pin unblock AID [--pin-stdin] [--keys NAME]\n"
    "  At the municipal counter: sets the AP's new PIN and resets its try counter\n"
    "  (RESET RETRY COUNTER), which unblocks it.  The new PIN is asked twice\n"
    "  without echo, or read as two lines from stdin with --pin-stdin.\n");

static int pin_unblock(cli *c, int argc, char **argv)
{
    ap_opts o;
    int first;
    am_frame f;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    char pin[SECRET_MAX];
    size_t pin_len = 0;
    int rc;

    if (parse(argc, argv, &o, u_unblock, 1, &first) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0) {
        return EX_USAGE;
    }
    /* The PIN first: the resident types it before the terminal talks to the card. */
    if (secret_pin("new PIN", o.pin_stdin, true, pin, sizeof pin, &pin_len) != 0) {
        cm_wipe(pin, sizeof pin);
        return EX_USAGE;
    }
    rc = am_begin(&f, c, true, "pin unblock", aid, aid_len, region_name(&o));
    if (rc == EX_OK) {
        rc = regap_require_active(c, &f);
    }
    if (rc == EX_OK) {
        mnap_err e = mnap_area_unblock_pin(f.conn.ctx, aid, aid_len, pin, pin_len);
        if (e == MNAP_E_PIN_POLICY) {
            cli_error("the new PIN does not fit the AP's PIN policy (length or digits)");
            rc = op_fail_msg(&f.op, EX_CARD, "PIN policy");
        } else if (e == MNAP_E_REF_NOT_FOUND) {
            cli_error("pin unblock: no AP %s on this card", f.op.aid);
            rc = op_fail_msg(&f.op, EX_CARD, "no such AP");
        } else if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, "RESET RETRY COUNTER");
        } else {
            printf(_("PIN of AP %s set and unblocked\n"), f.op.aid);
        }
    }
    cm_wipe(pin, sizeof pin);
    return am_end(&f, rc);
}

static const cli_sub pin_subs[] = {
    { "unblock", pin_unblock, u_unblock },
};

int cmd_pin(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "pin", pin_subs, sizeof pin_subs / sizeof pin_subs[0], argc, argv);
}
