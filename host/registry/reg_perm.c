/* reg_perm.c: the two tables every decision of the registry goes through:
 * which role may do what (mnap_reg_allowed), and which card state may move
 * to which (mnap_reg_card_transition).  docs/registry.md publishes both;
 * test_registry checks the document against them. */
#include "reg_int.h"

#include <string.h>

static const char *const role_names[MNAP_ROLE__COUNT] = {
    [MNAP_ROLE_CLERK] = "clerk",
    [MNAP_ROLE_SUPERVISOR] = "supervisor",
    [MNAP_ROLE_AUDITOR] = "auditor",
    [MNAP_ROLE_ADMIN] = "admin",
    [MNAP_ROLE_KIOSK] = "kiosk",
};

static const char *const perm_names[MNAP_PERM__COUNT] = {
    [MNAP_PERM_CARD_OPS] = "card-ops",
    [MNAP_PERM_CARD_READ] = "card-read",
    [MNAP_PERM_CARD_REGISTER] = "card-register",
    [MNAP_PERM_CARD_STOP] = "card-stop",
    [MNAP_PERM_RESIDENT_READ] = "resident-read",
    [MNAP_PERM_RESIDENT_WRITE] = "resident-write",
    [MNAP_PERM_SERVICE_ID] = "service-id",
    [MNAP_PERM_OPERATOR_UNLOCK] = "operator-unlock",
    [MNAP_PERM_OPERATOR_ADMIN] = "operator-admin",
    [MNAP_PERM_KEYS] = "keys",
    [MNAP_PERM_SETTINGS] = "settings",
    [MNAP_PERM_AUDIT_READ] = "audit-read",
    [MNAP_PERM_STOPLIST_READ] = "stoplist-read",
    [MNAP_PERM_KIOSK_FLOW] = "kiosk-flow",
};

#define P(x) (1u << (x))
/* The permission table: one bit set per role. */
static const unsigned perms[MNAP_ROLE__COUNT] = {
    [MNAP_ROLE_CLERK] = P(MNAP_PERM_CARD_OPS) | P(MNAP_PERM_CARD_READ) | P(MNAP_PERM_CARD_REGISTER) |
                        P(MNAP_PERM_RESIDENT_READ) | P(MNAP_PERM_RESIDENT_WRITE) |
                        P(MNAP_PERM_SERVICE_ID) | P(MNAP_PERM_STOPLIST_READ),
    [MNAP_ROLE_SUPERVISOR] = P(MNAP_PERM_CARD_OPS) | P(MNAP_PERM_CARD_READ) |
                             P(MNAP_PERM_CARD_REGISTER) | P(MNAP_PERM_CARD_STOP) |
                             P(MNAP_PERM_RESIDENT_READ) | P(MNAP_PERM_RESIDENT_WRITE) |
                             P(MNAP_PERM_SERVICE_ID) | P(MNAP_PERM_OPERATOR_UNLOCK) |
                             P(MNAP_PERM_STOPLIST_READ),
    [MNAP_ROLE_AUDITOR] = P(MNAP_PERM_AUDIT_READ),
    [MNAP_ROLE_ADMIN] = P(MNAP_PERM_OPERATOR_ADMIN) | P(MNAP_PERM_OPERATOR_UNLOCK) | P(MNAP_PERM_KEYS) |
                        P(MNAP_PERM_SETTINGS),
    [MNAP_ROLE_KIOSK] = P(MNAP_PERM_STOPLIST_READ) | P(MNAP_PERM_KIOSK_FLOW),
};
#undef P

bool mnap_reg_allowed(mnap_reg_role role, mnap_reg_perm perm)
{
    if ((unsigned)role >= MNAP_ROLE__COUNT || (unsigned)perm >= MNAP_PERM__COUNT) {
        return false;
    }
    return (perms[role] >> perm) & 1u;
}

const char *mnap_reg_role_name(mnap_reg_role role)
{
    return (unsigned)role < MNAP_ROLE__COUNT ? role_names[role] : NULL;
}

const char *mnap_reg_perm_name(mnap_reg_perm perm)
{
    return (unsigned)perm < MNAP_PERM__COUNT ? perm_names[perm] : NULL;
}

mnap_reg_err mnap_reg_role_parse(const char *name, mnap_reg_role *out)
{
    for (unsigned i = 0; name != NULL && i < MNAP_ROLE__COUNT; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (mnap_reg_role)i;
            return MNAP_REG_OK;
        }
    }
    return MNAP_REG_E_PARAM;
}

