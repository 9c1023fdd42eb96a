/* mnap/mnap_registry.h: the loading-terminal registry (libmnapreg).
 *
 * What a municipal counter has to know besides the card: the municipalities
 * (tenants), their operators and roles, the residents, the cards and their
 * operating state, which AP was loaded on which card by whom, and one
 * pseudonymous service ID per resident and business system.
 *
 * One interface, two engines chosen at open time by the connection string:
 *   "PATH", "sqlite:PATH"               SQLite file (the embedded default)
 *   "postgresql://...", "postgres://...", "host=... dbname=..." (libpq)
 *                                       PostgreSQL, for municipalities that
 *                                       share one system (docs/registry.md)
 *
 * The library never talks to a card.  Every call that reads or changes
 * tenant data takes the authenticated actor (mnap_reg_login or
 * mnap_reg_session_resume), checks the actor's role against the one
 * permission table (mnap_reg_allowed) first, and touches only the actor's
 * municipality; on PostgreSQL the database enforces the same with row-level
 * security by connected role.  Card states move only through the one
 * transition table (mnap_reg_card_transition).
 *
 * A context is caller-owned and used by one thread at a time; open one per
 * thread.  Strings are UTF-8; all functions return an mnap_reg_err. */
#ifndef MNAP_REGISTRY_H
#define MNAP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mnap_reg_err {
    MNAP_REG_OK = 0,
    MNAP_REG_E_PARAM,        /* bad argument (format, length, character) */
    MNAP_REG_E_NOMEM,
    MNAP_REG_E_CONNECT,      /* cannot open the database */
    MNAP_REG_E_DB,           /* the database failed a statement */
    MNAP_REG_E_SCHEMA_OLD,   /* schema older than this library: run upgrade */
    MNAP_REG_E_SCHEMA_NEW,   /* schema newer than this library */
    MNAP_REG_E_NOT_FOUND,
    MNAP_REG_E_EXISTS,
    MNAP_REG_E_DENIED,       /* the actor's role does not allow it */
    MNAP_REG_E_AUTH,         /* wrong operator ID or password */
    MNAP_REG_E_LOCKED,       /* operator locked (failed logins or by a supervisor) */
    MNAP_REG_E_SESSION,      /* no such session, expired or logged out */
    MNAP_REG_E_STATE,        /* the card's state does not allow it */
    MNAP_REG_E_PENDING,      /* an interrupted AP change on this card needs repair */
    MNAP_REG_E_BUSY,         /* lock or serialization conflict persisted */
    MNAP_REG_E_CRYPTO,       /* random numbers or KDF failed */
    MNAP_REG_E_HAS_CARD,     /* the resident already has a card in use */
    MNAP_REG_E_AUDIT,        /* the audit chain or a checkpoint does not verify */
    MNAP_REG_E_RETENTION,    /* audit rows younger than 366 days are kept */
    MNAP_REG_E__COUNT
} mnap_reg_err;

const char *mnap_reg_strerror(mnap_reg_err e);

/* --- roles and permissions (the one table: reg_perm.c) ------------------- */
typedef enum mnap_reg_role {
    MNAP_ROLE_CLERK = 0,     /* card operations at the counter */
    MNAP_ROLE_SUPERVISOR,    /* clerk's, and unlocks operators, stops cards */
    MNAP_ROLE_AUDITOR,       /* reads the audit, nothing else */
    MNAP_ROLE_ADMIN,         /* operators, keys, system settings */
    MNAP_ROLE_KIOSK,         /* machine identity: reads the stop list only */
    MNAP_ROLE__COUNT
} mnap_reg_role;

typedef enum mnap_reg_perm {
    MNAP_PERM_CARD_OPS = 0,  /* AP load/delete/suspend/resume, PIN unblock, area setup */
    MNAP_PERM_CARD_READ,     /* card info, AP list, card show, security log */
    MNAP_PERM_CARD_REGISTER, /* card register */
    MNAP_PERM_CARD_STOP,     /* card state changes (suspend, stop, terminate) */
    MNAP_PERM_RESIDENT_READ,
    MNAP_PERM_RESIDENT_WRITE,
    MNAP_PERM_SERVICE_ID,    /* derive a resident's pseudonymous service ID */
    MNAP_PERM_OPERATOR_UNLOCK,
    MNAP_PERM_OPERATOR_ADMIN,/* operator add, lock, role */
    MNAP_PERM_KEYS,          /* key store */
    MNAP_PERM_SETTINGS,      /* municipality settings, registry upgrade */
    MNAP_PERM_AUDIT_READ,
    MNAP_PERM_STOPLIST_READ,
    MNAP_PERM_KIOSK_FLOW,    /* business flows of a kiosk (library, certificate) */
    MNAP_PERM__COUNT
} mnap_reg_perm;

