/* cmd_kiosk.c: `mnap kiosk library|certificate AID`: the business-system
 * flows of the two example APs (tools/examples/library.json and
 * certificate.json).  Each opens a mutually authenticated session with the
 * AP's key set, asks for the resident's PIN, reads the AP's files and
 * appends one record, as a library counter or a convenience-store kiosk
 * would.  The files each flow uses are the examples' FIDs. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "reg.h"
#include "secret.h"
#include "cm_ct.h"

#include <string.h>
#include <time.h>

typedef struct kiosk_opts {
    const char *keys;
    const char *item;
    const char *kind;
    const char *kiosk_id;
    const char *stop_list, *stop_key;
    bool pin_stdin;
} kiosk_opts;

static int on_opt(void *user, int opt, const char *arg)
{
    kiosk_opts *o = user;

    switch (opt) {
    case 'k':
        o->keys = arg;
        return 0;
    case 'i':
        o->item = arg;
        return 0;
    case 't':
        o->kind = arg;
        return 0;
    case 'K':
        o->kiosk_id = arg;
        return 0;
    case 'p':
        o->pin_stdin = true;
        return 0;
    case 'S':
        o->stop_list = arg;
        return 0;
    case 'P':
        o->stop_key = arg;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "keys", required_argument, NULL, 'k' },
    { "item", required_argument, NULL, 'i' },
    { "kind", required_argument, NULL, 't' },
    { "kiosk-id", required_argument, NULL, 'K' },
    { "pin-stdin", no_argument, NULL, 'p' },
    { "stop-list", required_argument, NULL, 'S' },
    { "stop-list-key", required_argument, NULL, 'P' },
    { NULL, 0, NULL, 0 }
};

static const char u_library[] = N_(
    "kiosk library AID [--keys NAME] [--item ID] [--pin-stdin]\n"
    "              [--stop-list FILE --stop-list-key HEX]\n"
    "  The library counter: opens a session on the library AP with key set NAME\n"
    "  (default 'library'), asks for the PIN (no echo; one line of stdin with\n"
    "  --pin-stdin), shows the patron ID (EF 0101), the issuing library (EF 0103)\n"
    "  and the loan history (EF 0102, newest first), then records a loan of item\n"
    "  ID (default DEMO-0001, due in 14 days) in the loan history.\n"
    "  With --stop-list, a card on the signed stop list (mnap card stoplist-export;\n"
    "  HEX is its public key) is refused before any PIN is asked, and so is an\n"
    "  expired or altered list.\n");
static const char u_certificate[] = N_(
    "kiosk certificate AID [--keys NAME] [--kind KIND] [--kiosk-id ID] [--pin-stdin]\n"
    "              [--stop-list FILE --stop-list-key HEX]\n"
    "  The convenience-store kiosk: opens a session on the certificate AP with key\n"
    "  set NAME (default 'certificate'), asks for the PIN, reads the resident\n"
    "  reference (EF 0201) and the data format (EF 0203), and records the\n"
    "  issuance of one certificate of KIND (default juminhyo) by kiosk ID\n"
    "  (default KIOSK-01) in the issuance log (EF 0202).  --stop-list as for\n"
    "  kiosk library.\n");

/* Prints bytes as text when they are printable (UTF-8 included), else hex;
 * trailing NUL, space and FF padding is not shown. */
static void show(const char *label, const uint8_t *b, size_t n)
{
    bool text = true;
    char hex[2 * 256 + 1];

    while (n > 0 && (b[n - 1] == 0x00 || b[n - 1] == 0xFF || b[n - 1] == ' ')) {
        n--;
    }
    if (n == 0) {
        printf(_("  %-18s (empty)\n"), label);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x20 || b[i] == 0x7F) {
            text = false;
        }
    }
    if (text) {
        printf("  %-18s %.*s\n", label, (int)n, (const char *)b);
    } else {
        mt_hex_encode(b, n > 256 ? 256 : n, hex, MT_HEX_UPPER);
        printf("  %-18s %s\n", label, hex);
    }
}

typedef struct flow {
    cli_op op;
    cli_conn conn;
    bool audit_open;
} flow;

/* Audit, key store, connection, AP session, PIN.  Returns an exit code;
 * kiosk_end records and cleans up whatever happened. */
