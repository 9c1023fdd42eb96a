/* fuzz_card.c: libFuzzer target for the card's APDU entry point
 * (mc_process), driven through test/support/fuzz_card.c.
 *
 * Input framing (docs/fuzzing.md):
 *   byte 0          start state, modulo 4: blank, active with APs A and B,
 *                   AM channel open, channel on A with the PIN verified
 *   then records    [ctl] [len] [len bytes]     (ctl bit 7: len is 2 bytes)
 *     ctl & 3 = 0   a command, wrapped by the harness's SCP03 host when it
 *                   has a channel open (plain otherwise), 61xx collected
 *               1   a command sent raw, exactly as given
 *               2   a harness operation, by its first byte modulo 10: 0 AM
 *                   channel (region keys, level by the next byte), 1 AM
 *                   channel with the transport keys, 2 channel on A (or C),
 *                   3 VERIFY A's current PIN, 4 PUT KEY to the region keys
 *                   (AREA SETUP), 5 load A or C, 6 power cycle, 7 warm reset,
 *                   8 tear the next command (power cut at NVM write
 *                   1 + byte1 % 32, after byte2 bytes of it), 9 LOAD AP of
 *                   the rest of the record (after byte1: 0 plain, else ISO
 *                   chaining in 16 * byte1-byte segments) as an image, with
 *                   a valid key set (A1) put in by the harness
 *               3   a command wrapped and then sent in ISO chaining segments
 *                   of 8 * (1 + (ctl >> 2 & 31)) bytes
 * A truncated last record is sent as far as it goes.  After every command
 * the invariants of test/support/fuzz_inv.c are checked; at the end the card
 * is power-cycled and must come back consistent and unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_card.h"

#define MAX_RECORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 1;
    unsigned records = 0;

    if (size == 0)
        return 0;
    fz_card_begin(data[0]);
    while (pos + 2 <= size && records++ < MAX_RECORDS) {
        uint8_t ctl = data[pos++];
        size_t len = data[pos++];
        uint8_t *cmd;

        if ((ctl & 0x80) && pos < size)
            len = len << 8 | data[pos++];
        if (len > size - pos)
            len = size - pos;
        /* An exact-size heap copy: AddressSanitizer sees any read past it. */
        cmd = malloc(len ? len : 1);
        if (cmd == NULL)
            abort();
        memcpy(cmd, data + pos, len);
        pos += len;
        switch (ctl & 3) {
        case 0:
            (void)fz_card_apdu(FZ_SEND_WRAPPED, cmd, len, 0);
            break;
        case 1:
            (void)fz_card_apdu(FZ_SEND_RAW, cmd, len, 0);
            break;
        case 2:
            fz_card_op(cmd, len);
            break;
        default:
            (void)fz_card_apdu(FZ_SEND_CHAINED, cmd, len, 8u * (1u + ((ctl >> 2) & 31u)));
            break;
        }
        free(cmd);
    }
    fz_card_end();
    return 0;
}
