/* test_proto_corners.c: the corner cases of PROTOCOL.md §2-§5 and §9 that an
 * independent implementation of PROTOCOL.md answered differently from the
 * card (issue #14 item 5), as tables: each scenario is a fixture and a list
 * of steps (send raw, send through the channel, select, open or initiate a
 * channel, power-cycle ...) with the exact status word, and where it matters
 * the response length, of each.  A step's line is printed when it fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

enum {
    END = 0,
    RAW,      /* apdu sent as it is */
    CMD,      /* apdu sent through the host's channel (wrapped when open) */
    SEL_AM,   /* SELECT the AM */
    SEL_AP,   /* SELECT AP n (apdu: "n") */
    OPEN_AM,  /* AM channel at 33 with the region keys */
    OPEN_AP,  /* AP n channel at 33 */
    IU_AM,    /* INITIALIZE UPDATE on the selected AM with the region keys */
    IU_AP,    /* INITIALIZE UPDATE on the selected AP n with its keys */
    EA,       /* EXTERNAL AUTHENTICATE built by the host after its IU; apdu: level */
    FORGET,   /* the host forgets its channel */
    POWER,    /* power cycle: nothing selected, no channel */
    LOAD,     /* load default AP n through the open AM channel */
};

typedef struct step {
    int op;
    const char *apdu;
    uint16_t sw;
    int len;              /* response data length, -1: not checked */
} step;

#define N -1
/* EXTERNAL AUTHENTICATE at level 33 with any cryptogram and MAC */
#define EA_ANY "84823300 10 00112233445566778899AABBCCDDEEFF"

static void run(ch_card *c, const char *name, const step *s)
{
    cm_keyset rk;
    ch_ap ap;
    ch_rsp r;
    uint16_t sw;
    unsigned i;

    ch_region_keys(&rk);
    for (i = 0; s[i].op != END; i++) {
        const step *t = &s[i];
        unsigned n = t->apdu ? (unsigned)strtoul(t->apdu, NULL, 16) : 1;
        r.len = 0;
        switch (t->op) {
        case RAW: sw = ch_rawx(c, t->apdu, &r); break;
        case CMD: sw = ch_cmdx(c, t->apdu, &r); break;
        case SEL_AM: sw = ch_select_am(c); break;
        case SEL_AP:
            ch_ap_default(&ap, n);
            sw = ch_select(c, ap.aid, ap.aid_len, NULL);
            break;
        case OPEN_AM: sw = ch_open_am(c); break;
        case OPEN_AP:
            ch_ap_default(&ap, n);
            sw = ch_open_ap(c, &ap, 0x33);
            break;
        case IU_AM: sw = ch_initialize_update(c, 0, &rk, NULL); break;
        case IU_AP:
            ch_ap_default(&ap, n);
            sw = ch_initialize_update(c, 0, &ap.keys, NULL);
            break;
        case EA: sw = ch_external_authenticate(c, (uint8_t)n); break;
        case FORGET: ch_forget(c); sw = 0x9000; break;
        case POWER: sw = ch_power_cycle(c) == MC_OK ? 0x9000 : 0x6581; break;
        case LOAD:
            ch_ap_default(&ap, n);
            sw = ch_load_ap(c, &ap);
            break;
        default: fail(); return;
        }
        if (sw != t->sw || (t->len >= 0 && r.len != (size_t)t->len)) {
            print_error("%s, step %u (op %d %s): SW %04X length %zu, expected %04X length %d\n",
                        name, i, t->op, t->apdu ? t->apdu : "", sw, r.len, t->sw, t->len);
            fail();
        }
    }
}

