/* The REST API front end, started from main() (see vmm_main.c). */
#ifndef MINNOW_VMM_MAIN_H
#define MINNOW_VMM_MAIN_H

#include <stdbool.h>

/* True when argv[1] is arg and starts the API mode. */
bool vmm_main_wants(const char *arg);

/* Runs the API mode; returns minnow's exit status. */
int vmm_main(int argc, char **argv);

#endif