bool mnap_reg_allowed(mnap_reg_role role, mnap_reg_perm perm);
/* "clerk", "supervisor", ...; NULL for an unknown value. */
const char *mnap_reg_role_name(mnap_reg_role role);
const char *mnap_reg_perm_name(mnap_reg_perm perm);
/* The role of a name; MNAP_REG_E_PARAM when unknown. */
mnap_reg_err mnap_reg_role_parse(const char *name, mnap_reg_role *out);

/* --- card states (the one transition table: reg_state.c) ----------------- */
typedef enum mnap_reg_card_state {
    MNAP_CARD_NONE = 0,      /* not registered (the start of the table) */
    MNAP_CARD_ACTIVE,
    MNAP_CARD_SUSPENDED,     /* reported missing; may be found again */
    MNAP_CARD_STOPPED,       /* lost for good or stolen: final */
    MNAP_CARD_TERMINATED,    /* returned or expired: final */
    MNAP_CARD__COUNT
} mnap_reg_card_state;

const char *mnap_reg_card_state_name(mnap_reg_card_state s);
mnap_reg_err mnap_reg_card_state_parse(const char *name, mnap_reg_card_state *out);
/* MNAP_REG_OK when the move from -> to is in the table (and *reason, when not
 * NULL, says why a card makes it); MNAP_REG_E_STATE otherwise. */
mnap_reg_err mnap_reg_card_transition(mnap_reg_card_state from, mnap_reg_card_state to,
                                      const char **reason);
/* One row of the table by index (for the documentation and tests); false
 * past the end. */
bool mnap_reg_card_transition_at(size_t i, mnap_reg_card_state *from, mnap_reg_card_state *to,
                                 const char **reason);

/* Why a card changes state, and the state each reason leads to:
 * registered -> ACTIVE, missing -> SUSPENDED, found -> ACTIVE, lost and
 * stolen -> STOPPED, returned and expired -> TERMINATED.  MNAP_REG_E_PARAM
 * for any other word. */
mnap_reg_err mnap_reg_card_reason_target(const char *reason, mnap_reg_card_state *to);

/* --- opening ------------------------------------------------------------- */
typedef struct mnap_reg mnap_reg;

#define MNAP_REG_OPEN_MIGRATE 1u /* create or upgrade the schema */

/* Opens the registry.  Without MNAP_REG_OPEN_MIGRATE an older schema gives
 * MNAP_REG_E_SCHEMA_OLD (nothing is changed).  On any error *out is NULL and
 * why (when not NULL) gets the engine's message. */
mnap_reg_err mnap_reg_open(mnap_reg **out, const char *conninfo, unsigned flags, char *why,
                           size_t why_cap);
void mnap_reg_close(mnap_reg *r);
/* "sqlite" or "postgresql". */
const char *mnap_reg_engine(const mnap_reg *r);
/* The schema version in the database and the one this library writes. */
mnap_reg_err mnap_reg_schema_version(mnap_reg *r, int *have, int *want);
/* The engine's last message (for logs: never holds a password). */
const char *mnap_reg_last_message(const mnap_reg *r);
/* The scrypt cost of new password hashes: N = 2^log2n (10..20; default 15).
 * Existing hashes keep their own cost. */
mnap_reg_err mnap_reg_set_kdf_cost(mnap_reg *r, unsigned log2n);
/* The clock (seconds since 1970) the registry uses; 0 restores time(). */
void mnap_reg_set_clock(mnap_reg *r, int64_t now);

/* --- administration (the database owner's connection) --------------------
 * Registers a municipality (its 6-digit local government code).  On
 * PostgreSQL it also creates the roles the policies test: mnap_m_CODE (its
 * terminals' login roles are made members) and mnap_k_CODE (its kiosk
 * groups), which needs CREATEROLE.  max_failed: failed logins that lock an
 * operator (1..20; 0 = 3). */
mnap_reg_err mnap_reg_municipality_add(mnap_reg *r, const char *code, const char *name,
                                       unsigned max_failed);
/* The first operator of a municipality, role admin: refused (EXISTS) once
 * the municipality has any operator. */
mnap_reg_err mnap_reg_bootstrap_admin(mnap_reg *r, const char *municipality, const char *id,
                                      const char *display_name, const char *password,
                                      size_t password_len);
