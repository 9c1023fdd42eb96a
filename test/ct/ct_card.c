/* ct_card.c: the constant-time check of the card's PIN comparison
 * (mc_pin_equal, card/mc_pin.c), the ctgrind method of make ctcheck: the
 * stored PIN (all 12 bytes), its length and the presented PIN are marked
 * undefined, and valgrind memcheck reports any branch or memory index that
 * depends on them.  Equal and
 * different PINs of equal and different lengths are compared; only the
 * verdict is declassified, inside mc_pin_equal.
 *
 * The card's other secret comparisons go through common/, which ct_common.c
 * checks: host cryptogram cm_scp03_check_cryptogram; C-MAC
 * cm_scp03_cmac_verify (whole commands through cm_scp03_unwrap_command, and
 * mac_only in mc_apdu.c and stream_mac in mc_load.c alike); KCV
 * cm_scp03_keyset_parse.
 *
 * With the argument "leaky", an early-exit comparison of the same PINs runs
 * instead: memcheck must report it. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "mc_int.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))

static int failures;

static void check(const char *stored, const char *presented, bool expect)
{
    uint8_t s[12], p[12];
    size_t sl = strlen(stored), pl = strlen(presented);
    bool eq;

    memset(s, 0, sizeof s);
    memcpy(s, stored, sl);
    memcpy(p, presented, pl);
    /* The stored PIN, all 12 bytes of its record field, and its length are
     * the card's secrets; the presented length is the command's Lc. */
    SECRET(s, sizeof s);
    SECRET(&sl, sizeof sl);
    SECRET(p, pl);
    eq = mc_pin_equal(s, sl, p, pl);
    if (eq != expect) {
        printf("ct_card: FAILED %s vs %s\n", stored, presented);
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leaky") == 0) {
        uint8_t s[4] = { '1', '2', '3', '4' }, p[4] = { '1', '2', '3', '5' };
        int r = 1;
        size_t i;
        SECRET(s, sizeof s);
        for (i = 0; i < sizeof s; i++)
            if (s[i] != p[i]) {      /* the branch memcheck must report */
                r = 0;
                break;
            }
        VALGRIND_MAKE_MEM_DEFINED(&r, sizeof r);
        printf("ct_card: leaky comparison ran (%d)\n", r);
        return 0;
    }
    check("1234", "1234", true);
    check("1234", "1235", false);
    check("1234", "12345", false);
    check("123456789012", "123456789012", true);
    check("123456789012", "023456789012", false);
    check("9876", "987654321098", false);
    printf("ct_card: %s\n", failures ? "functional failures" : "PIN comparisons ran");
    return failures ? 1 : 0;
}
