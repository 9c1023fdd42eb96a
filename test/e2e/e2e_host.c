/* e2e_host: steps of the end-to-end scenarios, done with libmnap over PC/SC.
 *
 *   e2e_host READER STEP [ARGS]
 *
 * Each step connects to the card in READER, does one part of a scenario with
 * the host library's public API only (mnap.h, mnap_pcsc.h), checks every
 * result, prints "ok" (or what it found) on stdout and exits 0; on the first
 * unexpected result it prints what it got and what it wanted on stderr and
 * exits 1.  test/e2e/run.sh sequences the steps and does what a program
 * cannot do to itself: killing mnap-vcard, pulling the card, restarting
 * pcscd.  Steps that wait for the harness use marker files in a directory:
 * the step creates DIR/ready, the harness acts and creates DIR/go.
 *
 * The keys are fixed test keys: the transport key set of a fabricated card
 * (KVN FF, 40..4F), a region master key set (KVN 01) and one master key set
 * per AP, all diversified per card by the library. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mnap/mnap.h"
#include "mnap/mnap_pcsc.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 64

/* --- reporting ------------------------------------------------------------ */

static const char *err_name(mnap_err e)
{
    const char *n = mnap_err_name(e);
    return n != NULL ? n : "(unnamed mnap_err)";
}

static int g_failed;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "e2e_host: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failed = 1;
}

/* Checks that an API call returned want; names both on failure.  Evaluates
 * to 1 when it matched. */
#define EXPECT(call, want) expect_err((call), (want), #call, __LINE__)
static int expect_err(mnap_err got, mnap_err want, const char *what, int line)
{
    if (got == want) {
        return 1;
    }
    failf("line %d: %s: got %s (%d), want %s (%d)", line, what, err_name(got), (int)got,
          err_name(want), (int)want);
    return 0;
}

#define REQUIRE(call, want) do { if (!EXPECT(call, want)) return EXIT_FAIL; } while (0)
#define CHECK(cond, ...) do { if (!(cond)) { failf(__VA_ARGS__); return EXIT_FAIL; } } while (0)

/* --- keys and the test APs ------------------------------------------------- */

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(start + i);
    }
}

static int transport_keys(mnap_keyset *ks)
{
    uint8_t k[16];
    fill(k, sizeof k, 0x40);
    return mnap_keyset_set(ks, 0xFF, k, k, k, sizeof k, 0) == MNAP_OK ? 0 : -1;
}

static int region_keys(mnap_keyset *ks)
{
    uint8_t e[16], m[16], d[16];
    fill(e, 16, 0x10);
    fill(m, 16, 0x30);
    fill(d, 16, 0x50);
    return mnap_keyset_set(ks, 0x01, e, m, d, 16, 1) == MNAP_OK ? 0 : -1;
}

static int ap_keys(mnap_keyset *ks, unsigned idx)
{
    uint8_t e[16], m[16], d[16];
    fill(e, 16, (uint8_t)(0x80 + idx * 0x10));
    fill(m, 16, (uint8_t)(0xA0 + idx * 0x10));
    fill(d, 16, (uint8_t)(0xC0 + idx * 0x10));
    return mnap_keyset_set(ks, 0x01, e, m, d, 16, 1) == MNAP_OK ? 0 : -1;
}

#define AP_AID_LEN 5
static void ap_aid(unsigned idx, uint8_t aid[AP_AID_LEN])
{
    static const uint8_t base[AP_AID_LEN] = { 0xD3, 0x92, 0x10, 0xE2, 0x00 };
    memcpy(aid, base, AP_AID_LEN);
    aid[4] = (uint8_t)idx;
}

#define AP_PIN "1234"
#define EF_BIG 0x0101      /* transparent 128, SM/SM, content pattern */
#define EF_SECRET 0x0102   /* transparent 32, PIN/PIN */
#define EF_VISITS 0x0201   /* linear fixed 16 x 4, SM/SM */
#define EF_LARGE 0x0103    /* AP 2 only: transparent 3000, SM/SM, content pattern */
#define BIG_SIZE 128
#define LARGE_SIZE 3000
#define SECRET_SIZE 32
#define VISIT_LEN 16

static void big_content(unsigned idx, uint8_t out[BIG_SIZE])
{
    for (size_t i = 0; i < BIG_SIZE; i++) {
        out[i] = (uint8_t)(i * 3 + idx);
    }
}

/* More than one LOAD AP block of the card's 2048 bytes, and more than one
 * read: chaining and 256-byte pieces over T=0, extended lengths otherwise. */
static void large_content(uint8_t out[LARGE_SIZE])
{
    for (size_t i = 0; i < LARGE_SIZE; i++) {
        out[i] = (uint8_t)(i * 7 + (i >> 8));
    }
}

static void secret_content(unsigned idx, uint8_t out[SECRET_SIZE])
{
    memset(out, 0, SECRET_SIZE);
    snprintf((char *)out, SECRET_SIZE, "resident secret of AP %u", idx);
}

