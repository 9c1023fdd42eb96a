/* conn.c: the card connection of a command: PC/SC or the image card. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader_list {
    char names[16][CONN_READER_MAX];
    size_t n;
} reader_list;

static void collect(void *user, const char *name)
{
    reader_list *l = user;

    if (l->n < 16) {
        (void)snprintf(l->names[l->n], CONN_READER_MAX, "%s", name);
        l->n++;
    }
}

static int is_index(const char *s)
{
    if (s[0] == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static int open_image(const cli *c, cli_conn *k)
{
    char err[300];

    if (simcard_open(&k->sim, c->card_image, err, sizeof err) != 0) {
        cli_error("%s", err);
        k->err = MNAP_E_TRANSPORT; /* missing, damaged or busy image */
        return EX_NOCARD;
    }
    k->tr = simcard_transport(k->sim);
    (void)snprintf(k->reader, sizeof k->reader, "card image %s", c->card_image);
    return EX_OK;
}

static int open_pcsc(const cli *c, cli_conn *k)
{
    reader_list *l;
    size_t count = 0;
    const char *name = NULL;
    mnap_err e = mnap_pcsc_new(&k->pcsc);

    if (e != MNAP_OK) {
        k->err = e;
        return cli_fail(NULL, e, "PC/SC");
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        cli_error("out of memory");
        return EX_LOCAL;
    }
    e = mnap_pcsc_list_readers(k->pcsc, collect, l, &count);
    if (e != MNAP_OK) {
        free(l);
        k->err = e;
        return cli_fail(NULL, e, "listing readers");
    }
    if (count == 0) {
        free(l);
        cli_error("no smart card reader found");
        k->err = MNAP_E_NO_READER;
        return EX_NOCARD;
    }
    if (c->reader != NULL && is_index(c->reader)) {
        unsigned long i = strtoul(c->reader, NULL, 10);
        if (i >= l->n) {
            free(l);
            cli_error("no reader number %s (%zu reader%s: see 'mnap readers')", c->reader, count,
                      count == 1 ? "" : "s");
            k->err = MNAP_E_NO_READER;
            return EX_NOCARD;
        }
        name = l->names[i];
    } else if (c->reader != NULL) {
        for (size_t i = 0; i < l->n; i++) {
            if (strcmp(l->names[i], c->reader) == 0) {
                name = l->names[i];
            }
        }
        if (name == NULL) {
            free(l);
            cli_error("no reader named '%s' (see 'mnap readers')", c->reader);
            k->err = MNAP_E_NO_READER;
            return EX_NOCARD;
        }
    }
    e = mnap_pcsc_connect(k->pcsc, name);
    free(l);
    if (e != MNAP_OK) {
        k->err = e;
        return cli_fail(NULL, e, c->reader != NULL ? c->reader : "first reader with a card");
    }
    const char *r = mnap_pcsc_reader(k->pcsc);
    (void)snprintf(k->reader, sizeof k->reader, "%s", r != NULL ? r : "?");
    k->tr = mnap_pcsc_transport(k->pcsc);
    return EX_OK;
}

int conn_open(const cli *c, cli_conn *k)
{
    int rc;

    memset(k, 0, sizeof *k);
    rc = c->card_image != NULL ? open_image(c, k) : open_pcsc(c, k);
    if (rc != EX_OK) {
        mnap_err why = k->err;
        conn_close(k);
        k->err = why;
        return rc;
    }
    mnap_err e = mnap_ctx_new(&k->ctx, &k->tr);
    if (e != MNAP_OK) {
        conn_close(k);
        k->err = e;
        return cli_fail(NULL, e, "library context");
    }
    return EX_OK;
}

void conn_close(cli_conn *k)
{
    if (k->ctx != NULL) {
        mnap_ctx_free(k->ctx); /* ends the session, wiping its keys */
        k->ctx = NULL;
    }
    if (k->pcsc != NULL) {
        mnap_pcsc_free(k->pcsc);
        k->pcsc = NULL;
    }
    if (k->sim != NULL) {
        simcard_close(k->sim);
        k->sim = NULL;
    }
}

mnap_err conn_atr(cli_conn *k, uint8_t *out, size_t cap, size_t *len)
{
    if (k->tr.atr == NULL) {
        return MNAP_E_STATE;
    }
    return k->tr.atr(k->tr.self, out, cap, len);
}
