/* record.c: writes the replay script of the microbit (test/arm/mb_replay.c).
 *
 *   record OUT [measure]
 *                 the script: fabrication, bench_prepare (area setup, LOAD AP
 *                 of one AP), the kiosk flow of bench/bench.h twice, then
 *                 power cuts inside the kiosk flow (each of its NVM writes
 *                 in turn, torn after 0, 1 or 9 bytes), each followed by a
 *                 power-up and a whole kiosk flow.  With "measure": setup
 *                 and the two kiosk flows only (test/arm/icount.py counts
 *                 the instructions of each APDU).
 *
 * It runs on the host against the simulator card (card/port/sim/) through
 * libmnap, and records every APDU with the exact response the host card gave
 * (or "mute"), every warm reset, power cycle (with mc_power_on's status) and
 * armed cut.  The host suites hold those responses to PROTOCOL.md; the
 * target must give the same bytes: a differential test of the Cortex-M0
 * build against x86, through one I/O buffer for command and response.
 *
 * Script records (integers big-endian):
 *   'F' nvm_size:4 serial:8 family:2 key_len:1 key     fabricate (ENC=MAC=DEK)
 *   'A' label_len:1 label cmd_len:2 cmd rsp_len:2 rsp  one APDU (rsp_len 0: mute)
 *   'R'                                                 warm reset
 *   'P' status:1                                        power off, power on
 *   'C' nth:4 k:4                                       arm a cut (port.h tear)
 *   'E'                                                 end */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "mc.h"
#include "sim_card.h"
#include "mnap/mnap.h"

/* libmnap's random bytes (host challenges, key wrapping) come from OpenSSL's
 * RAND_bytes; this definition in the program takes its place for libmnap
 * (linked statically), so the script -- and every instruction count made
 * from it (test/arm/icount.py) -- is the same on every run: a counter-mode
 * xorshift stream.  TEST ONLY: nothing here is random. */
int RAND_bytes(unsigned char *buf, int num);
int RAND_bytes(unsigned char *buf, int num)
{
    static uint64_t s = 0x6d6e61702d617276ull; /* "mnap-arv" */
    for (int i = 0; i < num; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        buf[i] = (unsigned char)(s >> 32);
    }
    return 1;
}

typedef struct rec {
    mc_simcard sc;
    FILE *out;
    const char *label;
    uint8_t rsp[MC_RSP_BUF_SIZE];
} rec;

static void put16(FILE *f, unsigned v) { fputc((int)(v >> 8) & 0xFF, f); fputc((int)v & 0xFF, f); }
static void put32(FILE *f, uint32_t v) { put16(f, v >> 16); put16(f, v & 0xFFFF); }

static mnap_err r_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                           size_t rsp_cap, size_t *rsp_len)
{
    rec *r = self;
    size_t n = mc_simcard_process(&r->sc, cmd, cmd_len, r->rsp, sizeof(r->rsp));
    size_t ll = strlen(r->label);
    fputc('A', r->out);
    fputc((int)ll, r->out);
    fwrite(r->label, 1, ll, r->out);
    put16(r->out, (unsigned)cmd_len);
    fwrite(cmd, 1, cmd_len, r->out);
    put16(r->out, (unsigned)n);
    fwrite(r->rsp, 1, n, r->out);
    if (n == 0)
        return MNAP_E_CARD_REMOVED;
    if (n > rsp_cap)
        return MNAP_E_BUFFER;
    memcpy(rsp, r->rsp, n);
    *rsp_len = n;
    return MNAP_OK;
}

static mnap_err r_reconnect(void *self)
{
    rec *r = self;
    fputc('R', r->out);
    mc_simcard_reset(&r->sc);
    return MNAP_OK;
}

static void r_power_cycle(rec *r)
{
    mc_status st = mc_simcard_power_on(&r->sc);
    fputc('P', r->out);
    fputc((int)st, r->out);
}

static void step(void *user, const char *name)
{
    ((rec *)user)->label = name;
}

static int die(const char *what)
{
    fprintf(stderr, "record: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    static const uint8_t serial[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, family[2] = { 0, 1 };
    const uint32_t nvm = 65536;
    uint8_t k[16];
    mc_simcard_make mk = { serial, family, k, k, k, sizeof(k), NULL };
    mnap_transport t;
    mnap_ctx *ctx = NULL;
    mnap_keyset ak;
    rec *r = calloc(1, sizeof(*r));
    uint64_t w0, flow_writes;

    if ((argc != 2 && !(argc == 3 && strcmp(argv[2], "measure") == 0)) || r == NULL)
        return die("usage: record OUT [measure]");
    r->out = fopen(argv[1], "wb");
    if (r->out == NULL)
        return die("cannot write the script");
    for (unsigned i = 0; i < 16; i++)
        k[i] = (uint8_t)(0x40 + i);
    if (mc_simcard_new_mem(&r->sc, nvm, &mk, NULL) != 0)
        return die("fabrication failed");
    fputc('F', r->out);
    put32(r->out, nvm);
    fwrite(serial, 1, 8, r->out);
    fwrite(family, 1, 2, r->out);
    fputc(16, r->out);
    fwrite(k, 1, 16, r->out);

    memset(&t, 0, sizeof(t));
    t.self = r;
    t.transmit = r_transmit;
    t.reconnect = r_reconnect;
    if (mnap_ctx_new(&ctx, &t) != MNAP_OK)
        return die("mnap_ctx_new failed");
    bench_ap_keys(&ak);
    r->label = "setup";
    if (bench_prepare(ctx, 1) != MNAP_OK)
        return die("bench_prepare failed");
    /* the kiosk flow, twice (the second is the one docs/PERFORMANCE.md counts:
     * the same state as bench_card's measured flows after a warm-up) */
    for (int i = 0; i < 2; i++)
        if (bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, step, r) != MNAP_OK)
            return die("kiosk flow failed");
    if (argc == 3) {
        fputc('E', r->out);
        mnap_ctx_free(ctx);
        mc_simcard_close(&r->sc);
        free(r);
        return 0;
    }
    /* how many NVM writes one flow makes */
    r->label = "flow";
    w0 = r->sc.sim.writes;
    if (bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, NULL, NULL) != MNAP_OK)
        return die("kiosk flow failed");
    flow_writes = r->sc.sim.writes - w0;
    /* tear sample: every NVM write of a flow, torn after 0, 1 or 9 of its
     * bytes in turn (k beyond a write's length: the write lands whole and
     * the power goes right after it) */
    static const uint32_t ks[3] = { 0, 1, 9 };
    for (uint64_t nth = 1; nth <= flow_writes; nth++) {
        uint32_t kb = ks[nth % 3];
        r->label = "tear";
        mc_simcard_arm_cut(&r->sc, nth, kb);
        fputc('C', r->out);
        put32(r->out, (uint32_t)nth);
        put32(r->out, kb);
        (void)bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, NULL, NULL);
        r_power_cycle(r);
        r->label = "after-tear";
        if (bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, NULL, NULL) != MNAP_OK)
            return die("kiosk flow after a power cut failed");
    }
    fputc('E', r->out);
    mnap_keyset_wipe(&ak);
    mnap_ctx_free(ctx);
    mc_simcard_close(&r->sc);
    if (fclose(r->out) != 0)
        return die("cannot write the script");
    printf("record: %s: kiosk flow of %llu NVM writes, as many cut points\n", argv[1],
           (unsigned long long)flow_writes);
    free(r);
    return 0;
}
