/* mq_port.h: the bare-metal QEMU port of the mnap card runtime (card/port/qemu/).
 *
 * Written from card/port.h and docs/porting.md alone, as a vendor would.
 * Targets: qemu-system-arm -M mps2-an385 (Cortex-M3, NVM in RAM) and
 * -M microbit (Cortex-M0, ARMv6-M, 16 KiB RAM: NVM in a host file through
 * ARM semihosting).  No OS: a vector table and reset handler (mq_start.c),
 * newlib + librdimon only for semihosting stdio, and the card/port.h
 * functions:
 *   NVM      mq_nvm.c    RAM buffer or semihosting host file, byte-granular
 *                        writes
 *   tearing  mq_tear.c   the tear interface of card/port_tear.h (test
 *                        builds: count the writes, cut write N after K
 *                        bytes with the interrupted byte old, new or a
 *                        value, restart), for the one tear runner
 *   random   mq_random.c a TEST SOURCE (xorshift128+ from a fixed seed):
 *                        NOT a true random number generator
 *   AES      mq_aes.c    BearSSL's constant-time aes_ct, built for the target
 *                        from Debian's bearssl source package (bearssl.sh)
 *
 * The port context (card->port, given to mc_fabricate / mc_power_on) is an
 * mq_port.  The card test suites use the simulator's type mc_sim instead;
 * test/arm/ rebuilds that one for the target (docs/porting.md says why). */
#ifndef MQ_PORT_H
#define MQ_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mq_port {
    uint8_t *ram;        /* NVM in RAM, or NULL: NVM in a host file */
    int host_fd;         /* semihosting handle of the host file, -1 none */
    uint32_t size;       /* bytes of NVM */
    /* card/port_tear.h state (mq_tear.c); mq_nvm.c's writes consult it */
    uint64_t writes;     /* NVM writes since init (non-empty ones) */
    uint64_t cut_at;     /* tear this write (1-based, in writes), 0 off */
    size_t cut_after;    /* bytes of it that land */
    int cut_how;         /* the interrupted byte: MC_TEAR_OLD, _NEW, _VALUE */
    uint8_t cut_value;   /* its value for MC_TEAR_VALUE */
    bool power_cut;      /* a cut happened: every write fails until restart */
    size_t cut_len;      /* the torn write's length and address */
    uint32_t cut_addr;
    uint64_t rng[2];     /* state of the test random source */
} mq_port;

/* NVM in the caller's RAM buffer of size bytes, erased (0xFF).  0 or -1. */
int mq_port_init_ram(mq_port *p, uint8_t *buf, uint32_t size);
/* NVM in the host file path (semihosting), created erased when create,
 * else opened as it is (it must hold size bytes).  0 or -1. */
int mq_port_init_host(mq_port *p, const char *path, uint32_t size, bool create);
void mq_port_close(mq_port *p);
/* Power cuts: card/port_tear.h (mq_tear.c), nothing of the port's own.
 * mc_port_nvm_write asks mq_tear_plan how much of a write of len bytes lands
 * (*landed) and whether byte *landed is interrupted (*torn, holding *value);
 * true when the power fails at this write, which then ends with
 * mq_tear_done. */
bool mq_tear_plan(mq_port *p, const uint8_t *buf, size_t len, size_t *landed, bool *torn,
                  uint8_t *value);
void mq_tear_done(mq_port *p, uint32_t addr, size_t len);

/* One AES block with BearSSL's aes_ct (the body of mc_port_aes). */
int mq_aes_block(int decrypt, const uint8_t *key, size_t key_len, const uint8_t in[16],
                 uint8_t out[16]);

/* Ends the program: QEMU exits with status 0 when status is 0, 1 otherwise
 * (semihosting SYS_EXIT). */
void mq_exit(int status) __attribute__((noreturn));
/* Text to the host's console (semihosting SYS_WRITE0), without stdio. */
void mq_puts(const char *s);
void mq_puthex(uint32_t v);
void mq_putdec(uint32_t v);
/* Raw semihosting call (r0 = op, r1 = arg). */
int mq_semihost(int op, void *arg);
#define MQ_SYS_OPEN 0x01
#define MQ_SYS_CLOSE 0x02
#define MQ_SYS_WRITE 0x05
#define MQ_SYS_READ 0x06
#define MQ_SYS_SEEK 0x0A
#define MQ_SYS_FLEN 0x0C

#endif
