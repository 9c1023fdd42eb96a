/* cmd_diag.c: `mnap diagnose`: card fault isolation (カード障害切り分け).
 *
 * Walks from the terminal to the card's memory, in order: the reader, the
 * card's presence and ATR, the area manager's answer, the area state, free
 * memory, each AP's state, NVM health.  Each check prints one pass/fail line;
 * a check that cannot run after an earlier failure is skipped, and the first
 * failure gives the conclusion: which side is at fault and what to do. */
#include "cli.h"
#include "i18n.h"
#include "conn.h"
#include "names.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIAG_MIN_FREE 2048u   /* below this no example AP fits any more */

enum { D_PASS, D_FAIL, D_SKIP };

typedef struct diag {
    const cli *c;
    int n;
    int first_fail_code;              /* exit code of the first failure */
    char conclusion[300];
} diag;

static void check(diag *d, const char *name, int result, int code, const char *conclusion,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void check(diag *d, const char *name, int result, int code, const char *conclusion,
                  const char *fmt, ...)
{
    static const char *const tags[] = { "PASS", "FAIL", "SKIP" };
    char detail[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (result == D_FAIL && d->first_fail_code == EX_OK) {
        d->first_fail_code = code;
        (void)snprintf(d->conclusion, sizeof d->conclusion, "%s", conclusion);
    }
    if (d->c->json) {
        printf("%s{\"check\":", d->n == 0 ? "" : ",");
        cli_json_str(stdout, name);
        printf(",\"result\":\"%s\",\"detail\":", result == D_PASS ? "pass" : result == D_FAIL ? "fail" : "skip");
        cli_json_str(stdout, detail);
        putchar('}');
    } else {
        printf("[%s] %-18s %s\n", tags[result], name, detail);
    }
    d->n++;
}

static void skip_rest(diag *d, const char *const *names, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        check(d, names[i], D_SKIP, EX_OK, "", "%s", why);
    }
}

static const char u_diag[] = N_(
    "diagnose [--keys NAME]\n"
    "  Card fault isolation: checks in order the reader, the card's presence and\n"
    "  ATR, the area manager's answer, the area state, free memory, each AP's\n"
    "  state and NVM health, one PASS/FAIL/SKIP line each, then a conclusion.\n"
    "  Free memory, APs and NVM health need an area manager session with key set\n"
    "  NAME (default 'transport' on a blank card, else 'region') from the key\n"
    "  store; without it they are skipped.  Exit 0 when no fault is found, else\n"
    "  the exit code of the first failed check.\n");

static int on_opt(void *user, int opt, const char *arg)
{
    const char **keys = user;

    if (opt != 'k') {
        return -1;
    }
    *keys = arg;
    return 0;
}

static const char *const after_reader[] = { "card and ATR", "area manager", "area state",
                                            "free memory", "APs", "NVM health" };

/* Step 1: the reader (or the card image standing in for it). */
static int check_reader(diag *d, const cli *c)
{
    struct stat st;

    if (c->card_image != NULL) {
        if (stat(c->card_image, &st) != 0) {
            check(d, "reader", D_FAIL, EX_NOCARD, "terminal side: the card image file is missing",
                  "card image %s: not found", c->card_image);
            return -1;
        }
        check(d, "reader", D_PASS, EX_OK, "", "in-process card image %s", c->card_image);
        return 0;
    }
    mnap_pcsc *p = NULL;
    size_t count = 0;
    mnap_err e = mnap_pcsc_new(&p);
    if (e == MNAP_OK) {
        e = mnap_pcsc_list_readers(p, NULL, NULL, &count);
    }
    if (p != NULL) {
        mnap_pcsc_free(p);
    }
    if (e != MNAP_OK) {
        check(d, "reader", D_FAIL, EX_NOCARD,
              "terminal side: the PC/SC service does not answer; start pcscd, the card was not examined",
              "%s", cli_strerror(e));
        return -1;
    }
    if (count == 0) {
        check(d, "reader", D_FAIL, EX_NOCARD,
              "terminal side: no reader is connected; check its cable and driver, the card was not examined",
              "no reader");
        return -1;
    }
    check(d, "reader", D_PASS, EX_OK, "", "PC/SC service up, %zu reader%s", count, count == 1 ? "" : "s");
    return 0;
}

/* Steps 5-7 in an AM session. */
static void check_inside(diag *d, cli_conn *k, const char *keys, uint8_t area_state)
{
    static const char *const rest[] = { "free memory", "APs", "NVM health" };
    mnap_keystore *ks = NULL;
    mnap_keyset set;
    mnap_area_info in;
    mnap_ap_entry list[32];
    mnap_log_entry log[64];
    size_t count = 0, nlog = 0;
    bool corrupt = false;
    const char *name = keys != NULL ? keys : area_state == MNAP_AREA_BLANK ? "transport" : "region";

    if (area_state == MNAP_AREA_TERMINATED) {
        skip_rest(d, rest, 3, "the area is terminated: no session is possible");
        return;
    }
    if (getenv("MNAP_PASSPHRASE") == NULL && keys == NULL) {
        /* diagnose must not stop at a prompt on an unattended terminal. */
        skip_rest(d, rest, 3, "no key store passphrase (MNAP_PASSPHRASE) or --keys: no AM session");
        return;
    }
    if (ks_open(d->c, &ks) != EX_OK || ks_get(ks, name, &set) != EX_OK) {
        if (ks != NULL) {
            mnap_keystore_free(ks);
        }
        check(d, "free memory", D_FAIL, EX_KEYSTORE, "terminal side: the key store cannot give the key set",
              "key set '%s' not available", name);
        skip_rest(d, rest + 1, 2, "no AM session");
        return;
    }
    mnap_err e = mnap_am_open(k->ctx, &set, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&set);
    mnap_keystore_free(ks);
    if (e == MNAP_OK) {
        e = mnap_area_info_get(k->ctx, &in);
    }
    if (e == MNAP_E_MEMORY) {
        corrupt = true;
    } else if (e == MNAP_E_CARD_AUTH) {
        check(d, "free memory", D_FAIL, EX_CARD,
              "key mismatch: the card did not prove the key set; wrong key store or not this municipality's card",
              "AM session: %s", cli_strerror(e));
        skip_rest(d, rest + 1, 2, "no AM session");
        return;
    } else if (e != MNAP_OK) {
        check(d, "free memory", D_FAIL, cli_exit_for(e), "card side: the area manager refused the session",
              "AM session: %s", cli_strerror(e));
        skip_rest(d, rest + 1, 2, "no AM session");
        return;
    }
    if (!corrupt) {
        if (in.free_nvm >= DIAG_MIN_FREE) {
            check(d, "free memory", D_PASS, EX_OK, "", "%lu bytes free", (unsigned long)in.free_nvm);
        } else {
            check(d, "free memory", D_FAIL, EX_CARD, "card full: delete APs no longer used",
                  "only %lu bytes free", (unsigned long)in.free_nvm);
        }
        e = mnap_area_list_aps(k->ctx, list, sizeof list / sizeof list[0], &count);
        if (e == MNAP_E_MEMORY) {
            corrupt = true;
        } else if (e != MNAP_OK) {
            check(d, "APs", D_FAIL, cli_exit_for(e), "card side: GET STATUS failed", "%s", cli_strerror(e));
        } else if (count == 0) {
            check(d, "APs", D_PASS, EX_OK, "", "no AP loaded");
        } else {
            for (size_t i = 0; i < count && i < sizeof list / sizeof list[0]; i++) {
                char hex[2 * MNAP_AID_MAX + 1], label[48];
                mt_hex_encode(list[i].aid, list[i].aid_len, hex, MT_HEX_UPPER);
                snprintf(label, sizeof label, "AP %s", hex);
                if (list[i].state == MNAP_AP_SUSPENDED) {
                    check(d, label, D_FAIL, EX_CARD, "AP suspended by the municipality: resume it at the counter",
                          "SUSPENDED");
                } else if (list[i].pin_tries == 0) {
                    check(d, label, D_FAIL, EX_CARD, "PIN blocked: unblock it at the municipal counter",
                          "ACTIVE, PIN BLOCKED");
                } else {
                    check(d, label, D_PASS, EX_OK, "", "%s, %u PIN tries left, %lu bytes",
                          ap_state_name(list[i].state), list[i].pin_tries, (unsigned long)list[i].nvm_used);
                }
            }
        }
    }
    if (!corrupt) {
        e = mnap_area_read_log(k->ctx, log, sizeof log / sizeof log[0], &nlog);
        if (e == MNAP_E_MEMORY) {
            corrupt = true;
        } else if (e != MNAP_OK) {
            check(d, "NVM health", D_FAIL, cli_exit_for(e), "card side: the security log cannot be read",
                  "security log: %s", cli_strerror(e));
            return;
        }
    }
    if (corrupt) {
        check(d, "NVM health", D_FAIL, EX_CARD,
              "card fault: the card's memory is corrupt (6581); the card must be replaced",
              "NVM corrupt (6581)");
        return;
    }
    unsigned tears = 0, bad = 0;
    for (size_t i = 0; i < nlog; i++) {
        if (log[i].event == MNAP_LOG_TEAR_RECOVERED) {
            tears += log[i].repeat;
        } else if (log[i].event == MNAP_LOG_NVM_CORRUPT) {
            bad += log[i].repeat;
        }
    }
    if (bad > 0) {
        check(d, "NVM health", D_FAIL, EX_CARD,
              "card fault: the card found corrupt memory before; the card should be replaced",
              "%u NVM_CORRUPT event%s in the security log", bad, bad == 1 ? "" : "s");
    } else {
        check(d, "NVM health", D_PASS, EX_OK, "", "checksums good; %u power cut%s recovered", tears,
              tears == 1 ? "" : "s");
    }
}

int cmd_diagnose(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "keys", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 }
    };
    const char *keys = NULL;
    diag d;
    cli_conn k;
    int first;
    bool connected = false;

    if (cli_wants_help(argc, argv)) {
        fputs(gettext(u_diag), stdout);
        return EX_OK;
    }
    if (cli_getopt(argc, argv, opts, on_opt, &keys, &first) != 0 ||
        cli_operands(argc, first, 0, 0, u_diag) != 0) {
        return EX_USAGE;
    }
    memset(&d, 0, sizeof d);
    d.c = c;
    if (c->json) {
        printf("{\"checks\":[");
    }
    if (check_reader(&d, c) != 0) {
        skip_rest(&d, after_reader, 6, "no reader");
        goto done;
    }
    /* Step 2: the card is there and answers to reset. */
    {
        uint8_t atr[64];
        size_t atr_len = 0;
        char hex[2 * 64 + 1];
        /* conn_open also prints its error line on stderr; the check line
         * on stdout is the one the report is made of. */
        int rc = conn_open(c, &k);
        if (rc != EX_OK && k.err == MNAP_E_NO_READER) {
            check(&d, "card and ATR", D_FAIL, rc,
                  "terminal side: the reader asked for (--reader) is not connected; see 'mnap readers'",
                  "no such reader");
            skip_rest(&d, after_reader + 1, 5, "no reader");
            goto done;
        }
        if (rc != EX_OK && k.err == MNAP_E_NO_CARD) {
            check(&d, "card and ATR", D_FAIL, rc,
                  "no card in the reader: insert the card (chip first, face up)", "no card in the reader");
            skip_rest(&d, after_reader + 1, 5, "no card");
            goto done;
        }
        if (rc != EX_OK) {
            check(&d, "card and ATR", D_FAIL, rc,
                  "no card, or a card that does not answer: reinsert it; if another card works in this reader, this card is faulty",
                  "no card answers (%s)", cli_strerror(k.err));
            skip_rest(&d, after_reader + 1, 5, "no card");
            goto done;
        }
        connected = true;
        if (conn_atr(&k, atr, sizeof atr, &atr_len) != MNAP_OK || atr_len == 0) {
            check(&d, "card and ATR", D_FAIL, EX_NOCARD, "the card gives no ATR: reinsert it, or replace the card",
                  "no ATR");
            skip_rest(&d, after_reader + 1, 5, "no ATR");
            goto done;
        }
        mt_hex_encode(atr, atr_len, hex, MT_HEX_UPPER);
        bool mnap = false;
        for (size_t i = 0; i + 4 <= atr_len; i++) {
            mnap |= memcmp(atr + i, "MNAP", 4) == 0;
        }
        if (!mnap) {
            check(&d, "card and ATR", D_FAIL, EX_CARD,
                  "not a card with an mnap area (the ATR does not name the runtime): wrong card?",
                  "ATR %s", hex);
            skip_rest(&d, after_reader + 1, 5, "not an mnap card");
            goto done;
        }
        check(&d, "card and ATR", D_PASS, EX_OK, "", "ATR %s", hex);
    }
    /* Steps 3-4: the area manager answers GET DATA DF20, in a usable state. */
    {
        mnap_area_info in;
        mnap_err e = mnap_area_info_get(k.ctx, &in);
        if (e != MNAP_OK) {
            check(&d, "area manager", D_FAIL, cli_exit_for(e),
                  "card fault: the card answers but its area manager does not; the card must be replaced",
                  "%s", cli_strerror(e));
            skip_rest(&d, after_reader + 2, 4, "no area manager");
            goto done;
        }
        check(&d, "area manager", D_PASS, EX_OK, "", "runtime %u.%u", in.version_major, in.version_minor);
        if (in.state == MNAP_AREA_ACTIVE) {
            check(&d, "area state", D_PASS, EX_OK, "", "ACTIVE");
        } else if (in.state == MNAP_AREA_BLANK) {
            check(&d, "area state", D_FAIL, EX_CARD, "the area was never set up: run 'mnap area setup'", "BLANK");
        } else if (in.state == MNAP_AREA_LOCKED) {
            check(&d, "area state", D_FAIL, EX_CARD, "the area is locked by the municipality: 'mnap area unlock' at the counter",
                  "LOCKED");
        } else {
            check(&d, "area state", D_FAIL, EX_CARD, "the area is terminated: the card must be reissued", "%s (%02X)",
                  area_state_name(in.state), in.state);
        }
        check_inside(&d, &k, keys, in.state);
    }
done:
    if (connected) {
        conn_close(&k);
    }
    if (d.first_fail_code == EX_OK) {
        (void)snprintf(d.conclusion, sizeof d.conclusion, "no fault found: the reader and the card work");
    }
    if (c->json) {
        printf("],\"healthy\":%s,\"conclusion\":", d.first_fail_code == EX_OK ? "true" : "false");
        cli_json_str(stdout, d.conclusion);
        printf("}\n");
    } else {
        printf(_("conclusion: %s\n"), d.conclusion);
    }
    return d.first_fail_code;
}
