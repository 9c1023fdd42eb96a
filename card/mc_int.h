/* mc_int.h: what the modules of the command interpreter share and nobody
 * else needs: the logical layout of the store's data space (records with
 * checksums), the command context handed to each command, and the helpers
 * every command uses.  PROTOCOL.md is the contract; docs/protocol.md says
 * where this implementation chose where PROTOCOL.md is silent. */
#ifndef MC_INT_H
#define MC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "mc.h"
#include "store.h"
#include "cm_aes.h"
#include "cm_err.h"
#include "mc_sw.h"
#include "port.h"

/* --- constants ------------------------------------------------------------ */
#define MC_MAX_APS        16
#define MC_MAX_EFS        32
#define MC_LOG_ENTRIES    32
#define MC_LOG_SLOTS      (MC_LOG_ENTRIES + 1)   /* one spare (mc_log.c) */
#define MC_IMAGE_MAX      32768u
#define MC_VERSION_MAJOR  1
#define MC_VERSION_MINOR  0
#define MC_AM_AID_LEN     7
extern const uint8_t mc_am_aid[MC_AM_AID_LEN];

#define MC_CH_NONE    0
#define MC_CH_PENDING 1
#define MC_CH_OPEN    2

/* Area states (GlobalPlatform life-cycle codes). */
#define MC_AREA_BLANK      0x01
#define MC_AREA_ACTIVE     0x0F
#define MC_AREA_LOCKED     0x7F
#define MC_AREA_TERMINATED 0xFF
/* AP states. */
#define MC_AP_ACTIVE    0x07
#define MC_AP_SUSPENDED 0x83

/* EF types and access rules (AP image, §6). */
#define MC_EF_TRANSPARENT 0x01
#define MC_EF_LINEAR      0x02
#define MC_EF_CYCLIC      0x06
#define MC_RULE_SM    0x00
#define MC_RULE_PIN   0x01
#define MC_RULE_NEVER 0xFF

/* Security log events (§8). */
#define MC_EV_PIN_FAIL       0x01
#define MC_EV_PIN_BLOCKED    0x02
#define MC_EV_PIN_RESET      0x03
#define MC_EV_AUTH_FAIL      0x04
#define MC_EV_AP_LOADED      0x05
#define MC_EV_AP_DELETED     0x06
#define MC_EV_KEY_CHANGED    0x07
#define MC_EV_AREA_STATE     0x08
#define MC_EV_AP_STATE       0x09
#define MC_EV_TEAR_RECOVERED 0x0A
#define MC_EV_NVM_CORRUPT    0x0B

/* --- NVM records ------------------------------------------------------------
 * Every record is a struct of bytes only (no padding, same layout on every
 * compiler), multi-byte numbers big-endian, closed by a magic byte and a
 * CRC-16 over everything before it.  A record whose check fails is corrupt:
 * the card answers 6581 and never uses it. */
#define MC_MAGIC_AREA  0xA1
#define MC_MAGIC_WIPE  0xA2
/* 0xA3: the log entries of format version 2 (now CRC-32 slots, mc_log.c) */
#define MC_MAGIC_SLOT  0xA4   /* slot in use */
#define MC_MAGIC_FREE  0xA5   /* slot free */
#define MC_MAGIC_EF    0xA6

typedef struct mc_keyrec {
    uint8_t kvn;
    uint8_t key_len;
    uint8_t enc[32];
    uint8_t mac[32];
    uint8_t dek[32];
    /* Sequence counter base: the global high-water mark when this key set was
     * created.  The effective counter is max(store counter, base), so a new
     * key set starts at the high-water mark in the same transaction that
     * installs it (§3), with no separate counter write that a cut could
     * separate from it. */
    uint8_t seq_base[3];
} mc_keyrec;

typedef struct mc_area_rec {
    uint8_t state;
    uint8_t serial[MC_SERIAL_LEN];
    uint8_t div[MC_DIV_DATA_LEN];
    mc_keyrec am;
    uint8_t magic;
    uint8_t crc[2];
} mc_area_rec;

/* Freed space that still has to be wiped (DELETE, TERMINATE, a loaded
 * image's staging copy); recovery finishes the wipe after a cut. */
typedef struct mc_wipe_rec {
    uint8_t off[4];
    uint8_t len[4];
    uint8_t magic;
    uint8_t crc[2];
} mc_wipe_rec;

/* A slot of the security log (mc_log.c): no magic, a CRC-32; a slot whose
 * check fails is empty. */
