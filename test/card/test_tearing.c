/* test_tearing.c: PROTOCOL.md §8 atomicity under power loss, black-box.
 *
 * Each scenario is a case of the one tear runner (test/support/tear_runner.h,
 * which tears any port through card/port_tear.h).
 * For each scenario (area setup, multi-block AP load, AP delete, VERIFY
 * wrong and right, CHANGE REFERENCE DATA, PUT KEY, UPDATE BINARY, UPDATE
 * RECORD, APPEND RECORD on a full cyclic EF, INITIALIZE UPDATE, SET STATUS
 * of an AP and of the area (lock, terminate), RESET RETRY COUNTER, a failed
 * EXTERNAL AUTHENTICATE (its AUTH_FAIL entry), a chained multi-block load, a
 * load dropped by another SELECT, a load refused at its last block for its
 * AID or a bad image) a dry run counts the NVM writes of the command and
 * records the state before and after it (mc_debug_dump, which leaves out
 * TEAR_RECOVERED entries).  Then for every write N and K = all, 0, half and
 * all-but-one bytes of it (every byte for the record writes and the load
 * scenarios), the card is brought back to the same starting
 * point, the power is cut there (mc_port_tear_arm), the card restarts, and:
 *   - its state equals the before or the after state, or, for VERIFY and
 *     CHANGE REFERENCE DATA, the before state with only the try counter
 *     decremented (checked through GET STATUS and the security log of a
 *     copy of the card, since the dump's encoding is the runtime's own);
 *   - it still accepts a normal command sequence (AM channel, GET STATUS,
 *     log, AP channel, a READ BINARY).
 * INITIALIZE UPDATE's partial state ("before with only the sequence counter
 * advanced") is its after state.  The number of cut points is printed. */
/* A load that did not happen (cut before its commit, dropped, refused) must
 * also leave no byte run of its image's EF content, PIN or keys in NVM: its
 * staged space is wiped, by recovery when the cut came first.
 * Journal residue (docs/nvm.md): before and after every scenario, and after
 * every cut and restart, each key and each distinctive PIN of the scenarios
 * is in the data space at most once (its live slot or area record) and in
 * the store's part before it (the journal) at most once (the records of the
 * last committed transaction, a copy of what is at home); a new one (PUT
 * KEY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, the load) is nowhere at
 * all in a before state, a replaced or deleted one (PUT KEY, DELETE,
 * TERMINATE) nowhere in an after state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "tear_models.h"

/* --- the starting card ------------------------------------------------- */

static ch_ap ap1, ap2, ap3;
/* AP 2's EF 0101 content: no other byte run of the card looks like it, so a
 * deleted AP 2 must leave no copy of it anywhere in NVM. */
static const uint8_t ap2_secret[32] = "AP2 private data: 0123456789ABC";
/* AP 3 (loaded, dropped or refused by the load scenarios): its EF 0101
 * content, PIN and keys are no byte run of anything else on the card, so a
 * load that did not happen must leave none of them in NVM (docs/nvm.md, "LOAD
 * AP written once"). */
static const uint8_t ap3_secret[32] = "AP3 staged content: LOADONCE #3";
#define AP3_PIN "86420975"
static cm_keyset region, transport, ap1_new, am_new;
static uint8_t *base_blank, *base_active;

enum partial { PARTIAL_NONE, PARTIAL_PIN_TRY };

typedef struct scenario {
    const char *name;
    const uint8_t *const *base;       /* NVM image to start from */
    uint16_t (*prepare)(ch_card *c);  /* channel etc.: RAM state before the command */
    uint16_t (*run)(ch_card *c);      /* the command(s) under test */
    uint16_t expect_sw;
    enum partial partial;
} scenario;

/* --- preparations and commands ----------------------------------------- */

static uint16_t prep_transport(ch_card *c)
{
    return ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0xFF, &transport, 0x33);
}
static uint16_t prep_am(ch_card *c) { return ch_open_am(c); }
static uint16_t prep_ap1(ch_card *c) { return ch_open_ap(c, &ap1, 0x33); }
static uint16_t prep_select_ap1(ch_card *c) { return ch_select(c, ap1.aid, ap1.aid_len, NULL); }

static uint16_t run_area_setup(ch_card *c) { return ch_put_key(c, 0xFF, &region, NULL); }

