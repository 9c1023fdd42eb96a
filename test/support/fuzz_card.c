/* fuzz_card.c: start states, command sending and invariant checking for the
 * card APDU fuzzer (see fuzz_card.h; the rules are in fuzz_inv.c).
 *
 * Everything is static: a libFuzzer process runs one input at a time, and
 * the snapshots must outlive the inputs. */
#include "fuzz_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_err.h"
#include "cm_tlv.h"
#include "fuzz_inv.h"
#include "mc_debug.h"

#define DUMP_CAP (3u * MC_SIM_DEFAULT_NVM_SIZE)

static ch_card live;
static struct {
    ch_card c;
    uint8_t *nvm;
} snap[FZ_START_COUNT];
static bool ready;

/* The state after the last command: its dump, parsed (pointers into it). */
static uint8_t dump_buf[2][DUMP_CAP];
static size_t dump_len[2];
static fz_state state[2];
static int cur;

/* A power cut armed by the tear operation for the next command. */
static uint64_t tear_nth;
static size_t tear_k;

static const uint8_t levels[5] = {0x33, 0x13, 0x11, 0x03, 0x01};

/* FUZZ_CARD_VERBOSE=1: one line per command and per power cut. */
static bool verbose(void)
{
    static int v = -1;

    if (v < 0)
        v = getenv("FUZZ_CARD_VERBOSE") != NULL;
    return v != 0;
}

ch_card *fz_card_live(void)
{
    return &live;
}

static void fail_setup(const char *msg)
{
    fprintf(stderr, "fuzz_card: cannot build the start states: %s\n", msg);
    abort();
}

/* Dumps the live card into buffer i and parses it. */
static void dump_into(int i, const char *what)
{
    size_t n = mc_debug_dump(&live.sc.card, dump_buf[i], DUMP_CAP);

    if (n > DUMP_CAP)
        fz_violation(what, "state dump larger than three NVM images", NULL);
    dump_len[i] = n;
    if (fz_parse_dump(dump_buf[i], n, &state[i]) != 0)
        fz_violation(what, "state dump does not parse", NULL);
}

static void take_snapshot(unsigned i)
{
    snap[i].c = live;
    snap[i].nvm = malloc(live.sc.sim.nvm_size);
    if (snap[i].nvm == NULL)
        fail_setup("out of memory");
    memcpy(snap[i].nvm, live.sc.sim.nvm, live.sc.sim.nvm_size);
}

static void build_snapshots(void)
{
    ch_ap a, b;

    if (ch_init(&live, 0) != 0)
        fail_setup("ch_init");
    take_snapshot(FZ_START_BLANK);
    {
        cm_keyset rk;
        ch_region_keys(&rk);
        if (ch_area_setup(&live, &rk) != 0x9000 || ch_open_am(&live) != 0x9000)
            fail_setup("area setup");
    }
    ch_ap_default(&a, 1);
    ch_ap_default(&b, 2);
    if (ch_load_ap(&live, &a) != 0x9000 || ch_load_ap(&live, &b) != 0x9000)
        fail_setup("loading APs A and B");
    ch_reset(&live);
    take_snapshot(FZ_START_ACTIVE);
    if (ch_open_am(&live) != 0x9000)
        fail_setup("AM channel");
    take_snapshot(FZ_START_AM);
    if (ch_open_ap(&live, &a, 0x33) != 0x9000 || ch_verify(&live, "1234") != 0x9000)
        fail_setup("channel on A, PIN verified");
    take_snapshot(FZ_START_AP);
    ready = true;
}

void fz_card_begin(unsigned start)
{
    uint8_t *nvm;

    if (!ready)
        build_snapshots();
    start %= FZ_START_COUNT;
    /* The snapshot was taken from `live` itself, so the pointers inside it
     * (the card's port, the channel's cipher) point back into `live`; only
     * the NVM buffer is separate. */
    nvm = live.sc.sim.nvm;
    live = snap[start].c;
    live.sc.sim.nvm = nvm;
    memcpy(nvm, snap[start].nvm, live.sc.sim.nvm_size);
    cur = 0;
    tear_nth = 0;
    dump_into(cur, "start state");
}

