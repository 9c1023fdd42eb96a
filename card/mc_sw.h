/* mc_sw.h: the status words of the card runtime.  A command handler (and
 * every helper on its way) returns an mc_sw; mc_process turns it into the
 * two SW bytes of the response (mc_apdu.c).  PROTOCOL.md §9 gives their
 * precedence; common/cm_sw.h names the words for the host side. */
#ifndef MC_SW_H
#define MC_SW_H

#include <stdint.h>
#include "cm_sw.h"

typedef uint16_t mc_sw;

#define MC_SW_OK                    CM_SW_OK
#define MC_SW_MORE_DATA             CM_SW_MORE_DATA
#define MC_SW_VERIFY_FAIL           CM_SW_VERIFY_FAIL
#define MC_SW_PIN_TRIES(x)          CM_SW_PIN_TRIES(x)
#define MC_SW_MEMORY_FAILURE        CM_SW_MEMORY_FAILURE
#define MC_SW_WRONG_LENGTH          CM_SW_WRONG_LENGTH
#define MC_SW_LOGICAL_CHANNEL       CM_SW_LOGICAL_CHANNEL
#define MC_SW_SM_NOT_SUPPORTED      CM_SW_SM_NOT_SUPPORTED
#define MC_SW_CHAINING_UNSUPPORTED  CM_SW_CHAINING_UNSUPPORTED
#define MC_SW_INCOMPATIBLE_FILE     CM_SW_INCOMPATIBLE_FILE
#define MC_SW_SECURITY_STATUS       CM_SW_SECURITY_STATUS
#define MC_SW_AUTH_BLOCKED          CM_SW_AUTH_BLOCKED
#define MC_SW_REF_DATA_NOT_USABLE   CM_SW_REF_DATA_NOT_USABLE
#define MC_SW_CONDITIONS            CM_SW_CONDITIONS
#define MC_SW_NO_CURRENT_EF         CM_SW_NO_CURRENT_EF
#define MC_SW_SM_DATA_INCORRECT     CM_SW_SM_DATA_INCORRECT
#define MC_SW_WRONG_DATA            CM_SW_WRONG_DATA
#define MC_SW_FUNC_NOT_SUPPORTED    CM_SW_FUNC_NOT_SUPPORTED
#define MC_SW_NOT_FOUND             CM_SW_NOT_FOUND
#define MC_SW_RECORD_NOT_FOUND      CM_SW_RECORD_NOT_FOUND
#define MC_SW_NO_SPACE              CM_SW_NO_SPACE
#define MC_SW_WRONG_P1P2            CM_SW_WRONG_P1P2
#define MC_SW_REF_NOT_FOUND         CM_SW_REF_NOT_FOUND
#define MC_SW_ALREADY_EXISTS        CM_SW_ALREADY_EXISTS
#define MC_SW_WRONG_OFFSET          CM_SW_WRONG_OFFSET
#define MC_SW_INS_NOT_SUPPORTED     CM_SW_INS_NOT_SUPPORTED
#define MC_SW_CLA_NOT_SUPPORTED     CM_SW_CLA_NOT_SUPPORTED
/* The NVM failed (power cut): the card answers nothing. */
#define MC_SW_MUTE                  0x0000u

#endif
