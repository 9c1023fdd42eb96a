/* test_internal_heap.c: the interpreter's heap of AP regions (card/mc_layout.c,
 * card/mc_install.c): free-byte accounting (GET DATA DF20 tag 81, GET STATUS
 * DF30), a new AP written at the start of the largest free run, wiping of
 * freed regions, a large image (one EF of nearly all of it) on a card whose
 * heap could not hold two copies of it, 6A84 when no run of free heap is
 * large enough, and the full 16-AP table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"
#include "mc_int.h"

static uint8_t img[CH_IMAGE_MAX];

/* ap's image in img. */
static size_t build(ch_card *c, const ch_ap *ap)
{
    return ct_build_image(c, ap, img, sizeof(img));
}

static uint16_t send_block(ch_card *c, uint8_t p1, uint8_t p2, size_t off, size_t n)
{
    uint8_t apdu[2100];
    size_t an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, p1, p2, img + off, n, -1);
    return ch_cmd(c, apdu, an, NULL);
}

static uint32_t free_bytes(ch_card *c)
{
    ch_rsp r;
    const uint8_t *d, *v;
    size_t dl, vl;

    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    d = ch_tlv_find(r.data, r.len, 0xDF20, &dl);
    assert_non_null(d);
    v = ch_tlv_find(d, dl, 0x81, &vl);
    assert_non_null(v);
    assert_int_equal(vl, 4);
    return mc_get32(v);
}

static uint32_t heap_size(ch_card *c)
{
    return mc_store_data_size(&c->sc.card) - MC_OFF_HEAP;
}

/* The slot record of the AP with this AID (white-box). */
static void slot_of(ch_card *c, const ch_ap *ap, mc_slot_rec *s)
{
    unsigned slot;
    assert_int_equal(mc_find_aid(&c->sc.card, ap->aid, ap->aid_len, &slot, s, false), MC_OK);
    assert_true(slot < MC_MAX_APS);
}

static uint16_t delete_ap(ch_card *c, const ch_ap *ap)
{
    ASSERT_SW(ch_open_am(c), 0x9000);
    return ch_cmdf(c, NULL, "80E40000 07 4F05 %02X%02X%02X%02X%02X", ap->aid[0], ap->aid[1],
                   ap->aid[2], ap->aid[3], ap->aid[4]);
}

static void test_accounting_and_hole_reuse(void **state)
{
    ch_card *c = *state;
    ch_ap ap[4];
    mc_slot_rec s1, s2, s3, s4;
    uint32_t total = heap_size(c), r, rp, i;
    uint8_t buf[64];

    assert_int_equal(free_bytes(c), total);
    for (i = 0; i < 3; i++) {
        ch_ap_default(&ap[i], 1 + i);
        ASSERT_SW(ch_open_am(c), 0x9000);
        ASSERT_SW(ch_load_ap(c, &ap[i]), 0x9000);
    }
    slot_of(c, &ap[0], &s1);
    slot_of(c, &ap[1], &s2);
    slot_of(c, &ap[2], &s3);
    r = mc_get32(s1.region_len);
    /* 6 EF records + 64 + 32 + 16 data bytes, and the record EFs 16 x 3,
     * 8 x 3 and 10 x 2 in rec_count + 1 slots of rec_len + 8 bytes, each
     * slot on a page of its own from a page-aligned start (docs/nvm.md,
     * format version 4): the transparent data padded to 128 */
    assert_int_equal(r, 6 * sizeof(mc_ef_rec) + 128 + (4 + 4 + 3) * MC_STORE_PAGE);
    assert_int_equal(mc_get32(s2.region_len), r);
    assert_int_equal(free_bytes(c), total - 3 * r);
    /* regions do not overlap */
    assert_true(mc_get32(s1.region_off) + r <= mc_get32(s2.region_off) ||
                mc_get32(s2.region_off) + r <= mc_get32(s1.region_off));
    /* delete the middle one: its region is wiped to FF */
    ASSERT_SW(delete_ap(c, &ap[1]), 0x9000);
    assert_int_equal(free_bytes(c), total - 2 * r);
    for (i = 0; i < r; i += sizeof(buf)) {
        uint32_t n = r - i < sizeof(buf) ? r - i : sizeof(buf), k;
        assert_int_equal(mc_store_read(&c->sc.card, mc_get32(s2.region_off) + i, buf, n), MC_OK);
        for (k = 0; k < n; k++)
            assert_int_equal(buf[k], 0xFF);
    }
    /* the next AP of the same shape is written once, at the start of the
     * largest free run (its size is known only at its last block): after
     * AP 3, not into the smaller hole */
    ch_ap_default(&ap[3], 4);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap[3]), 0x9000);
    slot_of(c, &ap[3], &s4);
    /* each region starts on a page of its own (MC_STORE_PAGE, docs/nvm.md
     * "Pages"): the next one at the page after the previous one's end */
    rp = (r + MC_STORE_PAGE - 1u) & ~(MC_STORE_PAGE - 1u);
    assert_int_equal(mc_get32(s1.region_off) % MC_STORE_PAGE, 0);
    assert_int_equal(mc_get32(s2.region_off), mc_get32(s1.region_off) + rp);
    assert_int_equal(mc_get32(s3.region_off), mc_get32(s2.region_off) + rp);
    assert_int_equal(mc_get32(s4.region_off), mc_get32(s3.region_off) + rp);
    assert_int_equal(free_bytes(c), total - 3 * r);
}

