/* ct_common.c: the constant-time check of common/ (make ctcheck).
 *
 * ctgrind method: the compared secret values are marked undefined with
 * VALGRIND_MAKE_MEM_UNDEFINED; valgrind memcheck then reports every branch
 * and every memory index that depends on them.  Only the compared values are
 * marked, never the keys: OpenSSL's AES is outside this check.  The one
 * accept/reject decision is declassified inside the code (CM_CT_DECLASSIFY).
 *
 * Built with -DCM_CTGRIND, run under valgrind --error-exitcode.  With the
 * argument "leaky" it runs a deliberately leaky comparison instead, which
 * memcheck must report: proof that the check can fail. */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "cm_ct.h"
#include "cm_err.h"
#include "cm_scp03.h"
#include "test_aes.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void expect(int cond, const char *what)
{
    if (!cond) {
        printf("ct_common: FAILED %s\n", what);
        failures++;
    }
}

/* An early-exit comparison: exactly what the check must catch. */
static int leaky_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static void check_ct_equal(void)
{
    uint8_t a[16], b[16];
    int r;

    memset(a, 0x33, sizeof a);
    memcpy(b, a, sizeof b);
    SECRET(a, sizeof a);
    SECRET(b, sizeof b);
    r = cm_ct_equal(a, b, sizeof a);
    PUBLIC(&r, sizeof r);
    expect(r == 1, "cm_ct_equal equal");
    b[5] ^= 1;   /* stays undefined */
    r = cm_ct_equal(a, b, sizeof a);
    PUBLIC(&r, sizeof r);
    expect(r == 0, "cm_ct_equal differ");
}

static void setup(cm_scp03 *host, cm_scp03 *card, uint8_t level, uint8_t hc[8], uint8_t cc[8],
                  uint8_t ea[16])
{
    static const uint8_t k[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                   0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F };
    cm_aes aes = test_aes();
    uint8_t hcrypt[8];

    memset(hc, 0x11, 8);
    memset(cc, 0x22, 8);
    cm_scp03_init(host, &aes, k, k, 16, hc, cc);
    cm_scp03_init(card, &aes, k, k, 16, hc, cc);
    cm_scp03_cryptogram(host, CM_DC_HOST_CRYPTOGRAM, hc, cc, hcrypt);
    cm_scp03_external_auth(host, level, hcrypt, ea);
}

static void check_cryptogram_and_macs(void)
{
    cm_scp03 host, card;
    uint8_t hc[8], cc[8], ea[16], hdr[4] = { 0x84, 0x82, 0x33, 0x00 };
    uint8_t rx[8], apdu[] = { 0x80, 0xCA, 0xDF, 0x20, 0x02, 0x01, 0x02, 0x00 };
    uint8_t wr[64], data[64], rsp[64];
    size_t wl, pl, rl;
    int rc;

    setup(&host, &card, 0x33, hc, cc, ea);

    /* cryptogram verification: the received host cryptogram is secret */
    memcpy(rx, ea, 8);
    SECRET(rx, 8);
    rc = cm_scp03_check_cryptogram(&card, CM_DC_HOST_CRYPTOGRAM, hc, cc, rx);
    expect(rc == CM_OK, "host cryptogram accepted");
    rx[0] ^= 0x80;
    rc = cm_scp03_check_cryptogram(&card, CM_DC_HOST_CRYPTOGRAM, hc, cc, rx);
    expect(rc == CM_E_MAC, "wrong host cryptogram refused");

    /* EXTERNAL AUTHENTICATE C-MAC: the received MAC is secret */
    memcpy(data, ea, 16);
    SECRET(data + 8, 8);
    rc = cm_scp03_verify_external_auth(&card, hdr, data, 0);
    expect(rc == CM_OK, "EXTERNAL AUTHENTICATE C-MAC accepted");

    /* C-MAC of a wrapped command */
    cm_scp03_wrap_command(&host, apdu, sizeof apdu, wr, sizeof wr, &wl);
    memcpy(data, wr + 5, wr[4]);
    SECRET(data + wr[4] - 8, 8);
    rc = cm_scp03_unwrap_command(&card, wr, data, wr[4], 0, &pl);
    expect(rc == CM_OK, "C-MAC accepted");

    /* R-MAC on the host side */
    memset(rsp, 0x5A, 10);
    cm_scp03_wrap_response(&card, rsp, 10, sizeof rsp, 0x9000, &rl);
    SECRET(rsp + rl - 8, 8);
    rc = cm_scp03_unwrap_response(&host, rsp, rl, 0x9000, &pl);
    expect(rc == CM_OK, "R-MAC accepted");

    /* a bad C-MAC, still secret */
    cm_scp03_wrap_command(&host, apdu, sizeof apdu, wr, sizeof wr, &wl);
    memcpy(data, wr + 5, wr[4]);
    data[wr[4] - 1] ^= 1;
    SECRET(data + wr[4] - 8, 8);
    rc = cm_scp03_unwrap_command(&card, wr, data, wr[4], 0, &pl);
    expect(rc == CM_E_MAC, "bad C-MAC refused");
    cm_scp03_close(&host);
    cm_scp03_close(&card);
}

static void check_kcv(void)
{
    cm_aes aes = test_aes();
    uint8_t key[16], kcv[3];
    int rc;

    memset(key, 0x7E, sizeof key);
    cm_kcv(&aes, key, sizeof key, kcv);
    SECRET(kcv, 3);
    rc = cm_kcv_check(&aes, key, sizeof key, kcv);
    expect(rc == CM_OK, "KCV accepted");
    kcv[1] ^= 4;
    rc = cm_kcv_check(&aes, key, sizeof key, kcv);
    expect(rc == CM_E_KCV, "wrong KCV refused");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leaky") == 0) {
        uint8_t a[16], b[16];
        int r;
        memset(a, 1, sizeof a);
        memset(b, 1, sizeof b);
        SECRET(a, sizeof a);
        r = leaky_equal(a, b, sizeof a);
        PUBLIC(&r, sizeof r);
        printf("ct_common: leaky comparison ran (memcheck must have reported it)\n");
        return 0;
    }
    check_ct_equal();
    check_cryptogram_and_macs();
    check_kcv();
    printf("ct_common: %s\n", failures ? "functional failures" : "all comparisons ran");
    return failures ? 1 : 0;
}
