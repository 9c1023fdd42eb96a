/* test_manifest.c: the AP manifest compiler's output.  The shipped examples
 * must check and build; a small manifest must give exactly the image bytes of
 * PROTOCOL.md §6 written out by hand here, with the key check values and the
 * wrapped keys computed independently through OpenSSL's EVP AES (not through
 * common/); build-time failures (unknown key set, bad key set, small buffer)
 * must be refused and leave no image behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "card_harness.h"
#include "cm_tlv.h"
#include "manifest.h"

/* ---- independent AES through EVP --------------------------------------- */

static const EVP_CIPHER *ecb(size_t key_len)
{
    return key_len == 16 ? EVP_aes_128_ecb() : key_len == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
}

static const EVP_CIPHER *cbc(size_t key_len)
{
    return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
}

static void evp_run(const EVP_CIPHER *c, int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                    size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, f = 0;
    assert_non_null(ctx);
    assert_int_equal(EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_CipherUpdate(ctx, out, &n, in, (int)len), 1);
    assert_int_equal(EVP_CipherFinal_ex(ctx, out + n, &f), 1);
    assert_int_equal(n + f, (int)len);
    EVP_CIPHER_CTX_free(ctx);
}

/* The cm_aes the library runs on in these tests. */
static int evp_block(void *ctx, int decrypt, const uint8_t *key, size_t key_len, const uint8_t in[16],
                     uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;
    (void)ctx;
    if (c == NULL || !cm_aes_valid_key_len(key_len))
        return -1;
    ok = EVP_CipherInit_ex(c, ecb(key_len), NULL, key, NULL, !decrypt) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_CipherUpdate(c, out, &n, in, 16) == 1 && n == 16;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static const cm_aes AES = { evp_block, NULL };

/* KCV: first 3 bytes of AES-ECB(key, 16 x 01). */
static void evp_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    uint8_t ones[16], out[16];
    memset(ones, 0x01, sizeof ones);
    evp_run(ecb(key_len), 1, key, NULL, ones, 16, out);
    memcpy(kcv, out, 3);
}

/* E(key): AES-CBC under dek with a zero ICV; AES-192 keys padded 80 00... */
static size_t evp_wrap(const uint8_t *dek, size_t dek_len, const uint8_t *key, size_t key_len, uint8_t *out)
{
    uint8_t in[32] = { 0 };
    uint8_t iv[16] = { 0 };
    size_t n = key_len;
    memcpy(in, key, key_len);
    if (key_len % 16 != 0) {
        in[key_len] = 0x80;
        n = 32;
    }
    evp_run(cbc(dek_len), 1, dek, iv, in, n, out);
    return n;
}

/* Key set data (PROTOCOL.md §3) computed here, byte by byte. */
static size_t evp_keyset_data(const uint8_t *dek, size_t dek_len, const cm_keyset *ks, uint8_t *out)
{
    const uint8_t *keys[3] = { ks->enc, ks->mac, ks->dek };
    size_t n = 0;
    out[n++] = ks->kvn;
    for (int i = 0; i < 3; i++) {
        uint8_t e[32];
        size_t el = evp_wrap(dek, dek_len, keys[i], ks->key_len, e);
        out[n++] = 0x88;
        out[n++] = (uint8_t)(1 + el);
        out[n++] = ks->key_len;
        memcpy(out + n, e, el);
        n += el;
        out[n++] = 0x03;
        evp_kcv(keys[i], ks->key_len, out + n);
        n += 3;
    }
    return n;
}

/* ---- the test key store ------------------------------------------------ */

static void fill_keys(cm_keyset *ks, uint8_t kvn, uint8_t key_len, uint8_t seed)
{
    memset(ks, 0, sizeof *ks);
    for (size_t i = 0; i < key_len; i++) {
        ks->enc[i] = (uint8_t)(seed + i);
        ks->mac[i] = (uint8_t)(seed + 0x40 + i);
        ks->dek[i] = (uint8_t)(seed + 0x80 + i);
    }
    ks->key_len = key_len;
    ks->kvn = kvn;
}

static int lookups;