static int kiosk_begin(flow *f, const cli *c, const char *command, const uint8_t *aid,
                       size_t aid_len, const char *keyname, const kiosk_opts *o)
{
    mnap_keystore *ks = NULL;
    mnap_keyset set;
    mnap_pin_status st;
    uint8_t div[MNAP_DIV_DATA_LEN];
    char pin[SECRET_MAX];
    size_t pin_len = 0;
    uint8_t tries = 0;
    int rc;

    memset(f, 0, sizeof *f);
    f->op.audit.fd = -1;
    rc = op_begin(&f->op, c, command, aid, aid_len);
    if (rc != EX_OK) {
        return rc;
    }
    f->audit_open = true;
    rc = ks_open(c, &ks);
    if (rc == EX_OK) {
        rc = ks_get(ks, keyname, &set);
    }
    if (rc != EX_OK) {
        mnap_keystore_free(ks);
        return op_fail_msg(&f->op, rc, "AP key set not available");
    }
    rc = conn_open(c, &f->conn);
    if (rc != EX_OK) {
        mnap_keyset_wipe(&set);
        mnap_keystore_free(ks);
        return op_fail_msg(&f->op, rc, "no card");
    }
    /* The store stays open until the channel is: master keys in a token
     * are diversified there while the channel opens. */
    mnap_err e = mnap_ap_open(f->conn.ctx, aid, aid_len, &set, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&set);
    mnap_keystore_free(ks);
    bool have_serial = mnap_card_div_data(f->conn.ctx, div) == MNAP_OK;
    if (have_serial) {
        op_serial(&f->op, div); /* the serial is the first 8 bytes */
    }
    /* Stop measures: a card on the stop list (online for a kiosk operator,
     * offline with a signed list) is refused before any PIN is asked. */
    if (o->stop_list != NULL || o->stop_key != NULL || (c->logged_in && c->actor.role == MNAP_ROLE_KIOSK)) {
        if (!have_serial && e == MNAP_OK) {
            cli_error("the card's serial cannot be read: its stop-list state is unknown, it is not served");
            return op_fail_msg(&f->op, EX_CARD, "serial unknown");
        }
        char why[120] = "stop-list check failed";
        rc = !have_serial ? EX_OK : stop_check(c, div, o->stop_list, o->stop_key, why, sizeof why);
        if (rc != EX_OK) {
            return op_fail_msg(&f->op, rc, why);
        }
    }
    if (e == MNAP_E_NOT_FOUND) {
        cli_error("this card has no AP %s", f->op.aid);
        return op_fail_msg(&f->op, EX_CARD, "no such AP");
    }
    if (e == MNAP_E_NOT_ACTIVE) {
        cli_error("this card's AP %s is suspended or its area locked: go to the municipal counter",
                  f->op.aid);
        return op_fail_msg(&f->op, EX_CARD, "AP not active");
    }
    if (e != MNAP_OK) {
        return op_fail(&f->op, f->conn.ctx, e, "opening the AP session");
    }
    /* A blocked PIN is told before the resident types anything. */
    e = mnap_ap_pin_status(f->conn.ctx, &st);
    if (e == MNAP_OK && st.blocked) {
        cli_error("PIN blocked: go to the municipal counter (市区町村窓口) to have it unblocked");
        return op_fail_msg(&f->op, EX_CARD, "PIN blocked");
    }
    if (e == MNAP_OK && st.not_set) {
        cli_error("no PIN set for this AP yet: go to the municipal counter to set one");
        return op_fail_msg(&f->op, EX_CARD, "PIN not set");
    }
    if (secret_pin("PIN", o->pin_stdin, false, pin, sizeof pin, &pin_len) != 0) {
        cm_wipe(pin, sizeof pin);
        return op_fail_msg(&f->op, EX_USAGE, "no PIN entered");
    }
    e = mnap_ap_verify_pin(f->conn.ctx, pin, pin_len, &tries);
    cm_wipe(pin, sizeof pin);
    switch (e) {
    case MNAP_OK:
        return EX_OK;
    case MNAP_E_PIN_WRONG:
        cli_error("wrong PIN: %u %s left", tries, tries == 1 ? "try" : "tries");
        return op_fail_msg(&f->op, EX_CARD, "wrong PIN");
    case MNAP_E_PIN_BLOCKED:
        cli_error("wrong PIN: the PIN is now blocked: go to the municipal counter (市区町村窓口) to have it unblocked");
        return op_fail_msg(&f->op, EX_CARD, "wrong PIN, PIN blocked");
    case MNAP_E_PIN_POLICY:
        cli_error("that is not a valid PIN for this AP (length or digits); no try was used");
        return op_fail_msg(&f->op, EX_CARD, "PIN policy");
    default:
        return op_fail(&f->op, f->conn.ctx, e, "VERIFY");
    }
}

static int kiosk_end(flow *f, int rc)
{
    if (f->audit_open) {
        rc = op_end(&f->op, rc);
    }
    conn_close(&f->conn);
    return rc;
}

static int read_ef(flow *f, uint16_t fid, const char *label, size_t size)
{
    uint8_t buf[256];
    size_t got = 0;
    char what[32];

    mnap_err e = mnap_ap_read_binary(f->conn.ctx, fid, 0, buf, size < sizeof buf ? size : sizeof buf, &got);
    if (e != MNAP_OK) {
        snprintf(what, sizeof what, "READ BINARY %04X", fid);
        return op_fail(&f->op, f->conn.ctx, e, what);
    }
    show(label, buf, got);
    cm_wipe(buf, sizeof buf);
    return EX_OK;
}

