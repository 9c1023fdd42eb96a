/* cm_scp03.h: GlobalPlatform SCP03 (Card Specification 2.3.1 Amendment D,
 * S8 mode), the one implementation that both the card runtime and the host
 * library call.
 *
 * What lives here: session key derivation, the card and host cryptograms, the
 * pseudo-random card challenge, the C-MAC chain, command wrapping (C-MAC and
 * C-DECRYPTION with the counter ICV) and unwrapping, response wrapping
 * (R-ENCRYPTION, R-MAC) and unwrapping, and key wrapping with Key-DEK plus the
 * key check value.  What does not: transport, APDU parsing beyond what the
 * MAC needs, and any policy (which levels an application accepts).
 *
 * State is a caller-owned cm_scp03 per open channel.  Wipe it with
 * cm_scp03_close when the channel ends. */
#ifndef CM_SCP03_H
#define CM_SCP03_H

#include "cm_aes.h"
#include "cm_cmac.h"

/* Security level bits (EXTERNAL AUTHENTICATE P1). */
#define CM_SL_CMAC  0x01
#define CM_SL_CDEC  0x02
#define CM_SL_RMAC  0x10
#define CM_SL_RENC  0x20

/* Derivation constants (Amendment D table 4-1) and PROTOCOL.md §7. */
#define CM_DC_CARD_CRYPTOGRAM 0x00
#define CM_DC_HOST_CRYPTOGRAM 0x01
#define CM_DC_CARD_CHALLENGE  0x02
#define CM_DC_S_ENC           0x04
#define CM_DC_S_MAC           0x06
#define CM_DC_S_RMAC          0x07
#define CM_DC_DIV_ENC         0x11
#define CM_DC_DIV_MAC         0x12
#define CM_DC_DIV_DEK         0x13

#define CM_SCP03_MAX_KEY 32
#define CM_SCP03_MAC_LEN 8

/* A static key set: three keys of one length. */
typedef struct cm_keyset {
    uint8_t enc[CM_SCP03_MAX_KEY];
    uint8_t mac[CM_SCP03_MAX_KEY];
    uint8_t dek[CM_SCP03_MAX_KEY];
    uint8_t key_len;      /* 16, 24 or 32 */
    uint8_t kvn;
} cm_keyset;

/* One open secure channel. */
typedef struct cm_scp03 {
    cm_aes aes;
    uint8_t key_len;
    uint8_t level;                      /* CM_SL_* bits in force */
    uint8_t s_enc[CM_SCP03_MAX_KEY];
    uint8_t s_mac[CM_SCP03_MAX_KEY];
    uint8_t s_rmac[CM_SCP03_MAX_KEY];
    uint8_t mac_chain[16];              /* full CMAC of the last command */
    uint32_t counter;                   /* encryption counter of the current command */
} cm_scp03;

/* Derives S-ENC, S-MAC and S-RMAC from the static keys and both challenges;
 * sets the MAC chain to zero, the counter to 0 and the level to 0. */
int cm_scp03_init(cm_scp03 *s, const cm_aes *aes, const uint8_t *k_enc, const uint8_t *k_mac,
                  size_t key_len, const uint8_t host_challenge[8], const uint8_t card_challenge[8]);

/* Card cryptogram (constant 00) or host cryptogram (constant 01) under S-MAC. */
int cm_scp03_cryptogram(const cm_scp03 *s, uint8_t constant, const uint8_t host_challenge[8],
                        const uint8_t card_challenge[8], uint8_t out[8]);

/* Verifies a received cryptogram (card cryptogram on the host, host
 * cryptogram on the card) in constant time: CM_OK or CM_E_MAC. */
int cm_scp03_check_cryptogram(const cm_scp03 *s, uint8_t constant, const uint8_t host_challenge[8],
                              const uint8_t card_challenge[8], const uint8_t received[8]);

/* Pseudo-random card challenge: KDF(K-ENC, 02, seq counter || AID, 64 bits). */
int cm_scp03_card_challenge(const cm_aes *aes, const uint8_t *k_enc, size_t key_len,
                            const uint8_t seq[3], const uint8_t *aid, size_t aid_len,
                            uint8_t out[8]);

