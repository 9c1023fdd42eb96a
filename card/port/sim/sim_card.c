/* sim_card.c: the one simulated-card holder (sim_card.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_card.h"

void mc_simcard_init(mc_simcard *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->sim.fd = -1;
}

static mc_status fabricate(mc_simcard *sc, const mc_simcard_make *mk)
{
    const uint8_t *enc = mk->enc ? mk->enc : mc_sim_test_key;
    size_t key_len = mk->enc ? mk->key_len : sizeof(mc_sim_test_key);
    mc_status st;

    if (mk->det_seed != NULL)
        mc_sim_set_deterministic_random(&sc->sim, mk->det_seed);
    st = mc_fabricate(&sc->card, &sc->sim, mk->serial,
                      mk->family ? mk->family : mc_sim_test_family, enc,
                      mk->mac ? mk->mac : enc, mk->dek ? mk->dek : enc, key_len);
    sc->powered = st == MC_OK;     /* mc_fabricate leaves the card powered */
    if (sc->powered)
        mc_set_transport(&sc->card, sc->transport);
    return st;
}

int mc_simcard_new_mem(mc_simcard *sc, uint32_t nvm_size, const mc_simcard_make *mk,
                       mc_status *status)
{
    mc_status st;

    mc_simcard_init(sc);
    if (mc_sim_init_mem(&sc->sim, nvm_size ? nvm_size : MC_SIM_DEFAULT_NVM_SIZE) != 0)
        return MC_SIMCARD_E_MEMORY;
    sc->open = true;
    st = fabricate(sc, mk);
    if (status != NULL)
        *status = st;
    if (st != MC_OK) {
        mc_simcard_close(sc);
        return MC_SIMCARD_E_FABRICATE;
    }
    return 0;
}

mc_status mc_simcard_clone_mem(mc_simcard *dst, const mc_simcard *src)
{
    mc_simcard_init(dst);
    if (mc_sim_init_mem(&dst->sim, src->sim.nvm_size) != 0)
        return MC_ERR_PARAM;
    dst->open = true;
    memcpy(dst->sim.nvm, src->sim.nvm, src->sim.nvm_size);
    if (src->sim.det_random)
        mc_sim_set_deterministic_random(&dst->sim, src->sim.det_seed);
    dst->transport = src->transport;
    return mc_simcard_power_on(dst);
}

int mc_simcard_create_file(mc_simcard *sc, const char *path, uint32_t nvm_size, bool truncate,
                           const mc_simcard_make *mk, mc_status *status, char *msg,
                           size_t msg_cap)
{
    mc_status st;

    mc_simcard_init(sc);
    errno = 0; /* the simulator sets it only on an I/O failure */
    if (mc_sim_create_file(&sc->sim, path, nvm_size ? nvm_size : MC_SIM_DEFAULT_NVM_SIZE,
                           truncate) != 0)
        return MC_SIMCARD_E_CREATE;
    sc->open = true;
    if (mc_sim_lock(&sc->sim, path, msg, msg_cap) != 0) {
        /* Another process locked it: not ours alone to remove. */
        mc_simcard_close(sc);
        return MC_SIMCARD_E_LOCK;
    }
    st = fabricate(sc, mk);
    if (status != NULL)
        *status = st;
    if (st != MC_OK) {
        mc_simcard_close(sc);
        unlink(path); /* no half-made card image stays behind */
        return MC_SIMCARD_E_FABRICATE;
    }
    mc_simcard_power_off(sc);
    return 0;
}

int mc_simcard_open_file(mc_simcard *sc, const char *path, char *msg, size_t msg_cap)
{
    mc_simcard_init(sc);
    if (msg != NULL && msg_cap)
        msg[0] = '\0';
    if (mc_sim_open_file(&sc->sim, path, msg, msg_cap) != 0)
        return MC_SIMCARD_E_OPEN;
    sc->open = true;
    if (mc_sim_lock(&sc->sim, path, msg, msg_cap) != 0) {
        mc_simcard_close(sc);
        return MC_SIMCARD_E_LOCK;
    }
    return 0;
}

void mc_simcard_close(mc_simcard *sc)
{
    mc_simcard_power_off(sc);
    if (sc->open) {
        mc_sim_close(&sc->sim); /* closing the fd also drops the lock */
        sc->open = false;
    }
}

mc_status mc_simcard_power_on(mc_simcard *sc)
{
    mc_status st;

    if (sc->powered)
        mc_power_off(&sc->card);
    mc_sim_power_restore(&sc->sim);
    st = mc_power_on(&sc->card, &sc->sim);
    /* Power-on leaves what power-off left, T=1: the reader's transport. */
    mc_set_transport(&sc->card, sc->transport);
    sc->powered = true;
    sc->mute = false;
    return st;
}

void mc_simcard_power_off(mc_simcard *sc)
{
    if (sc->powered) {
        mc_power_off(&sc->card);
        sc->powered = false;
    }
}

void mc_simcard_reset(mc_simcard *sc)
{
    if (sc->powered)
        mc_reset(&sc->card);
}

void mc_simcard_set_transport(mc_simcard *sc, uint8_t transport)
{
    sc->transport = transport;
    if (sc->powered)
        mc_set_transport(&sc->card, transport);
}

size_t mc_simcard_process(mc_simcard *sc, const uint8_t *cmd, size_t len, uint8_t *rsp,
                          size_t cap)
{
    size_t n;

    if (!sc->powered)
        return 0;
    sc->apdus++;
    n = mc_process(&sc->card, cmd, len, rsp, cap);
    if (n == 0)
        sc->mute = true;    /* the power was cut during an NVM write */
    return n;
}

void mc_simcard_arm_cut(mc_simcard *sc, uint64_t nth_write, size_t k_bytes)
{
    mc_sim_arm_cut(&sc->sim, nth_write, k_bytes);
}
