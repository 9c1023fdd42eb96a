/* cmd_ef.c: `mnap ef read|update|append AID FID` (any AP's files, so that a
 * municipality's own AP can be exercised without writing C) and
 * `mnap ap rotate-keys AID`: both in an AP session opened with the AP's key
 * set, each recorded in the audit log. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "secret.h"
#include "cm_ct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EF_DATA_MAX 32768

typedef struct ef_opts {
    const char *keys;
    const char *new_keys;
    const char *data;
    const char *file;
    long offset;         /* -1: not given */
    long length;         /* -1: not given */
    int record;          /* 0: not given */
    bool pin;
    bool pin_stdin;
} ef_opts;

static int number(const char *opt, const char *arg, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > max) {
        cli_error("%s: a number from 0 to %ld", opt, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int on_opt(void *user, int opt, const char *arg)
{
    ef_opts *o = user;
    long v = 0;

    switch (opt) {
    case 'k':
        o->keys = arg;
        return 0;
    case 'n':
        o->new_keys = arg;
        return 0;
    case 'd':
        o->data = arg;
        return 0;
    case 'f':
        o->file = arg;
        return 0;
    case 'o':
        return number("--offset", arg, 65535, &o->offset);
    case 'l':
        return number("--length", arg, 65535, &o->length);
    case 'r':
        if (number("--record", arg, 254, &v) != 0 || v == 0) {
            if (v == 0) {
                cli_error("--record: records are numbered from 1 to 254");
            }
            return -1;
        }
        o->record = (int)v;
        return 0;
    case 'P':
        o->pin = true;
        return 0;
    case 'p':
        o->pin_stdin = true;
        return 0;
    default:
        return -1;
    }
}

static const struct option opts[] = {
    { "keys", required_argument, NULL, 'k' },
    { "new", required_argument, NULL, 'n' },
    { "data", required_argument, NULL, 'd' },
    { "file", required_argument, NULL, 'f' },
    { "offset", required_argument, NULL, 'o' },
    { "length", required_argument, NULL, 'l' },
    { "record", required_argument, NULL, 'r' },
    { "pin", no_argument, NULL, 'P' },
    { "pin-stdin", no_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 }
};

static const char u_read[] = N_(
    "ef read AID FID --keys NAME [--offset N] [--length N] [--record N] [--pin|--pin-stdin]\n"
    "  Reads an EF of AP AID in a session opened with the AP's key set NAME: a\n"
    "  transparent EF from --offset (default 0), --length bytes (default: to its\n"
    "  end); a record EF record N, or every record.  Prints hex (one line per\n"
    "  record).  --pin asks for the PIN (no echo), --pin-stdin reads it from stdin,\n"
    "  for files that need it.\n");
static const char u_update[] = N_(
    "ef update AID FID --keys NAME (--data HEX | --file PATH) [--offset N | --record N]\n"
    "          [--pin|--pin-stdin]\n"
    "  Writes a transparent EF at --offset (default 0), or replaces record N of a\n"
    "  record EF.  A record is written at exactly its length: the data must have\n"
    "  the EF's record length.\n");
static const char u_append[] = N_(
    "ef append AID FID --keys NAME (--data HEX | --file PATH) [--pin|--pin-stdin]\n"
    "  Appends a record (of exactly the EF's record length) to a linear or cyclic EF.\n");
const char ap_rotate_usage[] = N_(
    "ap rotate-keys AID --keys NAME --new NEWNAME\n"
    "  Replaces the AP's key set: opens a session with key set NAME (the AP's\n"
    "  current keys) and installs key set NEWNAME (PUT KEY; master keys are\n"
    "  diversified for the card).  From then on the AP opens with NEWNAME only.\n");

static int parse(int argc, char **argv, ef_opts *o, const char *usage, int nargs, int *first)
{
    memset(o, 0, sizeof *o);
    o->offset = -1;
    o->length = -1;
    if (cli_getopt(argc, argv, opts, on_opt, o, first) != 0 ||
        cli_operands(argc, *first, nargs, nargs, usage) != 0) {
        return -1;
    }
    if (o->keys == NULL) {
        cli_error("the AP's key set: --keys NAME");
        return -1;
    }
    if (o->pin && o->pin_stdin) {
        cli_error("--pin or --pin-stdin, not both");
        return -1;
    }
    return 0;
}

static int parse_fid(const char *s, uint16_t *fid)
{
    uint8_t b[2];
    size_t n = 0;

    if (strlen(s) != 4 || cli_hex_parse(s, b, 2, 2, &n) != 0) {
        cli_error("FID: 4 hex digits, e.g. 0101 (got '%s')", s);
        return -1;
    }
    *fid = (uint16_t)((b[0] << 8) | b[1]);
    return 0;
}

/* The data to write: --data HEX or the bytes of --file. */
static int get_data(const ef_opts *o, uint8_t *buf, size_t cap, size_t *len)
{
    if ((o->data == NULL) == (o->file == NULL)) {
        cli_error("the data to write: --data HEX or --file PATH (one of them)");
        return EX_USAGE;
    }
    if (o->data != NULL) {
        if (cli_hex_parse(o->data, buf, 1, cap, len) != 0) {
            cli_error("--data: 1 to %zu bytes of hex", cap);
            return EX_USAGE;
        }
        return EX_OK;
    }
    FILE *f = fopen(o->file, "rb");
    if (f == NULL) {
        cli_error("%s: %s", o->file, strerror(errno));
        return EX_LOCAL;
    }
    *len = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (*len == 0 || more) {
        cli_error("%s: 1 to %zu bytes expected", o->file, cap);
        return EX_USAGE;
    }
    return EX_OK;
}

typedef struct ap_frame {
    cli_op op;
    cli_conn conn;
    bool audit_open;
} ap_frame;

/* Audit, key store, connection, AP session with key set keyname, and the
 * PIN when asked.  Returns an exit code; ap_end records and cleans up.  The
 * key store is given back open in *ks_out when not NULL (rotate-keys). */
static int ap_begin(ap_frame *f, const cli *c, const char *command, const uint8_t *aid,
                    size_t aid_len, const char *keyname, bool pin, bool pin_stdin,
                    mnap_keystore **ks_out)
{
    mnap_keystore *ks = NULL;
    mnap_keyset set;
    uint8_t div[MNAP_DIV_DATA_LEN];
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
    mnap_err e = mnap_ap_open(f->conn.ctx, aid, aid_len, &set, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&set);
    if (ks_out != NULL && e == MNAP_OK) {
        *ks_out = ks;
    } else {
        mnap_keystore_free(ks);
    }
    if (mnap_card_div_data(f->conn.ctx, div) == MNAP_OK) {
        op_serial(&f->op, div);
    }
    if (e == MNAP_E_NOT_FOUND) {
        cli_error("this card has no AP %s", f->op.aid);
        return op_fail_msg(&f->op, EX_CARD, "no such AP");
    }
    if (e != MNAP_OK) {
        return op_fail(&f->op, f->conn.ctx, e, "opening the AP session");
    }
    if (!pin && !pin_stdin) {
        return EX_OK;
    }
    char p[SECRET_MAX];
    size_t plen = 0;
    uint8_t tries = 0;
    if (secret_pin("PIN", pin_stdin, false, p, sizeof p, &plen) != 0) {
        cm_wipe(p, sizeof p);
        return op_fail_msg(&f->op, EX_USAGE, "no PIN entered");
    }
    e = mnap_ap_verify_pin(f->conn.ctx, p, plen, &tries);
    cm_wipe(p, sizeof p);
    if (e == MNAP_E_PIN_WRONG) {
        cli_error("wrong PIN: %u %s left", tries, tries == 1 ? "try" : "tries");
        return op_fail_msg(&f->op, EX_CARD, "wrong PIN");
    }
    if (e != MNAP_OK) {
        return op_fail(&f->op, f->conn.ctx, e, "VERIFY");
    }
    return EX_OK;
}

static int ap_end(ap_frame *f, int rc)
{
    if (f->audit_open) {
        rc = op_end(&f->op, rc);
    }
    conn_close(&f->conn);
    return rc;
}

static void print_hex_line(const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        putchar(d[b[i] >> 4]);
        putchar(d[b[i] & 15]);
    }
    putchar('\n');
}

static void print_hex_json(const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789ABCDEF";
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        putchar(d[b[i] >> 4]);
        putchar(d[b[i] & 15]);
    }
    putchar('"');
}