static uint16_t run_load(ch_card *c)
{
    static uint8_t img[CH_IMAGE_MAX];
    size_t n = ch_build_image(c, region.dek, region.key_len, &ap3, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    /* several blocks */
    return ch_load_image(c, img, n, 160, 0);
}

/* AP 3's image in blocks of 160 bytes up to (not including) block stop, or
 * all of it (stop 0); aid5: its AID's last byte replaced (a clash); bogus: a
 * TLV of an unknown tag added at its end (a bad image). */
static uint16_t load_ap3(ch_card *c, unsigned stop, int aid5, bool bogus)
{
    static uint8_t img[CH_IMAGE_MAX], apdu[256];
    static ch_ap ap;
    size_t n, an, i, k;
    uint16_t sw = CH_SW_HARNESS;

    ap = ap3;
    if (aid5 >= 0)
        ap.aid[4] = (uint8_t)aid5;
    n = ch_build_image(c, region.dek, region.key_len, &ap, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    if (bogus) {
        img[n++] = 0x99;
        img[n++] = 0x00;
    }
    for (i = 0; i * 160 < n && (stop == 0 || i < stop); i++) {
        k = n - i * 160 < 160 ? n - i * 160 : 160;
        an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, (i + 1) * 160 >= n ? 0x80 : 0x00,
                     (uint8_t)i, img + i * 160, k, -1);
        sw = ch_cmd(c, apdu, an, NULL);
        if (sw != 0x9000)
            return sw;
    }
    return sw;
}

/* Dropped: two blocks staged, then another SELECT. */
static uint16_t run_load_dropped(ch_card *c)
{
    uint16_t sw = load_ap3(c, 2, -1, false);
    return sw != 0x9000 ? sw : ch_select_am(c);
}
/* Refused at the last block: AP 1's AID (6A89), a bad image (6A80). */
static uint16_t run_load_aid_exists(ch_card *c) { return load_ap3(c, 0, 0x01, false); }
static uint16_t run_load_bad_image(ch_card *c) { return load_ap3(c, 0, -1, true); }

static uint16_t run_delete(ch_card *c) { return ch_cmdx(c, "80E40000 07 4F05D392100002", NULL); }
static uint16_t run_verify_wrong(ch_card *c) { return ch_verify(c, "9999"); }
static uint16_t run_verify_right(ch_card *c) { return ch_verify(c, "1234"); }
/* The new PIN 9753: no other byte run of the card looks like it. */
#define NEW_PIN "9753"
static uint16_t run_change(ch_card *c)
{
    return ch_cmdx(c, "00240081 09 04 31323334 39373533", NULL);
}
static uint16_t run_put_key(ch_card *c) { return ch_put_key(c, ap1.keys.kvn, &ap1_new, NULL); }
static uint16_t run_put_key_am(ch_card *c) { return ch_put_key(c, 0x01, &am_new, NULL); }
static uint16_t run_update_binary(ch_card *c)
{
    return ch_cmdx(c, "00D68100 40 "
                      "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
                      "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF",
                   NULL);
}
static uint16_t run_update_record(ch_card *c)
{
    return ch_cmdx(c, "00DC0224 10 55555555555555555555555555555555", NULL);
}
static uint16_t run_append_cyclic(ch_card *c)
{
    return ch_cmdx(c, "00E20028 08 4444444444444444", NULL);
}
static uint16_t run_append_linear(ch_card *c)
{
    return ch_cmdx(c, "00E20020 10 03030303030303030303030303030303", NULL);
}
/* A record of 100 bytes (AP 1's EF 0203, SFI 7): its slot of 108 bytes takes
 * two pages, between a visible slot and an empty one, and the next EF's data
 * follows the EF on the next page. */
static uint16_t append_big(ch_card *c, uint8_t fill)
{
    uint8_t data[100], apdu[128];
    size_t n;
    memset(data, fill, sizeof(data));
    n = ch_apdu(apdu, sizeof(apdu), 0x00, 0xE2, 0x00, 7 << 3, data, sizeof(data), -1);
    return ch_cmd(c, apdu, n, NULL);
}
static uint16_t run_append_big(ch_card *c) { return append_big(c, 0x77); }
/* Record EFs commit their records themselves (docs/nvm.md): these start
 * points put the spare where each rule of mc_rec_scan finds it. */
static uint16_t prep_ap1_cyclic_all_slots(ch_card *c)
{
    /* a fourth record: every slot valid, the spare is the oldest */
    uint16_t sw = prep_ap1(c);
    return sw != 0x9000 ? sw : ch_cmdx(c, "00E20028 08 3434343434343434", NULL);
}
static uint16_t prep_ap1_stale(ch_card *c)
{
    /* record 2 updated: its old version is a stale slot, the spare */
    uint16_t sw = prep_ap1(c);
    return sw != 0x9000 ? sw : ch_cmdx(c, "00DC0224 10 66666666666666666666666666666666", NULL);
}
static uint16_t run_iu(ch_card *c) { return ch_initialize_update(c, 0, &ap1.keys, NULL); }
static uint16_t run_set_status(ch_card *c)
{
    return ch_cmdx(c, "80F04083 07 4F05D392100001", NULL);
}
static uint16_t run_lock(ch_card *c) { return ch_cmdx(c, "80F0807F", NULL); }
static uint16_t run_terminate(ch_card *c) { return ch_cmdx(c, "80F080FF", NULL); }

/* AUTH_FAIL is one of the writes a refused command must make (§8). */
static uint16_t prep_iu_am(ch_card *c)
{
    uint16_t sw = ch_select_am(c);
    return sw != 0x9000 ? sw : ch_initialize_update(c, 0, &region, NULL);
}
static uint16_t run_bad_ea(ch_card *c)
{
    uint8_t bad[8] = {0}, apdu[21] = {0x84, 0x82, 0x33, 0x00, 0x10};
    if (cm_scp03_external_auth(&c->scp, 0x33, bad, apdu + 5) != 0)
        return CH_SW_HARNESS;
    return ch_raw(c, apdu, sizeof(apdu), NULL);
}

/* A big AP (6000-byte EF) in blocks of 3000 bytes sent as chained segments. */
static uint16_t run_load_chained(ch_card *c)
{
    static uint8_t img[CH_IMAGE_MAX], big[6000];
    static ch_ap ap;
    size_t n;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 13 + 7);
    ch_ap_default(&ap, 3);
    ap.efs[0].size = sizeof(big);
    ap.efs[0].content = big;
    ap.efs[0].content_len = sizeof(big);
    n = ch_build_image(c, region.dek, region.key_len, &ap, img, sizeof(img));
    if (n == 0)
        return CH_SW_HARNESS;
    return ch_load_image(c, img, n, 3000, 1000);
}

