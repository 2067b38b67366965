/* Interrupt lines into KVM's in-kernel irqchip (KVM_IRQ_LINE). */
#include "devices/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

int irq_line_set(const struct irq_line *line, bool level)
{
	struct kvm_irq_level irq = {.irq = line->gsi, .level = level};

	if (ioctl(line->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int irq_line_pulse(const struct irq_line *line)
{
	int err = irq_line_set(line, true);

	if (err)
		return err;
	return irq_line_set(line, false);
}
