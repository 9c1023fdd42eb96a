/* mc_load.c: LOAD AP blocks (PROTOCOL.md §4), written once into NVM.
 *
 * An AP image (up to 32 KiB) never fits in RAM, and is never staged whole
 * in NVM either: each block's plain data goes through the image parser of
 * mc_install.c, which writes the EF contents straight to their place in the
 * new AP's region, at the start of the largest free gap (the staging gap),
 * and keeps the rest (AID, PIN policy, key set, EF templates) in RAM.  The
 * last block makes the region visible by one small transaction (the slot
 * record and its log entry).  The staging gap is marked for wiping in NVM
 * before the first byte is staged, by one direct write of the wipe record,
 * so that after a power cut recovery wipes whatever was staged; a dropped
 * or refused load wipes it at once (docs/nvm.md, "LOAD AP written once").
 *
 * A chained block (the only way past the 2048-byte command data limit) is
 * staged raw in the gap above the region, its C-MAC checked by streaming it
 * back from NVM, then it is decrypted 64 bytes at a time into the parser;
 * the raw copy is wiped after. */
#include "mc_int.h"
#include "cm_ct.h"
#include "cm_cbc.h"
#include "cm_scp03.h"

#define CHUNK 64u

/* The load's mark (mc_load_mark: the wipe record, written directly by
 * mc_wipe_write): (off, len) to wipe after a cut.  A torn write leaves it
 * with any value; recovery then wipes free space only (mc_load_recover), so
 * no value can make it wipe anything visible.  The record has a page of its
 * own (MC_OFF_WIPE), so a page-erasing part's torn page spoils nothing
 * else. */

/* Wipes every byte that no visible state holds: the free runs of the heap
 * (all of the data space past the slots once the area is TERMINATED),
 * writing only the 64-byte pieces that are not FF yet; then clears the wipe
 * record directly.  Whatever a load staged, before its commit, is in a free
 * run; so is a deleted AP's region once its slot is free. */
static mc_status wipe_free(mc_card *card)
{
    /* The area record in the scratch (card->buf may still hold the command
     * that drops the load), only for its state. */
    mc_area_rec *a = (mc_area_rec *)(void *)card->scratch;
    uint32_t off = MC_OFF_HEAP, gl = 1;
    mc_status st = mc_area_read(card, a);
    bool term = st == MC_OK && a->state == MC_AREA_TERMINATED;

    cm_wipe(card->scratch, sizeof(card->scratch));
    if (term)
        st = mc_store_fill_lazy(card, MC_OFF_SLOTS, 0xFF, mc_store_data_size(card) - MC_OFF_SLOTS);
    else
        while (st == MC_OK && gl != 0) {
            st = mc_heap_run(card, off, &off, &gl);
            if (st == MC_OK)
                st = mc_store_fill_lazy(card, off, 0xFF, gl);
            off += gl;
        }
    return st == MC_OK ? mc_load_mark(card, 0, 0) : st;
}

void mc_load_drop(mc_card *card)
{
    bool marked = card->load_marked;

    card->load_active = false;
    card->load_marked = false;
    card->chain_active = false;
    card->chain_len = 0;
    card->load_len = 0;
    cm_wipe(&card->ld, sizeof(card->ld));
    if (marked && wipe_free(card) == MC_ERR_NVM)
        card->muted = true;
}

