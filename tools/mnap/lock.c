/* lock.c: lock_wait (lock.h). */
#include "lock.h"
#include "i18n.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

int lock_timeout(void)
{
    const char *env = getenv("MNAP_LOCK_TIMEOUT");
    char *end = NULL;
    long v;

    if (env == NULL || env[0] == '\0') {
        return LOCK_TIMEOUT_DEFAULT;
    }
    errno = 0;
    v = strtol(env, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 3600) {
        return LOCK_TIMEOUT_DEFAULT;
    }
    return (int)v;
}

int lock_wait(int fd, int how, const char *what, char *err, size_t err_cap)
{
    const struct timespec step = { 0, 100 * 1000 * 1000 };
    int limit = lock_timeout() * 10, waited = 0;

    for (;;) {
        if (flock(fd, how | LOCK_NB) == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            snprintf(err, err_cap, "%s: cannot lock: %s", what, strerror(errno));
            return -1;
        }
        if (waited >= limit) {
            snprintf(err, err_cap,
                     "%s is held by another mnap command: gave up after %d s (MNAP_LOCK_TIMEOUT)",
                     what, limit / 10);
            return -1;
        }
        if (waited == 10) {
            fprintf(stderr, _("mnap: waiting for %s: another mnap command holds it (up to %d s)\n"),
                    what, limit / 10);
        }
        (void)nanosleep(&step, NULL);
        waited++;
    }
}
