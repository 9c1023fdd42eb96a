/* cmd_log.c: `mnap log`: the card's security log (PROTOCOL.md §8), newest
 * first, decoded. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"

#include <string.h>

static const char u_log[] = N_(
    "log [--keys NAME]\n"
    "  Reads the card's security log in an area manager session (key set NAME,\n"
    "  default 'region') and prints it newest first: sequence, event, AID, and\n"
    "  how many times the event repeated.\n");

static int on_opt(void *user, int opt, const char *arg)
{
    const char **keys = user;

    if (opt != 'k') {
        return -1;
    }
    *keys = arg;
    return 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "keys", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 }
    };
    const char *keys = "region";
    int first;
    am_frame f;
    mnap_log_entry log[64];
    size_t count = 0;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_log), stdout);
        return EX_OK;
    }
    if (cli_getopt(argc, argv, opts, on_opt, &keys, &first) != 0 ||
        cli_operands(argc, first, 0, 0, u_log) != 0) {
        return EX_USAGE;
    }
    rc = am_begin(&f, c, false, "log", NULL, 0, keys);
    if (rc == EX_OK) {
        mnap_err e = mnap_area_read_log(f.conn.ctx, log, sizeof log / sizeof log[0], &count);
        if (e != MNAP_OK) {
            rc = cli_fail(f.conn.ctx, e, "reading the security log");
        }
    }
    if (rc == EX_OK) {
        if (c->json) {
            printf("{\"log\":[");
        } else if (count == 0) {
            printf(_("(the security log is empty)\n"));
        } else {
            printf("%6s  %-14s %-32s %s\n", "SEQ", "EVENT", "AID", "REPEAT");
        }
        for (size_t i = 0; i < count; i++) {
            char hex[2 * MNAP_AID_MAX + 1];
            mt_hex_encode(log[i].aid, log[i].aid_len, hex, MT_HEX_UPPER);
            if (c->json) {
                printf("%s{\"seq\":%lu,\"event\":\"%s\",\"event_code\":\"%02X\",\"aid\":%s%s%s,\"repeat\":%u}",
                       i == 0 ? "" : ",", (unsigned long)log[i].seq, mnap_log_event_name(log[i].event),
                       log[i].event, log[i].aid_len != 0 ? "\"" : "", log[i].aid_len != 0 ? hex : "null",
                       log[i].aid_len != 0 ? "\"" : "", log[i].repeat);
            } else {
                printf("%6lu  %-14s %-32s %u\n", (unsigned long)log[i].seq,
                       mnap_log_event_name(log[i].event), log[i].aid_len != 0 ? hex : "-", log[i].repeat);
            }
        }
        if (c->json) {
            printf("]}\n");
        }
    }
    return am_end(&f, rc);
}