/* The host's view of who is talking: the application of its open channel. */
static void actor_of(fz_step *s)
{
    s->actor = FZ_ACT_NONE;
    if (!live.chan_open)
        return;
    if (live.selected_aid_len == CH_AM_AID_LEN &&
        memcmp(live.selected_aid, ch_am_aid, CH_AM_AID_LEN) == 0) {
        s->actor = FZ_ACT_AM;
        return;
    }
    s->actor = FZ_ACT_AP;
    s->aid = live.selected_aid;
    s->aid_len = live.selected_aid_len;
}

/* Dumps the state after a step and checks it against the state before. */
static void check(const fz_step *s, const char *what)
{
    int nxt = cur ^ 1;

    dump_into(nxt, what);
    fz_check_step(&state[cur], &state[nxt], s, what);
    cur = nxt;
}

static uint16_t send(int mode, const uint8_t *apdu, size_t len, size_t seg)
{
    static ch_rsp rsp;

    if (mode == FZ_SEND_RAW)
        return ch_raw(&live, apdu, len, &rsp);
    if (mode == FZ_SEND_CHAINED)
        return ch_cmd_chained(&live, apdu, len, seg ? seg : 1, &rsp);
    return ch_cmd(&live, apdu, len, &rsp);
}

/* The command has run whole (state cur, dump of the state before in the
 * other buffer).  Runs it again from the state before, with the power cut
 * after tear_k bytes of its tear_nth-th NVM write, powers the card back on,
 * and checks PROTOCOL.md §8: start-up finds the NVM consistent, and the card
 * shows the state before, the state after, or the state before with only
 * the counters a torn command may move. */
static void tear_check(const fz_step *s, int mode, size_t seg, const ch_card *before_card,
                       const uint8_t *before_nvm)
{
    int done = cur, prev = cur ^ 1, nxt;
    uint8_t *nvm = live.sc.sim.nvm;
    static fz_state before_st;   /* the state before, parsed from a copy */
    bool cut;
    mc_status st;

    live = *before_card;
    live.sc.sim.nvm = nvm;
    memcpy(nvm, before_nvm, live.sc.sim.nvm_size);
    mc_sim_arm_cut(&live.sc.sim, tear_nth, tear_k);
    (void)send(mode, s->apdu, s->len, seg);
    cut = live.sc.sim.power_cut;
    mc_sim_disarm(&live.sc.sim);
    if (verbose())
        fprintf(stderr, "tear at write %llu + %zu bytes: %s\n", (unsigned long long)tear_nth,
                tear_k, cut ? "cut" : "not reached");
    if (!cut) {
        /* Fewer writes than tear_nth: the same run as before. */
        dump_into(prev, "tear (no cut)");
        if (dump_len[prev] != dump_len[done] || memcmp(dump_buf[prev], dump_buf[done], dump_len[done]))
            fz_violation("tear", "the same command from the same state ended differently", s);
        return;
    }
    st = ch_power_cycle(&live);
    if (st != MC_OK)
        fz_violation("tear", "start-up after a power cut did not return MC_OK", s);
    /* The buffer of the state before becomes the torn state's: keep a parsed
     * copy of the state before first (its pointers go into that buffer). */
    nxt = prev;
    {
        static uint8_t before_dump[DUMP_CAP];
        size_t before_len = dump_len[prev];
        memcpy(before_dump, dump_buf[prev], before_len);
        dump_into(nxt, "tear");
        if (fz_parse_dump(before_dump, before_len, &before_st) != 0)
            fz_violation("tear", "state dump does not parse", s);
        if (!(dump_len[nxt] == before_len && memcmp(dump_buf[nxt], before_dump, before_len) == 0) &&
            !(dump_len[nxt] == dump_len[done] &&
              memcmp(dump_buf[nxt], dump_buf[done], dump_len[done]) == 0) &&
            !fz_counters_only(&before_st, &state[nxt], s))
            fz_violation("tear", "after a power cut the card shows neither the state before, "
                                 "the state after, nor the state before with counters moved", s);
    }
    cur = nxt;
}