#define RRC_PIN "11223"
static uint16_t run_rrc(ch_card *c)
{
    return ch_cmdl(c, NULL, "802C0081", "4F05D392100001 DF0205 3131323233", -1);
}

static const scenario scenarios[] = {
    {"area setup", (const uint8_t *const *)&base_blank, prep_transport, run_area_setup, 0x9000,
     PARTIAL_NONE},
    {"AP load (multi-block)", (const uint8_t *const *)&base_active, prep_am, run_load, 0x9000,
     PARTIAL_NONE},
    {"AP delete", (const uint8_t *const *)&base_active, prep_am, run_delete, 0x9000, PARTIAL_NONE},
    {"VERIFY wrong", (const uint8_t *const *)&base_active, prep_ap1, run_verify_wrong, 0x63C2,
     PARTIAL_PIN_TRY},
    {"VERIFY right", (const uint8_t *const *)&base_active, prep_ap1, run_verify_right, 0x9000,
     PARTIAL_PIN_TRY},
    {"CHANGE REFERENCE DATA", (const uint8_t *const *)&base_active, prep_ap1, run_change, 0x9000,
     PARTIAL_PIN_TRY},
    {"PUT KEY (AP)", (const uint8_t *const *)&base_active, prep_ap1, run_put_key, 0x9000,
     PARTIAL_NONE},
    {"PUT KEY (AM)", (const uint8_t *const *)&base_active, prep_am, run_put_key_am, 0x9000,
     PARTIAL_NONE},
    {"UPDATE BINARY", (const uint8_t *const *)&base_active, prep_ap1, run_update_binary, 0x9000,
     PARTIAL_NONE},
    {"UPDATE RECORD", (const uint8_t *const *)&base_active, prep_ap1, run_update_record, 0x9000,
     PARTIAL_NONE},
    {"APPEND RECORD (full cyclic)", (const uint8_t *const *)&base_active, prep_ap1,
     run_append_cyclic, 0x9000, PARTIAL_NONE},
    {"APPEND RECORD (cyclic, all slots)", (const uint8_t *const *)&base_active,
     prep_ap1_cyclic_all_slots, run_append_cyclic, 0x9000, PARTIAL_NONE},
    {"APPEND RECORD (linear)", (const uint8_t *const *)&base_active, prep_ap1, run_append_linear,
     0x9000, PARTIAL_NONE},
    {"APPEND RECORD (linear, stale)", (const uint8_t *const *)&base_active, prep_ap1_stale,
     run_append_linear, 0x9000, PARTIAL_NONE},
    {"UPDATE RECORD (stale)", (const uint8_t *const *)&base_active, prep_ap1_stale,
     run_update_record, 0x9000, PARTIAL_NONE},
    {"APPEND RECORD (2-page slot)", (const uint8_t *const *)&base_active, prep_ap1,
     run_append_big, 0x9000, PARTIAL_NONE},
    {"INITIALIZE UPDATE", (const uint8_t *const *)&base_active, prep_select_ap1, run_iu, 0x9000,
     PARTIAL_NONE},
    {"SET STATUS (AP)", (const uint8_t *const *)&base_active, prep_am, run_set_status, 0x9000,
     PARTIAL_NONE},
    {"SET STATUS (area lock)", (const uint8_t *const *)&base_active, prep_am, run_lock, 0x9000,
     PARTIAL_NONE},
    {"RESET RETRY COUNTER", (const uint8_t *const *)&base_active, prep_am, run_rrc, 0x9000,
     PARTIAL_NONE},
    {"SET STATUS (terminate)", (const uint8_t *const *)&base_active, prep_am, run_terminate,
     0x9000, PARTIAL_NONE},
    {"EXTERNAL AUTHENTICATE wrong", (const uint8_t *const *)&base_active, prep_iu_am, run_bad_ea,
     0x6300, PARTIAL_NONE},
    {"AP load (chained blocks)", (const uint8_t *const *)&base_active, prep_am, run_load_chained,
     0x9000, PARTIAL_NONE},
    {"AP load dropped (SELECT)", (const uint8_t *const *)&base_active, prep_am, run_load_dropped,
     0x9000, PARTIAL_NONE},
    {"AP load refused (AID exists)", (const uint8_t *const *)&base_active, prep_am,
     run_load_aid_exists, 0x6A89, PARTIAL_NONE},
    {"AP load refused (bad image)", (const uint8_t *const *)&base_active, prep_am,
     run_load_bad_image, 0x6A80, PARTIAL_NONE},
};

/* --- fixture: the two starting images ----------------------------------- */

