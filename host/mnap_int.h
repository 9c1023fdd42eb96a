/* mnap_int.h: what the modules of libmnap share and callers never see: the
 * context layout, the APDU and secure-messaging helpers, the trace hooks and
 * the OpenSSL block cipher. */
#ifndef MNAP_INT_H
#define MNAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mnap/mnap.h"
#include "cm_aes.h"
#include "cm_scp03.h"

/* Working buffers: the largest extended APDU (65535 data + header, Lc, Le)
 * and the largest response (65536 data + R-ENC padding + R-MAC + SW). */
#define MNAP_CMD_CAP (65535u + 4u + 3u + 3u)
#define MNAP_RSP_CAP (65536u + 16u + 8u + 2u)

/* What the trace must hide in one exchange (xchg.c works it out from the
 * instruction, whoever built the command). */
#define RED_NONE      0x00u
#define RED_CMD       0x01u  /* command data: PINs, keys, image blocks */
#define RED_FILE_CMD  0x04u  /* command data is file content */
#define RED_FILE_RSP  0x08u  /* response data is file content */

/* Until GET DATA DF20 tells otherwise: what every ISO card takes (short APDUs). */
#define MNAP_DEFAULT_MAX_DATA 255u

struct mnap_ctx {
    mnap_transport tr;
    cm_aes aes;
    uint16_t last_sw;
    /* card limits (DF20 87 / 88) */
    size_t max_rsp;
    size_t max_cmd;
    bool have_limits;
    /* selection and session */
    bool selected;                   /* an application is selected */
    bool am_selected;                /* ... and it is the AM */
    uint8_t sel_aid[MNAP_AID_MAX];
    size_t sel_aid_len;
    bool open;                       /* an SCP03 session is open */
    uint8_t level;
    cm_scp03 scp;
    uint8_t dek[MNAP_KEY_MAX];       /* static Key-DEK of the session's key set */
    uint8_t dek_len;
    uint8_t div[MNAP_DIV_DATA_LEN];
    bool have_div;
    bool pin_verified;               /* a PIN was verified in this session */
    /* holding the card (transport begin/end): from the first command until
     * no session is open and no operation runs (xchg.c) */
    bool held;
    unsigned op_depth;               /* operations running (mnap__op_begin) */
    /* trace */
    unsigned trace_flags;
    mnap_trace_fn trace_fn;
    void *trace_user;
    /* working buffers (heap: too large for a stack) */
    uint8_t *cmd;
    uint8_t *rsp;
    uint8_t *tmp;
};

/* --- OpenSSL block cipher and randomness (ossl.c) ---------------------- */
void mnap__aes_init(cm_aes *aes);
mnap_err mnap__random(uint8_t *out, size_t len);

/* --- holding the card (xchg.c) ---------------------------------------- */
/* Holds the card (transport begin) unless held already. */
mnap_err mnap__hold(mnap_ctx *ctx);
/* Releases it when no session is open and no operation runs; the selection
 * is forgotten then (another program may change it). */
void mnap__release_idle(mnap_ctx *ctx);
/* An operation of several commands outside a session (opening one,
 * GET DATA after a SELECT): the card stays held until its end. */
void mnap__op_begin(mnap_ctx *ctx);
void mnap__op_end(mnap_ctx *ctx);

/* --- APDU coding (apdu.c) --------------------------------------------- */
/* A command with this header and nothing else (no data, no Le). */
void mnap__apdu_init(mnap_apdu *a, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2);
/* Codes a; returns the length, or 0 when it does not fit or is invalid. */
size_t mnap__apdu_encode(const mnap_apdu *a, uint8_t *out, size_t cap);
/* Parses a coded APDU back (data points into buf).  0 or -1. */
int mnap__apdu_parse(const uint8_t *buf, size_t len, mnap_apdu *a);
/* How many bytes of a coded APDU go out over T=0: a case-4 command loses its
 * Le, the other cases go whole.  0 for an extended or malformed APDU. */
size_t mnap__apdu_t0_len(const uint8_t *buf, size_t len);

/* --- transport limits (xchg.c) ---------------------------------------- */
/* The transport is T=0 now (PROTOCOL.md §10): short APDUs only. */
bool mnap__t0(const mnap_ctx *ctx);
/* The most plain command data one APDU carries now: the card's 88, and
 * over T=0 what keeps the (wrapped) Lc within 255: 255 without a session,
 * 247 with C-MAC, 239 with C-DECRYPTION (padding to 16, MAC 8). */
