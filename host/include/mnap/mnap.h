/* mnap.h: libmnap, the host library of the mnap local-resident area.
 *
 * One mnap_ctx per card connection.  It is opaque and heap-allocated
 * (mnap_ctx_new / mnap_ctx_free) and holds: the transport, the card's limits
 * read from GET DATA DF20, the selected application, the SCP03 session (its
 * session keys and the static Key-DEK of the key set that opened it), the
 * last status word, and the trace settings.
 *
 * Layers, bottom up:
 *   transport  (mnap_transport.h: PC/SC, in-process)
 *   APDU       mnap_transmit / mnap_command: cases 1-4, short and extended,
 *              GET RESPONSE on 61xx, re-send on 6Cxx, multi-command reads
 *   SCP03      mnap_am_open / mnap_ap_open: mutual authentication at a level;
 *              then every command is wrapped and every response verified
 *   area API   mnap_area_*: the loading terminal (an AM session)
 *   AP API     mnap_ap_*: business systems (an AP session)
 *
 * Threads: the library has no global mutable state.  Different contexts may
 * be used from different threads at the same time; one context must not be
 * used by two threads at once (lock it yourself if you share it).  OpenSSL
 * 1.1+ / 3.x needs no locking setup.
 *
 * Errors: every call returns an mnap_err (mnap_err.h).  mnap_last_sw() gives
 * the status word of the last command that reached the card. */
#ifndef MNAP_H
#define MNAP_H

#include <stddef.h>
#include <stdint.h>
#include "mnap_err.h"
#include "mnap_transport.h"
#include "mnap_keys.h"
#include "mnap_stoplist.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MNAP_VERSION_MAJOR 1
#define MNAP_VERSION_MINOR 0
#define MNAP_VERSION_PATCH 0
#define MNAP_VERSION_STRING "1.0.0"

/* The version of the library in use (which may be newer than the header a
 * program was built with): "MAJOR.MINOR.PATCH", a constant string. */
const char *mnap_version(void);

/* The area manager's AID (PROTOCOL.md §2). */
#define MNAP_AM_AID_LEN 7
extern const uint8_t mnap_am_aid[MNAP_AM_AID_LEN];
#define MNAP_AID_MIN 5
#define MNAP_AID_MAX 16

/* Security levels (EXTERNAL AUTHENTICATE P1). */
#define MNAP_LEVEL_CMAC      0x01
#define MNAP_LEVEL_CMAC_CDEC 0x03
#define MNAP_LEVEL_CMAC_RMAC 0x11
#define MNAP_LEVEL_CDEC_RMAC 0x13
#define MNAP_LEVEL_FULL      0x33   /* C-MAC, C-DEC, R-MAC, R-ENC */

typedef struct mnap_ctx mnap_ctx;

/* --- context ---------------------------------------------------------- */
/* Creates a context on a transport (copied; the object behind it must live
 * longer than the context).  Reads MNAP_TRACE from the environment: "1" turns
 * the trace on, to stderr. */
mnap_err mnap_ctx_new(mnap_ctx **out, const mnap_transport *t);
/* Closes the session (wiping its keys) and frees the context. */
void mnap_ctx_free(mnap_ctx *ctx);
/* Status word of the last response from the card (0 if none yet). */
uint16_t mnap_last_sw(const mnap_ctx *ctx);

/* --- trace ------------------------------------------------------------ */
/* One line per APDU, without newline, e.g. "> 80 CA DF 20 00" or "< 90 00"
 * (tagged "> [plain] ..." for a session's command before wrapping).
 * PINs, keys, key-wrapping payloads (PUT KEY, LOAD AP, RESET RETRY COUNTER)
 * and file contents are replaced by "[n bytes redacted]" before the line is
 * built, in the command sent and in the response received. */
typedef void (*mnap_trace_fn)(void *user, const char *line);

#define MNAP_TRACE_ON         0x01  /* trace on */
/* Show file contents of READ/UPDATE/APPEND when no PIN is verified in the
 * session (the file can then only have the SM rule).  Off by default: the
 * library cannot see a file's rule, so by default it redacts all contents. */
#define MNAP_TRACE_FILE_DATA  0x02

/* flags 0 turns the trace off.  fn NULL writes to stderr. */
void mnap_trace_set(mnap_ctx *ctx, unsigned flags, mnap_trace_fn fn, void *user);