static void distinct_keys(cm_keyset *k, uint8_t seed)
{
    for (unsigned i = 0; i < sizeof(k->enc); i++) {
        k->enc[i] = (uint8_t)(seed ^ 0xA5 ^ (i * 37));
        k->mac[i] = (uint8_t)(seed ^ 0x5A ^ (i * 53));
        k->dek[i] = (uint8_t)(seed ^ 0xC3 ^ (i * 91));
    }
}

static int group_setup(void **state)
{
    ch_card *c = calloc(1, sizeof(*c));
    (void)state;
    if (!c)
        return -1;
    ch_ap_default(&ap1, 1);
    /* a record EF of two-page slots, then a transparent EF behind it */
    ap1.efs[ap1.n_efs++] = (ch_ef){.fid = 0x0203, .sfi = 7, .type = CH_EF_LINEAR,
                                   .rec_len = 100, .rec_count = 2, .read_rule = CH_RULE_SM,
                                   .write_rule = CH_RULE_SM};
    ap1.efs[ap1.n_efs++] = (ch_ef){.fid = 0x0104, .sfi = 8, .type = CH_EF_TRANSPARENT,
                                   .size = 8, .read_rule = CH_RULE_SM, .write_rule = CH_RULE_SM,
                                   .content = (const uint8_t *)"EF 0104", .content_len = 8};
    ch_ap_default(&ap2, 2);
    ap2.efs[0].content = ap2_secret;
    ap2.efs[0].content_len = sizeof(ap2_secret);
    ch_ap_default(&ap3, 3);
    ap3.initial_pin = AP3_PIN;
    ap3.efs[0].content = ap3_secret;
    ap3.efs[0].content_len = sizeof(ap3_secret);
    for (unsigned i = 0; i < sizeof(ap3.keys.enc); i++) {
        ap3.keys.enc[i] = (uint8_t)(0xC5 ^ (i * 37));
        ap3.keys.mac[i] = (uint8_t)(0x9B ^ (i * 53));
        ap3.keys.dek[i] = (uint8_t)(0x71 ^ (i * 91));
    }
    ch_transport_keys(&transport);
    ch_region_keys(&region);
    ch_make_keys(&ap1_new, 0x3F, 0xC0, 16);
    ch_make_keys(&am_new, 0x02, 0xE0, 16);
    /* keys that no other byte run of the card resembles (the default ones
     * are counting sequences, which EF 0101's content also holds) */
    distinct_keys(&ap1.keys, 0x1D);
    distinct_keys(&ap2.keys, 0x2B);
    distinct_keys(&ap1_new, 0x3F);
    distinct_keys(&am_new, 0x47);

    if (ch_init(c, 0) != 0)
        return -1;
    base_blank = ch_nvm_copy(c);
    if (ch_area_setup(c, &region) != 0x9000 || ch_open_am(c) != 0x9000 ||
        ch_load_ap(c, &ap1) != 0x9000 || ch_load_ap(c, &ap2) != 0x9000)
        return -1;
    /* two records in AP 1's linear EF, its cyclic EF full */
    if (ch_open_ap(c, &ap1, 0x33) != 0x9000 ||
        ch_cmdx(c, "00E20020 10 01010101010101010101010101010101", NULL) != 0x9000 ||
        ch_cmdx(c, "00E20020 10 02020202020202020202020202020202", NULL) != 0x9000 ||
        ch_cmdx(c, "00E20028 08 1111111111111111", NULL) != 0x9000 ||
        ch_cmdx(c, "00E20028 08 2222222222222222", NULL) != 0x9000 ||
        ch_cmdx(c, "00E20028 08 3333333333333333", NULL) != 0x9000 ||
        append_big(c, 0x66) != 0x9000)
        return -1;
    mc_power_off(&c->sc.card);
    base_active = ch_nvm_copy(c);
    ch_free(c);
    free(c);
    return base_blank && base_active ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(base_blank);
    free(base_active);
    return 0;
}

/* --- checks ------------------------------------------------------------- */

/* The card back at the scenario's starting point: base image, power on,
 * preparation. */
static void start(ch_card *c, const scenario *s)
{
    memcpy(c->sc.sim.nvm, *s->base, c->sc.sim.nvm_size);
    assert_int_equal(ch_power_cycle(c), MC_OK);
    ASSERT_SW(s->prepare(c), 0x9000);
}

/* What an AM channel on a copy of the card sees: GET STATUS and the log
 * without TEAR_RECOVERED entries.  Used for the partial PIN state. */
