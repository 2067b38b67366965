/* Attaching the virtio devices named on the command line. */
#include "vmm/vm_devices.h"
#include "boot/fdt.h"
#include "devices/blk_opts.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_fs.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "devices/virtio_vsock.h"
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Attaches dev, or frees it when that fails. */
static int vm_attach_virtio(struct vm *vm, struct virtio_dev *dev,
			    const char *what)
{
	int err;

	if (!dev) {
		log_error("vm: cannot create %s", what);
		return -ENOMEM;
	}
	err = virtio_mmio_attach(vm, dev);
	if (err) {
		log_error("vm: cannot attach %s: %s", what, strerror(-err));
		virtio_dev_destroy(dev);
	}
	return err;
}

/* --vsock cid=N,socket=PATH: one device; the guest has one CID. */
static int vm_attach_vsock(struct vm *vm, const struct cli_devices *specs)
{
	struct virtio_vsock_config cfg;
	struct virtio_dev *dev;
	char *storage;
	int err;

	if (specs->nr > 1) {
		log_error("vm: --vsock given %u times: only one vsock device "
			  "is supported (the guest has one CID)",
			  specs->nr);
		return -EINVAL;
	}
	err = virtio_vsock_parse_spec(specs->specs[0], &cfg, &storage);
	if (!err) {
		dev = virtio_vsock_create(&cfg, &vm->loop);
		err = dev ? vm_attach_virtio(vm, dev, "virtio-vsock") : -EINVAL;
		if (!err)
			virtio_vsock_start(dev);
	}
	free(storage);
	return err;
}

int vm_devices_attach(struct vm *vm, const struct cli_run *opts)
{
	int err;

	if (opts->rng) {
		err = vm_attach_virtio(vm, virtio_rng_create(), "virtio-rng");
		if (err)
			return err;
	}

	/* --disk: virtio-blk */
	for (unsigned int i = 0; i < opts->disks.nr; i++) {
		struct blk_options blk_opts;
		struct virtio_dev *blk_dev;

		err = blk_options_parse(opts->disks.specs[i], &blk_opts);
		if (!err)
			err = virtio_blk_create(&blk_opts, &vm->loop, i,
						&blk_dev);
		if (!err)
			err = vm_attach_virtio(vm, blk_dev, "virtio-blk");
		if (err)
			return err;
	}

	/* --net: virtio-net */
	for (unsigned int i = 0; i < opts->nets.nr; i++) {
		struct virtio_dev *dev;

		err = virtio_net_from_spec(&vm->loop, opts->nets.specs[i],
					   &dev);
		if (err)
			return err;
		err = vm_attach_virtio(vm, dev, "virtio-net");
		if (err)
			return err;
	}

	/* --fs: virtio-fs */
	for (unsigned int i = 0; i < opts->fs.nr; i++) {
		struct virtio_dev *dev;

		err = virtio_fs_from_spec(vm, opts->fs.specs[i], &dev);
		if (!err)
			err = vm_attach_virtio(vm, dev, "virtio-fs");
		if (err)
			return err;
	}

	/* --vsock: virtio-vsock */
	if (opts->vsock.nr) {
		err = vm_attach_vsock(vm, &opts->vsock);
		if (err)
			return err;
	}
	return 0;
}

int vm_dump_dtb(const struct vm *vm, const char *path)
{
	static uint8_t dtb[BOOT_FDT_MAX_SIZE];
	ssize_t written;
	int fd, err;

	err = boot_fdt_build(vm, dtb, sizeof(dtb));
	if (err) {
		log_error("vm: cannot build the device tree: %s",
			  strerror(-err));
		return err;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		log_error("vm: cannot open %s: %s", path, strerror(-err));
		return err;
	}
	written = write(fd, dtb, fdt_totalsize(dtb));
	err = written == (ssize_t)fdt_totalsize(dtb) ? 0 : -EIO;
	if (written < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		log_error("vm: cannot write %s: %s", path, strerror(-err));
	return err;
}
