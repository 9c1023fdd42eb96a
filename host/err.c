/* err.c: mnap_strerror and the status-word-to-error mapping of PROTOCOL.md. */
#include <stddef.h>

#include "mnap/mnap_err.h"
#include "cm_sw.h"

/* Marks the sentences for the tools' message catalogue (po/, xgettext -kN_);
 * the library itself returns them in English. */
#define N_(s) s

const char *mnap_strerror(mnap_err err)
{
    switch (err) {
    case MNAP_OK: return N_("success");
    case MNAP_E_PARAM: return N_("invalid argument");
    case MNAP_E_NOMEM: return N_("out of memory");
    case MNAP_E_BUFFER: return N_("the response does not fit the buffer given");
    case MNAP_E_CRYPTO: return N_("cryptographic library or random generator failure");
    case MNAP_E_IO: return N_("file input/output error");
    case MNAP_E_STATE: return N_("operation not valid now (no session, or a session of the wrong kind)");
    case MNAP_E_IMAGE: return N_("the AP image is malformed");
    case MNAP_E_TRANSPORT: return N_("card transport error");
    case MNAP_E_NO_SERVICE: return N_("the PC/SC service (pcscd) is not available");
    case MNAP_E_NO_READER: return N_("no smart card reader found (or the reader named is unknown)");
    case MNAP_E_NO_CARD: return N_("no card in the reader");
    case MNAP_E_TIMEOUT: return N_("timed out waiting for a card");
    case MNAP_E_CARD_RESET: return N_("the card was reset by another application; reconnect");
    case MNAP_E_CARD_REMOVED: return N_("the card was removed or lost power");
    case MNAP_E_PROTOCOL: return N_("malformed response from the card");
    case MNAP_E_NOT_CONNECTED: return N_("no card connected");
    case MNAP_E_CARD_MUTE: return N_("the card stopped answering in the middle of a command");
    case MNAP_E_CARD_BUSY: return N_("the card is in use by another program (gave up waiting)");
    case MNAP_E_STOPLIST_FORMAT: return N_("the stop-list file is malformed or truncated");
    case MNAP_E_STOPLIST_SIGNATURE: return N_("the stop list's signature does not verify (edited, or signed by another key)");
    case MNAP_E_STOPLIST_EXPIRED: return N_("the stop list is expired (or not yet valid): get a new one");
    case MNAP_E_CARD_STOPPED: return N_("the card is on the stop list (reported missing, lost or stolen, or terminated)");
    case MNAP_E_CARD_AUTH: return N_("the card cryptogram did not verify: wrong key set, or not a genuine card");
    case MNAP_E_AUTH_FAILED: return N_("the card refused the host authentication (6300)");
    case MNAP_E_LEVEL: return N_("the security level is below the application's minimum (6982)");
    case MNAP_E_RMAC: return N_("a response failed its R-MAC check; the session was closed");
    case MNAP_E_KEY_INFO: return N_("the card answered with another key version or protocol");
    case MNAP_E_KCV: return N_("the card's key check values do not match the keys sent");
    case MNAP_E_KS_PASSPHRASE: return N_("wrong key store passphrase");
    case MNAP_E_KS_CORRUPT: return N_("the key store file is damaged, truncated or not a key store");
    case MNAP_E_KS_NOT_FOUND: return N_("no key set of that name in the key store");
    case MNAP_E_KS_FULL: return N_("the key store is full");
    case MNAP_E_KS_TOKEN: return N_("PKCS#11: no module, no such token, or the token failed");
    case MNAP_E_KS_MECHANISM: return N_("PKCS#11: the token lacks a mechanism mnap needs");
    case MNAP_E_KS_BUSY: return N_("the key store is locked by another program (gave up waiting)");
    case MNAP_E_KS_STALE: return N_("the key store file was changed by another program since it was loaded: nothing saved; load it again");
    case MNAP_E_CARD_STATUS: return N_("the card answered an undefined status word");
    case MNAP_E_PIN_WRONG: return N_("wrong PIN");
    case MNAP_E_MORE_DATA: return N_("more data available (6310)");
    case MNAP_E_MEMORY: return N_("the card's memory is corrupt (6581)");
    case MNAP_E_WRONG_LENGTH: return N_("wrong length (6700)");
    case MNAP_E_LOGICAL_CHANNEL: return N_("logical channels not supported (6881)");
    case MNAP_E_SM_NOT_SUPPORTED: return N_("secure messaging not supported for this command (6882)");
    case MNAP_E_LAST_CMD: return N_("last command of the chain expected (6883)");
    case MNAP_E_CHAINING: return N_("command chaining not supported here (6884)");
    case MNAP_E_FILE_TYPE: return N_("command incompatible with the file type (6981)");
    case MNAP_E_SECURITY: return N_("security status not satisfied (6982)");
    case MNAP_E_PIN_BLOCKED: return N_("the PIN is blocked (6983)");
    case MNAP_E_PIN_NOT_SET: return N_("the PIN has not been set (6984)");
    case MNAP_E_CONDITIONS: return N_("conditions of use not satisfied (6985)");
    case MNAP_E_NO_EF: return N_("no file selected (6986)");
    case MNAP_E_SM_DATA: return N_("the card rejected the secure messaging data (6988); the session was closed");
    case MNAP_E_WRONG_DATA: return N_("wrong data (6A80)");
    case MNAP_E_PIN_POLICY: return N_("the PIN does not meet the PIN policy (6A80); no try was used");
    case MNAP_E_NOT_ACTIVE: return N_("the application is suspended or the area is locked (6A81)");
    case MNAP_E_NOT_FOUND: return N_("application or file not found (6A82)");
    case MNAP_E_RECORD_NOT_FOUND: return N_("record not found (6A83)");
    case MNAP_E_NO_SPACE: return N_("not enough memory space on the card (6A84)");
    case MNAP_E_P1P2: return N_("wrong parameters P1/P2 (6A86)");
    case MNAP_E_REF_NOT_FOUND: return N_("referenced data not found (6A88)");
    case MNAP_E_EXISTS: return N_("the AID already exists or overlaps an existing AID (6A89)");
    case MNAP_E_OFFSET: return N_("offset outside the file (6B00)");
    case MNAP_E_WRONG_LE: return N_("wrong Le (6Cxx)");
    case MNAP_E_INS: return N_("instruction not supported (6D00)");
    case MNAP_E_CLA: return N_("class not supported (6E00)");
    }
    return N_("unknown error");
}