static size_t observe(ch_card *c, uint8_t *out, size_t cap)
{
    static ch_card clone;
    static ch_rsp r;
    size_t n = 0, vl, pos = 0;
    const uint8_t *v;

    if (ch_clone(&clone, c) != MC_OK)
        goto bad;
    if (ch_open_am(&clone) != 0x9000)
        goto bad;
    if (ch_cmdl(&clone, &r, "80F24002", "4F00", 65536) != 0x9000 || r.len > cap)
        goto bad;
    memcpy(out, r.data, r.len);
    n = r.len;
    if (ch_cmdx(&clone, "80CADF21 000000", &r) != 0x9000)
        goto bad;
    v = ch_tlv_find(r.data, r.len, 0xDF21, &vl);
    if (!v)
        goto bad;
    while (pos + 3 <= vl) {
        size_t el = v[pos + 2], hl = 3, evl = 0;
        const uint8_t *ev;
        if (el == 0x81) {
            el = v[pos + 3];
            hl = 4;
        }
        ev = ch_tlv_find(v + pos + hl, el, 0x81, &evl);
        if (!ev || evl != 1)
            goto bad;
        if (ev[0] != 0x0A) {   /* TEAR_RECOVERED is what recovery adds */
            if (n + hl + el > cap)
                goto bad;
            memcpy(out + n, v + pos, hl + el);
            n += hl + el;
        }
        pos += hl + el;
    }
    ch_free(&clone);
    return n;
bad:
    ch_free(&clone);
    return 0;
}

/* The before observation with AP 1's try counter (DF31) one lower. */
static void pin_partial(uint8_t *obs, size_t len)
{
    const uint8_t *e;
    size_t el;
    e = ch_tlv_find(obs, len, 0xE3, &el);   /* AP 1 is loaded first */
    assert_non_null(e);
    for (size_t i = 0; i + 3 < el; i++)
        if (e[i] == 0xDF && e[i + 1] == 0x31 && e[i + 2] == 0x01) {
            ((uint8_t *)e)[i + 3]--;
            return;
        }
    fail_msg("no DF31 in GET STATUS");
}

/* A normal command sequence after the restart. */
static void health(ch_card *c, const scenario *s)
{
    ch_rsp r;
    uint16_t sw;

    ASSERT_SW(ch_select_am(c), 0x9000);
    ASSERT_SW(ch_rawx(c, "80CADF20 00", &r), 0x9000);
    if (s->base == (const uint8_t *const *)&base_blank) {
        sw = ch_open_am(c);
        if (sw != 0x9000)
            sw = ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0, &transport, 0x33);
        ASSERT_SW(sw, 0x9000);
        return;
    }
    sw = ch_open_am(c);
    if (sw == 0x6985 && s->run == run_terminate)
        return;   /* TERMINATED: only SELECT and GET DATA DF20 answer */
    if (sw != 0x9000)
        sw = ch_open(c, ch_am_aid, sizeof(ch_am_aid), 0, &am_new, 0x33);
    ASSERT_SW(sw, 0x9000);
    ASSERT_SW(ch_cmdl(c, &r, "80F24002", "4F00", 65536), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF21 000000", &r), 0x9000);
    /* AP 2 may be deleted, AP 1 may be suspended or rekeyed, the area locked */
    sw = ch_open_ap(c, &ap1, 0x33);
    if (sw == CH_SW_CRYPTO)
        sw = ch_open(c, ap1.aid, ap1.aid_len, 0, &ap1_new, 0x33);
    if (sw == 0x6A81)
        return;
    ASSERT_SW(sw, 0x9000);
    ASSERT_SW(ch_cmdx(c, "00B08100 04", &r), 0x9000);
}

static int nvm_contains(const ch_card *c, const uint8_t *pat, size_t n)
{
    for (size_t i = 0; i + n <= c->sc.sim.nvm_size; i++)
        if (memcmp(c->sc.sim.nvm + i, pat, n) == 0)
            return 1;
    return 0;
}

static bool is_load(const scenario *s)
{
    return s->run == run_load || s->run == run_load_dropped || s->run == run_load_aid_exists ||
           s->run == run_load_bad_image;
}

/* After a load that did not happen: AP 3's EF content, PIN and keys nowhere
 * in NVM (the journal included: its journaled step's records are wiped,
 * docs/nvm.md "Journal residue"). */
static void assert_no_ap3(ch_card *c, const scenario *s, const char *when)
{
    size_t kl = ap3.keys.key_len;

    if (nvm_contains(c, ap3_secret, sizeof(ap3_secret)) ||
        nvm_contains(c, (const uint8_t *)AP3_PIN, strlen(AP3_PIN)) ||
        nvm_contains(c, ap3.keys.enc, kl) || nvm_contains(c, ap3.keys.mac, kl) ||
        nvm_contains(c, ap3.keys.dek, kl))
        fail_msg("%s: %s: a byte run of AP 3's image (EF content, PIN or keys) is in NVM",
                 s->name, when);
}

/* How often NVM [from, to) holds pat. */
static unsigned nvm_count(const ch_card *c, const uint8_t *pat, size_t n, size_t from, size_t to)
{
    const uint8_t *p = c->sc.sim.nvm + from, *end = c->sc.sim.nvm + to;
    unsigned k = 0;

    while ((size_t)(end - p) >= n && (p = memchr(p, pat[0], (size_t)(end - p - n + 1))) != NULL) {
        k += memcmp(p, pat, n) == 0;
        p++;
    }
    return k;
}

/* The secrets of the residue check: a key set's three keys, a PIN. */
#define N_SECRETS 18
static const uint8_t *secret(unsigned i, size_t *n)
{
    const cm_keyset *ks[5] = {&ap1.keys, &ap2.keys, &ap3.keys, &ap1_new, &am_new};
    static const char *const pins[3] = {NEW_PIN, RRC_PIN, AP3_PIN};

    if (i >= 15) {
        *n = strlen(pins[i - 15]);
        return (const uint8_t *)pins[i - 15];
    }
    *n = ks[i / 3]->key_len;
    return i % 3 == 0 ? ks[i / 3]->enc : i % 3 == 1 ? ks[i / 3]->mac : ks[i / 3]->dek;
}

