/* mc_life.c: the life of a card: fabrication (formats the logical layout),
 * power-on (store recovery, pending wipe, a full check of every metadata
 * record), warm reset, power-off, and the ATR. */
#include "mc_int.h"
#include "cm_ct.h"
#include "port.h"

/* Clears all RAM state of the runtime but the port binding and the store.
 * Out of line: power-on and reset share one copy. */
MC_NOINLINE static void clear_ram(mc_card *card)
{
    mc_chan_close(card);
    card->sel = MC_SEL_NONE;
    card->ef = 0xFF;
    card->pin_ok = false;
    card->rsp_len = 0;
    card->rsp_off = 0;
    card->gs_next = 0xFF;
    card->load_active = false;
    card->load_marked = false;
    card->load_len = 0;
    card->chain_active = false;
    card->chain_len = 0;
    cm_wipe(card->buf, sizeof(card->buf));
}

/* Fabrication is not tear-safe (a torn card is rejected at the factory):
 * every record is written directly, built in card->buf (free until the card
 * answers its first command). */
static mc_status format_layout(mc_card *card, const uint8_t serial[MC_SERIAL_LEN],
                               const uint8_t family[2], const uint8_t *enc, const uint8_t *mac,
                               const uint8_t *dek, size_t key_len)
{
    mc_area_rec *a = (mc_area_rec *)(void *)card->buf;
    uint32_t off = MC_OFF_WIPE;
    size_t size;
    unsigned i;
    mc_status st;

    MC_OPAQUE(a);
    memset(card->buf, 0, sizeof(card->buf));
    a->state = MC_AREA_BLANK;
    memcpy(a->serial, serial, MC_SERIAL_LEN);
    memcpy(a->div, serial, MC_SERIAL_LEN);
    memcpy(a->div + MC_SERIAL_LEN, family, 2);
    /* The transport key set is stored as given (undiversified, §1). */
    a->am.kvn = 0xFF;
    a->am.key_len = (uint8_t)key_len;
    memcpy(a->am.enc, enc, key_len);
    memcpy(a->am.mac, mac, key_len);
    memcpy(a->am.dek, dek, key_len);
    st = mc_rec_direct(card, MC_OFF_AREA, a, sizeof(*a), MC_MAGIC_AREA);
    /* Then the wipe record (on a page of its own) and the free AP slots, one
     * after the other: zeros but for their seals.  The log's slots stay as
     * format left them (FF): empty (mc_log.c). */
    for (i = 0; st == MC_OK && i < 1 + MC_MAX_APS; i++) {
        size = i == 0 ? sizeof(mc_wipe_rec) : sizeof(mc_slot_rec);
        memset(card->buf, 0, size);
        st = mc_rec_direct(card, off, card->buf, size, i == 0 ? MC_MAGIC_WIPE : MC_MAGIC_FREE);
        off = i == 0 ? MC_OFF_SLOTS : off + (uint32_t)size;
    }
    return st;
}

mc_status mc_fabricate(mc_card *card, void *port, const uint8_t serial[MC_SERIAL_LEN],
                       const uint8_t family[2], const uint8_t *enc, const uint8_t *mac,
                       const uint8_t *dek, size_t key_len)
{
    mc_status st;

    if (card == NULL || serial == NULL || family == NULL || enc == NULL || mac == NULL ||
        dek == NULL || !cm_aes_valid_key_len(key_len))
        return MC_ERR_PARAM;
    memset(card, 0, sizeof(*card));
    card->port = port;
    st = mc_store_format(card);
    if (st != MC_OK)
        return st;
    if (mc_store_data_size(card) < MC_OFF_HEAP + 1024)
        return MC_ERR_PARAM;
    st = format_layout(card, serial, family, enc, mac, dek, key_len);
    cm_wipe(card->buf, sizeof(card->buf));
    st = mc_store_flushed(card, st);
    if (st != MC_OK)
        return st;
    return mc_power_on(card, port);
}

