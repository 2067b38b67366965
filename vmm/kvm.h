/* Opening /dev/kvm and checking what minnow needs from it. */
#ifndef MINNOW_KVM_H
#define MINNOW_KVM_H

#define KVM_DEVICE_PATH "/dev/kvm"

/*
 * Opens /dev/kvm and checks the API version and every capability minnow
 * relies on. Returns the fd, or a negative errno after one message that
 * names what is missing and what to do.
 */
int kvm_open(void);

#endif