/* A new load: the largest gap becomes the staging area, marked for wiping. */
static mc_sw load_begin(mc_card *card)
{
    uint32_t off = MC_OFF_HEAP, len = 1;
    mc_status st = MC_OK;

    mc_load_drop(card);
    if (card->muted)
        return MC_SW_MUTE;
    /* The largest free run. */
    card->load_off = 0;
    card->load_cap = 0;
    while (st == MC_OK && len != 0) {
        st = mc_heap_run(card, off, &off, &len);
        if (len > card->load_cap) {
            card->load_off = off;
            card->load_cap = len;
        }
        off += len;
    }
    if (st == MC_OK)
        st = mc_load_mark(card, card->load_off, card->load_cap);
    if (st != MC_OK)
        return mc_sw_of(st);
    card->load_next = 0;
    card->load_marked = true;   /* card->ld: wiped by mc_load_drop */
    return MC_SW_OK;
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

mc_sw mc_load_stage_segment(mc_card *card, const uint8_t *data, size_t len)
{
    uint32_t pos, top;
    mc_sw sw;
    mc_status st;

    if (card->chain_len == 0) {
        card->chain_discard = !may_stage(card);
        if (!card->chain_discard && !card->load_active) {
            sw = load_begin(card);
            card->chain_active = true;
            if (sw != MC_SW_OK) {
                if (sw == MC_SW_MUTE)
                    card->muted = true;
                return sw;
            }
        }
        /* Above what the region may reach: the gap's top less the most the
         * rest of the image can take, or the region's end so far. */
        top = MC_IMAGE_MAX + 64 - card->load_len;
        card->chain_at = mc_ld_end(card);
        if (card->load_cap > top && card->load_cap - top > card->chain_at)
            card->chain_at = card->load_cap - top;
    }
    if (card->chain_discard) {
        /* Counted, not staged: the command still has its length when the
         * usual checks refuse it at the last segment. */
        card->chain_len += (uint32_t)len;
        return MC_SW_OK;
    }
    pos = card->chain_at + card->chain_len;
    if (pos + len > card->load_cap || card->load_len + card->chain_len + len > MC_IMAGE_MAX + 64) {
        mc_load_drop(card);
        return MC_SW_NO_SPACE;   /* (muted by the drop: mc_process answers nothing) */
    }
    st = mc_store_write_direct(card, card->load_off + pos, data, len);
    if (st != MC_OK) {
        if (st == MC_ERR_NVM)
            card->muted = true;
        return mc_sw_of(st);
    }
    card->chain_len += (uint32_t)len;
    return MC_SW_OK;
}

/* The staged raw block, read back 64 bytes at a time: mode 0 checks its
 * C-MAC (the MAC's 8 bytes follow the body, read last); mode 1 hands it to
 * the parser, C-DECRYPTED on the way when the channel's level has C-DECRYPTION
 * and the body is not empty (each piece CBC-decrypted with the previous
 * piece's last ciphertext block as its IV, kept in RAM; the padding is in
 * the last block).  The parser is told which staged bytes are still unread,
 * so that it never writes over them. */
static mc_sw stream(mc_card *card, uint32_t body, unsigned mode, size_t *plain)
{
    uint32_t at = card->chain_at;
    bool dec = mode && (card->scp.level & CM_SL_CDEC) && body;
    cm_cmac_ctx ctx;
    uint8_t iv[16], next[16], blk[CHUNK];
    uint32_t i, n, k, end = mode ? body : body + 8;
    size_t last = 16;
    mc_status st = MC_OK;
    int rc;

    /* A chained command MACs its Lc in the shortest form (§3). */
    rc = mode ? (dec && body % 16 ? CM_E_FORMAT : dec ? cm_scp03_icv(&card->scp, 0, iv) : CM_OK)
              : cm_scp03_cmac_begin(&card->scp, &ctx, card->chain_hdr, body, 0);
    card->chain_end = at + body;
    for (i = 0; rc == CM_OK && st == MC_OK && i < end; i += n) {
        /* (mode 0: the MAC's 8 bytes after the body) */
        n = i == body ? 8 : body - i < CHUNK ? body - i : CHUNK;
        st = mc_store_read(card, card->load_off + at + i, blk, n);
        k = n;
        if (st != MC_OK)
            break;
        if (mode == 0) {
            rc = i == body ? cm_scp03_cmac_verify(&card->scp, &ctx, blk)
                           : cm_cmac_update(&ctx, blk, n);
            continue;
        }
        if (dec) {
            memcpy(next, blk + n - 16, 16);
            rc = cm_cbc_decrypt(&card->scp.aes, card->scp.s_enc, card->scp.key_len, iv, blk, blk,
                                n);
            memcpy(iv, next, 16);
            if (rc == CM_OK && i + n == body) {
                rc = cm_unpad_m2(blk + n - 16, 16, &last);
                k = n - 16 + (uint32_t)last;
            }
        }
        card->chain_rd = at + i + n;
        if (rc == CM_OK)
            st = mc_ld_feed(card, blk, k);
        *plain += k;
    }
    card->chain_end = 0;
    cm_wipe(&ctx, sizeof(ctx));
    cm_wipe(blk, sizeof(blk));
    if (st != MC_OK)
        return mc_sw_of(st);
    return rc == CM_OK ? MC_SW_OK : MC_SW_SM_DATA_INCORRECT;
}

mc_sw mc_load_unwrap_chain(mc_card *card, size_t *plain_len)
{
    uint32_t at = card->chain_at, n = card->chain_len, end;
    mc_sw sw;

    *plain_len = 0;
    if (card->chain_discard) {
        *plain_len = n;
        return (card->chain_hdr[0] & 0x04) && card->chan != MC_CH_OPEN ? MC_SW_SECURITY_STATUS
                                                                         : MC_SW_OK;
    }
    /* Staged only in an open channel, where a command without SM is refused
     * at its first segment (mc_apdu.c): the chain is wrapped. */
    if (n < 8)
        return MC_SW_SM_DATA_INCORRECT;
    sw = stream(card, n - 8, 0, plain_len);
    if (sw == MC_SW_OK)
        sw = stream(card, n - 8, 1, plain_len);
    /* The raw copy above what the region has laid out so far is wiped. */
    end = mc_ld_end(card);
    if (end < at)
        end = at;
    if (sw != MC_SW_MUTE && end < at + n) {
        mc_status st = mc_store_fill_lazy(card, card->load_off + end, 0xFF, at + n - end);
        if (st != MC_OK)
            sw = mc_sw_of(st);
    }
    return sw;
}

mc_sw mc_cmd_load(mc_card *card, mc_cmd *c)
{
    mc_sw sw;
    mc_status st;

    if (c->p1 != 0x00 && c->p1 != 0x80)
        sw = MC_SW_WRONG_P1P2;
    else if (c->lc == 0)                 /* (too long: lc 0) */
        sw = MC_SW_WRONG_LENGTH;
    else
        sw = mc_gate(card, c->gate, NULL, NULL);
    /* The block order is the command's own check, after area state and
     * channel (§4).  Block 00 starts a load only when none is running: a
     * repeated block is out of order like any other. */
    if (sw == MC_SW_OK && (card->load_active ? c->p2 != card->load_next : c->p2 != 0))
        sw = MC_SW_WRONG_P1P2;
    if (sw != MC_SW_OK)
        goto drop;
    if (c->p2 == 0 && !c->staged) {
        sw = load_begin(card);
        if (sw != MC_SW_OK)
            return sw;
    }
    card->load_active = true;
    card->load_len += (uint32_t)c->lc;
    card->chain_len = 0;
    card->load_next++;
    if (card->load_len > MC_IMAGE_MAX) {
        sw = MC_SW_WRONG_DATA;
        goto drop;
    }
    if (!c->staged) {
        st = mc_ld_feed(card, c->data, c->lc);
        if (st != MC_OK)
            return mc_sw_of(st);
    }
    if (c->p1 == 0x00)
        return MC_SW_OK;
    sw = mc_install(card);
    if (sw == MC_SW_OK)   /* (installed: no load left to drop) */
        return sw;
drop:
    /* A refused block or image ends the load. */
    mc_load_drop(card);
    return sw;   /* (a drop that muted the card: mc_process answers nothing) */
}

/* Power-on: a wipe that a cut interrupted (DELETE, TERMINATE, a load's
 * staging gap) is finished.  wipe_free wipes free space only, so the wipe
 * record may hold any value: whatever it holds but a clear record (one that
 * fails its check: a torn direct write) means "wipe". */
mc_status mc_load_recover(mc_card *card, bool *recovered)
{
    mc_wipe_rec w;
    mc_status st = mc_store_read(card, MC_OFF_WIPE, &w, sizeof(w));

    if (st != MC_OK || (mc_check(&w, sizeof(w), MC_MAGIC_WIPE) && mc_get32(w.len) == 0))
        return st;
    *recovered = true;
    return wipe_free(card);
}
