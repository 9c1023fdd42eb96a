/* mnap_transport.h: the one interface every card transport of libmnap fills.
 *
 * A transport moves one command APDU to the card and one response (data ||
 * SW1 SW2) back.  It knows nothing of GET RESPONSE, chaining or secure
 * messaging: the APDU layer above does that.  Two transports come with the
 * library: PC/SC (mnap_pcsc.h) and the in-process simulated card
 * (inproc/mnap_inproc.h, test and tool builds).  A caller may write its own (the
 * tests wrap one to inject faults).
 *
 * The struct is a small value: the context copies it.  The object behind
 * `self` belongs to whoever created it and must outlive every context using
 * it.  A transport is used by one context at a time. */
#ifndef MNAP_TRANSPORT_H
#define MNAP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "mnap_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a transport's protocol() reports (PROTOCOL.md §10). */
#define MNAP_PROTO_T0 0   /* contact T=0: short APDUs only */
#define MNAP_PROTO_T1 1   /* contact T=1, or contactless: short and extended APDUs */

/* Zero the struct before filling it (members added later stay NULL). */
typedef struct mnap_transport {
    void *self;
    /* Sends cmd (cmd_len bytes) and writes the response, status word last, to
     * rsp (rsp_cap bytes); *rsp_len >= 2 on success.  Errors: MNAP_E_CARD_RESET,
     * MNAP_E_CARD_REMOVED, MNAP_E_CARD_MUTE, MNAP_E_NO_SERVICE, MNAP_E_NOT_CONNECTED,
     * MNAP_E_BUFFER, MNAP_E_TRANSPORT. */
    mnap_err (*transmit)(void *self, const uint8_t *cmd, size_t cmd_len,
                         uint8_t *rsp, size_t rsp_cap, size_t *rsp_len);
    /* Resets the card and reconnects to it (after MNAP_E_CARD_RESET, or on
     * request).  May be NULL when the transport cannot. */
    mnap_err (*reconnect)(void *self);
    /* Copies the ATR to out and sets *len.  May be NULL. */
    mnap_err (*atr)(void *self, uint8_t *out, size_t cap, size_t *len);
    /* The protocol in use now: MNAP_PROTO_T0 or MNAP_PROTO_T1 (asked before
     * every command, so a reconnect may change it).  Over T=0 the library
     * sends short APDUs only: reads of at most 256 bytes, GET RESPONSE for
     * long answers, ISO chaining for LOAD AP blocks; and the transport
     * itself leaves the Le of a case-4 command out (ISO/IEC 7816-3 12.2).
     * May be NULL: T=1. */
    int (*protocol)(void *self);
    /* Holds the card for this program alone until end (PC/SC:
     * SCardBeginTransaction), so no other program's command comes between
     * the commands of a session or of a multi-command operation.  Errors:
     * MNAP_E_CARD_RESET (another program reset the card since the last
     * command: any session is gone), MNAP_E_CARD_REMOVED, MNAP_E_CARD_BUSY,
     * MNAP_E_NO_SERVICE.  May be NULL (a transport only this program uses). */
    mnap_err (*begin)(void *self);
    /* Releases what begin held (SCardEndTransaction, leaving the card as it
     * is).  May be NULL when begin is. */
    void (*end)(void *self);
} mnap_transport;

#ifdef __cplusplus
}
#endif

#endif