mnap_err mnap_err_from_sw(uint16_t sw)
{
    if (sw == CM_SW_OK)
        return MNAP_OK;
    if ((sw & 0xFFF0) == 0x63C0)
        return (sw & 0x0F) ? MNAP_E_PIN_WRONG : MNAP_E_PIN_BLOCKED;
    if ((sw & 0xFF00) == 0x6C00)
        return MNAP_E_WRONG_LE;
    switch (sw) {
    case CM_SW_MORE_DATA: return MNAP_E_MORE_DATA;
    case CM_SW_VERIFY_FAIL: return MNAP_E_AUTH_FAILED;
    case CM_SW_MEMORY_FAILURE: return MNAP_E_MEMORY;
    case CM_SW_WRONG_LENGTH: return MNAP_E_WRONG_LENGTH;
    case CM_SW_LOGICAL_CHANNEL: return MNAP_E_LOGICAL_CHANNEL;
    case CM_SW_SM_NOT_SUPPORTED: return MNAP_E_SM_NOT_SUPPORTED;
    case CM_SW_LAST_CMD_EXPECTED: return MNAP_E_LAST_CMD;
    case CM_SW_CHAINING_UNSUPPORTED: return MNAP_E_CHAINING;
    case CM_SW_INCOMPATIBLE_FILE: return MNAP_E_FILE_TYPE;
    case CM_SW_SECURITY_STATUS: return MNAP_E_SECURITY;
    case CM_SW_AUTH_BLOCKED: return MNAP_E_PIN_BLOCKED;
    case CM_SW_REF_DATA_NOT_USABLE: return MNAP_E_PIN_NOT_SET;
    case CM_SW_CONDITIONS: return MNAP_E_CONDITIONS;
    case CM_SW_NO_CURRENT_EF: return MNAP_E_NO_EF;
    case CM_SW_SM_DATA_INCORRECT: return MNAP_E_SM_DATA;
    case CM_SW_WRONG_DATA: return MNAP_E_WRONG_DATA;
    case CM_SW_FUNC_NOT_SUPPORTED: return MNAP_E_NOT_ACTIVE;
    case CM_SW_NOT_FOUND: return MNAP_E_NOT_FOUND;
    case CM_SW_RECORD_NOT_FOUND: return MNAP_E_RECORD_NOT_FOUND;
    case CM_SW_NO_SPACE: return MNAP_E_NO_SPACE;
    case CM_SW_WRONG_P1P2: return MNAP_E_P1P2;
    case CM_SW_REF_NOT_FOUND: return MNAP_E_REF_NOT_FOUND;
    case CM_SW_ALREADY_EXISTS: return MNAP_E_EXISTS;
    case CM_SW_WRONG_OFFSET: return MNAP_E_OFFSET;
    case CM_SW_INS_NOT_SUPPORTED: return MNAP_E_INS;
    case CM_SW_CLA_NOT_SUPPORTED: return MNAP_E_CLA;
    default: return MNAP_E_CARD_STATUS;
    }
}

