/* fuzz_host.c: libFuzzer target for libmnap's response handling, across the
 * whole API, against a transport whose answers come from the input
 * (test/support/fuzz_puppet.h describes the response records; the script
 * and its checks are in test/support/fuzz_hostscript.c).
 *
 * Input: two selector bytes, then response records.  Selector bit i runs
 * group i of the script in fuzz_hostscript.c: 0 area info and a raw GET
 * DATA (mnap_transmit, mnap_command; an answer that is not DF20 goes back as
 * a raw command through mnap_transmit), 1 AM open, 2 list, 3 read log, 4 load,
 * 5 unblock / suspend / delete / lock / unlock / resume, 6 AP open, 7 PIN
 * status, 8 verify, 9 read binary, 10 read record, 11 select EF and the
 * three writes, 12 change PIN, key rotations, AREA SETUP; close always.
 * Bit 13 picks small LOAD AP blocks, a C-MAC-only AP session and adds
 * TERMINATE to group 5; bit 14 turns the trace on, into a checking callback;
 * bit 15 makes the key set a master set (diversified per card), asks for
 * 1024-byte LOAD AP blocks (chained when the card's limit is lower) and adds
 * a reconnect.
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