/* The municipalities this connection may see (on PostgreSQL, those whose
 * role the connected role is a member of); cb is called for each. */
mnap_reg_err mnap_reg_municipalities(mnap_reg *r,
                                     void (*cb)(void *user, const char *code, const char *name),
                                     void *user);

/* --- operators and sessions ---------------------------------------------- */
#define MNAP_REG_ID_MAX 32
#define MNAP_REG_TOKEN_LEN 32

typedef struct mnap_reg_actor {
    char municipality[8];
    char operator_id[MNAP_REG_ID_MAX + 1];
    mnap_reg_role role;
} mnap_reg_actor;

/* Checks the password (scrypt, constant-time compare).  On success the
 * failed-login count is reset, a session of ttl seconds is stored (only the
 * SHA-256 of its token), token gets the 32 random bytes for the session file
 * and *actor the operator.  A wrong password counts one failed login; the
 * municipality's limit locks the operator (MNAP_REG_E_LOCKED from then on,
 * also with the right password).  An unknown operator gives
 * MNAP_REG_E_AUTH, like a wrong password. */
mnap_reg_err mnap_reg_login(mnap_reg *r, const char *municipality, const char *id,
                            const char *password, size_t password_len, unsigned ttl,
                            uint8_t token[MNAP_REG_TOKEN_LEN], mnap_reg_actor *actor);
/* The operator of a live session (not expired, not logged out, operator not
 * locked); MNAP_REG_E_SESSION otherwise. */
mnap_reg_err mnap_reg_session_resume(mnap_reg *r, const uint8_t token[MNAP_REG_TOKEN_LEN],
                                     mnap_reg_actor *actor);
mnap_reg_err mnap_reg_logout(mnap_reg *r, const uint8_t token[MNAP_REG_TOKEN_LEN]);

typedef struct mnap_reg_operator {
    char id[MNAP_REG_ID_MAX + 1];
    char display_name[129];
    mnap_reg_role role;
    unsigned failed_logins;
    bool locked;
} mnap_reg_operator;

mnap_reg_err mnap_reg_operator_add(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                   const char *display_name, mnap_reg_role role,
                                   const char *password, size_t password_len);
/* lock: supervisor or admin; unlock (also resets the failed-login count):
 * supervisor or admin. */
mnap_reg_err mnap_reg_operator_lock(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                    bool locked);
mnap_reg_err mnap_reg_operator_set_role(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                        mnap_reg_role role);
mnap_reg_err mnap_reg_operator_get(mnap_reg *r, const mnap_reg_actor *a, const char *id,
                                   mnap_reg_operator *out);

/* --- residents ------------------------------------------------------------ */
typedef struct mnap_reg_resident {
    char number[16];         /* the municipality's resident number: 1..15 digits */
    char name_kanji[193];
    char name_kana[193];
    char birth_date[11];     /* YYYY-MM-DD */
    char address[385];
} mnap_reg_resident;

/* The first field of a resident that the registry would refuse, or
 * MNAP_REG_FIELD_NONE: the number 1..15 digits; the names (192 bytes) and
 * the address (384) non-empty, well-formed UTF-8 without control
 * characters; the birth date a real date YYYY-MM-DD from 1850 on.  The one
 * rule, for an importer's row-by-row messages and the registry's own
 * refusal (MNAP_REG_E_PARAM). */
typedef enum mnap_reg_field {
    MNAP_REG_FIELD_NONE = 0,
    MNAP_REG_FIELD_NUMBER,
    MNAP_REG_FIELD_NAME_KANJI,
    MNAP_REG_FIELD_NAME_KANA,
    MNAP_REG_FIELD_BIRTH_DATE,
    MNAP_REG_FIELD_ADDRESS
} mnap_reg_field;
mnap_reg_field mnap_reg_resident_check(const mnap_reg_resident *res);

mnap_reg_err mnap_reg_resident_add(mnap_reg *r, const mnap_reg_actor *a,
                                   const mnap_reg_resident *res);
mnap_reg_err mnap_reg_resident_get(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                   mnap_reg_resident *out);
/* Imports n residents in one transaction (resident-write).  status[i] gets
 * each row's outcome: OK (added), PARAM (a field is not valid) or EXISTS
 * (the number is already registered, or earlier in the same import).  With
 * a bad row and no SKIP_BAD nothing is changed and MNAP_REG_E_PARAM is
 * returned; with SKIP_BAD the good rows are added.  CHECK: statuses only,
 * nothing is changed (OK when every row would be added).  *imported: rows
 * added. */
