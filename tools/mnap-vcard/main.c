/* mnap-vcard: the mnap card runtime as a virtual card in a real PC/SC reader.
 *
 * It connects to the vsmartcard vpcd driver loaded in pcscd (one process per
 * reader slot), serves the card runtime from a file image, and behaves like a
 * card in a reader: power-off, power-on and reset clear all RAM security
 * state, a signal pulls the card out or puts it back, and when vpcd goes away
 * (pcscd restarted) it waits and reconnects.  This file holds the options and
 * the event loop; vc_link.c the vpcd framing, vc_card.c the card and image. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cm_ct.h"
#include "mt_json.h"
#include "vc_card.h"
#include "vc_link.h"
#include "vc_log.h"
#include "vc_sig.h"

#define DEFAULT_CONNECT "127.0.0.1:35963"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000

/* Exit codes. */
enum { EXIT_USAGE = 2, EXIT_DIED = 3 };

typedef struct options {
    const char *connect;
    const char *image;
    bool create;
    bool force;
    bool have_serial;
    uint8_t serial[MC_SERIAL_LEN];
    uint32_t nvm_size;
    bool start_removed;
    int die_ins;
    unsigned die_count;
    unsigned die_write;
    bool cut_only;
    int verbosity;
    uint8_t transport;        /* MC_TRANSPORT_* */
    bool print_atr;
} options;

static void usage(FILE *out)
{
    fprintf(out,
"Usage: mnap-vcard --image PATH [--new [--serial HEX] [--nvm-size BYTES] [--force]]\n"
"                  [--connect IPv4:PORT] [--transport t1|t0|contactless]\n"
"                  [--removed] [-v...]\n"
"                  [--die-at INS:N[:W] | --cut-at INS:N:W]\n"
"       mnap-vcard [--transport t1|t0|contactless] --print-atr | --help\n"
"\n"
"Serves the mnap card runtime as a virtual smart card through the vsmartcard\n"
"vpcd driver of pcscd.  One process serves one reader slot.\n"
"\n"
"Options:\n"
"  -i, --image PATH       the card's NVM image file (required).  An image with a\n"
"                         bad header (magic, version, size) is refused; one whose\n"
"                         checksums fail is served and answers 6581.\n"
"  -n, --new              fabricate a blank card into a new image at PATH\n"
"                         (transport key set KVN FF = 40 41 .. 4F)\n"
"  -s, --serial HEX       with --new: the 8-byte card serial as 16 hex digits\n"
"                         (default: random)\n"
"      --nvm-size BYTES   with --new: NVM size (default %u)\n"
"  -f, --force            with --new: overwrite an existing image\n"
"  -c, --connect ADDR     vpcd slot to connect to, numeric IPv4:PORT\n"
"                         (default " DEFAULT_CONNECT ", Debian's first vpcd slot;\n"
"                         the second slot of a reader is PORT+1)\n"
"  -t, --transport MODE   how the reader reaches the card (PROTOCOL.md §10):\n"
"                         t1 (default) contact T=1, ATR 3B 86 01 'MNAP' ..;\n"
"                         t0 contact T=0, ATR offering T=0 only with the same\n"
"                         historical bytes (3B 06 'MNAP' ..): short APDUs\n"
"                         only (an extended one is 6700), a case-4 command\n"
"                         answered 61xx and its data by GET RESPONSE;\n"
"                         contactless: ISO/IEC 14443-4 Type B, the ATR a\n"
"                         PC/SC reader synthesises (3B 88 80 01, ATQB\n"
"                         application data and protocol info, MBLI/CID,\n"
"                         TCK), APDUs as in T=1\n"
"      --removed          start with the card out of the reader\n"
"      --print-atr        print the card's ATR (for --transport) in hex and exit\n"
"  -v, --verbose          more log on stderr; repeat: -v connections and power,\n"
"                         -vv one line per APDU (header and status word only),\n"
"                         -vvv every vpcd control message including ATR polls\n"
"      --die-at INS:N[:W] test hook: when the Nth APDU with instruction INS\n"
"                         (hex) arrives, exit at once with status 3 as if\n"
"                         killed: before processing it, or, with W, after\n"
"                         tearing its Wth NVM write (a power cut mid-write)\n"
"      --cut-at INS:N:W   test hook: the same power cut, but the process stays:\n"
"                         the card goes mute, leaves the reader, gets its\n"
"                         power back and is inserted again (start-up recovery)\n"
"  -h, --help             this text\n"
"\n"
"Signals: SIGUSR1 pulls the card out of the reader (the connection to vpcd is\n"
"closed and the card powered off), SIGUSR2 inserts it again; SIGTERM, SIGINT\n"
"and SIGHUP exit cleanly after the APDU in progress.\n"
"\n"
"Every transaction a command commits is on disk (fsync) before its response\n"
"is sent.  When vpcd goes away, mnap-vcard keeps retrying every second.\n"
"Exit status: 0 clean exit, 1 runtime error, 2 usage or image refused,\n"
"3 --die-at fired.\n",
            (unsigned)MC_SIM_DEFAULT_NVM_SIZE);
}

