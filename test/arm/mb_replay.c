/* mb_replay.c: the microbit's firmware (Cortex-M0, 16 KiB RAM): the card
 * runtime on the QEMU port (card/port/qemu/, NVM in a host file through
 * semihosting) replays the script of test/arm/record.c and requires every
 * response byte for byte, every mute, every mc_power_on status.
 *
 * It holds what a card holds: the runtime, the port, one mc_card, one I/O
 * buffer (command and response share it, as docs/porting.md allows) and the
 * stack; no heap, no stdio.  The script is read through semihosting in
 * small pieces; expected responses are compared in 32-byte chunks.
 *
 *   qemu-system-arm -M microbit -semihosting-config enable=on,target=native
 *     -kernel mb_replay.elf     (script: mb-script.bin, NVM: mb-nvm.img, in
 *                                QEMU's working directory)
 * Prints a summary; the exit status is 0 when every record matched. */
#include <stdint.h>
#include <string.h>
#include "mc.h"
#include "mb_stack.h"
#include "mq_port.h"
#include "port_tear.h"

#define IO_SIZE (MC_RSP_BUF_SIZE + 64)


static mc_card card;
static mq_port port;
static uint8_t io[IO_SIZE];
static int script = -1;
static uint32_t pos;

static int sread(void *buf, uint32_t len)
{
    uint32_t a[3] = { (uint32_t)script, (uint32_t)(uintptr_t)buf, len };
    if (mq_semihost(MQ_SYS_READ, a) != 0)
        return -1;
    pos += len;
    return 0;
}

static int u8(uint32_t *v)
{
    uint8_t b;
    if (sread(&b, 1) != 0)
        return -1;
    *v = b;
    return 0;
}

static int u16(uint32_t *v)
{
    uint8_t b[2];
    if (sread(b, 2) != 0)
        return -1;
    *v = (uint32_t)b[0] << 8 | b[1];
    return 0;
}

