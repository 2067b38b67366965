/* /dev/kvm: open it, check the API version and the capabilities we use. */
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

int kvm_open(void)
{
	int fd, version, err;

	fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			log_error("kvm: %s does not exist: load the kvm module "
				  "(kvm_intel or kvm_amd) or run on a host "
				  "with KVM",
				  KVM_DEVICE_PATH);
		else if (err == -EACCES || err == -EPERM)
			log_error("kvm: no permission to open %s: run as a "
				  "member of its group (usually kvm)",
				  KVM_DEVICE_PATH);
		else
			log_error("kvm: cannot open %s: %s", KVM_DEVICE_PATH,
				  strerror(-err));
		return err;
	}

	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		log_error("kvm: API version %d, minnow needs %d", version,
			  KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}

	err = 0;
	for (size_t i = 0; i < ARRAY_SIZE(kvm_required_caps); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <=
		    0) {
			log_error("kvm: the host's KVM lacks %s",
				  kvm_required_caps[i].name);
			err = -ENOTSUP;
		}
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
