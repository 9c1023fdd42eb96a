/* e2e_vpcd: a stand-in for the vpcd driver, to test mnap-vcard's side of the
 * vpcd protocol directly, without pcscd.
 *
 *   e2e_vpcd PORT ATRHEX
 *
 * Listens on 127.0.0.1:PORT, waits (10 s at most) for mnap-vcard to connect,
 * and drives it through the cases pcscd never produces on its own: an
 * unknown control byte and an empty frame (ignored, no answer, link alive), an
 * APDU to an unpowered card (answered), power off/on and reset clearing a
 * pending INITIALIZE UPDATE, an oversized APDU (answered with an error status,
 * link alive), and finally a closed connection, after which mnap-vcard must
 * connect again by itself.  Prints one line per check; exit 0 when all pass,
 * 1 at the first failure, 64 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 5000

static int g_fd = -1;

static int fail(const char *what)
{
    fprintf(stderr, "e2e_vpcd: FAIL: %s\n", what);
    return 1;
}

static int wait_in(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    int r;
    do {
        r = poll(&p, 1, ms);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int accept_card(int lfd, int ms)
{
    if (wait_in(lfd, ms) <= 0) {
        return -1;
    }
    return accept(lfd, NULL, NULL);
}

static int send_frame(const uint8_t *b, size_t n)
{
    uint8_t buf[2 + 65535];
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    if (n > 0) {
        memcpy(buf + 2, b, n);
    }
    size_t off = 0;
    while (off < n + 2) {
        ssize_t w = send(g_fd, buf + off, n + 2 - off, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

static int recv_all(uint8_t *b, size_t n, int ms)
{
    size_t got = 0;
    while (got < n) {
        if (wait_in(g_fd, ms) <= 0) {
            return -1;
        }
        ssize_t r = recv(g_fd, b + got, n - got, 0);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* One response frame; its length, or -1 on timeout or a closed link. */
static int recv_frame(uint8_t *b, size_t cap, int ms)
{
    uint8_t h[2];
    if (recv_all(h, 2, ms) != 0) {
        return -1;
    }
    size_t n = (size_t)h[0] << 8 | h[1];
    if (n > cap || recv_all(b, n, ms) != 0) {
        return -1;
    }
    return (int)n;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] != '\0' && s[1] != '\0' && n < cap) {
        if (s[0] == ' ') {
            s++;
            continue;
        }
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) {
            return 0;
        }
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Sends an APDU (hex) and checks the status word of the answer. */
static int apdu_sw(const char *hex, unsigned want_sw, const char *what)
{
    uint8_t cmd[600], rsp[4096];
    size_t n = unhex(hex, cmd, sizeof cmd);
    if (send_frame(cmd, n) != 0) {
        return fail(what);
    }
    int r = recv_frame(rsp, sizeof rsp, TIMEOUT_MS);
    if (r < 2) {
        return fail(what);
    }
    unsigned sw = (unsigned)rsp[r - 2] << 8 | rsp[r - 1];
    if (sw != want_sw) {
        fprintf(stderr, "e2e_vpcd: %s: SW %04X, want %04X\n", what, sw, want_sw);
        return 1;
    }
    printf("ok %s\n", what);
    return 0;
}

static int control(uint8_t c)
{
    return send_frame(&c, 1);
}

/* Nothing may come back within ms: the message was not answered. */
static int expect_silence(int ms, const char *what)
{
    int r = wait_in(g_fd, ms);
    if (r != 0) {
        return fail(what);
    }
    printf("ok %s\n", what);
    return 0;
}

#define AM "00 A4 04 0C 07 F0 4D 4E 41 50 41 4D"
#define IU "80 50 FF 00 08 01 02 03 04 05 06 07 08 00"
#define EA "84 82 33 00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"

static int pending_iu_cleared_by(uint8_t ctl1, int ctl2, const char *what)
{
    if (apdu_sw(AM, 0x9000, "SELECT AM") || apdu_sw(IU, 0x9000, "INITIALIZE UPDATE")) {
        return 1;
    }
    if (control(ctl1) != 0 || (ctl2 >= 0 && control((uint8_t)ctl2) != 0)) {
        return fail(what);
    }
    if (apdu_sw(AM, 0x9000, "SELECT AM again")) {
        return 1;
    }
    return apdu_sw(EA, 0x6985, what);
}