static const char *type_name(uint8_t t)
{
    return t == 0x01 ? "transparent" : t == 0x02 ? "linear-fixed" : t == 0x06 ? "cyclic" : "unknown";
}

static int ef_read(cli *c, int argc, char **argv)
{
    ef_opts o;
    int first, rc;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    uint16_t fid;
    ap_frame f;
    mnap_ef_info info;
    char what[48];

    if (parse(argc, argv, &o, u_read, 2, &first) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0 ||
        parse_fid(argv[first + 1], &fid) != 0) {
        return EX_USAGE;
    }
    rc = ap_begin(&f, c, "ef read", aid, aid_len, o.keys, o.pin, o.pin_stdin, NULL);
    if (rc != EX_OK) {
        return ap_end(&f, rc);
    }
    snprintf(what, sizeof what, "EF %04X", fid);
    mnap_err e = mnap_ap_select_ef(f.conn.ctx, fid, &info);
    if (e != MNAP_OK) {
        if (e == MNAP_E_NOT_FOUND) {
            cli_error("AP %s has no EF %04X", f.op.aid, fid);
            return ap_end(&f, op_fail_msg(&f.op, EX_CARD, "no such EF"));
        }
        return ap_end(&f, op_fail(&f.op, f.conn.ctx, e, what));
    }
    uint8_t *buf = malloc(EF_DATA_MAX);
    if (buf == NULL) {
        cli_error("out of memory");
        return ap_end(&f, op_fail_msg(&f.op, EX_LOCAL, "out of memory"));
    }
    if (c->json) {
        printf("{\"aid\":\"%s\",\"fid\":\"%04X\",\"type\":\"%s\",", f.op.aid, fid, type_name(info.type));
    }
    if (info.type == 0x01) {
        size_t off = o.offset < 0 ? 0 : (size_t)o.offset, got = 0;
        size_t len = o.length >= 0 ? (size_t)o.length : (off < info.size ? info.size - off : 0);
        if (o.record != 0) {
            cli_error("EF %04X is transparent: --offset/--length, not --record", fid);
            rc = op_fail_msg(&f.op, EX_USAGE, "--record on a transparent EF");
        } else if (len > EF_DATA_MAX) {
            cli_error("--length: at most %d bytes at a time", EF_DATA_MAX);
            rc = op_fail_msg(&f.op, EX_USAGE, "length too large");
        } else {
            e = len > 0 ? mnap_ap_read_binary(f.conn.ctx, fid, off, buf, len, &got) : MNAP_OK;
            if (e != MNAP_OK) {
                rc = op_fail(&f.op, f.conn.ctx, e, what);
            } else if (c->json) {
                printf("\"offset\":%zu,\"data\":", off);
                print_hex_json(buf, got);
                printf("}\n");
            } else {
                print_hex_line(buf, got);
            }
        }
    } else {
        if (o.offset >= 0 || o.length >= 0) {
            cli_error("EF %04X holds records: --record N, not --offset/--length", fid);
            rc = op_fail_msg(&f.op, EX_USAGE, "--offset on a record EF");
        } else {
            int from = o.record ? o.record : 1, to = o.record ? o.record : info.record_count, shown = 0;
            if (c->json) {
                printf("\"record_length\":%u,\"records\":[", info.record_length);
            }
            for (int r = from; r <= to && rc == EX_OK; r++) {
                size_t got = 0;
                e = mnap_ap_read_record(f.conn.ctx, fid, (uint8_t)r, buf, EF_DATA_MAX, &got);
                if (e == MNAP_E_RECORD_NOT_FOUND && !o.record) {
                    break;    /* the records written so far */
                }
                if (e != MNAP_OK) {
                    if (c->json) {
                        printf("]}\n");
                    }
                    snprintf(what, sizeof what, "EF %04X record %d", fid, r);
                    rc = op_fail(&f.op, f.conn.ctx, e, what);
                    break;
                }
                if (c->json) {
                    printf("%s{\"record\":%d,\"data\":", shown ? "," : "", r);
                    print_hex_json(buf, got);
                    putchar('}');
                } else {
                    print_hex_line(buf, got);
                }
                shown++;
            }
            if (rc == EX_OK && c->json) {
                printf("]}\n");
            }
        }
    }
    cm_wipe(buf, EF_DATA_MAX);
    free(buf);
    return ap_end(&f, rc);
}

