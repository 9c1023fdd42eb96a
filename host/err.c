/* err.c: mnap_strerror and the status-word-to-error mapping of PROTOCOL.md. */
#include <stddef.h>

#include "mnap/mnap_err.h"
#include "cm_sw.h"

const char *mnap_strerror(mnap_err err)
{
    switch (err) {
    case MNAP_OK: return "success";
    case MNAP_E_PARAM: return "invalid argument";
    case MNAP_E_NOMEM: return "out of memory";
    case MNAP_E_BUFFER: return "the response does not fit the buffer given";
    case MNAP_E_CRYPTO: return "cryptographic library or random generator failure";
    case MNAP_E_IO: return "file input/output error";
    case MNAP_E_STATE: return "operation not valid now (no session, or a session of the wrong kind)";
    case MNAP_E_IMAGE: return "the AP image is malformed";
    case MNAP_E_TRANSPORT: return "card transport error";
    case MNAP_E_NO_SERVICE: return "the PC/SC service (pcscd) is not available";
    case MNAP_E_NO_READER: return "no smart card reader found (or the reader named is unknown)";
    case MNAP_E_NO_CARD: return "no card in the reader";
    case MNAP_E_TIMEOUT: return "timed out waiting for a card";
    case MNAP_E_CARD_RESET: return "the card was reset by another application; reconnect";
    case MNAP_E_CARD_REMOVED: return "the card was removed or lost power";
    case MNAP_E_PROTOCOL: return "malformed response from the card";
    case MNAP_E_NOT_CONNECTED: return "no card connected";
    case MNAP_E_CARD_MUTE: return "the card stopped answering in the middle of a command";
    case MNAP_E_CARD_BUSY: return "the card is in use by another program (gave up waiting)";
    case MNAP_E_CARD_AUTH: return "the card cryptogram did not verify: wrong key set, or not a genuine card";
    case MNAP_E_AUTH_FAILED: return "the card refused the host authentication (6300)";
    case MNAP_E_LEVEL: return "the security level is below the application's minimum (6982)";
    case MNAP_E_RMAC: return "a response failed its R-MAC check; the session was closed";
    case MNAP_E_KEY_INFO: return "the card answered with another key version or protocol";
    case MNAP_E_KCV: return "the card's key check values do not match the keys sent";
    case MNAP_E_KS_PASSPHRASE: return "wrong key store passphrase";
    case MNAP_E_KS_CORRUPT: return "the key store file is damaged, truncated or not a key store";
    case MNAP_E_KS_NOT_FOUND: return "no key set of that name in the key store";
    case MNAP_E_KS_FULL: return "the key store is full";
    case MNAP_E_KS_TOKEN: return "PKCS#11: no module, no such token, or the token failed";
    case MNAP_E_KS_MECHANISM: return "PKCS#11: the token lacks a mechanism mnap needs";
    case MNAP_E_KS_BUSY: return "the key store is locked by another program (gave up waiting)";
    case MNAP_E_KS_STALE: return "the key store file was changed by another program since it was loaded: nothing saved; load it again";
    case MNAP_E_CARD_STATUS: return "the card answered an undefined status word";
    case MNAP_E_PIN_WRONG: return "wrong PIN";
    case MNAP_E_MORE_DATA: return "more data available (6310)";
    case MNAP_E_MEMORY: return "the card's memory is corrupt (6581)";
    case MNAP_E_WRONG_LENGTH: return "wrong length (6700)";
    case MNAP_E_LOGICAL_CHANNEL: return "logical channels not supported (6881)";
    case MNAP_E_SM_NOT_SUPPORTED: return "secure messaging not supported for this command (6882)";
    case MNAP_E_LAST_CMD: return "last command of the chain expected (6883)";
    case MNAP_E_CHAINING: return "command chaining not supported here (6884)";
    case MNAP_E_FILE_TYPE: return "command incompatible with the file type (6981)";
    case MNAP_E_SECURITY: return "security status not satisfied (6982)";
    case MNAP_E_PIN_BLOCKED: return "the PIN is blocked (6983)";
    case MNAP_E_PIN_NOT_SET: return "the PIN has not been set (6984)";
    case MNAP_E_CONDITIONS: return "conditions of use not satisfied (6985)";
    case MNAP_E_NO_EF: return "no file selected (6986)";
    case MNAP_E_SM_DATA: return "the card rejected the secure messaging data (6988); the session was closed";
    case MNAP_E_WRONG_DATA: return "wrong data (6A80)";
    case MNAP_E_PIN_POLICY: return "the PIN does not meet the PIN policy (6A80); no try was used";
    case MNAP_E_NOT_ACTIVE: return "the application is suspended or the area is locked (6A81)";
    case MNAP_E_NOT_FOUND: return "application or file not found (6A82)";
    case MNAP_E_RECORD_NOT_FOUND: return "record not found (6A83)";
    case MNAP_E_NO_SPACE: return "not enough memory space on the card (6A84)";
    case MNAP_E_P1P2: return "wrong parameters P1/P2 (6A86)";
    case MNAP_E_REF_NOT_FOUND: return "referenced data not found (6A88)";
    case MNAP_E_EXISTS: return "the AID already exists or overlaps an existing AID (6A89)";
    case MNAP_E_OFFSET: return "offset outside the file (6B00)";
    case MNAP_E_WRONG_LE: return "wrong Le (6Cxx)";
    case MNAP_E_INS: return "instruction not supported (6D00)";
    case MNAP_E_CLA: return "class not supported (6E00)";
    }
    return "unknown error";
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