/* Per-card static key: KDF(master, constant 11/12/13, diversification data,
 * key_len*8 bits) as PROTOCOL.md §7. */
int cm_scp03_diversify(const cm_aes *aes, const uint8_t *master, size_t key_len, uint8_t constant,
                       const uint8_t *div_data, size_t div_len, uint8_t *out);

/* --- C-MAC -----------------------------------------------------------------
 * The C-MAC input is  mac_chain || CLA INS P1 P2 || Lc || data,  where CLA has
 * bit 04 set, Lc counts the data plus the 8 MAC bytes, and data is the
 * command data as sent (already encrypted when C-DECRYPTION is on).  Lc is
 * coded as the APDU that carries the MAC codes it (PROTOCOL.md §3): with
 * ext_lc 0 (a short APDU, or a chained command, which has no single coding
 * on the wire) in the shortest form, 1 byte up to 255, else 00 hi lo; with
 * ext_lc 1 (an extended APDU: extended Lc or extended Le, ISO 7816-4) always
 * 00 hi lo.  The streaming form serves a card that MACs data it staged in
 * NVM. */
int cm_scp03_cmac_begin(const cm_scp03 *s, cm_cmac_ctx *ctx, const uint8_t hdr[4], size_t data_len,
                        int ext_lc);
/* Finishes: the new 16-byte chain value goes to chain_out (the caller decides
 * whether to adopt it), the 8-byte C-MAC to mac. */
int cm_scp03_cmac_end(cm_cmac_ctx *ctx, uint8_t chain_out[16], uint8_t mac[8]);
/* Card side: finishes the C-MAC of a received command and compares it with
 * the received 8 bytes in constant time; on a match the MAC chain advances
 * (cm_scp03_accept_command).  CM_OK, CM_E_MAC, or the CMAC's error.  The one
 * check behind every command the card verifies, whole or streamed. */
int cm_scp03_cmac_verify(cm_scp03 *s, cm_cmac_ctx *ctx, const uint8_t received[8]);

/* Card side: checks the C-MAC of a command held in memory: data[0..len)
 * ends with the 8 MAC bytes (len < 8: CM_E_FORMAT).  On a match the chain
 * advances (cm_scp03_cmac_verify); the data is not decrypted. */
int cm_scp03_verify_command(cm_scp03 *s, const uint8_t hdr[4], const uint8_t *data, size_t len,
                            int ext_lc);

/* Host side: EXTERNAL AUTHENTICATE data (host cryptogram || C-MAC) for level;
 * starts the MAC chain.  After it the channel is at level and the counter is 0
 * (the next command uses counter 1). */
int cm_scp03_external_auth(cm_scp03 *s, uint8_t level, const uint8_t host_cryptogram[8],
                           uint8_t out_data[16]);

/* Card side: checks the C-MAC of EXTERNAL AUTHENTICATE.  hdr is the received
 * 84 82 P1 P2; ext_lc as for cm_scp03_cmac_begin (the APDU was extended).
 * The MAC chain starts again from zero either way; on success it holds this
 * C-MAC's chain value and the level and counter are set, on failure
 * (CM_E_MAC) it stays zero: the caller closes the channel. */
int cm_scp03_verify_external_auth(cm_scp03 *s, const uint8_t hdr[4], const uint8_t data[16],
                                  int ext_lc);

/* Host side: wraps a plain command APDU (cases 1 to 4, short or extended).
 * Sets CLA bit 04, encrypts the data when the level has C-DECRYPTION (no data,
 * no encryption), appends the C-MAC and keeps Le.  Advances counter and chain.
 * The wrapped APDU is extended when the plain one is (in Lc or Le, even when
 * a short one could carry it) or when the wrapped Lc exceeds 255, and the
 * C-MAC codes Lc as the wrapped APDU does (3 bytes when extended).  A caller
 * that cuts the result into chained segments must pass a plain APDU in its
 * shortest form (PROTOCOL.md §3).  apdu and out must not overlap. */
int cm_scp03_wrap_command(cm_scp03 *s, const uint8_t *apdu, size_t len,
                          uint8_t *out, size_t cap, size_t *out_len);