/* A small BER-TLV writer: tags of 1-2 bytes, lengths up to 0xFFFF. */
typedef struct tlvbuf {
    uint8_t b[8192];
    size_t n;
    int overflow;
} tlvbuf;

static void put(tlvbuf *t, const void *p, size_t n)
{
    if (t->n + n > sizeof t->b) {
        t->overflow = 1;
        return;
    }
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put_tl(tlvbuf *t, unsigned tag, size_t len)
{
    uint8_t h[6];
    size_t k = 0;
    if (tag > 0xFF) {
        h[k++] = (uint8_t)(tag >> 8);
    }
    h[k++] = (uint8_t)tag;
    if (len < 0x80) {
        h[k++] = (uint8_t)len;
    } else if (len <= 0xFF) {
        h[k++] = 0x81;
        h[k++] = (uint8_t)len;
    } else {
        h[k++] = 0x82;
        h[k++] = (uint8_t)(len >> 8);
        h[k++] = (uint8_t)len;
    }
    put(t, h, k);
}

static void put_tlv(tlvbuf *t, unsigned tag, const void *v, size_t len)
{
    put_tl(t, tag, len);
    put(t, v, len);
}

static void put_u8(tlvbuf *t, unsigned tag, uint8_t v)
{
    put_tlv(t, tag, &v, 1);
}

static void put_u16(tlvbuf *t, unsigned tag, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put_tlv(t, tag, b, 2);
}

/* One EF template (A3) into out. */
static void put_ef(tlvbuf *out, uint16_t fid, uint8_t sfi, uint8_t type, uint16_t size,
                   uint8_t rec_len, uint8_t rec_count, uint8_t rd, uint8_t wr,
                   const uint8_t *content, size_t content_len)
{
    tlvbuf ef;
    memset(&ef, 0, sizeof ef);
    put_u16(&ef, 0x83, fid);
    put_u8(&ef, 0x88, sfi);
    put_u8(&ef, 0x82, type);
    if (type == 0x01) {
        put_u16(&ef, 0x80, size);
    } else {
        put_u8(&ef, 0x84, rec_len);
        put_u8(&ef, 0x85, rec_count);
    }
    put_u8(&ef, 0x86, rd);
    put_u8(&ef, 0x87, wr);
    if (content != NULL) {
        put_tlv(&ef, 0x53, content, content_len);
    }
    put_tlv(out, 0xA3, ef.b, ef.n);
    out->overflow |= ef.overflow;
}

/* The AP image of PROTOCOL.md §6 without tag A1: the library adds the key
 * set, wrapped with the session's Key-DEK. */
static size_t build_image(unsigned idx, uint8_t *out, size_t cap)
{
    static tlvbuf img, pol;
    static uint8_t large[LARGE_SIZE];
    uint8_t aid[AP_AID_LEN], big[BIG_SIZE], secret[SECRET_SIZE];

    memset(&img, 0, sizeof img);
    memset(&pol, 0, sizeof pol);
    ap_aid(idx, aid);
    big_content(idx, big);
    secret_content(idx, secret);
    put_tlv(&img, 0x4F, aid, sizeof aid);
    put_u8(&pol, 0x80, 3);
    put_u8(&pol, 0x81, 4);
    put_u8(&pol, 0x82, 8);
    put_tlv(&pol, 0x83, AP_PIN, strlen(AP_PIN));
    put_tlv(&img, 0xA0, pol.b, pol.n);
    put_ef(&img, EF_BIG, 1, 0x01, BIG_SIZE, 0, 0, 0x00, 0x00, big, sizeof big);
    put_ef(&img, EF_SECRET, 2, 0x01, SECRET_SIZE, 0, 0, 0x01, 0x01, secret, sizeof secret);
    put_ef(&img, EF_VISITS, 4, 0x02, 0, VISIT_LEN, 4, 0x00, 0x00, NULL, 0);
    if (idx == 2) {
        large_content(large);
        put_ef(&img, EF_LARGE, 5, 0x01, LARGE_SIZE, 0, 0, 0x00, 0x00, large, sizeof large);
    }
    if (img.overflow || img.n > cap) {
        return 0;
    }
    memcpy(out, img.b, img.n);
    return img.n;
}

/* --- connection ------------------------------------------------------------ */

typedef struct conn {
    mnap_pcsc *pcsc;
    mnap_ctx *ctx;
} conn;

static mnap_err conn_open(conn *c, const char *reader)
{
    mnap_err e;
    memset(c, 0, sizeof *c);
    e = mnap_pcsc_new(&c->pcsc);
    if (e != MNAP_OK) {
        return e;
    }
    e = mnap_pcsc_connect(c->pcsc, reader);
    if (e == MNAP_OK) {
        mnap_transport t = mnap_pcsc_transport(c->pcsc);
        e = mnap_ctx_new(&c->ctx, &t);
    }
    if (e != MNAP_OK) {
        mnap_pcsc_free(c->pcsc);
        c->pcsc = NULL;
    }
    return e;
}

static void conn_close(conn *c)
{
    if (c->ctx != NULL) {
        mnap_ctx_free(c->ctx);
    }
    if (c->pcsc != NULL) {
        mnap_pcsc_free(c->pcsc);
    }
    memset(c, 0, sizeof *c);
}

static mnap_err am_open(conn *c)
{
    mnap_keyset ks;
    if (region_keys(&ks) != 0) {
        return MNAP_E_PARAM;
    }
    mnap_err e = mnap_am_open(c->ctx, &ks, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&ks);
    return e;
}

static mnap_err ap_open(conn *c, unsigned idx)
{
    mnap_keyset ks;
    uint8_t aid[AP_AID_LEN];
    if (ap_keys(&ks, idx) != 0) {
        return MNAP_E_PARAM;
    }
    ap_aid(idx, aid);
    mnap_err e = mnap_ap_open(c->ctx, aid, sizeof aid, &ks, MNAP_LEVEL_FULL);
    mnap_keyset_wipe(&ks);
    return e;
}

/* Marker files shared with run.sh. */
static void touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fclose(f);
    }
}

