/* cm_sw.h: ISO/IEC 7816-4 and GlobalPlatform status words used by mnap, as
 * named constants.  PROTOCOL.md §9 gives their precedence. */
#ifndef CM_SW_H
#define CM_SW_H

#define CM_SW_OK                    0x9000
#define CM_SW_BYTES_REMAINING       0x6100  /* 61xx: xx more bytes, GET RESPONSE */
#define CM_SW_MORE_DATA             0x6310  /* GET STATUS: more entries follow */
#define CM_SW_VERIFY_FAIL           0x6300  /* EXTERNAL AUTHENTICATE: bad cryptogram */
#define CM_SW_PIN_TRIES(x)          (0x63C0 | ((x) & 0x0F))
#define CM_SW_MEMORY_FAILURE        0x6581
#define CM_SW_WRONG_LENGTH          0x6700
#define CM_SW_LOGICAL_CHANNEL       0x6881
#define CM_SW_SM_NOT_SUPPORTED      0x6882
#define CM_SW_LAST_CMD_EXPECTED     0x6883
#define CM_SW_CHAINING_UNSUPPORTED  0x6884
#define CM_SW_INCOMPATIBLE_FILE     0x6981
#define CM_SW_SECURITY_STATUS       0x6982
#define CM_SW_AUTH_BLOCKED          0x6983
#define CM_SW_REF_DATA_NOT_USABLE   0x6984
#define CM_SW_CONDITIONS            0x6985
#define CM_SW_NO_CURRENT_EF         0x6986
#define CM_SW_SM_DATA_INCORRECT     0x6988
#define CM_SW_WRONG_DATA            0x6A80
#define CM_SW_FUNC_NOT_SUPPORTED    0x6A81
#define CM_SW_NOT_FOUND             0x6A82
#define CM_SW_RECORD_NOT_FOUND      0x6A83
#define CM_SW_NO_SPACE              0x6A84
#define CM_SW_WRONG_P1P2            0x6A86
#define CM_SW_REF_NOT_FOUND         0x6A88
#define CM_SW_ALREADY_EXISTS        0x6A89
#define CM_SW_WRONG_OFFSET          0x6B00
#define CM_SW_WRONG_LE(xx)          (0x6C00 | ((xx) & 0xFF))
#define CM_SW_INS_NOT_SUPPORTED     0x6D00
#define CM_SW_CLA_NOT_SUPPORTED     0x6E00

#endif
