/* fuzz_inv.h: the card invariants the APDU fuzzer (test/fuzz/fuzz_card.c)
 * checks after every command, on the card's logical state dump
 * (mc_debug_dump, card/mc_debug.h).
 *
 * A dump is parsed into an fz_state: area state and AM key set, the sequence
 * counters, and per AP its AID, life-cycle state, PIN (policy, value, try
 * counter), key set and EFs.  fz_check_step() compares the state before and
 * after one command with what that command was allowed to change, given who
 * sent it (no channel, an AM channel, or a channel on one AP: the harness
 * knows, because it holds the host side of the channel).  docs/fuzzing.md
 * states the rules in prose; any violation prints what broke and aborts, so
 * libFuzzer records it like a crash. */
#ifndef FUZZ_INV_H
#define FUZZ_INV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_MAX_APS 16

typedef struct fz_ap {
    uint8_t aid[16];
    uint8_t aid_len;
    uint8_t state;               /* 07 ACTIVE, 83 SUSPENDED */
    uint8_t max_tries;
    uint8_t pin_len;             /* 0: PIN never set */
    uint8_t pin[16];
    uint8_t tries;
    uint32_t seq;                /* effective sequence counter of its key set */
    const uint8_t *policy;       /* min level, max tries, min len, max len (4) */
    const uint8_t *keys;         /* KVN, key length, ENC, MAC, DEK */
    size_t keys_len;
    const uint8_t *efs;          /* EF count, then descriptors and contents */
    size_t efs_len;
} fz_ap;

typedef struct fz_state {
    bool corrupt;                /* the dump ends in its CORRUPT marker */
    uint8_t area;
    const uint8_t *am_keys;
    size_t am_keys_len;
    uint32_t am_seq;
    uint32_t hwm;
    size_t n_aps;
    fz_ap aps[FZ_MAX_APS];
} fz_state;

/* Who sent a command, as the harness's host side knows it. */
enum { FZ_ACT_NONE = 0, FZ_ACT_AM = 1, FZ_ACT_AP = 2 };

typedef struct fz_step {
    int actor;                   /* FZ_ACT_*: the channel the command was wrapped for */
    const uint8_t *aid;          /* FZ_ACT_AP: the AP of that channel */
    size_t aid_len;
    const uint8_t *apdu;         /* the plain command (before wrapping) */
    size_t len;
    uint16_t sw;                 /* final status word (after GET RESPONSE) */
} fz_step;

/* Parses a dump.  0, or -1 when it is not a dump this parser understands
 * (which the caller treats as a violation: the runtime wrote garbage). */
int fz_parse_dump(const uint8_t *d, size_t n, fz_state *st);

/* The AP with this AID in st, or NULL. */
const fz_ap *fz_find_ap(const fz_state *st, const uint8_t *aid, size_t aid_len);

/* Checks that going from before to after was allowed for step; aborts with
 * a message naming the rule otherwise.  what describes the step for the
 * message (e.g. "record 3"). */
void fz_check_step(const fz_state *before, const fz_state *after, const fz_step *step,
                   const char *what);

/* After a power cut during step's command (PROTOCOL.md §8): true when
 * `after` is `before` with only counters moved as a torn command may move
 * them: sequence counters up, and for a VERIFY / CHANGE REFERENCE DATA in an
 * AP's own channel that AP's try counter down by one.  (The caller also
 * accepts the states before and after the whole command, byte for byte.) */
bool fz_counters_only(const fz_state *before, const fz_state *after, const fz_step *step);

/* Prints msg and the command, then aborts (the invariant failure path). */
void fz_violation(const char *what, const char *msg, const fz_step *step)
    __attribute__((noreturn));

#endif