/* Card side: verifies and unwraps a command's data field in place.
 * hdr: the 4 header bytes as received (CLA with bit 04).  data/len: the data
 * field as received, ending with the 8-byte C-MAC.  ext_lc: the command came
 * in an extended APDU (cm_scp03_cmac_begin).  On success *plain_len is
 * the length of the decrypted, unpadded data at data, the chain and the
 * counter have advanced.  Returns CM_E_MAC (bad MAC; s unchanged), CM_E_PADDING
 * (MAC good, chain and counter advanced, but the encrypted data is not a block
 * multiple or its padding is bad) or CM_E_FORMAT (len < 8; s unchanged). */
int cm_scp03_unwrap_command(cm_scp03 *s, const uint8_t hdr[4], uint8_t *data, size_t len,
                            int ext_lc, size_t *plain_len);

/* The same check when the data was already MACed in a stream: adopts the
 * chain value, advances the counter. */
void cm_scp03_accept_command(cm_scp03 *s, const uint8_t chain[16]);

/* Card side: protects the response data in buf[0..len) in place: R-ENC when
 * the level has it and len > 0, then R-MAC when the level has it and sw is
 * 9000, 62xx or 63xx.  cap is the buffer size; *out_len the protected length
 * (SW not included). */
int cm_scp03_wrap_response(const cm_scp03 *s, uint8_t *buf, size_t len, size_t cap, uint16_t sw,
                           size_t *out_len);

/* Host side: verifies the R-MAC and decrypts, in place.  buf/len: response
 * data without SW.  Returns CM_E_MAC when the R-MAC is missing or wrong. */
int cm_scp03_unwrap_response(const cm_scp03 *s, uint8_t *buf, size_t len, uint16_t sw,
                             size_t *plain_len);

/* The ICV of C-DECRYPTION (response == 0) or R-ENCRYPTION (response == 1) for
 * the current counter. */
int cm_scp03_icv(const cm_scp03 *s, int response, uint8_t icv[16]);

/* --- Key wrapping (PUT KEY, AP images) ------------------------------------
 * E(key) = AES-CBC(Key-DEK, zero ICV, key), padded 80 00.. only when the key
 * length is not a block multiple (AES-192).  out holds up to 32 bytes. */
int cm_scp03_wrap_key(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                      const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len);
int cm_scp03_unwrap_key(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                        const uint8_t *in, size_t in_len, size_t key_len, uint8_t *key);
/* Key check value: first 3 bytes of AES(key, 16 x 01). */
int cm_kcv(const cm_aes *aes, const uint8_t *key, size_t key_len, uint8_t kcv[3]);
/* Checks a received KCV against key in constant time: CM_OK or CM_E_KCV. */
int cm_kcv_check(const cm_aes *aes, const uint8_t *key, size_t key_len, const uint8_t expected[3]);

/* --- Key set data (PUT KEY data field, AP image tag A1) ------------------
 * PROTOCOL.md §3 / GP 2.3.1 §11.8: new-KVN, then for ENC, MAC, DEK in that
 * order  88 Ll Lk E(key) 03 KCV  with E(key) wrapped under dek (above) and
 * Ll = 1 + length of E(key).  At most 1 + 3 * (3 + 32 + 4) = 118 bytes. */
#define CM_KEYSET_DATA_MAX 118
int cm_scp03_keyset_data(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                         const cm_keyset *ks, uint8_t *out, size_t cap, size_t *out_len);
/* Parses and unwraps key set data into out (kvn, key_len, keys) and the three
 * received KCVs (kcv_out, 9 bytes, may be NULL).  CM_E_FORMAT for a malformed
 * block, a KVN outside 01..7F, mixed key lengths or trailing bytes; CM_E_KCV
 * when a key does not match its KCV (compared in constant time).  On failure
 * out is wiped. */
int cm_scp03_keyset_parse(const cm_aes *aes, const uint8_t *dek, size_t dek_len,
                          const uint8_t *data, size_t len, cm_keyset *out, uint8_t kcv_out[9]);

void cm_scp03_close(cm_scp03 *s);

#endif