static int wait_marker(const char *dir, const char *name, int timeout_s)
{
    char path[512];
    struct stat st;
    struct timespec ts = { 0, 50 * 1000000L };
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int i = 0; i < timeout_s * 20; i++) {
        if (stat(path, &st) == 0) {
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    failf("no %s from the harness within %d s", path, timeout_s);
    return -1;
}

static unsigned parse_idx(const char *s)
{
    return (unsigned)strtoul(s, NULL, 10) & 0x0F;
}

/* --- steps ------------------------------------------------------------------ */

/* AREA SETUP with the transport keys, then the region keys open a channel
 * and the area reads ACTIVE with the card's serial. */
static int step_setup(conn *c, const char *serial_hex)
{
    mnap_keyset tk, rk;
    mnap_area_info info;

    CHECK(transport_keys(&tk) == 0 && region_keys(&rk) == 0, "key sets");
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_BLANK, "area state %02X before setup, want 01", info.state);
    /* The region keys cannot open the AM of a blank card. */
    mnap_err e = mnap_am_open(c->ctx, &rk, MNAP_LEVEL_FULL);
    CHECK(e != MNAP_OK, "region keys opened a blank card's AM");
    REQUIRE(mnap_am_open(c->ctx, &tk, MNAP_LEVEL_FULL), MNAP_OK);
    REQUIRE(mnap_area_setup(c->ctx, &rk), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    /* The transport keys are gone; the region keys work. */
    CHECK(mnap_am_open(c->ctx, &tk, MNAP_LEVEL_FULL) != MNAP_OK, "transport keys still open the AM");
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_ACTIVE, "area state %02X after setup, want 0F", info.state);
    CHECK(info.have_am_fields && info.ap_count == 0, "AM fields: have %d, %u APs",
          info.have_am_fields, info.ap_count);
    if (serial_hex != NULL) {
        char got[17];
        for (int i = 0; i < 8; i++) {
            snprintf(got + 2 * i, 3, "%02X", info.serial[i]);
        }
        CHECK(strcmp(got, serial_hex) == 0, "serial %s, want %s", got, serial_hex);
    }
    mnap_keyset_wipe(&tk);
    mnap_keyset_wipe(&rk);
    printf("ok\n");
    return 0;
}

static mnap_err load(conn *c, unsigned idx, size_t block, mnap_progress_fn fn, void *user)
{
    static uint8_t img[8192];
    mnap_keyset ks;
    mnap_load_opts opts;
    size_t n = build_image(idx, img, sizeof img);
    if (n == 0 || ap_keys(&ks, idx) != 0) {
        return MNAP_E_PARAM;
    }
    memset(&opts, 0, sizeof opts);
    opts.block_size = block;
    opts.progress = fn;
    opts.user = user;
    mnap_err e = mnap_area_load_ap(c->ctx, img, n, &ks, &opts);
    mnap_keyset_wipe(&ks);
    return e;
}

static int step_load(conn *c, unsigned idx, size_t block)
{
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(load(c, idx, block, NULL, NULL), MNAP_OK);
    /* The same AID again: 6A89. */
    REQUIRE(load(c, idx, block, NULL, NULL), MNAP_E_EXISTS);
    printf("ok\n");
    return 0;
}

/* Prints one line per AP: AID state tries. */
static int step_list(conn *c)
{
    mnap_ap_entry list[16];
    size_t count = 0;
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_list_aps(c->ctx, list, 16, &count), MNAP_OK);
    for (size_t i = 0; i < count && i < 16; i++) {
        for (size_t k = 0; k < list[i].aid_len; k++) {
            printf("%02X", list[i].aid[k]);
        }
        printf(" %02X %u\n", list[i].state, list[i].pin_tries);
    }
    if (count == 0) {
        printf("none\n");
    }
    return 0;
}

