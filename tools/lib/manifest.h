/* manifest.h: the AP manifest compiler (JSON manifest -> AP image).
 *
 * An AP manifest is a JSON file that describes one application of the
 * local-resident area: its AID, PIN policy, key set (by name), minimum
 * security level and elementary files.  docs/manifest.md is the format's
 * reference.  This library:
 *
 *   - checks a manifest and reports EVERY problem it finds, each with the
 *     1-based line and column of the JSON value at fault, into a list the
 *     caller provides (mt_manifest_check*);
 *   - compiles a checked manifest into the AP image of PROTOCOL.md §6, the
 *     data that LOAD AP carries (mt_manifest_build).  The key set is looked
 *     up through a caller callback (so this library does not depend on the
 *     key store), wrapped under the region Key-DEK the caller gives, and the
 *     plain keys are wiped before mt_manifest_build returns.
 *
 * The library is for the host tools: it uses libc and the mt_json reader,
 * and the block cipher comes from the caller as a cm_aes (OpenSSL on a host).
 * All state is caller-owned; nothing is allocated here except by the JSON
 * reader while a check runs. */
#ifndef MT_MANIFEST_H
#define MT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "cm_aes.h"
#include "cm_scp03.h"

/* Limits of PROTOCOL.md §2 and §6. */
#define MT_MANIFEST_AID_MIN        5
#define MT_MANIFEST_AID_MAX        16
#define MT_MANIFEST_MAX_EFS        32
#define MT_MANIFEST_MAX_TRANSPARENT 32767
#define MT_MANIFEST_MAX_RECORD_LEN 254
#define MT_MANIFEST_MAX_RECORDS    254
#define MT_MANIFEST_MAX_IMAGE      32768
#define MT_MANIFEST_PIN_MIN        4
#define MT_MANIFEST_PIN_MAX        12
#define MT_MANIFEST_MAX_TRIES      3
#define MT_MANIFEST_KEY_NAME_MAX   64    /* bytes, without the NUL */

/* EF types: the image's tag 82 values. */
#define MNAP_EF_TRANSPARENT  0x01
#define MNAP_EF_LINEAR_FIXED 0x02
#define MNAP_EF_CYCLIC       0x06

/* Access rules: the image's tag 86/87 values. */
#define MNAP_RULE_SM    0x00
#define MNAP_RULE_PIN   0x01
#define MNAP_RULE_NEVER 0xFF

/* Return codes. */
enum {
    MT_MANIFEST_OK = 0,
    MT_MANIFEST_E_INVALID = -1, /* the manifest has problems; they are in the report */
    MT_MANIFEST_E_PARAM = -2,   /* NULL argument, bad DEK length */
    MT_MANIFEST_E_KEY = -3,     /* the key set callback failed or gave an unusable key set */
    MT_MANIFEST_E_CRYPTO = -4,  /* the block cipher failed */
    MT_MANIFEST_E_SPACE = -5,   /* the output buffer is too small */
    MT_MANIFEST_E_IO = -6,      /* the file could not be read (also in the report) */
    MT_MANIFEST_E_INTERNAL = -7 /* the writer and the size arithmetic disagree (a bug) */
};

/* One problem: where and what.  line/column are 1-based and point at the first
 * character of the offending JSON value (or key, for unknown and duplicate
 * fields); 0 when the problem has no place (unreadable file). */
typedef struct mt_manifest_problem {
    int line;
    int column;
    char message[160];
} mt_manifest_problem;

/* The caller's problem list.  After a check, items[0..min(count, cap)) holds
 * the problems that come first in the file, sorted by line and column; count
 * counts every problem found, so count > cap means some were left out. */
typedef struct mt_manifest_report {
    mt_manifest_problem *items;
    size_t cap;
    size_t count;
} mt_manifest_report;

void mt_manifest_report_init(mt_manifest_report *r, mt_manifest_problem *items, size_t cap);