/* --- APDU layer ------------------------------------------------------- */
typedef struct mnap_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;          /* 0: no command data */
    size_t ne;          /* expected response bytes: 0 none, 1..65536 (256 and
                           65536 are coded as Le 00 and 0000) */
    int extended;       /* 1: code the APDU in the extended form even when a
                           short one could carry it (it is extended anyway for
                           Lc > 255 or Ne > 256).  Kept through the session: the
                           wrapped APDU stays extended and its C-MAC covers a
                           3-byte Lc (PROTOCOL.md §3).  Ignored for chained
                           LOAD AP blocks, whose C-MAC takes the shortest form. */
} mnap_apdu;

/* Sends one raw APDU (already coded) without secure messaging and collects
 * the whole response: 61xx answered with GET RESPONSE, 6Cxx re-sent with the
 * card's Le.  out gets the response data (cap bytes at most: a longer
 * response is MNAP_E_BUFFER), *sw the final status word.  Returns MNAP_OK
 * whatever the status word; transport errors otherwise.  It bypasses the
 * session: anything but a GET RESPONSE closes the open session (the card
 * ends its channel on a command without SM) and makes the library forget
 * what is selected. */
mnap_err mnap_transmit(mnap_ctx *ctx, const uint8_t *apdu, size_t len, uint8_t *out,
                       size_t cap, size_t *out_len, uint16_t *sw);
/* Codes and sends a command; through the open session (wrapped, response
 * verified) when there is one.  Returns MNAP_OK for 9000, the mapped error
 * otherwise (the data of a 62xx/63xx response is still returned).  SELECT by
 * AID and INITIALIZE UPDATE are sent plain and close the session first (the
 * card ends its channel on them anyway). */
mnap_err mnap_command(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                      size_t *out_len);

/* --- AES block ------------------------------------------------------------ */
/* One AES block, ECB without padding, key_len 16, 24 or 32, from OpenSSL: the
 * block cipher libmnap itself runs SCP03 over, in the shape of a cm_aes_fn
 * (common/cm_aes.h; ctx is not used).  0 on success, negative on a bad key
 * length or an OpenSSL failure.  For programs beside libmnap that need the
 * same block: the AP manifest compiler, tests. */
int mnap_aes_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                   const uint8_t in[16], uint8_t out[16]);

/* --- card information (GET DATA DF20) --------------------------------- */
typedef struct mnap_area_info {
    uint8_t state;             /* 01 BLANK, 0F ACTIVE, 7F LOCKED, FF TERMINATED */
    uint8_t max_aps;
    uint8_t version_major, version_minor;
    uint16_t max_response;     /* tag 87 */
    uint16_t max_command;      /* tag 88 */
    int have_am_fields;        /* 1 when read in an AM session: the fields below */
    uint32_t free_nvm;
    uint8_t ap_count;
    uint8_t serial[8];
    uint8_t div_data[MNAP_DIV_DATA_LEN];
} mnap_area_info;

#define MNAP_AREA_BLANK      0x01
#define MNAP_AREA_ACTIVE     0x0F
#define MNAP_AREA_LOCKED     0x7F
#define MNAP_AREA_TERMINATED 0xFF
#define MNAP_AP_ACTIVE       0x07
#define MNAP_AP_SUSPENDED    0x83

/* GET DATA DF20, without a session or in an AM session (an AP session gives
 * MNAP_E_STATE); also stores the card's limits in the context (used to size
 * reads, writes and LOAD AP blocks).  Without a session, selects the AM
 * first. */
mnap_err mnap_area_info_get(mnap_ctx *ctx, mnap_area_info *info);

/* --- sessions ----------------------------------------------------------- */
/* Selects the area manager and opens an SCP03 channel with ks at level.
 * ks->kvn 00 asks for the AM's current key set; a master key set is
 * diversified with the card's data first.  The card cryptogram is checked
 * before anything else is sent: MNAP_E_CARD_AUTH when it is wrong (the
 * usual result of a wrong key set).  Other refusals: MNAP_E_LEVEL (level
 * below the minimum), MNAP_E_P1P2 (level not accepted), MNAP_E_REF_NOT_FOUND
 * (unknown KVN), MNAP_E_AUTH_FAILED, MNAP_E_NOT_ACTIVE, MNAP_E_CONDITIONS (area state,
 * sequence counter exhausted). */
mnap_err mnap_am_open(mnap_ctx *ctx, const mnap_keyset *ks, uint8_t level);
/* The same on an AP: selects aid and opens a channel with the AP's key set.
 * A suspended AP or a locked area gives MNAP_E_NOT_ACTIVE. */
mnap_err mnap_ap_open(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len, const mnap_keyset *ks,
                      uint8_t level);
