/* vc_link.c: the vpcd TCP link (see vc_link.h). */
/* ppoll (wait with signals unblocked, atomically) is a GNU/Linux call. */
#define _GNU_SOURCE
#include "vc_link.h"
#include "vc_sig.h"
#include "cm_ct.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long the rest of a frame may take once its first byte arrived.  vpcd
 * writes a frame with one send(), so only a dead peer comes near this. */
#define VC_FRAME_TIMEOUT_MS 5000

int vc_link_init(vc_link *link, const char *hostport, char *err, size_t err_cap)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(hostport, ':');
    char *end = NULL;
    unsigned long port;
    size_t hlen;

    memset(link, 0, sizeof *link);
    link->fd = -1;
    if (colon == NULL) {
        snprintf(err, err_cap, "--connect %s: expected IPv4:PORT", hostport);
        return -1;
    }
    hlen = (size_t)(colon - hostport);
    if (hlen == 0 || hlen >= sizeof host) {
        snprintf(err, err_cap, "--connect %s: bad host", hostport);
        return -1;
    }
    memcpy(host, hostport, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port == 0 || port > 65535) {
        snprintf(err, err_cap, "--connect %s: bad port", hostport);
        return -1;
    }
    link->addr.sin_family = AF_INET;
    link->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &link->addr.sin_addr) != 1) {
        snprintf(err, err_cap, "--connect %s: host must be a numeric IPv4 address", hostport);
        return -1;
    }
    snprintf(link->name, sizeof link->name, "%s:%lu", host, port);
    return 0;
}

int vc_link_connect(vc_link *link)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&link->addr, sizeof link->addr) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* Responses are single small frames: send them at once. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    link->fd = fd;
    return 0;
}

void vc_link_close(vc_link *link)
{
    if (link->fd >= 0) {
        close(link->fd);
        link->fd = -1;
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until fd is readable.  interruptible: signals end the wait.
 * Returns 1 readable, 0 timeout, VC_LINK_SIGNAL, or VC_LINK_CLOSED. */
static int wait_readable(int fd, int timeout_ms, int interruptible)
{
    long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        struct timespec ts;
        const struct timespec *tsp = NULL;
        if (timeout_ms >= 0) {
            long left = deadline - now_ms();
            if (left < 0) {
                left = 0;
            }
            ts.tv_sec = left / 1000;
            ts.tv_nsec = (left % 1000) * 1000000L;
            tsp = &ts;
        }
        int r = ppoll(&p, 1, tsp, interruptible ? vc_sig_waitmask() : NULL);
        if (r > 0) {
            /* POLLHUP/POLLERR: let read() tell EOF or the error. */
            return 1;
        }
        if (r == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return VC_LINK_CLOSED;
        }
        if (interruptible) {
            return VC_LINK_SIGNAL;
        }
    }
}

/* vpcd writes a frame's length and its body with two send() calls and
 * leaves Nagle on, so the body waits for our ACK of the length; a delayed ACK
 * (40 ms) per APDU would make every command that slow.  Linux clears
 * TCP_QUICKACK by itself, hence setting it again at every frame. */
static void quick_ack(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

/* Reads exactly len bytes, each wait bounded by VC_FRAME_TIMEOUT_MS. */
static int read_rest(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        int w = wait_readable(fd, VC_FRAME_TIMEOUT_MS, 0);
        if (w != 1) {
            return VC_LINK_CLOSED;
        }
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return VC_LINK_CLOSED;
        }
        got += (size_t)n;
    }
    return 0;
}

int vc_link_recv(vc_link *link, uint8_t *buf, size_t cap, int timeout_ms)
{
    uint8_t hdr[2];
    ssize_t n;
    size_t len;

    if (link->fd < 0) {
        return VC_LINK_CLOSED;
    }
    int w = wait_readable(link->fd, timeout_ms, 1);
    if (w == 0) {
        return VC_LINK_TIMEOUT;
    }
    if (w < 0) {
        return w;
    }
    do {
        n = recv(link->fd, hdr, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return VC_LINK_CLOSED;
    }
    quick_ack(link->fd);
    if (read_rest(link->fd, hdr + 1, 1) != 0) {
        return VC_LINK_CLOSED;
    }
    len = ((size_t)hdr[0] << 8) | hdr[1];
    if (len > cap) {
        return VC_LINK_CLOSED;
    }
    if (read_rest(link->fd, buf, len) != 0) {
        return VC_LINK_CLOSED;
    }
    return (int)len;
}

int vc_link_send(vc_link *link, const uint8_t *buf, size_t len)
{
    static uint8_t frame[2 + VC_FRAME_MAX]; /* single-threaded; too big for the stack */
    size_t off = 0;

    if (link->fd < 0 || len > VC_FRAME_MAX) {
        return VC_LINK_CLOSED;
    }
    frame[0] = (uint8_t)(len >> 8);
    frame[1] = (uint8_t)len;
    memcpy(frame + 2, buf, len);
    /* One send of the whole frame: vpcd reads the length with MSG_WAITALL
     * and then the body, and a single segment keeps the latency low. */
    int rc = 0;
    while (off < len + 2) {
        ssize_t n = send(link->fd, frame + off, len + 2 - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = VC_LINK_CLOSED;
            break;
        }
        off += (size_t)n;
    }
    /* A response can carry file contents read under a PIN: do not keep it. */
    cm_wipe(frame, len + 2);
    return rc;
}

void vc_wait(int timeout_ms)
{
    struct timespec ts;
    const struct timespec *tsp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tsp = &ts;
    }
    (void)ppoll(NULL, 0, tsp, vc_sig_waitmask());
}