static int test_keys(void *ctx, const char *name, cm_keyset *out)
{
    (void)ctx;
    lookups++;
    if (strcmp(name, "library") == 0)
        fill_keys(out, 0x11, 16, 0x10);
    else if (strcmp(name, "certificate") == 0)
        fill_keys(out, 0x12, 24, 0x20);
    else if (strcmp(name, "booking") == 0)
        fill_keys(out, 0x13, 32, 0x30);
    else if (strcmp(name, "t") == 0)
        fill_keys(out, 0x21, 16, 0x00);
    else if (strcmp(name, "kvn80") == 0)
        fill_keys(out, 0x80, 16, 0x00);
    else if (strcmp(name, "kvn00") == 0)
        fill_keys(out, 0x00, 16, 0x00);
    else if (strcmp(name, "len20") == 0)
        fill_keys(out, 0x01, 20, 0x00);
    else
        return -1;
    return 0;
}

static const uint8_t REGION_DEK[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                        0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F };

static mt_manifest M;              /* 33 KiB: static rather than on the stack */
static uint8_t IMG[MT_MANIFEST_MAX_IMAGE + 64];
static uint8_t EXP[MT_MANIFEST_MAX_IMAGE + 64];

static void print_hex(const char *label, const uint8_t *b, size_t n)
{
    fprintf(stderr, "%s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%02X", i % 32 == 0 ? "\n  " : " ", b[i]);
    fprintf(stderr, "\n");
}

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *exp, size_t exp_len)
{
    if (got_len != exp_len || memcmp(got, exp, exp_len) != 0) {
        print_hex("got", got, got_len);
        print_hex("expected", exp, exp_len);
        fail_msg("image bytes differ");
    }
}

static void print_report(const mt_manifest_report *r)
{
    for (size_t i = 0; i < r->count && i < r->cap; i++)
        fprintf(stderr, "  %d:%d: %s\n", r->items[i].line, r->items[i].column, r->items[i].message);
}

/* Appends bytes given in hex (spaces ignored) at out[n]; returns the new n. */
static size_t put_hex(uint8_t *out, size_t n, const char *hex)
{
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        int v;
        if (*p == ' ')
            continue;
        v = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : -1;
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    return n;
}

static size_t put_bytes(uint8_t *out, size_t n, const void *b, size_t len)
{
    memcpy(out + n, b, len);
    return n + len;
}

/* ---- exact bytes ---------------------------------------------------------- */

static const char SMALL[] =
    "{\n"
    "  \"aid\": \"D392F0000101\",\n"
    "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8, \"initial\": \"1234\" },\n"
    "  \"key_set\": \"t\",\n"
    "  \"min_level\": \"13\",\n"
    "  \"files\": [\n"
    "    { \"fid\": \"0101\", \"sfi\": 1, \"type\": \"transparent\", \"size\": 16, \"read\": \"SM\",\n"
    "      \"write\": \"PIN\", \"content_text\": \"Hi\" },\n"
    "    { \"fid\": \"0102\", \"sfi\": 2, \"type\": \"cyclic\", \"record_length\": 8, \"record_count\": 4,\n"
    "      \"read\": \"PIN\", \"write\": \"NEVER\" },\n"
    "    { \"fid\": \"0110\", \"type\": \"linear-fixed\", \"record_length\": 254, \"record_count\": 254,\n"
    "      \"read\": \"NEVER\", \"write\": \"SM\", \"description\": \"no SFI\" }\n"
    "  ]\n"
    "}\n";

static void test_small_manifest_exact_image(void **state)
{
    mt_manifest_problem items[8];
    mt_manifest_report r;
    cm_keyset ks;
    uint8_t ksd[200];
    size_t ksd_len, n = 0, out_len = 0;
    (void)state;

    mt_manifest_report_init(&r, items, 8);
    assert_int_equal(mt_manifest_check(SMALL, strlen(SMALL), &M, &r), MT_MANIFEST_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(M.ef_count, 3);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_OK);
    assert_int_equal(r.count, 0);

    fill_keys(&ks, 0x21, 16, 0x00);
    ksd_len = evp_keyset_data(REGION_DEK, 16, &ks, ksd);
    assert_int_equal(ksd_len, 70);

    n = put_hex(EXP, n, "4F 06 D3 92 F0 00 01 01");
    n = put_hex(EXP, n, "A0 0F 80 01 03 81 01 04 82 01 08 83 04 31 32 33 34");
    n = put_hex(EXP, n, "A1 46");
    n = put_bytes(EXP, n, ksd, ksd_len);
    n = put_hex(EXP, n, "A2 03 80 01 13");
    n = put_hex(EXP, n, "A3 18 83 02 01 01 88 01 01 82 01 01 80 02 00 10 86 01 00 87 01 01 53 02 48 69");
    n = put_hex(EXP, n, "A3 16 83 02 01 02 88 01 02 82 01 06 84 01 08 85 01 04 86 01 01 87 01 FF");
    n = put_hex(EXP, n, "A3 13 83 02 01 10 82 01 02 84 01 FE 85 01 FE 86 01 FF 87 01 00");
    assert_bytes(IMG, out_len, EXP, n);
    assert_int_equal(mt_manifest_image_size(&M, 16), n);
    mt_manifest_wipe(&M);
}