/* --- class first (§2, §9) --------------------------------------------- */
static const step class_first[] = {
    {RAW, "14E80000 03 0102", 0x6884, N},        /* chaining on an ISO-class E8 */
    {RAW, "10E80AB3 000005", 0x6884, N},
    {RAW, "14B00000 00", 0x6884, N},
    {RAW, "C0CADF20 00", 0x6881, N},
    {RAW, "C4CADF20 00", 0x6881, N},
    {RAW, "CFCADF20 00", 0x6881, N},
    {RAW, "E0CADF20 00", 0x6881, N},
    {RAW, "E8B00000 00", 0x6881, N},
    {RAW, "EFCADF20 00", 0x6881, N},
    {RAW, "D0CADF20 00", 0x6E00, N},
    {RAW, "F0CADF20 00", 0x6E00, N},
    /* a class refusal beats a framing error */
    {RAW, "C0CADF20 05 01", 0x6881, N},
    /* and ends a pending initiation (§3) */
    {SEL_AM, NULL, 0x9000, N},
    {IU_AM, NULL, 0x9000, N},
    {RAW, "90CADF20 00", 0x6884, N},
    {EA, "33", 0x6985, N},
    {IU_AM, NULL, 0x9000, N},
    {RAW, "C0CADF20 00", 0x6881, N},
    {EA, "33", 0x6985, N},
    {IU_AM, NULL, 0x9000, N},
    {RAW, "A0CADF20 00", 0x6E00, N},
    {EA, "33", 0x6985, N},
    /* so does a framing refusal */
    {IU_AM, NULL, 0x9000, N},
    {RAW, "80CADF20 0000", 0x6700, N},
    {EA, "33", 0x6985, N},
    /* and an instruction refusal */
    {IU_AM, NULL, 0x9000, N},
    {RAW, "80120000", 0x6D00, N},
    {EA, "33", 0x6985, N},
    /* GET RESPONSE does not */
    {IU_AM, NULL, 0x9000, N},
    {RAW, "00C00000 00", 0x6985, N},
    {EA, "33", 0x9000, N},
    {CMD, "80CADF20 00", 0x9000, N},
    {END, NULL, 0, N},
};

/* Every CLA of C0-CF and E0-EF is 6881, whatever the instruction. */
static void test_gp_proprietary_classes(void **state)
{
    ch_card *c = *state;
    uint8_t apdu[5] = {0, 0xCA, 0xDF, 0x20, 0x00};
    for (unsigned cla = 0xC0; cla <= 0xEF; cla++) {
        if (cla >= 0xD0 && cla <= 0xDF)
            continue;
        apdu[0] = (uint8_t)cla;
        apdu[1] = 0xCA;
        ASSERT_SW(ch_raw(c, apdu, 5, NULL), 0x6881);
        apdu[1] = 0xB0;
        ASSERT_SW(ch_raw(c, apdu, 5, NULL), 0x6881);
    }
}

/* --- an instruction outside its class is unknown (§2) ------------------ */
static const step ins_class[] = {
    {SEL_AP, "1", 0x9000, N},
    {RAW, "80B00000 04", 0x6D00, N},
    {RAW, "80B08100 04", 0x6D00, N},
    {RAW, "80A40400 00", 0x6D00, N},
    {RAW, "80200081 00", 0x6D00, N},
    {RAW, "80C00000 00", 0x6D00, N},
    {RAW, "00CADF20 00", 0x6D00, N},
    {RAW, "00F24002 02 4F00 00", 0x6D00, N},
    {RAW, "00E88000 05 4F03010203", 0x6D00, N},
    {RAW, "00820000 10 00112233445566778899AABBCCDDEEFF", 0x6D00, N},
    {RAW, "00500000 08 0102030405060708 00", 0x6D00, N},
    /* with SM and no channel: secure messaging first */
    {RAW, "04820000 10 00112233445566778899AABBCCDDEEFF", 0x6982, N},
    {RAW, "04500000 08 0102030405060708 00", 0x6982, N},
    /* in a channel, wrapped: the C-MAC verifies, then 6D00, channel kept */
    {OPEN_AP, "1", 0x9000, N},
    {CMD, "00820000 10 00112233445566778899AABBCCDDEEFF", 0x6D00, N},
    {CMD, "00500000 08 0102030405060708 00", 0x6D00, N},
    {CMD, "80B00000 04", 0x6D00, N},
    {CMD, "80200081 00", 0x6D00, N},
    {CMD, "00B08100 04", 0x9000, 4},
    /* plain in the channel: missing SM first (closes it) */
    {RAW, "80B08100 04", 0x6982, N},
    {FORGET, NULL, 0x9000, N},
    {RAW, "00B08100 04", 0x6982, N},
    {END, NULL, 0, N},
};

