/* mq_start.c: vector table and reset handler of the bare-metal QEMU port.
 *
 * Reset: copy .data from its load address, zero .bss, open the semihosting
 * stdio handles (librdimon), run the program's main, exit through
 * semihosting with its status.  A HardFault (on the Cortex-M0 an unaligned
 * access is one) prints the faulting PC and exits with status 1. */
#include <stdint.h>
#include <string.h>
#include "mq_port.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
/* librdimon's stdio set-up: weak, so a firmware without stdio (the microbit
 * replay) does not pull newlib's stdio into its 16 KiB. */
extern void initialise_monitor_handles(void) __attribute__((weak));
extern int main(void);

#define SYS_EXIT 0x18
#define ADP_Stopped_ApplicationExit 0x20026
#define ADP_Stopped_RunTimeErrorUnknown 0x20023

int mq_semihost(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void mq_puts(const char *s)
{
    (void)mq_semihost(0x04 /* SYS_WRITE0 */, (void *)s);
}

void mq_puthex(uint32_t v)
{
    char b[9];
    for (int i = 7; i >= 0; i--, v >>= 4)
        b[i] = "0123456789abcdef"[v & 15];
    b[8] = 0;
    mq_puts(b);
}

void mq_putdec(uint32_t v)
{
    char b[11];
    int i = 10;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    mq_puts(b + i);
}

void mq_exit(int status)
{
    for (;;)
        (void)mq_semihost(SYS_EXIT, (void *)(uintptr_t)(status == 0 ? ADP_Stopped_ApplicationExit
                                                                     : ADP_Stopped_RunTimeErrorUnknown));
}

void mq_reset(void) __attribute__((noreturn));
void mq_reset(void)
{
    uint32_t *s = &_sidata, *d = &_sdata;
    if (s != d)
        while (d < &_edata)
            *d++ = *s++;
    for (d = &_sbss; d < &_ebss; d++)
        *d = 0;
    if (initialise_monitor_handles)
        initialise_monitor_handles();
    mq_exit(main());
}

/* Called from the assembly shim with the stacked exception frame. */
void mq_fault_report(uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));
void mq_fault_report(uint32_t *frame, uint32_t exc_return)
{
    (void)exc_return;
    mq_puts("\nmq: HardFault at pc=");
    mq_puthex(frame[6]);
    mq_puts(" lr=");
    mq_puthex(frame[5]);
    mq_puts(" r0=");
    mq_puthex(frame[0]);
    mq_puts(" r1=");
    mq_puthex(frame[1]);
    mq_puts("\n");
    mq_exit(1);
}

/* Thumb-1 (ARMv6-M) safe: pick MSP or PSP by bit 2 of EXC_RETURN. */
void mq_hardfault(void) __attribute__((naked));
void mq_hardfault(void)
{
    __asm__ volatile(
        "movs r0, #4\n"
        "mov r1, lr\n"
        "tst r0, r1\n"
        "beq 1f\n"
        "mrs r0, psp\n"
        "b 2f\n"
        "1: mrs r0, msp\n"
        "2: ldr r2, =mq_fault_report\n"
        "bx r2\n");
}

static void mq_other(void)
{
    mq_puts("\nmq: unexpected exception\n");
    mq_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const mq_vectors[16])(void) = {
    (void (*)(void))&_estack, mq_reset, mq_other, mq_hardfault,
    mq_other, mq_other, mq_other, 0, 0, 0, 0, mq_other, mq_other, 0, mq_other, mq_other,
};
