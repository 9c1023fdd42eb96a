/* simcard.c: the in-process card over a simulator image file (simcard.h),
 * through the in-process transport's public header only. */
#include "simcard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mnap_inproc.h"

struct simcard {
    mnap_inproc *ip;
    mnap_transport inner;
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
    struct stat st;

    if (stat(path, &st) == 0) {
        snprintf(err, err_cap, "%s: exists; a new card needs a new file", path);
        return -1;
    }
    return mnap_inproc_create_image(path, serial, nvm_size, err, err_cap) == MNAP_OK ? 0 : -1;
}

int simcard_open(simcard **out, const char *path, char *err, size_t err_cap)
{
    simcard *s = calloc(1, sizeof *s);

    *out = NULL;
    if (s == NULL) {
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    if (mnap_inproc_open_image(&s->ip, path, err, err_cap) != MNAP_OK) {
        free(s);
        return -1;
    }
    s->inner = mnap_inproc_transport(s->ip);
    s->pull_at = env_number("MNAP_SIMCARD_PULL_AT");
    unsigned long cut = env_number("MNAP_SIMCARD_CUT_AT");
    if (cut != 0) {
        mnap_inproc_arm_power_cut(s->ip, cut, 1);
    }
    *out = s;
    return 0;
}

void simcard_close(simcard *s)
{
    if (s == NULL) {
        return;
    }
    mnap_inproc_free(s->ip);
    free(s);
}

static mnap_err sc_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                            size_t rsp_cap, size_t *rsp_len)
{
    simcard *s = self;

    *rsp_len = 0;
    s->apdus++;
    if (s->pull_at != 0 && s->apdus >= s->pull_at) {
        s->pulled = true;
    }
    if (s->pulled) {
        return MNAP_E_CARD_REMOVED;
    }
    /* A card gone mute in a power cut gives MNAP_E_CARD_REMOVED. */
    return s->inner.transmit(s->inner.self, cmd, cmd_len, rsp, rsp_cap, rsp_len);
}

static mnap_err sc_reconnect(void *self)
{
    simcard *s = self;

    if (s->pulled) {
        return MNAP_E_CARD_REMOVED;
    }
    return s->inner.reconnect(s->inner.self);
}

static mnap_err sc_atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    simcard *s = self;

    if (s->pulled || !mnap_inproc_present(s->ip)) {
        return MNAP_E_CARD_REMOVED;
    }
    return s->inner.atr(s->inner.self, out, cap, len);
}

mnap_transport simcard_transport(simcard *s)
{
    mnap_transport t = { s, sc_transmit, sc_reconnect, sc_atr, NULL, NULL, NULL };
    return t;
}
