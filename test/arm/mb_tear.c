/* mb_tear.c: the one tear runner (test/support/tear_runner.h) on the
 * microbit (Cortex-M0, 16 KiB RAM), over the QEMU port proper: NVM in a host
 * file through semihosting, torn through the port's card/port_tear.h
 * (card/port/qemu/mq_tear.c), nothing of the simulator.
 *
 * The script (test/arm/record.c, "tear" or "tear-long") holds the
 * fabrication and a list of cases, each an operation of one or more APDUs
 * with the responses and the logical-state digests (mb_digest.h over
 * mc_debug_dump) the host card gave before the case and after each APDU.
 * For each case the runner's callbacks are:
 *   start    the NVM of the case's start, restored from a snapshot file
 *            (mb-snap.img) through semihosting, then mc_power_on: 16 KiB
 *            of RAM hold no copy of a 64 KiB NVM, the host file does;
 *   run      the case's APDUs, each response compared with the host's;
 *            the first one that goes mute (or differs) after a cut is the
 *            cut command;
 *   restart  mc_power_off, mc_power_on (MC_OK required);
 *   check    the digest of the card's logical state must be the state
 *            before the cut command, after it, or (a VERIFY) the state
 *            before with one PIN try less (PROTOCOL.md §8).
 * Cut points: every write of each case (record.c), each cut whole, after
 * 0 bytes, half and all but one; the interrupted byte by every model of
 * tear_models.h (old, new, 00, FF, the store's valid codes, seeded random values; beyond
 * "old" sampled 1 in 8 with its fixed seed, all of them in tear-long); each
 * restart that writes torn too, after 0 and 1 byte at a few of its writes
 * (record.c says how many).
 * Prints each case's counts; exit status 0 when every cut checked out.
 *
 *   qemu-system-arm -M microbit -semihosting-config enable=on,target=native
 *     -kernel mb_tear.elf   (mb-tear.bin, mb-nvm.img and mb-snap.img in
 *                            QEMU's working directory) */
#include <stdint.h>
#include <string.h>
#include "mb_digest.h"
#include "mc.h"
#include "mc_debug.h"
#include "mb_stack.h"
#include "mq_port.h"
#include "port_tear.h"
#include "tear_models.h"
#include "tear_runner.h"

#define IO_SIZE (MC_RSP_BUF_SIZE + 64)
#define NVM_PATH "mb-nvm.img"
#define SNAP_PATH "mb-snap.img"


static mc_card card;
static mq_port port;
static uint8_t io[IO_SIZE];
static int script = -1, snap = -1;
static uint32_t pos;

/* The target has no environment: tear_models.c's MNAP_TEAR_LONG is never
 * set here (the script says how much to sample).  Defined so that newlib's
 * getenv and its 1 KiB of reentrancy data stay out of the 16 KiB. */
char *getenv(const char *name);
char *getenv(const char *name)
{
    (void)name;
    return NULL;
}

static void fail(const char *what)
{
    mq_puts("mb_tear: FAILED (script offset ");
    mq_puthex(pos);
    mq_puts("): ");
    mq_puts(what);
    mq_puts("\n");
    mq_exit(1);
}

/* ---- script ---------------------------------------------------------- */

static int sread(void *buf, uint32_t len)
{
    uint32_t a[3] = { (uint32_t)script, (uint32_t)(uintptr_t)buf, len };
    if (len == 0)
        return 0;
    if (mq_semihost(MQ_SYS_READ, a) != 0)
        return -1;
    pos += len;
    return 0;
}

static void sseek(uint32_t to)
{
    uint32_t a[2] = { (uint32_t)script, to };
    if (mq_semihost(MQ_SYS_SEEK, a) != 0)
        fail("cannot seek in the script");
    pos = to;
}

static uint32_t u8(void)
{
    uint8_t b;
    if (sread(&b, 1) != 0)
        fail("the script ends early");
    return b;
}