/* An image of ~31 KiB whose EF content is nearly all of it loads on a card
 * whose heap could not hold two copies of it: in blocks (each written once,
 * into the region), and as one chained block (staged raw above the region,
 * never overwritten before it is read). */
static void test_large_image_in_place(void **state)
{
    ch_card *c = *state;
    static uint8_t content[30000];
    ch_ap ap;
    cm_keyset rk;
    size_t n, i;
    ch_rsp r;
    uint32_t total = heap_size(c);

    for (i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 7 + (i >> 8));
    ch_ap_default(&ap, 5);
    ap.n_efs = 1;
    ap.efs[0].size = sizeof(content);
    ap.efs[0].content = content;
    ap.efs[0].content_len = sizeof(content);
    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
    assert_true(n > sizeof(content));
    /* both copies at once would not fit */
    assert_true(2 * n > total);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, 2000, 0), 0x9000);
    assert_int_equal(free_bytes(c), total - (sizeof(mc_ef_rec) + sizeof(content)));
    /* the content reads back whole */
    ASSERT_SW(ch_open_ap(c, &ap, 0x33), 0x9000);
    ASSERT_SW(ch_cmdx(c, "00A4020C 02 0101", NULL), 0x9000);
    for (i = 0; i < sizeof(content); i += 2000) {
        size_t k = sizeof(content) - i < 2000 ? sizeof(content) - i : 2000;
        ASSERT_SW(ch_cmdf(c, &r, "00B0%04X 00%04X", (unsigned)i, (unsigned)k), 0x9000);
        ASSERT_BYTES(r.data, r.len, content + i, k);
    }
    /* the same load chained in one block works as well, after a delete */
    ASSERT_SW(delete_ap(c, &ap), 0x9000);
    assert_int_equal(free_bytes(c), total);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_image(c, img, n, n, 255), 0x9000);
    assert_int_equal(free_bytes(c), total - (sizeof(mc_ef_rec) + sizeof(content)));
}

/* --- LOAD AP written once (docs/nvm.md): the staged space is wiped ------ */

/* EF 0101's initial content, the PIN and the keys of this AP appear nowhere
 * else on the card: none of them may stay in NVM after a load that did not
 * happen. */
static const uint8_t staged_secret[32] = "LOADONCE staged EF content #3 !";
#define STAGED_PIN "86420975"

static void secret_ap(ch_ap *ap)
{
    ch_ap_default(ap, 3);
    ap->initial_pin = STAGED_PIN;
    /* keys that are no byte run of anything else on the card */
    for (unsigned i = 0; i < sizeof(ap->keys.enc); i++) {
        ap->keys.enc[i] = (uint8_t)(0xC5 ^ (i * 37));
        ap->keys.mac[i] = (uint8_t)(0x9B ^ (i * 53));
        ap->keys.dek[i] = (uint8_t)(0x71 ^ (i * 91));
    }
    ap->efs[0].content = staged_secret;
    ap->efs[0].content_len = sizeof(staged_secret);
}