#define MNAP_REG_IMPORT_SKIP_BAD 1u
#define MNAP_REG_IMPORT_CHECK 2u
mnap_reg_err mnap_reg_resident_import(mnap_reg *r, const mnap_reg_actor *a, const mnap_reg_resident *res,
                                      size_t n, unsigned flags, mnap_reg_err *status, size_t *imported);
/* Residents whose kana or kanji name contains text (at most max, by
 * number); *count gets how many were written to out. */
mnap_reg_err mnap_reg_resident_find(mnap_reg *r, const mnap_reg_actor *a, const char *text,
                                    mnap_reg_resident *out, size_t max, size_t *count);
/* The resident's pseudonymous ID for a business system: hex HMAC-SHA-256
 * under the municipality's service key of (system, resident number); the
 * same inputs give the same ID, two systems never share one.  Recorded. */
mnap_reg_err mnap_reg_service_id(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                 const char *system, char out[65]);

/* --- cards and issued APs -------------------------------------------------- */
#define MNAP_REG_SERIAL_HEX 16
#define MNAP_REG_AID_HEX 32

typedef struct mnap_reg_card {
    char serial[MNAP_REG_SERIAL_HEX + 1]; /* upper-case hex of the 8-byte serial */
    char resident[16];
    mnap_reg_card_state state;
    int64_t registered_at;
    char registered_by[MNAP_REG_ID_MAX + 1];
    int64_t state_changed_at;
} mnap_reg_card;

typedef enum mnap_reg_ap_status {
    MNAP_AP_LOADING = 0,     /* intent recorded, card change not confirmed */
    MNAP_AP_LOADED,
    MNAP_AP_DELETING,        /* intent recorded, card change not confirmed */
    MNAP_AP_DELETED,
    MNAP_AP_FAILED,          /* the load did not happen */
    MNAP_AP__COUNT
} mnap_reg_ap_status;
const char *mnap_reg_ap_status_name(mnap_reg_ap_status s);

typedef struct mnap_reg_ap {
    char aid[MNAP_REG_AID_HEX + 1];
    char service[65];
    mnap_reg_ap_status status;
    int64_t loaded_at;       /* 0 when not loaded */
    char loaded_by[MNAP_REG_ID_MAX + 1];
    int64_t deleted_at;
    char deleted_by[MNAP_REG_ID_MAX + 1];
} mnap_reg_ap;

/* Registers a card (serial: 16 hex digits) for a resident: state ACTIVE.  A
 * resident has at most one card that is ACTIVE or SUSPENDED
 * (MNAP_REG_E_HAS_CARD). */
mnap_reg_err mnap_reg_card_register(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                    const char *resident);
mnap_reg_err mnap_reg_card_get(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_card *out);
/* Moves the card through the transition table (supervisor) for reason
 * (mnap_reg_card_reason_target must lead to `to`, else MNAP_REG_E_PARAM),
 * and records who, when and why in card_events, in one transaction. */
mnap_reg_err mnap_reg_card_set_state(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                     mnap_reg_card_state to, const char *reason);
/* The card's state changes, oldest first (registration included). */
typedef struct mnap_reg_card_event {
    mnap_reg_card_state from, to;
    char reason[16];
    char actor[MNAP_REG_ID_MAX + 1];
    int64_t at;
} mnap_reg_card_event;
mnap_reg_err mnap_reg_card_events(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                  mnap_reg_card_event *out, size_t max, size_t *count);
/* "May this card be served?" for a kiosk or business system (kiosk-flow):
 * MNAP_REG_OK when the card is not on the actor's municipality's stop list;
 * MNAP_REG_E_STATE (and *state, when not NULL) when it is.  Reads only the
 * stop list (on PostgreSQL a kiosk role sees nothing else). */
mnap_reg_err mnap_reg_card_servable(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                    mnap_reg_card_state *state);
/* The card's AP records, newest first (at most max). */
mnap_reg_err mnap_reg_card_aps(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_ap *out, size_t max, size_t *count);
/* The stop list: every card of the actor's municipality that is not ACTIVE. */
mnap_reg_err mnap_reg_stop_list(mnap_reg *r, const mnap_reg_actor *a,
                                void (*cb)(void *user, const char *serial,
                                           mnap_reg_card_state state, int64_t since),
                                void *user);