/* update and append: the data, the EF, one write. */
static int ef_write(cli *c, int argc, char **argv, bool append)
{
    ef_opts o;
    int first, rc;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len, len = 0;
    uint16_t fid;
    ap_frame f;
    mnap_ef_info info;
    char what[48];
    const char *usage = append ? u_append : u_update;

    if (parse(argc, argv, &o, usage, 2, &first) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0 ||
        parse_fid(argv[first + 1], &fid) != 0) {
        return EX_USAGE;
    }
    if (o.length >= 0 || (append && (o.offset >= 0 || o.record))) {
        cli_error("%s", append ? "ef append takes no --offset, --length or --record"
                               : "ef update takes no --length: the data gives it");
        return EX_USAGE;
    }
    if (o.offset >= 0 && o.record) {
        cli_error("--offset (transparent EF) or --record (record EF), not both");
        return EX_USAGE;
    }
    uint8_t *buf = malloc(EF_DATA_MAX);
    if (buf == NULL) {
        cli_error("out of memory");
        return EX_LOCAL;
    }
    rc = get_data(&o, buf, EF_DATA_MAX, &len);
    if (rc != EX_OK) {
        free(buf);
        return rc;
    }
    rc = ap_begin(&f, c, append ? "ef append" : "ef update", aid, aid_len, o.keys, o.pin,
                  o.pin_stdin, NULL);
    if (rc == EX_OK) {
        snprintf(what, sizeof what, "EF %04X", fid);
        mnap_err e = mnap_ap_select_ef(f.conn.ctx, fid, &info);
        if (e == MNAP_E_NOT_FOUND) {
            cli_error("AP %s has no EF %04X", f.op.aid, fid);
            rc = op_fail_msg(&f.op, EX_CARD, "no such EF");
        } else if (e != MNAP_OK) {
            rc = op_fail(&f.op, f.conn.ctx, e, what);
        } else if (info.type == 0x01 && (append || o.record)) {
            cli_error("EF %04X is transparent: %s", fid,
                      append ? "use ef update (records are appended to record EFs)" : "--offset, not --record");
            rc = op_fail_msg(&f.op, EX_USAGE, "record command on a transparent EF");
        } else if (info.type == 0x06 && !append) {
            cli_error("EF %04X is cyclic: its records are only appended (ef append)", fid);
            rc = op_fail_msg(&f.op, EX_USAGE, "update on a cyclic EF");
        } else if (info.type != 0x01 && !append && !o.record) {
            cli_error("EF %04X holds records: ef update --record N, or ef append", fid);
            rc = op_fail_msg(&f.op, EX_USAGE, "binary write on a record EF");
        } else if (info.type != 0x01 && len != info.record_length) {
            /* Records are written at exactly their length. */
            cli_error("EF %04X has records of %u bytes: the data has %zu (records are written at "
                      "exactly their length)", fid, info.record_length, len);
            rc = op_fail_msg(&f.op, EX_USAGE, "wrong record length");
        } else {
            if (info.type == 0x01) {
                e = mnap_ap_update_binary(f.conn.ctx, fid, o.offset < 0 ? 0 : (size_t)o.offset, buf, len);
            } else if (append) {
                e = mnap_ap_append_record(f.conn.ctx, fid, buf, len);
            } else {
                e = mnap_ap_update_record(f.conn.ctx, fid, (uint8_t)o.record, buf, len);
            }
            if (e != MNAP_OK) {
                rc = op_fail(&f.op, f.conn.ctx, e, what);
            } else if (info.type == 0x01) {
                printf(_("EF %04X: %zu bytes written at offset %ld\n"), fid, len, o.offset < 0 ? 0L : o.offset);
            } else if (append) {
                printf(_("EF %04X: record of %zu bytes appended\n"), fid, len);
            } else {
                printf(_("EF %04X: record %d replaced (%zu bytes)\n"), fid, o.record, len);
            }
        }
    }
    cm_wipe(buf, EF_DATA_MAX);
    free(buf);
    return ap_end(&f, rc);
}

