/* vc_log.h: stderr logging of mnap-vcard, with a verbosity level.
 *
 * Levels: VC_ERR and VC_WARN always print; VC_INFO (-v) connections, power
 * and card insertion/removal; VC_APDU (-vv) one line per APDU (header, length
 * and status word only: command data can hold PINs and wrapped keys, so it is
 * never logged); VC_TRACE (-vvv) every vpcd control message, including the
 * get-ATR polls pcscd sends several times a second. */
#ifndef VC_LOG_H
#define VC_LOG_H

enum { VC_ERR = -2, VC_WARN = -1, VC_INFO = 1, VC_APDU = 2, VC_TRACE = 3 };

/* Sets the verbosity (number of -v) and the prefix printed on every line
 * (the slot's address, so several processes can share one terminal). */
void vc_log_setup(int verbosity, const char *tag);
int vc_log_enabled(int level);
void vc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
