/* mnap_err.h: the error codes of libmnap.
 *
 * Every function of libmnap that can fail returns an mnap_err: MNAP_OK (0) or
 * a negative, named value.  Every status word of the card interface
 * (PROTOCOL.md) maps to one of them; a status word the protocol does not
 * define gives MNAP_E_CARD_STATUS, and mnap_last_sw() (mnap.h) still tells the
 * raw value.  mnap_strerror() gives a fixed English sentence for each value;
 * the strings are constant, so it is safe from any thread. */
#ifndef MNAP_ERR_H
#define MNAP_ERR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mnap_err {
    MNAP_OK = 0,

    /* --- caller and host-side errors ----------------------------------- */
    MNAP_E_PARAM = -1,            /* bad argument (NULL, length out of range) */
    MNAP_E_NOMEM = -2,            /* out of memory */
    MNAP_E_BUFFER = -3,           /* the response does not fit the caller's buffer */
    MNAP_E_CRYPTO = -4,           /* OpenSSL or the random generator failed */
    MNAP_E_IO = -5,               /* a file could not be read, written or renamed */
    MNAP_E_STATE = -6,            /* call not valid now (no session, wrong session kind) */
    MNAP_E_IMAGE = -7,            /* an AP image is malformed (checked before sending) */

    /* --- transport ------------------------------------------------------ */
    MNAP_E_TRANSPORT = -20,       /* the transport failed (unclassified PC/SC error) */
    MNAP_E_NO_SERVICE = -21,      /* the PC/SC service (pcscd) is not running */
    MNAP_E_NO_READER = -22,       /* no reader, or the named reader is unknown */
    MNAP_E_NO_CARD = -23,         /* no card in the reader */
    MNAP_E_TIMEOUT = -24,         /* waiting for a card timed out */
    MNAP_E_CARD_RESET = -25,      /* the card was reset by someone else: reconnect */
    MNAP_E_CARD_REMOVED = -26,    /* the card was removed (or lost power) */
    MNAP_E_PROTOCOL = -27,        /* malformed response (too short, bad TLV, bad length) */
    MNAP_E_NOT_CONNECTED = -28,   /* the transport has no card connected */
    MNAP_E_CARD_MUTE = -29,       /* the card stopped answering in the middle of a command
                                     (the reader lost it: contact or power): reconnect */
    MNAP_E_CARD_BUSY = -30,       /* another program holds the card (exclusive connection
                                     or its transaction) and the wait timed out */

    /* --- secure channel ------------------------------------------------- */
    MNAP_E_CARD_AUTH = -40,       /* the card cryptogram did not verify: wrong key set
                                     or not a genuine card; nothing was sent after it */
    MNAP_E_AUTH_FAILED = -41,     /* 6300: the card refused the host cryptogram */
    MNAP_E_LEVEL = -42,           /* 6982 on EXTERNAL AUTHENTICATE: level below the minimum */
    MNAP_E_RMAC = -43,            /* a response's R-MAC (or R-ENC) did not verify: the
                                     session was closed */
    MNAP_E_KEY_INFO = -44,        /* the card answered with another KVN or protocol */
    MNAP_E_KCV = -45,             /* PUT KEY: the card's key check values do not match */

    /* --- key store ------------------------------------------------------ */
    MNAP_E_KS_PASSPHRASE = -60,   /* wrong passphrase for the key store */
    MNAP_E_KS_CORRUPT = -61,      /* the key store file is damaged or truncated */
    MNAP_E_KS_NOT_FOUND = -62,    /* no key set of that name */
    MNAP_E_KS_FULL = -63,         /* the key store holds its maximum of key sets */
    MNAP_E_KS_TOKEN = -64,        /* PKCS#11: no module, token not found, or the token failed */
    MNAP_E_KS_MECHANISM = -65,    /* PKCS#11: the token lacks a mechanism mnap needs */
    MNAP_E_KS_BUSY = -66,         /* the key store's lock is held by another program and
                                     the wait timed out (mnap_keystore_lock) */
    MNAP_E_KS_STALE = -67,        /* the save would overwrite a key store file that is not
                                     the one this store was loaded from (another program
                                     saved it since): nothing written; load it again */

    /* --- offline stop list (mnap_stoplist.h) ------------------------------ */
    MNAP_E_STOPLIST_FORMAT = -70,    /* the stop-list file is malformed or truncated */
    MNAP_E_STOPLIST_SIGNATURE = -71, /* its signature does not verify with the public key
                                        given: edited, or signed by another key */
    MNAP_E_STOPLIST_EXPIRED = -72,   /* its validity ended (or has not begun): get a new one */
    MNAP_E_CARD_STOPPED = -73,       /* the card is on the stop list (stopped, suspended or
                                        terminated): it may not be served */

    /* --- status words of PROTOCOL.md ------------------------------------- */
    MNAP_E_CARD_STATUS = -80,     /* a status word PROTOCOL.md does not define */
    MNAP_E_PIN_WRONG = -81,       /* 63Cx: wrong PIN, x tries left (x > 0) */
    MNAP_E_MORE_DATA = -82,       /* 6310 where the library did not expect it */
    MNAP_E_MEMORY = -83,          /* 6581: card NVM corrupt */
    MNAP_E_WRONG_LENGTH = -84,    /* 6700 */
    MNAP_E_LOGICAL_CHANNEL = -85, /* 6881 */
    MNAP_E_SM_NOT_SUPPORTED = -86,/* 6882 */
    MNAP_E_LAST_CMD = -87,        /* 6883 */
    MNAP_E_CHAINING = -88,        /* 6884: chaining outside LOAD AP */
    MNAP_E_FILE_TYPE = -89,       /* 6981: binary command on a record EF or the reverse */
    MNAP_E_SECURITY = -90,        /* 6982: security status not satisfied (no channel, level,
                                     missing SM, file rule) */
    MNAP_E_PIN_BLOCKED = -91,     /* 6983: the PIN is blocked (0 tries left) */
    MNAP_E_PIN_NOT_SET = -92,     /* 6984: the AP's PIN was never set */
    MNAP_E_CONDITIONS = -93,      /* 6985: conditions of use not satisfied (area state,
                                     no pending INITIALIZE UPDATE, sequence counter
                                     exhausted) */
    MNAP_E_NO_EF = -94,           /* 6986: no EF selected (or nothing / the AM selected) */
    MNAP_E_SM_DATA = -95,         /* 6988: the card found a bad C-MAC or padding; the
                                     card closed the channel and so did the library */
    MNAP_E_WRONG_DATA = -96,      /* 6A80: wrong data (bad image, bad key set data) */
    MNAP_E_PIN_POLICY = -97,      /* 6A80 on VERIFY/CHANGE/unblock: PIN breaks the policy
                                     (no try used) */
    MNAP_E_NOT_ACTIVE = -98,      /* 6A81: the AP is suspended or the area is locked */
    MNAP_E_NOT_FOUND = -99,       /* 6A82: no such AID or FID */
    MNAP_E_RECORD_NOT_FOUND = -100, /* 6A83 */
    MNAP_E_NO_SPACE = -101,       /* 6A84: no room (NVM, AP slots, full record EF) */
    MNAP_E_P1P2 = -102,           /* 6A86: wrong P1/P2 (also: level not accepted) */
    MNAP_E_REF_NOT_FOUND = -103,  /* 6A88: unknown KVN, unknown AID, no AP at all */
    MNAP_E_EXISTS = -104,         /* 6A89: the AID exists or is a prefix of another */
    MNAP_E_OFFSET = -105,         /* 6B00: offset past the end of the file */
    MNAP_E_WRONG_LE = -106,       /* 6Cxx where it cannot be retried (inside a channel) */
    MNAP_E_INS = -107,            /* 6D00: instruction not supported */
    MNAP_E_CLA = -108             /* 6E00: class not supported */
} mnap_err;

/* A fixed English sentence for err (never NULL; unknown values get a generic
 * sentence). */
const char *mnap_strerror(mnap_err err);

/* The name of err's constant, e.g. "MNAP_E_CARD_REMOVED" (for logs, JSON
 * output and test reports), or NULL for a value outside the enum. */
const char *mnap_err_name(mnap_err err);

/* The generic mapping of a status word to an error (9000 -> MNAP_OK; 61xx and
 * 6310 are handled by the library before this is used).  Some calls refine
 * it by context (6A80 on VERIFY is MNAP_E_PIN_POLICY, 6982 on EXTERNAL
 * AUTHENTICATE is MNAP_E_LEVEL, 6300 is MNAP_E_AUTH_FAILED). */
mnap_err mnap_err_from_sw(uint16_t sw);

#ifdef __cplusplus
}
#endif

#endif
