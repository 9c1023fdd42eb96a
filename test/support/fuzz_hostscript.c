/* fuzz_hostscript.c: the libmnap API script of the host fuzzer
 * (test/fuzz/fuzz_host.c) and the checks around each call; see
 * fuzz_hostscript.h.  Kept out of the target so that the corpus generator
 * (test/fuzz/gen_corpus.c) can run the same script against an automatic
 * puppet and record its answers as seeds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hostscript.h"
#include "fuzz_puppet.h"
#include "mnap/mnap.h"

static const uint8_t div_data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1};
static const uint8_t ap_aid[5] = {0xD3, 0x92, 0x10, 0x00, 0x01};
/* A small AP image without A1: the library inserts the key set. */
static const uint8_t image[] = {
    0x4F, 0x05, 0xD3, 0x92, 0x10, 0x00, 0x07,
    0xA0, 0x0F, 0x80, 0x01, 0x03, 0x81, 0x01, 0x04, 0x82, 0x01, 0x08,
    0x83, 0x04, 0x39, 0x38, 0x37, 0x36,
    0xA3, 0x14, 0x83, 0x02, 0x01, 0x01, 0x88, 0x01, 0x01, 0x82, 0x01, 0x01, 0x80, 0x02, 0x00,
    0x40, 0x86, 0x01, 0x00, 0x87, 0x01, 0x00};

static fz_puppet pup;
static const char *cur_call;

static void fail(const char *msg, mnap_err rc)
{
    fprintf(stderr, "\n*** host invariant violated in %s: %s (rc %d)\n", cur_call, msg, (int)rc);
    abort();
}

static void trace_cb(void *user, const char *line)
{
    char squeezed[512];
    size_t n = 0, len = strlen(line);

    (void)user;
    if (len > 1u << 20)
        fail("trace line absurdly long", MNAP_OK);
    /* Command lines only; and not the raw echo, whose bytes are the
     * fuzzer's own (any of them may read 31323334), not the script's PINs. */
    if (line[0] != '>' || strcmp(cur_call, "transmit_raw") == 0)
        return;
    for (size_t i = 0; i < len && n + 1 < sizeof(squeezed); i++)
        if (line[i] != ' ')
            squeezed[n++] = line[i];
    squeezed[n] = '\0';
    if (strstr(squeezed, "31323334") != NULL || strstr(squeezed, "35363738") != NULL)
        fail("the trace shows a PIN", MNAP_OK);
}

/* Runs after every call: the return value must be named, and a success must
 * not rest on a forged answer. */
