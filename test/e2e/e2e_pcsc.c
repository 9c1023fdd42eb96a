/* e2e_pcsc: a raw pcsc-lite client for the end-to-end harness.
 *
 * It uses nothing of mnap, only PC/SC, so the harness can wait for readers and
 * cards and send plain APDUs even when the host library is broken:
 *
 *   e2e_pcsc list                          reader names, one a line
 *   e2e_pcsc wait READER present|absent MS exit 0 when the slot is in that
 *                                          state within MS milliseconds
 *   e2e_pcsc atr READER                    the card's ATR, "3B 88 .."
 *   e2e_pcsc proto READER                  the protocol SCardConnect made
 *                                          active (T=0 or T=1 offered): "T=0"
 *   e2e_pcsc apdu READER HEX...            sends each APDU in one connection
 *                                          (T=1 or T=0, as negotiated; the
 *                                          bytes go as given), prints each
 *                                          response in hex;
 *                                          the words RESET and UNPOWER instead
 *                                          of an APDU reset or power-cycle the
 *                                          card (SCardReconnect)
 *
 * Exit status: 0 done, 1 condition not met (timeout), 2 PC/SC error (the
 * message names the SCARD_ code), 64 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#define EXIT_NOTMET 1
#define EXIT_PCSC 2
#define EXIT_USAGE 64

static int pcsc_fail(const char *what, LONG rv)
{
    fprintf(stderr, "e2e_pcsc: %s: %s (0x%08lX)\n", what, pcsc_stringify_error(rv),
            (unsigned long)rv);
    return EXIT_PCSC;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int cmd_list(SCARDCONTEXT ctx)
{
    char buf[4096];
    DWORD len = sizeof buf;
    LONG rv = SCardListReaders(ctx, NULL, buf, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) {
        return 0;
    }
    if (rv != SCARD_S_SUCCESS) {
        return pcsc_fail("SCardListReaders", rv);
    }
    for (const char *p = buf; *p != '\0'; p += strlen(p) + 1) {
        printf("%s\n", p);
    }
    return 0;
}

static int cmd_wait(SCARDCONTEXT ctx, const char *reader, const char *want, long timeout_ms)
{
    int want_present;
    if (strcmp(want, "present") == 0) {
        want_present = 1;
    } else if (strcmp(want, "absent") == 0) {
        want_present = 0;
    } else {
        fprintf(stderr, "e2e_pcsc: wait: expected present or absent, not '%s'\n", want);
        return EXIT_USAGE;
    }
    long deadline = now_ms() + timeout_ms;
    SCARD_READERSTATE rs;
    memset(&rs, 0, sizeof rs);
    rs.szReader = reader;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    for (;;) {
        long left = deadline - now_ms();
        if (left < 0) {
            left = 0;
        }
        LONG rv = SCardGetStatusChange(ctx, (DWORD)left, &rs, 1);
        if (rv == SCARD_E_TIMEOUT) {
            fprintf(stderr, "e2e_pcsc: %s: card not %s after %ld ms\n", reader, want, timeout_ms);
            return EXIT_NOTMET;
        }
        if (rv == SCARD_E_UNKNOWN_READER) {
            /* the reader may not be registered yet right after pcscd starts */
            if (now_ms() >= deadline) {
                fprintf(stderr, "e2e_pcsc: %s: unknown reader after %ld ms\n", reader, timeout_ms);
                return EXIT_NOTMET;
            }
            struct timespec ts = { 0, 50 * 1000000L };
            nanosleep(&ts, NULL);
            rs.dwCurrentState = SCARD_STATE_UNAWARE;
            continue;
        }
        if (rv != SCARD_S_SUCCESS) {
            return pcsc_fail("SCardGetStatusChange", rv);
        }
        DWORD st = rs.dwEventState;
        int present = (st & SCARD_STATE_PRESENT) != 0 && (st & SCARD_STATE_MUTE) == 0;
        if (present == want_present) {
            return 0;
        }
        rs.dwCurrentState = st & ~(DWORD)SCARD_STATE_CHANGED;
    }
}

static int connect_card(SCARDCONTEXT ctx, const char *reader, SCARDHANDLE *h, DWORD *proto)
{
    LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           h, proto);
    if (rv != SCARD_S_SUCCESS) {
        return pcsc_fail("SCardConnect", rv);
    }
    return 0;
}

static int cmd_proto(SCARDCONTEXT ctx, const char *reader)
{
    SCARDHANDLE h;
    DWORD proto;
    int r = connect_card(ctx, reader, &h, &proto);
    if (r != 0) {
        return r;
    }
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    printf("%s\n", proto == SCARD_PROTOCOL_T0 ? "T=0" : proto == SCARD_PROTOCOL_T1 ? "T=1" : "?");
    return 0;
}

