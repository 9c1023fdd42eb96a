/* secret.c: passphrases and PINs without echo (secret.h). */
#include "secret.h"
#include "cli.h"
#include "cm_ct.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Reads one line from fd byte by byte (so nothing past the line is consumed
 * from a shared stdin that the next secret needs). */
static int read_line_fd(int fd, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    int too_long = 0;

    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if (n == 0 && !too_long) {
                return -1; /* end of input before anything */
            }
            break;
        }
        if (ch == '\n') {
            break;
        }
        if (n + 1 < cap) {
            out[n++] = ch;
        } else {
            too_long = 1;
        }
    }
    if (n > 0 && out[n - 1] == '\r') {
        n--;
    }
    out[n] = '\0';
    *len = n;
    if (too_long) {
        cm_wipe(out, cap);
        return -1;
    }
    return 0;
}

/* The terminal to restore if Ctrl-C arrives while echo is off, and the
 * handlers that were there before (an audited command's, op.c). */
static int g_tty_fd = -1;
static struct termios g_tty_saved;
static struct sigaction old_int, old_term;

/* Restores the terminal, then hands the signal on to the handler that was
 * there before: it is raised again and delivered as this handler returns. */
static void restore_and_exit(int sig)
{
    (void)tcsetattr(g_tty_fd, TCSAFLUSH, &g_tty_saved);
    (void)!write(g_tty_fd, "\n", 1);
    (void)sigaction(sig, sig == SIGINT ? &old_int : &old_term, NULL);
    if (sig == SIGINT ? old_int.sa_handler == SIG_IGN : old_term.sa_handler == SIG_IGN) {
        _exit(128 + sig);
    }
    (void)raise(sig);
}

int secret_prompt(const char *prompt, char *out, size_t cap, size_t *len)
{
    struct termios old, quiet;
    struct sigaction sa;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        cli_error("no terminal to ask for the %s (see docs/cli.md for non-interactive use)", prompt);
        return -1;
    }
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        cli_error("cannot turn echo off to ask for the %s", prompt);
        return -1;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    /* Echo stays off only while we read; a Ctrl-C meanwhile must not leave
     * the operator's terminal without echo. */
    g_tty_fd = fd;
    g_tty_saved = old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_and_exit;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, &old_int);
    (void)sigaction(SIGTERM, &sa, &old_term);
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        (void)sigaction(SIGINT, &old_int, NULL);
        (void)sigaction(SIGTERM, &old_term, NULL);
        close(fd);
        cli_error("cannot turn echo off to ask for the %s", prompt);
        return -1;
    }
    dprintf(fd, "%s: ", prompt);
    rc = read_line_fd(fd, out, cap, len);
    (void)tcsetattr(fd, TCSAFLUSH, &old);
    (void)sigaction(SIGINT, &old_int, NULL);
    (void)sigaction(SIGTERM, &old_term, NULL);
    dprintf(fd, "\n");
    close(fd);
    if (rc != 0) {
        cli_error("no %s entered", prompt);
    }
    return rc;
}

int secret_stdin(char *out, size_t cap, size_t *len)
{
    return read_line_fd(STDIN_FILENO, out, cap, len);
}

static int twice(const char *what, bool from_stdin, char *out, size_t cap, size_t *len)
{
    char again[SECRET_MAX];
    size_t again_len = 0;
    char label[96];
    int rc;

    snprintf(label, sizeof label, "%s (again)", what);
    rc = from_stdin ? secret_stdin(again, sizeof again, &again_len)
                    : secret_prompt(label, again, sizeof again, &again_len);
    if (rc != 0) {
        if (from_stdin) {
            cli_error("the %s must be given twice on stdin", what);
        }
        cm_wipe(again, sizeof again);
        cm_wipe(out, cap);
        return -1;
    }
    if (again_len != *len || !cm_ct_equal(again, out, *len)) {
        cli_error("the two %ss differ", what);
        cm_wipe(again, sizeof again);
        cm_wipe(out, cap);
        return -1;
    }
    cm_wipe(again, sizeof again);
    return 0;
}

/* A passphrase from the environment variable var (for scripts and tests),
 * or else asked for on the terminal as what, non-empty, and (confirm) a
 * second time. */
static int env_or_prompt(const char *var, const char *what, bool confirm, char *out, size_t cap, size_t *len)
{
    const char *env = getenv(var);

    if (env != NULL) {
        size_t n = strlen(env);
        if (n == 0 || n >= cap) {
            cli_error("%s must hold 1 to %zu characters", var, cap - 1);
            return -1;
        }
        memcpy(out, env, n + 1);
        *len = n;
        return 0;
    }
    if (secret_prompt(what, out, cap, len) != 0) {
        return -1;
    }
    if (*len == 0) {
        cli_error("empty %s", what);
        return -1;
    }
    return confirm ? twice(what, false, out, cap, len) : 0;
}

int secret_new_passphrase(char *out, size_t cap, size_t *len)
{
    return env_or_prompt("MNAP_NEW_PASSPHRASE", "new key store passphrase", true, out, cap, len);
}

int secret_passphrase(bool confirm, char *out, size_t cap, size_t *len)
{
    return secret_passphrase_for(NULL, confirm, out, cap, len);
}

int secret_passphrase_for(const char *keystore, bool confirm, char *out, size_t cap, size_t *len)
{
    /* A PKCS#11 token's user PIN takes the passphrase's place. */
    const char *what = (keystore != NULL && strncmp(keystore, "pkcs11:", 7) == 0)
                           ? "token PIN" : "key store passphrase";

    return env_or_prompt("MNAP_PASSPHRASE", what, confirm, out, cap, len);
}

int secret_pin(const char *what, bool from_stdin, bool confirm, char *out, size_t cap, size_t *len)
{
    int rc = from_stdin ? secret_stdin(out, cap, len) : secret_prompt(what, out, cap, len);

    if (rc != 0) {
        if (from_stdin) {
            cli_error("no %s on stdin", what);
        }
        return -1;
    }
    return confirm ? twice(what, from_stdin, out, cap, len) : 0;
}
