/* inproc.c: the in-process transport.  One mnap_inproc owns a simulated card
 * (mc_card on the simulator port with memory NVM) and hands its APDUs to
 * mc_process.  It behaves like a card in a PC/SC reader where that matters to
 * the host library: removal gives MNAP_E_CARD_REMOVED, a card put back (or
 * power restored) gives MNAP_E_CARD_RESET once, a card that went mute during a
 * power cut gives MNAP_E_CARD_REMOVED. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/mnap_inproc.h"
#include "mnap_int.h"
#include "sim_card.h"

struct mnap_inproc {
    mc_simcard sc;       /* the card and its simulator port (card/port/sim/sim_card.h) */
    bool present;        /* in the reader and powered */
    bool reset_pending;  /* report MNAP_E_CARD_RESET on the next transmit */
    uint8_t rsp[MC_RSP_BUF_SIZE];
};

static const uint8_t default_serial[MC_SERIAL_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7 };

mnap_err mnap_inproc_new(mnap_inproc **out, const uint8_t *serial, const uint8_t *transport_key,
                         size_t key_len, uint32_t nvm_size)
{
    mc_simcard_make mk;
    mnap_inproc *ip;
    int rc;

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
    memset(&mk, 0, sizeof(mk));
    mk.serial = serial ? serial : default_serial;
    mk.enc = transport_key;
    mk.key_len = key_len;
    rc = mc_simcard_new_mem(&ip->sc, nvm_size, &mk, NULL);
    if (rc != 0) {
        free(ip);
        return rc == MC_SIMCARD_E_MEMORY ? MNAP_E_NOMEM : MNAP_E_TRANSPORT;
    }
    ip->present = true;
    *out = ip;
    return MNAP_OK;
}

mnap_err mnap_inproc_create_image(const char *path, const uint8_t serial[8], uint32_t nvm_size,
                                  char *err, size_t err_cap)
{
    mc_simcard_make mk;
    mc_simcard *sc;
    mc_status st = MC_OK;
    int rc;

    if (path == NULL || serial == NULL || err == NULL)
        return MNAP_E_PARAM;
    /* mc_card is large: keep it off the stack. */
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        snprintf(err, err_cap, "out of memory");
        return MNAP_E_NOMEM;
    }
    memset(&mk, 0, sizeof(mk));
    mk.serial = serial;
    rc = mc_simcard_create_file(sc, path, nvm_size, false, &mk, &st, err, err_cap);
    if (rc == MC_SIMCARD_E_CREATE)
        snprintf(err, err_cap, "%s: cannot create the image: %s", path,
                 errno != 0 ? strerror(errno) : "simulator refused");
    else if (rc == MC_SIMCARD_E_FABRICATE)
        snprintf(err, err_cap, "%s: fabrication failed (mc_status %d)", path, (int)st);
    if (rc == 0)
        mc_simcard_close(sc);
    free(sc);
    return rc == 0 ? MNAP_OK : MNAP_E_TRANSPORT;
}

mnap_err mnap_inproc_open_image(mnap_inproc **out, const char *path, char *err, size_t err_cap)
{
    char why[200];
    mnap_inproc *ip;
    int rc;

    if (out == NULL || path == NULL || err == NULL)
        return MNAP_E_PARAM;
    *out = NULL;
    ip = calloc(1, sizeof(*ip));
    if (ip == NULL) {
        snprintf(err, err_cap, "out of memory");
        return MNAP_E_NOMEM;
    }
    errno = 0;
    rc = mc_simcard_open_file(&ip->sc, path, why, sizeof(why));
    if (rc != 0) {
        if (rc == MC_SIMCARD_E_LOCK)
            snprintf(err, err_cap, "%s", why);
        else
            snprintf(err, err_cap, "%s: not a usable card image: %s", path,
                     why[0] != '\0' ? why : strerror(errno));
        free(ip);
        return MNAP_E_TRANSPORT;
    }
    /* A corrupt image still powers on: the card itself answers 6581. */
    (void)mc_simcard_power_on(&ip->sc);
    ip->present = true;
    *out = ip;
    return MNAP_OK;
}

void mnap_inproc_free(mnap_inproc *ip)
{
    if (ip == NULL)
        return;
    mc_simcard_close(&ip->sc);
    memset(ip->rsp, 0, sizeof(ip->rsp));
    free(ip);
}

void mnap_inproc_remove(mnap_inproc *ip)
{
    if (ip != NULL && ip->present) {
        mc_simcard_power_off(&ip->sc);
        ip->present = false;
    }
}

mnap_err mnap_inproc_insert(mnap_inproc *ip)
{
    mc_status st;

    if (ip == NULL)
        return MNAP_E_PARAM;
    st = mc_simcard_power_on(&ip->sc);
    /* A card with corrupt NVM still answers (6581): it is present. */
    if (st != MC_OK && st != MC_ERR_CORRUPT)
        return MNAP_E_TRANSPORT;
    ip->present = true;
    ip->reset_pending = true;
    return MNAP_OK;
}

int mnap_inproc_present(const mnap_inproc *ip)
{
    return ip != NULL && ip->present;
}

mnap_err mnap_inproc_set_transport(mnap_inproc *ip, unsigned transport)
{
    if (ip == NULL || transport > MNAP_INPROC_CL)
        return MNAP_E_PARAM;
    mc_simcard_set_transport(&ip->sc, (uint8_t)transport);
    return MNAP_OK;
}

void mnap_inproc_arm_power_cut(mnap_inproc *ip, uint64_t nth_write, size_t k_bytes)
{
    if (ip != NULL)
        mc_simcard_arm_cut(&ip->sc, nth_write, k_bytes);
}

uint64_t mnap_inproc_nvm_writes(const mnap_inproc *ip)
{
    return ip ? ip->sc.sim.writes : 0;
}

uint64_t mnap_inproc_apdus(const mnap_inproc *ip)
{
    return ip ? ip->sc.apdus : 0;
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
    if (ip->sc.transport == MNAP_INPROC_T0) {
        /* What a T=0 reader puts on the wire (as pcsc.c does). */
        cmd_len = mnap__apdu_t0_len(cmd, cmd_len);
        if (cmd_len == 0)
            return MNAP_E_PARAM;
    }
    n = mc_simcard_process(&ip->sc, cmd, cmd_len, ip->rsp, sizeof(ip->rsp));
    if (n == 0) {
        /* Mute: the power was cut during an NVM write. */
        mc_simcard_power_off(&ip->sc);
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
    mc_simcard_reset(&ip->sc);
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

    return ip != NULL && ip->sc.transport == MNAP_INPROC_T0 ? MNAP_PROTO_T0 : MNAP_PROTO_T1;
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
