/* mb_unaligned.c: negative control of the microbit runs.  A 32-bit load from
 * an odd address must fault on the Cortex-M0 (ARMv6-M has no unaligned
 * access): the port's HardFault handler reports it and exits with status 1.
 * test/arm/run.sh requires exactly that, so a QEMU that stopped modelling
 * the fault would be noticed (the replay's pass would prove less). */
#include <stdint.h>
#include "mq_port.h"

static uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

int main(void)
{
    /* the address goes through a volatile so the compiler cannot see that
     * it is odd (it would split the load into byte loads) */
    uint8_t *volatile addr = bytes + 1;
    uint32_t v;
    __asm__ volatile("ldr %0, [%1]" : "=l"(v) : "l"(addr) : "memory");
    mq_puts("mb_unaligned: no fault on an unaligned load (value ");
    mq_puthex(v);
    mq_puts(")\n");
    return 0;
}