static int nvm_has(const ch_card *c, const void *pat, size_t n)
{
    for (size_t i = 0; i + n <= c->sc.sim.nvm_size; i++)
        if (memcmp(c->sc.sim.nvm + i, pat, n) == 0)
            return 1;
    return 0;
}

/* Which of the image's secrets NVM holds: 1 EF content, 2 PIN, 4 Key-ENC,
 * 8 Key-MAC, 16 Key-DEK. */
static unsigned leftovers(const ch_card *c, const ch_ap *ap)
{
    size_t kl = ap->keys.key_len;
    return (nvm_has(c, staged_secret, sizeof(staged_secret)) ? 1u : 0u) |
           (nvm_has(c, STAGED_PIN, strlen(STAGED_PIN)) ? 2u : 0u) |
           (nvm_has(c, ap->keys.enc, kl) ? 4u : 0u) | (nvm_has(c, ap->keys.mac, kl) ? 8u : 0u) |
           (nvm_has(c, ap->keys.dek, kl) ? 16u : 0u);
}

/* The heap (AP regions and free space) of the data space, which ends NVM. */
static const uint8_t *heap_of(const ch_card *c, size_t *n)
{
    size_t data = mc_store_data_size((mc_card *)&c->sc.card);
    *n = data - MC_OFF_HEAP;
    return c->sc.sim.nvm + c->sc.sim.nvm_size - data + MC_OFF_HEAP;
}

/* Every block of the image but the last, in blocks of 100 bytes: the EF
 * content is staged in NVM now (the check is not vacuous). */
static size_t stage_all_but_last(ch_card *c, const ch_ap *ap, size_t *n)
{
    size_t i;

    *n = build(c, ap);
    for (i = 0; (i + 1) * 100 < *n; i++)
        ASSERT_SW(send_block(c, 0x00, (uint8_t)i, i * 100, 100), 0x9000);
    assert_int_equal(leftovers(c, ap), 1);
    return i;
}

enum { DROP_SELECT, DROP_IU, DROP_ORDER, DROP_RESET, DROP_POWER, DROP_BAD_MAC, DROP_CHAINED,
       DROP_N };

/* A load dropped by another SELECT, a new session (INITIALIZE UPDATE), a
 * block out of order, a warm reset, a power-off, a last block whose C-MAC
 * fails (6988), another SELECT after a chained block: the staged EF content
 * (and the chained block's raw copy) is wiped, no byte of the image's PIN
 * or keys is anywhere in NVM, and the heap is byte for byte what it was
 * (wiped and free: DF20 and GET STATUS as before). */
static void test_load_dropped_wiped(void **state)
{
    ch_card *c = *state;
    static ct_area_view before;
    static uint8_t heap0[65536];
    static uint8_t w[2200];
    const uint8_t *h;
    size_t hn, n, last, wn, an;
    ch_ap ap;
    uint8_t apdu[2100];

    secret_ap(&ap);
    ct_take_area_view(c, &before);
    h = heap_of(c, &hn);
    assert_true(hn <= sizeof(heap0));
    memcpy(heap0, h, hn);
    for (int how = 0; how < DROP_N; how++) {
        ASSERT_SW(ch_open_am(c), 0x9000);
        if (how == DROP_CHAINED) {
            /* block 00 as one chained command of all but the last 100 bytes
             * (staged raw above the region, decrypted into the parser), in
             * segments of 64; then another SELECT */
            n = build(c, &ap);
            an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x00, 0x00, img, n - 100, -1);
            ASSERT_SW(ch_cmd_chained(c, apdu, an, 64, NULL), 0x9000);
            assert_int_equal(leftovers(c, &ap), 1);
            ASSERT_SW(ch_select_am(c), 0x9000);
            goto check;
        }
        last = stage_all_but_last(c, &ap, &n);
        switch (how) {
        case DROP_SELECT:
            ASSERT_SW(ch_select_am(c), 0x9000);
            break;
        case DROP_IU:
            ASSERT_SW(ch_open_am(c), 0x9000);
            break;
        case DROP_ORDER:
            ASSERT_SW(send_block(c, 0x80, (uint8_t)(last + 1), last * 100, n - last * 100),
                      0x6A86);
            break;
        case DROP_RESET:
            ch_reset(c);
            break;
        case DROP_POWER:
            assert_int_equal(ch_power_cycle(c), MC_OK);
            break;
        default:
            an = ch_apdu(apdu, sizeof(apdu), 0x80, 0xE8, 0x80, (uint8_t)last, img + last * 100,
                         n - last * 100, -1);
            assert_int_equal(cm_scp03_wrap_command(&c->scp, apdu, an, w, sizeof(w), &wn), 0);
            w[wn - 1] ^= 0x01;   /* the C-MAC's last byte */
            ASSERT_SW(ch_raw(c, w, wn, NULL), 0x6988);
            break;
        }
    check:
        if (leftovers(c, &ap) != 0)
            fail_msg("drop %d: staged secrets left in NVM (%u)", how, leftovers(c, &ap));
        h = heap_of(c, &hn);
        if (memcmp(h, heap0, hn) != 0)
            fail_msg("drop %d: the heap differs from before the load", how);
        ASSERT_SW(ch_open_am(c), 0x9000);
        ct_assert_same_area_view(c, &before);
    }
}