/* The AP change protocol: the registry and the card are two systems, so a
 * change is recorded as an intent first, the card is changed, then the
 * intent is settled:
 *
 *   mnap_reg_ap_begin  (card ACTIVE, no pending intent on it) -> LOADING/DELETING
 *   ... the card change ...
 *   mnap_reg_ap_finish (done: LOADED/DELETED; not done: FAILED/LOADED)
 *
 * A crash or error between the steps leaves the intent pending; the next
 * command on that card finds it (mnap_reg_ap_pending) while it holds the
 * card, reads the card's AP list and settles it by what the card says
 * (mnap_reg_ap_resolve).  The card is the truth for what it holds. */
typedef enum mnap_reg_ap_op { MNAP_REG_AP_LOAD = 0, MNAP_REG_AP_DELETE } mnap_reg_ap_op;

mnap_reg_err mnap_reg_ap_begin(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                               mnap_reg_ap_op op, const char *aid, const char *service);
mnap_reg_err mnap_reg_ap_finish(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                const char *aid, bool done);
/* The pending intents of a card (status LOADING or DELETING). */
mnap_reg_err mnap_reg_ap_pending(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                 mnap_reg_ap *out, size_t max, size_t *count);
/* Settles a pending intent by what the card holds: LOADING -> LOADED when on
 * the card, else FAILED; DELETING -> LOADED when on the card, else DELETED. */
mnap_reg_err mnap_reg_ap_resolve(mnap_reg *r, const mnap_reg_actor *a, const char *serial,
                                 const char *aid, bool on_card, mnap_reg_ap_status *now);
/* MNAP_REG_OK when the card is registered to the actor's municipality and
 * ACTIVE (what an AP load or delete and a PIN unblock need); NOT_FOUND or
 * STATE otherwise. */
mnap_reg_err mnap_reg_card_require_active(mnap_reg *r, const mnap_reg_actor *a,
                                          const char *serial);

/* --- the operator audit (schema 3; docs/registry.md) ------------------------
 * One row per operator action, hash-chained per municipality exactly as the
 * audit file is (tools/mnap/audit.h: the hash is SHA-256 of the previous
 * row's hash, a newline and "seq TAB time TAB operator TAB command TAB
 * serial TAB aid TAB result"; fields are cut at 200 bytes, tabs and control
 * characters become '_', an empty field is "-").  Rows are only added: no
 * role may change one, and none younger than 366 days may be deleted
 * (PostgreSQL: privileges and triggers; SQLite: triggers).  A signed
 * checkpoint (Ed25519 over the chain head and a time) makes the deletion of
 * the newest rows detectable too. */
#define MNAP_REG_AUDIT_FIELD 200
#define MNAP_REG_AUDIT_KEEP (366 * 86400)
#define MNAP_REG_AUDIT_CHECKPOINT_AGE (24 * 3600)

typedef struct mnap_reg_audit_row {
    uint64_t seq;
    int64_t at;
    char operator_id[MNAP_REG_AUDIT_FIELD + 1];
    char command[MNAP_REG_AUDIT_FIELD + 1];
    char serial[MNAP_REG_AUDIT_FIELD + 1];
    char aid[MNAP_REG_AUDIT_FIELD + 1];
    char result[MNAP_REG_AUDIT_FIELD + 1];
    char prev_hash[65];
    char hash[65];
} mnap_reg_audit_row;

/* Appends a row for municipality (any operator's action, also a failed
 * login: the library trusts the program, as for the actor).  *seq (when not
 * NULL) gets its sequence number. */
mnap_reg_err mnap_reg_audit_append(mnap_reg *r, const char *municipality, const char *operator_id,
                                   const char *command, const char *serial, const char *aid,
                                   const char *result, uint64_t *seq);
/* The row seq of municipality has an outcome row already ("[row N] ..."):
 * *settled.  For settling rows begun by an interrupted command. */
mnap_reg_err mnap_reg_audit_settled(mnap_reg *r, const char *municipality, uint64_t seq, bool *settled);
/* The actor's rows with from <= at < to, oldest first (auditor).  cb returns
 * non-zero to stop. */
mnap_reg_err mnap_reg_audit_rows(mnap_reg *r, const mnap_reg_actor *a, int64_t from, int64_t to,
                                 int (*cb)(void *user, const mnap_reg_audit_row *row), void *user);