int main(int argc, char **argv)
{
    uint8_t atr[64], want_atr[64], rsp[4096];
    if (argc != 3) {
        fprintf(stderr, "usage: e2e_vpcd PORT ATRHEX\n");
        return 64;
    }
    size_t want_atr_len = unhex(argv[2], want_atr, sizeof want_atr);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0) {
        perror("e2e_vpcd: listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    g_fd = accept_card(lfd, 10000);
    if (g_fd < 0) {
        return fail("mnap-vcard did not connect within 10 s");
    }
    printf("ok connected\n");

    /* get ATR, several times, as pcscd's presence polling does */
    for (int i = 0; i < 3; i++) {
        if (control(0x04) != 0) {
            return fail("send get-ATR");
        }
        int n = recv_frame(atr, sizeof atr, TIMEOUT_MS);
        if (n < 0 || (size_t)n != want_atr_len || memcmp(atr, want_atr, want_atr_len) != 0) {
            return fail("ATR differs from --print-atr");
        }
    }
    printf("ok ATR\n");
    /* unknown control byte and an empty frame: ignored, no answer */
    if (control(0x03) != 0 || send_frame(NULL, 0) != 0) {
        return fail("send odd messages");
    }
    if (expect_silence(300, "unknown control byte and empty frame not answered")) {
        return 1;
    }
    /* an APDU to an unpowered card: served (powered on first) */
    if (apdu_sw(AM, 0x9000, "APDU before power-on answered")) {
        return 1;
    }
    /* the link is still alive after all that */
    if (control(0x01) != 0) {
        return fail("power on");
    }
    if (expect_silence(200, "power on not answered")) {
        return 1;
    }
    /* control: a pending INITIALIZE UPDATE makes a bad EXTERNAL AUTHENTICATE 6300 */
    if (apdu_sw(AM, 0x9000, "SELECT AM") || apdu_sw(IU, 0x9000, "INITIALIZE UPDATE") ||
        apdu_sw(EA, 0x6300, "EXTERNAL AUTHENTICATE with IU pending")) {
        return 1;
    }
    if (pending_iu_cleared_by(0x02, -1, "reset clears a pending IU") ||
        pending_iu_cleared_by(0x00, 0x01, "power off/on clears a pending IU")) {
        return 1;
    }
    /* an APDU longer than the card's buffer: an error status, link alive */
    {
        static uint8_t big[9000];
        big[0] = 0x80;
        big[1] = 0xE8;
        big[2] = 0x00;
        big[3] = 0x00;
        big[4] = 0x00;
        big[5] = (uint8_t)((sizeof big - 7) >> 8);
        big[6] = (uint8_t)(sizeof big - 7);
        if (send_frame(big, sizeof big) != 0) {
            return fail("send oversized APDU");
        }
        int n = recv_frame(rsp, sizeof rsp, TIMEOUT_MS);
        if (n != 2 || (rsp[0] == 0x90 && rsp[1] == 0x00)) {
            return fail("oversized APDU: want a 2-byte error status");
        }
        printf("ok oversized APDU answered %02X%02X\n", rsp[0], rsp[1]);
        if (apdu_sw(AM, 0x9000, "link alive after the oversized APDU")) {
            return 1;
        }
    }
    /* vpcd goes away: mnap-vcard must come back by itself */
    close(g_fd);
    g_fd = accept_card(lfd, 5000);
    if (g_fd < 0) {
        return fail("mnap-vcard did not reconnect within 5 s");
    }
    printf("ok reconnected\n");
    if (control(0x04) != 0 || recv_frame(atr, sizeof atr, TIMEOUT_MS) != (int)want_atr_len) {
        return fail("ATR after reconnect");
    }
    printf("ok ATR after reconnect\n");
    close(g_fd);
    close(lfd);
    return 0;
}