static int u32(uint32_t *v)
{
    uint8_t b[4];
    if (sread(b, 4) != 0)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static void fail(const char *what, uint32_t n)
{
    mq_puts("mb_replay: FAILED at record ");
    mq_puthex(n);
    mq_puts(" (script offset ");
    mq_puthex(pos);
    mq_puts("): ");
    mq_puts(what);
    mq_puts("\n");
    mq_exit(1);
}

/* The stack scrub (MC_STACK_SCRUB, docs/porting.md): before each command
 * the free stack is painted again; after it, the bytes more than
 * SCRUB_SLACK below the caller's frame that hold neither the paint nor the
 * scrub's zeros are residue of the command's frames.  After INITIALIZE
 * UPDATE (the static keys' session-key derivation, BearSSL's key schedules
 * under mc_port_aes, and a plain response: no AES after the scrub) there
 * must be none (SCRUB_RESIDUE_MAX).  Measured on the Cortex-M0: the
 * runtime's default scrub of 848 bytes leaves 633 bytes of them, 1,536
 * leaves 217, 1,792 leaves 10, 1,888 (848 + BearSSL's 1,040) and the
 * port's 2,048 leave none. */
#define SCRUB_SLACK 256u       /* mc_process's frame (88) and what runs after the scrub */
#define SCRUB_RESIDUE_MAX 0u
static uint32_t high_water, residue_iu_max, residue_iu_n;

static void repaint(uint8_t *below)
{
    for (uint8_t *p = end; p < below; p++)
        *(volatile uint8_t *)p = 0xA5;
}

/* The one call site of mc_process: test/arm/icount.sh counts the
 * instructions from its entry to the return here. */
__attribute__((noinline)) static size_t process(size_t len)
{
    uint8_t *sp = (uint8_t *)__builtin_frame_address(0) - 32, *p;
    uint8_t ins = len >= 2 ? io[1] : 0;
    uint32_t residue = 0;
    size_t n;

    repaint(sp);
    n = mc_process(&card, io, len, io, MC_RSP_BUF_SIZE); /* the host card's cap */
    for (p = end; p < _estack && *(volatile uint8_t *)p == 0xA5; p++)
        ;
    if ((uint32_t)(_estack - p) > high_water)
        high_water = (uint32_t)(_estack - p);
    for (; p < sp - SCRUB_SLACK; p++)
        if (*(volatile uint8_t *)p != 0xA5 && *(volatile uint8_t *)p != 0)
            residue++;
    if (ins == 0x50) {
        residue_iu_n++;
        if (residue > residue_iu_max)
            residue_iu_max = residue;
    }
    return n;
}

int main(void)
{
    uint32_t a[3], n = 0, apdus = 0, cuts = 0, cycles = 0;
    bool mute = false;
    static const char path[] = "mb-script.bin";

    mb_stack_paint();
    a[0] = (uint32_t)(uintptr_t)path;
    a[1] = 1; /* "rb" */
    a[2] = sizeof(path) - 1;
    script = mq_semihost(MQ_SYS_OPEN, a);
    if (script < 0)
        fail("cannot open mb-script.bin", 0);
    for (;; n++) {
        uint32_t type, v, len, want;
        if (u8(&type) != 0)
            fail("script ends early", n);
        if (type == 'E')
            break;
        switch (type) {
        case 'F': {
            uint8_t serial[8], family[2], key[32];
            uint32_t size, key_len;
            if (u32(&size) || sread(serial, 8) || sread(family, 2) || u8(&key_len) ||
                key_len > sizeof(key) || sread(key, key_len))
                fail("bad F record", n);
            if (mq_port_init_host(&port, "mb-nvm.img", size, true) != 0)
                fail("cannot create the NVM file mb-nvm.img", n);
            if (mc_fabricate(&card, &port, serial, family, key, key, key, key_len) != MC_OK)
                fail("mc_fabricate", n);
            memset(key, 0, sizeof(key));
            mute = false;
            break;
        }
        case 'A':
            if (u8(&len) || sread(io, len)) /* the label: not needed here */
                fail("bad A record", n);
            if (u16(&len) || len > sizeof(io) || sread(io, len) || u16(&want))
                fail("bad A record", n);
            v = mute ? 0 : (uint32_t)process(len);
            apdus++;
            if (v == 0)
                mute = true;
            if (v != want)
                fail(want == 0 ? "the card answered where the host card went mute"
                               : (v == 0 ? "the card went mute" : "response length differs"), n);
            for (uint32_t off = 0; off < want; off += 32) {
                uint8_t chunk[32];
                uint32_t c = want - off < 32 ? want - off : 32;
                if (sread(chunk, c) != 0)
                    fail("bad A record", n);
                if (memcmp(chunk, io + off, c) != 0)
                    fail("response bytes differ", n);
            }
            break;
        case 'R': /* as mc_simcard_reset: a mute card is still powered */
            mc_reset(&card);
            break;
        case 'P':
            if (u8(&want) != 0)
                fail("bad P record", n);
            mc_power_off(&card);
            mc_port_tear_restart(&card); /* card/port_tear.h */
            v = (uint32_t)mc_power_on(&card, &port);
            mute = false;
            cycles++;
            if (v != want)
                fail("mc_power_on status differs", n);
            break;
        case 'C': {
            uint32_t nth, k;
            if (u32(&nth) || u32(&k))
                fail("bad C record", n);
            mc_port_tear_arm(&card, nth, k, MC_TEAR_OLD, 0);
            cuts++;
            break;
        }
        default:
            fail("unknown record", n);
        }
    }
    mc_power_off(&card);
    mq_port_close(&port);
    if (residue_iu_n == 0)
        fail("no INITIALIZE UPDATE to check the stack scrub with", n);
    if (residue_iu_max > SCRUB_RESIDUE_MAX) {
        mq_puts("mb_replay: ");
        mq_putdec(residue_iu_max);
        mq_puts(" bytes of an INITIALIZE UPDATE's frames outlive the stack scrub\n");
        fail("MC_STACK_SCRUB does not reach the port's AES frames", n);
    }
    mq_puts("mb_replay: ");
    mq_putdec(apdus);
    mq_puts(" APDUs, ");
    mq_putdec(cuts);
    mq_puts(" power cuts, ");
    mq_putdec(cycles);
    mq_puts(" power-ups: every response as on the host; stack high-water ");
    mq_putdec(high_water > mb_stack_used() ? high_water : mb_stack_used());
    mq_puts(" bytes; after INITIALIZE UPDATE ");
    mq_putdec(residue_iu_max);
    mq_puts(" bytes of residue below the scrub (of ");
    mq_putdec(residue_iu_n);
    mq_puts("), ");
    mq_putdec((uint32_t)(_estack - end));
    mq_puts(" bytes free\n");
    return 0;
}
