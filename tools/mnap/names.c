/* names.c: printable names of the card's state codes. */
#include "names.h"
#include "mnap/mnap.h"

const char *area_state_name(uint8_t state)
{
    switch (state) {
    case MNAP_AREA_BLANK:
        return "BLANK";
    case MNAP_AREA_ACTIVE:
        return "ACTIVE";
    case MNAP_AREA_LOCKED:
        return "LOCKED";
    case MNAP_AREA_TERMINATED:
        return "TERMINATED";
    default:
        return "UNKNOWN";
    }
}

const char *ap_state_name(uint8_t state)
{
    switch (state) {
    case MNAP_AP_ACTIVE:
        return "ACTIVE";
    case MNAP_AP_SUSPENDED:
        return "SUSPENDED";
    default:
        return "UNKNOWN";
    }
}
