/* crc.h: CRC-16 and CRC-32 for the card runtime's NVM metadata checksums.
 *
 * Both are bitwise (no tables: a few hundred bytes of flash matter more on a
 * card than speed over metadata of a few dozen bytes) and incremental:
 *   uint32_t c = MC_CRC32_INIT; c = mc_crc32_update(c, a, n); ...; c = mc_crc32_final(c);
 * mc_crc32 is CRC-32/ISO-HDLC (zlib's crc32, check value CBF43926 over
 * "123456789"); mc_crc16 is CRC-16/CCITT-FALSE (poly 1021, init FFFF, no final
 * XOR, check value 29B1).  They detect accidental damage and torn writes, not
 * tampering. */
#ifndef MC_CRC_H
#define MC_CRC_H

#include <stddef.h>
#include <stdint.h>

#define MC_CRC16_INIT 0xFFFFu
#define MC_CRC32_INIT 0xFFFFFFFFu

uint16_t mc_crc16_update(uint16_t crc, const void *buf, size_t len);
uint16_t mc_crc16(const void *buf, size_t len);

uint32_t mc_crc32_update(uint32_t crc, const void *buf, size_t len);
uint32_t mc_crc32_final(uint32_t crc);
uint32_t mc_crc32(const void *buf, size_t len);

#endif
