/* secret.h: reading passphrases and PINs: from the environment, from stdin
 * (one line each, for scripts) or from the terminal with echo off.  Never
 * printed, wiped by the caller with cm_wipe after use. */
#ifndef MNAP_SECRET_H
#define MNAP_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define SECRET_MAX 256

/* Prompts on /dev/tty with echo off and reads one line.  0, or -1 (no
 * terminal, end of input, too long) with a message printed. */
int secret_prompt(const char *prompt, char *out, size_t cap, size_t *len);
/* Reads one line from stdin (the newline is dropped).  0, or -1. */
int secret_stdin(char *out, size_t cap, size_t *len);
/* The key store passphrase: MNAP_PASSPHRASE, else a prompt (twice when
 * confirm, for a new store).  0, or -1 with a message printed. */
int secret_passphrase(bool confirm, char *out, size_t cap, size_t *len);
/* The same for the key store at keystore: a "pkcs11:" URI is asked for as
 * the "token PIN" (MNAP_PASSPHRASE holds it too). */
int secret_passphrase_for(const char *keystore, bool confirm, char *out, size_t cap, size_t *len);
/* A new key store passphrase (keys passwd): MNAP_NEW_PASSPHRASE, else
 * prompted twice.  0, or -1 with a message printed. */
int secret_new_passphrase(char *out, size_t cap, size_t *len);
/* A PIN: from stdin when from_stdin (twice when confirm: two lines that must
 * match), else prompted (twice when confirm).  0, or -1 with a message. */
int secret_pin(const char *what, bool from_stdin, bool confirm, char *out, size_t cap, size_t *len);

#endif