typedef struct mc_log_rec {
    uint8_t seq[4];          /* 1, 2, ...: given out consecutively */
    uint8_t event;
    uint8_t repeat;
    uint8_t aid_len;
    uint8_t aid[16];
    uint8_t crc[4];          /* CRC-32 of the 23 bytes before it */
} mc_log_rec;

typedef struct mc_slot_rec {
    uint8_t state;
    uint8_t aid_len;
    uint8_t aid[16];
    uint8_t min_level;
    uint8_t pin_max_tries;
    uint8_t pin_min;
    uint8_t pin_max;
    uint8_t pin_len;         /* 0: PIN never set */
    uint8_t pin[12];
    uint8_t pin_tries;       /* 0: BLOCKED.  In NVM: the PIN counter's value
                              * mod 4 when no try was spent (mc_layout.c);
                              * mc_slot_read/write convert. */
    uint8_t ef_count;
    uint8_t load_seq[4];     /* load order */
    uint8_t region_off[4];   /* EF data then EF table */
    uint8_t region_len[4];
    mc_keyrec keys;
    uint8_t magic;
    uint8_t crc[2];
} mc_slot_rec;

/* One EF of an AP; the EF table (ef_count of them) ends the region. */
typedef struct mc_ef_rec {
    uint8_t fid[2];
    uint8_t sfi;             /* 0: none */
    uint8_t type;
    uint8_t rec_len;
    uint8_t rec_count;       /* capacity */
    uint8_t read_rule;
    uint8_t write_rule;
    uint8_t size[2];         /* transparent size, or rec_len * rec_count */
    uint8_t data_off[4];     /* from the start of the region */
    uint8_t used;            /* 0: records commit themselves (docs/nvm.md) */
    uint8_t newest;          /* 0: likewise */
    uint8_t magic;
    uint8_t crc[2];
} mc_ef_rec;

_Static_assert(sizeof(mc_slot_rec) <= MC_SCRATCH_SIZE, "slot record larger than mc_card.scratch");
_Static_assert(sizeof(mc_area_rec) <= MC_SCRATCH_SIZE, "area record larger than mc_card.scratch");
/* The scratch slot record: only for leaf scans that never nest. */
#define MC_SCRATCH_SLOT(card) ((mc_slot_rec *)(void *)(card)->scratch)

/* Keeps a helper's locals out of its caller's frame (stack budget). */
#if defined(__GNUC__) || defined(__clang__)
#define MC_NOINLINE __attribute__((noinline))
#else
#define MC_NOINLINE
#endif
/* A record in card->buf or card->scratch addressed from its own pointer p
 * (cm_err.h). */
#define MC_OPAQUE(p) CM_OPAQUE(p)
/* A static helper with one caller that GCC's -Os keeps out of line: one
 * body, no call (make size; its locals then share the caller's frame). */
#define MC_ALWAYS_INLINE CM_ALWAYS_INLINE

/* Data-space layout: the security log's slots first, one per page of the
 * store (ST_PAGE, docs/nvm.md: a log slot is written alone, outside any
 * transaction, so a page-erasing part's torn page must hold nothing else),
 * then the fixed records, then the heap of AP regions. */
#define MC_LOG_STRIDE MC_STORE_PAGE
#define MC_OFF_LOG   0u
#define MC_OFF_AREA  (MC_OFF_LOG + MC_LOG_SLOTS * MC_LOG_STRIDE)
/* The wipe record on a page of its own: LOAD AP writes it directly (its
 * mark, mc_load.c), and a page-erasing part's torn page must spoil nothing
 * else (the area record before it). */
#define MC_OFF_WIPE  ((MC_OFF_AREA + (uint32_t)sizeof(mc_area_rec) + MC_STORE_PAGE - 1u) & \
                      ~(MC_STORE_PAGE - 1u))
/* on a page of their own: TERMINATE wipes from here on, directly */
#define MC_OFF_SLOTS ((MC_OFF_WIPE + (uint32_t)sizeof(mc_wipe_rec) + MC_STORE_PAGE - 1u) & \
                      ~(MC_STORE_PAGE - 1u))
/* The heap starts on a page, and every region (and a LOAD AP's staged
 * image) starts on one (mc_heap_run): a torn page of one never spoils
 * another, nor the AP slots. */
#define MC_OFF_HEAP  ((MC_OFF_SLOTS + MC_MAX_APS * (uint32_t)sizeof(mc_slot_rec) + MC_STORE_PAGE - 1u) & \
                      ~(MC_STORE_PAGE - 1u))