/* --- EXTERNAL AUTHENTICATE (§3, §9) ------------------------------------ */
static const step ext_auth[] = {
    /* no pending initiation: 6985 whatever is selected */
    {POWER, NULL, 0x9000, N},
    {RAW, EA_ANY, 0x6985, N},
    {SEL_AM, NULL, 0x9000, N},
    {RAW, EA_ANY, 0x6985, N},
    {SEL_AP, "1", 0x9000, N},
    {RAW, EA_ANY, 0x6985, N},
    /* its own order: level › length › pending */
    {RAW, "84820200 10 00112233445566778899AABBCCDDEEFF", 0x6A86, N},
    {RAW, "84823301 10 00112233445566778899AABBCCDDEEFF", 0x6A86, N},
    {RAW, "84820200 08 0011223344556677", 0x6A86, N},
    {RAW, "84823300 08 0011223344556677", 0x6700, N},
    /* a suspended AP: no pending initiation is possible, 6985 */
    {OPEN_AM, NULL, 0x9000, N},
    {CMD, "80F04083 07 4F05D392100001", 0x9000, N},
    {SEL_AP, "1", 0x9000, N},
    {RAW, EA_ANY, 0x6985, N},
    {OPEN_AM, NULL, 0x9000, N},
    {CMD, "80F04007 07 4F05D392100001", 0x9000, N},
    /* in an open channel: 6985, the channel stays as it is */
    {RAW, EA_ANY, 0x6985, N},
    {CMD, "80CADF20 00", 0x9000, N},
    /* CLA 80: a command without SM, 6982; it ends a pending initiation */
    {SEL_AM, NULL, 0x9000, N},
    {IU_AM, NULL, 0x9000, N},
    {RAW, "80823300 10 00112233445566778899AABBCCDDEEFF", 0x6982, N},
    {EA, "33", 0x6985, N},
    {RAW, "80823300 10 00112233445566778899AABBCCDDEEFF", 0x6982, N},
    {RAW, "84CADF20 08 0102030405060708 00", 0x6982, N},    /* no channel opened */
    /* ... and an open channel */
    {OPEN_AM, NULL, 0x9000, N},
    {RAW, "80823300 10 00112233445566778899AABBCCDDEEFF", 0x6982, N},
    {CMD, "80CADF20 00", 0x6982, N},
    {FORGET, NULL, 0x9000, N},
    /* a level below the minimum, then the pending initiation is over */
    {SEL_AP, "1", 0x9000, N},
    {IU_AP, "1", 0x9000, N},
    {EA, "13", 0x6982, N},
    {RAW, EA_ANY, 0x6985, N},
    /* a wrong level ends a pending initiation too */
    {IU_AP, "1", 0x9000, N},
    {RAW, "84820200 10 00112233445566778899AABBCCDDEEFF", 0x6A86, N},
    {EA, "33", 0x6985, N},
    {IU_AP, "1", 0x9000, N},
    {EA, "33", 0x9000, N},
    {END, NULL, 0, N},
};

/* The same in a BLANK area with nothing selected (was 6986). */
static const step ext_auth_blank[] = {
    {RAW, EA_ANY, 0x6985, N},
    {SEL_AM, NULL, 0x9000, N},
    {RAW, EA_ANY, 0x6985, N},
    {END, NULL, 0, N},
};

/* --- selection before channel (§9) ------------------------------------- */
static const step select_before_channel[] = {
    {SEL_AP, "1", 0x9000, N},
    {RAW, "00B00000 04", 0x6986, N},
    {RAW, "00D60000 01 00", 0x6986, N},
    {RAW, "00E20000 10 00000000000000000000000000000000", 0x6986, N},
    {RAW, "00B20104 00", 0x6986, N},
    {RAW, "00DC0104 10 00000000000000000000000000000000", 0x6986, N},
    /* with an SFI the EF is found later: the channel is what is missing */
    {RAW, "00B08100 04", 0x6982, N},
    {RAW, "00D68100 01 00", 0x6982, N},
    {RAW, "00E20020 10 00000000000000000000000000000000", 0x6982, N},
    {RAW, "00B20124 00", 0x6982, N},
    /* in the channel without a current EF: still 6986 */
    {OPEN_AP, "1", 0x9000, N},
    {CMD, "00B00000 04", 0x6986, N},
    {CMD, "00A4020C 02 0101", 0x9000, N},
    {CMD, "00B00000 04", 0x9000, 4},
    {END, NULL, 0, N},
};

/* --- the AM must be selected for its commands (§4, §9) ----------------- */
static const step am_selected[] = {
    {SEL_AP, "1", 0x9000, N},
    {RAW, "80CADF20 00", 0x6986, N},
    {POWER, NULL, 0x9000, N},
    {RAW, "80CADF20 00", 0x6986, N},
    {RAW, "80CA9F7F 00", 0x6986, N},
    {SEL_AM, NULL, 0x9000, N},
    {RAW, "80CADF20 00", 0x9000, 21},
    {OPEN_AP, "1", 0x9000, N},
    {CMD, "80CADF20 00", 0x6986, N},
    {CMD, "80CA00E0 00", 0x6986, N},
    {CMD, "80F24002 02 4F00 00", 0x6986, N},
    {CMD, "80F28002 02 4F00 00", 0x6986, N},
    {CMD, "00B08100 04", 0x9000, 4},        /* the AP channel is still open */
    {END, NULL, 0, N},
};