static uint32_t u16(void)
{
    uint8_t b[2];
    if (sread(b, 2) != 0)
        fail("the script ends early");
    return (uint32_t)b[0] << 8 | b[1];
}

static uint32_t u32(void)
{
    return u16() << 16 | u16();
}

static uint64_t u64(void)
{
    uint64_t hi = u32();
    return hi << 32 | u32();
}

/* ---- NVM snapshot in a second host file ------------------------------ */

static int host_rw(int op, int fd, uint32_t off, uint8_t *buf, uint32_t len)
{
    uint32_t s[2] = { (uint32_t)fd, off };
    uint32_t a[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)buf, len };
    if (mq_semihost(MQ_SYS_SEEK, s) != 0)
        return -1;
    return mq_semihost(op, a) == 0 ? 0 : -1;
}

/* from -> to, the whole NVM, through the I/O buffer (free between APDUs) */
static void copy_nvm(int from, int to)
{
    for (uint32_t off = 0; off < port.size; off += 2048) {
        uint32_t n = port.size - off < 2048 ? port.size - off : 2048;
        if (host_rw(MQ_SYS_READ, from, off, io, n) != 0 || host_rw(MQ_SYS_WRITE, to, off, io, n) != 0)
            fail("cannot copy the NVM snapshot");
    }
}

/* ---- digests ----------------------------------------------------------- */

static uint64_t digest_now(void)
{
    mb_digest d;
    mb_digest_init(&d);
    (void)mc_debug_dump_to(&card, mb_digest_put, &d);
    return mb_digest_final(&d);
}

/* ---- one case ---------------------------------------------------------- */

typedef struct mb_case {
    char name[40];
    uint32_t start_pos;      /* script offset of its first step */
    uint64_t d0;             /* the state before it (the host's) */
    /* what run found */
    uint64_t before, after, partial, last;
    bool has_partial, cut_seen;
    char label[24];          /* the cut step's label */
    const char *bad;         /* a response differed with no cut, or the like */
    uint32_t steps;
} mb_case;

static void read_digest(uint64_t *d, uint64_t *partial, bool *has_partial)
{
    if (u8() != 'D')
        fail("a step without its 'D' record");
    *d = u64();
    *has_partial = u8() != 0;
    *partial = *has_partial ? u64() : 0;
}

static void cs_start(void *p)
{
    mb_case *c = p;
    copy_nvm(snap, port.host_fd);
    mc_power_off(&card);
    if (mc_power_on(&card, &port) != MC_OK)
        fail("power-on at the case's start");
    sseek(c->start_pos);
}

/* 0: every step as on the host; 1: a cut (the card went mute or answered
 * otherwise at a step during which the power failed); -1: a difference
 * without a cut (c->bad). */
static int cs_run(void *p)
{
    mb_case *c = p;
    uint64_t prev = c->d0, cur, part;
    bool hp;

    c->bad = NULL;
    c->cut_seen = false;
    c->steps = 0;
    for (;;) {
        uint32_t type = u8(), len, want, v = 0, ll;
        bool same = true;
        char label[24];

        if (type == 'Z') {
            c->last = prev;
            return 0;
        }
        if (type == 'A') {
            ll = u8();
            if (ll >= sizeof(label) || sread(label, ll) != 0)
                fail("bad A record");
            label[ll] = 0;
            len = u16();
            if (len > sizeof(io) || sread(io, len) != 0)
                fail("bad A record");
            want = u16();
            v = (uint32_t)mc_process(&card, io, len, io, MC_RSP_BUF_SIZE);
            if (v != want)
                same = false;
            for (uint32_t off = 0; off < want; off += 32) {
                uint8_t chunk[32];
                uint32_t n = want - off < 32 ? want - off : 32;
                if (sread(chunk, n) != 0)
                    fail("bad A record");
                if (same && (off + n > v || memcmp(chunk, io + off, n) != 0))
                    same = false;
            }
        } else if (type == 'R') {
            memcpy(label, "warm reset", 11);
            mc_reset(&card);
        } else {
            fail("unknown record in a case");
        }
        c->steps++;
        read_digest(&cur, &part, &hp);
        if (mc_port_tear_cut(&card, NULL) != 0) {
            /* the power failed during this step: it left the state before
             * it, after it, or (hp) the allowed partial one */
            c->before = prev;
            c->after = cur;
            c->partial = part;
            c->has_partial = hp;
            c->cut_seen = true;
            memcpy(c->label, label, sizeof(c->label));
            return 1;
        }
        if (!same) {
            memcpy(c->label, label, sizeof(c->label));
            c->bad = v == 0 ? "the card went mute with no power cut" : "a response differs from the host's";
            return -1;
        }
        prev = cur;
    }
}

