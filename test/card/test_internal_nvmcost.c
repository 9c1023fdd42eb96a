/* test_internal_nvmcost.c: the NVM writes of the journaled commands and of
 * the floors of issue #16, from the simulator's counters (docs/nvm.md, "NVM
 * writes per operation" and "Journal residue").  A journaled command keeps
 * its own records in the journal after the commit (a copy of what is now at
 * home) and wipes the records of the transaction before it behind them: one
 * write per piece (split at page boundaries) that is not FF yet, so only a
 * transaction that journals less than the one before pays for a wipe.
 * VERIFY and APPEND RECORD use no journal and keep their floors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

typedef struct cost {
    uint64_t w, b;
} cost;

static uint64_t w0, b0;

static void mark(const ch_card *c)
{
    w0 = c->sc.sim.writes;
    b0 = c->sc.sim.bytes_written;
}

static cost taken(const ch_card *c, const char *what)
{
    cost k = {c->sc.sim.writes - w0, c->sc.sim.bytes_written - b0};
    print_message("%-40s %3llu writes, %5llu bytes\n", what, (unsigned long long)k.w,
                  (unsigned long long)k.b);
    return k;
}

static void expect(cost k, uint64_t w, uint64_t b)
{
    assert_int_equal(k.w, w);
    assert_int_equal(k.b, b);
}

/* Each command once on AP 1 (ch_ap_default(1)); the figures are those of
 * docs/nvm.md.  A slot record (153 bytes) is journaled as the 3 pages it
 * touches (192 bytes + a 14-byte header), its log entry by its own 27 bytes
 * (+ 14): LOAD AP, PUT KEY, RESET RETRY COUNTER and SET STATUS keep 247
 * bytes of records, CHANGE REFERENCE DATA 206, a one-page UPDATE BINARY 78. */
static void test_journaled_costs(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_keyset nk;
    static const char ub[] = "00D68100 40 "
                             "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
                             "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF";

    ch_ap_default(&ap, 1);
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);

    /* VERIFY, right PIN: two counter slots, no journal */
    mark(c);
    ASSERT_SW(ch_verify(c, "1234"), 0x9000);
    expect(taken(c, "VERIFY, right PIN"), 2, 16);

    /* APPEND RECORD, 8 bytes, cyclic EF: one slot write, no journal */
    mark(c);
    ASSERT_SW(ch_cmdx(c, "00E20028 08 1122334455667788", NULL), 0x9000);
    expect(taken(c, "APPEND RECORD, 8 bytes (cyclic EF)"), 1, 16);

    /* UPDATE BINARY of 64 bytes at offset 0 of EF 0101 (a 64-byte EF at
     * the region's page): its header with the mark (15), its page (64),
     * commit (16), home (64), clear (16); the load's 247 bytes of records
     * wiped behind its 78: pieces of 49, 64 and 64 bytes (the last one to
     * the page boundary) */
    mark(c);
    ASSERT_SW(ch_cmdx(c, ub, NULL), 0x9000);
    expect(taken(c, "UPDATE BINARY, 64 bytes, after LOAD AP"), 5 + 3, 175 + 177);
    /* again: nothing to wipe */
    mark(c);
    ASSERT_SW(ch_cmdx(c, ub, NULL), 0x9000);
    expect(taken(c, "UPDATE BINARY, 64 bytes, again"), 5, 175);

    /* CHANGE REFERENCE DATA: the try spent (8), then the new PIN's
     * transaction: slot record 3 pages + header with the mark, commit, 3
     * home pages, clear (1 + 3 + 1 + 3 + 1 writes, 15 + 192 + 16 + 192 + 16
     * bytes); no log entry; it keeps more than UPDATE BINARY did: no wipe */
    mark(c);
    ASSERT_SW(ch_cmdx(c, "00240081 09 04 31323334 35363738", NULL), 0x9000);
    expect(taken(c, "CHANGE REFERENCE DATA"), 1 + 9, 8 + 431);

    /* PUT KEY on the AP: slot record and KEY_CHANGED entry in one
     * transaction (12 writes, 499 bytes); no wipe */
    ch_make_keys(&nk, 0x3F, 0xC0, 16);
    mark(c);
    ASSERT_SW(ch_put_key(c, ap.keys.kvn, &nk, NULL), 0x9000);
    expect(taken(c, "PUT KEY (AP)"), 12, 499);
}

/* RESET RETRY COUNTER and SET STATUS (AM channel) after the load: the same
 * transaction shape as PUT KEY, a slot record and its log entry; they keep
 * as many bytes as the load did: no wipe. */
static void test_am_costs(void **state)
{
    ch_card *c = *state;

    ASSERT_SW(ch_open_am(c), 0x9000);
    mark(c);
    ASSERT_SW(ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0205 3131323233", -1), 0x9000);
    expect(taken(c, "RESET RETRY COUNTER"), 12, 499);
    mark(c);
    ASSERT_SW(ch_cmdx(c, "80F04083 07 4F05D392100001", NULL), 0x9000);
    expect(taken(c, "SET STATUS (AP)"), 12, 499);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journaled_costs, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_am_costs, ct_setup_ap, ct_teardown),
    };
    return cmocka_run_group_tests_name("nvmcost", tests, NULL, NULL);
}
