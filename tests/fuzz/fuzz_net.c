/*
 * libFuzzer target for what virtio-net reads from the guest and the user:
 * the transmit header check, the mergeable receive split and the --net
 * SPEC parser. The first bytes pick features, lengths and buffer sizes;
 * the rest is a header and a SPEC string.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "devices/net_hdr.h"
#include "devices/net_offload.h"
#include "devices/net_spec.h"
#include "vmm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr hdr;
	uint32_t cap[8], used[8], mtu, len;
	uint64_t features;
	struct net_spec spec;
	char text[300];
	unsigned int nr;

	log_threshold = LOG_ERROR;
	if (size < 8 + 4 + 4 + sizeof(hdr) + 32)
		return 0;
	memcpy(&features, data, 8);
	memcpy(&mtu, data + 8, 4);
	memcpy(&len, data + 12, 4);
	memcpy(&hdr, data + 16, sizeof(hdr));
	mtu = NET_MTU_MIN + mtu % (NET_MTU_MAX - NET_MTU_MIN + 1);
	net_hdr_tx_check(&hdr, features, len, net_tx_max_frame(features, mtu));
	net_hdr_rx_finish(&hdr, features, (uint16_t)len);
	net_offload_tun_flags(features);
	net_offload_features((unsigned int)features);

	/* Receive split: the header's bytes become buffer sizes. */
	nr = data[16] % 9;
	for (unsigned int i = 0; i < 8; i++)
		cap[i] = data[20 + i] * 64u + data[28 + i];
	nr = net_rx_split(cap, nr, len % 70000, used);
	for (unsigned int i = 0; i < nr; i++)
		if (used[i] > cap[i])
			__builtin_trap();

	data += 16 + sizeof(hdr);
	size -= 16 + sizeof(hdr);
	size = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	net_spec_parse(text, &spec);
	return 0;
}
