/* bench_pcsc: the PC/SC client of the throughput benchmarks (driven by
 * bench/run_pcsc.sh).  One program, on libmnap's PC/SC transport (pcsc-lite),
 * for every card behind pcscd + vpcd, so that only the card side differs:
 *
 *   bench_pcsc setup READER          mnap-vcard: area setup + the benchmark AP
 *   bench_pcsc vicc-setup READER     vicc --type iso7816: CREATE FILE of a DF
 *                                    named like the benchmark AP, and in it an
 *                                    EF 0102 of 128 bytes, then UPDATE BINARY
 *   bench_pcsc kiosk READER SECONDS RUNS       kiosk flows (mnap-vcard)
 *   bench_pcsc read READER MODE SECONDS RUNS   the read workload
 *
 * The read workload: one SELECT by AID of the benchmark AP (MODE plain), or
 * a channel opened on it at level 01 or 33 (MODE 01 / 33: SELECT, INITIALIZE
 * UPDATE, EXTERNAL AUTHENTICATE), then SELECT EF 0102 (P2 0C) and READ BINARY
 * of 128 bytes, repeated; only the repeated pair is timed.  In plain mode the
 * pair goes out unwrapped; against the echo card every answer is 9000.
 *
 * Prints "rate NAME RUN COUNT SECONDS" per run (COUNT: flows or APDUs).
 * Exit 0, 1 on a failure (message on stderr), 64 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mnap/mnap.h"
#include "mnap/mnap_pcsc.h"

static mnap_pcsc *g_pcsc;
static mnap_ctx *g_ctx;

static void check(mnap_err rc, const char *what)
{
    if (rc != MNAP_OK) {
        fprintf(stderr, "bench_pcsc: %s: %s (SW %04X)\n", what, mnap_strerror(rc),
                g_ctx ? mnap_last_sw(g_ctx) : 0);
        exit(1);
    }
}

static void open_reader(const char *reader)
{
    mnap_transport t;
    check(mnap_pcsc_new(&g_pcsc), "PC/SC context");
    check(mnap_pcsc_wait_card(g_pcsc, reader, 10000), "wait for the card");
    check(mnap_pcsc_connect(g_pcsc, reader), "connect");
    t = mnap_pcsc_transport(g_pcsc);
    check(mnap_ctx_new(&g_ctx, &t), "context");
}

/* A raw APDU, expecting 9000 (or also ok_sw, when not 0). */
static void raw_sw(const char *what, const uint8_t *apdu, size_t len, uint16_t ok_sw)
{
    uint8_t out[512];
    size_t got;
    uint16_t sw;
    check(mnap_transmit(g_ctx, apdu, len, out, sizeof(out), &got, &sw), what);
    if (sw != 0x9000 && (ok_sw == 0 || sw != ok_sw)) {
        fprintf(stderr, "bench_pcsc: %s: SW %04X\n", what, sw);
        exit(1);
    }
}

static void raw(const char *what, const uint8_t *apdu, size_t len)
{
    raw_sw(what, apdu, len, 0);
}

static void select_aid_plain(void)
{
    uint8_t apdu[5 + BENCH_AID_LEN] = { 0x00, 0xA4, 0x04, 0x0C, BENCH_AID_LEN };
    bench_aid(apdu + 5, 1);
    raw("SELECT by AID", apdu, sizeof(apdu));
}

/* vicc's ISO 7816 card starts with an empty MF.  CREATE FILE (E0) with an
 * FCP template: a DF (descriptor 38) with FID DF01 and the benchmark AP's AID
 * as DF name (84); inside it, which CREATE FILE leaves current, a
 * transparent EF (descriptor 01) 0102 of 128 bytes (80); then UPDATE BINARY
 * of the same 128 bytes the mnap AP holds in its EF 0102.  vicc 0.8 crashes
 * on an UPDATE BINARY without Le (it compares the missing Le with the
 * response length), so it gets Le 00 and answers 6282 (end of data before
 * Le bytes), with the file written. */