/* AES-192 keys (padded before wrapping), no A2, no initial PIN, and initial
 * contents long enough for the 81 and 82 length forms. */
static void test_long_forms_and_aes192(void **state)
{
    static char text[4096];
    char hex300[601], hex200[401];
    mt_manifest_problem items[8];
    mt_manifest_report r;
    cm_keyset ks;
    uint8_t ksd[200], c300[300], c200[200];
    size_t ksd_len, n = 0, out_len = 0;
    (void)state;

    for (size_t i = 0; i < 300; i++) {
        c300[i] = (uint8_t)i;
        snprintf(hex300 + 2 * i, 3, "%02x", c300[i]);
    }
    for (size_t i = 0; i < 200; i++) {
        c200[i] = (uint8_t)(0xFF - i);
        snprintf(hex200 + 2 * i, 3, "%02X", c200[i]);
    }
    snprintf(text, sizeof text,
             "{\"aid\":\"A000000001\",\"key_set\":\"certificate\",\n"
             "\"pin\":{\"max_tries\":1,\"min_length\":12,\"max_length\":12},\n"
             "\"files\":[{\"fid\":\"1000\",\"type\":\"transparent\",\"size\":300,\"read\":\"PIN\",\"write\":\"PIN\","
             "\"content_hex\":\"%s\"},\n"
             "{\"fid\":\"1001\",\"sfi\":30,\"type\":\"transparent\",\"size\":32767,\"read\":\"SM\",\"write\":\"SM\","
             "\"content_hex\":\"%s\"}]}\n",
             hex300, hex200);
    mt_manifest_report_init(&r, items, 8);
    assert_int_equal(mt_manifest_check(text, strlen(text), &M, &r), MT_MANIFEST_OK);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_OK);

    fill_keys(&ks, 0x12, 24, 0x20);
    ksd_len = evp_keyset_data(REGION_DEK, 16, &ks, ksd);
    assert_int_equal(ksd_len, 118);
    n = put_hex(EXP, n, "4F 05 A0 00 00 00 01");
    n = put_hex(EXP, n, "A0 09 80 01 01 81 01 0C 82 01 0C");
    n = put_hex(EXP, n, "A1 76");
    n = put_bytes(EXP, n, ksd, ksd_len);
    /* 4 + 3 + 4 + 3 + 3 + (4 + 300) = 321 = 0x141 */
    n = put_hex(EXP, n, "A3 82 01 41 83 02 10 00 82 01 01 80 02 01 2C 86 01 01 87 01 01 53 82 01 2C");
    n = put_bytes(EXP, n, c300, 300);
    /* 4 + 3 + 3 + 4 + 3 + 3 + (3 + 200) = 223 = 0xDF */
    n = put_hex(EXP, n, "A3 81 DF 83 02 10 01 88 01 1E 82 01 01 80 02 7F FF 86 01 00 87 01 00 53 81 C8");
    n = put_bytes(EXP, n, c200, 200);
    assert_bytes(IMG, out_len, EXP, n);
    assert_int_equal(mt_manifest_image_size(&M, 24), n);
    mt_manifest_wipe(&M);
}

