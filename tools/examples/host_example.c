/* host_example.c: a kiosk flow with libmnap, the example of docs/host.md.
 *
 *   cc host_example.c $(pkg-config --cflags --libs mnap) -o host_example
 *   MNAP_PASSPHRASE=... ./host_example KEYSTORE PIN
 *
 * Opens the library example AP (tools/examples/library.json) in the first
 * reader with a card, with the master key set "library" of the key store
 * (diversified for this card by the library), verifies the PIN, reads the
 * patron ID and appends one record to the loan history.  Records are
 * written at exactly their length (48 bytes here): pad them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mnap/mnap.h>
#include <mnap/mnap_pcsc.h>

static const uint8_t LIBRARY_AID[] = { 0xD3, 0x92, 0xF0, 0x00, 0x01, 0x4C, 0x49, 0x42 };

static int fail(const char *what, mnap_err e)
{
    fprintf(stderr, "%s: %s [%s]\n", what, mnap_strerror(e), mnap_err_name(e));
    return 1;
}

int main(int argc, char **argv)
{
    const char *pass = getenv("MNAP_PASSPHRASE");
    mnap_keystore *store = NULL;
    mnap_pcsc *pcsc = NULL;
    mnap_ctx *ctx = NULL;
    mnap_keyset keys;
    mnap_transport t;
    mnap_ef_info info;
    uint8_t patron[32], record[48], tries = 0;
    size_t got = 0;
    mnap_err e;
    int rc = 1;

    if (argc != 3 || pass == NULL) {
        fprintf(stderr, "usage: MNAP_PASSPHRASE=... %s KEYSTORE PIN\n", argv[0]);
        return 2;
    }
    printf("libmnap %s\n", mnap_version());
    if ((e = mnap_keystore_load(&store, argv[1], pass, strlen(pass))) != MNAP_OK)
        return fail("key store", e);
    e = mnap_keystore_get(store, "library", &keys);
    mnap_keystore_free(store);
    if (e != MNAP_OK)
        return fail("key set 'library'", e);
    if ((e = mnap_pcsc_new(&pcsc)) != MNAP_OK || (e = mnap_pcsc_connect(pcsc, NULL)) != MNAP_OK) {
        rc = fail("card", e);
        goto out;
    }
    t = mnap_pcsc_transport(pcsc);
    if ((e = mnap_ctx_new(&ctx, &t)) != MNAP_OK) {
        rc = fail("context", e);
        goto out;
    }
    /* The session holds the card (a PC/SC transaction) until mnap_close. */
    if ((e = mnap_ap_open(ctx, LIBRARY_AID, sizeof LIBRARY_AID, &keys, MNAP_LEVEL_FULL)) != MNAP_OK) {
        rc = fail("opening the library AP", e);
        goto out;
    }
    e = mnap_ap_verify_pin(ctx, argv[2], strlen(argv[2]), &tries);
    if (e == MNAP_E_PIN_WRONG) {
        fprintf(stderr, "wrong PIN: %u tries left\n", tries);
        goto close;
    }
    if (e != MNAP_OK) {
        rc = fail("VERIFY", e);
        goto close;
    }
    if ((e = mnap_ap_read_binary(ctx, 0x0101, 0, patron, sizeof patron, &got)) != MNAP_OK) {
        rc = fail("patron ID", e);
        goto close;
    }
    while (got > 0 && (patron[got - 1] == 0x00 || patron[got - 1] == ' '))
        got--;   /* the padding */
    printf("patron ID: %.*s\n", (int)got, (const char *)patron);
    /* A record is written at exactly the EF's record length. */
    if ((e = mnap_ap_select_ef(ctx, 0x0102, &info)) != MNAP_OK || info.record_length != sizeof record) {
        rc = fail("loan history", e != MNAP_OK ? e : MNAP_E_WRONG_LENGTH);
        goto close;
    }
    memset(record, ' ', sizeof record);
    memcpy(record, "2026-12-07 BOOK-0001 due 2026-12-21", 35);
    if ((e = mnap_ap_append_record(ctx, 0x0102, record, sizeof record)) != MNAP_OK) {
        rc = fail("loan record", e);
        goto close;
    }
    printf("loan recorded\n");
    rc = 0;
close:
    e = mnap_close(ctx);
    if (e != MNAP_OK && rc == 0)
        rc = fail("closing the session", e);
out:
    mnap_keyset_wipe(&keys);
    mnap_ctx_free(ctx);
    mnap_pcsc_free(pcsc);
    return rc;
}