static int cs_restart(void *p)
{
    (void)p;
    mc_power_off(&card);
    return mc_power_on(&card, &port) == MC_OK ? 0 : 1;
}

static int cs_check(void *p, const tr_cut *cut)
{
    mb_case *c = p;
    uint64_t now;
    (void)cut;

    if (c->bad != NULL || !c->cut_seen) {
        mq_puts("mb_tear: ");
        mq_puts(c->bad != NULL ? c->bad : "the cut came after the last step");
        mq_puts(" at step ");
        mq_puts(c->label);
        mq_puts("\n");
        return TR_NEITHER;
    }
    now = digest_now();
    if (now == c->before)
        return TR_BEFORE;
    if (now == c->after)
        return TR_AFTER;
    if (c->has_partial && now == c->partial)
        return TR_PARTIAL;
    mq_puts("mb_tear: the state after the restart is neither before nor after step ");
    mq_puts(c->label);
    mq_puts("\n");
    return TR_NEITHER;
}

static void cs_dry(void *p, int phase, int rc)
{
    mb_case *c = p;
    if (phase == 0) {
        if (digest_now() != c->d0)
            fail("the state at the case's start is not the host's");
        return;
    }
    if (rc != 0) {
        mq_puts("mb_tear: uncut run, step ");
        mq_puts(c->label);
        mq_puts(": ");
        mq_puts(c->bad != NULL ? c->bad : "a cut with none armed");
        mq_puts("\n");
        fail("the uncut run differs from the host's");
    }
    if (digest_now() != c->last)
        fail("the state after the uncut run is not the host's");
}

static void put_stat(const char *what, unsigned long v)
{
    mq_puts(what);
    mq_putdec((uint32_t)v);
}

