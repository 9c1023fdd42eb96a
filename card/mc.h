/* mc.h: the entry points of the mnap card runtime.
 *
 * A caller (card firmware, the simulator, a test) owns one mc_card per card;
 * everything the runtime keeps in RAM lives there.  Sequence of use:
 *
 *   mc_fabricate(card, port, ...)    once in the card's life: formats NVM
 *   mc_power_on(card, port)          every power-up: recovery, clears RAM state
 *   mc_process(card, cmd, rsp, ...)  one APDU in, one response out
 *   mc_reset(card)                   warm reset: clears RAM security state
 *   mc_power_off(card)               wipes RAM state
 *
 * PROTOCOL.md is the normative description of what mc_process answers. */
#ifndef MC_H
#define MC_H

#include <stddef.h>
#include <stdint.h>
#include "mc_types.h"
#include "mc_card.h"

/* Formats the NVM of a new card: blank area (state 01), the transport key set
 * KVN FF (enc, mac, dek of key_len bytes each, stored as given), serial and
 * diversification data serial || family.  Leaves the card powered on. */
mc_status mc_fabricate(mc_card *card, void *port, const uint8_t serial[MC_SERIAL_LEN],
                       const uint8_t family[2], const uint8_t *enc, const uint8_t *mac,
                       const uint8_t *dek, size_t key_len);

/* Power-up: binds the port context, runs start-up recovery (finishes or
 * discards an interrupted transaction), clears all RAM state.  MC_ERR_CORRUPT
 * still leaves a card that answers (6581 to most commands). */
mc_status mc_power_on(mc_card *card, void *port);

/* Warm reset: clears RAM security state (selection, channel, PIN, chaining,
 * pending responses) like a power cycle, without recovery. */
void mc_reset(mc_card *card);

/* Wipes all RAM state, then calls mc_port_power_off. */
void mc_power_off(mc_card *card);

/* Processes one command APDU (cases 1-4, short or extended).  Writes the
 * response (data || SW1 SW2) to rsp (at least MC_RSP_BUF_SIZE bytes are
 * always enough) and returns its length, or 0 when the card went mute: an NVM
 * write failed (power cut); the caller must power the card off and on. */
size_t mc_process(mc_card *card, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap);

/* The transport the card is reached by (PROTOCOL.md §10), told by the port
 * or host: contact T=1 (the default), contact T=0, contactless (ISO/IEC
 * 14443-4).  T=0 carries short APDUs only: an extended APDU is answered 6700
 * as it arrives (a framing error: before secure messaging), and a command with data (case 3, or case 4 whether or not its Le came on
 * the wire: T=0 leaves it out, and then Ne is 256) whose response has data
 * is answered 61xx, the response (R-MAC included) then coming by GET
 * RESPONSE.  Contactless behaves as T=1.  mc_fabricate and mc_power_off
 * (which wipes all RAM state) leave T=1; mc_reset keeps the transport; a
 * port that is not T=1 sets it after every mc_power_on.  Other values are
 * ignored. */
#define MC_TRANSPORT_T1 0
#define MC_TRANSPORT_T0 1
#define MC_TRANSPORT_CL 2
void mc_set_transport(mc_card *card, uint8_t transport);

/* The ATR: direct convention, T=1, historical bytes containing "MNAP". */
size_t mc_atr(uint8_t *out, size_t cap);

#endif
