/* vc_card.c: the card behind one mnap-vcard slot (see vc_card.h). */
#include "vc_card.h"
#include "vc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>


static void init_fields(vc_card *vc)
{
    memset(vc, 0, sizeof *vc);
    mc_simcard_init(&vc->sc);
    vc->die_ins = -1;
}

/* The simulated Type B card's ATQB fields (ISO/IEC 14443-3 7.9.4) and its
 * answer to ATTRIB, as a PC/SC reader puts them in the ATR (PROTOCOL.md
 * §10): application data AFI 00, CRC_B(AID) 00 00, 00 applications;
 * protocol info: bit rates 106/212/424 kbit/s both ways (B3), frames up to
 * 256 bytes and ISO/IEC 14443-4 (81), FWI 8, CID supported (81); MBLI 0 and
 * CID 0 from ATTRIB. */
static const uint8_t atqb_app_data[4] = { 0x00, 0x00, 0x00, 0x00 };
static const uint8_t atqb_proto_info[3] = { 0xB3, 0x81, 0x81 };
#define ATTRIB_MBLI_CID 0x00

size_t vc_atr(uint8_t transport, uint8_t *out, size_t cap)
{
    uint8_t t1[VC_ATR_MAX];
    size_t n, k, i;
    uint8_t tck = 0;

    switch (transport) {
    case MC_TRANSPORT_T1:
        return mc_atr(out, cap);
    case MC_TRANSPORT_T0:
        /* T=1's ATR is TS T0 TD1 historical TCK: keep TS and the historical
         * bytes; T0 without TD1 (so T=0 only) and no TCK (ISO/IEC 7816-3
         * 8.2.5: absent when only T=0 is indicated). */
        n = mc_atr(t1, sizeof t1);
        if (n < 4 || (t1[1] & 0xF0) != 0x80 || t1[2] != 0x01)
            return 0;
        k = t1[1] & 0x0F;
        if (n != 3 + k + 1 || cap < 2 + k)
            return 0;
        out[0] = t1[0];
        out[1] = (uint8_t)k;
        memcpy(out + 2, t1 + 3, k);
        return 2 + k;
    case MC_TRANSPORT_CL:
        if (cap < 13)
            return 0;
        out[0] = 0x3B;
        out[1] = 0x88;   /* TD1 follows, 8 historical bytes */
        out[2] = 0x80;   /* TD2 follows, T=0 */
        out[3] = 0x01;   /* T=1 */
        memcpy(out + 4, atqb_app_data, 4);
        memcpy(out + 8, atqb_proto_info, 3);
        out[11] = ATTRIB_MBLI_CID;
        for (i = 1; i < 12; i++)
            tck ^= out[i];
        out[12] = tck;
        return 13;
    default:
        return 0;
    }
}

int vc_card_set_transport(vc_card *vc, uint8_t transport)
{
    uint8_t atr[VC_ATR_MAX];
    size_t n = vc_atr(transport, atr, sizeof atr);

    if (n == 0)
        return -1;
    mc_simcard_set_transport(&vc->sc, transport);
    memcpy(vc->atr, atr, n);
    vc->atr_len = n;
    return 0;
}

static void compute_atr(vc_card *vc)
{
    vc->atr_len = vc_atr(vc->sc.transport, vc->atr, sizeof vc->atr);
}

int vc_card_create(vc_card *vc, const char *path, uint32_t nvm_size,
                   const uint8_t serial[MC_SERIAL_LEN], bool overwrite,
                   char *err, size_t err_cap)
{
    struct stat st;

    init_fields(vc);
    if (stat(path, &st) == 0) {
        if (!overwrite) {
            snprintf(err, err_cap, "%s: exists (use --force to overwrite it with a new card)", path);
            return -1;
        }
        /* Refuse to truncate an image another vcard is serving. */
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            int busy = flock(fd, LOCK_EX | LOCK_NB) != 0;
            close(fd);
            if (busy) {
                snprintf(err, err_cap, "%s: image in use by another process", path);
                return -1;
            }
        }
    }
    /* One process per image (the holder locks it): two virtual cards
     * writing one file would corrupt it, and the second one could not tell.
     * The card is left powered off: the reader powers it on itself. */
    mc_simcard_make mk = { serial, NULL, NULL, NULL, NULL, 0, NULL };
    mc_status st_fab = MC_OK;
    int rc = mc_simcard_create_file(&vc->sc, path, nvm_size, overwrite, &mk, &st_fab, err,
                                    err_cap);
    if (rc == MC_SIMCARD_E_CREATE) {
        snprintf(err, err_cap, "%s: cannot create an image of %u bytes (%s)", path,
                 (unsigned)nvm_size, errno != 0 ? strerror(errno) : "simulator refused");
        return -1;
    }
    if (rc == MC_SIMCARD_E_FABRICATE) {
        snprintf(err, err_cap, "%s: fabrication failed (mc_status %d)", path, (int)st_fab);
        return -1;
    }
    if (rc != 0) {
        return -1;   /* locked by another process: err says so */
    }
    compute_atr(vc);
    return 0;
}

