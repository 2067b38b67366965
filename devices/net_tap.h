/*
 * The tap back end of virtio-net: opening a tap by name or adopting one
 * already open, checking its flags, and setting its vnet header size and
 * offloads. Packets themselves move through the event loop (see
 * devices/virtio_net.c); this file only owns the descriptor.
 */
#ifndef MINNOW_NET_TAP_H
#define MINNOW_NET_TAP_H

#include <net/if.h>
#include <stdbool.h>

struct net_tap {
	int fd;      /* non-blocking; -1 when closed */
	bool owned;  /* opened here, closed by net_tap_close() */
	bool is_tap; /* false only for a test's socketpair */
	char name[IFNAMSIZ];
	unsigned int offloads; /* TUN_F_* the kernel accepted when probed */
};

/*
 * Opens /dev/net/tun and attaches to (or creates) tap name with IFF_TAP,
 * IFF_NO_PI and IFF_VNET_HDR. Returns 0 or a negative errno after one
 * message naming the tap and what to do.
 */
int net_tap_open(struct net_tap *tap, const char *name);

/*
 * Takes over fd, an open tap (the caller keeps ownership: it is not
 * closed). Checks with TUNGETIFF that it is a tap with IFF_NO_PI and
 * IFF_VNET_HDR. Returns 0 or a negative errno after one message.
 */
int net_tap_adopt(struct net_tap *tap, int fd);

/*
 * Sets the TUN_F_* offloads the tap may hand us (TUNSETOFFLOAD). Returns
 * 0 or a negative errno. Any thread.
 */
int net_tap_set_offloads(struct net_tap *tap, unsigned int flags);

/* Closes the descriptor if owned. */
void net_tap_close(struct net_tap *tap);

#endif
