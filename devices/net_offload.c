/* Mapping negotiated virtio-net offloads onto the tap's TUN_F_* flags. */
#include "devices/net_offload.h"
#include "devices/net_hdr.h"

#include <linux/if_tun.h>

uint64_t net_offload_features(unsigned int tun_offloads)
{
	uint64_t f = 0;

	if (!(tun_offloads & TUN_F_CSUM))
		return 0;

	/* virtio 1.2, 5.1.3.1: every segmentation offload needs CSUM. */
	f |= NET_FEATURE(VIRTIO_NET_F_CSUM) |
	     NET_FEATURE(VIRTIO_NET_F_GUEST_CSUM);
	if (tun_offloads & TUN_F_TSO4)
		f |= NET_FEATURE(VIRTIO_NET_F_HOST_TSO4) |
		     NET_FEATURE(VIRTIO_NET_F_GUEST_TSO4);
	if (tun_offloads & TUN_F_TSO6)
		f |= NET_FEATURE(VIRTIO_NET_F_HOST_TSO6) |
		     NET_FEATURE(VIRTIO_NET_F_GUEST_TSO6);
	if (tun_offloads & TUN_F_UFO)
		f |= NET_FEATURE(VIRTIO_NET_F_HOST_UFO) |
		     NET_FEATURE(VIRTIO_NET_F_GUEST_UFO);
	return f;
}

unsigned int net_offload_tun_flags(uint64_t driver_features)
{
	unsigned int flags = 0;

	if (!(driver_features & NET_FEATURE(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	flags |= TUN_F_CSUM;
	if (driver_features & NET_FEATURE(VIRTIO_NET_F_GUEST_TSO4))
		flags |= TUN_F_TSO4;
	if (driver_features & NET_FEATURE(VIRTIO_NET_F_GUEST_TSO6))
		flags |= TUN_F_TSO6;
	if (driver_features & NET_FEATURE(VIRTIO_NET_F_GUEST_UFO))
		flags |= TUN_F_UFO;
	return flags;
}
