/* stress_flow.c: one worker thread of the stress test.  It owns one card
 * (one reader slot) and runs the kiosk flow in a loop until the run stops:
 *
 *   connect (waiting for the card while it is out) -> open an AP session
 *   (SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE at level 33) ->
 *   VERIFY the PIN -> READ BINARY of EF 0101 (content checked) ->
 *   APPEND RECORD to the cyclic EF 0201 -> close the session.
 *
 * Every failing call is counted by its mnap_err.  After a failure the thread
 * drops the connection and connects again: that is what a kiosk does when
 * the card was pulled, and it exercises connect/disconnect under load.
 *
 * Each APPEND RECORD carries its attempt number k, and the ledger records
 * what the host knows of it: OK (9000 seen: must be on the card), REFUSED
 * (the card answered an error status word: must not be), or LOST (no
 * verified answer: the card may or may not have written it).  The ledger
 * entry is set to LOST before the command is sent, so a crash of the thread
 * in the middle could never leave a stronger claim than the host has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

/* Counts a failure by kind; the first few without a specific name are
 * printed with the step that got them, for the report. */
static void count_err(st_card *card, const char *step, mnap_err e)
{
    unsigned k = (unsigned)(-(int)e);
    if (k < ST_ERR_KINDS)
        card->errors[k]++;
    if (!st_err_is_named(e) && card->unnamed++ < 3)
        fprintf(stderr, "stress: card %u: %s: %s\n", card->idx, step, st_err_name(e));
}

static void fatal(st_card *card, const char *msg)
{
    if (!card->fatal) {
        card->fatal = 1;
        snprintf(card->fatal_msg, sizeof card->fatal_msg, "%s", msg);
    }
}

/* Status-word errors are answers of the card to the command (the card's
 * refusal is final); anything else (transport, R-MAC, malformed response)
 * means the answer was lost. */
static int is_card_answer(mnap_err e)
{
    return e <= MNAP_E_CARD_STATUS;
}

static int ledger_room(st_card *card)
{
    if (card->attempts + 1 < card->ledger_cap)
        return 1;
    uint32_t cap = card->ledger_cap ? card->ledger_cap * 2 : 4096;
    uint8_t *p = realloc(card->ledger, cap);
    if (p == NULL)
        return 0;
    memset(p + card->ledger_cap, ST_APP_NONE, cap - card->ledger_cap);
    card->ledger = p;
    card->ledger_cap = cap;
    return 1;
}

/* Record of attempt k: k big-endian, the card index, then filler. */
static void make_record(uint8_t rec[ST_REC_LEN], uint32_t k, unsigned idx)
{
    memset(rec, 0x5A, ST_REC_LEN);
    rec[0] = (uint8_t)(k >> 24);
    rec[1] = (uint8_t)(k >> 16);
    rec[2] = (uint8_t)(k >> 8);
    rec[3] = (uint8_t)k;
    rec[4] = (uint8_t)idx;
}

/* One kiosk flow on an open connection.  Returns MNAP_OK or the first
 * error. */
static mnap_err kiosk_flow(st_card *card, mnap_ctx *ctx, mnap_pcsc *p, const char **step)
{
    uint8_t want[ST_DATA_SIZE], got[ST_DATA_SIZE], rec[ST_REC_LEN], left = 0;
    size_t n = 0;
    st_conn c = { p, ctx };
    mnap_err e;

    *step = "open AP session";
    e = st_open_ap(&c, card->idx);
    if (e != MNAP_OK)
        return e;
    *step = "VERIFY";
    e = mnap_ap_verify_pin(ctx, ST_PIN, strlen(ST_PIN), &left);
    if (e != MNAP_OK)
        return e;
    *step = "READ BINARY";
    e = mnap_ap_read_binary(ctx, ST_EF_DATA, 0, got, sizeof got, &n);
    if (e != MNAP_OK)
        return e;
    st_data_content(card->idx, want);
    if (n != ST_DATA_SIZE || memcmp(got, want, ST_DATA_SIZE) != 0)
        fatal(card, "EF 0101 read back wrong content under a verified R-MAC");
    if (!ledger_room(card)) {
        fatal(card, "out of memory for the ledger");
        return MNAP_E_NOMEM;
    }
    uint32_t k = ++card->attempts;
    card->ledger[k] = ST_APP_LOST;
    make_record(rec, k, card->idx);
    *step = "APPEND RECORD";
    e = mnap_ap_append_record(ctx, ST_EF_LOG, rec, sizeof rec);
    if (e == MNAP_OK)
        card->ledger[k] = ST_APP_OK;
    else if (is_card_answer(e))
        card->ledger[k] = ST_APP_REFUSED;
    if (e != MNAP_OK)
        return e;
    *step = "close";
    return mnap_close(ctx);
}

void *st_worker(void *arg)
{
    st_worker_arg *wa = arg;
    st_run *run = wa->run;
    st_card *card = wa->card;
    mnap_pcsc *p = NULL;
    mnap_ctx *ctx = NULL;
    const char *step = "";
    mnap_err e;

    while (!run->stop && !card->fatal) {
        if (p == NULL) {
            e = mnap_pcsc_new(&p);
            if (e != MNAP_OK) {
                count_err(card, "PC/SC context", e);
                p = NULL;
                st_sleep_ms(100);
                continue;
            }
        }
        if (ctx == NULL) {
            /* A pulled card: wait for it (bounded, so a stop is seen). */
            step = "wait for the card";
            e = mnap_pcsc_wait_card(p, card->reader, 500);
            if (e == MNAP_E_TIMEOUT)
                continue;
            if (e == MNAP_OK) {
                step = "connect";
                e = mnap_pcsc_connect(p, card->reader);
            }
            if (e == MNAP_OK) {
                mnap_transport t = mnap_pcsc_transport(p);
                e = mnap_ctx_new(&ctx, &t);
                if (e != MNAP_OK)
                    ctx = NULL;
            }
            if (e != MNAP_OK) {
                count_err(card, step, e);
                mnap_pcsc_disconnect(p);
                st_sleep_ms(20);
                continue;
            }
        }
        e = kiosk_flow(card, ctx, p, &step);
        if (e == MNAP_OK) {
            card->flows_ok++;
            continue;
        }
        card->flows_failed++;
        count_err(card, step, e);
        /* Start over on a fresh connection. */
        mnap_ctx_free(ctx);
        ctx = NULL;
        mnap_pcsc_disconnect(p);
        if (e == MNAP_E_NO_SERVICE) {
            mnap_pcsc_free(p);
            p = NULL;
        }
        /* A kiosk does not hammer a card that just failed: pcscd needs up
         * to ~0.4 s (vpcd's presence poll) to see a pulled card leave, and
         * until then every connection to it fails at once. */
        st_sleep_ms(50);
    }
    if (ctx != NULL)
        mnap_ctx_free(ctx);
    if (p != NULL)
        mnap_pcsc_free(p);
    return NULL;
}
