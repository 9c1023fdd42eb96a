/* mc_apdu.c: the APDU entry point.  Frames the command (cases 1-4, short and
 * extended), applies the class and secure-messaging rules of PROTOCOL.md §2,
 * §3 and §9 in their order of precedence, hands the command to its handler,
 * protects the response and answers 61xx / GET RESPONSE when it does not fit
 * Ne (§3, §10).  The command data is unwrapped in card->buf and the response
 * is built there too: one buffer for everything. */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_scp03.h"
#include "cm_apdu.h"
#include "cm_sw.h"

/* The channel's challenges and Key-DEK sit together (one wipe). */
_Static_assert(offsetof(mc_card, card_chal) == offsetof(mc_card, host_chal) + 8 &&
                   offsetof(mc_card, chan_dek) == offsetof(mc_card, card_chal) + 8,
               "host_chal, card_chal, chan_dek not consecutive");

void mc_chan_close(mc_card *card)
{
    cm_scp03_close(&card->scp);
    cm_wipe(card->host_chal, 8 + 8 + sizeof(card->chan_dek));
    card->chan = MC_CH_NONE;
    card->chan_sel = MC_SEL_NONE;
    card->pin_ok = false;
}

/* Class byte (§2, §9): 6E00 › 6881; 6884 (chaining) is the table's. */
static mc_sw check_class(uint8_t cla)
{
    /* Further interindustry (channels 4-19), and the GlobalPlatform
     * proprietary classes C0-CF and E0-EF, which carry channel bits too. */
    if ((cla & 0xC0) == 0x40 || (cla & 0xD0) == 0xC0)
        return MC_SW_LOGICAL_CHANNEL;
    if ((cla & 0x60) != 0 || (cla & 0x08) != 0)
        return MC_SW_CLA_NOT_SUPPORTED;       /* RFU classes, ISO SM forms 08/0C */
    if (cla & 0x03)
        return MC_SW_LOGICAL_CHANNEL;
    return MC_SW_OK;
}

/* The command table: every instruction the card knows, and everything the
 * dispatch path needs to know about it.  PROTOCOL.md §9's order reads off
 * its columns, in the order mc_process applies them:
 *   class      6E00 › 6881 › 6884: `pol` MC_SM_GP says which class family
 *              (80/84, else 00/04) knows the instruction (§2); MC_SM_CHAIN
 *              is the one instruction that may chain (LOAD AP);
 *   SM         6882 › 6982 › 6988: `pol` (see MC_SM_*), applied by
 *              secure_messaging() before the instruction is interpreted;
 *   6D00       no row for (class family, INS);
 *   6A86 6700  `pre`, the preconditions that dispatch() checks: P1 and P2
 *              (6A86), then Lc (6700); a row whose rules for them depend
 *              on each other, or that has an order of its own, has none
 *              and its handler checks both, first;
 *   the rest   `run`, the handler: it calls mc_gate() with `gate` (6581 ›
 *              6985 › 6986 › 6982 › 6A81), adding only what depends on
 *              P1/P2 or Lc, then its own checks; or dispatch() calls it
 *              first (`pre` PRE_GATE) for a handler that needs none of the
 *              records mc_gate reads (DELETE, RESET RETRY COUNTER).
 * GET RESPONSE has a row for its class and policy; it is answered before
 * secure messaging and has no handler. */
#define MC_SM_GP       0x01  /* CLA 80/84 (GlobalPlatform class), else 00/04 */
#define MC_SM_OWN_MAC  0x02  /* checks its own MAC (EXTERNAL AUTHENTICATE): must come
                              * with CLA 84, handed over unverified, keeps a
                              * pending initiation */
#define MC_SM_CHAIN    0x04  /* may chain: blocks staged in NVM, keeps the load */
#define MC_SM_OPENS    0x08  /* opens a channel (INITIALIZE UPDATE): ends any
                              * channel whatever its outcome, SM not supported */
