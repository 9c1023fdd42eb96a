/* cmd_simcard.c: `mnap simcard create PATH`: a blank card image for
 * --card-image (tests, training, the demo without a reader). */
#include "cli.h"
#include "i18n.h"
#include "simcard.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static const char u_create[] = N_(
    "simcard create PATH [--serial HEX] [--nvm-size BYTES]\n"
    "  Fabricates a blank simulated card into a new image file (refused when PATH\n"
    "  exists): blank area, transport key set KVN FF = 40 41 .. 4F, serial HEX\n"
    "  (8 bytes, default random), diversification data serial || 00 01.  Use it\n"
    "  with --card-image PATH (or MNAP_CARD_IMAGE); mnap-vcard serves the same\n"
    "  image format.\n");

typedef struct sim_opts {
    const char *serial;
    unsigned long nvm;
} sim_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    sim_opts *o = user;
    char *end = NULL;

    if (opt == 's') {
        o->serial = arg;
        return 0;
    }
    if (opt == 'n') {
        o->nvm = strtoul(arg, &end, 10);
        if (*end != '\0' || o->nvm < 4096 || o->nvm > 16u * 1024 * 1024) {
            cli_error("--nvm-size: 4096 to 16777216 bytes");
            return -1;
        }
        return 0;
    }
    return -1;
}

static int simcard_create_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "serial", required_argument, NULL, 's' },
        { "nvm-size", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 }
    };
    sim_opts o = { NULL, 0 };
    uint8_t serial[8];
    size_t len = 0;
    char err[300];
    char hex[17];
    int first;

    (void)c;
    if (cli_getopt(argc, argv, opts, on_opt, &o, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_create) != 0) {
        return EX_USAGE;
    }
    if (o.serial != NULL) {
        if (cli_hex_parse(o.serial, serial, 8, 8, &len) != 0) {
            cli_error("--serial: 8 bytes of hex");
            return EX_USAGE;
        }
    } else if (RAND_bytes(serial, sizeof serial) != 1) {
        cli_error("no random serial");
        return EX_LOCAL;
    }
    if (simcard_create(argv[first], serial, (uint32_t)o.nvm, err, sizeof err) != 0) {
        cli_error("%s", err);
        return EX_LOCAL;
    }
    mt_hex_encode(serial, 8, hex, MT_HEX_UPPER);
    printf(_("blank card %s created in %s\n"), hex, argv[first]);
    return EX_OK;
}

static const cli_sub subs[] = {
    { "create", simcard_create_cmd, u_create },
};

int cmd_simcard(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "simcard", subs, sizeof subs / sizeof subs[0], argc, argv);
}