static void run_case(mb_case *c, unsigned stride, unsigned keep_ends, unsigned sample,
                     unsigned restart_samples, unsigned long *total)
{
    static const size_t k2[] = { 0, 1 };
    tr_case tc;
    tr_stats st;
    bool hp;
    uint64_t part;

    /* the case starts where the NVM is now: that is its snapshot */
    copy_nvm(port.host_fd, snap);
    read_digest(&c->d0, &part, &hp);
    c->start_pos = pos;
    memset(&tc, 0, sizeof(tc));
    tc.name = c->name;
    tc.card = &card;
    tc.ctx = c;
    tc.start = cs_start;
    tc.run = cs_run;
    tc.restart = cs_restart;
    tc.check = cs_check;
    tc.dry = cs_dry;
    tc.kset = TR_K_WHOLE | TR_K_ZERO | TR_K_HALF | TR_K_LAST;
    tc.stride = stride;
    tc.keep_ends = keep_ends;
    ct_tear_models(&tc);                 /* old, new, 00, FF, codes, random */
    if (sample != 0)
        tc.sample = sample;
    if (restart_samples != 0) {
        tc.restart_k = k2;
        tc.restart_k_count = 2;
        tc.restart_samples = restart_samples;
    }
    if (tr_run(&tc, &st) != 0) {
        mq_puts("mb_tear: case ");
        mq_puts(c->name);
        mq_puts(": ");
        mq_puts(st.why != NULL ? st.why : "?");
        put_stat(" (write ", (unsigned long)st.at.n);
        put_stat(" of ", (unsigned long)st.writes);
        put_stat(", k ", st.at.k == SIZE_MAX ? 0xFFFFFFFFul : (unsigned long)st.at.k);
        put_stat(" of ", (unsigned long)st.at.len);
        mq_puts(" bytes at 0x");
        mq_puthex(st.at.addr);
        put_stat(", byte model ", (unsigned long)st.at.how);
        mq_puts(" value 0x");
        mq_puthex(st.at.value);
        put_stat(", restart write ", (unsigned long)st.at.m);
        put_stat(" k2 ", (unsigned long)st.at.k2);
        mq_puts(")\n");
        fail("a cut point did not check out");
    }
    mq_puts("mb_tear: ");
    mq_puts(c->name);
    put_stat(": ", (unsigned long)st.writes);
    put_stat(" writes, ", st.cuts);
    put_stat(" cut points: ", st.before);
    put_stat(" before, ", st.after);
    put_stat(" after, ", st.partial);
    put_stat(" partial (", st.valued);
    put_stat(" with the interrupted byte not old, ", st.restart_cuts);
    put_stat(" with the restart torn too, ", st.skipped);
    mq_puts(" sampled out)\n");
    *total += st.cuts;
    /* on to the state after the case: its uncut run once more */
    cs_start(c);
    if (cs_run(c) != 0 || digest_now() != c->last)
        fail("the case's uncut run did not repeat");
}

int main(void)
{
    static const char path[] = "mb-tear.bin";
    static mb_case c;
    uint32_t a[3], cases = 0;
    unsigned long total = 0;

    mb_stack_paint();
    a[0] = (uint32_t)(uintptr_t)path;
    a[1] = 1; /* "rb" */
    a[2] = sizeof(path) - 1;
    script = mq_semihost(MQ_SYS_OPEN, a);
    if (script < 0)
        fail("cannot open mb-tear.bin");
    for (;;) {
        uint32_t type = u8();
        if (type == 'E')
            break;
        if (type == 'F') {
            uint8_t serial[8], family[2], key[32];
            uint32_t size = u32(), key_len;
            if (sread(serial, 8) || sread(family, 2) || (key_len = u8()) > sizeof(key) ||
                sread(key, key_len))
                fail("bad F record");
            if (mq_port_init_host(&port, NVM_PATH, size, true) != 0)
                fail("cannot create the NVM file " NVM_PATH);
            if (mc_fabricate(&card, &port, serial, family, key, key, key, key_len) != MC_OK)
                fail("mc_fabricate");
            memset(key, 0, sizeof(key));
            a[0] = (uint32_t)(uintptr_t)SNAP_PATH;
            a[1] = 7; /* "w+b" */
            a[2] = sizeof(SNAP_PATH) - 1;
            snap = mq_semihost(MQ_SYS_OPEN, a);
            if (snap < 0)
                fail("cannot create the snapshot file " SNAP_PATH);
        } else if (type == 'T') {
            uint32_t nl = u8(), stride, keep, sample, rs;
            if (nl >= sizeof(c.name) || sread(c.name, nl) != 0 || snap < 0)
                fail("bad T record");
            c.name[nl] = 0;
            stride = u16();
            keep = u16();
            sample = u8();
            rs = u8();
            run_case(&c, stride, keep, sample, rs, &total);
            cases++;
        } else {
            fail("unknown record");
        }
    }
    mc_power_off(&card);
    mq_port_close(&port);
    mq_puts("mb_tear: ");
    mq_putdec(cases);
    mq_puts(" cases, ");
    mq_putdec((uint32_t)total);
    mq_puts(" cut points, every one before, after or the allowed partial state; stack high-water ");
    mq_putdec(mb_stack_used());
    mq_puts(" bytes of ");
    mq_putdec((uint32_t)(_estack - end));
    mq_puts(" free\n");
    return 0;
}
