/* stress_check.c: the end-of-run check of one card, after every card is
 * back in its reader.  A card is consistent when:
 *
 *  1. an AM session opens, GET STATUS lists the stress AP as ACTIVE;
 *  2. an AP session opens, the right PIN verifies, and GET STATUS (AM) then
 *     shows the PIN try counter at its maximum (3);
 *  3. EF 0101 reads back its loaded content;
 *  4. the cyclic EF 0201 agrees with the APPEND ledger of the worker
 *     (stress_flow.c).  Records are read from 1 (newest) until 6A83; let
 *     k(r) be the attempt number in record r:
 *       a. every record is well formed (this card's index, filler intact);
 *       b. k strictly decreases from record 1 down (newest first);
 *       c. every k on the card was an attempt the host saw succeed (OK) or
 *          whose answer was lost (LOST), never one the card refused and
 *          never one that was not sent;
 *       d. every OK attempt is on the card, except those older than the
 *          oldest record when the EF is full (a cyclic EF overwrites them);
 *       e. when the EF is not full: records = OK + (LOST that landed), so
 *          OK <= records <= OK + LOST.
 *
 * It prints one line per card and returns 0 when all of it holds. */
#include <stdio.h>
#include <string.h>

#include "stress.h"

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "stress: card %u: ", card->idx);                              \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            goto out;                                                                     \
        }                                                                                 \
    } while (0)
#define CALL(call) do { e = (call); CHECK(e == MNAP_OK, "%s: %s", #call, st_err_name(e)); } while (0)

/* GET STATUS: the stress AP's entry. */
static mnap_err find_ap(st_conn *c, unsigned idx, mnap_ap_entry *out, int *found)
{
    mnap_ap_entry list[16];
    uint8_t aid[ST_AID_LEN];
    size_t count = 0;
    mnap_err e = mnap_area_list_aps(c->ctx, list, 16, &count);
    *found = 0;
    st_aid(idx, aid);
    for (size_t i = 0; e == MNAP_OK && i < count && i < 16; i++) {
        if (list[i].aid_len == ST_AID_LEN && memcmp(list[i].aid, aid, ST_AID_LEN) == 0) {
            *out = list[i];
            *found = 1;
        }
    }
    return e;
}

static int record_ok(const uint8_t *rec, size_t len, unsigned idx, uint32_t *k)
{
    if (len != ST_REC_LEN || rec[4] != (uint8_t)idx)
        return 0;
    for (size_t i = 5; i < ST_REC_LEN; i++)
        if (rec[i] != 0x5A)
            return 0;
    *k = (uint32_t)rec[0] << 24 | (uint32_t)rec[1] << 16 | (uint32_t)rec[2] << 8 | rec[3];
    return 1;
}

