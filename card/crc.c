/* crc.c: bitwise CRC-16/CCITT-FALSE and CRC-32/ISO-HDLC (see crc.h). */
#include "crc.h"

uint16_t mc_crc16_update(uint16_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len-- > 0) {
        crc = (uint16_t)(crc ^ ((uint16_t)*p++ << 8));
        for (int i = 0; i < 8; i++)
            crc = (uint16_t)((crc & 0x8000u) ? ((unsigned)crc << 1) ^ 0x1021u : (unsigned)crc << 1);
    }
    return crc;
}

uint16_t mc_crc16(const void *buf, size_t len)
{
    return mc_crc16_update(MC_CRC16_INIT, buf, len);
}

uint32_t mc_crc32_update(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len-- > 0) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc;
}

uint32_t mc_crc32_final(uint32_t crc)
{
    return crc ^ 0xFFFFFFFFu;
}

uint32_t mc_crc32(const void *buf, size_t len)
{
    return mc_crc32_final(mc_crc32_update(MC_CRC32_INIT, buf, len));
}
