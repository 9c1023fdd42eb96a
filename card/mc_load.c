/* mc_load.c: LOAD AP blocks (PROTOCOL.md §4), streamed into NVM.
 *
 * An AP image (up to 32 KiB) never fits in RAM: each block's plain data is
 * written directly into free heap space (the staging area, at the start of
 * the largest gap), where nothing committed refers to it.  A chained block
 * (the only way past the 2048-byte command data limit) is staged raw, then
 * its C-MAC is checked by streaming it back from NVM and it is decrypted in
 * place block by block.  The staging gap is marked for wiping in NVM while a
 * load runs, so that after a power cut recovery wipes whatever plaintext was
 * staged; a dropped load wipes it at once.  The last block hands the staged
 * image to mc_install.c. */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_cbc.h"
#include "cm_scp03.h"

static uint16_t set_mark(mc_card *card, uint32_t off, uint32_t len)
{
    mc_status st = mc_store_begin(card);

    if (st == MC_OK)
        st = mc_wipe_write(card, off, len);
    return mc_sw_of(mc_store_end(card, st));
}

void mc_load_drop(mc_card *card)
{
    uint32_t len = card->load_len + card->chain_len;
    bool marked = card->load_marked;

    if (len > card->load_cap)
        len = card->load_cap;
    card->load_active = false;
    card->load_marked = false;
    card->chain_active = false;
    card->chain_len = 0;
    card->load_len = 0;
    if (marked && mc_wipe_now(card, card->load_off, len) == MC_ERR_NVM)
        card->muted = true;
}

/* A new load: the largest gap becomes the staging area, marked for wiping. */
static uint16_t load_begin(mc_card *card)
{
    uint32_t off, len;
    mc_status st;
    uint16_t sw;

    mc_load_drop(card);
    if (card->muted)
        return MC_SW_MUTE;
    st = mc_heap_gap(card, 0, 0, &off, &len, 0, false);
    if (st != MC_OK)
        return mc_sw_of(st);
    card->load_off = off;
    card->load_cap = len;
    card->load_len = 0;
    card->load_next = 0;
    sw = set_mark(card, off, len);
    if (sw == CM_SW_OK)
        card->load_marked = true;
    return sw;
}

/* Is this chain staged?  Every chain that comes in an open channel is (it
 * is wrapped: a plain one closed the channel at its first segment), even
 * one that the area state or the selection will refuse: its C-MAC can only
 * be checked over the whole command, and it must be checked, advancing the
 * MAC chain, before the instruction is interpreted (PROTOCOL.md §9).  A
 * chain outside a channel, or on a corrupt card, is only counted and
 * refused at its last segment by the usual checks. */
static bool may_stage(mc_card *card)
{
    return !card->corrupt && card->chan == MC_CH_OPEN;
}

uint16_t mc_load_stage_segment(mc_card *card, const uint8_t *data, size_t len)
{
    uint32_t pos;
    uint16_t sw;
    mc_status st;

    if (card->chain_len == 0) {
        card->chain_discard = !may_stage(card);
        if (!card->chain_discard && !card->load_active) {
            sw = load_begin(card);
            card->chain_active = true;
            if (sw != CM_SW_OK) {
                if (sw == MC_SW_MUTE)
                    card->muted = true;
                return sw;
            }
        }
    }
    if (card->chain_discard) {
        /* Counted, not staged: the command still has its length when the
         * usual checks refuse it at the last segment. */
        card->chain_len += (uint32_t)len;
        return CM_SW_OK;
    }
    pos = card->load_len + card->chain_len;
    if (pos + len > card->load_cap || pos + len > MC_IMAGE_MAX + 64) {
        mc_load_drop(card);
        return card->muted ? MC_SW_MUTE : CM_SW_NO_SPACE;
    }
    st = mc_store_write_direct(card, card->load_off + pos, data, len);
    if (st != MC_OK) {
        if (st == MC_ERR_NVM)
            card->muted = true;
        return mc_sw_of(st);
    }
    card->chain_len += (uint32_t)len;
    return CM_SW_OK;
}

#define CHUNK 64u

/* C-MAC over the staged raw block, streamed from NVM. */
static uint16_t stream_mac(mc_card *card, uint32_t base, uint32_t body)
{
    cm_cmac_ctx ctx;
    uint8_t tmp[CHUNK];
    uint32_t i, n;
    int rc;
    mc_status st = MC_OK;

    /* A chained command MACs its Lc in the shortest form (§3). */
    rc = cm_scp03_cmac_begin(&card->scp, &ctx, card->chain_hdr, body, 0);
    for (i = 0; rc == CM_OK && st == MC_OK && i < body; i += n) {
        n = body - i < CHUNK ? body - i : CHUNK;
        st = mc_store_read(card, base + i, tmp, n);
        if (st == MC_OK)
            rc = cm_cmac_update(&ctx, tmp, n);
    }
    if (st == MC_OK)
        st = mc_store_read(card, base + body, tmp, 8);
    if (rc == CM_OK && st == MC_OK)
        rc = cm_scp03_cmac_verify(&card->scp, &ctx, tmp);
    cm_wipe(&ctx, sizeof(ctx));
    if (st != MC_OK)
        return mc_sw_of(st);
    return rc == CM_OK ? CM_SW_OK : CM_SW_SM_DATA_INCORRECT;
}