static int read_and_check_files(conn *c, unsigned idx)
{
    uint8_t want[BIG_SIZE], got[BIG_SIZE];
    size_t n = 0;
    big_content(idx, want);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_BIG, 0, got, sizeof got, &n), MNAP_OK);
    CHECK(n == BIG_SIZE && memcmp(got, want, BIG_SIZE) == 0, "EF 0101 content (%zu bytes)", n);
    secret_content(idx, want);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_SECRET, 0, got, SECRET_SIZE, &n), MNAP_OK);
    CHECK(n == SECRET_SIZE && memcmp(got, want, SECRET_SIZE) == 0, "EF 0102 content (%zu bytes)", n);
    if (idx == 2) {
        static uint8_t lwant[LARGE_SIZE], lgot[LARGE_SIZE + 16];
        large_content(lwant);
        REQUIRE(mnap_ap_read_binary(c->ctx, EF_LARGE, 0, lgot, sizeof lgot, &n), MNAP_OK);
        CHECK(n == LARGE_SIZE && memcmp(lgot, lwant, LARGE_SIZE) == 0,
              "EF 0103 content (%zu bytes)", n);
        /* A piece across the 256-byte boundaries, from an odd offset. */
        REQUIRE(mnap_ap_read_binary(c->ctx, EF_LARGE, 1001, lgot, 700, &n), MNAP_OK);
        CHECK(n == 700 && memcmp(lgot, lwant + 1001, 700) == 0, "EF 0103 at 1001 (%zu bytes)", n);
    }
    return 0;
}

/* The kiosk: mutual authentication, PIN, read, append a record. */
static int step_kiosk(conn *c, unsigned idx)
{
    mnap_pin_status ps;
    uint8_t rec[VISIT_LEN], got[64];
    size_t n = 0;
    uint8_t left = 0xEE;

    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_pin_status(c->ctx, &ps), MNAP_OK);
    CHECK(!ps.verified && !ps.blocked && !ps.not_set && ps.tries_left == 3,
          "PIN status before VERIFY: verified %d blocked %d not_set %d tries %u", ps.verified,
          ps.blocked, ps.not_set, ps.tries_left);
    /* The PIN file needs the PIN; the SM file does not. */
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_SECRET, 0, got, SECRET_SIZE, &n), MNAP_E_SECURITY);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), &left), MNAP_OK);
    REQUIRE(mnap_ap_pin_status(c->ctx, &ps), MNAP_OK);
    CHECK(ps.verified, "PIN not verified after VERIFY");
    if (read_and_check_files(c, idx) != 0) {
        return EXIT_FAIL;
    }
    memset(rec, 0, sizeof rec);
    snprintf((char *)rec, sizeof rec, "visit AP%u", idx);
    REQUIRE(mnap_ap_append_record(c->ctx, EF_VISITS, rec, sizeof rec), MNAP_OK);
    REQUIRE(mnap_ap_read_record(c->ctx, EF_VISITS, 1, got, sizeof got, &n), MNAP_OK);
    CHECK(n == VISIT_LEN && memcmp(got, rec, VISIT_LEN) == 0, "record 1 of EF 0201 (%zu bytes)", n);
    /* No second record yet. */
    REQUIRE(mnap_ap_read_record(c->ctx, EF_VISITS, 2, got, sizeof got, &n), MNAP_E_RECORD_NOT_FOUND);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    /* Another AP's keys do not open this AP. */
    mnap_keyset other;
    uint8_t aid[AP_AID_LEN];
    CHECK(ap_keys(&other, idx + 7) == 0, "keys");
    ap_aid(idx, aid);
    REQUIRE(mnap_ap_open(c->ctx, aid, sizeof aid, &other, MNAP_LEVEL_FULL), MNAP_E_CARD_AUTH);
    mnap_keyset_wipe(&other);
    printf("ok\n");
    return 0;
}