/* Ends the session: wipes the session keys and deselects (a SELECT of the AM
 * with P2 0C, which ends the card's channel).  Always succeeds locally; the
 * return value tells whether the card answered. */
mnap_err mnap_close(mnap_ctx *ctx);

/* Holding the card.  A session holds the card for this program alone from
 * its first SELECT to its end (over PC/SC: SCardBeginTransaction ..
 * SCardEndTransaction), and so does each operation of several commands
 * outside one: no other program's command comes between, and a concurrent
 * program (or thread with its own context) waits its turn.  Between
 * sessions the card is free; if another program reset it meanwhile, the
 * next call fails with MNAP_E_CARD_RESET (then mnap_reconnect), never with
 * a status word the reset caused.  mnap_hold_card keeps the card held across
 * several calls (raw mnap_transmit commands, or a session and what follows
 * it) until the matching mnap_release_card (MNAP_E_STATE without one).
 * Calls nest. */
mnap_err mnap_hold_card(mnap_ctx *ctx);
mnap_err mnap_release_card(mnap_ctx *ctx);
/* 1 when a session is open, with its level in *level (may be NULL). */
int mnap_session_open(const mnap_ctx *ctx, uint8_t *level);
/* The card's diversification data from the last INITIALIZE UPDATE. */
mnap_err mnap_card_div_data(const mnap_ctx *ctx, uint8_t div[MNAP_DIV_DATA_LEN]);
/* Warm-resets the card through the transport (reconnect) and forgets the
 * session and selection. */
mnap_err mnap_reconnect(mnap_ctx *ctx);

/* --- area API (AM session at level 33) -------------------------------- */
/* AREA SETUP: in a BLANK area, in a session opened with the transport key set
 * (KVN FF), installs the region key set (its KVN 01..7F; master keys are
 * diversified for this card) and moves the area to ACTIVE. */
mnap_err mnap_area_setup(mnap_ctx *ctx, const mnap_keyset *region);
/* Replaces the AM's region key set (PUT KEY old KVN -> new). */
mnap_err mnap_area_rotate_keys(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *region);

/* Progress of an AP load: bytes of the image sent so far and in total. */
typedef void (*mnap_progress_fn)(void *user, size_t done, size_t total);
typedef struct mnap_load_opts {
    size_t block_size;          /* 0: the card's max command data (DF20 88); larger
                                   blocks are sent with ISO command chaining */
    mnap_progress_fn progress;  /* may be NULL */
    void *user;
} mnap_load_opts;

/* Loads an AP image (PROTOCOL.md §6).  ap_keys NULL: the image is sent as it
 * is and must carry tag A1 wrapped with the region Key-DEK in use.  ap_keys
 * given: the library builds tag A1 from it (a master set is diversified for
 * this card), wrapped with the session's Key-DEK, replacing any A1 of the
 * image.  All or nothing: the card installs the AP only with the last block;
 * on any error the library makes the card drop a partial load (a failed
 * session is closed) and returns the error (MNAP_E_NO_SPACE, MNAP_E_EXISTS,
 * MNAP_E_WRONG_DATA, MNAP_E_CARD_REMOVED, MNAP_E_RMAC, ...). */
mnap_err mnap_area_load_ap(mnap_ctx *ctx, const uint8_t *image, size_t image_len,
                           const mnap_keyset *ap_keys, const mnap_load_opts *opts);
mnap_err mnap_area_delete_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len);

typedef struct mnap_ap_entry {
    uint8_t aid[MNAP_AID_MAX];
    uint8_t aid_len;
    uint8_t state;              /* MNAP_AP_ACTIVE / MNAP_AP_SUSPENDED */
    uint32_t nvm_used;
    uint8_t pin_tries;          /* 0: blocked */
} mnap_ap_entry;
/* GET STATUS: up to cap entries in load order; *count the number of APs on
 * the card (may exceed cap: MNAP_E_BUFFER).  No AP: MNAP_OK with *count 0. */
mnap_err mnap_area_list_aps(mnap_ctx *ctx, mnap_ap_entry *list, size_t cap, size_t *count);
mnap_err mnap_area_suspend_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len);
mnap_err mnap_area_resume_ap(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len);
/* RESET RETRY COUNTER: sets the AP's PIN to new_pin (ASCII digits) and
 * unblocks it. */
mnap_err mnap_area_unblock_pin(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len,
                               const char *new_pin, size_t pin_len);