/* Reads every metadata record once: corrupt ones mark the card (§8). */
MC_NOINLINE static mc_status check_all(mc_card *card, bool *log_ok)
{
    mc_area_rec *a = (mc_area_rec *)(void *)card->buf;
    mc_slot_rec *s = MC_SCRATCH_SLOT(card);
    mc_log_rec e;
    mc_ef_rec ef;
    unsigned i, j;
    bool used;
    mc_status st;

    MC_OPAQUE(a);
    MC_OPAQUE(s);
    st = mc_area_read(card, a);
    /* one read checks the whole log */
    if (st == MC_OK)
        st = mc_log_read(card, 0, &e);
    *log_ok = st == MC_OK;
    /* TERMINATED: the slots were wiped and are never read again. */
    for (i = 0; st == MC_OK && a->state != MC_AREA_TERMINATED && i < MC_MAX_APS; i++) {
        st = mc_slot_read(card, i, s, &used);
        for (j = 0; st == MC_OK && used && j < s->ef_count; j++)
            st = mc_ef_read(card, s, j, &ef);
        /* Defensive: values this runtime never writes are treated as corrupt. */
        if (st == MC_OK && used &&
            (s->ef_count > MC_MAX_EFS || s->aid_len > 16 || s->pin_len > 12)) {
            card->corrupt = true;
            st = MC_ERR_CORRUPT;
        }
    }
    cm_wipe(card->scratch, sizeof(card->scratch));
    cm_wipe(card->buf, sizeof(mc_area_rec));
    return st;
}

static mc_status power_on(mc_card *card, void *port)
{
    bool recovered = false, log_ok = false;
    mc_status st;

    if (card == NULL)
        return MC_ERR_PARAM;
    card->port = port;
    card->powered = false;
    card->muted = false;
    card->corrupt = false;
    clear_ram(card);
    st = mc_store_recover(card, &recovered);
    /* A wipe that a cut interrupted (DELETE, TERMINATE, a load's staging
     * gap) is finished before anything else. */
    if (st == MC_OK)
        st = mc_load_recover(card, &recovered);
    if (st == MC_OK)
        st = check_all(card, &log_ok);
    if (st == MC_OK && recovered)
        st = mc_log_event(card, MC_EV_TEAR_RECOVERED, NULL, 0);
    /* Corrupt metadata outside the area record and the log is recorded in
     * the log (merged with an NVM_CORRUPT of an earlier start-up). */
    if (st == MC_ERR_CORRUPT && log_ok) {
        card->corrupt = false;
        st = mc_log_event(card, MC_EV_NVM_CORRUPT, NULL, 0);
        if (st == MC_OK)
            st = MC_ERR_CORRUPT;
    }
    if (st == MC_ERR_NVM)
        return st;
    if (st != MC_OK)
        card->corrupt = true;
    card->powered = true;
    return card->corrupt ? MC_ERR_CORRUPT : MC_OK;
}

mc_status mc_power_on(mc_card *card, void *port)
{
    mc_status st = power_on(card, port);

    /* Recovery and the start-up checks moved journal records and read slot
     * records (keys, PINs) through stack buffers: none of it stays. */
    mc_scrub_stack();
    return st;
}

void mc_reset(mc_card *card)
{
    if (card == NULL)
        return;
    /* A partial load is dropped: its staged bytes are wiped now (with no
     * load, mc_load_drop only clears RAM that clear_ram clears too). */
    if (card->powered && !card->muted)
        mc_load_drop(card);
    clear_ram(card);
}

void mc_power_off(mc_card *card)
{
    void *port;

    if (card == NULL)
        return;
    port = card->port;
    cm_wipe(card, sizeof(*card));
    card->port = port;
    mc_port_power_off(card);
}

/* TS 3B direct convention; T0 86: TD1 follows, 6 historical bytes; TD1 01:
 * T=1 only, nothing follows; historical bytes "MNAP" and the runtime version;
 * TCK (XOR of T0..last historical byte, required when T=1 is indicated),
 * computed by the compiler. */
#define MC_ATR_BODY 0x86, 0x01, 'M', 'N', 'A', 'P', MC_VERSION_MAJOR, MC_VERSION_MINOR
#define MC_ATR_TCK (0x86 ^ 0x01 ^ 'M' ^ 'N' ^ 'A' ^ 'P' ^ MC_VERSION_MAJOR ^ MC_VERSION_MINOR)

size_t mc_atr(uint8_t *out, size_t cap)
{
    static const uint8_t atr[] = { 0x3B, MC_ATR_BODY, MC_ATR_TCK };

    if (out == NULL || cap < sizeof(atr))
        return 0;
    memcpy(out, atr, sizeof(atr));
    return sizeof(atr);
}
