/* fuzz_host.c: libFuzzer target for libmnap's response handling, across the
 * whole API, against a transport whose answers come from the input
 * (test/support/fuzz_puppet.h describes the response records; the script
 * and its checks are in test/support/fuzz_hostscript.c).
 *
 * Input: two selector bytes, then response records.  Selector bit i runs
 * call i of the script in fuzz_hostscript.c (info, AM open, list, read log, load, unblock /
 * suspend / delete, AP open, PIN status, verify, read binary, read record,
 * select EF, writes, change PIN, key rotation, close/reconnect); bit 15 of
 * the selectors makes the key set a master set (diversified per card) and
 * adds a reconnect; bit 13 picks small LOAD AP blocks and a C-MAC-only AP
 * session; bit 14 turns the trace on, into a checking callback.
 *
 * Checked: no crash, leak or out-of-bounds access (ASan, LSan, UBSan); every
 * return value is a named mnap_err; outputs stay inside the caller's
 * buffers and limits; a session never opens on a raw (unauthenticated)
 * INITIALIZE UPDATE answer; no call succeeds after consuming a forged
 * (R-MAC-less) answer to a wrapped command in an R-MAC session; the puppet
 * aborts on any malformed command APDU; the trace never shows the PIN. */
#include <stdint.h>

#include "fuzz_hostscript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_host_run(data, size, NULL, NULL, 0, NULL);
    return 0;
}
