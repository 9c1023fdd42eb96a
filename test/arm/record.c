/* record.c: writes the replay script of the microbit (test/arm/mb_replay.c).
 *
 *   record OUT [measure]
 *                 the script: fabrication, bench_prepare (area setup, LOAD AP
 *                 of one AP), the kiosk flow of bench/bench.h twice, then
 *                 power cuts inside the kiosk flow (each of its NVM writes
 *                 in turn, torn after 0, 1 or 9 bytes), each followed by a
 *                 power-up and a whole kiosk flow.  With "measure": setup
 *                 and the two kiosk flows only (test/arm/icount.py counts
 *                 the instructions of each APDU).  With "tear": the tear
 *                 script (below), its LOAD AP sampled; "tear-long": every
 *                 write of every case, every interrupted-byte model.
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
 *   'E'                                                 end
 *
 * The tear script adds cases for the one tear runner (mb_tear.c): after
 * fabrication, each case is an operation of one or more APDUs that the
 * target tears at its NVM writes, starting from the state the previous
 * case left:
 *   'T' name_len:1 name stride:2 keep_ends:2 sample:1 restart_samples:1
 *                                          a case (sample 0: the default of
 *                                          test/support/tear_models.h;
 *                                          restart_samples 0: no cuts of
 *                                          the restart)
 *   'D' digest:8 partial:1 [digest:8]      the logical state (mb_digest.h of
 *                                          mc_debug_dump) before the case,
 *                                          then after each of its 'A' and 'R'
 *                                          records, with the allowed partial
 *                                          state of a cut inside it (a
 *                                          VERIFY: the state before with one
 *                                          PIN try less)
 *   'Z'                                    end of the case
 * The digests are the host card's: the target must reach the same logical
 * states (before, after, each step's) as the x86 build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "mb_digest.h"
#include "mc_debug.h"
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
    bool in_case;            /* tear script: digests after each step */
    uint8_t prev[65536];     /* the dump before the step */
    size_t prev_len;
    uint8_t now[65536];
} rec;

static void put16(FILE *f, unsigned v) { fputc((int)(v >> 8) & 0xFF, f); fputc((int)v & 0xFF, f); }
static void put32(FILE *f, uint32_t v) { put16(f, v >> 16); put16(f, v & 0xFFFF); }

static void put64(FILE *f, uint64_t v) { put32(f, (uint32_t)(v >> 32)); put32(f, (uint32_t)v); }

static uint64_t digest_of(const uint8_t *p, size_t n)
{
    mb_digest d;
    mb_digest_init(&d);
    mb_digest_put(&d, p, n);
    return mb_digest_final(&d);
}

/* The host card's logical state into r->now; dies if it does not fit. */
static size_t dump_now(rec *r)
{
    size_t n = mc_debug_dump(&r->sc.card, r->now, sizeof(r->now));
    if (n > sizeof(r->now)) {
        fprintf(stderr, "record: the state dump does not fit\n");
        exit(1);
    }
    return n;
}

/* The 'D' record after a step (or at a case's start: partial false). */
static void put_digest(rec *r, bool verify)
{
    size_t n = dump_now(r);
    fputc('D', r->out);
    put64(r->out, digest_of(r->now, n));
    if (verify) {
        /* a cut inside a VERIFY may leave the try spent (§8, the decrement is
         * committed before the comparison): the state before with the PIN
         * try counter of bench AP 1 one lower.  In the dump, AP sections are
         * 'P' aid_len aid state min_level max_tries pin_min pin_max pin_len
         * pin tries ... (card/mc_debug.c). */
        uint8_t aid[BENCH_AID_LEN];
        size_t i, t = 0;
        bench_aid(aid, 1);
        for (i = 0; i + 2 + BENCH_AID_LEN + 6 < r->prev_len; i++)
            if (r->prev[i] == 'P' && r->prev[i + 1] == BENCH_AID_LEN &&
                memcmp(r->prev + i + 2, aid, BENCH_AID_LEN) == 0) {
                t = i + 2 + BENCH_AID_LEN + 6 + r->prev[i + 2 + BENCH_AID_LEN + 5];
                break;
            }
        if (t == 0 || t >= r->prev_len || r->prev[t] == 0) {
            fprintf(stderr, "record: no PIN try counter of AP 1 in the dump\n");
            exit(1);
        }
        r->prev[t]--;
        fputc(1, r->out);
        put64(r->out, digest_of(r->prev, r->prev_len));
    } else {
        fputc(0, r->out);
    }
    memcpy(r->prev, r->now, n);
    r->prev_len = n;
}

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
    if (r->in_case)
        put_digest(r, strstr(r->label, "verify") != NULL);
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
    if (r->in_case)
        put_digest(r, false);
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