uint16_t fz_card_apdu(int mode, const uint8_t *apdu, size_t len, size_t seg)
{
    static ch_card before_card;
    static uint8_t before_nvm[MC_SIM_DEFAULT_NVM_SIZE];
    static uint8_t aid[16];
    bool tear = tear_nth != 0;
    fz_step s;
    uint16_t sw;

    memset(&s, 0, sizeof(s));
    /* Even a raw command is credited to the open channel: raw bytes that
     * carry a valid C-MAC speak for that channel (deterministic snapshots
     * make such bytes learnable), so this is the permissive reading. */
    actor_of(&s);
    if (s.actor == FZ_ACT_AP) {
        memcpy(aid, s.aid, s.aid_len);
        s.aid = aid;
    }
    s.apdu = apdu;
    s.len = len;
    if (tear) {
        before_card = live;
        memcpy(before_nvm, live.sc.sim.nvm, live.sc.sim.nvm_size);
    }
    sw = send(mode, apdu, len, seg);
    s.sw = sw;
    if (verbose())
        fprintf(stderr, "%s %02X%02X%02X%02X (%zu bytes): %04X\n",
                mode == FZ_SEND_RAW ? "raw" : mode == FZ_SEND_CHAINED ? "chained" : "sent",
                len > 0 ? apdu[0] : 0, len > 1 ? apdu[1] : 0, len > 2 ? apdu[2] : 0,
                len > 3 ? apdu[3] : 0, len, sw);
    if (sw == CH_SW_MUTE)
        fz_violation("command", "the card went mute with no power cut armed", &s);
    check(&s, "command");
    if (tear) {
        tear_check(&s, mode, seg, &before_card, before_nvm);
        tear_nth = 0;
    }
    return sw;
}

/* Opens a channel through the harness (SELECT, INITIALIZE UPDATE, EXTERNAL
 * AUTHENTICATE) and checks the whole as one step: to the rules it is an
 * INITIALIZE UPDATE from no channel, which may only advance counters. */
static void open_op(const uint8_t *aid, size_t aid_len, uint8_t kvn, const cm_keyset *ks,
                    uint8_t level)
{
    static const uint8_t iu[5] = {0x80, 0x50, 0x00, 0x00, 0x08};
    fz_step s;

    memset(&s, 0, sizeof(s));
    s.apdu = iu;
    s.len = sizeof(iu);
    s.sw = ch_open(&live, aid, aid_len, kvn, ks, level);
    if (s.sw == CH_SW_MUTE)
        fz_violation("open channel", "the card went mute with no power cut armed", &s);
    check(&s, "open channel");
}

static void verify_op(void)
{
    ch_ap a;
    const fz_ap *cur_a;
    uint8_t apdu[32];
    size_t n;

    ch_ap_default(&a, 1);
    cur_a = fz_find_ap(&state[cur], a.aid, a.aid_len);
    if (cur_a != NULL && cur_a->pin_len > 0)
        n = ch_apdu(apdu, sizeof(apdu), 0x00, 0x20, 0x00, 0x81, cur_a->pin, cur_a->pin_len, -1);
    else
        n = ch_apdu(apdu, sizeof(apdu), 0x00, 0x20, 0x00, 0x81, (const uint8_t *)"1234", 4, -1);
    if (n)
        (void)fz_card_apdu(FZ_SEND_WRAPPED, apdu, n, 0);
}

/* PUT KEY old_kvn -> the region key set (AREA SETUP in a BLANK area). */
static void put_key_op(uint8_t old_kvn)
{
    uint8_t data[160], apdu[200];
    cm_keyset rk;
    size_t dn, n;

    ch_region_keys(&rk);
    dn = ch_keyset_data(&live, live.chan_keys.dek, live.chan_keys.key_len, &rk, data,
                        sizeof(data));
    if (dn == 0)
        return;
    n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xD8, old_kvn, 0x81, data, dn, 256);
    if (n)
        (void)fz_card_apdu(FZ_SEND_WRAPPED, apdu, n, 0);
}

/* LOAD AP of a harness-built image (A again, or a third AP C; never B, whose
 * keys stay unknown), in blocks of `block` bytes through the open channel. */
static void load_op(uint8_t arg)
{
    static uint8_t img[CH_IMAGE_MAX], apdu[CH_IMAGE_MAX + 16];
    ch_ap ap;
    size_t len, block = 64u + (size_t)(arg >> 1) * 64u;

    /* Wrapped with the Key-DEK of the channel in use (PROTOCOL.md §3). */
    ch_ap_default(&ap, (arg & 1) ? 3 : 1);
    len = ch_build_image(&live, live.chan_keys.dek, live.chan_keys.key_len, &ap, img,
                         sizeof(img));
    for (size_t off = 0, blk = 0; len && off < len; off += block, blk++) {
        size_t k = len - off < block ? len - off : block;
        size_t n = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, off + k == len ? 0x80 : 0x00,
                           (uint8_t)blk, img + off, k, -1);
        if (n == 0 || fz_card_apdu(FZ_SEND_WRAPPED, apdu, n, 0) != 0x9000)
            break;
    }
}

