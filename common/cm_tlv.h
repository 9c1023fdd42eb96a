/* cm_tlv.h: a bounded BER-TLV reader and writer.
 *
 * Tags of one or two bytes (a first byte with low bits 1F announces a second
 * byte, which must not have bit 8 set); lengths in the short form or 81 xx /
 * 82 xx xx.  Anything else (three-byte tags, 83/84 lengths, indefinite
 * length, a value running past its container) is rejected with CM_E_FORMAT;
 * the reader never reads outside [buf, buf+len). */
#ifndef CM_TLV_H
#define CM_TLV_H

#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"

typedef struct cm_tlv {
    uint16_t tag;            /* 1-byte tags as 0x00XX, 2-byte as 0xXXYY */
    size_t len;
    const uint8_t *value;
    size_t header_len;       /* tag + length bytes */
    int constructed;         /* bit 6 of the first tag byte */
} cm_tlv;

/* Parses the header (tag and length) of the TLV that starts buf[0..n):
 * CM_OK with *tag, *len and *header_len (its bytes), or CM_E_FORMAT.  The
 * value is not checked against n: the card's image reader parses headers it
 * read from NVM (card/mc_install.c) with it, and checks the value itself. */
int cm_tlv_header(const uint8_t *buf, size_t n, uint16_t *tag, size_t *len, size_t *header_len);

/* Parses the TLV at buf[*pos] within len bytes and advances *pos past it.
 * Returns CM_OK, or CM_E_FORMAT (with *pos unchanged), or 1 at the end of the
 * input (*pos == len). */
int cm_tlv_next(const uint8_t *buf, size_t len, size_t *pos, cm_tlv *out);

/* Finds the first TLV with tag at the top level of buf.  CM_OK, 1 when
 * absent, CM_E_FORMAT when the list is malformed before it is found. */
int cm_tlv_find(const uint8_t *buf, size_t len, uint16_t tag, cm_tlv *out);

/* Checks that buf is a well-formed list of TLVs, recursing into constructed
 * ones up to depth levels (iteratively: no recursion). */
int cm_tlv_validate(const uint8_t *buf, size_t len, unsigned depth);

/* --- writer --------------------------------------------------------------- */
typedef struct cm_tlv_writer {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    int error;                /* sticky CM_E_SPACE */
} cm_tlv_writer;

void cm_tlv_writer_init(cm_tlv_writer *w, uint8_t *buf, size_t cap);
/* Writes tag, length and value.  value may be NULL when len == 0 and must not
 * point into the writer's own buffer. */
void cm_tlv_put(cm_tlv_writer *w, uint16_t tag, const uint8_t *value, size_t len);
void cm_tlv_put_u8(cm_tlv_writer *w, uint16_t tag, uint8_t v);
void cm_tlv_put_u16(cm_tlv_writer *w, uint16_t tag, uint16_t v);
void cm_tlv_put_u32(cm_tlv_writer *w, uint16_t tag, uint32_t v);
/* Opens a constructed TLV; returns a mark for cm_tlv_close.  The length is
 * fixed up on close (moving the value when it needs a longer length form). */
size_t cm_tlv_open(cm_tlv_writer *w, uint16_t tag);
void cm_tlv_close(cm_tlv_writer *w, size_t mark);
/* Bytes the header of a TLV with this tag and length takes. */
size_t cm_tlv_header_len(uint16_t tag, size_t len);

#endif
