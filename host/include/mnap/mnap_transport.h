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
} mnap_transport;

#ifdef __cplusplus
}
#endif

#endif