/* In a TERMINATED area the AM's commands are 6985 whatever is selected;
 * GET DATA DF20 still answers with the AM selected. */
static const step terminated[] = {
    {CMD, "80F080FF", 0x9000, 0},
    {POWER, NULL, 0x9000, N},
    {RAW, "80500000 08 0102030405060708 00", 0x6985, N},
    {RAW, "80D8FF81 01 00", 0x6985, N},
    {RAW, "80F24002 02 4F00 00", 0x6985, N},
    {RAW, "80F28002 02 4F00 00", 0x6985, N},
    {RAW, "80CA00E0 00", 0x6985, N},
    {RAW, "80CADF20 00", 0x6986, N},
    {RAW, EA_ANY, 0x6985, N},
    {SEL_AM, NULL, 0x9000, N},
    {RAW, "80500000 08 0102030405060708 00", 0x6985, N},
    {RAW, "80E80000 05 4F03010203", 0x6985, N},
    {RAW, "80CADF20 00", 0x9000, 21},
    {RAW, EA_ANY, 0x6985, N},
    {END, NULL, 0, N},
};

/* --- record 00 (§5) ---------------------------------------------------- */
static const step record_zero[] = {
    {POWER, NULL, 0x9000, N},
    {RAW, "00B20004 00", 0x6A86, N},
    {RAW, "00B20004", 0x6A86, N},                     /* P1/P2 before length */
    {SEL_AP, "1", 0x9000, N},
    {RAW, "00B20024 00", 0x6A86, N},
    {RAW, "00DC0024 10 00000000000000000000000000000000", 0x6A86, N},
    {OPEN_AP, "1", 0x9000, N},
    {CMD, "00B20024 00", 0x6A86, N},
    {CMD, "00B2002C 00", 0x6A86, N},
    {CMD, "00DC0024 10 00000000000000000000000000000000", 0x6A86, N},
    {CMD, "00B20124 00", 0x6A83, N},                   /* record 1, empty EF */
    {END, NULL, 0, N},
};

/* --- GET STATUS: AID prefix, continuation (§4) ------------------------- */
static const step get_status[] = {
    {LOAD, "2", 0x9000, N},
    {LOAD, "3", 0x9000, N},
    {CMD, "80F24002 02 4F00 00", 0x9000, 72},
    {CMD, "80F24002 05 4F03D39210 00", 0x9000, 72},
    {CMD, "80F24002 07 4F05D392100002 00", 0x9000, 24},
    {CMD, "80F24002 06 4F04D3921000 00", 0x9000, 72},
    {CMD, "80F24002 04 4F02D393 00", 0x6A88, N},
    {CMD, "80F24002 08 4F06D39210000201 00", 0x6A88, N},     /* longer than the AID */
    {CMD, "80F24002 13 4F11 D3921000020000000000000000000000 00 00", 0x6A80, N},
    {CMD, "80F24002 06 4F05D3921000 00", 0x6A80, N},        /* 4F length > data */
    {CMD, "80F24002 01 4F 00", 0x6A80, N},
    {CMD, "80F24002 02 4E00 00", 0x6A80, N},
    /* P2 03 with no pending continuation */
    {CMD, "80F24003 02 4F00 00", 0x6A88, N},
    /* a continuation, then another GET STATUS ends it */
    {CMD, "80F24002 02 4F00 30", 0x6310, 48},
    {CMD, "80F28002 02 4F00 00", 0x9000, 20},
    {CMD, "80F24003 02 4F00 00", 0x6A88, N},
    {CMD, "80F24002 02 4F00 30", 0x6310, 48},
    {CMD, "80F22002 02 4F00 00", 0x6A88, N},
    {CMD, "80F24003 02 4F00 00", 0x6A88, N},
    {CMD, "80F24002 02 4F00 30", 0x6310, 48},
    {CMD, "80F28003 02 4F00 00", 0x6A86, N},
    {CMD, "80F24003 02 4F00 00", 0x6A88, N},
    /* a continuation of a filtered list */
    {CMD, "80F24002 06 4F04D3921000 2F", 0x6310, 24},
    {CMD, "80F24003 06 4F04D3921000 2F", 0x6310, 24},
    {CMD, "80F24003 06 4F04D3921000 2F", 0x9000, 24},
    {CMD, "80F24003 06 4F04D3921000 2F", 0x6A88, N},
    {END, NULL, 0, N},
};

