/* fault.c: a transport wrapper that injects one fault into the traffic of
 * another transport: a flipped response bit, a truncated response, or a card
 * that disappears.  For the library's error-path tests. */
#include <string.h>

#include "inproc/mnap_inproc.h"

void mnap_fault_init(mnap_fault *f, const mnap_transport *inner)
{
    memset(f, 0, sizeof(*f));
    f->inner = *inner;
}

void mnap_fault_arm(mnap_fault *f, mnap_fault_kind kind, uint64_t nth, long arg)
{
    f->kind = kind;
    f->at = nth ? f->count + nth : 0;
    f->arg = arg;
}

static mnap_err fault_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                               size_t rsp_cap, size_t *rsp_len)
{
    mnap_fault *f = self;
    mnap_err rc;
    int hit;

    f->count++;
    hit = f->kind != MNAP_FAULT_NONE && f->count == f->at;
    if (f->dropped || (hit && f->kind == MNAP_FAULT_DROP)) {
        f->dropped = 1;
        return MNAP_E_CARD_REMOVED;
    }
    rc = f->inner.transmit(f->inner.self, cmd, cmd_len, rsp, rsp_cap, rsp_len);
    if (rc != MNAP_OK || !hit)
        return rc;
    if (f->kind == MNAP_FAULT_FLIP) {
        long i = f->arg < 0 ? (long)*rsp_len + f->arg : f->arg;
        if (i >= 0 && (size_t)i < *rsp_len)
            rsp[i] ^= 0x01;
    } else if (f->kind == MNAP_FAULT_TRUNCATE) {
        if (f->arg >= 0 && *rsp_len >= 2 && (size_t)f->arg < *rsp_len - 2) {
            rsp[f->arg] = rsp[*rsp_len - 2];
            rsp[f->arg + 1] = rsp[*rsp_len - 1];
            *rsp_len = (size_t)f->arg + 2;
        }
    } else if (f->kind == MNAP_FAULT_SHORT) {
        if (f->arg >= 0 && (size_t)f->arg < *rsp_len)
            *rsp_len = (size_t)f->arg;
    }
    return MNAP_OK;
}

static mnap_err fault_reconnect(void *self)
{
    mnap_fault *f = self;

    if (f->dropped)
        return MNAP_E_CARD_REMOVED;
    return f->inner.reconnect ? f->inner.reconnect(f->inner.self) : MNAP_E_STATE;
}

static mnap_err fault_atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    mnap_fault *f = self;

    return f->inner.atr ? f->inner.atr(f->inner.self, out, cap, len) : MNAP_E_STATE;
}

static int fault_protocol(void *self)
{
    mnap_fault *f = self;

    return f->inner.protocol ? f->inner.protocol(f->inner.self) : MNAP_PROTO_T1;
}

mnap_transport mnap_fault_transport(mnap_fault *f)
{
    mnap_transport t;

    memset(&t, 0, sizeof(t));
    t.self = f;
    t.transmit = fault_transmit;
    t.reconnect = fault_reconnect;
    t.atr = fault_atr;
    t.protocol = fault_protocol;
    return t;
}