#define MC_SM_KEEPS    0x10  /* plain by AID (P1 04) does not end the channel:
                              * every other plain command does (SELECT, §2) */
#define MC_SM_LISTS    0x20  /* P1 40 P2 03 continues a listing (GET STATUS, §4) */
#define MC_SM_RESPONSE 0x40  /* GET RESPONSE (§3, §10) */

/* Preconditions (`pre`): P1 00; P2 00 or 81; then the Lc rule: data that
 * fits (any length the card takes, none included), none, or some. */
#define PRE_P1_00   0x01
#define PRE_P2_00   0x02
#define PRE_P2_81   0x04
#define PRE_GATE    0x08    /* then mc_gate with `gate`, its records not kept */
#define PRE_LC_FITS 0x10
#define PRE_LC_NONE 0x20
#define PRE_LC_SOME 0x30
#define PRE_LC      0x30

typedef struct {
    uint8_t ins;
    uint8_t pol;    /* MC_SM_*: class family and secure-messaging policy */
    uint8_t gate;   /* MC_G_*: the flags the handler hands mc_gate */
    uint8_t pre;    /* PRE_*: what dispatch checks before the handler */
    mc_sw (*run)(mc_card *card, mc_cmd *c);
} mc_cmd_def;

#define G_AMCH (MC_G_AM | MC_G_CHAN)
#define G_FILE (MC_G_AP | MC_G_CHAN | MC_G_APSTATE | MC_G_NOEF)
#define PRE_0081 (PRE_P1_00 | PRE_P2_81)
static const mc_cmd_def mc_commands[] = {
    { 0xA4, MC_SM_KEEPS, MC_G_AP | MC_G_CHAN | MC_G_SELECT, 0, mc_cmd_select },
    { 0x20, 0, MC_G_AP | MC_G_CHAN | MC_G_APSTATE, PRE_0081 | PRE_LC_FITS, mc_cmd_pin },
    { 0x24, 0, MC_G_AP | MC_G_CHAN | MC_G_APSTATE, PRE_0081 | PRE_LC_SOME, mc_cmd_pin },
    { 0xB0, 0, G_FILE, 0, mc_cmd_file },
    { 0xD6, 0, G_FILE, 0, mc_cmd_file },
    { 0xB2, 0, G_FILE, 0, mc_cmd_file },
    { 0xDC, 0, G_FILE, 0, mc_cmd_file },
    { 0xE2, 0, G_FILE, 0, mc_cmd_file },
    { 0xC0, MC_SM_RESPONSE, 0, 0, NULL },
    { 0xCA, MC_SM_GP, G_AMCH | MC_G_LOCKED, PRE_LC_NONE, mc_cmd_get_data },
    /* P1: the KVN; Lc 8, the handler's */
    { 0x50, MC_SM_GP | MC_SM_OPENS,
      MC_G_AM | MC_G_AP | MC_G_BLANK | MC_G_LOCKED | MC_G_APSTATE, PRE_P2_00, mc_cmd_init_update },
    { 0x82, MC_SM_GP | MC_SM_OWN_MAC, 0, 0, mc_cmd_ext_auth },
    /* P1: the KVN */
    { 0xD8, MC_SM_GP, MC_G_AM | MC_G_AP | MC_G_CHAN | MC_G_APSTATE, PRE_P2_81 | PRE_LC_SOME,
      mc_cmd_put_key },
    { 0xF2, MC_SM_GP | MC_SM_LISTS, G_AMCH | MC_G_LOCKED, 0, mc_cmd_get_status },
    { 0xE8, MC_SM_GP | MC_SM_CHAIN, G_AMCH, 0, mc_cmd_load },
    { 0xE4, MC_SM_GP, G_AMCH, PRE_P1_00 | PRE_P2_00 | PRE_LC_SOME | PRE_GATE, mc_cmd_delete },
    { 0xF0, MC_SM_GP, G_AMCH | MC_G_LOCKED, 0, mc_cmd_set_status },
    { 0x2C, MC_SM_GP, G_AMCH, PRE_0081 | PRE_LC_SOME | PRE_GATE, mc_cmd_reset_retry },
};

