/* Exception reporting: any CPU exception prints its state and fails. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

/* Builds the IDT and loads it; once, on the BSP. */
void trap_init(void);

/* Loads the IDT built by trap_init() on the calling CPU (APs). */
void trap_load(void);

#endif