_Static_assert(sizeof(mc_log_rec) <= MC_LOG_STRIDE, "log slot larger than its page");

/* --- byte helpers --------------------------------------------------------- */
void mc_put16(uint8_t *p, uint32_t v);
void mc_put24(uint8_t *p, uint32_t v);
void mc_put32(uint8_t *p, uint32_t v);
uint32_t mc_get16(const uint8_t *p);
uint32_t mc_get24(const uint8_t *p);
uint32_t mc_get32(const uint8_t *p);


/* Record EFs (mc_file.c): the visible state of a record EF whose slots start
 * at base; want: a record number (0: none).  found / spare are slot numbers,
 * rec_count + 1 when there is none (spare: damage). */
typedef struct mc_rec_view {
    uint32_t top;       /* highest valid sequence number (0: none) */
    unsigned used;      /* records present */
    unsigned found;     /* slot of record want */
    unsigned spare;     /* slot the next write goes to */
} mc_rec_view;
#define MC_REC_OVH 8u   /* sequence number 3, record number 1, CRC-32 4 */
/* A record slot's stride: its record and overhead rounded up to whole pages
 * of the store (MC_STORE_PAGE).  A record EF's slots start on a page
 * (mc_install.c), so each slot owns its pages: a page-erasing part's torn
 * slot write spoils only the spare being written (docs/nvm.md, "Pages"). */
#define MC_REC_STRIDE(rec_len) \
    (((uint32_t)(rec_len) + MC_REC_OVH + MC_STORE_PAGE - 1u) & ~(MC_STORE_PAGE - 1u))
mc_status mc_rec_scan(mc_card *card, const mc_ef_rec *e, uint32_t base, unsigned want,
                      mc_rec_view *v);


/* The AES block function of the port as a cm_aes. */
void mc_aes(mc_card *card, cm_aes *aes);

/* --- layout (mc_layout.c) ----------------------------------------------------
 * Readers check the record and return MC_ERR_CORRUPT (and mark the card
 * corrupt) when it fails.  Writers seal the record (magic, CRC) and write it
 * inside the open transaction. */
mc_status mc_area_read(mc_card *card, mc_area_rec *a);
mc_status mc_area_write(mc_card *card, mc_area_rec *a);
/* The wipe record (off, len), in the open transaction; direct: written
 * directly and flushed, LOAD AP's mark ((0, 0) clears it). */
mc_status mc_wipe_write(mc_card *card, uint32_t off, uint32_t len, bool direct);
/* *used is false for a free slot. */
mc_status mc_slot_read(mc_card *card, unsigned slot, mc_slot_rec *s, bool *used);
mc_status mc_slot_write(mc_card *card, unsigned slot, mc_slot_rec *s);
mc_status mc_slot_free(mc_card *card, unsigned slot);
/* One transaction: an AP's changed slot record and the log entry of the
 * change (SET STATUS, RESET RETRY COUNTER, PUT KEY; event 0: none, CHANGE
 * REFERENCE DATA).  Returns the SW. */
mc_sw mc_slot_commit(mc_card *card, unsigned slot, mc_slot_rec *s, uint8_t event);
mc_status mc_ef_read(mc_card *card, const mc_slot_rec *s, unsigned idx, mc_ef_rec *e);
/* The AP's EF by FID (fid not NULL) or SFI, made current; 6A82 if none (mc_file.c). */
mc_sw mc_ef_find(mc_card *card, const mc_slot_rec *s, const uint8_t *fid, unsigned sfi,
                 mc_ef_rec *e);
void mc_seal(void *rec, size_t size, uint8_t magic);
bool mc_check(const void *rec, size_t size, uint8_t magic);

/* Space: the free run (of heap that no AP region holds) that starts lowest
 * at or above from, as far as it goes (*run_len 0: none). */
mc_status mc_heap_run(mc_card *card, uint32_t from, uint32_t *run_off, uint32_t *run_len);
/* Finds the slot holding aid (exact match): *slot or MC_MAX_APS.  With
 * skip_corrupt (SELECT, which a corrupt card still answers, §8) a corrupt
 * slot is passed over, never used; only an NVM failure stops the search. */
mc_status mc_find_aid(mc_card *card, const uint8_t *aid, size_t aid_len, unsigned *slot,
                      mc_slot_rec *s, bool skip_corrupt);
