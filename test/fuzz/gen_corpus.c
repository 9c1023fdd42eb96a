/* gen_corpus.c: writes the seed corpora of the host, key store and stop
 * list fuzzers (test/fuzz/corpus/host/, keystore/, stoplist/).  Not a fuzz target
 * (its name does not start with fuzz_); docs/fuzzing.md gives the command
 * that builds and runs it.  gen_corpus.py writes the card and manifest
 * seeds.
 *
 * Host seeds are recorded traffic: the fuzzer's own API script
 * (test/support/fuzz_hostscript.c) runs against the puppet card in automatic
 * mode, which answers each command as PROTOCOL.md describes (FCI/FCP,
 * DF20, security log, GET STATUS, file data, 9000 ...), and the answers it
 * gave are written out as the seed's records.
 *
 * Key store seeds: real files saved by mnap_keystore_save (mode 0), plain
 * bodies (mode 1) and entry lists (mode 2) of fuzz_keystore.c.
 *
 * Stop list seeds: lists built and signed by mnap_stoplist_build with
 * fuzz_stoplist.c's seed, as whole files (mode 0), their signed parts
 * (mode 1) and entry lists (mode 2).
 *
 * gen_corpus [DIR [TARGET]]: TARGET (host, keystore or stoplist) writes that
 * corpus only (the key store files differ on every run: random salts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_hostscript.h"
#include "mnap/mnap_keys.h"
#include "mnap/mnap_stoplist.h"

static const char *out_dir = "test/fuzz/corpus";
/* DF20 reports 64-byte limits (so that 1024-byte LOAD AP blocks are chained). */
static int small_limits;