/* content_text: JSON escapes undone, UTF-8 kept as is; hex with spaces. */
static void test_text_escapes_and_spaced_hex(void **state)
{
    static const char text[] =
        "{\"aid\":\"D392F00002\",\"key_set\":\"t\",\"pin\":{\"max_tries\":2,\"min_length\":4,\"max_length\":4},\n"
        "\"files\":[{\"fid\":\"0001\",\"type\":\"transparent\",\"size\":40,\"read\":\"SM\",\"write\":\"SM\",\n"
        "\"content_text\":\"\xE5\x9B\xB3 a\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\t\"},\n"
        "{\"fid\":\"0002\",\"type\":\"transparent\",\"size\":3,\"read\":\"SM\",\"write\":\"SM\",\n"
        "\"content_hex\":\"0a 0B  fF\"}]}";
    mt_manifest_problem items[8];
    mt_manifest_report r;
    static const uint8_t want_text[] = { 0xE5, 0x9B, 0xB3, 0x20, 0x61, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80,
                                         0x0A, 0x22, 0x5C, 0x2F, 0x09 };
    static const uint8_t want_hex[] = { 0x0A, 0x0B, 0xFF };
    (void)state;

    mt_manifest_report_init(&r, items, 8);
    assert_int_equal(mt_manifest_check(text, strlen(text), &M, &r), MT_MANIFEST_OK);
    assert_int_equal(M.ef_count, 2);
    assert_true(M.efs[0].has_content);
    assert_bytes(M.content + M.efs[0].content_off, M.efs[0].content_len, want_text, sizeof want_text);
    assert_bytes(M.content + M.efs[1].content_off, M.efs[1].content_len, want_hex, sizeof want_hex);
    mt_manifest_wipe(&M);
}

/* ---- the shipped examples ------------------------------------------------- */

/* Checks and builds one example, then walks the image: the top-level tags
 * in order, the AID, and the key set data against the EVP computation. */
