/* lock.h: taking a file lock that another mnap command may hold.
 *
 * A terminal whose operator stepped away at a passphrase prompt holds the
 * audit log (or key store) lock.  A second command must neither hang in
 * silence nor wait for ever: it tries at once, says after one second what it
 * is waiting for, and gives up after MNAP_LOCK_TIMEOUT seconds (default 60). */
#ifndef MNAP_LOCK_H
#define MNAP_LOCK_H

#include <stddef.h>

#define LOCK_TIMEOUT_DEFAULT 60

/* flock(fd, how) (LOCK_EX or LOCK_SH) with the wait described above; what
 * names the file for the operator ("the audit log /path").  0, or -1 with a
 * one-line reason in err. */
int lock_wait(int fd, int how, const char *what, char *err, size_t err_cap);

/* The timeout in seconds: MNAP_LOCK_TIMEOUT (0..3600) or the default. */
int lock_timeout(void);

#endif
