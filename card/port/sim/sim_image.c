/* sim_image.c: what every program that serves a simulated card from an image
 * file shares (mnap-vcard, the mnap command line's --card-image, the
 * in-process transport): the simulator's test transport key and key-set
 * family, and the one-process-per-image lock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "mc_sim.h"

/* TEST KEY, public: never use it for a real card (PROTOCOL.md §1). */
const uint8_t mc_sim_test_key[16] = {
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F
};
/* Diversification data is serial || family (PROTOCOL.md §7, §11). */
const uint8_t mc_sim_test_family[2] = { 0x00, 0x01 };

int mc_sim_lock(mc_sim *sim, const char *path, char *err, size_t err_cap)
{
    if (sim->fd < 0)
        return 0;
    /* Two processes serving one image would corrupt it without noticing. */
    if (flock(sim->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, err_cap, "%s: card image in use by another process (%s)", path,
                 errno == EWOULDBLOCK ? "locked" : strerror(errno));
        return -1;
    }
    return 0;
}
