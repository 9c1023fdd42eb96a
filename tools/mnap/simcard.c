/* simcard.c: the in-process card over a simulator image file (simcard.h). */
#include "simcard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc.h"
#include "mc_sim.h"
#include "cm_ct.h"

struct simcard {
    mc_sim sim;
    mc_card card;
    bool powered;
    bool mute;                 /* a power cut made the card mute */
    bool pulled;
    unsigned long apdus;
    unsigned long pull_at;     /* 0: off */
};


static unsigned long env_number(const char *name)
{
    const char *v = getenv(name);
    char *end = NULL;

    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    unsigned long n = strtoul(v, &end, 10);
    return (end != NULL && *end == '\0') ? n : 0;
}

int simcard_create(const char *path, const uint8_t serial[8], uint32_t nvm_size, char *err,
                   size_t err_cap)
{
    mc_sim sim;
    mc_card *card;
    struct stat st;

    if (stat(path, &st) == 0) {
        snprintf(err, err_cap, "%s: exists; a new card needs a new file", path);
        return -1;
    }
    memset(&sim, 0, sizeof sim);
    sim.fd = -1;
    if (mc_sim_create_file(&sim, path, nvm_size != 0 ? nvm_size : MC_SIM_DEFAULT_NVM_SIZE, false) != 0) {
        snprintf(err, err_cap, "%s: cannot create the image: %s", path,
                 errno != 0 ? strerror(errno) : "simulator refused");
        return -1;
    }
    if (mc_sim_lock(&sim, path, err, err_cap) != 0) {
        /* Another process locked it: not ours alone to remove. */
        mc_sim_close(&sim);
        return -1;
    }
    /* mc_card is large: keep it off the stack. */
    card = calloc(1, sizeof *card);
    if (card == NULL) {
        mc_sim_close(&sim);
        unlink(path);
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    mc_status rc = mc_fabricate(card, &sim, serial, mc_sim_test_family, mc_sim_test_key,
                                mc_sim_test_key, mc_sim_test_key, sizeof mc_sim_test_key);
    if (rc == MC_OK) {
        mc_power_off(card);
    }
    free(card);
    mc_sim_close(&sim);
    if (rc != MC_OK) {
        unlink(path); /* no half-made card image stays behind */
        snprintf(err, err_cap, "%s: fabrication failed (mc_status %d)", path, (int)rc);
        return -1;
    }
    return 0;
}

int simcard_open(simcard **out, const char *path, char *err, size_t err_cap)
{
    char why[200] = "";
    simcard *s = calloc(1, sizeof *s);

    *out = NULL;
    if (s == NULL) {
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    s->sim.fd = -1;
    if (mc_sim_open_file(&s->sim, path, why, sizeof why) != 0) {
        snprintf(err, err_cap, "%s: not a usable card image: %s", path,
                 why[0] != '\0' ? why : strerror(errno));
        free(s);
        return -1;
    }
    if (mc_sim_lock(&s->sim, path, err, err_cap) != 0) {
        mc_sim_close(&s->sim);
        free(s);
        return -1;
    }
    s->pull_at = env_number("MNAP_SIMCARD_PULL_AT");
    /* A corrupt image still powers on: the card itself answers 6581. */
    (void)mc_power_on(&s->card, &s->sim);
    s->powered = true;
    unsigned long cut = env_number("MNAP_SIMCARD_CUT_AT");
    if (cut != 0) {
        mc_sim_arm_cut(&s->sim, cut, 1);
    }
    *out = s;
    return 0;
}

void simcard_close(simcard *s)
{
    if (s == NULL) {
        return;
    }
    if (s->powered) {
        mc_power_off(&s->card);
    }
    mc_sim_close(&s->sim);
    free(s);
}

static mnap_err sc_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                            size_t rsp_cap, size_t *rsp_len)
{
    simcard *s = self;
    uint8_t buf[MC_RSP_BUF_SIZE];

    *rsp_len = 0;
    s->apdus++;
    if (s->pull_at != 0 && s->apdus >= s->pull_at) {
        s->pulled = true;
    }
    if (s->pulled || s->mute) {
        return MNAP_E_CARD_REMOVED;
    }
    size_t n = mc_process(&s->card, cmd, cmd_len, buf, sizeof buf);
    if (n == 0) {
        /* An NVM write failed: the card lost power in the middle of it. */
        s->mute = true;
        return MNAP_E_CARD_REMOVED;
    }
    if (n > rsp_cap) {
        cm_wipe(buf, n);
        return MNAP_E_BUFFER;
    }
    memcpy(rsp, buf, n);
    *rsp_len = n;
    /* A response may be PIN-rule file data: no copy stays on the stack. */
    cm_wipe(buf, n);
    return MNAP_OK;
}

static mnap_err sc_reconnect(void *self)
{
    simcard *s = self;

    if (s->pulled || s->mute) {
        return MNAP_E_CARD_REMOVED;
    }
    mc_reset(&s->card);
    return MNAP_OK;
}

static mnap_err sc_atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    simcard *s = self;

    if (s->pulled || s->mute) {
        return MNAP_E_CARD_REMOVED;
    }
    *len = mc_atr(out, cap);
    return *len != 0 ? MNAP_OK : MNAP_E_BUFFER;
}

mnap_transport simcard_transport(simcard *s)
{
    mnap_transport t = { s, sc_transmit, sc_reconnect, sc_atr, NULL, NULL, NULL };
    return t;
}