#define MC_N_COMMANDS (sizeof(mc_commands) / sizeof(mc_commands[0]))

/* Finds the row of (class family, INS): c->row, c->pol, c->gate.  No row
 * (c->row NULL and c->pol 0, as mc_process cleared them): the instruction
 * is unknown in that class, 6D00, but only after secure messaging. */
static void lookup(mc_cmd *c)
{
    uint8_t gp = (c->cla & 0x80) ? MC_SM_GP : 0;
    unsigned i;

    for (i = 0; i < MC_N_COMMANDS; i++)
        if (mc_commands[i].ins == c->ins && (mc_commands[i].pol & MC_SM_GP) == gp)
            break;
    if (i < MC_N_COMMANDS) {
        c->row = &mc_commands[i];
        c->pol = mc_commands[i].pol;
        c->gate = mc_commands[i].gate;
    }
}

/* 61xx: n more bytes wait for GET RESPONSE (61 00: 256 or more). */
static uint16_t sw_more(size_t n)
{
    return (uint16_t)(CM_SW_BYTES_REMAINING | (n >= 256 ? 0 : n));
}

/* GET RESPONSE `00 C0 00 00 Le`: the next part of the pending response,
 * copied to rsp; its length goes to c->rlen.  MC_SW_OK: mc_process answers
 * the pending response's SW, or 61xx while more is left. */
static mc_sw get_response(mc_card *card, mc_cmd *c, size_t lc, uint8_t *rsp,
                          size_t cap)
{
    size_t n;

    if (c->cla & 0x04)
        return MC_SW_SM_NOT_SUPPORTED;
    if (c->p1 != 0 || c->p2 != 0)
        return MC_SW_WRONG_P1P2;
    if (lc != 0 || !c->has_le)
        return MC_SW_WRONG_LENGTH;
    if (card->rsp_len == 0)
        return MC_SW_CONDITIONS;
    n = card->rsp_len < c->ne ? card->rsp_len : c->ne;
    if (n > cap - 2)
        n = cap - 2;
    memcpy(rsp, c->data + card->rsp_off, n);
    c->rlen = n;
    card->rsp_off = (uint16_t)(card->rsp_off + n);
    card->rsp_len = (uint16_t)(card->rsp_len - n);
    return MC_SW_OK;
}

/* The handler of the command's row; an unknown instruction, or one outside
 * its class, is 6D00, and only after secure messaging (§9).  The one
 * indirect call of the runtime besides the port's AES: tools/stack_depth.py
 * follows it to every handler named in mc_commands (make size). */
MC_NOINLINE static mc_sw dispatch(mc_card *card, mc_cmd *c)
{
    const mc_cmd_def *d = c->row;
    unsigned pre, lc;

    if (d == NULL)
        return MC_SW_INS_NOT_SUPPORTED;
    pre = d->pre;
    if (((pre & PRE_P1_00) && c->p1 != 0x00) || ((pre & PRE_P2_00) && c->p2 != 0x00) ||
        ((pre & PRE_P2_81) && c->p2 != 0x81))
        return MC_SW_WRONG_P1P2;
    /* (too long: c->lc is 0, mc_process) */
    lc = pre & PRE_LC;
    if (lc == PRE_LC_FITS ? c->too_long : lc == PRE_LC_NONE ? c->has_data : lc && c->lc == 0)
        return MC_SW_WRONG_LENGTH;
    if (pre & PRE_GATE) {
        mc_sw sw = mc_gate(card, c->gate, NULL, NULL);

        if (sw != MC_SW_OK)
            return sw;
    }
    return d->run(card, c);
}