/* Three wrong PINs block it; the municipality unblocks it with a new PIN. */
static int step_lockout(conn *c, unsigned idx)
{
    uint8_t left = 0xEE, got[SECRET_SIZE], aid[AP_AID_LEN];
    size_t n = 0;
    mnap_ap_entry list[16];
    size_t count = 0;

    ap_aid(idx, aid);
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, "9999", 4, &left), MNAP_E_PIN_WRONG);
    CHECK(left == 2, "tries left %u after one wrong PIN, want 2", left);
    REQUIRE(mnap_ap_verify_pin(c->ctx, "8888", 4, &left), MNAP_E_PIN_WRONG);
    CHECK(left == 1, "tries left %u after two wrong PINs, want 1", left);
    REQUIRE(mnap_ap_verify_pin(c->ctx, "7777", 4, &left), MNAP_E_PIN_BLOCKED);
    CHECK(left == 0, "tries left %u when blocked, want 0", left);
    /* Blocked: even the right PIN is refused; SM files still work, PIN files not. */
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), &left), MNAP_E_PIN_BLOCKED);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_SECRET, 0, got, sizeof got, &n), MNAP_E_PIN_BLOCKED);
    uint8_t big[BIG_SIZE];
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_BIG, 0, big, sizeof big, &n), MNAP_OK);
    /* A PIN breaking the policy uses no try (and is refused the same way). */
    REQUIRE(mnap_close(c->ctx), MNAP_OK);

    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_list_aps(c->ctx, list, 16, &count), MNAP_OK);
    int seen = 0;
    for (size_t i = 0; i < count && i < 16; i++) {
        if (list[i].aid_len == AP_AID_LEN && memcmp(list[i].aid, aid, AP_AID_LEN) == 0) {
            CHECK(list[i].pin_tries == 0, "GET STATUS tries %u for a blocked PIN", list[i].pin_tries);
            seen = 1;
        }
    }
    CHECK(seen, "AP %u not listed", idx);
    REQUIRE(mnap_area_unblock_pin(c->ctx, aid, sizeof aid, "12", 2), MNAP_E_PIN_POLICY);
    REQUIRE(mnap_area_unblock_pin(c->ctx, aid, sizeof aid, "567890", 6), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);

    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), &left), MNAP_E_PIN_WRONG);
    CHECK(left == 2, "tries left %u after the old PIN, want 2", left);
    REQUIRE(mnap_ap_verify_pin(c->ctx, "567890", 6, &left), MNAP_OK);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_SECRET, 0, got, sizeof got, &n), MNAP_OK);
    /* Back to the PIN the other steps use. */
    REQUIRE(mnap_ap_change_pin(c->ctx, "567890", 6, AP_PIN, strlen(AP_PIN), &left), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

static int ap_state(conn *c, unsigned idx, uint8_t *state)
{
    mnap_ap_entry list[16];
    size_t count = 0;
    uint8_t aid[AP_AID_LEN];
    ap_aid(idx, aid);
    *state = 0;
    REQUIRE(mnap_area_list_aps(c->ctx, list, 16, &count), MNAP_OK);
    for (size_t i = 0; i < count && i < 16; i++) {
        if (list[i].aid_len == AP_AID_LEN && memcmp(list[i].aid, aid, AP_AID_LEN) == 0) {
            *state = list[i].state;
        }
    }
    return 0;
}

static int step_suspend(conn *c, unsigned idx)
{
    uint8_t aid[AP_AID_LEN], st;
    ap_aid(idx, aid);
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_suspend_ap(c->ctx, aid, sizeof aid), MNAP_OK);
    if (ap_state(c, idx, &st) != 0) {
        return EXIT_FAIL;
    }
    CHECK(st == MNAP_AP_SUSPENDED, "state %02X after suspend, want 83", st);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    REQUIRE(ap_open(c, idx), MNAP_E_NOT_ACTIVE);

    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_resume_ap(c->ctx, aid, sizeof aid), MNAP_OK);
    if (ap_state(c, idx, &st) != 0) {
        return EXIT_FAIL;
    }
    CHECK(st == MNAP_AP_ACTIVE, "state %02X after resume, want 07", st);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL), MNAP_OK);
    if (read_and_check_files(c, idx) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

static int step_delete(conn *c, unsigned idx)
{
    uint8_t aid[AP_AID_LEN], st;
    ap_aid(idx, aid);
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_delete_ap(c->ctx, aid, sizeof aid), MNAP_OK);
    if (ap_state(c, idx, &st) != 0) {
        return EXIT_FAIL;
    }
    CHECK(st == 0, "deleted AP still listed (state %02X)", st);
    REQUIRE(mnap_area_delete_ap(c->ctx, aid, sizeof aid), MNAP_E_REF_NOT_FOUND);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    REQUIRE(ap_open(c, idx), MNAP_E_NOT_FOUND);
    printf("ok\n");
    return 0;
}

/* Locks the area: APs refuse, the AM still reads; loading is refused. */
static int step_lock(conn *c, unsigned live_idx)
{
    mnap_area_info info;
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_lock(c->ctx), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_LOCKED, "area state %02X after lock, want 7F", info.state);
    REQUIRE(load(c, 9, 0, NULL, NULL), MNAP_E_CONDITIONS);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    REQUIRE(ap_open(c, live_idx), MNAP_E_NOT_ACTIVE);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_LOCKED, "area state %02X outside a session, want 7F", info.state);
    printf("ok\n");
    return 0;
}

/* The security log, newest first: one line per entry, "SEQ EVENT AID REPEAT"
 * (AID "-" for the area's own events). */
static int step_log(conn *c)
{
    mnap_log_entry log[40];
    size_t count = 0;
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_read_log(c->ctx, log, 40, &count), MNAP_OK);
    for (size_t i = 0; i < count && i < 40; i++) {
        printf("%u %s ", (unsigned)log[i].seq, mnap_log_event_name(log[i].event));
        if (log[i].aid_len == 0) {
            printf("-");
        }
        for (size_t k = 0; k < log[i].aid_len; k++) {
            printf("%02X", log[i].aid[k]);
        }
        printf(" %u\n", log[i].repeat);
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    return 0;
}

