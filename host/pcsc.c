/* pcsc.c: the PC/SC transport (pcsc-lite's winscard API): reader listing,
 * waiting for a card, connecting T=1 or T=0, transmitting, and naming the
 * reset / removal / no-service conditions so callers can react. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

#include "mnap_int.h"
#include "mnap/mnap_pcsc.h"

#ifndef SCARD_E_NO_READERS_AVAILABLE
#define SCARD_E_NO_READERS_AVAILABLE ((LONG)0x8010002E)
#endif

struct mnap_pcsc {
    SCARDCONTEXT sc;
    SCARDHANDLE card;
    bool connected;
    DWORD proto;                 /* SCARD_PROTOCOL_T0 / T1 */
    DWORD share;                 /* SCARD_SHARE_SHARED or _EXCLUSIVE */
    bool in_tx;                  /* inside SCardBeginTransaction */
    char reader[256];
};

static mnap_err map_pcsc(LONG r)
{
    switch (r) {
    case SCARD_S_SUCCESS: return MNAP_OK;
    case SCARD_W_RESET_CARD: return MNAP_E_CARD_RESET;
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_W_UNRESPONSIVE_CARD: return MNAP_E_CARD_REMOVED;
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED: return MNAP_E_NO_SERVICE;
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_READER_UNAVAILABLE: return MNAP_E_NO_READER;
    case SCARD_E_TIMEOUT: return MNAP_E_TIMEOUT;
    case SCARD_E_INSUFFICIENT_BUFFER: return MNAP_E_BUFFER;
    case SCARD_E_NO_MEMORY: return MNAP_E_NOMEM;
    case SCARD_E_INVALID_HANDLE: return MNAP_E_NOT_CONNECTED;
    case SCARD_E_SHARING_VIOLATION: return MNAP_E_CARD_BUSY;
    default: return MNAP_E_TRANSPORT;
    }
}

mnap_err mnap_pcsc_new(mnap_pcsc **out)
{
    mnap_pcsc *p;
    LONG r;

    if (out == NULL)
        return MNAP_E_PARAM;
    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return MNAP_E_NOMEM;
    p->share = SCARD_SHARE_SHARED;
    r = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->sc);
    if (r != SCARD_S_SUCCESS) {
        free(p);
        return map_pcsc(r);
    }
    *out = p;
    return MNAP_OK;
}

