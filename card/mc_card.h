/* mc_card.h: the caller-owned RAM state of one card.
 *
 * Callers only allocate it (statically in a firmware, one per simulated card
 * on a host) and pass it to the mc_* entry points; its fields belong to the
 * runtime.  Everything the runtime keeps in RAM is here: there is no static
 * mutable data anywhere in card/.  The one large member is the shared APDU
 * buffer: a command's data is unwrapped in it, its response is built and
 * wrapped in it, and a response waiting for GET RESPONSE stays in it. */
#ifndef MC_CARD_H
#define MC_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mc_types.h"
#include "cm_scp03.h"

/* Declared before store.h so its prototypes name this same struct. */
struct mc_card;
#include "store.h"

/* Shared buffer: the largest wrapped command data or response (plain data,
 * padding up to 16 bytes, MAC 8 bytes). */
#define MC_BUF_SIZE (MC_MAX_COMMAND_DATA + 16 + 8)
#define MC_SCRATCH_SIZE 160
/* LOAD AP's parser (mc_card.ld): at most 32 EFs (PROTOCOL.md §6) of an
 * mc_ef_rec each, one mc_slot_rec, and the largest small value of a valid
 * image (a key set of AES-256 keys: 118 bytes); mc_install.c checks them. */
#define MC_LD_EFS  32
#define MC_LD_EF   19
#define MC_LD_SLOT 153
#define MC_LD_VAL  120

/* Selection values (mc_card.sel): none, the area manager, or AP slot n as
 * MC_SEL_AP0 + n. */
#define MC_SEL_NONE 0xFF
#define MC_SEL_AM   0xFE
#define MC_SEL_AP0  0x00

/* LOAD AP's image parser state (mc_install.c). */
typedef struct mc_ld {
    uint8_t err;         /* 0, or the refusal found so far (mc_install.c) */
    uint8_t hn;          /* TLV header bytes held in hdr */
    uint8_t hdr[4];
    uint8_t tag;         /* the TLV being read (0: a header is next) */
    uint8_t fi;          /* its place among the EF template's tags */
    uint8_t vn;          /* small value bytes held in val */
    uint8_t ef_n;        /* EFs complete */
    uint8_t tpl;         /* the template being read: none, A0, A3 */
    uint32_t seen;       /* tags seen: the image's, the current template's */
    uint32_t left;       /* value bytes left of the current TLV */
    uint32_t tleft;      /* bytes left of the current EF template (inside one only) */
    uint32_t data;       /* region offset of the current EF's data */
    uint16_t clen[MC_LD_EFS + 1];   /* initial content bytes of each EF (0 for the next) */
    uint8_t val[MC_LD_VAL];     /* a small value (AID, PIN policy, key set, EF field) */
    uint8_t slot[MC_LD_SLOT];   /* the slot record being built (mc_slot_rec) */
    uint8_t efs[MC_LD_EFS * MC_LD_EF];   /* the EF table being built (mc_ef_rec) */
} mc_ld;

typedef struct mc_card {
    void *port;          /* the port's own context, handed back by the port functions */

    /* The scalars first, the arrays after them: Thumb loads and stores a
     * byte field only within 31 bytes of the pointer (a halfword 62, a word
     * 124) in one instruction; a field further out costs two more at every
     * use (make size). */

    /* --- life ------------------------------------------------------------ */
    bool powered;        /* mc_power_on or mc_fabricate succeeded */
    bool corrupt;        /* corrupt metadata seen: 6581 to all but SELECT, GET DATA DF20 */
    bool muted;          /* an NVM write failed: the card stays mute until power-on */
    uint8_t transport;   /* MC_TRANSPORT_* (mc.h), set by the port; kept by mc_reset */

    /* --- selection and firewall ------------------------------------------ */
    uint8_t sel;         /* MC_SEL_* */
    uint8_t ef;          /* index of the current EF in the selected AP, 0xFF none */
    bool pin_ok;         /* PIN verified in the current channel */

    /* --- secure channel (its keys and challenges below) -------------------- */
    uint8_t chan;        /* MC_CH_NONE / MC_CH_PENDING / MC_CH_OPEN (mc_int.h) */
    uint8_t chan_sel;    /* application the channel (or initiation) is bound to (F2) */
    uint8_t chan_min;    /* that application's minimum level */

    /* --- GET STATUS continuation ------------------------------------------ */
    uint8_t gs_next;     /* rank (load order) of the next AP to report, 0xFF none */

    /* --- LOAD AP in progress (mc_load.c, mc_install.c) ------------------
     * The image is parsed as it streams in: EF contents go straight to their
     * place in the new AP's region at the start of the staging gap; the rest
     * of the image (AID, PIN policy, keys, EF templates) is kept here, never
     * in NVM, until the commit (docs/nvm.md, "LOAD AP written once"). */
    bool load_active;
    bool load_marked;        /* the staging gap is marked for wiping in NVM */

    /* --- ISO chaining of a LOAD AP block (raw segments staged in NVM) ----- */
    bool chain_active;
    bool chain_discard;      /* the chain cannot be a valid LOAD AP: count, do not stage */
    uint8_t chain_hdr[4];    /* CLA (chaining bit cleared) INS P1 P2 of the chain */

    /* --- response waiting for GET RESPONSE (in buf) ------------------------ */
    uint16_t rsp_off;
    uint16_t rsp_len;    /* 0: nothing pending */
    uint16_t rsp_sw;     /* status word that ends the last part */

    uint16_t load_next;      /* LOAD AP: expected block number */
    uint32_t load_off;       /* LOAD AP: the staging gap (the region's place) in the data space */
    uint32_t load_len;       /* LOAD AP: plain image bytes received so far */
    uint32_t load_cap;       /* LOAD AP: room of the staging gap */
    uint32_t chain_at;       /* chaining: where its raw segments are staged, from load_off */
    uint32_t chain_len;      /* chaining: raw bytes staged */
    uint32_t chain_rd;       /* chaining, while it is parsed: its unread bytes [chain_rd, chain_end) */
    uint32_t chain_end;

    /* --- secure channel: challenges and keys ------------------------------- */
    uint8_t host_chal[8];
    uint8_t card_chal[8];
    uint8_t chan_dek[32];   /* static Key-DEK of the channel's key set (PUT KEY, images) */
    cm_scp03 scp;

    mc_store store;      /* the transactional NVM store (card/store.c); after the
                          * interpreter's fields, which Thumb reaches with
                          * shorter offsets */

    /* One slot record's worth of scratch for the helpers that scan the AP
     * slots (kept here rather than on the stack: stack budget < 1 KiB). */
    uint8_t scratch[MC_SCRATCH_SIZE];

    uint8_t buf[MC_BUF_SIZE];

    /* The AP image being parsed (mc_install.c), last: the fields above keep
     * their short Thumb offsets. */
    mc_ld ld;
} mc_card;

#endif