size_t mnap__cmd_room(const mnap_ctx *ctx);
/* The most response data to ask for in one read: the card's 87, and at most
 * 256 over T=0. */
size_t mnap__rsp_room(const mnap_ctx *ctx);

/* --- exchanges (xchg.c) ------------------------------------------------ */
/* One command through the transport with GET RESPONSE / 6Cxx handling; the
 * response data goes to out (cap), *sw the final SW.  Traced, redacted by
 * the instruction. */
mnap_err mnap__exchange(mnap_ctx *ctx, const uint8_t *cmd, size_t len, uint8_t *out, size_t cap,
                        size_t *out_len, uint16_t *sw);
/* A command through the session when open (wrap, send, verify R-MAC,
 * decrypt), otherwise plain.  Returns transport/SM errors; the status word
 * goes to *sw whatever it is, data to out.  Over T=0, Ne above 256 is sent
 * as Le 00 (objects longer than that come by 61xx all the same), and a
 * command whose Lc would need the extended form is MNAP_E_PARAM, before
 * anything is sent or the MAC chain moves. */
mnap_err mnap__send(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                    size_t *out_len, uint16_t *sw);
/* mnap__send for a command longer than one APDU: wrapped whole, then cut
 * into ISO chaining segments of at most seg data bytes (LOAD AP only). */
mnap_err mnap__send_chained(mnap_ctx *ctx, const mnap_apdu *a, size_t seg, uint8_t *out,
                            size_t cap, size_t *out_len, uint16_t *sw);
/* mnap__send, then 9000 -> MNAP_OK, else the generic mapping. */
mnap_err mnap__send_ok(mnap_ctx *ctx, const mnap_apdu *a, uint8_t *out, size_t cap,
                       size_t *out_len);
/* Forgets the session (wipes keys) without talking to the card. */
void mnap__session_drop(mnap_ctx *ctx);
/* The library no longer knows what the card has selected. */
void mnap__forget_selection(mnap_ctx *ctx);
/* The SELECT by AID the session code and close use. */
mnap_err mnap__select_aid(mnap_ctx *ctx, const uint8_t *aid, size_t aid_len);
/* Requires an open session on the AM (am != 0) or an AP. */
mnap_err mnap__need_session(const mnap_ctx *ctx, int am);

/* Reads GET DATA DF20 once per context to learn the card's limits (area.c). */
mnap_err mnap__read_limits(mnap_ctx *ctx);

/* --- trace (trace.c) -------------------------------------------------- */
bool mnap__trace_on(const mnap_ctx *ctx);
/* Traces bytes with direction '>' or '<' and an optional tag ("SM", "plain");
 * data_off/data_len delimit the part to redact when redact is true. */
void mnap__trace_apdu(mnap_ctx *ctx, char dir, const char *tag, const uint8_t *buf, size_t len,
                      size_t data_off, size_t data_len, bool redact);
void mnap__trace_text(mnap_ctx *ctx, const char *text);
/* Where the data field of a coded command lies (for redaction). */
void mnap__cmd_data_span(const uint8_t *cmd, size_t len, size_t *off, size_t *dlen);

/* --- keys (keys.c) ---------------------------------------------------- */
/* The card's static keys for ks: a copy, or the diversification of a master
 * set with div. */
mnap_err mnap__static_keys(const mnap_keyset *ks, const uint8_t *div, mnap_keyset *out);
/* Key set data of PROTOCOL.md §3: new-KVN then three 88-blocks, keys wrapped
 * with dek.  Also returns the three KCVs (9 bytes) when kcv is not NULL. */
mnap_err mnap__keyset_data(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                           const mnap_keyset *keys, uint8_t *out, size_t cap, size_t *out_len,
                           uint8_t kcv[9]);
/* PUT KEY in the open session: old_kvn, the new key set (already static). */
mnap_err mnap__put_key(mnap_ctx *ctx, uint8_t old_kvn, const mnap_keyset *keys);
/* The public key-replacing calls (area setup, AM and AP rotation): checks the
 * new KVN (01..7F), needs an AM (am != 0) or AP session, diversifies master
 * keys for this card, then PUT KEY. */
