/* mc_sw.h: the status words of the card runtime.  A command handler (and
 * every helper on its way) returns an mc_sw: a small code, turned into the
 * two SW bytes of the response once, in mc_process (mc_sw_word, mc_apdu.c).
 * On Thumb-1 a code is one 2-byte `movs` where a 16-bit word costs a 4-byte
 * literal per function and a 2-byte load per use.  A status word whose low
 * byte varies (63Cx, 61xx) is carried as itself: every value from
 * MC_SW_CODES up passes mc_sw_word unchanged.  PROTOCOL.md §9 gives the
 * precedence; common/cm_sw.h names the words for the host side. */
#ifndef MC_SW_H
#define MC_SW_H

#include "mc_types.h"

typedef unsigned mc_sw;

enum {
    MC_SW_OK = 0,                  /* 9000 */
    MC_SW_PARAM_FAILURE,           /* 6581: mc_sw_of(MC_ERR_PARAM) */
    MC_SW_MUTE,                    /* the NVM failed (power cut): no answer at all */
    MC_SW_MEMORY_FAILURE,          /* 6581, and mc_sw_of(MC_ERR_CORRUPT) */
    MC_SW_MORE_DATA,               /* 6310: GET STATUS, more entries follow */
    MC_SW_VERIFY_FAIL,             /* 6300: EXTERNAL AUTHENTICATE, bad cryptogram */
    MC_SW_WRONG_LENGTH,            /* 6700 */
    MC_SW_LOGICAL_CHANNEL,         /* 6881 */
    MC_SW_SM_NOT_SUPPORTED,        /* 6882 */
    MC_SW_CHAINING_UNSUPPORTED,    /* 6884 */
    MC_SW_INCOMPATIBLE_FILE,       /* 6981 */
    MC_SW_SECURITY_STATUS,         /* 6982 */
    MC_SW_AUTH_BLOCKED,            /* 6983 */
    MC_SW_REF_DATA_NOT_USABLE,     /* 6984 */
    MC_SW_CONDITIONS,              /* 6985 */
    MC_SW_NO_CURRENT_EF,           /* 6986 */
    MC_SW_SM_DATA_INCORRECT,       /* 6988 */
    MC_SW_WRONG_DATA,              /* 6A80 */
    MC_SW_FUNC_NOT_SUPPORTED,      /* 6A81 */
    MC_SW_NOT_FOUND,               /* 6A82 */
    MC_SW_RECORD_NOT_FOUND,        /* 6A83 */
    MC_SW_NO_SPACE,                /* 6A84 */
    MC_SW_WRONG_P1P2,              /* 6A86 */
    MC_SW_REF_NOT_FOUND,           /* 6A88 */
    MC_SW_ALREADY_EXISTS,          /* 6A89 */
    MC_SW_WRONG_OFFSET,            /* 6B00 */
    MC_SW_INS_NOT_SUPPORTED,       /* 6D00 */
    MC_SW_CLA_NOT_SUPPORTED,       /* 6E00 */
    MC_SW_CODES                    /* from here on: the status word itself */
};
/* 63Cx: a wrong PIN, x tries left (carried as the word). */
#define MC_SW_PIN_TRIES(x) (0x63C0u | ((x) & 0x0Fu))

/* A store/layout status as a code: MC_OK 9000, MC_ERR_NVM mute, anything
 * else 6581 (the codes follow mc_status's values, mc_types.h). */
_Static_assert(-MC_ERR_PARAM == MC_SW_PARAM_FAILURE && -MC_ERR_NVM == MC_SW_MUTE &&
                   -MC_ERR_CORRUPT == MC_SW_MEMORY_FAILURE,
               "mc_status and the status-word codes out of step");
static inline mc_sw mc_sw_of(mc_status st)
{
    return (mc_sw)-(int)st;
}

#endif