int vc_card_open(vc_card *vc, const char *path, char *err, size_t err_cap)
{
    struct stat st;
    char why[200] = "";

    init_fields(vc);
    if (stat(path, &st) != 0) {
        snprintf(err, err_cap, "%s: %s (use --new to fabricate a blank card)", path,
                 strerror(errno));
        return -1;
    }
    int rc = mc_simcard_open_file(&vc->sc, path, why, sizeof why);
    if (rc == MC_SIMCARD_E_OPEN) {
        /* the simulator's message already names the file */
        snprintf(err, err_cap, "image refused: %s", why[0] != '\0' ? why : path);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, err_cap, "%s", why);
        return -1;
    }
    compute_atr(vc);
    /* The first power-up runs start-up recovery now, so a torn transaction is
     * settled and reported before any reader talks to the card. */
    vc_card_power_on(vc);
    vc_card_power_off(vc);
    return 0;
}

void vc_card_close(vc_card *vc)
{
    if (vc->sc.powered) {
        vc_card_power_off(vc);
    }
    mc_simcard_close(&vc->sc); /* closing the fd also drops the lock */
}

void vc_card_power_on(vc_card *vc)
{
    mc_status st = mc_simcard_power_on(&vc->sc);

    vc->corrupt = st == MC_ERR_CORRUPT;
    if (st == MC_ERR_CORRUPT) {
        vc_log(VC_WARN, "card NVM failed its checks: serving a card that answers 6581");
    } else if (st != MC_OK) {
        vc_log(VC_WARN, "power-on returned mc_status %d", (int)st);
    } else {
        vc_log(VC_INFO, "card powered on");
    }
}

void vc_card_power_off(vc_card *vc)
{
    if (vc->sc.powered) {
        mc_simcard_power_off(&vc->sc);
        vc_log(VC_INFO, "card powered off");
    }
}

void vc_card_reset(vc_card *vc)
{
    if (!vc->sc.powered) {
        vc_card_power_on(vc);
        return;
    }
    mc_simcard_reset(&vc->sc);
    vc_log(VC_INFO, "card reset");
}

vc_apdu_result vc_card_apdu(vc_card *vc, const uint8_t *cmd, size_t cmd_len,
                            uint8_t *rsp, size_t rsp_cap, size_t *rsp_len)
{
    bool armed = false;

    *rsp_len = 0;
    if (!vc->sc.powered) {
        /* pcscd always powers a card before its first APDU; a reader that
         * does not is served as if it had. */
        vc_log(VC_WARN, "APDU to an unpowered card: powering it on first");
        vc_card_power_on(vc);
    }
    if (vc->die_ins >= 0 && cmd_len >= 2 && cmd[1] == (uint8_t)vc->die_ins) {
        vc->ins_seen++;
        if (vc->ins_seen == vc->die_count) {
            if (vc->die_write == 0) {
                vc_log(VC_WARN, "--die-at: APDU %u with INS %02X arrived: exiting before it",
                       vc->ins_seen, (unsigned)vc->die_ins);
                return VC_APDU_DIE;
            }
            /* Tear the Wth NVM write of this command after one byte: the
             * image on disk is left exactly as a power cut would leave it. */
            mc_simcard_arm_cut(&vc->sc, vc->die_write, 1);
            armed = true;
        }
    }
    uint64_t writes_before = vc->sc.sim.writes;
    size_t n = mc_simcard_process(&vc->sc, cmd, cmd_len, rsp, rsp_cap);
    vc->last_writes = vc->sc.sim.writes - writes_before;
    if (armed) {
        if (n == 0 && vc->sc.sim.power_cut) {
            if (vc->cut_only) {
                vc_log(VC_WARN, "--cut-at: power cut at NVM write %u of APDU %u with INS %02X",
                       vc->die_write, vc->ins_seen, (unsigned)vc->die_ins);
                return VC_APDU_MUTE;
            }
            vc_log(VC_WARN, "--die-at: power cut at NVM write %u of APDU %u with INS %02X: exiting",
                   vc->die_write, vc->ins_seen, (unsigned)vc->die_ins);
            return VC_APDU_DIE;
        }
        mc_sim_disarm(&vc->sc.sim);
        vc_log(VC_WARN, "--%s: the command made fewer than %u NVM writes; answered normally",
               vc->cut_only ? "cut-at" : "die-at", vc->die_write);
    }
    if (n == 0) {
        return VC_APDU_MUTE;
    }
    *rsp_len = n;
    return VC_APDU_OK;
}
