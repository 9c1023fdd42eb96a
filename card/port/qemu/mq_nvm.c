/* mq_nvm.c: the NVM of card/port.h on the QEMU port (context: mq_port).
 *
 * NVM is a RAM buffer (mps2-an385) or a host file reached through ARM
 * semihosting (the microbit: its 16 KiB of RAM cannot hold a 64 KiB NVM).
 * Both write synchronously, byte by byte in address order as far as the
 * tear model is concerned: a torn write leaves a prefix of the new bytes,
 * one interrupted byte of any value, and the old bytes after it (port.h).
 * The cut itself is planned through card/port_tear.h (mq_tear.c): every
 * write asks mq_tear_plan how much of it lands.  A real flash part that
 * programs in pages would have to split a write page by page in address
 * order to keep that contract (docs/porting.md). */
#include <string.h>
#include "mc_card.h"
#include "mq_port.h"
#include "port.h"

static mq_port *port_of(struct mc_card *card)
{
    return card != NULL ? (mq_port *)card->port : NULL;
}

static bool in_range(const mq_port *p, uint32_t addr, size_t len)
{
    return addr <= p->size && len <= p->size - addr;
}

static int host_seek(int fd, uint32_t pos)
{
    uint32_t a[2] = { (uint32_t)fd, pos };
    return mq_semihost(MQ_SYS_SEEK, a) == 0 ? 0 : -1;
}

static int host_read(int fd, uint32_t pos, uint8_t *buf, size_t len)
{
    uint32_t a[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len };
    if (host_seek(fd, pos) != 0)
        return -1;
    return mq_semihost(MQ_SYS_READ, a) == 0 ? 0 : -1; /* the count NOT read */
}

static int host_write(int fd, uint32_t pos, const uint8_t *buf, size_t len)
{
    uint32_t a[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len };
    if (host_seek(fd, pos) != 0)
        return -1;
    return mq_semihost(MQ_SYS_WRITE, a) == 0 ? 0 : -1; /* the count NOT written */
}

static void clear(mq_port *p)
{
    memset(p, 0, sizeof(*p));
    p->host_fd = -1;
}

int mq_port_init_ram(mq_port *p, uint8_t *buf, uint32_t size)
{
    clear(p);
    if (buf == NULL || size == 0)
        return -1;
    memset(buf, 0xFF, size);
    p->ram = buf;
    p->size = size;
    return 0;
}

int mq_port_init_host(mq_port *p, const char *path, uint32_t size, bool create)
{
    uint8_t ff[32];
    uint32_t a[3] = { (uint32_t)(uintptr_t)path, create ? 7u /* "w+b" */ : 3u /* "r+b" */,
                      (uint32_t)strlen(path) };
    int fd;

    clear(p);
    fd = mq_semihost(MQ_SYS_OPEN, a);
    if (fd < 0)
        return -1;
    p->host_fd = fd;
    p->size = size;
    if (create) {
        memset(ff, 0xFF, sizeof(ff));
        for (uint32_t off = 0; off < size; off += sizeof(ff))
            if (host_write(fd, off, ff, size - off < sizeof(ff) ? size - off : sizeof(ff)) != 0)
                goto fail;
    } else {
        uint32_t f[1] = { (uint32_t)fd };
        if ((uint32_t)mq_semihost(MQ_SYS_FLEN, f) != size)
            goto fail;
    }
    return 0;
fail:
    mq_port_close(p);
    return -1;
}

void mq_port_close(mq_port *p)
{
    if (p->host_fd >= 0) {
        uint32_t a[1] = { (uint32_t)p->host_fd };
        (void)mq_semihost(MQ_SYS_CLOSE, a);
    }
    clear(p);
}

uint32_t mc_port_nvm_size(struct mc_card *card)
{
    mq_port *p = port_of(card);
    return p != NULL ? p->size : 0;
}

int mc_port_nvm_read(struct mc_card *card, uint32_t addr, uint8_t *buf, size_t len)
{
    mq_port *p = port_of(card);
    if (p == NULL || (buf == NULL && len > 0) || !in_range(p, addr, len))
        return -1;
    if (len == 0)
        return 0;
    if (p->ram != NULL) {
        memcpy(buf, p->ram + addr, len);
        return 0;
    }
    return p->host_fd >= 0 ? host_read(p->host_fd, addr, buf, len) : -1;
}

int mc_port_nvm_write(struct mc_card *card, uint32_t addr, const uint8_t *buf, size_t len)
{
    mq_port *p = port_of(card);
    size_t landed;
    bool cut, torn;
    uint8_t v = 0;

    if (p == NULL || (buf == NULL && len > 0) || !in_range(p, addr, len))
        return -1;
    if (p->ram == NULL && p->host_fd < 0)
        return -1;
    if (p->power_cut)
        return -1; /* the power is off: this write never happens */
    if (len == 0)
        return 0;
    cut = mq_tear_plan(p, buf, len, &landed, &torn, &v);
    /* the new bytes in address order, then the interrupted one */
    if (landed > 0) {
        if (p->ram != NULL)
            memcpy(p->ram + addr, buf, landed);
        else if (host_write(p->host_fd, addr, buf, landed) != 0)
            return -1;
    }
    if (torn) {
        if (p->ram != NULL)
            p->ram[addr + landed] = v;
        else if (host_write(p->host_fd, addr + (uint32_t)landed, &v, 1) != 0)
            return -1;
    }
    if (cut) {
        mq_tear_done(p, addr, len);
        return -1;
    }
    return 0;
}

int mc_port_nvm_flush(struct mc_card *card)
{
    mq_port *p = port_of(card);
    return p == NULL || p->power_cut ? -1 : 0; /* writes are synchronous */
}

void mc_port_power_off(struct mc_card *card)
{
    (void)card; /* no crypto engine: mq_aes_block wipes its key schedule */
}
