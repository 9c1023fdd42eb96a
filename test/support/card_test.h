/* card_test.h: CMocka helpers shared by the card protocol and tearing tests:
 * assertions on status words and bytes that print hex, and fixtures that
 * give each test a fresh card from card_harness.h.  Include after cmocka.h. */
#ifndef CARD_TEST_H
#define CARD_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_harness.h"
#include "tear_runner.h"

/* Runs the tear runner on case tc into *st and fails the test, naming the
 * cut point, when it finds one that does not check out. */
#define TEAR_RUN(tc, st)                                                                   \
    do {                                                                                   \
        if (tr_run((tc), (st)) != 0)                                                       \
            fail_msg("%s: %s (cut at write %llu after %zu of %zu bytes, restart cut at "   \
                     "its write %llu after %zu bytes)",                                    \
                     (tc)->name, (st)->why, (unsigned long long)(st)->at.n,                \
                     (st)->at.k == (size_t)-1 ? (st)->at.len : (st)->at.k, (st)->at.len,   \
                     (unsigned long long)(st)->at.m, (st)->at.k2);                         \
    } while (0)

/* The status word of expr must be want (both printed in hex). */
#define ASSERT_SW(expr, want)                                                              \
    do {                                                                                   \
        unsigned ct_got_ = (unsigned)(expr);                                               \
        unsigned ct_want_ = (unsigned)(want);                                              \
        if (ct_got_ != ct_want_) {                                                         \
            print_error("%s:%d: %s\n  SW %04X, expected %04X\n", __FILE__, __LINE__, #expr, \
                        ct_got_, ct_want_);                                                \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

/* The response data must equal the bytes written in hex. */
#define ASSERT_DATA(rsp, hex)                                                              \
    do {                                                                                   \
        if (!ct_data_equal((rsp)->data, (rsp)->len, (hex))) {                              \
            print_error("%s:%d: response data differs\n", __FILE__, __LINE__);             \
            ct_print_mismatch((rsp)->data, (rsp)->len, (hex));                             \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

#define ASSERT_BYTES(got, got_len, exp, exp_len)                                           \
    do {                                                                                   \
        if ((size_t)(got_len) != (size_t)(exp_len) ||                                      \
            memcmp((got), (exp), (size_t)(exp_len)) != 0) {                                \
            print_error("%s:%d: bytes differ\n", __FILE__, __LINE__);                      \
            ct_print_hex("  got     ", (const uint8_t *)(got), (got_len));                 \
            ct_print_hex("  expected", (const uint8_t *)(exp), (exp_len));                 \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

/* buf (a list of TLVs) holds tag with exactly the exp bytes. */
#define ASSERT_TLV(buf, len, tag, exp, exp_len)                                            \
    do {                                                                                   \
        if (!ct_tlv_is((buf), (len), (tag), (const uint8_t *)(exp), (exp_len))) {          \
            print_error("%s:%d: TLV %X wrong or missing\n", __FILE__, __LINE__,            \
                        (unsigned)(tag));                                                  \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

static inline void ct_print_hex(const char *label, const uint8_t *p, size_t n);

static inline int ct_tlv_is(const uint8_t *buf, size_t len, uint16_t tag, const uint8_t *exp,
                            size_t exp_len)
{
    size_t l = 0;
    const uint8_t *v = ch_tlv_find(buf, len, tag, &l);
    if (!v) {
        ct_print_hex("  in", buf, len);
        return 0;
    }
    if (l != exp_len || memcmp(v, exp, l) != 0) {
        ct_print_hex("  got     ", v, l);
        ct_print_hex("  expected", exp, exp_len);
        return 0;
    }
    return 1;
}

static inline void ct_print_hex(const char *label, const uint8_t *p, size_t n)
{
    print_error("%s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 512; i++)
        print_error(" %02X", p[i]);
    print_error("%s\n", n > 512 ? " ..." : "");
}

static inline int ct_data_equal(const uint8_t *got, size_t got_len, const char *hex)
{
    static uint8_t exp[CH_RSP_MAX];
    size_t n = ch_hex(hex, exp, sizeof(exp));
    return n != (size_t)-1 && n == got_len && memcmp(got, exp, n) == 0;
}

static inline void ct_print_mismatch(const uint8_t *got, size_t got_len, const char *hex)
{
    static uint8_t exp[CH_RSP_MAX];
    size_t n = ch_hex(hex, exp, sizeof(exp));
    ct_print_hex("  got     ", got, got_len);
    if (n != (size_t)-1)
        ct_print_hex("  expected", exp, n);
}

/* --- state comparison ---------------------------------------------------- */

/* The card's state (mc_debug_dump, else the raw NVM image), for "a refused
 * command changes nothing" checks. */
typedef struct ct_snap {
    uint8_t *p;
    size_t n;
} ct_snap;

static inline ct_snap ct_snapshot(ch_card *c)
{
    ct_snap s;
    s.p = ch_dump(c, &s.n);
    return s;
}

static inline int ct_snap_same(ch_card *c, const ct_snap *s)
{
    size_t n;
    uint8_t *p = ch_dump(c, &n);
    int same = p && s->p && n == s->n && memcmp(p, s->p, n) == 0;
    if (!same && p && s->p) {
        for (size_t i = 0; i < n && i < s->n; i++)
            if (p[i] != s->p[i]) {
                print_error("  state differs first at byte %zu: %02X, was %02X\n", i, p[i],
                            s->p[i]);
                break;
            }
    }
    free(p);
    return same;
}

#define ASSERT_UNCHANGED(c, snap)                                                          \
    do {                                                                                   \
        if (!ct_snap_same((c), &(snap))) {                                                 \
            print_error("%s:%d: card state changed\n", __FILE__, __LINE__);                \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

static inline void ct_snap_free(ct_snap *s)
{
    free(s->p);
    s->p = NULL;
}

/* --- fixtures ------------------------------------------------------------- */

/* A blank card straight from fabrication. */
static inline int ct_setup_blank(void **state)
{
    ch_card *c = calloc(1, sizeof(*c));
    if (!c || ch_init(c, 0) != 0) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

/* An ACTIVE area (region key set KVN 01 installed), AM channel open at 33
 * with the region keys. */
static inline int ct_setup_active(void **state)
{
    ch_card *c = calloc(1, sizeof(*c));
    if (!c || ch_init_active(c) != 0 || ch_open_am(c) != 0x9000) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

/* ACTIVE area with the default AP 1 loaded (ch_ap_default(ap, 1)); AM
 * channel still open. */
static inline int ct_setup_ap(void **state)
{
    ch_ap ap;
    ch_card *c;
    if (ct_setup_active(state) != 0)
        return -1;
    c = *state;
    ch_ap_default(&ap, 1);
    if (ch_load_ap(c, &ap) != 0x9000) {
        ch_free(c);
        free(c);
        return -1;
    }
    return 0;
}

static inline int ct_teardown(void **state)
{
    ch_card *c = *state;
    if (c) {
        ch_free(c);
        free(c);
    }
    return 0;
}

/* The image of ap for the default region keys (ch_region_keys) in out; the
 * test fails if it does not fit. */
static inline size_t ct_build_image(ch_card *c, const ch_ap *ap, uint8_t *out, size_t cap)
{
    cm_keyset rk;
    size_t n;

    ch_region_keys(&rk);
    n = ch_build_image(c, rk.dek, rk.key_len, ap, out, cap);
    assert_true(n > 0);
    return n;
}

/* What an AM channel sees of the area: GET STATUS of the APs and DF20 (free
 * space).  A refused or dropped load must leave it as it was. */
typedef struct ct_area_view {
    uint16_t status_sw;
    uint8_t status[CH_RSP_MAX];
    size_t status_len;
    uint8_t df20[256];
    size_t df20_len;
} ct_area_view;

static inline void ct_take_area_view(ch_card *c, ct_area_view *v)
{
    static ch_rsp r;
    v->status_sw = ch_cmdx(c, "80F24002 02 4F00 00", &r);
    memcpy(v->status, r.data, r.len);
    v->status_len = r.len;
    ASSERT_SW(ch_cmdx(c, "80CADF20 00", &r), 0x9000);
    assert_true(r.len <= sizeof(v->df20));
    memcpy(v->df20, r.data, r.len);
    v->df20_len = r.len;
}

static inline void ct_assert_same_area_view(ch_card *c, const ct_area_view *before)
{
    static ct_area_view now;
    ct_take_area_view(c, &now);
    ASSERT_SW(now.status_sw, before->status_sw);
    ASSERT_BYTES(now.status, now.status_len, before->status, before->status_len);
    ASSERT_BYTES(now.df20, now.df20_len, before->df20, before->df20_len);
}

#endif