/* After an interrupted load: the AP is absent, or present and complete. */
static int step_check_ap(conn *c, unsigned idx)
{
    uint8_t st;
    REQUIRE(am_open(c), MNAP_OK);
    if (ap_state(c, idx, &st) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    if (st == 0) {
        REQUIRE(ap_open(c, idx), MNAP_E_NOT_FOUND);
        printf("absent\n");
        return 0;
    }
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL), MNAP_OK);
    if (read_and_check_files(c, idx) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("complete\n");
    return 0;
}

typedef struct pause_ctx {
    const char *dir;
    int paused;
    int wait_failed;
} pause_ctx;

/* Progress callback: after the first block (of several), hand over to the
 * harness, which kills mnap-vcard, and wait for it. */
static void pause_after_first_block(void *user, size_t done, size_t total)
{
    pause_ctx *p = user;
    if (p->paused || done == 0 || done >= total) {
        return;
    }
    p->paused = 1;
    touch(p->dir, "ready");
    if (wait_marker(p->dir, "go", 30) != 0) {
        p->wait_failed = 1;
    }
}

/* Loads an AP in blocks and lets the harness kill the card after the first
 * block; the load must fail with a named transport error. */
static int step_load_killed(conn *c, unsigned idx, size_t block, const char *dir)
{
    pause_ctx p = { dir, 0, 0 };
    REQUIRE(am_open(c), MNAP_OK);
    mnap_err e = load(c, idx, block, pause_after_first_block, &p);
    CHECK(p.paused && !p.wait_failed, "the load never paused after a block (image too small?)");
    CHECK(e == MNAP_E_CARD_REMOVED || e == MNAP_E_NO_CARD,
          "load after the card died: got %s (%d), want MNAP_E_CARD_REMOVED", err_name(e), (int)e);
    printf("%s\n", err_name(e));
    return 0;
}

/* Loads in blocks while mnap-vcard runs with --die-at: the load fails with a
 * named error, whichever block the card died at. */
static int step_load_dies(conn *c, unsigned idx, size_t block)
{
    REQUIRE(am_open(c), MNAP_OK);
    mnap_err e = load(c, idx, block, NULL, NULL);
    /* vpcd reports a card that vanished mid-command as an empty response;
     * libmnap asks the reader whether the card left (CARD_REMOVED) or is
     * still there but silent (CARD_MUTE). */
    CHECK(e == MNAP_E_CARD_REMOVED || e == MNAP_E_CARD_MUTE,
          "load with a dying card: got %s (%d), want MNAP_E_CARD_REMOVED or _CARD_MUTE",
          err_name(e), (int)e);
    printf("%s\n", err_name(e));
    return 0;
}

/* A session; the harness pulls the card; the next command reports it; the
 * card comes back and a reconnect plus a new session work. */
static int step_session_removed(conn *c, const char *reader, const char *dir)
{
    mnap_area_info info;
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    touch(dir, "ready");
    if (wait_marker(dir, "go", 30) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_E_CARD_REMOVED);
    touch(dir, "removed");
    if (wait_marker(dir, "go2", 30) != 0) {
        return EXIT_FAIL;
    }
    /* The card is back: connect again (its channel is gone with the power). */
    conn_close(c);
    REQUIRE(conn_open(c, reader), MNAP_OK);
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_ACTIVE && info.have_am_fields, "area after reinsertion");
    printf("ok\n");
    return 0;
}

/* A session; the harness stops pcscd; the host reports no service; pcscd
 * comes back and a new PC/SC context works. */
static int step_session_nosvc(conn *c, const char *reader, const char *dir)
{
    mnap_area_info info;
    mnap_pcsc *p2 = NULL;
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    touch(dir, "ready");
    if (wait_marker(dir, "go", 30) != 0) {
        return EXIT_FAIL;
    }
    /* pcscd is down: the old context and a new one both say so. */
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_E_NO_SERVICE);
    REQUIRE(mnap_pcsc_new(&p2), MNAP_E_NO_SERVICE);
    touch(dir, "nosvc");
    if (wait_marker(dir, "go2", 30) != 0) {
        return EXIT_FAIL;
    }
    conn_close(c);
    REQUIRE(conn_open(c, reader), MNAP_OK);
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(mnap_area_info_get(c->ctx, &info), MNAP_OK);
    CHECK(info.state == MNAP_AREA_ACTIVE && info.have_am_fields, "area after pcscd restart");
    printf("ok\n");
    return 0;
}

/* --- another program on the same reader (issue #21, item 2) ---------------- */

/* An AP session with a pause in the middle: the harness sends another
 * program's commands (e2e_pcsc) to the card meanwhile.  The session holds the
 * card (a PC/SC transaction), so they wait or are refused, and the session
 * goes on as if alone. */
