/* vc_sig.h: the signals mnap-vcard reacts to, turned into flags.
 *
 * SIGTERM, SIGINT and SIGHUP ask for a clean exit; SIGUSR1 pulls the card out
 * of the reader, SIGUSR2 puts it back.  These signals stay blocked except
 * while the process waits (vc_sig_waitmask, used with ppoll), so an APDU in
 * progress always finishes and its response is sent before the flag is seen. */
#ifndef VC_SIG_H
#define VC_SIG_H

#include <signal.h>
#include <stdbool.h>

typedef struct vc_sig_events {
    bool stop;
    bool remove;
    bool insert;
} vc_sig_events;

/* Installs the handlers and blocks the signals.  0, or -1 (errno set). */
int vc_sig_install(void);
/* The mask to wait with: the original one, the handled signals unblocked. */
const sigset_t *vc_sig_waitmask(void);
/* Returns the events that arrived since the last call and clears them.  When
 * removal and insertion both arrived, the later one wins. */
vc_sig_events vc_sig_take(void);

#endif