/* A last block refused for the image (6A80), its AID (6A89) or room (6A84):
 * the staged EF content is wiped at once and the heap is as before. */
static void test_load_refused_last_block_wiped(void **state)
{
    ch_card *c = *state;
    static ct_area_view before;
    static uint8_t heap0[65536];
    const uint8_t *h;
    size_t hn, n, last;
    ch_ap ap, ap1;
    static const uint16_t want[3] = { 0x6A80, 0x6A89, 0x6A84 };

    ch_ap_default(&ap1, 1);
    ASSERT_SW(ch_load_ap(c, &ap1), 0x9000);
    ct_take_area_view(c, &before);
    h = heap_of(c, &hn);
    memcpy(heap0, h, hn);
    for (int k = 0; k < 3; k++) {
        secret_ap(&ap);
        if (k == 1)
            memcpy(ap.aid, ap1.aid, ap.aid_len);   /* AP 1's AID */
        if (k == 2) {
            /* two more EFs of 32767 bytes: more than the heap */
            ap.efs[ap.n_efs] = ap.efs[0];
            ap.efs[ap.n_efs].fid = 0x0A01;
            ap.efs[ap.n_efs].sfi = 0;
            ap.efs[ap.n_efs].size = 32767;
            ap.efs[ap.n_efs].content = NULL;
            ap.efs[ap.n_efs].content_len = 0;
            ap.efs[ap.n_efs + 1] = ap.efs[ap.n_efs];
            ap.efs[ap.n_efs + 1].fid = 0x0A02;
            ap.n_efs += 2;
        }
        last = stage_all_but_last(c, &ap, &n);
        if (k == 0) {
            /* a bogus top-level TLV in the last block: the image is bad */
            img[n] = 0x99;
            img[n + 1] = 0x00;
            n += 2;
        }
        ASSERT_SW(send_block(c, 0x80, (uint8_t)last, last * 100, n - last * 100), want[k]);
        if (leftovers(c, &ap) != 0)
            fail_msg("%04X: staged secrets left in NVM (%u)", want[k], leftovers(c, &ap));
        h = heap_of(c, &hn);
        if (memcmp(h, heap0, hn) != 0)
            fail_msg("%04X: the heap differs from before the load", want[k]);
        ct_assert_same_area_view(c, &before);
    }
}

/* The NVM cost of a load, from the simulator's counters (docs/nvm.md, "LOAD
 * AP written once"): the wipe mark (1 write, 11 bytes), each EF content run
 * once (32 + 32 + 16 bytes, 3 writes), EF 0101's zero tail (32 bytes) -- the
 * record EFs' erased slots (256 + 256 + 192 bytes) are FF already and cost
 * nothing --, the EF table (6 x 19 = 114 bytes, 1 write), the one journaled
 * step: slot record (the 3 pages it touches, 192 bytes, journaled and copied
 * home) and AP_LOADED (27 bytes: a log slot owns its page, so its bytes
 * alone), 12 writes / 499 bytes (its 247 bytes of records stay in the
 * journal; the area setup before kept fewer: nothing to wipe behind them,
 * docs/nvm.md "Journal residue"), then the mark cleared directly (1 write,
 * 11 bytes).  Nothing but the mark before the last block. */