static void today(char *out, size_t cap, int plus_days)
{
    time_t t = time(NULL) + (time_t)plus_days * 86400;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%d", &tm) == 0) {
        snprintf(out, cap, "0000-00-00");
    }
}

/* A fixed-length record: text padded with spaces (cut when longer). */
static void record(uint8_t *rec, size_t len, const char *text)
{
    size_t n = strlen(text);

    memset(rec, ' ', len);
    memcpy(rec, text, n < len ? n : len);
}

static int kiosk_library(cli *c, int argc, char **argv)
{
    kiosk_opts o = { 0 };
    int first;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    flow f;
    int rc;

    if (cli_getopt(argc, argv, opts, on_opt, &o, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_library) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0) {
        return EX_USAGE;
    }
    rc = kiosk_begin(&f, c, "kiosk library", aid, aid_len, o.keys != NULL ? o.keys : "library",
                     &o);
    if (rc == EX_OK) {
        printf(_("library AP %s: PIN verified\n"), f.op.aid);
        rc = read_ef(&f, 0x0101, "patron ID:", 32);
    }
    if (rc == EX_OK) {
        rc = read_ef(&f, 0x0103, "library:", 64);
    }
    if (rc == EX_OK) {
        /* The loan history is cyclic: record 1 is the newest. */
        printf(_("  loan history:\n"));
        unsigned shown = 0;
        for (uint8_t r = 1; r <= 20 && rc == EX_OK; r++) {
            uint8_t buf[64];
            size_t len = 0;
            mnap_err e = mnap_ap_read_record(f.conn.ctx, 0x0102, r, buf, sizeof buf, &len);
            if (e == MNAP_E_RECORD_NOT_FOUND) {
                break;
            }
            if (e != MNAP_OK) {
                rc = op_fail(&f.op, f.conn.ctx, e, "READ RECORD 0102");
                break;
            }
            while (len > 0 && buf[len - 1] == ' ') {
                len--;
            }
            printf("    %2u. %.*s\n", r, (int)len, (const char *)buf);
            shown++;
        }
        if (rc == EX_OK && shown == 0) {
            printf(_("    (no loans yet)\n"));
        }
    }
    if (rc == EX_OK) {
        char d[16], due[16], text[96];
        uint8_t rec[48];
        today(d, sizeof d, 0);
        today(due, sizeof due, 14);
        snprintf(text, sizeof text, "%s %s due %s", d, o.item != NULL ? o.item : "DEMO-0001", due);
        record(rec, sizeof rec, text);
        mnap_err e = mnap_ap_append_record(f.conn.ctx, 0x0102, rec, sizeof rec);
        if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, "APPEND RECORD 0102");
        } else {
            printf(_("loan recorded: %s\n"), text);
        }
    }
    return kiosk_end(&f, rc);
}

static int kiosk_certificate(cli *c, int argc, char **argv)
{
    kiosk_opts o = { 0 };
    int first;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    flow f;
    int rc;

    if (cli_getopt(argc, argv, opts, on_opt, &o, &first) != 0 ||
        cli_operands(argc, first, 1, 1, u_certificate) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0) {
        return EX_USAGE;
    }
    rc = kiosk_begin(&f, c, "kiosk certificate", aid, aid_len,
                     o.keys != NULL ? o.keys : "certificate", &o);
    if (rc == EX_OK) {
        printf(_("certificate AP %s: PIN verified\n"), f.op.aid);
        rc = read_ef(&f, 0x0201, "resident ref.:", 20);
    }
    if (rc == EX_OK) {
        rc = read_ef(&f, 0x0203, "data format:", 8);
    }
    if (rc == EX_OK) {
        char d[16], text[64];
        uint8_t rec[32];
        today(d, sizeof d, 0);
        snprintf(text, sizeof text, "%s %s %s 1", d, o.kiosk_id != NULL ? o.kiosk_id : "KIOSK-01",
                 o.kind != NULL ? o.kind : "juminhyo");
        record(rec, sizeof rec, text);
        mnap_err e = mnap_ap_append_record(f.conn.ctx, 0x0202, rec, sizeof rec);
        if (e == MNAP_E_NO_SPACE) {
            cli_error("the issuance log is full: go to the municipal counter");
            rc = op_fail_msg(&f.op, EX_CARD, "issuance log full");
        } else if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, "APPEND RECORD 0202");
        } else {
            printf(_("issuance recorded: %s\n"), text);
        }
    }
    return kiosk_end(&f, rc);
}

static const cli_sub subs[] = {
    { "library", kiosk_library, u_library },
    { "certificate", kiosk_certificate, u_certificate },
};

int cmd_kiosk(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "kiosk", subs, sizeof subs / sizeof subs[0], argc, argv);
}