/* One elementary file as the image will describe it. */
typedef struct mt_manifest_ef {
    uint16_t fid;
    uint8_t sfi;            /* 1..30, 0 when the EF has none */
    uint8_t type;           /* MNAP_EF_* */
    uint16_t size;          /* transparent EFs */
    uint8_t record_length;  /* record EFs */
    uint8_t record_count;   /* record EFs */
    uint8_t read_rule;      /* MNAP_RULE_* */
    uint8_t write_rule;
    bool has_content;
    uint16_t content_off;   /* into mt_manifest.content */
    uint16_t content_len;
} mt_manifest_ef;

/* A checked manifest (caller-owned; about 33 KiB, so static or heap rather
 * than a small stack).  Holds the initial PIN: call mt_manifest_wipe when
 * done with it. */
typedef struct mt_manifest {
    bool checked;                    /* set by a check that found no problem */
    uint8_t aid[MT_MANIFEST_AID_MAX];
    uint8_t aid_len;
    uint8_t max_tries;
    uint8_t pin_min;
    uint8_t pin_max;
    uint8_t initial_pin[MT_MANIFEST_PIN_MAX];
    uint8_t initial_pin_len;         /* 0: the PIN starts unset */
    char key_set[MT_MANIFEST_KEY_NAME_MAX + 1];
    int key_set_line, key_set_column; /* where "key_set" is, for build-time reports */
    bool has_min_level;              /* false: no A2 in the image (the card's default 33) */
    uint8_t min_level;
    size_t ef_count;
    mt_manifest_ef efs[MT_MANIFEST_MAX_EFS];
    size_t content_used;
    uint8_t content[MT_MANIFEST_MAX_IMAGE]; /* initial contents of all EFs, back to back */
} mt_manifest;

/* Parses and checks a manifest given as text.  On MT_MANIFEST_OK, m holds
 * the manifest and the report is empty; on MT_MANIFEST_E_INVALID the report
 * holds every problem found and m must not be built.  The image size limit is
 * checked as if the key set had 32-byte keys (the largest key set data), so a
 * manifest that passes fits with any key set. */
int mt_manifest_check(const char *text, size_t len, mt_manifest *m, mt_manifest_report *r);

/* The same for a file; an unreadable file gives MT_MANIFEST_E_IO and one
 * problem at line 0. */
int mt_manifest_check_file(const char *path, mt_manifest *m, mt_manifest_report *r);

/* The key set lookup: fills *out (keys, key_len 16/24/32, KVN 01..7F) for the
 * name and returns 0, or returns non-zero when there is no such key set.
 * Whatever it wrote to *out is wiped by the caller of the callback.
 * The keys are the ones the card will store (PROTOCOL.md §7): when the key
 * store holds master keys, the callback gives the keys diversified for the
 * target card, and the image is then good for that card only. */
typedef int (*mt_manifest_key_fn)(void *ctx, const char *name, cm_keyset *out);

/* Size of the image of m with a key set of key_len bytes per key. */
size_t mt_manifest_image_size(const mt_manifest *m, size_t key_len);

/* Compiles a checked manifest into its AP image: out[0..*out_len).  A
 * manifest whose check failed (or that was never checked) gives
 * MT_MANIFEST_E_PARAM.
 * region_dek/dek_len: the region Key-DEK (16, 24 or 32 bytes) under which the
 * AP's keys are wrapped in tag A1.  A key set the callback does not find, or
 * that has a bad key length or KVN, is reported (at "key_set") and gives
 * MT_MANIFEST_E_KEY.  The resolved keys are wiped before returning, on every
 * path; on failure out is wiped too. */
int mt_manifest_build(const mt_manifest *m, mt_manifest_key_fn keys, void *keys_ctx,
                        const cm_aes *aes, const uint8_t *region_dek, size_t dek_len,
                        uint8_t *out, size_t cap, size_t *out_len, mt_manifest_report *r);

/* Wipes m (the initial PIN and contents included). */
void mt_manifest_wipe(mt_manifest *m);

#endif