/* Secret i is new in this scenario (nowhere before it), or replaced or
 * deleted by it (nowhere after it). */
static bool secret_new(const scenario *s, unsigned i)
{
    return (s->run == run_put_key && i / 3 == 3) || (s->run == run_put_key_am && i / 3 == 4) ||
           (s->run == run_change && i == 15) || (s->run == run_rrc && i == 16) ||
           (s->run == run_load && (i / 3 == 2 || i == 17));
}
static bool secret_gone(const scenario *s, unsigned i)
{
    return (s->run == run_put_key && i / 3 == 0) || (s->run == run_delete && i / 3 == 1) ||
           (s->run == run_terminate && i / 3 <= 1);
}

static void assert_no_residue(ch_card *c, const scenario *s, int outcome, const char *when)
{
    size_t end = c->sc.sim.nvm_size, data0 = end - mc_store_data_size(&c->sc.card), n;
    const uint8_t *x;
    unsigned j, k;

    for (unsigned i = 0; i < N_SECRETS; i++) {
        x = secret(i, &n);
        j = nvm_count(c, x, n, 0, data0 + n - 1);
        k = j + nvm_count(c, x, n, data0, end);
        if (j > 1 || k > j + 1)
            fail_msg("%s: %s: secret %u is in NVM %u times, %u of them before the data space: "
                     "journal residue",
                     s->name, when, i, k, j);
        if (k > 0 && outcome != TR_AFTER && secret_new(s, i))
            fail_msg("%s: %s: the new secret %u is in NVM in a state before the command",
                     s->name, when, i);
        if (k > 0 && outcome == TR_AFTER && secret_gone(s, i))
            fail_msg("%s: %s: the replaced secret %u is still in NVM", s->name, when, i);
    }
}

static int same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static unsigned long total_cuts;
static unsigned long total_page_cuts;

/* --- the scenario as a case of the tear runner (tear_runner.h) ---------- */

typedef struct tear_ctx {
    ch_card *c;
    const scenario *s;
    uint8_t *before, *after;            /* dumps of the dry run */
    size_t before_n, after_n;
    uint8_t obs_partial[CH_RSP_MAX];    /* the allowed partial state, observed */
    size_t partial_n;
    unsigned found;                     /* test_tear_recovered_logged */
} tear_ctx;

static void tc_start(void *p)
{
    tear_ctx *t = p;
    uint8_t *now;
    size_t now_n;

    start(t->c, t->s);
    if (t->before == NULL)
        return;
    now = ch_dump(t->c, &now_n);
    assert_non_null(now);
    if (!same(now, now_n, t->before, t->before_n)) {
        ct_print_hex("  before", t->before, t->before_n);
        ct_print_hex("  now   ", now, now_n);
        fail_msg("%s: the starting state is not reproducible", t->s->name);
    }
    free(now);
}

static int tc_run(void *p)
{
    tear_ctx *t = p;
    return t->s->run(t->c);
}

static int tc_restart(void *p)
{
    tear_ctx *t = p;
    return (int)ch_restart(t->c);
}

static void tc_dry(void *p, int phase, int rc)
{
    tear_ctx *t = p;
    const scenario *s = t->s;

    if (phase == 0) {
        /* a second run of the case (the page cases) measures again: each
         * dump is 192 KiB of heap, which the ARM targets run short of */
        free(t->before);
        free(t->after);
        t->after = NULL;
        t->before = ch_dump(t->c, &t->before_n);
        assert_non_null(t->before);
        assert_no_residue(t->c, s, TR_BEFORE, "before");
        if (s->run == run_delete || s->run == run_terminate)
            assert_true(nvm_contains(t->c, ap2_secret, 16));   /* the wipe check is not vacuous */
        if (s->partial == PARTIAL_PIN_TRY) {
            t->partial_n = observe(t->c, t->obs_partial, sizeof(t->obs_partial));
            assert_true(t->partial_n > 0);
            pin_partial(t->obs_partial, t->partial_n);
        }
        return;
    }
    ASSERT_SW(rc, s->expect_sw);
    t->after = ch_dump(t->c, &t->after_n);
    assert_non_null(t->after);
    assert_no_residue(t->c, s, TR_AFTER, "after");
    if (is_load(s) && s->run != run_load)
        assert_no_ap3(t->c, s, "uncut");
}

/* Before, after, or (VERIFY, CHANGE REFERENCE DATA) the try spent; then the
 * card still works. */