/* --- card states ------------------------------------------------------------ */
static const char *const state_names[MNAP_CARD__COUNT] = {
    [MNAP_CARD_NONE] = "NONE",
    [MNAP_CARD_ACTIVE] = "ACTIVE",
    [MNAP_CARD_SUSPENDED] = "SUSPENDED",
    [MNAP_CARD_STOPPED] = "STOPPED",
    [MNAP_CARD_TERMINATED] = "TERMINATED",
};

static const struct {
    mnap_reg_card_state from, to;
    const char *reason;
} moves[] = {
    { MNAP_CARD_NONE, MNAP_CARD_ACTIVE,
      "registered at the counter: the card is handed to the resident and in operation" },
    { MNAP_CARD_ACTIVE, MNAP_CARD_SUSPENDED,
      "reported missing (一時停止): nothing is loaded, deleted or unblocked until it is found" },
    { MNAP_CARD_SUSPENDED, MNAP_CARD_ACTIVE,
      "found again: the resident shows the card and identity at the counter (一時停止解除)" },
    { MNAP_CARD_ACTIVE, MNAP_CARD_STOPPED,
      "lost for good or stolen (廃止): final, the resident gets a new card" },
    { MNAP_CARD_SUSPENDED, MNAP_CARD_STOPPED,
      "a missing card is not found, or is known stolen: final, the resident gets a new card" },
    { MNAP_CARD_ACTIVE, MNAP_CARD_TERMINATED,
      "returned or expired (返納・有効期限切れ): final" },
    { MNAP_CARD_SUSPENDED, MNAP_CARD_TERMINATED,
      "a missing card expires or is handed back: final" },
};

const char *mnap_reg_card_state_name(mnap_reg_card_state s)
{
    return (unsigned)s < MNAP_CARD__COUNT ? state_names[s] : "UNKNOWN";
}

mnap_reg_err mnap_reg_card_state_parse(const char *name, mnap_reg_card_state *out)
{
    for (unsigned i = 1; name != NULL && i < MNAP_CARD__COUNT; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (mnap_reg_card_state)i;
            return MNAP_REG_OK;
        }
    }
    return MNAP_REG_E_PARAM;
}

mnap_reg_err mnap_reg_card_transition(mnap_reg_card_state from, mnap_reg_card_state to,
                                      const char **reason)
{
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        if (moves[i].from == from && moves[i].to == to) {
            if (reason != NULL) {
                *reason = moves[i].reason;
            }
            return MNAP_REG_OK;
        }
    }
    return MNAP_REG_E_STATE;
}

bool mnap_reg_card_transition_at(size_t i, mnap_reg_card_state *from, mnap_reg_card_state *to,
                                 const char **reason)
{
    if (i >= sizeof moves / sizeof moves[0]) {
        return false;
    }
    *from = moves[i].from;
    *to = moves[i].to;
    *reason = moves[i].reason;
    return true;
}

static const char *const ap_status_names[MNAP_AP__COUNT] = {
    [MNAP_AP_LOADING] = "LOADING",
    [MNAP_AP_LOADED] = "LOADED",
    [MNAP_AP_DELETING] = "DELETING",
    [MNAP_AP_DELETED] = "DELETED",
    [MNAP_AP_FAILED] = "FAILED",
};

const char *mnap_reg_ap_status_name(mnap_reg_ap_status s)
{
    return (unsigned)s < MNAP_AP__COUNT ? ap_status_names[s] : "UNKNOWN";
}

/* --- why a card changes state: each reason leads to one state ---------------- */
static const struct {
    const char *name;
    mnap_reg_card_state to;
} reasons[] = {
    { "registered", MNAP_CARD_ACTIVE },   /* card register */
    { "missing", MNAP_CARD_SUSPENDED },   /* card stop --reason missing */
    { "found", MNAP_CARD_ACTIVE },        /* card resume */
    { "lost", MNAP_CARD_STOPPED },        /* card stop --reason lost */
    { "stolen", MNAP_CARD_STOPPED },      /* card stop --reason stolen */
    { "returned", MNAP_CARD_TERMINATED }, /* card terminate --reason returned */
    { "expired", MNAP_CARD_TERMINATED },  /* card terminate --reason expired */
};

mnap_reg_err mnap_reg_card_reason_target(const char *reason, mnap_reg_card_state *to)
{
    for (size_t i = 0; reason != NULL && i < sizeof reasons / sizeof reasons[0]; i++) {
        if (strcmp(reason, reasons[i].name) == 0) {
            if (to != NULL) {
                *to = reasons[i].to;
            }
            return MNAP_REG_OK;
        }
    }
    return MNAP_REG_E_PARAM;
}
