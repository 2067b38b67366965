/*
 * Offload negotiation between the guest's virtio-net driver and the tap:
 * which features to offer given what the tap's kernel supports, and which
 * TUNSETOFFLOAD flags match what the driver accepted. Pure functions.
 *
 * Directions: HOST_* features are what the driver may send (the tap then
 * takes partial checksums and large segments written to it, always
 * accepted once the vnet header is on); GUEST_* features are what the
 * driver takes, and TUNSETOFFLOAD tells the tap what it may hand us.
 */
#ifndef MINNOW_NET_OFFLOAD_H
#define MINNOW_NET_OFFLOAD_H

#include <stdint.h>

/* The TUN_F_* flags minnow may ask for (linux/if_tun.h). */
#define NET_TUN_OFFLOADS_ALL 0x17u /* CSUM | TSO4 | TSO6 | UFO */

/*
 * The virtio-net offload features to offer given the TUN_F_* flags the
 * tap accepted when probed (tun_offloads). UFO either way only when the
 * kernel still takes TUN_F_UFO.
 */
uint64_t net_offload_features(unsigned int tun_offloads);

/*
 * The TUN_F_* flags to set for the features the driver accepted. Honours
 * virtio 1.2, 5.1.3.1: a GUEST_TSO or GUEST_UFO without GUEST_CSUM is
 * ignored (the tap refuses them too).
 */
unsigned int net_offload_tun_flags(uint64_t driver_features);

#endif
