/*
 * A guest that stays up until minnow stops it, for the REST API tests:
 * it names the virtio devices it finds, then halts with interrupts off.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

static const struct {
	uint32_t id;
	const char *name;
} idle_kinds[] = {
	{VIRTIO_ID_NET, "net"},     {VIRTIO_ID_BLOCK, "blk"},
	{VIRTIO_ID_ENTROPY, "rng"}, {VIRTIO_ID_VSOCK, "vsock"},
	{VIRTIO_ID_FS, "fs"},
};

int main(void)
{
	struct virtio_window w;

	printf("idle: up with cmdline \"%s\"\n", boot_info.cmdline);
	for (unsigned int i = 0; i < sizeof(idle_kinds) / sizeof(idle_kinds[0]);
	     i++) {
		unsigned int n = 0;

		while (virtio_find(idle_kinds[i].id, n, &w) == 0)
			n++;
		printf("idle: virtio-%s x%u\n", idle_kinds[i].name, n);
	}
	printf("idle: halting until stopped\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