static int tc_check(void *p, const tr_cut *cut)
{
    static uint8_t obs_now[CH_RSP_MAX];
    tear_ctx *t = p;
    const scenario *s = t->s;
    uint8_t *now;
    size_t now_n;
    int outcome;

    ASSERT_SW(cut->rc, CH_SW_MUTE);
    now = ch_dump(t->c, &now_n);
    if (same(now, now_n, t->before, t->before_n)) {
        outcome = TR_BEFORE;
        /* a load cut before its commit, or dropped or refused: its staged
         * space is wiped (by recovery when the cut came first) */
        if (is_load(s) && cut->m == 0)
            assert_no_ap3(t->c, s, "cut, then power-on");
    } else if (same(now, now_n, t->after, t->after_n)) {
        outcome = TR_AFTER;
        /* a delete that happened wiped the data, even when recovery had to
         * finish the wipe (§4 DELETE) */
        if ((s->run == run_delete || s->run == run_terminate) && cut->m == 0 &&
            nvm_contains(t->c, ap2_secret, 16))
            fail_msg("%s: cut at write %llu after %zu bytes: the deleted AP's data is still "
                     "in NVM",
                     s->name, (unsigned long long)cut->n, cut->k == (size_t)-1 ? cut->len : cut->k);
    } else if (s->partial == PARTIAL_PIN_TRY &&
               same(obs_now, observe(t->c, obs_now, sizeof(obs_now)), t->obs_partial,
                    t->partial_n)) {
        outcome = TR_PARTIAL;
    } else {
        print_error("%s: state is neither before nor after%s\n", s->name,
                    s->partial ? " nor the allowed partial state" : "");
        ct_print_hex("  before", t->before, t->before_n);
        ct_print_hex("  after ", t->after, t->after_n);
        ct_print_hex("  now   ", now, now_n);
        free(now);
        return TR_NEITHER;
    }
    free(now);
    assert_no_residue(t->c, s, outcome, "cut, then power-on");
    health(t->c, s);
    return outcome;
}

static void tc_init(tear_ctx *t, tr_case *tc, const scenario *s)
{
    memset(t, 0, sizeof(*t));
    memset(tc, 0, sizeof(*tc));
    t->c = calloc(1, sizeof(*t->c));
    assert_non_null(t->c);
    assert_int_equal(ch_init(t->c, 0), 0);
    t->s = s;
    tc->name = s->name;
    tc->card = &t->c->sc.card;
    tc->ctx = t;
    tc->start = tc_start;
    tc->run = tc_run;
    tc->restart = tc_restart;
    tc->check = tc_check;
    tc->dry = tc_dry;
}

static void tc_done(tear_ctx *t)
{
    free(t->before);
    free(t->after);
    ch_free(t->c);
    free(t->c);
}

/* Every write N, K = all, 0, half and all-but-one of its bytes (record
 * writes: every byte). */
static void run_scenario(const scenario *s)
{
    tear_ctx t;
    tr_case tc;
    tr_stats st;

    tc_init(&t, &tc, s);
    tc.kset = TR_K_WHOLE | TR_K_ZERO | TR_K_HALF | TR_K_LAST;
    /* a record write, and a log entry written outside a transaction (wrong
     * VERIFY, wrong EXTERNAL AUTHENTICATE), commit themselves in their one
     * write: every byte of it */
    if (s->run == run_update_record || s->run == run_append_cyclic ||
        s->run == run_append_linear || s->run == run_append_big || s->run == run_verify_wrong ||
        s->run == run_bad_ea)
        tc.kset |= TR_K_EVERY;
    /* a load (mark, EF content, EF table, the journaled step): every byte of
     * every write; a dropped or refused one (its wipe) too in make test-long,
     * 0, half, last and whole in make test (the tears beyond the first byte
     * of a wipe all leave the same) */
    if (s->run == run_load || (is_load(s) && ct_tear_sample() == 1))
        tc.kset |= TR_K_EVERY;
    /* the interrupted byte: old, new, 00, FF, the journal's codes, random */
    ct_tear_models(&tc);
    TEAR_RUN(&tc, &st);
    print_message("%-28s %3llu writes, %4lu cut points: %lu before, %lu after, %lu partial "
                  "(%lu with the interrupted byte not old, %lu sampled out)\n",
                  s->name, (unsigned long long)st.writes, st.cuts, st.before, st.after,
                  st.partial, st.valued, st.skipped);
    /* the last cut point is all of the last write: the command had run (a
     * right VERIFY ends where it started) */
    assert_true(st.after > 0 || same(t.before, t.before_n, t.after, t.after_n));
    assert_true(st.before > 0 || s->partial != PARTIAL_NONE);
    total_cuts += st.cuts;
    /* the same under page tearing (card/port.h, a page-erasing port): every
     * page of every write spoilt whole (sampled in make test); a record EF's
     * slots own their pages (docs/nvm.md, "Pages") */
    ct_tear_page_models(&tc);
    /* a record write is one write of one page: every page model of it, even
     * in make test (a handful of cuts) */
    if (s->run == run_update_record || s->run == run_append_cyclic ||
        s->run == run_append_linear || s->run == run_append_big)
        tc.sample = 1;
    TEAR_RUN(&tc, &st);
    print_message("%-28s %3llu writes, %4lu page cuts (%u-byte pages): %lu before, %lu after, "
                  "%lu partial (%lu sampled out)\n",
                  s->name, (unsigned long long)st.writes, st.cuts, (unsigned)tc.page, st.before, st.after,
                  st.partial, st.skipped);
    total_page_cuts += st.cuts;
    tc_done(&t);
}