static void test_load_written_once(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    size_t n;
    uint64_t w0, b0;
    uint32_t region;
    mc_slot_rec s;
    unsigned slot;

    secret_ap(&ap);
    n = build(c, &ap);
    w0 = c->sc.sim.writes;
    b0 = c->sc.sim.bytes_written;
    ASSERT_SW(send_block(c, 0x00, 0x00, 0, 100), 0x9000);
    /* the first 100 bytes hold no EF content: the mark alone (11 bytes) */
    assert_int_equal(c->sc.sim.writes - w0, 1);
    assert_int_equal(c->sc.sim.bytes_written - b0, 11);
    ASSERT_SW(send_block(c, 0x80, 0x01, 100, n - 100), 0x9000);
    assert_int_equal(mc_find_aid(&c->sc.card, ap.aid, ap.aid_len, &slot, &s, false), MC_OK);
    region = mc_get32(s.region_len);
    print_message("LOAD AP of %zu bytes: %llu writes, %llu bytes (region %u)\n", n,
                  (unsigned long long)(c->sc.sim.writes - w0),
                  (unsigned long long)(c->sc.sim.bytes_written - b0), (unsigned)region);
    assert_int_equal(region, 946);
    assert_int_equal(c->sc.sim.writes - w0, 1 + 3 + 1 + 1 + 12 + 1);
    assert_int_equal(c->sc.sim.bytes_written - b0, 11 + 80 + 32 + 114 + 499 + 11);
}

/* No free run large enough: 6A84, nothing changes, and a smaller AP still
 * loads. */
static void test_no_room(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    cm_keyset rk;
    size_t n;
    unsigned k = 0;
    uint16_t sw;
    ct_snap snap;

    ch_region_keys(&rk);
    /* fill the heap with 30000-byte EFs (no initial content) */
    for (;;) {
        ch_ap_default(&ap, 6 + k);
        ap.n_efs = 1;
        ap.efs[0].size = 30000;
        ap.efs[0].content = NULL;
        ap.efs[0].content_len = 0;
        n = ch_build_image(c, rk.dek, rk.key_len, &ap, img, sizeof(img));
        ASSERT_SW(ch_open_am(c), 0x9000);
        snap = ct_snapshot(c);
        sw = ch_load_image(c, img, n, 2000, 0);
        if (sw != 0x9000)
            break;
        ct_snap_free(&snap);
        k++;
    }
    ASSERT_SW(sw, 0x6A84);
    assert_true(k >= 1);
    ASSERT_UNCHANGED(c, snap);
    ct_snap_free(&snap);
    ch_ap_default(&ap, 15);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
}

/* 16 APs fill the table; the 17th is 6A84; a delete makes room again. */
static void test_sixteen_aps(void **state)
{
    ch_card *c = *state;
    ch_ap ap;
    unsigned i;

    for (i = 0; i < MC_MAX_APS; i++) {
        ch_ap_default(&ap, 0x20 + i);
        ASSERT_SW(ch_open_am(c), 0x9000);
        ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
    }
    ch_ap_default(&ap, 0x40);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x6A84);
    ch_ap_default(&ap, 0x25);
    ASSERT_SW(delete_ap(c, &ap), 0x9000);
    ch_ap_default(&ap, 0x40);
    ASSERT_SW(ch_open_am(c), 0x9000);
    ASSERT_SW(ch_load_ap(c, &ap), 0x9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accounting_and_hole_reuse, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_large_image_in_place, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_no_room, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_sixteen_aps, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_dropped_wiped, ct_setup_active, ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_refused_last_block_wiped, ct_setup_active,
                                        ct_teardown),
        cmocka_unit_test_setup_teardown(test_load_written_once, ct_setup_active, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_heap", tests, NULL, NULL);
}
