/* mc_types.h: constants and status codes of the card runtime that every
 * card module (and every caller) shares. */
#ifndef MC_TYPES_H
#define MC_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Limits of the reference build (PROTOCOL.md §11). */
#define MC_MAX_COMMAND_DATA   2048   /* DF20 tag 88: command data before protection */
#define MC_MAX_RESPONSE_DATA  2048   /* DF20 tag 87: response data before protection */
/* A response buffer of this size always suffices: data, R-ENC padding, R-MAC, SW. */
#define MC_RSP_BUF_SIZE       (MC_MAX_RESPONSE_DATA + 16 + 8 + 2)
/* The longest APDU a transport needs to accept: extended header, Lc, protected
 * data, Le. */
#define MC_CMD_BUF_SIZE       (4 + 3 + MC_MAX_COMMAND_DATA + 16 + 8 + 3)

#define MC_SERIAL_LEN 8
#define MC_DIV_DATA_LEN 10

/* mc_sw_of (mc_sw.h) turns these into status-word codes by their negation:
 * a new value needs its code there, in that order. */
typedef enum mc_status {
    MC_OK = 0,
    MC_ERR_PARAM = -1,     /* bad argument */
    MC_ERR_NVM = -2,       /* the port failed an NVM read/write (e.g. power cut) */
    MC_ERR_CORRUPT = -3    /* NVM content failed its checks: the card answers 6581 */
} mc_status;

#endif