const char *mnap_err_name(mnap_err err)
{
    switch (err) {
#define N(x) case x: return #x;
    N(MNAP_OK) N(MNAP_E_PARAM) N(MNAP_E_NOMEM) N(MNAP_E_BUFFER) N(MNAP_E_CRYPTO) N(MNAP_E_IO)
    N(MNAP_E_STATE) N(MNAP_E_IMAGE) N(MNAP_E_TRANSPORT) N(MNAP_E_NO_SERVICE) N(MNAP_E_NO_READER)
    N(MNAP_E_NO_CARD) N(MNAP_E_TIMEOUT) N(MNAP_E_CARD_RESET) N(MNAP_E_CARD_REMOVED)
    N(MNAP_E_PROTOCOL) N(MNAP_E_NOT_CONNECTED) N(MNAP_E_CARD_MUTE) N(MNAP_E_CARD_BUSY) N(MNAP_E_CARD_AUTH)
    N(MNAP_E_AUTH_FAILED) N(MNAP_E_LEVEL) N(MNAP_E_RMAC) N(MNAP_E_KEY_INFO) N(MNAP_E_KCV)
    N(MNAP_E_KS_PASSPHRASE) N(MNAP_E_KS_CORRUPT) N(MNAP_E_KS_NOT_FOUND) N(MNAP_E_KS_FULL)
    N(MNAP_E_KS_TOKEN) N(MNAP_E_KS_MECHANISM) N(MNAP_E_KS_BUSY) N(MNAP_E_KS_STALE)
    N(MNAP_E_STOPLIST_FORMAT) N(MNAP_E_STOPLIST_SIGNATURE) N(MNAP_E_STOPLIST_EXPIRED) N(MNAP_E_CARD_STOPPED)
    N(MNAP_E_CARD_STATUS) N(MNAP_E_PIN_WRONG) N(MNAP_E_MORE_DATA) N(MNAP_E_MEMORY)
    N(MNAP_E_WRONG_LENGTH) N(MNAP_E_LOGICAL_CHANNEL) N(MNAP_E_SM_NOT_SUPPORTED) N(MNAP_E_LAST_CMD)
    N(MNAP_E_CHAINING) N(MNAP_E_FILE_TYPE) N(MNAP_E_SECURITY) N(MNAP_E_PIN_BLOCKED)
    N(MNAP_E_PIN_NOT_SET) N(MNAP_E_CONDITIONS) N(MNAP_E_NO_EF) N(MNAP_E_SM_DATA)
    N(MNAP_E_WRONG_DATA) N(MNAP_E_PIN_POLICY) N(MNAP_E_NOT_ACTIVE) N(MNAP_E_NOT_FOUND)
    N(MNAP_E_RECORD_NOT_FOUND) N(MNAP_E_NO_SPACE) N(MNAP_E_P1P2) N(MNAP_E_REF_NOT_FOUND)
    N(MNAP_E_EXISTS) N(MNAP_E_OFFSET) N(MNAP_E_WRONG_LE) N(MNAP_E_INS) N(MNAP_E_CLA)
#undef N
    }
    return NULL;
}
