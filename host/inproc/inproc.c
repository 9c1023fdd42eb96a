/* inproc.c: the in-process transport.  One mnap_inproc owns a simulated card
 * (mc_card on the simulator port with memory NVM) and hands its APDUs to
 * mc_process.  It behaves like a card in a PC/SC reader where that matters to
 * the host library: removal gives MNAP_E_CARD_REMOVED, a card put back (or
 * power restored) gives MNAP_E_CARD_RESET once, a card that went mute during a
 * power cut gives MNAP_E_CARD_REMOVED. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/mnap_inproc.h"
#include "mnap_int.h"
#include "mc.h"
#include "mc_sim.h"

struct mnap_inproc {
    mc_sim sim;
    mc_card card;
    bool present;        /* in the reader and powered */
    bool reset_pending;  /* report MNAP_E_CARD_RESET on the next transmit */
    uint8_t transport;   /* MNAP_INPROC_* = MC_TRANSPORT_* */
    uint64_t apdus;
    uint8_t rsp[MC_RSP_BUF_SIZE];
};

static const uint8_t default_serial[MC_SERIAL_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7 };

mnap_err mnap_inproc_new(mnap_inproc **out, const uint8_t *serial, const uint8_t *transport_key,
                         size_t key_len, uint32_t nvm_size)
{
    mnap_inproc *ip;

    if (out == NULL)
        return MNAP_E_PARAM;
    *out = NULL;
    if (transport_key == NULL) {
        transport_key = mc_sim_test_key;
        key_len = sizeof(mc_sim_test_key);
    }
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return MNAP_E_PARAM;
    ip = calloc(1, sizeof(*ip));
    if (ip == NULL)
        return MNAP_E_NOMEM;
    if (mc_sim_init_mem(&ip->sim, nvm_size ? nvm_size : MC_SIM_DEFAULT_NVM_SIZE) != 0) {
        free(ip);
        return MNAP_E_NOMEM;
    }
    if (mc_fabricate(&ip->card, &ip->sim, serial ? serial : default_serial, mc_sim_test_family,
                     transport_key, transport_key, transport_key, key_len) != MC_OK) {
        mc_sim_close(&ip->sim);
        free(ip);
        return MNAP_E_TRANSPORT;
    }
    ip->present = true;
    *out = ip;
    return MNAP_OK;
}

void mnap_inproc_free(mnap_inproc *ip)
{
    if (ip == NULL)
        return;
    if (ip->present)
        mc_power_off(&ip->card);
    mc_sim_close(&ip->sim);
    memset(ip->rsp, 0, sizeof(ip->rsp));
    free(ip);
}

void mnap_inproc_remove(mnap_inproc *ip)
{
    if (ip != NULL && ip->present) {
        mc_power_off(&ip->card);
        ip->present = false;
    }
}

mnap_err mnap_inproc_insert(mnap_inproc *ip)
{
    mc_status st;

    if (ip == NULL)
        return MNAP_E_PARAM;
    if (ip->present)
        mc_power_off(&ip->card);
    mc_sim_disarm(&ip->sim);
    mc_sim_power_restore(&ip->sim);
    st = mc_power_on(&ip->card, &ip->sim);
    /* A card with corrupt NVM still answers (6581): it is present. */
    if (st != MC_OK && st != MC_ERR_CORRUPT)
        return MNAP_E_TRANSPORT;
    mc_set_transport(&ip->card, ip->transport);
    ip->present = true;
    ip->reset_pending = true;
    return MNAP_OK;
}

mnap_err mnap_inproc_set_transport(mnap_inproc *ip, unsigned transport)
{
    if (ip == NULL || transport > MNAP_INPROC_CL)
        return MNAP_E_PARAM;
    ip->transport = (uint8_t)transport;
    if (ip->present)
        mc_set_transport(&ip->card, ip->transport);
    return MNAP_OK;
}

void mnap_inproc_arm_power_cut(mnap_inproc *ip, uint64_t nth_write, size_t k_bytes)
{
    if (ip != NULL)
        mc_sim_arm_cut(&ip->sim, nth_write, k_bytes);
}

uint64_t mnap_inproc_nvm_writes(const mnap_inproc *ip)
{
    return ip ? ip->sim.writes : 0;
}

uint64_t mnap_inproc_apdus(const mnap_inproc *ip)
{
    return ip ? ip->apdus : 0;
}

static mnap_err ip_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                            size_t rsp_cap, size_t *rsp_len)
{
    mnap_inproc *ip = self;
    size_t n;

    if (ip == NULL || cmd == NULL || rsp == NULL || rsp_len == NULL)
        return MNAP_E_PARAM;
    if (!ip->present)
        return MNAP_E_CARD_REMOVED;
    if (ip->reset_pending) {
        ip->reset_pending = false;
        return MNAP_E_CARD_RESET;
    }
    if (ip->transport == MNAP_INPROC_T0) {
        /* What a T=0 reader puts on the wire (as pcsc.c does). */
        cmd_len = mnap__apdu_t0_len(cmd, cmd_len);
        if (cmd_len == 0)
            return MNAP_E_PARAM;
    }
    ip->apdus++;
    n = mc_process(&ip->card, cmd, cmd_len, ip->rsp, sizeof(ip->rsp));
    if (n == 0) {
        /* Mute: the power was cut during an NVM write. */
        mc_power_off(&ip->card);
        ip->present = false;
        return MNAP_E_CARD_REMOVED;
    }
    if (n > rsp_cap) {
        memset(ip->rsp, 0, n);
        return MNAP_E_BUFFER;
    }
    memcpy(rsp, ip->rsp, n);
    memset(ip->rsp, 0, n);
    *rsp_len = n;
    return MNAP_OK;
}

static mnap_err ip_reconnect(void *self)
{
    mnap_inproc *ip = self;

    if (ip == NULL)
        return MNAP_E_PARAM;
    if (!ip->present)
        return MNAP_E_CARD_REMOVED;
    mc_reset(&ip->card);
    ip->reset_pending = false;
    return MNAP_OK;
}

static mnap_err ip_atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    size_t n;

    (void)self;
    if (out == NULL || len == NULL)
        return MNAP_E_PARAM;
    n = mc_atr(out, cap);
    if (n == 0)
        return MNAP_E_BUFFER;
    *len = n;
    return MNAP_OK;
}

static int ip_protocol(void *self)
{
    mnap_inproc *ip = self;

    return ip != NULL && ip->transport == MNAP_INPROC_T0 ? MNAP_PROTO_T0 : MNAP_PROTO_T1;
}

mnap_transport mnap_inproc_transport(mnap_inproc *ip)
{
    mnap_transport t;

    memset(&t, 0, sizeof(t));
    t.self = ip;
    t.transmit = ip_transmit;
    t.reconnect = ip_reconnect;
    t.atr = ip_atr;
    t.protocol = ip_protocol;
    return t;
}