static int cmd_vicc_setup(void)
{
    uint8_t df[5 + 2 + 3 + 4 + 2 + BENCH_AID_LEN] = {
        0x00, 0xE0, 0x00, 0x00, 2 + 3 + 4 + 2 + BENCH_AID_LEN,
        0x62, 3 + 4 + 2 + BENCH_AID_LEN, 0x82, 0x01, 0x38, 0x83, 0x02, 0xDF, 0x01,
        0x84, BENCH_AID_LEN
    };
    static const uint8_t ef[] = { 0x00, 0xE0, 0x00, 0x00, 0x0D, 0x62, 0x0B, 0x82, 0x01, 0x01,
                                  0x83, 0x02, 0x01, 0x02, 0x80, 0x02, 0x00, 0x80 };
    uint8_t upd[5 + 128 + 1] = { 0x00, 0xD6, 0x00, 0x00, 0x80 };
    uint8_t img[1024];
    cm_tlv t;

    bench_aid(df + 16, 1);
    raw("CREATE FILE (DF)", df, sizeof(df));
    raw("CREATE FILE (EF)", ef, sizeof(ef));
    /* The content of the mnap AP's EF 0102, taken from the image builder. */
    size_t n = bench_image(img, sizeof(img), 1, 0);
    size_t pos = 0;
    int found = 0;
    while (!found && cm_tlv_next(img, n, &pos, &t) == 0) {
        cm_tlv c;
        if (t.tag == 0xA3 && cm_tlv_find(t.value, t.len, 0x83, &c) == 0 && c.len == 2 &&
            c.value[0] == 0x01 && c.value[1] == 0x02 && cm_tlv_find(t.value, t.len, 0x53, &c) == 0 &&
            c.len == 128) {
            memcpy(upd + 5, c.value, 128);
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "bench_pcsc: no EF 0102 content in the image\n");
        return 1;
    }
    upd[sizeof(upd) - 1] = 0x00;
    raw_sw("UPDATE BINARY", upd, sizeof(upd), 0x6282);
    return 0;
}

static int cmd_kiosk(double seconds, unsigned runs)
{
    mnap_keyset ak;
    bench_ap_keys(&ak);
    check(bench_kiosk(g_ctx, 1, &ak, MNAP_LEVEL_FULL, NULL, NULL), "warm-up flow");
    for (unsigned r = 1; r <= runs; r++) {
        unsigned long flows = 0;
        double t0 = bench_now(), t;
        do {
            check(bench_kiosk(g_ctx, 1, &ak, MNAP_LEVEL_FULL, NULL, NULL), "kiosk flow");
            flows++;
            t = bench_now() - t0;
        } while (t < seconds);
        printf("rate pcsc-kiosk %u %lu %.6f\n", r, flows, t);
        fflush(stdout);
    }
    mnap_keyset_wipe(&ak);
    return 0;
}

static int cmd_read(const char *name, const char *mode, double seconds, unsigned runs)
{
    static const uint8_t fid[2] = { BENCH_EF_SMALL >> 8, BENCH_EF_SMALL & 0xFF };
    mnap_apdu sel = { 0x00, 0xA4, 0x02, 0x0C, fid, 2, 0, 0 };
    mnap_apdu rd = { 0x00, 0xB0, 0x00, 0x00, NULL, 0, 128, 0 };
    uint8_t buf[512], aid[BENCH_AID_LEN];
    mnap_keyset ak;
    size_t got;

    bench_ap_keys(&ak);
    bench_aid(aid, 1);
    if (strcmp(mode, "plain") == 0)
        select_aid_plain();
    else if (strcmp(mode, "01") == 0)
        check(mnap_ap_open(g_ctx, aid, sizeof(aid), &ak, MNAP_LEVEL_CMAC), "AP session 01");
    else if (strcmp(mode, "33") == 0)
        check(mnap_ap_open(g_ctx, aid, sizeof(aid), &ak, MNAP_LEVEL_FULL), "AP session 33");
    else
        return 64;
    for (unsigned r = 1; r <= runs; r++) {
        unsigned long apdus = 0;
        double t0 = bench_now(), t;
        do {
            for (int i = 0; i < 8; i++) {
                check(mnap_command(g_ctx, &sel, buf, sizeof(buf), &got), "SELECT EF");
                check(mnap_command(g_ctx, &rd, buf, sizeof(buf), &got), "READ BINARY");
                apdus += 2;
            }
            t = bench_now() - t0;
        } while (t < seconds);
        printf("rate %s %u %lu %.6f\n", name, r, apdus, t);
        fflush(stdout);
    }
    mnap_keyset_wipe(&ak);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 64;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_pcsc setup|vicc-setup READER | kiosk READER SECONDS RUNS"
                        " | read READER NAME plain|01|33 SECONDS RUNS\n");
        return 64;
    }
    open_reader(argv[2]);
    if (argc == 3 && strcmp(argv[1], "setup") == 0) {
        check(bench_prepare(g_ctx, 1), "area setup and AP load");
        rc = 0;
    } else if (argc == 3 && strcmp(argv[1], "vicc-setup") == 0) {
        rc = cmd_vicc_setup();
    } else if (argc == 5 && strcmp(argv[1], "kiosk") == 0) {
        rc = cmd_kiosk(atof(argv[3]), (unsigned)atoi(argv[4]));
    } else if (argc == 7 && strcmp(argv[1], "read") == 0) {
        rc = cmd_read(argv[3], argv[4], atof(argv[5]), (unsigned)atoi(argv[6]));
    }
    if (rc == 64)
        fprintf(stderr, "bench_pcsc: bad usage\n");
    mnap_ctx_free(g_ctx);
    mnap_pcsc_free(g_pcsc);
    return rc;
}