static void after(mnap_err rc, unsigned forged_before)
{
    static int verbose = -1;

    /* FUZZ_HOST_VERBOSE=1: one line per call (seed checking by hand). */
    if (verbose < 0)
        verbose = getenv("FUZZ_HOST_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "  %-18s %s\n", cur_call, mnap_strerror(rc));
    if (strcmp(mnap_strerror(rc), mnap_strerror((mnap_err)-9999)) == 0)
        fail("unnamed error code", rc);
    if (rc == MNAP_OK && pup.forged > forged_before)
        fail("success after a response without its R-MAC", rc);
}

static void opened(mnap_err rc)
{
    if (rc == MNAP_OK && pup.iu_raw)
        fail("session opened on an unauthenticated INITIALIZE UPDATE answer", rc);
}

#define CALL(name, expr)                  \
    do {                                  \
        unsigned fb_ = pup.forged;        \
        cur_call = name;                  \
        rc = (expr);                      \
        after(rc, fb_);                   \
    } while (0)

static void script(mnap_ctx *ctx, unsigned sel, const mnap_keyset *ks)
{
    static uint8_t buf[70000];
    mnap_area_info info;
    mnap_ap_entry list[4];
    mnap_log_entry log[6];
    mnap_pin_status ps;
    mnap_ef_info ef;
    mnap_load_opts lo = {0};
    mnap_keyset nk;
    size_t count = 0, got = 0;
    uint8_t tries = 0;
    mnap_err rc;

    if (sel & 1u << 0) {
        static const uint8_t getdata[5] = {0x80, 0xCA, 0xDF, 0x20, 0x00};
        mnap_apdu a = {0x80, 0xCA, 0xDF, 0x20, NULL, 0, 256, 0};
        uint16_t sw = 0;
        CALL("area_info_get", mnap_area_info_get(ctx, &info));
        CALL("transmit", mnap_transmit(ctx, getdata, sizeof(getdata), buf, 300, &got, &sw));
        if (rc == MNAP_OK && got > 300)
            fail("transmit: more bytes than the buffer", rc);
        if (rc == MNAP_OK && got >= 4 && buf[0] != 0xDF) {
            /* An answer that is not a DF20 object is sent back as a raw
             * command (an exact-size copy, for ASan): mnap_transmit takes
             * any bytes, so its parsing and trace of commands get fuzzed
             * too (issue #14: a 6-byte command with byte 4 = 00). */
            uint8_t *raw = malloc(got);
            if (raw == NULL)
                abort();
            memcpy(raw, buf, got);
            pup.raw_cmd = true;
            CALL("transmit_raw", mnap_transmit(ctx, raw, got, buf, 300, &got, &sw));
            pup.raw_cmd = false;
            free(raw);
        }
        CALL("command", mnap_command(ctx, &a, buf, 300, &got));
        if (rc == MNAP_OK && got > 300)
            fail("command: more bytes than the buffer", rc);
    }
    if (sel & 1u << 1) {
        CALL("am_open", mnap_am_open(ctx, ks, MNAP_LEVEL_FULL));
        opened(rc);
    }
    if (sel & 1u << 2) {
        CALL("area_list_aps", mnap_area_list_aps(ctx, list, 4, &count));
        if (rc == MNAP_OK && count > 4)
            fail("list: more APs than the buffer without MNAP_E_BUFFER", rc);
        for (size_t i = 0; rc == MNAP_OK && i < count; i++)
            if (list[i].aid_len > MNAP_AID_MAX)
                fail("list: AID longer than 16", rc);
    }
    if (sel & 1u << 3) {
        CALL("area_read_log", mnap_area_read_log(ctx, log, 6, &count));
        if (rc == MNAP_OK && count > 6)
            fail("log: more entries than the buffer", rc);
        for (size_t i = 0; rc == MNAP_OK && i < count; i++)
            if (log[i].aid_len > MNAP_AID_MAX || mnap_log_event_name(log[i].event) == NULL)
                fail("log: AID longer than 16, or an event without a name", rc);
    }
    if (sel & 1u << 4) {
        /* 16-byte blocks, the card's limit, or 1024-byte blocks: chained
         * whenever the card's DF20 reports a smaller command limit. */
        lo.block_size = (sel & 1u << 13) ? 16 : (sel & 1u << 15) ? 1024 : 0;
        CALL("area_load_ap", mnap_area_load_ap(ctx, image, sizeof(image), ks, &lo));
    }
    if (sel & 1u << 5) {
        CALL("area_unblock_pin", mnap_area_unblock_pin(ctx, ap_aid, 5, "5678", 4));
        CALL("area_suspend_ap", mnap_area_suspend_ap(ctx, ap_aid, 5));
        CALL("area_delete_ap", mnap_area_delete_ap(ctx, ap_aid, 5));
        CALL("area_lock", mnap_area_lock(ctx));
        CALL("area_unlock", mnap_area_unlock(ctx));
        CALL("area_resume_ap", mnap_area_resume_ap(ctx, ap_aid, 5));
        if (sel & 1u << 13)
            CALL("area_terminate", mnap_area_terminate(ctx));
    }
    if (sel & 1u << 6) {
        CALL("ap_open", mnap_ap_open(ctx, ap_aid, 5, ks,
                                     (sel & 1u << 13) ? MNAP_LEVEL_CMAC : MNAP_LEVEL_FULL));
        opened(rc);
    }
    if (sel & 1u << 7)
        CALL("ap_pin_status", mnap_ap_pin_status(ctx, &ps));
    if (sel & 1u << 8)
        CALL("ap_verify_pin", mnap_ap_verify_pin(ctx, "1234", 4, &tries));
    if (sel & 1u << 9) {
        CALL("ap_read_binary", mnap_ap_read_binary(ctx, 0x0101, 0, buf, 3000, &got));
        if (rc == MNAP_OK && got > 3000)
            fail("read binary: more bytes than asked", rc);
    }
    if (sel & 1u << 10) {
        CALL("ap_read_record", mnap_ap_read_record(ctx, 0x0201, 1, buf, 40, &got));
        if (rc == MNAP_OK && got > 40)
            fail("read record: more bytes than the buffer", rc);
    }
    if (sel & 1u << 11) {
        CALL("ap_select_ef", mnap_ap_select_ef(ctx, 0x0102, &ef));
        memset(buf, 0xA5, 300);
        CALL("ap_update_binary", mnap_ap_update_binary(ctx, 0x0101, 2, buf, 300));
        CALL("ap_append_record", mnap_ap_append_record(ctx, 0x0301, buf, 8));
        CALL("ap_update_record", mnap_ap_update_record(ctx, 0x0201, 2, buf, 16));
    }
    if (sel & 1u << 12) {
        CALL("ap_change_pin", mnap_ap_change_pin(ctx, "1234", 4, "5678", 4, &tries));
        nk = *ks;
        nk.kvn = 0x31;
        nk.master = 0;
        nk.enc[0] ^= 1;
        CALL("ap_rotate_keys", mnap_ap_rotate_keys(ctx, 0x30, &nk));
        CALL("area_rotate_keys", mnap_area_rotate_keys(ctx, 0x01, &nk));
        CALL("area_setup", mnap_area_setup(ctx, &nk));
    }
    CALL("close", mnap_close(ctx));
    if (sel & 1u << 15)
        CALL("reconnect", mnap_reconnect(ctx));
}

void fz_host_run(const uint8_t *data, size_t size,
                 size_t (*auto_answer)(const uint8_t *, size_t, uint8_t *, size_t), uint8_t *rec,
                 size_t rec_cap, size_t *rec_len)
{
    static const uint8_t key[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                    0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F};
    mnap_keyset ks, card;
    cm_keyset ck;
    mnap_transport t;
    mnap_ctx *ctx = NULL;
    unsigned sel;
    int master;

    if (size < 2)
        return;
    sel = (unsigned)data[0] | (unsigned)data[1] << 8;
    master = (sel & 1u << 15) != 0;
    if (mnap_keyset_set(&ks, 0x01, key, key, key, 16, master) != MNAP_OK)
        abort();
    if (master) {
        if (mnap_keyset_diversify(&ks, div_data, &card) != MNAP_OK)
            abort();
    } else {
        card = ks;
    }
    memset(&ck, 0, sizeof(ck));
    memcpy(ck.enc, card.enc, 16);
    memcpy(ck.mac, card.mac, 16);
    memcpy(ck.dek, card.dek, 16);
    ck.key_len = 16;
    ck.kvn = 0x01;
    /* An exact-size copy: ASan sees any read past the input. */
    {
        uint8_t *in = malloc(size - 2 ? size - 2 : 1);
        if (in == NULL)
            abort();
        memcpy(in, data + 2, size - 2);
        fz_puppet_init(&pup, in, size - 2, &ck, div_data);
        pup.auto_answer = auto_answer;
        pup.rec = rec;
        pup.rec_cap = rec_cap;
        t = fz_puppet_transport(&pup);
        cur_call = "ctx_new";
        if (mnap_ctx_new(&ctx, &t) != MNAP_OK)
            abort();
        if (sel & 1u << 14)
            mnap_trace_set(ctx, MNAP_TRACE_ON, trace_cb, NULL);
        script(ctx, sel, &ks);
        mnap_ctx_free(ctx);
        free(in);
        if (rec_len)
            *rec_len = pup.rec_len;
    }
}