static int parse_serial(const char *s, uint8_t out[MC_SERIAL_LEN])
{
    size_t n = strlen(s);

    return n == 2 * MC_SERIAL_LEN && mt_hex_decode(s, n, out, MC_SERIAL_LEN, NULL) == 0 ? 0 : -1;
}

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-') {
        return -1;
    }
    *out = v;
    return 0;
}

/* INS:N[:W], INS in hex, N >= 1, W >= 1 (required when need_w). */
static int parse_die_at(const char *arg, bool need_w, options *o)
{
    char buf[64];
    char *save = NULL;
    unsigned long ins;
    unsigned long n;
    unsigned long w = 0;

    if (strlen(arg) >= sizeof buf) {
        return -1;
    }
    strcpy(buf, arg);
    char *p_ins = strtok_r(buf, ":", &save);
    char *p_n = strtok_r(NULL, ":", &save);
    char *p_w = strtok_r(NULL, ":", &save);
    if (p_ins == NULL || p_n == NULL || strtok_r(NULL, ":", &save) != NULL) {
        return -1;
    }
    if (parse_uint(p_ins, 16, 0xFF, &ins) != 0 || parse_uint(p_n, 10, 1000000, &n) != 0 || n == 0) {
        return -1;
    }
    if (p_w != NULL && (parse_uint(p_w, 10, 1000000, &w) != 0 || w == 0)) {
        return -1;
    }
    if (need_w && p_w == NULL) {
        return -1;
    }
    o->die_ins = (int)ins;
    o->die_count = (unsigned)n;
    o->die_write = (unsigned)w;
    return 0;
}

/* The ATR as pcsc_scan prints it ("3B 88 .."), for tests to compare. */
static void print_atr(uint8_t transport)
{
    uint8_t atr[VC_ATR_MAX];
    size_t n = vc_atr(transport, atr, sizeof atr);
    for (size_t i = 0; i < n; i++) {
        printf(i == 0 ? "%02X" : " %02X", atr[i]);
    }
    printf("\n");
}