/* Security log events (PROTOCOL.md §8). */
#define MNAP_LOG_PIN_FAIL       0x01
#define MNAP_LOG_PIN_BLOCKED    0x02
#define MNAP_LOG_PIN_RESET      0x03
#define MNAP_LOG_AUTH_FAIL      0x04
#define MNAP_LOG_AP_LOADED      0x05
#define MNAP_LOG_AP_DELETED     0x06
#define MNAP_LOG_KEY_CHANGED    0x07
#define MNAP_LOG_AREA_STATE     0x08
#define MNAP_LOG_AP_STATE       0x09
#define MNAP_LOG_TEAR_RECOVERED 0x0A
#define MNAP_LOG_NVM_CORRUPT    0x0B
typedef struct mnap_log_entry {
    uint32_t seq;
    uint8_t event;
    uint8_t aid[MNAP_AID_MAX];
    uint8_t aid_len;            /* 0 when the entry has no AID */
    uint8_t repeat;
} mnap_log_entry;
/* The security log, newest first: up to cap entries, *count of them read. */
mnap_err mnap_area_read_log(mnap_ctx *ctx, mnap_log_entry *log, size_t cap, size_t *count);
/* The name of an event ("PIN_FAIL", ...), or "UNKNOWN". */
const char *mnap_log_event_name(uint8_t event);

mnap_err mnap_area_lock(mnap_ctx *ctx);
mnap_err mnap_area_unlock(mnap_ctx *ctx);
/* Final: wipes every AP and key set; the card answers little afterwards.
 * The card ends the AM session once it has answered, and so does the
 * library (PROTOCOL.md §4). */
mnap_err mnap_area_terminate(mnap_ctx *ctx);

/* --- AP API (AP session) ------------------------------------------------ */
typedef struct mnap_pin_status {
    int verified;               /* 1: verified in this session */
    int blocked;                /* 1: 0 tries left */
    int not_set;                /* 1: the PIN was never set */
    uint8_t tries_left;         /* valid when !verified */
} mnap_pin_status;
mnap_err mnap_ap_pin_status(mnap_ctx *ctx, mnap_pin_status *st);
/* VERIFY.  MNAP_OK; MNAP_E_PIN_WRONG with *tries_left > 0; MNAP_E_PIN_BLOCKED
 * (*tries_left 0, also for the try that blocks it); MNAP_E_PIN_NOT_SET;
 * MNAP_E_PIN_POLICY (no try used).  tries_left may be NULL. */
mnap_err mnap_ap_verify_pin(mnap_ctx *ctx, const char *pin, size_t pin_len, uint8_t *tries_left);
/* CHANGE REFERENCE DATA; the same results as verify for the old PIN. */
mnap_err mnap_ap_change_pin(mnap_ctx *ctx, const char *old_pin, size_t old_len,
                            const char *new_pin, size_t new_len, uint8_t *tries_left);

typedef struct mnap_ef_info {
    uint16_t fid;
    uint8_t type;               /* 01 transparent, 02 linear fixed, 06 cyclic */
    uint16_t size;              /* transparent: size; records: length x count */
    uint8_t record_length;
    uint8_t record_count;
    uint8_t sfi;                /* 0 when none */
} mnap_ef_info;
/* SELECT EF by FID (with FCP); info may be NULL. */
mnap_err mnap_ap_select_ef(mnap_ctx *ctx, uint16_t fid, mnap_ef_info *info);
/* Reads len bytes from offset of a transparent EF (several READ BINARY when
 * longer than the card's max response); stops at the end of the file.
 * *got: bytes read. */
mnap_err mnap_ap_read_binary(mnap_ctx *ctx, uint16_t fid, size_t offset, uint8_t *buf,
                             size_t len, size_t *got);
/* Writes len bytes at offset (several UPDATE BINARY when longer than the
 * card's max command data; each command is atomic, the whole is not). */
mnap_err mnap_ap_update_binary(mnap_ctx *ctx, uint16_t fid, size_t offset, const uint8_t *data,
                               size_t len);
/* Record number rec (1-based; on a cyclic EF 1 is the newest). */
mnap_err mnap_ap_read_record(mnap_ctx *ctx, uint16_t fid, uint8_t rec, uint8_t *buf, size_t cap,
                             size_t *len);
mnap_err mnap_ap_update_record(mnap_ctx *ctx, uint16_t fid, uint8_t rec, const uint8_t *data,
                               size_t len);
mnap_err mnap_ap_append_record(mnap_ctx *ctx, uint16_t fid, const uint8_t *data, size_t len);
/* PUT KEY on the AP's own key set: old_kvn is the current KVN.  The session
 * stays open with its session keys.  Checks the KCVs the card returns. */
mnap_err mnap_ap_rotate_keys(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *new_keys);

#ifdef __cplusplus
}
#endif

#endif