static void test_scenario(void **state)
{
    run_scenario((const scenario *)*state);
}

/* Start-up recovery that completed or discarded a transaction logs
 * TEAR_RECOVERED (0A): some cut point of UPDATE BINARY must leave one as the
 * newest log entry, and a cut before the first write must not. */
static int newest_event(ch_card *c)
{
    static ch_rsp r;
    const uint8_t *v, *e, *ev;
    size_t vl, el, evl;
    if (ch_open_am(c) != 0x9000 || ch_cmdx(c, "80CADF21 000000", &r) != 0x9000)
        return -1;
    v = ch_tlv_find(r.data, r.len, 0xDF21, &vl);
    if (!v || !(e = ch_tlv_find(v, vl, 0xDF22, &el)) || !(ev = ch_tlv_find(e, el, 0x81, &evl)))
        return -1;
    return ev[0];
}

static int tc_check_logged(void *p, const tr_cut *cut)
{
    tear_ctx *t = p;
    ASSERT_SW(cut->rc, CH_SW_MUTE);
    if (cut->k == 0) {
        /* no write reached NVM: nothing to recover, nothing logged */
        assert_int_not_equal(newest_event(t->c), 0x0A);
    } else if (newest_event(t->c) == 0x0A) {
        t->found++;
    }
    return TR_SEEN;
}

static void test_tear_recovered_logged(void **state)
{
    static const size_t k0[] = {0}, k1[] = {1};
    const scenario *s = &scenarios[8];   /* UPDATE BINARY */
    tear_ctx t;
    tr_case tc;
    tr_stats st;
    (void)state;

    assert_string_equal(s->name, "UPDATE BINARY");
    tc_init(&t, &tc, s);
    tc.dry = NULL;
    tc.check = tc_check_logged;
    tc.kset = TR_K_LIST;
    /* the first write cut before its first byte */
    tc.k_list = k0;
    tc.k_count = 1;
    tc.last_n = 1;
    TEAR_RUN(&tc, &st);
    /* every write cut after one byte */
    tc.k_list = k1;
    tc.last_n = 0;
    TEAR_RUN(&tc, &st);
    print_message("TEAR_RECOVERED logged after %u of %llu cut points\n", t.found,
                  (unsigned long long)st.writes);
    assert_true(t.found > 0);
    tc_done(&t);
}

/* A second power cut during start-up recovery (§8: recovery finishes or
 * discards the transaction, so it must survive being torn itself): cut the
 * command at write N after one byte, then cut the recovery at its writes M
 * (each of them, or 12 spread over them when there are more) after 0 and
 * after 1 byte, restart again: still before, after or the allowed partial
 * state. */
static void double_tear(const scenario *s)
{
    static const size_t k1[] = {1}, k2[] = {0, 1};
    tear_ctx t;
    tr_case tc;
    tr_stats st;

    tc_init(&t, &tc, s);
    tc.kset = TR_K_LIST;
    tc.k_list = k1;
    tc.k_count = 1;
    tc.restart_k = k2;
    tc.restart_k_count = 2;
    tc.restart_samples = 12;
    ct_tear_models(&tc);
    TEAR_RUN(&tc, &st);
    print_message("%-28s double tear: %lu runs, %lu first cuts needing recovery writes\n",
                  s->name, st.restart_cuts, st.with_restart_writes);
    total_cuts += st.cuts;
    tc_done(&t);
}

static void test_double_tear(void **state)
{
    static const char *const names[] = {"AP delete", "VERIFY wrong", "PUT KEY (AM)",
                                        "UPDATE BINARY", "AP load (multi-block)"};
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (size_t j = 0; j < sizeof(scenarios) / sizeof(scenarios[0]); j++)
            if (strcmp(scenarios[j].name, names[i]) == 0)
                double_tear(&scenarios[j]);
}

static void test_total(void **state)
{
    (void)state;
    print_message("tearing: %lu cut points exercised, %lu of them page cuts\n",
                  total_cuts + total_page_cuts, total_page_cuts);
    assert_true(total_cuts > 0);
    assert_true(total_page_cuts > 0);
}

#define SCENARIO(i) \
    {scenarios[i].name, test_scenario, NULL, NULL, (void *)&scenarios[i]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO(0),  SCENARIO(1),  SCENARIO(2),  SCENARIO(3),  SCENARIO(4),
        SCENARIO(5),  SCENARIO(6),  SCENARIO(7),  SCENARIO(8),  SCENARIO(9),
        SCENARIO(10), SCENARIO(11), SCENARIO(12), SCENARIO(13), SCENARIO(14),
        SCENARIO(15), SCENARIO(16), SCENARIO(17), SCENARIO(18), SCENARIO(19),
        SCENARIO(20), SCENARIO(21), SCENARIO(22), SCENARIO(23), SCENARIO(24),
        SCENARIO(25),
        cmocka_unit_test(test_tear_recovered_logged),
        cmocka_unit_test(test_double_tear),
        cmocka_unit_test(test_total),
    };
    _Static_assert(sizeof(scenarios) / sizeof(scenarios[0]) == 26, "one test per scenario");
    return cmocka_run_group_tests_name("tearing", tests, group_setup, group_teardown);
}