static int ef_update(cli *c, int argc, char **argv)
{
    return ef_write(c, argc, argv, false);
}

static int ef_append(cli *c, int argc, char **argv)
{
    return ef_write(c, argc, argv, true);
}

int ap_rotate_keys(cli *c, int argc, char **argv)
{
    ef_opts o;
    int first, rc;
    uint8_t aid[MNAP_AID_MAX];
    size_t aid_len;
    ap_frame f;
    mnap_keystore *ks = NULL;
    mnap_keyset cur, next;

    if (parse(argc, argv, &o, ap_rotate_usage, 1, &first) != 0 || cli_aid_arg(argv[first], aid, &aid_len) != 0) {
        return EX_USAGE;
    }
    if (o.new_keys == NULL) {
        cli_error("ap rotate-keys: the new key set: --new NAME");
        return EX_USAGE;
    }
    rc = ap_begin(&f, c, "ap rotate-keys", aid, aid_len, o.keys, false, false, &ks);
    if (rc == EX_OK) {
        rc = ks_get(ks, o.keys, &cur);
        if (rc == EX_OK) {
            rc = ks_get(ks, o.new_keys, &next);
            if (rc != EX_OK) {
                rc = op_fail_msg(&f.op, rc, "new key set not in the key store");
            } else if (next.kvn == cur.kvn) {
                cli_error("key set '%s' has the KVN of the current keys (%02X): give the new keys "
                          "another KVN", o.new_keys, cur.kvn);
                rc = op_fail_msg(&f.op, EX_USAGE, "same KVN");
            } else {
                mnap_err e = mnap_ap_rotate_keys(f.conn.ctx, cur.kvn, &next);
                if (e != MNAP_OK) {
                    rc = op_fail(&f.op, f.conn.ctx, e, "PUT KEY");
                } else {
                    printf(_("AP %s: key set replaced, KVN %02X -> %02X: it opens with '%s' from now on\n"),
                           f.op.aid, cur.kvn, next.kvn, o.new_keys);
                }
            }
            mnap_keyset_wipe(&next);
        }
        mnap_keyset_wipe(&cur);
    }
    rc = ap_end(&f, rc);
    mnap_keystore_free(ks);
    return rc;
}

static const cli_sub subs[] = {
    { "read", ef_read, u_read },
    { "update", ef_update, u_update },
    { "append", ef_append, u_append },
};

int cmd_ef(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "ef", subs, sizeof subs / sizeof subs[0], argc, argv);
}
