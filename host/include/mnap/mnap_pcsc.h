/* mnap_pcsc.h: the PC/SC transport of libmnap (pcsc-lite, or any PC/SC).
 *
 * One mnap_pcsc is one PC/SC context plus at most one connected card.  It
 * connects T=1 or T=0, whichever the card offers (T=1 preferred).  Over T=0
 * it sends case-4 commands without Le and lets the APDU layer fetch the data
 * with GET RESPONSE; extended APDUs need T=1.
 *
 * A reset of the card by another application (SCARD_W_RESET_CARD), its
 * removal (SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD) and a vanished pcscd
 * (SCARD_E_NO_SERVICE) are reported as MNAP_E_CARD_RESET,
 * MNAP_E_CARD_REMOVED and MNAP_E_NO_SERVICE; mnap_pcsc_reconnect() then
 * resets and reconnects.  After a reset the card has no secure channel:
 * open the session again.  A session, and each operation of several
 * commands, runs inside a PC/SC transaction (mnap_hold_card, mnap.h), so
 * another program's commands and resets wait until it ends; another
 * program's exclusive connection gives MNAP_E_CARD_BUSY.
 *
 * Threads: one mnap_pcsc per thread or per card; objects are independent
 * (each has its own SCARDCONTEXT). */
#ifndef MNAP_PCSC_H
#define MNAP_PCSC_H

#include <stddef.h>
#include <stdint.h>
#include "mnap_err.h"
#include "mnap_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mnap_pcsc mnap_pcsc;

/* Establishes a PC/SC context.  MNAP_E_NO_SERVICE when pcscd is not running. */
mnap_err mnap_pcsc_new(mnap_pcsc **out);
/* Disconnects (leaving the card powered) and releases the context. */
void mnap_pcsc_free(mnap_pcsc *p);

/* Lists the reader names: calls fn once per reader, in PC/SC order, and sets
 * *count (either may be NULL).  No reader at all: MNAP_OK with *count 0. */
mnap_err mnap_pcsc_list_readers(mnap_pcsc *p, void (*fn)(void *user, const char *reader),
                                void *user, size_t *count);

/* Waits until a card is present in reader (NULL: in any reader known when
 * the wait starts).  timeout_ms 0 checks once; MNAP_E_TIMEOUT when no card
 * came in time, MNAP_E_NO_READER when the named reader (or every reader) is
 * not there. */
mnap_err mnap_pcsc_wait_card(mnap_pcsc *p, const char *reader, unsigned timeout_ms);

/* Connects (shared mode) to the card in reader (NULL: the first reader, in
 * PC/SC order, with a card; MNAP_E_NO_CARD when no reader has one).
 * Disconnects a previous card first. */
mnap_err mnap_pcsc_connect(mnap_pcsc *p, const char *reader);
/* Exclusive mode for the next connect / reconnect: no other program may
 * even connect to the card while this one is connected (SCARD_SHARE_EXCLUSIVE;
 * a kiosk that owns its reader).  Off by default: shared mode, with the card
 * held only during sessions and operations (mnap_hold_card, mnap.h).  A
 * connect while another program has the card exclusively fails with
 * MNAP_E_CARD_BUSY. */
mnap_err mnap_pcsc_set_exclusive(mnap_pcsc *p, int exclusive);
/* Resets the card and reconnects (SCardReconnect, SCARD_RESET_CARD). */
mnap_err mnap_pcsc_reconnect(mnap_pcsc *p);
void mnap_pcsc_disconnect(mnap_pcsc *p);

/* The active protocol: 0 (T=0), 1 (T=1), or -1 when not connected. */
int mnap_pcsc_protocol(const mnap_pcsc *p);
/* The name of the connected reader, or NULL. */
const char *mnap_pcsc_reader(const mnap_pcsc *p);

/* The transport for mnap_ctx_new (mnap.h). */
mnap_transport mnap_pcsc_transport(mnap_pcsc *p);

#ifdef __cplusplus
}
#endif

#endif