mnap_err mnap__replace_keys(mnap_ctx *ctx, int am, uint8_t old_kvn, const mnap_keyset *keys);

/* --- key store (keystore.c) ------------------------------------------ */
/* 1 when name is a key set name: 1 to MNAP_KS_NAME_MAX printable ASCII
 * bytes, no space (the file store and the PKCS#11 token alike). */
int mnap__ks_name_ok(const char *name);
/* Tests only: fn runs after the temp file is written and synced and before
 * it is renamed over the target (to simulate a crash at that point). */
void mnap__keystore_set_save_hook(mnap_keystore *ks, void (*fn)(void *arg), void *arg);


/* --- PKCS#11 key source (p11.c) --------------------------------------- */
typedef struct mnap_p11 mnap_p11;
typedef struct mnap_p11_cer mnap_p11_cer;
/* Loads the module, finds the token the URI names, logs in with the PIN. */
mnap_err mnap__p11_open(mnap_p11 **out, const char *uri, const char *pin, size_t pin_len);
void mnap__p11_close(mnap_p11 *t);
size_t mnap__p11_count(const mnap_p11 *t);
const char *mnap__p11_name(const mnap_p11 *t, size_t i);
const char *mnap__p11_method(const mnap_p11 *t);
/* Master sets come back with obj[] set (the caller sets src). */
mnap_err mnap__p11_get(mnap_p11 *t, const char *name, mnap_keyset *out);
mnap_err mnap__p11_put(mnap_p11 *t, const char *name, const mnap_keyset *set);
mnap_err mnap__p11_generate(mnap_p11 *t, const char *name, uint8_t kvn, size_t key_len);
mnap_err mnap__p11_remove(mnap_p11 *t, const char *name);
/* Ed25519 in OpenSSL with a raw 32-byte private key (stoplist.c). */
mnap_err mnap__ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t len, uint8_t sig[64]);
/* Ed25519 key pairs "NAME/ed25519" (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA). */
int mnap__p11_has_eddsa(const mnap_p11 *t);
mnap_err mnap__p11_ed_generate(mnap_p11 *t, const char *name);
mnap_err mnap__p11_ed_public(mnap_p11 *t, const char *name, uint8_t pub[32]);
mnap_err mnap__p11_ed_sign(mnap_p11 *t, const char *name, const uint8_t *msg, size_t len, uint8_t sig[64]);
mnap_err mnap__p11_kcv(mnap_p11 *t, const mnap_keyset *ks, uint8_t kcv[3][3]);
mnap_err mnap__p11_diversify(mnap_p11 *t, const mnap_keyset *master, const uint8_t *div,
                             mnap_keyset *out);
int mnap__p11_xor_in_token(const mnap_p11 *t);
/* 1 when the token derives with CKM_SP800_108_COUNTER_KDF (KCVs in the token). */
int mnap__p11_has_kdf(const mnap_p11 *t);
/* KCVs of a card's keys derived by the KDF mechanism inside the token, and
 * (mac != NULL, tests) a CMAC of msg under each; nothing leaves the token. */
mnap_err mnap__p11_kdf_check(mnap_p11 *t, const mnap_keyset *master, const uint8_t *div,
                             uint8_t kcv[3][3], const uint8_t *msg, size_t msg_len,
                             uint8_t mac[3][16]);
/* The token of a key set got from a token store, or NULL. */
mnap_p11 *mnap__keyset_token(const mnap_keyset *ks);
mnap_err mnap__p11_cer_begin(mnap_p11 *t, size_t key_len, mnap_p11_cer **out);
int mnap__p11_cer_in_token(const mnap_p11_cer *c);
mnap_err mnap__p11_cer_add(mnap_p11_cer *c, const mnap_keyset *part);
mnap_err mnap__p11_cer_finish(mnap_p11_cer *c, const char *name, uint8_t kvn);
void mnap__p11_cer_free(mnap_p11_cer *c);
/* The token operations behind a master set got from a token store (keys.c). */
mnap_err mnap__keystore_diversify(const mnap_keyset *master, const uint8_t *div, mnap_keyset *out);
mnap_err mnap__keystore_kcv(const mnap_keyset *ks, uint8_t kcv[3][3]);

#endif
