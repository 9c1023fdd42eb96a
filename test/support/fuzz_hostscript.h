/* fuzz_hostscript.h: runs libmnap's API over a fuzz-driven puppet card
 * (fuzz_puppet.h) and checks every result; the host fuzzer's body.
 *
 * data: two selector bytes (which calls run, see fuzz_hostscript.c), then
 * the puppet's response records.  A violation prints what broke and aborts.
 * For corpus generation, auto_answer (may be NULL) answers once the records
 * run out, and the records used are copied to rec (rec_cap bytes, *rec_len
 * set; rec may be NULL). */
#ifndef FUZZ_HOSTSCRIPT_H
#define FUZZ_HOSTSCRIPT_H

#include <stddef.h>
#include <stdint.h>

void fz_host_run(const uint8_t *data, size_t size,
                 size_t (*auto_answer)(const uint8_t *, size_t, uint8_t *, size_t), uint8_t *rec,
                 size_t rec_cap, size_t *rec_len);

#endif
