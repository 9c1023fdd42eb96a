/* echo_card: the baseline card of the PC/SC throughput benchmark.
 *
 *   echo_card PORT
 *
 * Connects to vpcd on 127.0.0.1:PORT as the card (like mnap-vcard) and
 * answers every APDU with 90 00 and get-ATR with a fixed T=1 ATR, doing no
 * other work: what the benchmark measures through it is the cost of pcscd,
 * vpcd and the client library alone.  vpcd's protocol: frames of a 2-byte
 * big-endian length and a payload; a 1-byte payload is a control message
 * (00 power off, 01 power on, 02 reset: no answer; 04 get ATR: the ATR),
 * anything longer is an APDU.  Like mnap-vcard it sets TCP_QUICKACK before
 * every read: vpcd sends a frame's length and body in two writes with Nagle
 * on, so the body waits for the ACK of the length, and a delayed ACK would
 * add 40 ms to every APDU.  Exits 0 when vpcd closes the connection or on
 * SIGTERM, 1 when it cannot connect (retrying for 10 s first). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* TS 3B, T0 80 (TD1 follows, no historical bytes), TD1 81 (TD2 follows, T=1),
 * TD2 01 (T=1), TCK = 80 ^ 81 ^ 01 = 00. */
static const uint8_t atr[] = { 0x3B, 0x80, 0x81, 0x01, 0x00 };

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int recv_all(int fd, uint8_t *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int one = 1;
        /* Linux clears TCP_QUICKACK by itself: set it before every read. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        ssize_t r = recv(fd, b + got, n - got, 0);
        if (r < 0 && errno == EINTR && !g_stop)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int send_frame(int fd, const uint8_t *b, size_t n)
{
    uint8_t buf[2 + 64];
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    memcpy(buf + 2, b, n);
    return send(fd, buf, n + 2, MSG_NOSIGNAL) == (ssize_t)(n + 2) ? 0 : -1;
}

static int connect_vpcd(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 100 && !g_stop; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0)
            return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        close(fd);
        nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
    }
    return -1;
}

int main(int argc, char **argv)
{
    static const uint8_t ok[2] = { 0x90, 0x00 };
    static uint8_t msg[65536];
    struct sigaction sa;
    int fd, port;

    if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: echo_card PORT\n");
        return 64;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fd = connect_vpcd(port);
    if (fd < 0) {
        fprintf(stderr, "echo_card: cannot connect to vpcd on 127.0.0.1:%d\n", port);
        return 1;
    }
    while (!g_stop) {
        uint8_t hdr[2];
        size_t n;
        if (recv_all(fd, hdr, 2) != 0)
            break;
        n = (size_t)hdr[0] << 8 | hdr[1];
        if (n > 0 && recv_all(fd, msg, n) != 0)
            break;
        if (n == 1) {
            if (msg[0] == 0x04 && send_frame(fd, atr, sizeof(atr)) != 0)
                break;
        } else if (n > 1) {
            if (send_frame(fd, ok, sizeof(ok)) != 0)
                break;
        }
    }
    close(fd);
    return 0;
}