static void print_hex(const BYTE *b, DWORD n)
{
    for (DWORD i = 0; i < n; i++) {
        printf(i == 0 ? "%02X" : " %02X", b[i]);
    }
    printf("\n");
}

static int cmd_atr(SCARDCONTEXT ctx, const char *reader)
{
    SCARDHANDLE h;
    DWORD proto;
    BYTE atr[MAX_ATR_SIZE];
    DWORD atr_len = sizeof atr;
    DWORD state;
    DWORD rlen = 0;
    int r = connect_card(ctx, reader, &h, &proto);
    if (r != 0) {
        return r;
    }
    LONG rv = SCardStatus(h, NULL, &rlen, &state, &proto, atr, &atr_len);
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    if (rv != SCARD_S_SUCCESS) {
        return pcsc_fail("SCardStatus", rv);
    }
    print_hex(atr, atr_len);
    return 0;
}

static int parse_hex(const char *s, BYTE *out, size_t cap, size_t *len)
{
    size_t n = 0;
    int hi = -1;
    for (; *s != '\0'; s++) {
        int v;
        if (*s == ' ' || *s == ':') {
            continue;
        }
        if (*s >= '0' && *s <= '9') {
            v = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            v = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'F') {
            v = *s - 'A' + 10;
        } else {
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap) {
                return -1;
            }
            out[n++] = (BYTE)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        return -1;
    }
    *len = n;
    return 0;
}

static int cmd_apdu(SCARDCONTEXT ctx, const char *reader, int n, char **hex)
{
    static BYTE cmd[65544];
    static BYTE rsp[65538];
    SCARDHANDLE h;
    DWORD proto;
    int r = connect_card(ctx, reader, &h, &proto);
    if (r != 0) {
        return r;
    }
    for (int i = 0; i < n; i++) {
        size_t len;
        DWORD rlen = sizeof rsp;
        if (strcmp(hex[i], "RESET") == 0 || strcmp(hex[i], "UNPOWER") == 0) {
            /* warm reset, or power off and on, through the reader */
            DWORD how = hex[i][0] == 'R' ? SCARD_RESET_CARD : SCARD_UNPOWER_CARD;
            LONG rv = SCardReconnect(h, SCARD_SHARE_SHARED,
                                     SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, how, &proto);
            if (rv != SCARD_S_SUCCESS) {
                SCardDisconnect(h, SCARD_LEAVE_CARD);
                return pcsc_fail("SCardReconnect", rv);
            }
            printf("%s\n", hex[i]);
            continue;
        }
        if (parse_hex(hex[i], cmd, sizeof cmd, &len) != 0 || len < 4) {
            fprintf(stderr, "e2e_pcsc: bad APDU '%s'\n", hex[i]);
            SCardDisconnect(h, SCARD_LEAVE_CARD);
            return EXIT_USAGE;
        }
        LONG rv = SCardTransmit(h, proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1, cmd,
                                (DWORD)len, NULL, rsp, &rlen);
        if (rv != SCARD_S_SUCCESS) {
            SCardDisconnect(h, SCARD_LEAVE_CARD);
            return pcsc_fail("SCardTransmit", rv);
        }
        print_hex(rsp, rlen);
    }
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: e2e_pcsc list\n"
            "       e2e_pcsc wait READER present|absent TIMEOUT_MS\n"
            "       e2e_pcsc atr READER\n"
            "       e2e_pcsc proto READER\n"
            "       e2e_pcsc apdu READER HEX|RESET|UNPOWER...\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    SCARDCONTEXT ctx;
    int r;

    if (argc < 2) {
        return usage();
    }
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS) {
        return pcsc_fail("SCardEstablishContext", rv);
    }
    if (strcmp(argv[1], "list") == 0 && argc == 2) {
        r = cmd_list(ctx);
    } else if (strcmp(argv[1], "wait") == 0 && argc == 5) {
        r = cmd_wait(ctx, argv[2], argv[3], strtol(argv[4], NULL, 10));
    } else if (strcmp(argv[1], "proto") == 0 && argc == 3) {
        r = cmd_proto(ctx, argv[2]);
    } else if (strcmp(argv[1], "atr") == 0 && argc == 3) {
        r = cmd_atr(ctx, argv[2]);
    } else if (strcmp(argv[1], "apdu") == 0 && argc >= 4) {
        r = cmd_apdu(ctx, argv[2], argc - 3, argv + 3);
    } else {
        r = usage();
    }
    SCardReleaseContext(ctx);
    return r;
}