/* C-DECRYPTION in place, 64 bytes at a time: each piece is CBC-decrypted
 * with the previous piece's last ciphertext block as its IV (kept in RAM);
 * the padding is in the last block. */
static uint16_t decrypt_in_place(mc_card *card, uint32_t base, uint32_t body, size_t *plain)
{
    uint8_t iv[16], next[16], blk[CHUNK];
    uint32_t i, n;
    size_t last = 0;
    mc_status st = MC_OK;
    int rc;

    if (body % 16 != 0)
        return CM_SW_SM_DATA_INCORRECT;
    rc = cm_scp03_icv(&card->scp, 0, iv);
    for (i = 0; rc == CM_OK && st == MC_OK && i < body; i += n) {
        n = body - i < CHUNK ? body - i : CHUNK;
        st = mc_store_read(card, base + i, blk, n);
        if (st != MC_OK)
            break;
        memcpy(next, blk + n - 16, 16);
        rc = cm_cbc_decrypt(&card->scp.aes, card->scp.s_enc, card->scp.key_len, iv, blk, blk, n);
        memcpy(iv, next, 16);
        if (rc == CM_OK && i + n == body)
            rc = cm_unpad_m2(blk + n - 16, 16, &last);
        if (rc == CM_OK)
            st = mc_store_write_direct(card, base + i, blk, n);
    }
    cm_wipe(blk, sizeof(blk));
    if (st != MC_OK)
        return mc_sw_of(st);
    if (rc != CM_OK)
        return CM_SW_SM_DATA_INCORRECT;
    *plain = body - 16 + last;
    return CM_SW_OK;
}

uint16_t mc_load_unwrap_chain(mc_card *card, size_t *plain_len)
{
    uint32_t base = card->load_off + card->load_len, n = card->chain_len;
    uint16_t sw;

    *plain_len = 0;
    if (card->chain_discard) {
        *plain_len = n;
        return (card->chain_hdr[0] & 0x04) && card->chan != MC_CH_OPEN ? CM_SW_SECURITY_STATUS
                                                                         : CM_SW_OK;
    }
    if (!(card->chain_hdr[0] & 0x04)) {
        *plain_len = n;
        return CM_SW_OK;
    }
    if (n < 8)
        return CM_SW_SM_DATA_INCORRECT;
    sw = stream_mac(card, base, n - 8);
    if (sw != CM_SW_OK || !(card->scp.level & CM_SL_CDEC) || n == 8) {
        *plain_len = n - 8;
        return sw;
    }
    return decrypt_in_place(card, base, n - 8, plain_len);
}

uint16_t mc_cmd_load(mc_card *card, mc_cmd *c)
{
    uint16_t sw;
    mc_status st;

    if (c->p1 != 0x00 && c->p1 != 0x80)
        sw = CM_SW_WRONG_P1P2;
    else if (c->too_long || c->lc == 0)
        sw = CM_SW_WRONG_LENGTH;
    else
        sw = mc_gate(card, c->gate, NULL, NULL);
    /* The block order is the command's own check, after area state and
     * channel (§4).  Block 00 starts a load only when none is running: a
     * repeated block is out of order like any other. */
    if (sw == CM_SW_OK && (card->load_active ? c->p2 != card->load_next : c->p2 != 0))
        sw = CM_SW_WRONG_P1P2;
    if (sw != CM_SW_OK) {
        mc_load_drop(card);
        return sw;
    }
    if (c->p2 == 0 && !c->staged) {
        sw = load_begin(card);
        if (sw != CM_SW_OK)
            return sw;
    }
    card->load_active = true;
    if (!c->staged) {
        if (card->load_len + c->lc > card->load_cap) {
            mc_load_drop(card);
            return card->muted ? MC_SW_MUTE : CM_SW_NO_SPACE;
        }
        st = mc_store_write_direct(card, card->load_off + card->load_len, c->data, c->lc);
        if (st != MC_OK)
            return mc_sw_of(st);
    }
    card->load_len += (uint32_t)c->lc;
    card->chain_len = 0;
    card->load_next++;
    if (card->load_len > MC_IMAGE_MAX) {
        mc_load_drop(card);
        return card->muted ? MC_SW_MUTE : CM_SW_WRONG_DATA;
    }
    if (c->p1 == 0x00)
        return CM_SW_OK;
    sw = mc_install(card);
    if (card->load_marked || card->load_active)
        mc_load_drop(card);
    return card->muted ? MC_SW_MUTE : sw;
}
