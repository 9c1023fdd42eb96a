/* cmd_card.c: `mnap readers` and `mnap info`: what is connected and what the
 * card says about its area. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "names.h"

#include <string.h>

static const char u_readers[] = N_(
    "readers\n"
    "  Lists the PC/SC readers with their numbers (for --reader INDEX).\n");

typedef struct reader_print {
    const cli *c;
    size_t i;
} reader_print;

static void print_reader(void *user, const char *name)
{
    reader_print *p = user;

    if (p->c->json) {
        printf("%s{\"index\":%zu,\"name\":", p->i == 0 ? "" : ",", p->i);
        cli_json_str(stdout, name);
        putchar('}');
    } else {
        printf("%zu: %s\n", p->i, name);
    }
    p->i++;
}

int cmd_readers(cli *c, int argc, char **argv)
{
    mnap_pcsc *p = NULL;
    reader_print rp = { c, 0 };
    size_t count = 0;
    mnap_err e;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_readers), stdout);
        return EX_OK;
    }
    if (argc != 1) {
        cli_error("usage: mnap readers");
        return EX_USAGE;
    }
    if (c->card_image != NULL) {
        /* The image card stands in for the one reader. */
        if (c->json) {
            printf("{\"readers\":[{\"index\":0,\"name\":");
            cli_json_str(stdout, c->card_image);
            printf(",\"card_image\":true}]}\n");
        } else {
            printf(_("0: card image %s\n"), c->card_image);
        }
        return EX_OK;
    }
    e = mnap_pcsc_new(&p);
    if (e != MNAP_OK) {
        return cli_fail(NULL, e, "PC/SC");
    }
    if (c->json) {
        printf("{\"readers\":[");
    }
    e = mnap_pcsc_list_readers(p, print_reader, &rp, &count);
    if (c->json) {
        printf("]}\n");
    }
    mnap_pcsc_free(p);
    if (e != MNAP_OK) {
        return cli_fail(NULL, e, "listing readers");
    }
    if (count == 0) {
        cli_error("no smart card reader found");
        return EX_NOCARD;
    }
    return EX_OK;
}

static const char u_info[] = N_(
    "info [--keys NAME] [--public]\n"
    "  Shows the ATR, the area state, the runtime version and limits, and, in an\n"
    "  area manager session, the serial, free NVM and number of APs.  The session\n"
    "  uses key set NAME (default: 'transport' on a blank card, else 'region')\n"
    "  and needs the key store; --public skips it and shows only what any reader\n"
    "  may see.\n");

typedef struct info_opts {
    const char *keys;
    bool pub;
} info_opts;

static int on_info(void *user, int opt, const char *arg)
{
    info_opts *o = user;

    if (opt == 'k') {
        o->keys = arg;
    } else if (opt == 'p') {
        o->pub = true;
    } else {
        return -1;
    }
    return 0;
}

static void print_info(const cli *c, const char *reader, const uint8_t *atr, size_t atr_len,
                       const mnap_area_info *in)
{
    char atr_hex[2 * 64 + 1] = "";
    char serial[17], div[2 * MNAP_DIV_DATA_LEN + 1];

    mt_hex_encode(atr, atr_len, atr_hex, MT_HEX_UPPER);
    mt_hex_encode(in->serial, 8, serial, MT_HEX_UPPER);
    mt_hex_encode(in->div_data, MNAP_DIV_DATA_LEN, div, MT_HEX_UPPER);
    if (c->json) {
        printf("{\"reader\":");
        cli_json_str(stdout, reader);
        printf(",\"atr\":\"%s\",\"area_state\":\"%s\",\"area_state_code\":\"%02X\","
               "\"runtime_version\":\"%u.%u\",\"max_aps\":%u,\"max_command\":%u,\"max_response\":%u",
               atr_hex, area_state_name(in->state), in->state, in->version_major, in->version_minor,
               in->max_aps, in->max_command, in->max_response);
        if (in->have_am_fields) {
            printf(",\"serial\":\"%s\",\"div_data\":\"%s\",\"free_nvm\":%lu,\"aps\":%u", serial, div,
                   (unsigned long)in->free_nvm, in->ap_count);
        }
        printf("}\n");
        return;
    }
    printf(_("reader:          %s\n"), reader);
    printf(_("ATR:             %s\n"), atr_hex);
    printf(_("area state:      %s (%02X)\n"), area_state_name(in->state), in->state);
    printf(_("runtime version: %u.%u\n"), in->version_major, in->version_minor);
    printf(_("limits:          %u APs, %u bytes per command, %u per response\n"), in->max_aps,
           in->max_command, in->max_response);
    if (in->have_am_fields) {
        printf(_("serial:          %s\n"), serial);
        printf(_("div. data:       %s\n"), div);
        printf(_("free NVM:        %lu bytes\n"), (unsigned long)in->free_nvm);
        printf(_("APs:             %u\n"), in->ap_count);
    } else {
        printf(_("serial, free NVM, APs: need an area manager session (without --public)\n"));
    }
}

int cmd_info(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "keys", required_argument, NULL, 'k' },
        { "public", no_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 }
    };
    info_opts o = { NULL, false };
    int first;
    cli_conn k;
    mnap_area_info in;
    uint8_t atr[64];
    size_t atr_len = 0;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_info), stdout);
        return EX_OK;
    }
    if (cli_getopt(argc, argv, opts, on_info, &o, &first) != 0 ||
        cli_operands(argc, first, 0, 0, u_info) != 0) {
        return EX_USAGE;
    }
    rc = conn_open(c, &k);
    if (rc != EX_OK) {
        return rc;
    }
    if (conn_atr(&k, atr, sizeof atr, &atr_len) != MNAP_OK) {
        atr_len = 0;
    }
    mnap_err e = mnap_area_info_get(k.ctx, &in);
    if (e != MNAP_OK) {
        rc = cli_fail(k.ctx, e, "GET DATA DF20");
        conn_close(&k);
        return rc;
    }
    if (!o.pub && in.state != MNAP_AREA_TERMINATED) {
        /* The AM session tells the serial, free NVM and AP count. */
        mnap_keystore *ks = NULL;
        mnap_keyset set;
        const char *name = o.keys != NULL ? o.keys : in.state == MNAP_AREA_BLANK ? "transport" : "region";
        rc = ks_open(c, &ks);
        if (rc == EX_OK) {
            rc = ks_get(ks, name, &set);
        }
        if (rc == EX_OK) {
            e = mnap_am_open(k.ctx, &set, MNAP_LEVEL_FULL);
            mnap_keyset_wipe(&set);
            if (e == MNAP_OK) {
                e = mnap_area_info_get(k.ctx, &in);
            }
            if (e != MNAP_OK) {
                rc = cli_fail(k.ctx, e, "area manager session");
            }
        }
        mnap_keystore_free(ks);
        if (rc != EX_OK) {
            conn_close(&k);
            return rc;
        }
    }
    print_info(c, k.reader, atr, atr_len, &in);
    conn_close(&k);
    return EX_OK;
}