/* Global high-water mark of the sequence counters (counters and key-set
 * bases), and the effective counter of application slot idx (0 AM, 1+n AP). */
mc_status mc_seq_hwm(mc_card *card, uint32_t *hwm);
mc_status mc_seq_get(mc_card *card, unsigned idx, const mc_keyrec *k, uint32_t *value);
/* Sets [off, off+len) to FF (mc_store_fill_lazy: only the 64-byte pieces that
 * are not FF already are written), then clears the wipe mark in its own
 * transaction. */
mc_status mc_wipe_now(mc_card *card, uint32_t off, uint32_t len);

/* Seals a record and writes it directly (fabrication). */
mc_status mc_rec_direct(mc_card *card, uint32_t off, void *rec, size_t size, uint8_t magic);

/* --- gate (mc_gate.c): the checks of §9 between a command's own length
 * check and its own checks: 6581 › area state 6985 › selection 6986 ›
 * channel 6982 › AP state 6A81.  Each command's flags are in its row of the
 * command table (mc_apdu.c), handed over as c->gate; a handler adds or drops
 * only what depends on P1/P2 or Lc. */
#define MC_G_AM      0x01   /* an AM instruction (area-state rules, AM selected) */
#define MC_G_AP      0x02   /* an AP instruction (an AP selected) */
#define MC_G_CHAN    0x04   /* needs the channel of the selected application */
#define MC_G_BLANK   0x08   /* AM instruction allowed in BLANK */
#define MC_G_LOCKED  0x10   /* AM instruction allowed in LOCKED */
#define MC_G_APSTATE 0x20   /* AP instruction refused (6A81) when suspended or area locked */
#define MC_G_SELECT  0x40   /* a SELECT: a corrupt card still answers it (§8), only
                             * corrupt records it reads give 6581 */
#define MC_G_NOEF    0x80   /* a file command without SFI: no current EF is a
                             * selection error (6986, before the channel) */
/* With both MC_G_AM and MC_G_AP the instruction goes to the selected
 * application; without MC_G_AM it is an AP instruction (every row of the
 * command table that reaches mc_gate names MC_G_AM, MC_G_AP or both, and no
 * handler changes those two bits).  On 9000, *area holds the area record and, when an AP is
 * selected, *slot its slot record; either may be NULL when not needed. */
mc_sw mc_gate(mc_card *card, unsigned flags, mc_area_rec *area, mc_slot_rec *slot);
/* Is the selection an AP slot? */
#define MC_SEL_IS_AP(sel) ((sel) < MC_MAX_APS)

/* --- log (mc_log.c) ------------------------------------------------------- */
/* seq 0: the newest entry (its seq 0: an empty log), checking the whole log:
 * MC_ERR_CORRUPT (and the card marked) when a visible entry is missing or
 * no spare slot is left, damage that no torn write leaves.  seq != 0: the
 * entry with that sequence number (its seq 0: none), without that check.
 * Readers list the log as seq 0, then top - 1, top - 2, ... (at most 32). */
mc_status mc_log_read(mc_card *card, uint32_t seq, mc_log_rec *e);
/* Adds (or merges, §8) an event (MC_EV_*, never 0) inside the open transaction. */
mc_status mc_log_add(mc_card *card, unsigned event, const uint8_t *aid, size_t aid_len);
/* Adds (or merges) an event outside any transaction: one write of one slot,
 * then a flush (a wrong VERIFY's second write). */
mc_status mc_log_event(mc_card *card, uint8_t event, const uint8_t *aid, size_t aid_len);

/* --- command context ------------------------------------------------------ */
typedef struct mc_cmd {
    union {
        struct {
            uint8_t cla, ins, p1, p2;
        };
        uint8_t hdr[4];    /* the same four bytes, as the header the C-MAC covers */
    };
    uint8_t *data;         /* card->buf, always (mc_process): the unwrapped command
                            * data, then the response being built */
    size_t lc;             /* its length */
    bool has_data;         /* Lc present */
    bool has_le;
    uint32_t ne;           /* expected response length (0..65536) */
    bool sm;               /* the command came wrapped in the channel */
    bool ext;              /* it came as an extended APDU with data (C-MAC Lc, §3) */
    bool too_long;         /* data longer than the card takes (6700 at the length
                            * step); lc is then 0, has_data true */
    bool staged;           /* LOAD AP: the plain block is already in NVM */
    bool end_chan;         /* the channel ends once the answer is protected */
    uint8_t pol;           /* the row's secure-messaging policy (MC_SM_*) */
    uint8_t gate;          /* the row's MC_G_* flags for mc_gate */
    /* response being built in card->buf */
    size_t rlen;
    const void *row;       /* its row in the command table (mc_apdu.c), NULL: none */
} mc_cmd;

