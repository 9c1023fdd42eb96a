/* uart_card.c: the mps2-an385 (Cortex-M3) card behind a UART, for the PC/SC
 * end-to-end tests: the card runtime on the QEMU port proper
 * (card/port/qemu/, NVM in a host file through semihosting, so an image
 * outlives the QEMU process like mnap-vcard's) answers frames on UART0
 * (CMSDK APB UART at 0x40004000, QEMU's first serial port), which
 * test/arm/vcard_arm.py bridges to vpcd.
 *
 * Frame, both ways: type:1 len:2 (big-endian) payload:len check:1, where
 * check is the XOR of every byte before it.  Host to card:
 *   'I' path            open the NVM image (host file)
 *   'N' path|serial:8   create the image and fabricate (serial, the
 *                       simulator's transport key 40..4F, family 00 01, 64 KiB)
 *   'P' transport:1     power on (recovery), tell the transport; answers the ATR
 *   'O'                 power off
 *   'R'                 warm reset; answers the ATR
 *   'A' apdu            one command APDU; answers the response (empty: mute)
 * Card to host: 'K' payload (the answer), or 'X' text (an error).  A frame
 * with a bad check is answered 'X' and dropped. */
#include <stdint.h>
#include <string.h>
#include "mc.h"
#include "mq_port.h"

#define UART0 0x40004000u
#define U_DATA (*(volatile uint32_t *)(UART0 + 0x00))
#define U_STATE (*(volatile uint32_t *)(UART0 + 0x04))
#define U_CTRL (*(volatile uint32_t *)(UART0 + 0x08))
#define U_BAUDDIV (*(volatile uint32_t *)(UART0 + 0x10))

static mc_card card;
static mq_port port;
static bool powered, mute, opened;
static uint8_t io[MC_RSP_BUF_SIZE + 16];
static char path[256];

static uint8_t rx(void)
{
    while (!(U_STATE & 2u))
        ;
    return (uint8_t)U_DATA;
}

static void tx(uint8_t b)
{
    while (U_STATE & 1u)
        ;
    U_DATA = b;
}

static void send(uint8_t type, const uint8_t *p, size_t n)
{
    uint8_t ck = (uint8_t)(type ^ (n >> 8) ^ (n & 0xFF));
    tx(type);
    tx((uint8_t)(n >> 8));
    tx((uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        tx(p[i]);
        ck ^= p[i];
    }
    tx(ck);
}

static void err(const char *s)
{
    send('X', (const uint8_t *)s, strlen(s));
}

static void atr(void)
{
    uint8_t a[33];
    size_t n = mc_atr(a, sizeof(a));
    send('K', a, n);
}

int main(void)
{
    static const uint8_t key[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                     0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F };
    static const uint8_t family[2] = { 0x00, 0x01 };

    U_BAUDDIV = 16;
    U_CTRL = 3; /* TX and RX enabled */
    for (;;) {
        uint8_t type = rx(), ck;
        size_t n = (size_t)rx() << 8;
        n |= rx();
        ck = (uint8_t)(type ^ (n >> 8) ^ (n & 0xFF));
        if (n > sizeof(io)) {
            for (size_t i = 0; i <= n; i++)
                (void)rx();
            err("frame too long");
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            io[i] = rx();
            ck ^= io[i];
        }
        if (rx() != ck) {
            err("bad check byte");
            continue;
        }
        switch (type) {
        case 'I':
        case 'N': {
            size_t plen = type == 'N' ? n - 8 : n;
            if (n < (type == 'N' ? 9u : 1u) || plen >= sizeof(path)) {
                err("bad image frame");
                break;
            }
            if (opened)
                mq_port_close(&port);
            memcpy(path, io, plen);
            path[plen] = 0;
            opened = mq_port_init_host(&port, path, 65536, type == 'N') == 0;
            if (!opened) {
                err("cannot open the image");
                break;
            }
            if (type == 'N') {
                mc_status st = mc_fabricate(&card, &port, io + plen, family, key, key, key, 16);
                mc_power_off(&card);
                if (st != MC_OK) {
                    err("mc_fabricate failed");
                    break;
                }
            }
            send('K', NULL, 0);
            break;
        }
        case 'P':
            if (!opened || n != 1) {
                err("no image");
                break;
            }
            if (powered)
                mc_power_off(&card);
            (void)mc_power_on(&card, &port); /* MC_ERR_CORRUPT still answers */
            if (io[0] != MC_TRANSPORT_T1)
                mc_set_transport(&card, io[0]);
            powered = true;
            mute = false;
            atr();
            break;
        case 'O':
            if (powered)
                mc_power_off(&card);
            powered = false;
            send('K', NULL, 0);
            break;
        case 'R':
            if (powered)
                mc_reset(&card);
            atr();
            break;
        case 'A': {
            size_t r = 0;
            if (powered && !mute)
                r = mc_process(&card, io, n, io, MC_RSP_BUF_SIZE);
            if (r == 0)
                mute = true;
            send('K', io, r);
            break;
        }
        default:
            err("unknown frame");
        }
    }
}
