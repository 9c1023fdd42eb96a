/* arm_sim.h: the target's backend of the simulator test API (test/arm/). */
#ifndef ARM_SIM_H
#define ARM_SIM_H
#include <stdint.h>
#include "mc_sim.h"
/* NVM of size bytes in a new host file (semihosting), erased: 0 or -1. */
int arm_sim_open_host(mc_sim *sim, const char *path, uint32_t size);
void arm_sim_close_host(mc_sim *sim);
#endif