static void check_example(const char *path, const char *aid_hex, uint8_t key_len, uint8_t kvn, uint8_t seed,
                          bool has_a2, size_t efs)
{
    mt_manifest_problem items[16];
    mt_manifest_report r;
    cm_keyset ks;
    uint8_t ksd[200], aid[16];
    size_t ksd_len, aid_len, out_len = 0, pos = 0, a3 = 0;
    cm_tlv t;

    mt_manifest_report_init(&r, items, 16);
    if (mt_manifest_check_file(path, &M, &r) != MT_MANIFEST_OK) {
        print_report(&r);
        fail_msg("%s does not check", path);
    }
    assert_int_equal(M.ef_count, efs);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(out_len, mt_manifest_image_size(&M, key_len));
    assert_true(out_len <= MT_MANIFEST_MAX_IMAGE);
    /* Top level only: A1 is constructed by its tag but holds key set data,
     * not TLVs; the other templates are checked one by one below. */
    assert_int_equal(cm_tlv_validate(IMG, out_len, 0), CM_OK);

    aid_len = (size_t)put_hex(aid, 0, aid_hex);
    fill_keys(&ks, kvn, key_len, seed);
    ksd_len = evp_keyset_data(REGION_DEK, 16, &ks, ksd);

    assert_int_equal(cm_tlv_next(IMG, out_len, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0x4F);
    assert_bytes(t.value, t.len, aid, aid_len);
    assert_int_equal(cm_tlv_next(IMG, out_len, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0xA0);
    assert_int_equal(cm_tlv_validate(t.value, t.len, 0), CM_OK);
    assert_int_equal(cm_tlv_next(IMG, out_len, &pos, &t), CM_OK);
    assert_int_equal(t.tag, 0xA1);
    assert_bytes(t.value, t.len, ksd, ksd_len);
    if (has_a2) {
        assert_int_equal(cm_tlv_next(IMG, out_len, &pos, &t), CM_OK);
        assert_int_equal(t.tag, 0xA2);
    }
    while (cm_tlv_next(IMG, out_len, &pos, &t) == CM_OK) {
        assert_int_equal(t.tag, 0xA3);
        assert_int_equal(cm_tlv_validate(t.value, t.len, 0), CM_OK);
        a3++;
    }
    assert_int_equal(pos, out_len);
    assert_int_equal(a3, efs);
}

static void test_example_library(void **state)
{
    /* "市立中央図書館 Central City Library" in UTF-8 */
    static const char want[] = "\xE5\xB8\x82\xE7\xAB\x8B\xE4\xB8\xAD\xE5\xA4\xAE\xE5\x9B\xB3\xE6\x9B\xB8"
                               "\xE9\xA4\xA8 Central City Library";
    (void)state;
    check_example("tools/examples/library.json", "D392F000014C4942", 16, 0x11, 0x10, true, 3);
    assert_int_equal(M.efs[1].type, MNAP_EF_CYCLIC);
    assert_int_equal(M.efs[1].record_length, 48);
    assert_int_equal(M.efs[1].record_count, 20);
    assert_bytes(M.content + M.efs[2].content_off, M.efs[2].content_len, (const uint8_t *)want, strlen(want));
    mt_manifest_wipe(&M);
}

static void test_example_certificate(void **state)
{
    static const uint8_t want[] = { 0x01, 0x00, 0x13, 0x10, 0x10, 0x00, 0x00, 0x00 };
    (void)state;
    check_example("tools/examples/certificate.json", "D392F00001434552", 24, 0x12, 0x20, true, 3);
    assert_int_equal(M.efs[1].type, MNAP_EF_LINEAR_FIXED);
    assert_int_equal(M.efs[0].read_rule, MNAP_RULE_PIN);
    assert_bytes(M.content + M.efs[2].content_off, M.efs[2].content_len, want, sizeof want);
    mt_manifest_wipe(&M);
}

/* The booking example, and the same AP written through the test harness's
 * own image builder (test/support): both must give the same bytes. */
static void test_example_booking_matches_harness(void **state)
{
    static ch_card hc;      /* only its cm_aes is used by ch_build_image */
    static ch_ap ap;
    static const uint8_t codes[] = { 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x10 };
    size_t out_len = 0, n;
    mt_manifest_problem items[4];
    mt_manifest_report r;
    (void)state;

    check_example("tools/examples/booking.json", "D392F00001424F4B", 32, 0x13, 0x30, true, 4);
    assert_int_equal(M.min_level, 0x13);
    assert_int_equal(M.initial_pin_len, 4);
    assert_int_equal(M.efs[3].sfi, 0);
    mt_manifest_report_init(&r, items, 4);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_OK);

    memset(&ap, 0, sizeof ap);
    hc.aes = AES;
    ap.aid_len = put_hex(ap.aid, 0, "D392F00001424F4B");
    ap.max_tries = 3;
    ap.min_len = 4;
    ap.max_len = 6;
    ap.initial_pin = "0000";
    fill_keys(&ap.keys, 0x13, 32, 0x30);
    ap.min_level = 0x13;
    ap.efs[0] = (ch_ef){ 0x0301, 1, CH_EF_TRANSPARENT, 128, 0, 0, CH_RULE_PIN, CH_RULE_PIN, NULL, 0 };
    ap.efs[1] = (ch_ef){ 0x0302, 2, CH_EF_LINEAR, 0, 40, 10, CH_RULE_PIN, CH_RULE_SM, NULL, 0 };
    ap.efs[2] = (ch_ef){ 0x0303, 3, CH_EF_CYCLIC, 0, 24, 30, CH_RULE_SM, CH_RULE_SM, NULL, 0 };
    ap.efs[3] = (ch_ef){ 0x0304, 0, CH_EF_TRANSPARENT, 16, 0, 0, CH_RULE_SM, CH_RULE_NEVER, codes, sizeof codes };
    ap.n_efs = 4;
    n = ch_build_image(&hc, REGION_DEK, 16, &ap, EXP, sizeof EXP);
    assert_true(n > 0);
    assert_bytes(IMG, out_len, EXP, n);
    mt_manifest_wipe(&M);
}

/* ---- build-time refusals -------------------------------------------------- */

static const char *const KEYSET_LINE_TEXT =
    "{\n"
    "  \"aid\": \"D392F0000101\",\n"
    "  \"pin\": { \"max_tries\": 3, \"min_length\": 4, \"max_length\": 8 },\n"
    "  \"key_set\": \"%s\",\n"
    "  \"files\": []\n"
    "}\n";

/* Builds the manifest above with key set name; returns the build's code. */
static int build_with_key_set(const char *name, mt_manifest_report *r, size_t cap, size_t *out_len)
{
    char text[512];
    snprintf(text, sizeof text, KEYSET_LINE_TEXT, name);
    assert_int_equal(mt_manifest_check(text, strlen(text), &M, r), MT_MANIFEST_OK);
    memset(IMG, 0xAA, sizeof IMG);
    return mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, cap, out_len, r);
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void test_build_unknown_key_set(void **state)
{
    mt_manifest_problem items[4];
    mt_manifest_report r;
    size_t out_len = 99;
    (void)state;
    mt_manifest_report_init(&r, items, 4);
    lookups = 0;
    assert_int_equal(build_with_key_set("nosuch", &r, sizeof IMG, &out_len), MT_MANIFEST_E_KEY);
    assert_int_equal(lookups, 1);
    assert_int_equal(out_len, 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(items[0].line, 4);
    assert_int_equal(items[0].column, 14);
    assert_non_null(strstr(items[0].message, "no key set \"nosuch\""));
    assert_true(all_zero(IMG, sizeof IMG));
}

static void test_build_bad_key_sets(void **state)
{
    mt_manifest_problem items[4];
    mt_manifest_report r;
    size_t out_len = 99;
    (void)state;
    mt_manifest_report_init(&r, items, 4);
    assert_int_equal(build_with_key_set("kvn80", &r, sizeof IMG, &out_len), MT_MANIFEST_E_KEY);
    assert_int_equal(r.count, 1);
    assert_non_null(strstr(items[0].message, "KVN 80"));
    assert_int_equal(build_with_key_set("kvn00", &r, sizeof IMG, &out_len), MT_MANIFEST_E_KEY);
    assert_int_equal(r.count, 2);
    assert_non_null(strstr(items[1].message, "KVN 00"));
    assert_int_equal(build_with_key_set("len20", &r, sizeof IMG, &out_len), MT_MANIFEST_E_KEY);
    assert_int_equal(r.count, 3);
    assert_non_null(strstr(items[2].message, "20-byte keys"));
    assert_int_equal(out_len, 0);
    assert_true(all_zero(IMG, sizeof IMG));
}

static void test_build_small_buffer_and_params(void **state)
{
    mt_manifest_problem items[4];
    mt_manifest_report r;
    size_t out_len = 99, full = 0;
    (void)state;
    mt_manifest_report_init(&r, items, 4);
    /* 4F 08 + A0 0B + A1 46: 10 + 11 + 72 = 93 bytes. */
    assert_int_equal(build_with_key_set("t", &r, sizeof IMG, &full), MT_MANIFEST_OK);
    assert_int_equal(full, 8 + 11 + 72);
    assert_int_equal(build_with_key_set("t", &r, full - 1, &out_len), MT_MANIFEST_E_SPACE);
    assert_int_equal(out_len, 0);
    assert_true(all_zero(IMG, full - 1));
    assert_int_equal(IMG[full - 1], 0xAA);          /* nothing past cap touched */
    assert_int_equal(build_with_key_set("t", &r, full, &out_len), MT_MANIFEST_OK);
    assert_int_equal(out_len, full);
    assert_int_equal(r.count, 0);
    /* A region DEK must be an AES key. */
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 15, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_E_PARAM);
    assert_int_equal(mt_manifest_build(&M, NULL, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_E_PARAM);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, NULL, REGION_DEK, 16, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_E_PARAM);
    /* Only a manifest that passed its check is built. */
    {
        static const char bad[] = "{ \"aid\": \"F04D4E4150414D\" }";
        assert_int_equal(mt_manifest_check(bad, strlen(bad), &M, &r), MT_MANIFEST_E_INVALID);
        assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len,
                                             &r),
                         MT_MANIFEST_E_PARAM);
        mt_manifest_wipe(&M);
        assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, REGION_DEK, 16, IMG, sizeof IMG, &out_len,
                                             &r),
                         MT_MANIFEST_E_PARAM);
    }
}

