/*
 * Giving up privilege once the devices are open: every capability, and
 * no new ones through execve (PR_SET_NO_NEW_PRIVS), with libcap-ng.
 */
#ifndef MINNOW_CAPS_H
#define MINNOW_CAPS_H

#include <stdbool.h>

/*
 * Drops the calling thread's capabilities: effective, permitted,
 * inheritable, ambient and, when it may (CAP_SETPCAP), the bounding set;
 * then sets PR_SET_NO_NEW_PRIVS. Threads started later inherit all of it,
 * so call it while the process has one thread. keep_fs keeps the four a
 * file server running as root needs to act for the guest's users on a
 * shared directory (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID):
 * for virtio-fs only. Returns 0 or a negative errno (logged).
 */
int caps_drop(bool keep_fs);

/*
 * Empties the bounding set only (it takes CAP_SETPCAP): for a caller that
 * is about to give up root, after which caps_drop() no longer could.
 * 0 or a negative errno (logged).
 */
int caps_drop_bounding(void);

#endif
