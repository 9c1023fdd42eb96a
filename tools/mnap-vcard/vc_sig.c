/* vc_sig.c: signal handlers of mnap-vcard (see vc_sig.h). */
#include "vc_sig.h"

#include <string.h>

static volatile sig_atomic_t g_stop;
/* 0 nothing, 1 remove, 2 insert: the last of a burst of SIGUSR1/2 wins. */
static volatile sig_atomic_t g_presence;
static sigset_t g_waitmask;

static void on_signal(int signo)
{
    switch (signo) {
    case SIGUSR1:
        g_presence = 1;
        break;
    case SIGUSR2:
        g_presence = 2;
        break;
    default:
        g_stop = 1;
        break;
    }
}

int vc_sig_install(void)
{
    static const int handled[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
    sigset_t block;
    sigset_t old;
    struct sigaction sa;

    /* A write to a socket vpcd closed must be an error return, not a kill. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) {
        return -1;
    }

    sigemptyset(&block);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        sigaddset(&block, handled[i]);
    }
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        return -1;
    }
    g_waitmask = old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_mask = block;
    sa.sa_flags = 0; /* no SA_RESTART: ppoll must return EINTR */
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        sigdelset(&g_waitmask, handled[i]);
        if (sigaction(handled[i], &sa, NULL) != 0) {
            return -1;
        }
    }
    return 0;
}

const sigset_t *vc_sig_waitmask(void)
{
    return &g_waitmask;
}

vc_sig_events vc_sig_take(void)
{
    vc_sig_events ev = { false, false, false };
    /* The handled signals are blocked outside ppoll, so these reads and
     * writes cannot race with the handler. */
    ev.stop = g_stop != 0;
    ev.remove = g_presence == 1;
    ev.insert = g_presence == 2;
    g_presence = 0;
    return ev;
}