static int step_interleave(conn *c, unsigned idx, const char *dir)
{
    uint8_t want[BIG_SIZE], got[BIG_SIZE], rec[VISIT_LEN];
    size_t n = 0;

    big_content(idx, want);
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL), MNAP_OK);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_BIG, 0, got, sizeof got, &n), MNAP_OK);
    touch(dir, "ready");
    if (wait_marker(dir, "go", 30) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_BIG, 0, got, sizeof got, &n), MNAP_OK);
    CHECK(n == BIG_SIZE && memcmp(got, want, BIG_SIZE) == 0, "EF 0101 after the other program");
    memset(rec, 0x5A, sizeof rec);
    REQUIRE(mnap_ap_append_record(c->ctx, EF_VISITS, rec, sizeof rec), MNAP_OK);
    REQUIRE(mnap_ap_read_binary(c->ctx, EF_SECRET, 0, got, SECRET_SIZE, &n), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

/* A load in blocks with a pause after the first: the other program's
 * commands come between two LOAD AP blocks. */
static int step_load_interleave(conn *c, unsigned idx, size_t block, const char *dir)
{
    pause_ctx p = { dir, 0, 0 };
    REQUIRE(am_open(c), MNAP_OK);
    REQUIRE(load(c, idx, block, pause_after_first_block, &p), MNAP_OK);
    CHECK(p.paused && !p.wait_failed, "the load never paused after a block (image too small?)");
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

/* Between two sessions the card is free: the harness resets it (another
 * program's SCardReconnect).  The next session is told so by name
 * (MNAP_E_CARD_RESET), never by a status word; after mnap_reconnect it works. */
static int step_reset_between(conn *c, unsigned idx, const char *dir)
{
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    touch(dir, "ready");
    if (wait_marker(dir, "go", 30) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(ap_open(c, idx), MNAP_E_CARD_RESET);
    REQUIRE(mnap_reconnect(c->ctx), MNAP_OK);
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL), MNAP_OK);
    if (read_and_check_files(c, idx) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

/* Exclusive mode: while this program is connected, another one cannot
 * connect at all (a second mnap_pcsc: MNAP_E_CARD_BUSY; the harness's
 * e2e_pcsc: SCARD_E_SHARING_VIOLATION); sessions work as usual. */
static int step_exclusive(conn *c, const char *reader, unsigned idx, const char *dir)
{
    mnap_pcsc *other = NULL;

    conn_close(c);
    memset(c, 0, sizeof *c);
    REQUIRE(mnap_pcsc_new(&c->pcsc), MNAP_OK);
    REQUIRE(mnap_pcsc_set_exclusive(c->pcsc, 1), MNAP_OK);
    REQUIRE(mnap_pcsc_connect(c->pcsc, reader), MNAP_OK);
    mnap_transport t = mnap_pcsc_transport(c->pcsc);
    REQUIRE(mnap_ctx_new(&c->ctx, &t), MNAP_OK);
    REQUIRE(mnap_pcsc_new(&other), MNAP_OK);
    REQUIRE(mnap_pcsc_connect(other, reader), MNAP_E_CARD_BUSY);
    mnap_pcsc_free(other);
    touch(dir, "ready");
    if (wait_marker(dir, "go", 30) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(ap_open(c, idx), MNAP_OK);
    REQUIRE(mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL), MNAP_OK);
    if (read_and_check_files(c, idx) != 0) {
        return EXIT_FAIL;
    }
    REQUIRE(mnap_close(c->ctx), MNAP_OK);
    printf("ok\n");
    return 0;
}

/* Several threads, each with its own PC/SC context and mnap_ctx on the one
 * reader, each running whole kiosk flows.  Every flow must succeed (the
 * sessions take turns) or fail with a named card-sharing error; none may
 * fail with a status word. */
typedef struct tjob {
    const char *reader;
    unsigned idx, rounds;
    unsigned ok, named, wrong;
    mnap_err first_wrong;
    pthread_t th;
} tjob;

static int flow_once(conn *c, unsigned idx, mnap_err *e)
{
    uint8_t want[BIG_SIZE], got[BIG_SIZE];
    size_t n = 0;

    big_content(idx, want);
    if ((*e = ap_open(c, idx)) != MNAP_OK ||
        (*e = mnap_ap_verify_pin(c->ctx, AP_PIN, strlen(AP_PIN), NULL)) != MNAP_OK ||
        (*e = mnap_ap_read_binary(c->ctx, EF_BIG, 0, got, sizeof got, &n)) != MNAP_OK) {
        return -1;
    }
    if (n != BIG_SIZE || memcmp(got, want, BIG_SIZE) != 0) {
        *e = MNAP_E_PROTOCOL;
        return -1;
    }
    *e = mnap_close(c->ctx);
    return *e == MNAP_OK ? 0 : -1;
}

static void *thread_flows(void *arg)
{
    tjob *j = arg;
    conn c;
    mnap_err e = conn_open(&c, j->reader);

    for (unsigned r = 0; r < j->rounds; r++) {
        if (e == MNAP_OK && flow_once(&c, j->idx, &e) == 0) {
            j->ok++;
            continue;
        }
        if (e == MNAP_E_CARD_RESET || e == MNAP_E_CARD_BUSY) {
            j->named++;
            (void)mnap_reconnect(c.ctx);
        } else {
            if (j->wrong++ == 0) {
                j->first_wrong = e;
            }
        }
        e = MNAP_OK;
        if (c.ctx == NULL) {
            e = conn_open(&c, j->reader);
        }
    }
    conn_close(&c);
    return NULL;
}

static int step_threads(const char *reader, unsigned nthreads, unsigned rounds, unsigned idx)
{
    tjob jobs[8];
    unsigned ok = 0, named = 0, wrong = 0;

    CHECK(nthreads >= 1 && nthreads <= 8, "1 to 8 threads");
    memset(jobs, 0, sizeof jobs);
    for (unsigned i = 0; i < nthreads; i++) {
        jobs[i].reader = reader;
        jobs[i].idx = idx;
        jobs[i].rounds = rounds;
        CHECK(pthread_create(&jobs[i].th, NULL, thread_flows, &jobs[i]) == 0, "pthread_create");
    }
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(jobs[i].th, NULL);
        ok += jobs[i].ok;
        named += jobs[i].named;
        wrong += jobs[i].wrong;
        if (jobs[i].wrong) {
            failf("thread %u: %u flow(s) failed, the first with %s (%d)", i, jobs[i].wrong,
                  err_name(jobs[i].first_wrong), (int)jobs[i].first_wrong);
        }
    }
    printf("%u ok, %u named, %u wrong\n", ok, named, wrong);
    return wrong == 0 ? 0 : EXIT_FAIL;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: e2e_host READER STEP [ARGS]\n"
            "steps: setup [SERIALHEX] | load IDX [BLOCK] | list | log | kiosk IDX | lockout IDX |\n"
            "       suspend IDX | delete IDX | lock LIVE_IDX | check-ap IDX |\n"
            "       load-killed IDX BLOCK DIR | load-dies IDX BLOCK |\n"
            "       session-removed DIR | session-nosvc DIR |\n"
            "       interleave IDX DIR | load-interleave IDX BLOCK DIR | reset-between IDX DIR |\n"
            "       exclusive IDX DIR | threads N ROUNDS IDX\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    conn c;
    int r;

    if (argc < 3) {
        return usage();
    }
    const char *reader = argv[1];
    const char *step = argv[2];
    mnap_err e = conn_open(&c, reader);
    if (e != MNAP_OK) {
        failf("connect to '%s': %s (%d)", reader, err_name(e), (int)e);
        return EXIT_FAIL;
    }
    if (strcmp(step, "setup") == 0) {
        r = step_setup(&c, argc > 3 ? argv[3] : NULL);
    } else if (strcmp(step, "load") == 0 && argc >= 4) {
        r = step_load(&c, parse_idx(argv[3]), argc > 4 ? strtoul(argv[4], NULL, 10) : 0);
    } else if (strcmp(step, "list") == 0) {
        r = step_list(&c);
    } else if (strcmp(step, "log") == 0) {
        r = step_log(&c);
    } else if (strcmp(step, "kiosk") == 0 && argc == 4) {
        r = step_kiosk(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "lockout") == 0 && argc == 4) {
        r = step_lockout(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "suspend") == 0 && argc == 4) {
        r = step_suspend(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "delete") == 0 && argc == 4) {
        r = step_delete(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "lock") == 0 && argc == 4) {
        r = step_lock(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "check-ap") == 0 && argc == 4) {
        r = step_check_ap(&c, parse_idx(argv[3]));
    } else if (strcmp(step, "load-killed") == 0 && argc == 6) {
        r = step_load_killed(&c, parse_idx(argv[3]), strtoul(argv[4], NULL, 10), argv[5]);
    } else if (strcmp(step, "load-dies") == 0 && argc == 5) {
        r = step_load_dies(&c, parse_idx(argv[3]), strtoul(argv[4], NULL, 10));
    } else if (strcmp(step, "session-removed") == 0 && argc == 4) {
        r = step_session_removed(&c, reader, argv[3]);
    } else if (strcmp(step, "session-nosvc") == 0 && argc == 4) {
        r = step_session_nosvc(&c, reader, argv[3]);
    } else if (strcmp(step, "interleave") == 0 && argc == 5) {
        r = step_interleave(&c, parse_idx(argv[3]), argv[4]);
    } else if (strcmp(step, "load-interleave") == 0 && argc == 6) {
        r = step_load_interleave(&c, parse_idx(argv[3]), strtoul(argv[4], NULL, 10), argv[5]);
    } else if (strcmp(step, "reset-between") == 0 && argc == 5) {
        r = step_reset_between(&c, parse_idx(argv[3]), argv[4]);
    } else if (strcmp(step, "exclusive") == 0 && argc == 5) {
        r = step_exclusive(&c, reader, parse_idx(argv[3]), argv[4]);
    } else if (strcmp(step, "threads") == 0 && argc == 6) {
        r = step_threads(reader, (unsigned)strtoul(argv[3], NULL, 10),
                         (unsigned)strtoul(argv[4], NULL, 10), parse_idx(argv[5]));
    } else {
        r = usage();
    }
    conn_close(&c);
    if (r == 0 && g_failed) {
        r = EXIT_FAIL;
    }
    return r;
}
