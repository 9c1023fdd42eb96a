/* sim_nvm.c: the simulator's NVM: a memory buffer, optionally written through
 * to a file image, with write counters and the power-cut injector.
 *
 * Implements mc_port_nvm_* of card/port.h and the image/cut functions of
 * mc_sim.h.  The file image is a 16-byte header (magic "MNAPNVM\0", version
 * and NVM size as 32-bit little-endian) followed by the raw NVM; every write
 * reaches the file at once (pwrite) and mc_port_nvm_flush fsyncs it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_card.h"
#include "mc_sim.h"
#include "port.h"
#include "port_tear.h"

#define SIM_MAGIC "MNAPNVM"          /* 7 characters + NUL = 8 bytes */
#define SIM_VERSION 1u
#define SIM_HDR_LEN 16u
/* An image larger than this is refused as implausible (and would not fit a
 * 32-bit card address space worth simulating anyway). */
#define SIM_MAX_NVM (64u * 1024u * 1024u)

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void sim_clear(mc_sim *sim)
{
    memset(sim, 0, sizeof(*sim));
    sim->fd = -1;
}

int mc_sim_init_mem(mc_sim *sim, uint32_t size)
{
    if (sim == NULL)
        return -1;
    sim_clear(sim);
    if (size == 0 || size > SIM_MAX_NVM)
        return -1;
    sim->nvm = malloc(size);
    if (sim->nvm == NULL)
        return -1;
    memset(sim->nvm, 0xFF, size);
    sim->nvm_size = size;
    return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int mc_sim_create_file(mc_sim *sim, const char *path, uint32_t size, bool truncate)
{
    uint8_t hdr[SIM_HDR_LEN];
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_EXCL);
    int fd;

    if (path == NULL || mc_sim_init_mem(sim, size) != 0)
        return -1;
    fd = open(path, flags, 0600);
    if (fd < 0) {
        mc_sim_close(sim);
        return -1;
    }
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, SIM_MAGIC, sizeof(SIM_MAGIC));
    put_le32(hdr + 8, SIM_VERSION);
    put_le32(hdr + 12, size);
    if (write_all(fd, hdr, sizeof(hdr), 0) != 0 ||
        write_all(fd, sim->nvm, size, SIM_HDR_LEN) != 0 || fsync(fd) != 0) {
        /* The file is ours (created, or truncated on request): no half
         * image stays behind.  errno is the write's, for the caller. */
        int e = errno;
        unlink(path);
        close(fd);
        mc_sim_close(sim);
        errno = e;
        return -1;
    }
    sim->fd = fd;
    return 0;
}

static int fail(char *err, size_t err_cap, const char *path, const char *what)
{
    if (err != NULL && err_cap > 0)
        snprintf(err, err_cap, "%s: %s", path, what);
    return -1;
}

int mc_sim_open_file(mc_sim *sim, const char *path, char *err, size_t err_cap)
{
    uint8_t hdr[SIM_HDR_LEN];
    struct stat st;
    uint32_t version, size;
    int fd;

    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    if (sim == NULL || path == NULL)
        return fail(err, err_cap, path ? path : "(null)", "bad argument");
    sim_clear(sim);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_cap, path, strerror(errno));
    if (fstat(fd, &st) != 0 || read_all(fd, hdr, sizeof(hdr), 0) != 0) {
        close(fd);
        return fail(err, err_cap, path, "cannot read the image header (file too short?)");
    }
    if (memcmp(hdr, SIM_MAGIC, sizeof(SIM_MAGIC)) != 0) {
        close(fd);
        return fail(err, err_cap, path, "not an mnap NVM image (bad magic)");
    }
    version = get_le32(hdr + 8);
    size = get_le32(hdr + 12);
    if (version != SIM_VERSION) {
        close(fd);
        return fail(err, err_cap, path, "unsupported NVM image version");
    }
    if (size == 0 || size > SIM_MAX_NVM || (uint64_t)st.st_size != (uint64_t)SIM_HDR_LEN + size) {
        close(fd);
        return fail(err, err_cap, path, "NVM size in the header does not match the file");
    }
    if (mc_sim_init_mem(sim, size) != 0) {
        close(fd);
        return fail(err, err_cap, path, "out of memory");
    }
    if (read_all(fd, sim->nvm, size, SIM_HDR_LEN) != 0) {
        close(fd);
        mc_sim_close(sim);
        return fail(err, err_cap, path, "cannot read the NVM image");
    }
    sim->fd = fd;
    return 0;
}

void mc_sim_close(mc_sim *sim)
{
    if (sim == NULL)
        return;
    if (sim->fd >= 0) {
        (void)fsync(sim->fd);
        close(sim->fd);
    }
    free(sim->nvm);
    sim_clear(sim);
}

/* ---- port functions -------------------------------------------------- */

static mc_sim *sim_of(struct mc_card *card)
{
    return card != NULL ? (mc_sim *)card->port : NULL;
}

uint32_t mc_port_nvm_size(struct mc_card *card)
{
    mc_sim *sim = sim_of(card);
    return sim != NULL ? sim->nvm_size : 0;
}

static bool in_range(const mc_sim *sim, uint32_t addr, size_t len)
{
    return addr <= sim->nvm_size && len <= sim->nvm_size - addr;
}

int mc_port_nvm_read(struct mc_card *card, uint32_t addr, uint8_t *buf, size_t len)
{
    mc_sim *sim = sim_of(card);

    /* Reads keep working after a power cut: the runtime goes mute anyway, and
     * tests inspect the NVM through the same calls. */
    if (sim == NULL || sim->nvm == NULL || (buf == NULL && len > 0) || !in_range(sim, addr, len))
        return -1;
    if (len > 0)
        memcpy(buf, sim->nvm + addr, len);
    sim->reads++;
    return 0;
}

int mc_port_nvm_write(struct mc_card *card, uint32_t addr, const uint8_t *buf, size_t len)
{
    mc_sim *sim = sim_of(card);
    size_t landed;
    bool cut, torn;
    uint8_t v = 0;

    if (sim == NULL || sim->nvm == NULL || (buf == NULL && len > 0) || !in_range(sim, addr, len))
        return -1;
    if (sim->power_cut)
        return -1;          /* the power is off: this write never happens */
    if (len == 0)
        return 0;
    cut = mc_sim_tear_plan(sim, buf, len, &landed, &torn, &v);
    memcpy(sim->nvm + addr, buf, landed);
    if (sim->fd >= 0 && landed > 0 &&
        write_all(sim->fd, buf, landed, (off_t)SIM_HDR_LEN + addr) != 0)
        return -1;
    if (torn) {
        sim->nvm[addr + landed] = v;
        if (sim->fd >= 0 && write_all(sim->fd, &v, 1, (off_t)SIM_HDR_LEN + addr + landed) != 0)
            return -1;
    }
    mc_sim_tear_done(sim, addr, len, landed, cut);
    return cut ? -1 : 0;
}

int mc_port_nvm_flush(struct mc_card *card)
{
    mc_sim *sim = sim_of(card);

    if (sim == NULL || sim->power_cut)
        return -1;
    sim->flushes++;
    if (sim->fd >= 0 && fsync(sim->fd) != 0)
        return -1;
    return 0;
}

void mc_port_power_off(struct mc_card *card)
{
    (void)card;   /* the simulator keeps no RAM secrets of its own */
}
