/* Opening and configuring the tap device behind a virtio-net device. */
#include "devices/net_tap.h"
#include "devices/net_hdr.h"
#include "devices/net_offload.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Which offloads the kernel takes, most first: UFO came back to tun only
 * for compatibility and may be missing (Linux tun/tap: TUNSETOFFLOAD
 * fails with EINVAL for a flag it does not know).
 */
static unsigned int net_tap_probe_offloads(int fd)
{
	static const unsigned int tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM,
	};
	unsigned int found = 0;

	for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0) {
			found = tries[i];
			break;
		}
	}

	/* Nothing until the guest negotiates. */
	if (ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
		return 0;
	return found;
}

/* Header size, non-blocking mode and offload probe; the common part. */
static int net_tap_setup(struct net_tap *tap)
{
	int hdr_len = (int)NET_HDR_LEN;
	int fl, err;

	/* Linux tun/tap: the vnet header must match virtio 1.2's 12 bytes. */
	if (ioctl(tap->fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		err = -errno;
		log_error("net: %s: TUNSETVNETHDRSZ: %s", tap->name,
			  strerror(-err));
		return err;
	}

	/* Reads complete at once or with -EAGAIN; see devices/virtio_net.c. */
	fl = fcntl(tap->fd, F_GETFL);
	if (fl < 0 || fcntl(tap->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		log_error("net: %s: cannot make it non-blocking: %s", tap->name,
			  strerror(-err));
		return err;
	}
	tap->offloads = net_tap_probe_offloads(tap->fd);
	log_debug("net: %s: tap offloads 0x%x", tap->name, tap->offloads);
	return 0;
}

int net_tap_open(struct net_tap *tap, const char *name)
{
	struct ifreq ifr = {0};
	int err;

	memset(tap, 0, sizeof(*tap));
	tap->is_tap = true;
	snprintf(tap->name, sizeof(tap->name), "%s", name);
	tap->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap->fd < 0) {
		err = -errno;
		log_error("net: cannot open /dev/net/tun for tap %s: %s "
			  "(is the tun module loaded?)",
			  name, strerror(-err));
		return err;
	}
	tap->owned = true;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		log_error("net: cannot attach to tap %s: %s (it must be a tap "
			  "with vnet_hdr that this user may open, e.g. `ip "
			  "tuntap add %s mode tap vnet_hdr`)",
			  name, strerror(-err), name);
		goto err_close;
	}
	err = net_tap_setup(tap);
	if (err)
		goto err_close;
	return 0;

err_close:
	net_tap_close(tap);
	return err;
}

int net_tap_adopt(struct net_tap *tap, int fd)
{
	const unsigned int need = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	struct ifreq ifr = {0};
	int err;

	memset(tap, 0, sizeof(*tap));
	tap->is_tap = true;
	tap->fd = fd;
	snprintf(tap->name, sizeof(tap->name), "fd %d", fd);
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		err = -errno;
		log_error("net: --net fd=%d: not an open tap (TUNGETIFF: %s)",
			  fd, strerror(-err));
		return err;
	}
	if (((unsigned int)ifr.ifr_flags & need) != need ||
	    ((unsigned int)ifr.ifr_flags & IFF_TUN)) {
		log_error("net: --net fd=%d: tap %.*s has flags 0x%x; it must "
			  "be opened with IFF_TAP, IFF_NO_PI and IFF_VNET_HDR",
			  fd, IFNAMSIZ, ifr.ifr_name,
			  (unsigned int)ifr.ifr_flags & 0xffff);
		return -EINVAL;
	}
	snprintf(tap->name, sizeof(tap->name), "%.*s", IFNAMSIZ - 1,
		 ifr.ifr_name);
	return net_tap_setup(tap);
}

int net_tap_set_offloads(struct net_tap *tap, unsigned int flags)
{
	if (!tap->is_tap)
		return 0;
	if (ioctl(tap->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}

void net_tap_close(struct net_tap *tap)
{
	if (tap->owned && tap->fd >= 0)
		close(tap->fd);
	tap->fd = -1;
	tap->owned = false;
}
