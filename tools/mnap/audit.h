/* audit.h: the operator audit log of the loading terminal.
 *
 * One text file, append-only, one line per command that changed (or tried to
 * change) a card.  A line is eight tab-separated fields:
 *
 *   seq  time  operator  command  serial  aid  result  hash
 *
 * seq counts from 1; time is UTC ISO 8601 ("2026-11-23T10:40:00Z"); fields
 * hold no tab or control character (replaced by '_'), and an empty field is
 * "-".  hash is the lower-case hex SHA-256 of the previous line's hash, a
 * newline, and the first seven fields of this line joined by tabs; the first
 * line chains to 64 zeros.  Editing, inserting or removing a line breaks the
 * chain at that line or the next, which audit_verify reports.  Removing lines
 * at the end is caught only against a hash recorded earlier (expect_last).
 *
 * audit_open takes an exclusive lock on the file for as long as it stays
 * open, so two mnap processes on one terminal never fork the chain, and it
 * refuses a file whose last line is damaged before any card is touched.  A
 * lock held by another command is waited for with a message and a timeout
 * (lock.h). */
#ifndef MNAP_AUDIT_H
#define MNAP_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AUDIT_HASH_HEX 64
#define AUDIT_FIELD_MAX 200    /* a longer field is cut */
#define AUDIT_LINE_MAX 2048

typedef struct audit_log {
    int fd;
    uint64_t next_seq;
    char prev_hash[AUDIT_HASH_HEX + 1];
} audit_log;

/* Opens (creating it and its directories, mode 0600) and locks the audit file
 * and reads the chain's last link.  0, or -1 with a message in err. */
int audit_open(audit_log *a, const char *path, char *err, size_t err_cap);
/* Appends one line (one write, then fsync; on a short write the file is cut
 * back so nothing half written stays).  NULL or empty fields become "-".
 * 0, or -1 with a message in err. */
int audit_append(audit_log *a, time_t when, const char *operator_id, const char *command,
                 const char *serial, const char *aid, const char *result, char *err,
                 size_t err_cap);
/* Formats the line audit_append would write next (newline included), and
 * its hash, without writing it: an interrupted command's line is made ready
 * before the signal that writes it can come (op.c).  0, or -1 with err. */
int audit_format(const audit_log *a, time_t when, const char *operator_id, const char *command,
                 const char *serial, const char *aid, const char *result, char line[AUDIT_LINE_MAX],
                 size_t *line_len, char hash[AUDIT_HASH_HEX + 1], char *err, size_t err_cap);
void audit_close(audit_log *a);

typedef struct audit_report {
    uint64_t lines;            /* lines read and found good */
    uint64_t bad_line;         /* 1-based line of the first problem, 0 when none */
    char last_hash[AUDIT_HASH_HEX + 1];
    char why[200];
} audit_report;

/* Checks the whole chain, and the last hash against expect_last when it is
 * not NULL.  0 intact; 1 broken (r->bad_line and r->why say where and why);
 * -1 the file cannot be read (r->why). */
int audit_verify(const char *path, const char *expect_last, audit_report *r);

/* The hash of a line: hex SHA-256 of prev "\n" body.  0 or -1. */
int audit_hash(const char *prev, const char *body, size_t body_len, char out[AUDIT_HASH_HEX + 1]);

#endif