/* The key set data follows the region DEK's length, not the AP keys'. */
static void test_build_region_dek_256(void **state)
{
    static const uint8_t dek32[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
    mt_manifest_problem items[4];
    mt_manifest_report r;
    cm_keyset ks;
    uint8_t ksd[200];
    size_t out_len = 0, ksd_len;
    cm_tlv t;
    (void)state;
    mt_manifest_report_init(&r, items, 4);
    assert_int_equal(build_with_key_set("t", &r, sizeof IMG, &out_len), MT_MANIFEST_OK);
    assert_int_equal(mt_manifest_build(&M, test_keys, NULL, &AES, dek32, 32, IMG, sizeof IMG, &out_len, &r),
                     MT_MANIFEST_OK);
    fill_keys(&ks, 0x21, 16, 0x00);
    ksd_len = evp_keyset_data(dek32, 32, &ks, ksd);
    assert_int_equal(cm_tlv_find(IMG, out_len, 0xA1, &t), CM_OK);
    assert_bytes(t.value, t.len, ksd, ksd_len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_manifest_exact_image),
        cmocka_unit_test(test_long_forms_and_aes192),
        cmocka_unit_test(test_text_escapes_and_spaced_hex),
        cmocka_unit_test(test_example_library),
        cmocka_unit_test(test_example_certificate),
        cmocka_unit_test(test_example_booking_matches_harness),
        cmocka_unit_test(test_build_unknown_key_set),
        cmocka_unit_test(test_build_bad_key_sets),
        cmocka_unit_test(test_build_small_buffer_and_params),
        cmocka_unit_test(test_build_region_dek_256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
