/* The REST API's VM thread: boot, run, reboot on reset, stop. */
#include "vmm/api_vm.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int api_vm_init(struct api_vm *v)
{
	memset(v, 0, sizeof(*v));
	v->launch = calloc(1, sizeof(*v->launch));
	if (!v->launch)
		return -ENOMEM;
	v->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->event_fd < 0) {
		free(v->launch);
		return -errno;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->state = API_VM_CREATED;
	return 0;
}

/*
 * With v->lock held: the VM thread is done. by_guest: the guest ended it
 * (power-off, crash, a failed reboot after its reset), not an API call.
 */
static void api_vm_finish(struct api_vm *v, int status, bool by_guest)
{
	v->state = API_VM_SHUTDOWN;
	if (by_guest) {
		uint64_t one = 1;

		v->guest_exited = true;
		v->exit_status = status;
		if (write(v->event_fd, &one, sizeof(one)) < 0)
			log_warn("api: cannot signal the VM's end: %s",
				 strerror(errno));
	}
}

static void *api_vm_thread(void *arg)
{
	struct api_vm *v = arg;
	struct launch *l = v->launch;
	bool again, guest_reset = false;
	int err, status;

	do {
		err = launch_prepare(l, &v->run);

		pthread_mutex_lock(&v->lock);
		v->prepare_err = err;
		v->generation++;
		if (err) {
			launch_cleanup(l);
			api_vm_finish(v, VM_EXIT_ERROR, guest_reset);
			pthread_cond_broadcast(&v->cond);
			pthread_mutex_unlock(&v->lock);
			break;
		}
		v->vm_live = true;
		v->state = API_VM_RUNNING;
		if (v->stop_requested)
			vm_request_stop(&l->vm, VM_EXIT_POWEROFF,
					"vm.shutdown");
		pthread_cond_broadcast(&v->cond);
		pthread_mutex_unlock(&v->lock);

		status = vm_run(&l->vm);

		/* Under the lock: the API thread may be using the VM. */
		pthread_mutex_lock(&v->lock);
		v->vm_live = false;
		launch_cleanup(l);
		/* A guest reset reboots, as vm.reboot does. */
		guest_reset = status == VM_EXIT_RESET && !v->reboot_requested;
		again = !v->stop_requested &&
			(v->reboot_requested || status == VM_EXIT_RESET);
		v->reboot_requested = false;
		if (again)
			log_info("api: rebooting the VM");
		else
			api_vm_finish(v, status, !v->stop_requested);
		pthread_cond_broadcast(&v->cond);
		pthread_mutex_unlock(&v->lock);
	} while (again);
	return NULL;
}

/* With v->lock held: waits for the next launch_prepare() result. */
static int api_vm_wait_prepared(struct api_vm *v, unsigned int generation)
{
	while (v->generation == generation)
		pthread_cond_wait(&v->cond, &v->lock);
	return v->prepare_err;
}

static void api_vm_join(struct api_vm *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

int api_vm_boot(struct api_vm *v, const struct cli_run *run)
{
	unsigned int generation;
	int err;

	pthread_mutex_lock(&v->lock);
	if (v->state == API_VM_RUNNING || v->state == API_VM_PAUSED) {
		pthread_mutex_unlock(&v->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&v->lock);
	api_vm_join(v);

	v->run = *run;
	v->stop_requested = v->reboot_requested = v->guest_exited = false;
	generation = v->generation;
	err = pthread_create(&v->thread, NULL, api_vm_thread, v);
	if (err) {
		log_error("api: cannot start the VM thread: %s", strerror(err));
		return -err;
	}
	v->thread_started = true;

	pthread_mutex_lock(&v->lock);
	err = api_vm_wait_prepared(v, generation);
	pthread_mutex_unlock(&v->lock);
	if (err)
		api_vm_join(v);
	return err;
}

int api_vm_shutdown(struct api_vm *v)
{
	pthread_mutex_lock(&v->lock);
	if (!v->thread_started ||
	    (v->state != API_VM_RUNNING && v->state != API_VM_PAUSED)) {
		pthread_mutex_unlock(&v->lock);
		return -ESRCH;
	}
	v->stop_requested = true;
	if (v->vm_live)
		vm_request_stop(&v->launch->vm, VM_EXIT_POWEROFF,
				"vm.shutdown");
	pthread_mutex_unlock(&v->lock);

	api_vm_join(v);
	v->state = API_VM_SHUTDOWN;
	return 0;
}

int api_vm_pause(struct api_vm *v)
{
	int err = -ESRCH;

	pthread_mutex_lock(&v->lock);
	if (v->vm_live && v->state == API_VM_RUNNING) {
		err = vm_pause(&v->launch->vm);
		if (err == 0)
			v->state = API_VM_PAUSED;
	}
	pthread_mutex_unlock(&v->lock);
	return err;
}

int api_vm_resume(struct api_vm *v)
{
	int err = -ESRCH;

	pthread_mutex_lock(&v->lock);
	if (v->vm_live && v->state == API_VM_PAUSED) {
		vm_resume(&v->launch->vm);
		v->state = API_VM_RUNNING;
		err = 0;
	}
	pthread_mutex_unlock(&v->lock);
	return err;
}

int api_vm_reboot(struct api_vm *v)
{
	unsigned int generation;
	int err = -ESRCH;

	pthread_mutex_lock(&v->lock);
	if (v->vm_live) {
		generation = v->generation;
		v->reboot_requested = true;
		vm_request_stop(&v->launch->vm, VM_EXIT_RESET, "vm.reboot");
		err = api_vm_wait_prepared(v, generation);
	}
	pthread_mutex_unlock(&v->lock);
	if (err && err != -ESRCH)
		api_vm_join(v);
	return err;
}

enum api_vm_state api_vm_state(struct api_vm *v)
{
	enum api_vm_state state;

	pthread_mutex_lock(&v->lock);
	state = v->state;
	pthread_mutex_unlock(&v->lock);
	return state;
}

bool api_vm_guest_exit(struct api_vm *v, int *status)
{
	bool exited;

	pthread_mutex_lock(&v->lock);
	exited = v->guest_exited;
	*status = v->exit_status;
	pthread_mutex_unlock(&v->lock);
	return exited;
}

void api_vm_forget(struct api_vm *v)
{
	api_vm_join(v);
	v->state = API_VM_CREATED;
	v->guest_exited = false;
}

void api_vm_destroy(struct api_vm *v)
{
	api_vm_shutdown(v);
	api_vm_join(v);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	close(v->event_fd);
	free(v->launch);
}