/* Status words (mc_sw.h): a command returns its SW code; MC_SW_MUTE means
 * the NVM failed (power cut) and the card must answer nothing; mc_sw_of maps
 * a store/layout status to its code. */
/* Overwrites the stack below the caller (MC_STACK_SCRUB bytes, mc_apdu.c):
 * after a command and after power-on, no copy of a key set or PIN that a
 * callee held in a local stays. */
void mc_scrub_stack(void);

/* Channel helpers. */
void mc_chan_close(mc_card *card);
/* Is the channel open, and bound to sel? */
static inline bool mc_chan_on(const mc_card *card, uint8_t sel)
{
    return card->chan == MC_CH_OPEN && card->chan_sel == sel;
}

/* --- commands (each returns the SW) --------------------------------------- */
mc_sw mc_cmd_select(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_get_data(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_init_update(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_ext_auth(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_put_key(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_get_status(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_delete(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_set_status(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_reset_retry(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_load(mc_card *card, mc_cmd *c);
mc_sw mc_cmd_pin(mc_card *card, mc_cmd *c);      /* VERIFY, CHANGE REFERENCE DATA */
mc_sw mc_cmd_file(mc_card *card, mc_cmd *c);

/* LOAD AP (mc_load.c): the load in progress is dropped (its staged bytes
 * wiped) by any other command. */
void mc_load_drop(mc_card *card);
/* Stages one raw segment of a chained LOAD AP block (no checks yet). */
mc_sw mc_load_stage_segment(mc_card *card, const uint8_t *data, size_t len);
/* Last segment: checks and unwraps the staged block (C-MAC streamed from NVM)
 * and hands its plain bytes to the image parser; *plain_len is their number.
 * Returns 0x9000 or the SM status word. */
mc_sw mc_load_unwrap_chain(mc_card *card, size_t *plain_len);
/* Writes the wipe record (the load's mark) directly and flushes: (0, 0)
 * clears it (mc_wipe_write, mc_layout.c). */
#define mc_load_mark(card, off, len) mc_wipe_write((card), (off), (len), true)
/* Power-on: finishes a wipe that a cut interrupted (free space only). */
mc_status mc_load_recover(mc_card *card, bool *recovered);
/* The image parser (mc_install.c), from a wiped card->ld: the image's next
 * plain bytes (the EF contents go to the region, the rest to card->ld);
 * where the region laid out so far ends (from load_off). */
mc_status mc_ld_feed(mc_card *card, const uint8_t *d, size_t len);
uint32_t mc_ld_end(mc_card *card);
/* The last LOAD AP block is in (mc_install.c): checks the parsed AP image
 * and installs it (PROTOCOL.md §6).  0x9000, the image's refusal (6A80,
 * 6A89, 6A84), 6581 or MC_SW_MUTE when the NVM failed. */
mc_sw mc_install(mc_card *card);

/* Key set data (§3), shared by PUT KEY and AP images: parses and unwraps with
 * the channel's Key-DEK, checks the KCVs.  0x9000 or 6A80. */
mc_sw mc_parse_keyset(mc_card *card, const uint8_t *data, size_t len, mc_keyrec *k,
                      uint8_t kcv_out[9]);
/* A security level the card takes (§3): C-MAC, with C-DECRYPTION, R-MAC
 * or both (01, 03, 11, 13: C-MAC and no bit but those two), or all four
 * (33). */
static inline bool mc_level_valid(uint8_t level)
{
    return level == 0x33 || (level & ~0x12u) == 0x01;
}
/* PIN policy (§5): length within [min, max] and ASCII digits only. */
bool mc_pin_fits(const mc_slot_rec *s, const uint8_t *pin, size_t len);
/* Sets the slot's PIN (zero padded) and its length (RESET RETRY COUNTER,
 * CHANGE REFERENCE DATA). */
void mc_pin_set(mc_slot_rec *s, const uint8_t *pin, size_t len);
/* The counted comparison of a presented PIN with the stored one (both at most
 * 12 bytes), in constant time; checked by make ctcheck (test/ct/ct_card.c). */
bool mc_pin_equal(const uint8_t stored[12], size_t stored_len, const uint8_t *pin, size_t len);

#endif