int st_check_card(st_card *card)
{
    st_conn c;
    mnap_ap_entry ent;
    uint8_t buf[ST_DATA_SIZE], want[ST_DATA_SIZE];
    uint32_t ks[ST_REC_COUNT];
    size_t n = 0, nrec = 0;
    unsigned long n_ok = 0, n_lost = 0, lost_landed = 0;
    int found = 0, rc = 1;
    mnap_err e;
    mnap_pcsc *tmp = NULL;

    memset(&c, 0, sizeof c);
    /* The card was just reinserted: give pcscd time to see it.  A card
     * pulled just before the end may still look present to pcscd until its
     * next poll, so a first connection can meet the old removal: retry the
     * opening (bounded) while the error says the card is not there yet. */
    for (int tries = 0; tries < 20; tries++) {
        if (mnap_pcsc_new(&tmp) == MNAP_OK) {
            (void)mnap_pcsc_wait_card(tmp, card->reader, 10000);
            mnap_pcsc_free(tmp);
            tmp = NULL;
        }
        e = st_conn_open(&c, card->reader);
        if (e == MNAP_OK)
            e = st_open_am(&c);
        if (e != MNAP_E_CARD_REMOVED && e != MNAP_E_NO_CARD && e != MNAP_E_CARD_RESET &&
            e != MNAP_E_TRANSPORT && e != MNAP_E_PROTOCOL)
            break;
        st_conn_close(&c);
        st_sleep_ms(500);
    }
    CHECK(e == MNAP_OK, "opening an AM session after the run: %s", st_err_name(e));
    CALL(find_ap(&c, card->idx, &ent, &found));
    CHECK(found, "the AP is not listed");
    CHECK(ent.state == MNAP_AP_ACTIVE, "AP state %02X, want 07", ent.state);
    CALL(mnap_close(c.ctx));

    CALL(st_open_ap(&c, card->idx));
    CALL(mnap_ap_verify_pin(c.ctx, ST_PIN, strlen(ST_PIN), NULL));
    CALL(mnap_ap_read_binary(c.ctx, ST_EF_DATA, 0, buf, sizeof buf, &n));
    st_data_content(card->idx, want);
    CHECK(n == ST_DATA_SIZE && memcmp(buf, want, n) == 0, "EF 0101 content differs");
    for (nrec = 0; nrec < ST_REC_COUNT; nrec++) {
        uint8_t rec[64];
        size_t len = 0;
        e = mnap_ap_read_record(c.ctx, ST_EF_LOG, (uint8_t)(nrec + 1), rec, sizeof rec, &len);
        if (e == MNAP_E_RECORD_NOT_FOUND)
            break;
        CHECK(e == MNAP_OK, "READ RECORD %zu: %s", nrec + 1, st_err_name(e));
        CHECK(record_ok(rec, len, card->idx, &ks[nrec]), "record %zu malformed", nrec + 1);
    }
    CALL(mnap_close(c.ctx));
    CALL(st_open_am(&c));
    CALL(find_ap(&c, card->idx, &ent, &found));
    CHECK(found && ent.pin_tries == ST_PIN_TRIES, "PIN tries %u after a right VERIFY, want %u",
          ent.pin_tries, ST_PIN_TRIES);
    CALL(mnap_close(c.ctx));

    for (size_t r = 0; r < nrec; r++) {
        uint32_t k = ks[r];
        CHECK(r == 0 || k < ks[r - 1], "record %zu (attempt %u) not older than record %zu", r + 1,
              k, r);
        CHECK(k >= 1 && k <= card->attempts, "record %zu: attempt %u never sent (%u sent)",
              r + 1, k, card->attempts);
        CHECK(card->ledger[k] == ST_APP_OK || card->ledger[k] == ST_APP_LOST,
              "record %zu: attempt %u is on the card but the card refused it", r + 1, k);
        if (card->ledger[k] == ST_APP_LOST)
            lost_landed++;
    }
    for (uint32_t k = 1; k <= card->attempts; k++) {
        n_ok += card->ledger[k] == ST_APP_OK;
        n_lost += card->ledger[k] == ST_APP_LOST;
    }
    {
        /* Oldest attempt that must still be on the card. */
        uint32_t floor_k = nrec == ST_REC_COUNT ? ks[nrec - 1] : 1;
        size_t j = 0;   /* ks[] is newest (largest) first */
        for (uint32_t k = card->attempts; k >= floor_k && k >= 1; k--) {
            if (card->ledger[k] != ST_APP_OK)
                continue;
            while (j < nrec && ks[j] > k)
                j++;
            CHECK(j < nrec && ks[j] == k, "attempt %u succeeded (9000 seen) but is not on the card",
                  k);
        }
    }
    if (nrec < ST_REC_COUNT)
        CHECK(n_ok <= nrec && nrec <= n_ok + n_lost, "%zu records for %lu OK + %lu lost appends",
              nrec, n_ok, n_lost);
    printf("stress: card %u consistent: AP active, PIN tries %u after VERIFY, EF 0101 intact, "
           "%zu records%s; appends: %u sent, %lu OK, %lu lost (%lu of them landed)\n",
           card->idx, ent.pin_tries, nrec, nrec == ST_REC_COUNT ? " (EF full, cycling)" : "",
           card->attempts, n_ok, n_lost, lost_landed);
    rc = 0;
out:
    st_conn_close(&c);
    return rc;
}