static void write_seed(const char *target, const char *name, const uint8_t *d, size_t n)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static size_t put(uint8_t *b, size_t cap, const char *hex)
{
    size_t n = 0;
    unsigned v;

    while (*hex && n < cap) {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        b[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

/* The automatic card: plain answers per instruction (the puppet adds the
 * SCP03 protection).  The layout is the record body: data || SW. */
static size_t auto_answer(const uint8_t *c, size_t len, uint8_t *b, size_t cap)
{
    uint16_t p1p2 = (uint16_t)(c[2] << 8 | c[3]);
    size_t off;

    (void)len;
    switch (c[1]) {
    case 0xA4:
        if (c[2] == 0x02 && c[3] == 0x00 && len >= 7) {
            uint16_t fid = (uint16_t)(c[5] << 8 | c[6]);
            if (fid == 0x0201 || fid == 0x0202)
                return put(b, cap, "6215 80020030 82050221001003 83020201 880120 8A0105 9000");
            if (fid == 0x0301)
                return put(b, cap, "6215 80020018 82050621000803 83020301 880128 8A0105 9000");
            return put(b, cap, "6211 80020040 820101 83020101 880108 8A0105 9000");
        }
        return put(b, cap, "9000");
    case 0x50:
        return 0;   /* the puppet computes an honest answer */
    case 0xCA:
        if (p1p2 == 0xDF20 && small_limits)
            return put(b, cap, "DF2031 80010F 810400008000 820102 830110 84020100 87020040"
                               " 88020040 85080102030405060708 860A01020304050607080001 9000");
        if (p1p2 == 0xDF20)
            return put(b, cap, "DF2031 80010F 810400008000 820102 830110 84020100 87020800"
                               " 88020800 85080102030405060708 860A01020304050607080001 9000");
        if (p1p2 == 0xDF21)
            return put(b, cap, "DF2125 DF2213 800400000002 810105 8205D392100001 830101"
                               " DF220C 800400000001 810108 830101 9000");
        return put(b, cap, "E007 C00501881001FF 9000");
    case 0xF2:
        return put(b, cap, "E316 4F05D392100001 9F700107 DF300400000200 DF310103"
                           " E316 4F05D392100002 9F700183 DF300400000100 DF310100 9000");
    case 0x20:
        return put(b, cap, c[4] == 0 || len == 4 ? "63C3" : "9000");
    case 0xB0:
        off = c[2] & 0x80 ? c[3] : (size_t)p1p2;
        if (off >= 64)
            return put(b, cap, "6B00");
        for (size_t i = 0; i < 64 - off && i + 2 < cap; i++)
            b[i] = (uint8_t)(off + i);
        b[64 - off] = 0x90;
        b[65 - off] = 0x00;
        return 66 - off;
    case 0xB2:
        return put(b, cap, "2024111500000000000000000000A5A5 9000");
    case 0xD8:
        return put(b, cap, "31 000000 000000 000000 9000");
    default:
        return put(b, cap, "9000");
    }
}

static void host_seeds(void)
{
    static const struct {
        unsigned sel;
        const char *name;
    } s[] = {
        {0x0001, "info"},          {0x000F, "am_list_log"},     {0x0013, "am_load"},
        {0x2012, "am_load_small"}, {0x0022, "am_admin"},        {0x07C0, "ap_reads"},
        {0x0840, "ap_writes"},     {0x1040, "ap_change_rotate"}, {0x2740, "ap_cmac_only"},
        {0x4FC1, "ap_traced"},     {0x803F, "master_am"},       {0x7FFF, "all"},
        {0xFFFF, "all_master"},    {0x1002, "am_rotate"},       {0x8013, "am_load_chained"},
    };
    static uint8_t rec[1u << 16];

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        uint8_t sel[2] = {(uint8_t)s[i].sel, (uint8_t)(s[i].sel >> 8)};
        size_t n = 0;
        rec[0] = sel[0];
        rec[1] = sel[1];
        small_limits = strcmp(s[i].name, "am_load_chained") == 0;
        fz_host_run(sel, 2, auto_answer, rec + 2, sizeof(rec) - 2, &n);
        write_seed("host", s[i].name, rec, n + 2);
    }
}

static void keyset(mnap_keyset *ks, uint8_t kvn, size_t len, uint8_t seed, int master)
{
    uint8_t k[3][32];

    for (size_t i = 0; i < 32; i++) {
        k[0][i] = (uint8_t)(seed + i);
        k[1][i] = (uint8_t)(seed + 0x40 + i);
        k[2][i] = (uint8_t)(seed + 0x80 + i);
    }
    if (mnap_keyset_set(ks, kvn, k[0], k[1], k[2], len, master) != MNAP_OK)
        exit(1);
}

/* Mode 0: a real file saved by the library, with the fuzzer's passphrase. */
static void saved_store(const char *name, size_t entries)
{
    static const char *names[3] = {"transport", "region", "ap:D392100001"};
    static const size_t lens[3] = {16, 24, 32};
    static uint8_t file[1u << 16];
    char tmp[64];
    mnap_keystore *ks = NULL;
    mnap_keyset set;
    FILE *f;
    size_t n;

    snprintf(tmp, sizeof(tmp), "/tmp/gen_corpus_ks.%ld", (long)getpid());
    if (mnap_keystore_new(&ks) != MNAP_OK || mnap_keystore_set_kdf(ks, 10, 1, 1) != MNAP_OK)
        exit(1);
    for (size_t i = 0; i < entries; i++) {
        keyset(&set, (uint8_t)(i == 0 ? 0xFF : 1 + i), lens[i], (uint8_t)(0x10 * i), i == 1);
        if (mnap_keystore_put(ks, names[i], &set) != MNAP_OK)
            exit(1);
    }
    if (mnap_keystore_save(ks, tmp, "fuzz-pass", 9) != MNAP_OK)
        exit(1);
    mnap_keystore_free(ks);
    f = fopen(tmp, "rb");
    file[0] = 0x00;
    n = f ? fread(file + 1, 1, sizeof(file) - 1, f) : 0;
    if (f)
        fclose(f);
    unlink(tmp);
    write_seed("keystore", name, file, n + 1);
}

static void keystore_seeds(void)
{
    uint8_t b[512];
    size_t n;

    saved_store("file_empty", 0);
    saved_store("file_one", 1);
    saved_store("file_three", 3);
    /* Mode 1: plain bodies (count, then name length, name, master, KVN,
     * key length, keys). */
    n = put(b, sizeof(b), "01 0000");
    write_seed("keystore", "body_empty", b, n);
    n = put(b, sizeof(b), "01 0001 06726567696F6E 00 01 10"
                          " 101112131415161718191A1B1C1D1E1F 202122232425262728292A2B2C2D2E2F"
                          " 303132333435363738393A3B3C3D3E3F");
    write_seed("keystore", "body_one", b, n);
    n = put(b, sizeof(b), "01 0002 01 61 01 7F 10 000102030405060708090A0B0C0D0E0F"
                          " 000102030405060708090A0B0C0D0E0F 000102030405060708090A0B0C0D0E0F"
                          " 01 62 00 FF 10 000102030405060708090A0B0C0D0E0F"
                          " 000102030405060708090A0B0C0D0E0F 000102030405060708090A0B0C0D0E0F");
    write_seed("keystore", "body_two", b, n);
    /* Mode 2: entries through the API. */
    n = put(b, sizeof(b), "02 09 7472616E73706F7274 00 FF 00 06 726567696F6E 01 01 01");
    write_seed("keystore", "api_two", b, n);
}

/* fuzz_stoplist.c's key. */
static const uint8_t stoplist_seed[32] = "mnap fuzz stop list seed 32 byte";
#define T0 1800000000u

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Byte 0 the mode, bytes 1..8 the clock, then the payload. */
static void stoplist_seed_file(const char *name, uint8_t mode, uint64_t now, const uint8_t *d, size_t n)
{
    static uint8_t b[1u << 16];

    if (n + 9 > sizeof(b))
        exit(1);
    b[0] = mode;
    be64(b + 1, now);
    memcpy(b + 9, d, n);
    write_seed("stoplist", name, b, n + 9);
}

static void stoplist_seeds(void)
{
    static mnap_stoplist_entry e[64];
    static uint8_t api[16 + 64 * 9];
    uint8_t *file = NULL;
    size_t len = 0;

    for (size_t i = 0; i < 64; i++) {
        /* Not in order: the builder sorts. */
        e[i].serial[0] = (uint8_t)(0x10 + (i * 37) % 64);
        e[i].serial[7] = (uint8_t)i;
        e[i].state = (uint8_t)(2 + i % 3);
    }
    static const struct {
        const char *name;
        size_t n;
    } lists[] = { { "empty", 0 }, { "one", 1 }, { "three", 3 }, { "sixtyfour", 64 } };
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
        char name[64];
        if (mnap_stoplist_build(e, lists[k].n, T0, T0 + 86400, "131016", stoplist_seed, &file, &len) != MNAP_OK)
            exit(1);
        /* Mode 0: the file, opened inside its validity. */
        snprintf(name, sizeof(name), "file_%s", lists[k].name);
        stoplist_seed_file(name, 0x00, T0 + 10, file, len);
        if (lists[k].n == 3) {
            /* Through a file; at the edges of the validity; the signed part
             * (mode 1). */
            stoplist_seed_file("load_three", 0x40, T0 + 10, file, len);
            stoplist_seed_file("file_three_skew", 0x00, T0 - 300, file, len);
            stoplist_seed_file("file_three_expired", 0x00, T0 + 86400, file, len);
            stoplist_seed_file("signed_three", 0x01, T0 + 10, file, len - MNAP_STOPLIST_SIG_LEN);
        }
        free(file);
    }
    /* Mode 2: issued_at, expires_at, entries. */
    be64(api, T0);
    be64(api + 8, T0 + 3600);
    for (size_t i = 0; i < 3; i++) {
        memcpy(api + 16 + i * 9, e[i].serial, 8);
        api[16 + i * 9 + 8] = e[i].state;
    }
    stoplist_seed_file("build_three", 0x02, 0, api, 16 + 3 * 9);
}

int main(int argc, char **argv)
{
    const char *only = argc > 2 ? argv[2] : NULL;

    if (argc > 1)
        out_dir = argv[1];
    if (only == NULL || strcmp(only, "host") == 0)
        host_seeds();
    if (only == NULL || strcmp(only, "keystore") == 0)
        keystore_seeds();
    if (only == NULL || strcmp(only, "stoplist") == 0)
        stoplist_seeds();
    printf("gen_corpus: %s seeds written under %s\n", only != NULL ? only : "host, keystore and stoplist", out_dir);
    return 0;
}