typedef struct mnap_reg_audit_report {
    uint64_t rows, first_seq, last_seq, checkpoints, unsettled;
    int64_t last_checkpoint_at;   /* 0: none */
    bool signatures_checked;
    char last_hash[65];
    char why[240];                /* the first problem */
} mnap_reg_audit_report;
/* Checks the actor's chain and checkpoints (auditor): every row's hash,
 * consecutive sequence numbers, every checkpoint's head against the chain
 * (a checkpoint past the last row: the newest rows were deleted) and, with
 * pub (Ed25519, 32 bytes), its signature.  MNAP_REG_E_AUDIT with rep->why
 * when broken. */
mnap_reg_err mnap_reg_audit_verify(mnap_reg *r, const mnap_reg_actor *a, const uint8_t *pub,
                                   mnap_reg_audit_report *rep);
/* Signs the chain head of municipality at the registry's clock (seed: the
 * Ed25519 private key) and stores the checkpoint. */
mnap_reg_err mnap_reg_audit_checkpoint(mnap_reg *r, const char *municipality, const uint8_t seed[32],
                                       uint64_t *seq);
/* The same with the signature made elsewhere (a key in a PKCS#11 token):
 * sign returns 0 with the 64-byte Ed25519 signature of msg; pub is the
 * public key stored beside it. */
typedef int (*mnap_reg_signer)(void *user, const uint8_t *msg, size_t len, uint8_t sig[64]);
mnap_reg_err mnap_reg_audit_checkpoint_signed(mnap_reg *r, const char *municipality, const uint8_t pub[32],
                                              mnap_reg_signer sign, void *user, uint64_t *seq);
/* *due: the last checkpoint is more than 24 h old (or there is none and
 * there are rows). */
mnap_reg_err mnap_reg_audit_checkpoint_due(mnap_reg *r, const char *municipality, bool *due);
/* Deletes the actor's rows older than before (auditor); before must be at
 * least 366 days in the past (MNAP_REG_E_RETENTION otherwise, nothing
 * deleted).  The purge itself is a row. */
mnap_reg_err mnap_reg_audit_purge(mnap_reg *r, const mnap_reg_actor *a, int64_t before, uint64_t *removed);

/* --- the operator console's tuning (docs/console.md) --------------------------
 * Key/value texts per municipality: titles, guidance, button labels, the
 * background colour, extra resident fields.  Keys are [a-z0-9_]{1,32};
 * values UTF-8 without control characters, 1..255 bytes. */
#define MNAP_REG_TUNING_KEY_MAX 32
#define MNAP_REG_TUNING_VALUE_MAX 255

/* Every tuning value of a municipality (no actor: the login screen shows
 * them; on PostgreSQL only a municipality of the connected role). */
mnap_reg_err mnap_reg_tuning_list(mnap_reg *r, const char *municipality,
                                  void (*cb)(void *user, const char *key, const char *value),
                                  void *user);
/* Sets a value of the actor's municipality (MNAP_PERM_SETTINGS: admin); an
 * empty or NULL value removes it (the default shows again). */
mnap_reg_err mnap_reg_tuning_set(mnap_reg *r, const mnap_reg_actor *a, const char *key,
                                 const char *value);

/* The extra fields a municipality records for a resident (the tuning's
 * extra_fields): field 1..64 bytes, value 0..255 bytes of UTF-8 without
 * control characters (empty removes).  Set: resident-write; read:
 * resident-read (cb per field, by name). */
mnap_reg_err mnap_reg_resident_extra_set(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                         const char *field, const char *value);
mnap_reg_err mnap_reg_resident_extras(mnap_reg *r, const mnap_reg_actor *a, const char *number,
                                      void (*cb)(void *user, const char *field, const char *value),
                                      void *user);

/* --- what the operator console adds (reg_console.c, docs/console.md) ---------
 * A tuning form in one transaction: every keys[i] set to values[i] (empty or
 * NULL removes it), and, when audit_command is not NULL, the audit row
 * (actor, audit_command, audit_result) in the same transaction: all of it
 * or nothing (MNAP_PERM_SETTINGS).  Test hook: MNAP_REG_FAULT=tuning-save
 * fails the database after the first field (nothing stays). */
mnap_reg_err mnap_reg_tuning_save(mnap_reg *r, const mnap_reg_actor *a, size_t n, const char *const *keys,
                                  const char *const *values, const char *audit_command,
                                  const char *audit_result);
/* Every resident of the actor's municipality, by number (resident-read); cb
 * returns non-zero to stop. */
mnap_reg_err mnap_reg_resident_each(mnap_reg *r, const mnap_reg_actor *a,
                                    int (*cb)(void *user, const mnap_reg_resident *res), void *user);

#ifdef __cplusplus
}
#endif

#endif