/* LOAD AP (chained in segments of seg bytes when seg is not 0) of an image
 * made from fuzz bytes: their top-level TLVs as they
 * are, except that any A1 is dropped and a valid key set (A1, wrapped with
 * the channel's Key-DEK, with right KCVs) is put after A0 (or at the end).
 * The fuzzer cannot compute KCVs; this way it reaches every check of the
 * card's image parser behind them. */
static void fuzzed_load_op(const uint8_t *d, size_t n, size_t seg)
{
    static uint8_t img[CH_IMAGE_MAX], apdu[2100];
    uint8_t ksd[160];
    cm_keyset ks;
    cm_tlv_writer w;
    cm_tlv t;
    size_t pos = 0, ksn, len;
    bool placed = false;

    ch_make_keys(&ks, 0x3C, 0x55, 16);
    ksn = ch_keyset_data(&live, live.chan_keys.dek, live.chan_keys.key_len, &ks, ksd,
                         sizeof(ksd));
    if (ksn == 0)
        return;
    cm_tlv_writer_init(&w, img, sizeof(img));
    while (cm_tlv_next(d, n, &pos, &t) == CM_OK) {
        if (t.tag == 0xA1)
            continue;
        cm_tlv_put(&w, t.tag, t.value, t.len);
        if (t.tag == 0xA0 && !placed) {
            cm_tlv_put(&w, 0xA1, ksd, ksn);
            placed = true;
        }
    }
    if (!placed)
        cm_tlv_put(&w, 0xA1, ksd, ksn);
    if (w.error != CM_OK)
        return;
    len = w.pos;
    for (size_t off = 0, blk = 0; off < len; off += 2048, blk++) {
        size_t k = len - off < 2048 ? len - off : 2048;
        size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, off + k == len ? 0x80 : 0x00,
                            (uint8_t)blk, img + off, k, -1);
        if (an == 0 || fz_card_apdu(seg ? FZ_SEND_CHAINED : FZ_SEND_WRAPPED, apdu, an, seg) !=
                           0x9000)
            break;
    }
}

/* Power off and on: start-up must find the NVM consistent and the logical
 * state exactly as it was (the dump leaves TEAR_RECOVERED out). */
static void restart_check(const char *what)
{
    int nxt = cur ^ 1;
    mc_status st = ch_power_cycle(&live);

    if (st != MC_OK)
        fz_violation(what, "mc_power_on did not return MC_OK after a clean power-off", NULL);
    dump_into(nxt, what);
    if (dump_len[nxt] != dump_len[cur] || memcmp(dump_buf[nxt], dump_buf[cur], dump_len[cur]))
        fz_violation(what, "the state after a power cycle differs from the state before", NULL);
    cur = nxt;
}

void fz_card_op(const uint8_t *op, size_t n)
{
    uint8_t arg = n > 1 ? op[1] : 0;
    cm_keyset ks;
    ch_ap a;

    if (n == 0)
        return;
    switch (op[0] % 10) {
    case 0:
        ch_region_keys(&ks);
        open_op(ch_am_aid, CH_AM_AID_LEN, 0x00, &ks, levels[arg % 5]);
        break;
    case 1:
        ch_transport_keys(&ks);
        open_op(ch_am_aid, CH_AM_AID_LEN, 0xFF, &ks, 0x33);
        break;
    case 2:
        ch_ap_default(&a, (arg & 0x80) ? 3 : 1);
        open_op(a.aid, a.aid_len, 0x00, &a.keys, levels[arg % 5]);
        break;
    case 3:
        verify_op();
        break;
    case 4:
        put_key_op(arg);
        break;
    case 5:
        load_op(arg);
        break;
    case 6:
        restart_check("power cycle");
        break;
    case 7:
        ch_reset(&live);
        break;
    case 9:
        /* arg: 0 one command per block, else ISO chaining segments of
         * 16 * arg bytes; the image follows. */
        if (n >= 2)
            fuzzed_load_op(op + 2, n - 2, 16u * arg);
        break;
    default:
        /* Tear the next command: cut after op[2] bytes of its
         * (1 + arg % 32)-th NVM write. */
        tear_nth = 1u + arg % 32u;
        tear_k = n > 2 ? op[2] : 0;
        break;
    }
}

void fz_card_end(void)
{
    restart_check("final power cycle");
}
