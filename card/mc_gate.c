/* mc_gate.c: the common checks of PROTOCOL.md §9 that sit between a
 * command's length check and its own checks, in their order: corrupt NVM
 * 6581 › area state 6985 › selection 6986 › channel or level 6982 › AP state
 * 6A81.  Each command states what it is (AM or AP instruction, whether it
 * needs a channel, which area states allow it) and calls mc_gate once. */
#include "mc_int.h"

#include "cm_ct.h"

mc_sw mc_gate(mc_card *card, unsigned flags, mc_area_rec *area_out, mc_slot_rec *slot)
{
    /* The area record holds the AM key set: a local copy goes with the
     * stack scrub after the command (mc_scrub_stack, mc_apdu.c), like every
     * key record a handler keeps on the stack. */
    mc_area_rec local;
    mc_area_rec *area = area_out != NULL ? area_out : &local;
    mc_slot_rec *s = slot != NULL ? slot : MC_SCRATCH_SLOT(card);
    bool am, ap, used = false;
    uint8_t sel = card->sel;
    mc_status st;

    if (card->corrupt && !(flags & MC_G_SELECT))
        return MC_SW_MEMORY_FAILURE;
    st = mc_area_read(card, area);
    if (st != MC_OK)
        return mc_sw_of(st);
    /* A dual instruction (INITIALIZE UPDATE, PUT KEY) belongs to the AP
     * when one is selected, else to the AM: area-state rules apply to AM
     * instructions whatever is selected (§9). */
    am = (flags & MC_G_AM) && (!(flags & MC_G_AP) || !MC_SEL_IS_AP(sel));
    ap = !am;            /* (mc_int.h: the flags name AM, AP or both) */
    if (am) {
        switch (area->state) {
        case MC_AREA_ACTIVE:
            break;
        case MC_AREA_BLANK:
            if (!(flags & MC_G_BLANK))
                return MC_SW_CONDITIONS;
            break;
        case MC_AREA_LOCKED:
            if (!(flags & MC_G_LOCKED))
                return MC_SW_CONDITIONS;
            break;
        default:
            return MC_SW_CONDITIONS;
        }
        /* The AM's commands need the AM selected (§4). */
        if (sel != MC_SEL_AM)
            return MC_SW_NO_CURRENT_EF;
    } else {
        if (!MC_SEL_IS_AP(sel))
            return MC_SW_NO_CURRENT_EF;
        st = mc_slot_read(card, sel, s, &used);
        if (st != MC_OK)
            return mc_sw_of(st);
        /* A file command without SFI needs a current EF (§9). */
        if (!used || ((flags & MC_G_NOEF) && card->ef == 0xFF))
            return MC_SW_NO_CURRENT_EF;
    }
    /* (an AM instruction gets here with the AM selected: sel is MC_SEL_AM) */
    if ((flags & MC_G_CHAN) && !mc_chan_on(card, sel))
        return MC_SW_SECURITY_STATUS;
    if (ap && (flags & MC_G_APSTATE) &&
        (s->state != MC_AP_ACTIVE || area->state != MC_AREA_ACTIVE))
        return MC_SW_FUNC_NOT_SUPPORTED;
    return MC_SW_OK;
}