/* Drops what the new command interrupts (§3, §4), by its table policy. */
static bool interrupt_state(mc_card *card, const mc_cmd *c)
{
    uint8_t pol = c->pol;
    bool gr = (pol & MC_SM_RESPONSE) != 0;
    bool keep_load = (pol & (MC_SM_CHAIN | MC_SM_RESPONSE)) != 0;

    if (card->chain_active &&
        (!(pol & MC_SM_CHAIN) || card->chain_hdr[0] != (c->cla & ~0x10) ||
         card->chain_hdr[2] != c->p1 || card->chain_hdr[3] != c->p2))
        keep_load = false;
    if (!keep_load && (card->load_active || card->load_marked || card->chain_active)) {
        mc_load_drop(card);
        if (card->muted)
            return false;
    }
    if (!gr) {
        card->rsp_len = 0;
        /* Only GET STATUS P1 40 P2 03 continues a listing (§4). */
        if (!(pol & MC_SM_LISTS) || c->p1 != 0x40 || c->p2 != 0x03)
            card->gs_next = 0xFF;
        if (!(pol & MC_SM_OWN_MAC) && card->chan == MC_CH_PENDING)
            mc_chan_close(card);
    }
    return true;
}

/* Secure messaging of the command (§3, §9), by the policy c->pol of its
 * table row (0 for an unknown instruction).  On success c->data/lc hold the
 * plain data; *done is set when the answer is final here (chain segment). */
static mc_sw secure_messaging(mc_card *card, mc_cmd *c, const uint8_t *in, size_t lc,
                              bool *done)
{
    uint8_t pol = c->pol;
    /* The header the C-MAC covers: c->hdr (its chaining bit is set only in a
     * staged chain, whose header is kept without it, below). */
    const uint8_t *hdr = c->hdr;
    size_t plain = 0;
    mc_sw sw;
    int rc;
    /* Only a chain may carry more than the command data limit (§10). */
    bool staged = (pol & MC_SM_CHAIN) && ((c->cla & 0x10) || card->chain_active);

    c->sm = (c->cla & 0x04) != 0;
    *done = false;

    if (pol & MC_SM_OPENS) {
        /* INITIALIZE UPDATE ends a channel whatever its outcome (§3). */
        if (card->chan != MC_CH_NONE)
            mc_chan_close(card);
        if (c->sm)
            return MC_SW_SM_NOT_SUPPORTED;
    }
    if (pol & MC_SM_OWN_MAC) {
        /* EXTERNAL AUTHENTICATE carries its own MAC; its handler checks it,
         * and takes the command as plain data (any length but 16 is 6700
         * there).  With CLA 80 it is a command without SM (§3): 6982, and
         * like any such command it ends an open channel (a pending
         * initiation ended in interrupt_state). */
        if (!c->sm) {
            mc_chan_close(card);
            return MC_SW_SECURITY_STATUS;
        }
        c->sm = false;
    } else {
        /* A chain with SM but no channel is joined first and refused at its
         * last segment (mc_load_unwrap_chain), like any other command of
         * its length (§9). */
        if (c->sm && card->chan != MC_CH_OPEN && !staged)
            return MC_SW_SECURITY_STATUS;
        if (!c->sm && card->chan == MC_CH_OPEN && !((pol & MC_SM_KEEPS) && c->p1 == 0x04)) {
            mc_chan_close(card);
            return MC_SW_SECURITY_STATUS;
        }
    }
    if (staged) {
        /* A chained LOAD AP block goes to NVM as received, then is checked
         * and unwrapped there. */
        if (!card->chain_active) {
            card->chain_active = true;
            card->chain_len = 0;
            memcpy(card->chain_hdr, hdr, 4);
            card->chain_hdr[0] &= (uint8_t)~0x10;
        }
        sw = mc_load_stage_segment(card, in, lc);
        if (sw != MC_SW_OK)
            return sw;
        if (c->cla & 0x10) {
            *done = true;
            return MC_SW_OK;
        }
        sw = mc_load_unwrap_chain(card, &plain);
        card->chain_active = false;
        if (sw != MC_SW_OK) {
            /* (mc_process drops the load) */
            if (sw == MC_SW_SM_DATA_INCORRECT)
                mc_chan_close(card);
            return sw;
        }
        c->staged = true;
        c->lc = plain;
        return MC_SW_OK;
    }
    plain = lc;
    if (!c->sm) {
        if (lc != 0 && lc <= MC_MAX_COMMAND_DATA)
            memcpy(c->data, in, lc);
    } else {
        if (lc < 8)
            rc = CM_E_FORMAT;
        else if (lc > MC_BUF_SIZE)
            /* Too long for the buffer: its C-MAC is checked as it stands in
             * the caller's APDU (an extended one, longer than 255 bytes) and
             * it is refused afterwards (6700: plain is lc, too long), but the
             * chain advances as §9 says. */
            rc = cm_scp03_verify_command(&card->scp, hdr, in, lc, 1);
        else {
            memcpy(c->data, in, lc);
            rc = cm_scp03_unwrap_command(&card->scp, hdr, c->data, lc, c->ext, &plain);
        }
        if (rc != CM_OK) {
            mc_chan_close(card);
            return MC_SW_SM_DATA_INCORRECT;
        }
    }
    c->too_long = plain > MC_MAX_COMMAND_DATA;
    c->lc = c->too_long ? 0 : plain;
    return MC_SW_OK;
}

