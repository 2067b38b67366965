/* vCPU exit dispatch, fed synthetic struct kvm_run exits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/kvm.h>

#include "vmm/vcpu.h"

struct recorder {
	unsigned int calls;
	uint64_t offsets[8];
	uint8_t written[8];
};

static void record_io(void *opaque, uint64_t offset, uint8_t *data,
		      uint32_t len, bool is_write)
{
	struct recorder *r = opaque;

	if (r->calls < 8) {
		r->offsets[r->calls] = offset;
		r->written[r->calls] = is_write ? data[0] : 0;
	}
	r->calls++;
	if (!is_write)
		memset(data, 0x11, len);
}

static struct vm vm;
static union {
	struct kvm_run run;
	uint8_t page[4096];
} area;

static int setup(void **state)
{
	memset(&vm, 0, sizeof(vm));
	memset(&area, 0, sizeof(area));
	pthread_mutex_init(&vm.stop_lock, NULL);
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	return 0;
}

static void test_string_pio(void **state)
{
	struct recorder rec = {0};
	uint8_t *data;

	assert_int_equal(
		bus_register(&vm.pio, 0x3f8, 8, "com1", record_io, &rec), 0);
	/* REP OUTSB of three bytes to port 0x3f8. */
	area.run.exit_reason = KVM_EXIT_IO;
	area.run.io.direction = KVM_EXIT_IO_OUT;
	area.run.io.size = 1;
	area.run.io.port = 0x3f8;
	area.run.io.count = 3;
	area.run.io.data_offset = 1024;
	data = area.page + 1024;
	memcpy(data, "abc", 3);
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_CONTINUE);
	assert_int_equal(rec.calls, 3);
	assert_memory_equal(rec.written, "abc", 3);
}

static void test_unclaimed_pio_reads_ones(void **state)
{
	area.run.exit_reason = KVM_EXIT_IO;
	area.run.io.direction = KVM_EXIT_IO_IN;
	area.run.io.size = 2;
	area.run.io.port = 0x1234;
	area.run.io.count = 1;
	area.run.io.data_offset = 512;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_CONTINUE);
	assert_int_equal(area.page[512], 0xff);
	assert_int_equal(area.page[513], 0xff);
}

static void test_mmio(void **state)
{
	struct recorder rec = {0};

	assert_int_equal(bus_register(&vm.mmio, 0xd0000000, 0x1000, "virtio",
				      record_io, &rec),
			 0);
	area.run.exit_reason = KVM_EXIT_MMIO;
	area.run.mmio.phys_addr = 0xd0000070;
	area.run.mmio.len = 4;
	area.run.mmio.is_write = 0;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 1), VCPU_CONTINUE);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.offsets[0], 0x70);
	assert_int_equal(area.run.mmio.data[3], 0x11);

	/* A hole in the MMIO space. */
	area.run.mmio.phys_addr = 0xd0001000;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 1), VCPU_CONTINUE);
	assert_int_equal(area.run.mmio.data[0], 0xff);
	assert_int_equal(rec.calls, 1);
}

static void test_triple_fault_is_reset(void **state)
{
	area.run.exit_reason = KVM_EXIT_SHUTDOWN;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_STOP);
	assert_true(atomic_load(&vm.stop_requested));
	assert_int_equal(vm.exit_status, VM_EXIT_RESET);
}

static void test_system_events(void **state)
{
	area.run.exit_reason = KVM_EXIT_SYSTEM_EVENT;
	area.run.system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_STOP);
	assert_int_equal(vm.exit_status, VM_EXIT_POWEROFF);

	/* The first stop request wins. */
	area.run.system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_STOP);
	assert_int_equal(vm.exit_status, VM_EXIT_POWEROFF);
}

static void test_failures_are_crashes(void **state)
{
	static const uint32_t reasons[] = {KVM_EXIT_INTERNAL_ERROR,
					   KVM_EXIT_FAIL_ENTRY, 9999};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		setup(NULL);
		area.run.exit_reason = reasons[i];
		area.run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
		area.run.emulation_failure.flags =
			KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		area.run.emulation_failure.insn_size = 200; /* clamped */
		assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0),
				 VCPU_STOP);
		assert_int_equal(vm.exit_status, VM_EXIT_CRASH);
	}
}

static void test_kick_continues_until_stop(void **state)
{
	area.run.exit_reason = KVM_EXIT_INTR;
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_CONTINUE);
	vm_request_stop(&vm, 7, "test");
	assert_int_equal(vcpu_handle_exit(&vm, &area.run, 0), VCPU_STOP);
	assert_int_equal(vm.exit_status, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_string_pio, setup),
		cmocka_unit_test_setup(test_unclaimed_pio_reads_ones, setup),
		cmocka_unit_test_setup(test_mmio, setup),
		cmocka_unit_test_setup(test_triple_fault_is_reset, setup),
		cmocka_unit_test_setup(test_system_events, setup),
		cmocka_unit_test_setup(test_failures_are_crashes, setup),
		cmocka_unit_test_setup(test_kick_continues_until_stop, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
