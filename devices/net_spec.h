/*
 * The --net SPEC string: "tap=NAME[,mac=MAC][,mtu=N]" opens a tap by
 * name, "fd=N[,mac=MAC][,mtu=N]" adopts one already open. Parsing only.
 */
#ifndef MINNOW_NET_SPEC_H
#define MINNOW_NET_SPEC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct net_spec {
	char tap[IFNAMSIZ]; /* "" when fd is given */
	int fd;             /* -1 when tap is given */
	bool has_mac;
	uint8_t mac[6];
	uint32_t mtu; /* 0: NET_MTU_DEFAULT */
};

/*
 * Parses spec into out. Returns 0, or -EINVAL after logging one message
 * that names the field and what is allowed.
 */
int net_spec_parse(const char *spec, struct net_spec *out);

/* Parses "aa:bb:cc:dd:ee:ff" (a unicast address); returns 0 or -EINVAL. */
int net_mac_parse(const char *s, uint8_t mac[6]);

#endif