/* --- SET STATUS TERMINATED ends the channel after its answer (§4) ------ */
static const step terminate_ends_channel[] = {
    {CMD, "80F0807F", 0x9000, 0},                      /* LOCKED keeps it */
    {CMD, "80CADF20 00", 0x9000, N},
    {CMD, "80F080FF", 0x9000, 0},                      /* answered with its R-MAC */
    {CMD, "80CADF20 00", 0x6982, N},                   /* no channel any more */
    {FORGET, NULL, 0x9000, N},
    {RAW, "80CADF20 00", 0x9000, 21},                  /* the open part only */
    {END, NULL, 0, N},
};

/* --- LOAD AP block order: after area state and channel (§4, §9) -------- */
static const step load_order_blank[] = {
    {SEL_AM, NULL, 0x9000, N},
    {RAW, "80E80001 05 4F03010203", 0x6985, N},
    {RAW, "80E88005 05 4F03010203", 0x6985, N},
    {RAW, "80E80200 05 4F03010203", 0x6A86, N},        /* P1 is still a P1/P2 check */
    {END, NULL, 0, N},
};

static const step load_order[] = {
    {SEL_AM, NULL, 0x9000, N},
    {RAW, "80E80001 05 4F03010203", 0x6982, N},
    {RAW, "80E80200 05 4F03010203", 0x6A86, N},
    {OPEN_AM, NULL, 0x9000, N},
    {CMD, "80E80001 05 4F03010203", 0x6A86, N},
    {CMD, "80E80000 05 4F03010203", 0x9000, N},        /* block 00 starts a load */
    {CMD, "80E80002 05 4F03010203", 0x6A86, N},        /* out of order: dropped */
    {CMD, "80E88001 05 4F03010203", 0x6A86, N},
    {CMD, "80E80000 05 4F03010203", 0x9000, N},
    {CMD, "80E80000 05 4F03010203", 0x6A86, N},        /* a repeated 00 too */
    /* from an AP: the AM is not selected */
    {OPEN_AP, "1", 0x9000, N},
    {CMD, "80E80001 05 4F03010203", 0x6986, N},
    {END, NULL, 0, N},
};

/* A chained LOAD AP with SM and no channel is joined first, then refused at
 * its last segment (the card used to refuse the first). */
static const step chain_sm_no_channel[] = {
    {SEL_AM, NULL, 0x9000, N},
    {RAW, "94E88000 08 0102030405060708", 0x9000, 0},
    {RAW, "94E88000 08 0102030405060708", 0x9000, 0},
    {RAW, "84E88000 08 0102030405060708", 0x6982, N},
    /* plain, no channel: the same, the channel missing */
    {RAW, "90E88000 05 4F03010203", 0x9000, 0},
    {RAW, "80E88000 05 4F03010203", 0x6982, N},
    /* an interrupted chain is over: its last segment alone is a new command */
    {RAW, "94E88000 08 0102030405060708", 0x9000, 0},
    {RAW, "80CADF20 00", 0x9000, N},
    {RAW, "84E88000 08 0102030405060708", 0x6982, N},
    {END, NULL, 0, N},
};

#define SCENARIO(fn, table)                                                                \
    static void fn(void **state) { run(*state, #table, table); }

SCENARIO(test_class_first, class_first)
SCENARIO(test_ins_class, ins_class)
SCENARIO(test_ext_auth, ext_auth)
SCENARIO(test_ext_auth_blank, ext_auth_blank)
SCENARIO(test_select_before_channel, select_before_channel)
SCENARIO(test_am_selected, am_selected)
SCENARIO(test_terminated, terminated)
SCENARIO(test_record_zero, record_zero)
SCENARIO(test_get_status, get_status)
SCENARIO(test_terminate_ends_channel, terminate_ends_channel)
SCENARIO(test_load_order_blank, load_order_blank)
SCENARIO(test_load_order, load_order)
SCENARIO(test_chain_sm_no_channel, chain_sm_no_channel)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_first, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_gp_proprietary_classes, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ins_class, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ext_auth, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_ext_auth_blank, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_select_before_channel, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_am_selected, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_terminated, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_record_zero, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_get_status, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_terminate_ends_channel, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_order_blank, ct_setup_blank, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_order, ct_setup_ap, ct_teardown),
        cmocka_unit_test_setup_teardown(test_chain_sm_no_channel, ct_setup_active, ct_teardown),
    };
    return cmocka_run_group_tests_name("proto_corners", tests, NULL, NULL);
}