enum { OPT_NVM_SIZE = 256, OPT_REMOVED, OPT_DIE_AT, OPT_CUT_AT, OPT_PRINT_ATR };

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        { "image", required_argument, NULL, 'i' },
        { "new", no_argument, NULL, 'n' },
        { "serial", required_argument, NULL, 's' },
        { "nvm-size", required_argument, NULL, OPT_NVM_SIZE },
        { "force", no_argument, NULL, 'f' },
        { "connect", required_argument, NULL, 'c' },
        { "removed", no_argument, NULL, OPT_REMOVED },
        { "verbose", no_argument, NULL, 'v' },
        { "die-at", required_argument, NULL, OPT_DIE_AT },
        { "cut-at", required_argument, NULL, OPT_CUT_AT },
        { "print-atr", no_argument, NULL, OPT_PRINT_ATR },
        { "transport", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    unsigned long v;
    int c;

    memset(o, 0, sizeof *o);
    o->connect = DEFAULT_CONNECT;
    o->nvm_size = MC_SIM_DEFAULT_NVM_SIZE;
    o->die_ins = -1;
    while ((c = getopt_long(argc, argv, "i:ns:fc:t:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->image = optarg;
            break;
        case 'n':
            o->create = true;
            break;
        case 's':
            if (parse_serial(optarg, o->serial) != 0) {
                fprintf(stderr, "mnap-vcard: --serial %s: expected 16 hex digits\n", optarg);
                return -1;
            }
            o->have_serial = true;
            break;
        case OPT_NVM_SIZE:
            if (parse_uint(optarg, 10, 0xFFFFFFFFul, &v) != 0 || v == 0) {
                fprintf(stderr, "mnap-vcard: --nvm-size %s: expected a byte count\n", optarg);
                return -1;
            }
            o->nvm_size = (uint32_t)v;
            break;
        case 'f':
            o->force = true;
            break;
        case 'c':
            o->connect = optarg;
            break;
        case OPT_REMOVED:
            o->start_removed = true;
            break;
        case 'v':
            o->verbosity++;
            break;
        case OPT_DIE_AT:
            if (parse_die_at(optarg, false, o) != 0) {
                fprintf(stderr, "mnap-vcard: --die-at %s: expected INS:N[:W] (INS hex, N and W from 1)\n",
                        optarg);
                return -1;
            }
            o->cut_only = false;
            break;
        case OPT_CUT_AT:
            if (parse_die_at(optarg, true, o) != 0) {
                fprintf(stderr, "mnap-vcard: --cut-at %s: expected INS:N:W (INS hex, N and W from 1)\n",
                        optarg);
                return -1;
            }
            o->cut_only = true;
            break;
        case 't':
            if (strcmp(optarg, "t1") == 0) {
                o->transport = MC_TRANSPORT_T1;
            } else if (strcmp(optarg, "t0") == 0) {
                o->transport = MC_TRANSPORT_T0;
            } else if (strcmp(optarg, "contactless") == 0) {
                o->transport = MC_TRANSPORT_CL;
            } else {
                fprintf(stderr, "mnap-vcard: --transport %s: expected t1, t0 or contactless\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_PRINT_ATR:
            o->print_atr = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mnap-vcard: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (o->print_atr) {
        print_atr(o->transport);
        exit(0);
    }
    if (o->image == NULL) {
        fprintf(stderr, "mnap-vcard: --image PATH is required (see --help)\n");
        return -1;
    }
    if (!o->create && (o->have_serial || o->force)) {
        fprintf(stderr, "mnap-vcard: --serial and --force need --new\n");
        return -1;
    }
    return 0;
}

static void hex_serial(const uint8_t serial[MC_SERIAL_LEN], char out[2 * MC_SERIAL_LEN + 1])
{
    for (size_t i = 0; i < MC_SERIAL_LEN; i++) {
        snprintf(out + 2 * i, 3, "%02X", serial[i]);
    }
}

/* The state of one slot: is the card in the reader, is it connected. */
typedef struct slot {
    vc_link link;
    vc_card *vc;
    bool inserted;
    int backoff_ms;
    bool warned_unreachable;
    long reinsert_at_ms;      /* after a mute card: when it goes back in; 0 none */
} slot;

/* Out of the reader this long after going mute, so that pcscd's presence
 * polling (every 400 ms) sees the card leave and come back, and every
 * application gets the removal, as with a real card that lost power. */
#define MUTE_OUT_MS 1000

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The card leaves the reader (removal, vpcd gone, or the card went mute):
 * the connection closes and the card loses power. */
static void drop_connection(slot *s, const char *why)
{
    if (s->link.fd >= 0) {
        vc_log(VC_INFO, "disconnected from vpcd at %s: %s", s->link.name, why);
        vc_link_close(&s->link);
    }
    vc_card_power_off(s->vc);
}

static void try_connect(slot *s)
{
    if (vc_link_connect(&s->link) == 0) {
        vc_log(VC_INFO, "connected to vpcd at %s: card inserted", s->link.name);
        s->backoff_ms = BACKOFF_MIN_MS;
        s->warned_unreachable = false;
        return;
    }
    if (!s->warned_unreachable) {
        vc_log(VC_WARN, "vpcd at %s not reachable (%s); retrying", s->link.name, strerror(errno));
        s->warned_unreachable = true;
    }
    vc_wait(s->backoff_ms);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* One line per APDU: header, lengths, status word and the number of NVM
 * writes it made (tests use that count to aim --die-at). */
static void log_apdu(const uint8_t *cmd, size_t len, const uint8_t *rsp, size_t rsp_len,
                     uint64_t writes)
{
    if (!vc_log_enabled(VC_APDU)) {
        return;
    }
    /* Header and lengths only: the data field may be a PIN or a wrapped key. */
    if (len >= 4 && rsp_len >= 2) {
        vc_log(VC_APDU, "APDU %02X %02X %02X %02X (%zu bytes) -> %02X%02X (%zu data bytes, %llu NVM writes)",
               cmd[0], cmd[1], cmd[2], cmd[3], len, rsp[rsp_len - 2], rsp[rsp_len - 1],
               rsp_len - 2, (unsigned long long)writes);
    } else {
        vc_log(VC_APDU, "APDU of %zu bytes -> %zu bytes, %llu NVM writes", len, rsp_len,
               (unsigned long long)writes);
    }
}

/* Handles one message from vpcd.  Returns 0, or EXIT_DIED for the test hook. */
static int handle_message(slot *s, const uint8_t *msg, size_t len)
{
    static uint8_t rsp[MC_RSP_BUF_SIZE];
    size_t rsp_len = 0;

    if (len == 0) {
        vc_log(VC_WARN, "empty message from vpcd ignored");
        return 0;
    }
    if (len == 1) {
        switch (msg[0]) {
        case VC_VPCD_GET_ATR:
            vc_log(VC_TRACE, "get ATR");
            if (vc_link_send(&s->link, s->vc->atr, s->vc->atr_len) != 0) {
                drop_connection(s, "send failed");
            }
            return 0;
        case VC_VPCD_POWER_ON:
            vc_log(VC_TRACE, "power on");
            vc_card_power_on(s->vc);
            return 0;
        case VC_VPCD_POWER_OFF:
            vc_log(VC_TRACE, "power off");
            vc_card_power_off(s->vc);
            return 0;
        case VC_VPCD_RESET:
            vc_log(VC_TRACE, "reset");
            vc_card_reset(s->vc);
            return 0;
        default:
            vc_log(VC_WARN, "unknown vpcd control message %02X ignored", msg[0]);
            return 0;
        }
    }
    switch (vc_card_apdu(s->vc, msg, len, rsp, sizeof rsp, &rsp_len)) {
    case VC_APDU_DIE:
        return EXIT_DIED;
    case VC_APDU_MUTE:
        /* A real card that loses its NVM mid-command stops answering and the
         * reader powers it down; here the slot goes empty, the simulated
         * power comes back, and the card is inserted again. */
        vc_log(VC_ERR, "card went mute (an NVM write failed): power-cycling it");
        drop_connection(s, "card mute");
        mc_sim_power_restore(&s->vc->sc.sim);
        s->inserted = false;
        s->reinsert_at_ms = now_ms() + MUTE_OUT_MS;
        return 0;
    case VC_APDU_OK:
        break;
    }
    log_apdu(msg, len, rsp, rsp_len, s->vc->last_writes);
    int sent = vc_link_send(&s->link, rsp, rsp_len);
    cm_wipe(rsp, rsp_len);
    if (sent != 0) {
        drop_connection(s, "send failed");
    }
    return 0;
}

static int run(slot *s)
{
    static uint8_t msg[VC_FRAME_MAX];

    for (;;) {
        vc_sig_events ev = vc_sig_take();
        if (ev.stop) {
            vc_log(VC_INFO, "signal: exiting");
            return 0;
        }
        if (ev.remove) {
            if (s->inserted) {
                vc_log(VC_INFO, "SIGUSR1: card removed");
                drop_connection(s, "card removed");
                s->inserted = false;
            }
            s->reinsert_at_ms = 0;
        }
        if (ev.insert && !s->inserted) {
            vc_log(VC_INFO, "SIGUSR2: card inserted");
            s->inserted = true;
            s->reinsert_at_ms = 0;
            s->backoff_ms = BACKOFF_MIN_MS;
        }
        if (!s->inserted && s->reinsert_at_ms != 0) {
            long left = s->reinsert_at_ms - now_ms();
            if (left <= 0) {
                vc_log(VC_INFO, "power back: card inserted again");
                s->inserted = true;
                s->reinsert_at_ms = 0;
                s->backoff_ms = BACKOFF_MIN_MS;
            } else {
                vc_wait((int)left);
            }
            continue;
        }
        if (!s->inserted) {
            vc_wait(-1);
            continue;
        }
        if (s->link.fd < 0) {
            try_connect(s);
            continue;
        }
        int n = vc_link_recv(&s->link, msg, sizeof msg, -1);
        if (n == VC_LINK_SIGNAL || n == VC_LINK_TIMEOUT) {
            continue;
        }
        if (n < 0) {
            drop_connection(s, "vpcd closed the connection");
            continue;
        }
        int r = handle_message(s, msg, (size_t)n);
        /* Commands carry PINs and wrapped keys: none outlives its turn. */
        cm_wipe(msg, (size_t)n);
        if (r != 0) {
            return r;
        }
    }
}

int main(int argc, char **argv)
{
    static vc_card vc; /* the card's RAM state is large: not on the stack */
    options o;
    slot s;
    char err[300];
    char tag[64];

    if (parse_options(argc, argv, &o) != 0) {
        return EXIT_USAGE;
    }
    memset(&s, 0, sizeof s);
    if (vc_link_init(&s.link, o.connect, err, sizeof err) != 0) {
        fprintf(stderr, "mnap-vcard: %s\n", err);
        return EXIT_USAGE;
    }
    snprintf(tag, sizeof tag, "mnap-vcard[%s]", s.link.name);
    vc_log_setup(o.verbosity, tag);
    if (vc_sig_install() != 0) {
        vc_log(VC_ERR, "cannot install signal handlers: %s", strerror(errno));
        return 1;
    }

    if (o.create) {
        char hex[2 * MC_SERIAL_LEN + 1];
        if (!o.have_serial && RAND_bytes(o.serial, sizeof o.serial) != 1) {
            vc_log(VC_ERR, "no random serial: OpenSSL RAND_bytes failed");
            return 1;
        }
        if (vc_card_create(&vc, o.image, o.nvm_size, o.serial, o.force, err, sizeof err) != 0) {
            vc_log(VC_ERR, "%s", err);
            return EXIT_USAGE;
        }
        hex_serial(o.serial, hex);
        vc_log(VC_INFO, "fabricated a blank card, serial %s, in %s", hex, o.image);
    } else {
        if (vc_card_open(&vc, o.image, err, sizeof err) != 0) {
            vc_log(VC_ERR, "%s", err);
            return EXIT_USAGE;
        }
        vc_log(VC_INFO, "serving image %s%s", o.image,
               vc.corrupt ? " (corrupt: the card answers 6581)" : "");
    }
    if (vc_card_set_transport(&vc, o.transport) != 0) {
        vc_log(VC_ERR, "unknown transport %u", (unsigned)o.transport);
        vc_card_close(&vc);
        return EXIT_USAGE;
    }
    vc_log(VC_INFO, "transport %s", o.transport == MC_TRANSPORT_T0 ? "T=0" :
                                    o.transport == MC_TRANSPORT_CL ? "contactless (Type B)" :
                                                                     "T=1");
    vc.die_ins = o.die_ins;
    vc.die_count = o.die_count;
    vc.die_write = o.die_write;
    vc.cut_only = o.cut_only;

    s.vc = &vc;
    s.inserted = !o.start_removed;
    s.backoff_ms = BACKOFF_MIN_MS;
    int r = run(&s);
    if (r == EXIT_DIED) {
        /* As abrupt as a kill: no power-off, no close; what is on disk is
         * what the card wrote until now. */
        _exit(EXIT_DIED);
    }
    drop_connection(&s, "exiting");
    vc_card_close(&vc);
    return r;
}
