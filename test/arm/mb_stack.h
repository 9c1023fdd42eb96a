/* mb_stack.h: the microbit programs' stack high-water mark (mb_replay.c,
 * mb_tear.c).  mb_stack_paint fills the free RAM between the end of .bss
 * (the linker's `end`) and a little below the current stack pointer with
 * A5; mb_stack_used finds the first painted byte that was overwritten since
 * and says how far below the top of RAM (`_estack`) the stack has been. */
#ifndef MB_STACK_H
#define MB_STACK_H

#include <stdint.h>

extern uint8_t end[], _estack[];

static inline void mb_stack_paint(void)
{
    uint8_t *sp = (uint8_t *)__builtin_frame_address(0) - 64;
    for (uint8_t *p = end; p < sp; p++)
        *(volatile uint8_t *)p = 0xA5;
}

static inline uint32_t mb_stack_used(void)
{
    uint8_t *p = end;
    while (p < _estack && *(volatile uint8_t *)p == 0xA5)
        p++;
    return (uint32_t)(_estack - p);
}

#endif
