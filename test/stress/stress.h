/* stress.h: the host resilience stress test (issue #7 part 4).
 *
 * One program, mnap-stress, built from the .c files of test/stress/ and run by
 * test/stress/run.sh against a private pcscd with vpcd readers and one
 * mnap-vcard per slot.  Modules:
 *   stress_main.c   options, setup of every card, threads, final check, report
 *   stress_card.c   keys, the AP image, connection helpers (libmnap public API)
 *   stress_flow.c   one worker thread: the kiosk flow in a loop, error counts,
 *                   and the ledger of APPEND RECORD outcomes
 *   stress_chaos.c  the thread that pulls and reinserts cards (SIGUSR1/SIGUSR2
 *                   to each mnap-vcard) at random
 *   stress_check.c  the end-of-run consistency check of one card
 *
 * Only libmnap's public headers are used (mnap.h, mnap_pcsc.h). */
#ifndef STRESS_H
#define STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mnap/mnap.h"
#include "mnap/mnap_pcsc.h"

#define ST_MAX_CARDS 8
/* The AP every card carries (PROTOCOL.md §6 image built in stress_card.c). */
#define ST_AID_LEN 6
#define ST_PIN "2468"
#define ST_PIN_TRIES 3
#define ST_EF_DATA 0x0101      /* transparent, read SM, known content */
#define ST_DATA_SIZE 96
#define ST_EF_LOG 0x0201       /* cyclic, read SM, write PIN: one record per flow */
#define ST_REC_LEN 16
#define ST_REC_COUNT 200
#define ST_ERR_KINDS 128       /* index: -mnap_err (all codes are > -128) */

/* What the host knows of one APPEND RECORD attempt (numbered from 1). */
enum st_outcome {
    ST_APP_NONE = 0,   /* not attempted (the number was never sent) */
    ST_APP_OK,         /* the host saw 9000: it must be on the card */
    ST_APP_REFUSED,    /* the card answered an error status: it must not be */
    ST_APP_LOST        /* no verified answer: it may or may not be on the card */
};

typedef struct st_card {
    /* set before the threads start */
    unsigned idx;
    char reader[128];
    pid_t vcard_pid;
    /* chaos thread */
    int pulled;                    /* 1 while the card is out (chaos thread only) */
    unsigned pulls;
    /* worker thread */
    unsigned long flows_ok;
    unsigned long flows_failed;
    unsigned long errors[ST_ERR_KINDS];  /* by -mnap_err */
    unsigned long unnamed;               /* failures with no specific name */
    /* the APPEND ledger: outcome of attempt k at ledger[k] (k >= 1) */
    uint8_t *ledger;
    uint32_t ledger_cap;
    uint32_t attempts;
    int fatal;                     /* a check inside the flow failed */
    char fatal_msg[256];
} st_card;

typedef struct st_run {
    st_card cards[ST_MAX_CARDS];
    unsigned n_cards;
    unsigned seconds;
    unsigned seed;
    atomic_int stop;               /* workers and chaos stop when set */
} st_run;

/* stress_card.c */
void st_aid(unsigned idx, uint8_t aid[ST_AID_LEN]);
void st_data_content(unsigned idx, uint8_t out[ST_DATA_SIZE]);
int st_transport_keys(mnap_keyset *ks);
int st_region_keys(mnap_keyset *ks);
int st_ap_keys(mnap_keyset *ks, unsigned idx);
size_t st_build_image(unsigned idx, uint8_t *out, size_t cap);
/* One PC/SC context plus one mnap context on a reader. */
typedef struct st_conn {
    mnap_pcsc *pcsc;
    mnap_ctx *ctx;
} st_conn;
mnap_err st_conn_open(st_conn *c, const char *reader);
void st_conn_close(st_conn *c);
mnap_err st_open_am(st_conn *c);
mnap_err st_open_ap(st_conn *c, unsigned idx);
/* Area setup and AP load on a blank card. */
mnap_err st_prepare(const char *reader, unsigned idx);
const char *st_err_name(mnap_err e);
/* 1 when e is a specific, named failure (not generic or unknown). */
int st_err_is_named(mnap_err e);

/* stress_flow.c */
void *st_worker(void *arg);
typedef struct st_worker_arg {
    st_run *run;
    st_card *card;
} st_worker_arg;

/* stress_chaos.c */
void *st_chaos(void *arg);
/* Reinserts every pulled card (SIGUSR2). */
void st_reinsert_all(st_run *run);

/* stress_check.c: 0 when the card is consistent; prints what it found. */
int st_check_card(st_card *card);

/* Monotonic milliseconds. */
long st_now_ms(void);
void st_sleep_ms(long ms);

#endif
