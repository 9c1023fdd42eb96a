/* vc_link.h: the TCP link from mnap-vcard to the vsmartcard vpcd driver.
 *
 * The virtual card is the TCP client; vpcd (inside pcscd) listens on one port
 * per reader slot.  Every message in both directions is a 2-byte big-endian
 * length followed by that many bytes.  vpcd sends 1-byte control messages
 * (VC_VPCD_*) and APDUs (anything longer); the card answers get-ATR with the
 * ATR and an APDU with its response, and nothing else.
 *
 * Waiting is done with ppoll and the signal mask of vc_sig.h, so a signal
 * ends a wait but never the middle of a frame. */
#ifndef VC_LINK_H
#define VC_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

enum {
    VC_VPCD_POWER_OFF = 0x00,
    VC_VPCD_POWER_ON = 0x01,
    VC_VPCD_RESET = 0x02,
    VC_VPCD_GET_ATR = 0x04
};

#define VC_FRAME_MAX 0xFFFFu

enum {
    VC_LINK_CLOSED = -1,   /* vpcd closed the connection or it broke */
    VC_LINK_SIGNAL = -2,   /* a signal arrived before any byte: check vc_sig_take */
    VC_LINK_TIMEOUT = -3   /* nothing arrived within the timeout */
};

typedef struct vc_link {
    int fd;                    /* -1 when not connected */
    struct sockaddr_in addr;
    char name[32];             /* "127.0.0.1:35963", for messages */
} vc_link;

/* Parses "IPv4:PORT" (numeric only) into link, not connected.  0, or -1 with
 * a message in err. */
int vc_link_init(vc_link *link, const char *hostport, char *err, size_t err_cap);
/* One connection attempt.  0 connected, -1 with errno set. */
int vc_link_connect(vc_link *link);
void vc_link_close(vc_link *link);
/* Receives one frame into buf (cap >= VC_FRAME_MAX).  Returns its length
 * (0 for an empty frame) or a VC_LINK_* code.  timeout_ms < 0 waits for ever.
 * Once the first byte is in, the rest of the frame must follow within a few
 * seconds, signals notwithstanding, or the link is declared broken. */
int vc_link_recv(vc_link *link, uint8_t *buf, size_t cap, int timeout_ms);
/* Sends one frame (len <= VC_FRAME_MAX).  0, or VC_LINK_CLOSED. */
int vc_link_send(vc_link *link, const uint8_t *buf, size_t len);
/* Sleeps up to timeout_ms (< 0: for ever); returns early on a signal. */
void vc_wait(int timeout_ms);

#endif