/* Handlers keep key sets and PINs in records on the stack.  Rather than
 * wiping each copy on each path, the stack a command used below mc_process
 * is overwritten once the command is done: this many bytes cover the deepest
 * handler path that tools/size.sh measures on the Cortex-M0+ build, below
 * dispatch's two saved registers (which the scrub's own overwrite; see
 * docs/porting.md; a host build may have deeper frames).  A port whose own
 * frames under the runtime hold secrets (a software AES's key schedule) sets
 * it higher on the compiler's command line (card/port/qemu/: 2048). */
#ifndef MC_STACK_SCRUB
#define MC_STACK_SCRUB 856
#endif

MC_NOINLINE void mc_scrub_stack(void)
{
    uint8_t area[MC_STACK_SCRUB];

    cm_wipe(area, sizeof(area));
}

/* The words of the codes (card/mc_sw.h). */
static const uint16_t sw_words[MC_SW_CODES] = {
    [MC_SW_OK] = CM_SW_OK,
    [MC_SW_PARAM_FAILURE] = CM_SW_MEMORY_FAILURE,
    [MC_SW_MUTE] = CM_SW_MEMORY_FAILURE,          /* never answered (mc_process) */
    [MC_SW_MEMORY_FAILURE] = CM_SW_MEMORY_FAILURE,
    [MC_SW_MORE_DATA] = CM_SW_MORE_DATA,
    [MC_SW_VERIFY_FAIL] = CM_SW_VERIFY_FAIL,
    [MC_SW_WRONG_LENGTH] = CM_SW_WRONG_LENGTH,
    [MC_SW_LOGICAL_CHANNEL] = CM_SW_LOGICAL_CHANNEL,
    [MC_SW_SM_NOT_SUPPORTED] = CM_SW_SM_NOT_SUPPORTED,
    [MC_SW_CHAINING_UNSUPPORTED] = CM_SW_CHAINING_UNSUPPORTED,
    [MC_SW_INCOMPATIBLE_FILE] = CM_SW_INCOMPATIBLE_FILE,
    [MC_SW_SECURITY_STATUS] = CM_SW_SECURITY_STATUS,
    [MC_SW_AUTH_BLOCKED] = CM_SW_AUTH_BLOCKED,
    [MC_SW_REF_DATA_NOT_USABLE] = CM_SW_REF_DATA_NOT_USABLE,
    [MC_SW_CONDITIONS] = CM_SW_CONDITIONS,
    [MC_SW_NO_CURRENT_EF] = CM_SW_NO_CURRENT_EF,
    [MC_SW_SM_DATA_INCORRECT] = CM_SW_SM_DATA_INCORRECT,
    [MC_SW_WRONG_DATA] = CM_SW_WRONG_DATA,
    [MC_SW_FUNC_NOT_SUPPORTED] = CM_SW_FUNC_NOT_SUPPORTED,
    [MC_SW_NOT_FOUND] = CM_SW_NOT_FOUND,
    [MC_SW_RECORD_NOT_FOUND] = CM_SW_RECORD_NOT_FOUND,
    [MC_SW_NO_SPACE] = CM_SW_NO_SPACE,
    [MC_SW_WRONG_P1P2] = CM_SW_WRONG_P1P2,
    [MC_SW_REF_NOT_FOUND] = CM_SW_REF_NOT_FOUND,
    [MC_SW_ALREADY_EXISTS] = CM_SW_ALREADY_EXISTS,
    [MC_SW_WRONG_OFFSET] = CM_SW_WRONG_OFFSET,
    [MC_SW_INS_NOT_SUPPORTED] = CM_SW_INS_NOT_SUPPORTED,
    [MC_SW_CLA_NOT_SUPPORTED] = CM_SW_CLA_NOT_SUPPORTED,
};

