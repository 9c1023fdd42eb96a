/* vc_log.c: stderr logging of mnap-vcard (see vc_log.h). */
#include "vc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int g_verbosity;
static char g_tag[64] = "mnap-vcard";

void vc_log_setup(int verbosity, const char *tag)
{
    g_verbosity = verbosity;
    if (tag != NULL) {
        snprintf(g_tag, sizeof g_tag, "%s", tag);
    }
}

int vc_log_enabled(int level)
{
    return level <= g_verbosity;
}

void vc_log(int level, const char *fmt, ...)
{
    if (!vc_log_enabled(level)) {
        return;
    }
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t n = strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        snprintf(stamp + n, sizeof stamp - n, ".%03ld", ts.tv_nsec / 1000000L);
    }
    const char *what = level == VC_ERR ? "error: " : level == VC_WARN ? "warning: " : "";
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line: lines of several vcard processes sharing a log
     * file do not interleave mid-line. */
    fprintf(stderr, "%s %s: %s%s\n", stamp, g_tag, what, line);
}
