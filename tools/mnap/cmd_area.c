/* cmd_area.c: `mnap area setup|lock|unlock|terminate`: the area's life cycle,
 * from an area manager session, each recorded in the audit log. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"

#include <string.h>

typedef struct area_opts {
    const char *keys;
    const char *transport;
    const char *region;
    const char *new_keys;
    bool yes;
} area_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    area_opts *o = user;

    switch (opt) {
    case 'k':
        o->keys = arg;
        return 0;
    case 't':
        o->transport = arg;
        return 0;
    case 'r':
        o->region = arg;
        return 0;
    case 'y':
        o->yes = true;
        return 0;
    case 'n':
        o->new_keys = arg;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "keys", required_argument, NULL, 'k' },
    { "transport", required_argument, NULL, 't' },
    { "region", required_argument, NULL, 'r' },
    { "yes", no_argument, NULL, 'y' },
    { "new", required_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 }
};

static const char u_setup[] = N_(
    "area setup [--transport NAME] [--region NAME]\n"
    "  AREA SETUP of a blank card: opens a session with the transport key set\n"
    "  (default 'transport', KVN FF) and installs the region key set (default\n"
    "  'region'; master keys are diversified for the card).  The area becomes\n"
    "  ACTIVE.\n");
static const char u_rotate[] = N_(
    "area rotate-keys --new NEWNAME [--keys NAME]\n"
    "  Replaces the area's region key set: opens an area manager session with key\n"
    "  set NAME (default 'region') and installs key set NEWNAME (PUT KEY; master\n"
    "  keys are diversified for the card; its KVN must differ).  From then on the\n"
    "  area opens with NEWNAME only.\n");
static const char u_lock[] = N_(
    "area lock [--keys NAME]\n"
    "  Locks the area (every AP refuses its commands) with key set NAME\n"
    "  (default 'region').\n");
static const char u_unlock[] = N_(
    "area unlock [--keys NAME]\n"
    "  Unlocks a locked area.\n");
static const char u_terminate[] = N_(
    "area terminate --yes [--keys NAME]\n"
    "  Terminates the area: every AP and key set is wiped, for good.  Needs --yes.\n");

static int parse(int argc, char **argv, area_opts *o, const char *usage)
{
    int first;

    memset(o, 0, sizeof *o);
    if (cli_getopt(argc, argv, opts, on_opt, o, &first) != 0 ||
        cli_operands(argc, first, 0, 0, usage) != 0) {
        return -1;
    }
    return 0;
}

static int area_setup(cli *c, int argc, char **argv)
{
    area_opts o;
    am_frame f;
    mnap_keyset region;
    int rc;

    if (parse(argc, argv, &o, u_setup) != 0) {
        return EX_USAGE;
    }
    rc = am_begin(&f, c, true, "area setup", NULL, 0, o.transport != NULL ? o.transport : "transport");
    if (rc == EX_OK) {
        const char *name = o.region != NULL ? o.region : "region";
        rc = ks_get(f.ks, name, &region);
        if (rc != EX_OK) {
            rc = op_fail_msg(&f.op, rc, "region key set not in the key store");
        } else {
            mnap_err e = mnap_area_setup(f.conn.ctx, &region);
            mnap_keyset_wipe(&region);
            if (e != MNAP_OK) {
                rc = op_fail(&f.op, f.conn.ctx, e, "AREA SETUP");
            } else {
                printf(_("area set up: region key set '%s' installed, area ACTIVE\n"), name);
            }
        }
    }
    return am_end(&f, rc);
}

static int area_rotate(cli *c, int argc, char **argv)
{
    area_opts o;
    am_frame f;
    mnap_keyset cur, next;
    const char *name;
    int rc;

    if (parse(argc, argv, &o, u_rotate) != 0) {
        return EX_USAGE;
    }
    if (o.new_keys == NULL) {
        cli_error("area rotate-keys: the new region key set: --new NAME");
        return EX_USAGE;
    }
    name = o.keys != NULL ? o.keys : "region";
    rc = am_begin(&f, c, true, "area rotate-keys", NULL, 0, name);
    if (rc == EX_OK) {
        rc = ks_get(f.ks, name, &cur);
        if (rc == EX_OK) {
            rc = ks_get(f.ks, o.new_keys, &next);
            if (rc != EX_OK) {
                rc = op_fail_msg(&f.op, rc, "new key set not in the key store");
            } else if (next.kvn == cur.kvn) {
                cli_error("key set '%s' has the KVN of the current keys (%02X): give the new keys "
                          "another KVN", o.new_keys, cur.kvn);
                rc = op_fail_msg(&f.op, EX_USAGE, "same KVN");
            } else {
                mnap_err e = mnap_area_rotate_keys(f.conn.ctx, cur.kvn, &next);
                if (e != MNAP_OK) {
                    rc = op_fail(&f.op, f.conn.ctx, e, "PUT KEY");
                } else {
                    printf(_("area key set replaced, KVN %02X -> %02X: the area opens with '%s' from now on\n"),
                           cur.kvn, next.kvn, o.new_keys);
                }
            }
            mnap_keyset_wipe(&next);
        }
        mnap_keyset_wipe(&cur);
    }
    return am_end(&f, rc);
}

/* lock, unlock and terminate differ only in the call and the words. */
static int area_state(cli *c, int argc, char **argv, const char *usage, const char *command,
                      mnap_err (*call)(mnap_ctx *), const char *done)
{
    area_opts o;
    am_frame f;
    int rc;

    if (parse(argc, argv, &o, usage) != 0) {
        return EX_USAGE;
    }
    if (call == mnap_area_terminate && !o.yes) {
        cli_error("area terminate wipes every AP and key set for good: add --yes");
        return EX_USAGE;
    }
    rc = am_begin(&f, c, true, command, NULL, 0, o.keys != NULL ? o.keys : "region");
    if (rc == EX_OK) {
        mnap_err e = call(f.conn.ctx);
        if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, command);
        } else {
            printf("%s\n", done);
        }
    }
    return am_end(&f, rc);
}

static int area_lock(cli *c, int argc, char **argv)
{
    return area_state(c, argc, argv, u_lock, "area lock", mnap_area_lock, "area LOCKED");
}

static int area_unlock(cli *c, int argc, char **argv)
{
    return area_state(c, argc, argv, u_unlock, "area unlock", mnap_area_unlock, "area ACTIVE");
}

static int area_terminate(cli *c, int argc, char **argv)
{
    return area_state(c, argc, argv, u_terminate, "area terminate", mnap_area_terminate,
                      "area TERMINATED");
}

static const cli_sub subs[] = {
    { "setup", area_setup, u_setup },
    { "rotate-keys", area_rotate, u_rotate },
    { "lock", area_lock, u_lock },
    { "unlock", area_unlock, u_unlock },
    { "terminate", area_terminate, u_terminate },
};

int cmd_area(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "area", subs, sizeof subs / sizeof subs[0], argc, argv);
}