/* The status word of a code (or the word itself, from MC_SW_CODES up);
 * mc_process and emit are its only callers. */
static uint16_t mc_sw_word(mc_sw sw)
{
    return (uint16_t)(sw < MC_SW_CODES ? sw_words[sw] : sw);
}

/* Appends the SW; out of line: one copy for every exit of mc_process. */
MC_NOINLINE static size_t emit(uint8_t *rsp, size_t n, mc_sw sw)
{
    uint16_t w = mc_sw_word(sw);

    rsp[n] = (uint8_t)(w >> 8);
    rsp[n + 1] = (uint8_t)w;
    return n + 2;
}

static bool sw_with_data(mc_sw sw)
{
    return sw == CM_SW_OK || (sw & 0xFF00) == 0x6200 || (sw & 0xFF00) == 0x6300;
}

void mc_set_transport(mc_card *card, uint8_t transport)
{
    if (card != NULL && transport <= MC_TRANSPORT_CL)
        card->transport = transport;
}

size_t mc_process(mc_card *card, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap)
{
    mc_cmd c;
    cm_apdu a;
    size_t lc, n, dirty;
    mc_sw sw;
    bool done, wrap, t0_data;

    if (card == NULL || !card->powered || card->muted || rsp == NULL || rsp_cap < 2 ||
        (cmd == NULL && cmd_len))
        return 0;
    if (cmd_len < 4)
        return emit(rsp, 0, MC_SW_WRONG_LENGTH);
    memset(&c, 0, sizeof(c));
    c.cla = cmd[0];
    c.ins = cmd[1];
    c.p1 = cmd[2];
    c.p2 = cmd[3];
    /* The command data, plain, and the response are in card->buf. */
    c.data = card->buf;
    lookup(&c);
    sw = check_class(c.cla);
    /* Chaining is for LOAD AP only (§9: 6884). */
    if (sw == MC_SW_OK && (c.cla & 0x10) && !(c.pol & MC_SM_CHAIN))
        sw = MC_SW_CHAINING_UNSUPPORTED;
    /* Framing by the codec (common/cm_apdu.h, inline: its view stays in
     * registers).  T=0 (§10) carries short APDUs only: an extended one
     * cannot come over it, and is refused as it arrives, as a framing error
     * (before secure messaging: a wrapped one does not move the MAC chain). */
    if (sw == MC_SW_OK) {
        int prc = cm_apdu_parse(cmd, cmd_len, &a);
        CM_OPAQUE(prc);
        if (prc != CM_OK || (card->transport == MC_TRANSPORT_T0 && a.extended))
            sw = MC_SW_WRONG_LENGTH;
    }
    if (sw != MC_SW_OK) {
        /* Refused for its class or framing: it still ends a pending
         * initiation (§3). */
        if (card->chan == MC_CH_PENDING)
            mc_chan_close(card);
        return emit(rsp, 0, sw);
    }
    lc = a.nc;
    n = a.ne;
    /* An extended APDU with data MACs a 3-byte Lc (§3). */
    c.ext = a.extended && lc != 0;
    /* Over T=0 a command with data may be case 4 sent without its Le (ISO
     * 7816-3 12.2): Ne is then 256, and any response data goes by 61xx. */
    t0_data = card->transport == MC_TRANSPORT_T0 && lc != 0;
    if (t0_data && n == 0)
        n = 256;
    c.has_le = n != 0;
    c.ne = (uint32_t)n;
    if (!interrupt_state(card, &c))
        return 0;
    if (c.pol & MC_SM_RESPONSE) {
        sw = get_response(card, &c, lc, rsp, rsp_cap);
        if (sw != MC_SW_OK)
            return emit(rsp, 0, sw);
        n = c.rlen;
        goto pending;
    }
    sw = secure_messaging(card, &c, a.data, lc, &done);
    /* A LOAD AP block (or chain) refused by secure messaging ends its load:
     * the staged space is wiped now, not at the next command. */
    if (sw != MC_SW_OK && !card->muted && (c.pol & MC_SM_CHAIN))
        mc_load_drop(card);
    if (card->muted)
        return 0;
    if (sw != MC_SW_OK || done)
        return emit(rsp, 0, sw);
    wrap = c.sm;
    /* From here on, "data" means the plain data. */
    c.has_data = c.lc != 0 || c.too_long;
    sw = dispatch(card, &c);
    /* Slot records (keys, PINs) stay neither in the scratch nor on the stack. */
    cm_wipe(card->scratch, sizeof(card->scratch));
    mc_scrub_stack();
    if (sw == MC_SW_MUTE || card->muted) {
        card->muted = true;
        return 0;
    }
    sw = mc_sw_word(sw);
    /* Nor does command data (a PIN, an image's PIN policy) stay in the
     * buffer, whichever path the handler left by: everything the command
     * and its handler wrote there but the response is wiped.  That is the
     * received data and the handler's output, and for LOAD AP the image
     * parser's scratch too (mc_install.c). */
    dirty = c.ins == 0xE8 ? MC_BUF_SIZE : (lc > c.rlen ? lc : c.rlen);
    if (dirty > MC_BUF_SIZE)
        dirty = MC_BUF_SIZE;
    if (!sw_with_data(sw))
        c.rlen = 0;
    if (dirty > c.rlen)
        cm_wipe(c.data + c.rlen, dirty - c.rlen);
    n = c.rlen;
    /* Protect the response while the channel it came in is still open. */
    if (wrap && card->chan == MC_CH_OPEN) {
        if (cm_scp03_wrap_response(&card->scp, c.data, c.rlen, MC_BUF_SIZE, sw, &n) != CM_OK)
            return emit(rsp, 0, MC_SW_MEMORY_FAILURE);
    }
    /* SET STATUS TERMINATED: the channel ends once its answer is protected. */
    if (c.end_chan)
        mc_chan_close(card);
    if (c.rlen <= c.ne && n + 2 <= rsp_cap && !(t0_data && n != 0)) {
        memcpy(rsp, c.data, n);
        return emit(rsp, n, sw);
    }
    /* Longer than Le, or a case-4 answer over T=0: 61xx, the protected
     * response waits for GET RESPONSE (§3, §10). */
    card->rsp_off = 0;
    card->rsp_len = (uint16_t)n;     /* not 0: n > Ne, n > rsp_cap - 2 or n != 0 */
    card->rsp_sw = sw;
    n = 0;
pending:
    /* 61xx while a part is left, else the pending response's SW. */
    return emit(rsp, n, card->rsp_len == 0 ? card->rsp_sw : sw_more(card->rsp_len));
}