void mnap_pcsc_disconnect(mnap_pcsc *p)
{
    if (p != NULL && p->connected) {
        if (p->in_tx)
            (void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
        p->in_tx = false;
        (void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
        p->connected = false;
    }
}

void mnap_pcsc_free(mnap_pcsc *p)
{
    if (p == NULL)
        return;
    mnap_pcsc_disconnect(p);
    (void)SCardReleaseContext(p->sc);
    free(p);
}

/* The multi-string of reader names (malloc'ed) or NULL with *err. */
static char *reader_list(mnap_pcsc *p, mnap_err *err)
{
    DWORD len = 0;
    char *buf;
    LONG r;

    r = SCardListReaders(p->sc, NULL, NULL, &len);
    if (r == SCARD_E_NO_READERS_AVAILABLE) {
        *err = MNAP_OK;
        return NULL;
    }
    if (r != SCARD_S_SUCCESS) {
        *err = map_pcsc(r);
        return NULL;
    }
    buf = calloc(1, len + 1);
    if (buf == NULL) {
        *err = MNAP_E_NOMEM;
        return NULL;
    }
    r = SCardListReaders(p->sc, NULL, buf, &len);
    if (r != SCARD_S_SUCCESS) {
        free(buf);
        *err = r == SCARD_E_NO_READERS_AVAILABLE ? MNAP_OK : map_pcsc(r);
        return NULL;
    }
    *err = MNAP_OK;
    return buf;
}

mnap_err mnap_pcsc_list_readers(mnap_pcsc *p, void (*fn)(void *user, const char *reader),
                                void *user, size_t *count)
{
    mnap_err rc;
    char *list, *s;
    size_t n = 0;

    if (p == NULL)
        return MNAP_E_PARAM;
    list = reader_list(p, &rc);
    if (list != NULL) {
        for (s = list; *s != '\0'; s += strlen(s) + 1) {
            if (fn != NULL)
                fn(user, s);
            n++;
        }
        free(list);
    }
    if (count != NULL)
        *count = n;
    return rc;
}

/* Every reader with its state (one SCardGetStatusChange with timeout 0):
 * *states (malloc'ed; szReader points into *list, also malloc'ed) and *n.
 * No reader at all is MNAP_E_NO_READER. */
static mnap_err reader_states(mnap_pcsc *p, char **list, SCARD_READERSTATE **states, size_t *n)
{
    mnap_err rc;
    size_t i = 0;
    char *s;
    LONG r;

    *states = NULL;
    *list = reader_list(p, &rc);
    if (*list == NULL)
        return rc != MNAP_OK ? rc : MNAP_E_NO_READER;
    for (s = *list; *s != '\0'; s += strlen(s) + 1)
        i++;
    *n = i;
    *states = i ? calloc(i, sizeof(**states)) : NULL;
    if (*states == NULL) {
        free(*list);
        *list = NULL;
        return i ? MNAP_E_NOMEM : MNAP_E_NO_READER;
    }
    for (i = 0, s = *list; *s != '\0'; s += strlen(s) + 1, i++) {
        (*states)[i].szReader = s;
        (*states)[i].dwCurrentState = SCARD_STATE_UNAWARE;
    }
    r = SCardGetStatusChange(p->sc, 0, *states, (DWORD)*n);
    if (r != SCARD_S_SUCCESS && r != SCARD_E_TIMEOUT) {
        free(*states);
        free(*list);
        *states = NULL;
        *list = NULL;
        return map_pcsc(r);
    }
    return MNAP_OK;
}

/* The first of the n states with a card present, or n. */
static size_t first_with_card(const SCARD_READERSTATE *st, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (st[i].dwEventState & SCARD_STATE_PRESENT)
            return i;
    return n;
}

/* The reader to use: name, else the first reader with a card, else (so that
 * connecting says "no card") the first reader. */
static mnap_err pick_reader(mnap_pcsc *p, const char *name, char *out, size_t cap)
{
    SCARD_READERSTATE *st;
    mnap_err rc;
    size_t n, i;
    char *list;

    if (name == NULL) {
        rc = reader_states(p, &list, &st, &n);
        if (rc != MNAP_OK)
            return rc;
        i = first_with_card(st, n);
        name = st[i < n ? i : 0].szReader;
        rc = strlen(name) < cap ? MNAP_OK : MNAP_E_NO_READER;
        if (rc == MNAP_OK)
            strcpy(out, name);
        free(st);
        free(list);
        return rc;
    }
    if (strlen(name) >= cap)
        return MNAP_E_PARAM;
    strcpy(out, name);
    return MNAP_OK;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

mnap_err mnap_pcsc_wait_card(mnap_pcsc *p, const char *reader, unsigned timeout_ms)
{
    SCARD_READERSTATE one, *st;
    uint64_t deadline;
    char *list = NULL;
    mnap_err rc;
    size_t n, i;
    LONG r;

    if (p == NULL)
        return MNAP_E_PARAM;
    if (reader != NULL) {
        /* One reader: the same wait over a state array of one. */
        memset(&one, 0, sizeof(one));
        one.szReader = reader;
        one.dwCurrentState = SCARD_STATE_UNAWARE;
        r = SCardGetStatusChange(p->sc, 0, &one, 1);
        if (r != SCARD_S_SUCCESS && r != SCARD_E_TIMEOUT)
            return map_pcsc(r);
        st = &one;
        n = 1;
    } else {
        rc = reader_states(p, &list, &st, &n);
        if (rc != MNAP_OK)
            return rc;
    }
    deadline = now_ms() + timeout_ms;
    for (;;) {
        uint64_t t = now_ms();

        if (reader != NULL && (st[0].dwEventState & SCARD_STATE_UNKNOWN)) {
            rc = MNAP_E_NO_READER;
            break;
        }
        if (first_with_card(st, n) < n) {
            rc = MNAP_OK;
            break;
        }
        if (t >= deadline) {
            rc = MNAP_E_TIMEOUT;
            break;
        }
        /* Wait for the next change of a reader; other changes (a card that
         * is mute, an exclusive user leaving) just wait again. */
        for (i = 0; i < n; i++)
            st[i].dwCurrentState = st[i].dwEventState;
        r = SCardGetStatusChange(p->sc, (DWORD)(deadline - t), st, (DWORD)n);
        if (r == SCARD_E_TIMEOUT) {
            rc = MNAP_E_TIMEOUT;
            break;
        }
        if (r != SCARD_S_SUCCESS) {
            rc = map_pcsc(r);
            break;
        }
    }
    if (st != &one)
        free(st);
    free(list);
    return rc;
}

mnap_err mnap_pcsc_connect(mnap_pcsc *p, const char *reader)
{
    char name[256];
    mnap_err rc;
    LONG r;

    if (p == NULL)
        return MNAP_E_PARAM;
    mnap_pcsc_disconnect(p);
    rc = pick_reader(p, reader, name, sizeof(name));
    if (rc != MNAP_OK)
        return rc;
    r = SCardConnect(p->sc, name, p->share, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
                     &p->card, &p->proto);
    if (r == SCARD_E_NO_SMARTCARD || r == SCARD_W_REMOVED_CARD)
        return MNAP_E_NO_CARD;   /* nothing to connect to (not a lost card) */
    if (r != SCARD_S_SUCCESS)
        return map_pcsc(r);
    p->connected = true;
    strcpy(p->reader, name);
    return MNAP_OK;
}

mnap_err mnap_pcsc_reconnect(mnap_pcsc *p)
{
    LONG r;

    if (p == NULL)
        return MNAP_E_PARAM;
    if (!p->connected)
        return MNAP_E_NOT_CONNECTED;
    if (p->in_tx)
        (void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
    p->in_tx = false;
    r = SCardReconnect(p->card, p->share, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
                       SCARD_RESET_CARD, &p->proto);
    if (r == SCARD_W_REMOVED_CARD || r == SCARD_E_NO_SMARTCARD || r == SCARD_E_INVALID_HANDLE) {
        /* The card came back after a removal: a fresh connection. */
        p->connected = false;
        return mnap_pcsc_connect(p, p->reader);
    }
    return map_pcsc(r);
}

mnap_err mnap_pcsc_set_exclusive(mnap_pcsc *p, int exclusive)
{
    if (p == NULL)
        return MNAP_E_PARAM;
    p->share = exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
    return MNAP_OK;
}

int mnap_pcsc_protocol(const mnap_pcsc *p)
{
    if (p == NULL || !p->connected)
        return -1;
    return p->proto == SCARD_PROTOCOL_T1 ? 1 : 0;
}

const char *mnap_pcsc_reader(const mnap_pcsc *p)
{
    return (p != NULL && p->connected) ? p->reader : NULL;
}

/* Why a command got no proper answer.  A card never answers with less than a
 * status word, and pcsc-lite answers SCARD_E_NOT_TRANSACTED when the reader
 * lost the card in the middle of a command (pulled, or a vpcd card that went
 * away, which vpcd reports to pcscd as an empty response).  pcscd notices the
 * removal at its next poll of the reader, so ask the reader state for a short
 * while: a card that left is MNAP_E_CARD_REMOVED, one still in the reader
 * stopped answering (MNAP_E_CARD_MUTE, passed as fallback). */
#define CARD_GONE_WAIT_MS 1500
#define CARD_GONE_POLL_MS 50

static mnap_err card_gone_or(mnap_pcsc *p, mnap_err fallback)
{
    unsigned waited;

    for (waited = 0; waited <= CARD_GONE_WAIT_MS; waited += CARD_GONE_POLL_MS) {
        DWORD state = 0, proto = 0, rlen = 0, alen = MAX_ATR_SIZE;
        BYTE atr[MAX_ATR_SIZE];
        LONG r = SCardStatus(p->card, NULL, &rlen, &state, &proto, atr, &alen);
        struct timespec ts = { 0, CARD_GONE_POLL_MS * 1000000L };

        if (r != SCARD_S_SUCCESS)
            return map_pcsc(r) == MNAP_E_TRANSPORT ? fallback : map_pcsc(r);
        if (!(state & SCARD_PRESENT))
            return MNAP_E_CARD_REMOVED;
        nanosleep(&ts, NULL);
    }
    return fallback;
}

static mnap_err pcsc_transmit(void *self, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
                              size_t rsp_cap, size_t *rsp_len)
{
    mnap_pcsc *p = self;
    const SCARD_IO_REQUEST *pci;
    DWORD rl;
    size_t len = cmd_len;
    LONG r;

    if (p == NULL || cmd == NULL || rsp == NULL || rsp_len == NULL)
        return MNAP_E_PARAM;
    if (!p->connected)
        return MNAP_E_NOT_CONNECTED;
    if (p->proto == SCARD_PROTOCOL_T0) {
        len = mnap__apdu_t0_len(cmd, cmd_len);
        if (len == 0)
            return MNAP_E_PARAM;
        pci = SCARD_PCI_T0;
    } else {
        pci = SCARD_PCI_T1;
    }
    rl = (DWORD)(rsp_cap > 0xFFFFFFFFu ? 0xFFFFFFFFu : rsp_cap);
    r = SCardTransmit(p->card, pci, cmd, (DWORD)len, NULL, rsp, &rl);
    if (r == SCARD_E_NOT_TRANSACTED)
        return card_gone_or(p, MNAP_E_CARD_MUTE);
    if (r != SCARD_S_SUCCESS)
        return map_pcsc(r);
    if (rl < 2)
        return card_gone_or(p, MNAP_E_CARD_MUTE);
    *rsp_len = rl;
    return MNAP_OK;
}

/* Another program's transaction makes pcsc-lite's SCardBeginTransaction
 * wait (it polls); SCARD_W_RESET_CARD says the card was reset since this
 * handle last used it, and the handle stays connected to the reset card. */
static mnap_err pcsc_begin(void *self)
{
    mnap_pcsc *p = self;
    LONG r;

    if (p == NULL)
        return MNAP_E_PARAM;
    if (!p->connected)
        return MNAP_E_NOT_CONNECTED;
    if (p->in_tx)
        return MNAP_OK;
    r = SCardBeginTransaction(p->card);
    if (r != SCARD_S_SUCCESS)
        return map_pcsc(r);
    p->in_tx = true;
    return MNAP_OK;
}

static void pcsc_end(void *self)
{
    mnap_pcsc *p = self;

    if (p != NULL && p->connected && p->in_tx)
        (void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
    if (p != NULL)
        p->in_tx = false;
}

static mnap_err pcsc_reconnect(void *self)
{
    return mnap_pcsc_reconnect(self);
}

static mnap_err pcsc_atr(void *self, uint8_t *out, size_t cap, size_t *len)
{
    mnap_pcsc *p = self;
    DWORD state, proto, rlen = 0, alen = MAX_ATR_SIZE;
    BYTE atr[MAX_ATR_SIZE];
    LONG r;

    if (p == NULL || out == NULL || len == NULL)
        return MNAP_E_PARAM;
    if (!p->connected)
        return MNAP_E_NOT_CONNECTED;
    r = SCardStatus(p->card, NULL, &rlen, &state, &proto, atr, &alen);
    if (r != SCARD_S_SUCCESS)
        return map_pcsc(r);
    if (alen > cap)
        return MNAP_E_BUFFER;
    memcpy(out, atr, alen);
    *len = alen;
    return MNAP_OK;
}

static int pcsc_protocol(void *self)
{
    mnap_pcsc *p = self;

    return p != NULL && p->connected && p->proto == SCARD_PROTOCOL_T0 ? MNAP_PROTO_T0
                                                                       : MNAP_PROTO_T1;
}

mnap_transport mnap_pcsc_transport(mnap_pcsc *p)
{
    mnap_transport t;

    memset(&t, 0, sizeof(t));
    t.self = p;
    t.transmit = pcsc_transmit;
    t.reconnect = pcsc_reconnect;
    t.atr = pcsc_atr;
    t.protocol = pcsc_protocol;
    t.begin = pcsc_begin;
    t.end = pcsc_end;
    return t;
}
