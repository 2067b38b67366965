/*
 * Interrupt lines from devices to the in-kernel irqchip. A device holds an
 * irq_line and raises or lowers it; the VM supplies the implementation
 * (KVM_IRQ_LINE), and unit tests link a fake one.
 */
#ifndef MINNOW_IRQ_H
#define MINNOW_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_line {
	int vm_fd;
	uint32_t gsi;
};

/* Sets the line's level. Returns 0 or a negative errno. */
int irq_line_set(const struct irq_line *line, bool level);

/* Raises then lowers the line: one edge. */
int irq_line_pulse(const struct irq_line *line);

#endif