static void case_begin(rec *r, const char *name, unsigned stride, unsigned keep_ends,
                       unsigned sample, unsigned restart_samples)
{
    size_t n = strlen(name);
    /* the target power-cycles its card at each case's start: so does the
     * host card, so that both start from NVM alone */
    if (mc_simcard_power_on(&r->sc) != MC_OK) {
        fprintf(stderr, "record: power-on before the case failed\n");
        exit(1);
    }
    fputc('T', r->out);
    fputc((int)n, r->out);
    fwrite(name, 1, n, r->out);
    put16(r->out, stride);
    put16(r->out, keep_ends);
    fputc((int)sample, r->out);
    fputc((int)restart_samples, r->out);
    r->prev_len = 0;
    put_digest(r, false);
    r->in_case = true;
}

static void case_end(rec *r)
{
    r->in_case = false;
    fputc('Z', r->out);
}

static int die(const char *what);

/* The tear script's cases (see the top): area setup, LOAD AP, the kiosk
 * flow, a wrong then a right VERIFY, every write of each (LOAD AP writes
 * its image once: 20 writes, where it made 125 and was cut at every 12th);
 * each restart that writes is torn too, after 0 and after 1 byte at 3 or 4
 * of its writes (every: 12, LOAD AP 3, as the host's double tear of
 * test_tearing.c spreads 12 over them). */
static int tear_cases(rec *r, mnap_ctx *ctx, bool every)
{
    static uint8_t img[BENCH_IMAGE_MAX];
    mnap_keyset tk, rk, ak;
    size_t n;
    uint8_t left = 0;

    bench_transport_keys(&tk);
    bench_region_keys(&rk);
    bench_ap_keys(&ak);
    r->label = "setup";
    case_begin(r, "area setup", 1, 0, every ? 1 : 0, every ? 12 : 3);
    if (mnap_am_open(ctx, &tk, MNAP_LEVEL_FULL) != MNAP_OK || mnap_area_setup(ctx, &rk) != MNAP_OK ||
        mnap_close(ctx) != MNAP_OK)
        return die("area setup failed");
    case_end(r);
    r->label = "load";
    n = bench_image(img, sizeof(img), 1, 2500); /* a chained LOAD of a few segments */
    case_begin(r, "LOAD AP", 1, 0, every ? 1 : 0, every ? 3 : 2);
    if (n == 0 || mnap_am_open(ctx, &rk, MNAP_LEVEL_FULL) != MNAP_OK ||
        mnap_area_load_ap(ctx, img, n, &ak, NULL) != MNAP_OK || mnap_close(ctx) != MNAP_OK)
        return die("LOAD AP failed");
    case_end(r);
    case_begin(r, "kiosk flow", 1, 0, every ? 1 : 0, every ? 12 : 4);
    if (bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, step, r) != MNAP_OK)
        return die("kiosk flow failed");
    case_end(r);
    {
        uint8_t aid[BENCH_AID_LEN];
        bench_aid(aid, 1);
        r->label = "open";
        case_begin(r, "VERIFY wrong, then right", 1, 0, every ? 1 : 0, every ? 12 : 3);
        if (mnap_ap_open(ctx, aid, sizeof(aid), &ak, MNAP_LEVEL_FULL) != MNAP_OK)
            return die("AP open failed");
        r->label = "verify.wrong";
        if (mnap_ap_verify_pin(ctx, "9999", 4, &left) == MNAP_OK)
            return die("a wrong PIN verified");
        r->label = "verify.right";
        if (mnap_ap_verify_pin(ctx, BENCH_PIN, strlen(BENCH_PIN), NULL) != MNAP_OK)
            return die("the right PIN failed");
        r->label = "close";
        if (mnap_close(ctx) != MNAP_OK)
            return die("close failed");
        case_end(r);
    }
    mnap_keyset_wipe(&tk);
    mnap_keyset_wipe(&rk);
    mnap_keyset_wipe(&ak);
    return 0;
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

    const char *mode = argc == 3 ? argv[2] : "";
    if ((argc != 2 && !(argc == 3 && (strcmp(mode, "measure") == 0 || strcmp(mode, "tear") == 0 ||
                                      strcmp(mode, "tear-long") == 0))) || r == NULL)
        return die("usage: record OUT [measure|tear|tear-long]");
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
    if (strncmp(mode, "tear", 4) == 0) {
        if (tear_cases(r, ctx, strcmp(mode, "tear-long") == 0) != 0)
            return 1;
        fputc('E', r->out);
        mnap_ctx_free(ctx);
        mc_simcard_close(&r->sc);
        if (fclose(r->out) != 0)
            return die("cannot write the script");
        free(r);
        return 0;
    }
    bench_ap_keys(&ak);
    r->label = "setup";
    if (bench_prepare(ctx, 1) != MNAP_OK)
        return die("bench_prepare failed");
    /* the kiosk flow, twice (the second is the one docs/PERFORMANCE.md counts:
     * the same state as bench_card's measured flows after a warm-up) */
    for (int i = 0; i < 2; i++)
        if (bench_kiosk(ctx, 1, &ak, MNAP_LEVEL_FULL, step, r) != MNAP_OK)
            return die("kiosk flow failed");
    if (argc == 3) { /* measure */
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
