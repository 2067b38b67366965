/* The REST API's endpoints: one handler per /api/v1/ path. */
#include "vmm/api.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define API_ROOT "/api/v1/"

struct api_call {
	struct api_vmm *s;
	const struct api_http_request *req;
	int *fds;
	unsigned int nr_fds;
	struct api_response *resp;
};

/* An error body: a JSON array holding one message. */
__attribute__((format(printf, 3, 4))) static void api_reply_error(
	struct api_call *call, int code, const char *fmt, ...)
{
	json_object *arr = json_object_new_array();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("api: %s: %d %s", call->req->path, code, msg);

	call->resp->code = code;
	if (!arr)
		return;
	json_object_array_add(arr, json_object_new_string(msg));
	call->resp->body = strdup(json_object_to_json_string_ext(
		arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

static void api_reply(struct api_call *call, int code, char *body)
{
	call->resp->code = code;
	call->resp->body = body;
}

static const char *api_state_name(enum api_vm_state state)
{
	switch (state) {
	case API_VM_RUNNING:
		return "Running";
	case API_VM_PAUSED:
		return "Paused";
	case API_VM_SHUTDOWN:
		return "Shutdown";
	default:
		return "Created";
	}
}

static bool api_vm_is_up(struct api_vmm *s)
{
	enum api_vm_state state = api_vm_state(&s->vm);

	return state == API_VM_RUNNING || state == API_VM_PAUSED;
}

/* Cloud Hypervisor answers 404 for any VM request before vm.create. */
static bool api_need_config(struct api_call *call)
{
	if (call->s->config)
		return true;
	api_reply_error(call, 404,
			"the VM has not been created "
			"(vm.create first)");
	return false;
}

static void api_on_vmm_ping(struct api_call *call)
{
	char *body = NULL;

	if (asprintf(&body,
		     "{\"build_version\":\"minnow v%s\",\"version\":\"%s\","
		     "\"pid\":%d,\"features\":[]}",
		     MINNOW_VERSION, MINNOW_VERSION, (int)getpid()) < 0)
		body = NULL;
	api_reply(call, 200, body);
}

static void api_on_vmm_shutdown(struct api_call *call)
{
	api_vm_shutdown(&call->s->vm);
	call->s->exit_requested = true;
	api_reply(call, 204, NULL);
}

static void api_on_vm_create(struct api_call *call)
{
	struct api_vmm *s = call->s;
	struct api_error err;

	if (s->config) {
		api_reply_error(call, 500,
				"vm.create: the VM is already "
				"created (vm.delete first)");
		return;
	}
	s->config = api_config_parse(call->req->body, call->req->body_len,
				     &err);
	if (!s->config) {
		api_reply_error(call, 400, "vm.create: %s", err.msg);
		return;
	}
	api_reply(call, 204, NULL);
}

static void api_on_vm_delete(struct api_call *call)
{
	struct api_vmm *s = call->s;

	api_vm_shutdown(&s->vm);
	api_vm_forget(&s->vm);
	api_config_free(s->config);
	s->config = NULL;
	api_reply(call, 204, NULL);
}

static void api_on_vm_info(struct api_call *call)
{
	char *body;

	if (!api_need_config(call))
		return;
	body = api_config_info(call->s->config,
			       api_state_name(api_vm_state(&call->s->vm)));
	if (!body) {
		api_reply_error(call, 500, "vm.info: out of memory");
		return;
	}
	api_reply(call, 200, body);
}

static void api_on_vm_boot(struct api_call *call)
{
	struct api_vmm *s = call->s;
	struct cli_run run;
	int err;

	if (!api_need_config(call))
		return;
	if (api_vm_is_up(s)) {
		api_reply_error(call, 500,
				"vm.boot: the VM is already "
				"booted");
		return;
	}
	api_config_to_run(s->config, &run);
	err = api_vm_boot(&s->vm, &run);
	if (err) {
		api_reply_error(call, 500,
				"vm.boot: the VM could not be built (%s); "
				"minnow's log says why",
				strerror(-err));
		return;
	}
	api_reply(call, 204, NULL);
}

static void api_on_vm_shutdown(struct api_call *call)
{
	if (!api_need_config(call))
		return;
	if (api_vm_shutdown(&call->s->vm)) {
		api_reply_error(call, 500,
				"vm.shutdown: the VM is not "
				"running");
		return;
	}
	api_reply(call, 204, NULL);
}

static void api_on_vm_reboot(struct api_call *call)
{
	int err;

	if (!api_need_config(call))
		return;
	err = api_vm_reboot(&call->s->vm);
	if (err == -ESRCH)
		api_reply_error(call, 500,
				"vm.reboot: the VM is not "
				"booted");
	else if (err)
		api_reply_error(call, 500,
				"vm.reboot: the VM could not be built "
				"again (%s)",
				strerror(-err));
	else
		api_reply(call, 204, NULL);
}

static void api_on_vm_pause(struct api_call *call)
{
	if (!api_need_config(call))
		return;
	if (api_vm_pause(&call->s->vm))
		api_reply_error(call, 500, "vm.pause: the VM is not running");
	else
		api_reply(call, 204, NULL);
}

static void api_on_vm_resume(struct api_call *call)
{
	if (!api_need_config(call))
		return;
	if (api_vm_resume(&call->s->vm))
		api_reply_error(call, 500, "vm.resume: the VM is not paused");
	else
		api_reply(call, 204, NULL);
}

static void api_on_vm_add(struct api_call *call, enum api_device_kind kind,
			  const char *name)
{
	struct api_vmm *s = call->s;
	unsigned int taken = call->nr_fds;
	struct api_error err;

	if (!api_need_config(call))
		return;
	if (api_vm_is_up(s)) {
		api_reply_error(call, 500,
				"%s: minnow cannot add devices to a booted "
				"VM yet (no hotplug); add them before "
				"vm.boot",
				name);
		return;
	}
	if (api_config_add_device(s->config, kind, call->req->body,
				  call->req->body_len, call->fds, &taken,
				  &err)) {
		api_reply_error(call, 400, "%s: %s", name, err.msg);
		return;
	}
	for (unsigned int i = 0; i < taken; i++)
		call->fds[i] = -1;
	/* Cloud Hypervisor answers a PciDeviceInfo; minnow has no PCI. */
	api_reply(call, 204, NULL);
}

static void api_on_vm_add_disk(struct api_call *call)
{
	api_on_vm_add(call, API_DEV_DISK, "vm.add-disk");
}

static void api_on_vm_add_net(struct api_call *call)
{
	api_on_vm_add(call, API_DEV_NET, "vm.add-net");
}

static void api_on_vm_add_fs(struct api_call *call)
{
	api_on_vm_add(call, API_DEV_FS, "vm.add-fs");
}

static void api_on_vm_add_vsock(struct api_call *call)
{
	api_on_vm_add(call, API_DEV_VSOCK, "vm.add-vsock");
}

static void api_on_vm_resize(struct api_call *call)
{
	struct api_error err;
	int ret;

	if (!api_need_config(call))
		return;
	ret = api_config_check_resize(call->s->config, call->req->body,
				      call->req->body_len, &err);
	if (ret == -ENOTSUP)
		api_reply_error(call, 500, "vm.resize: %s", err.msg);
	else if (ret)
		api_reply_error(call, 400, "vm.resize: %s", err.msg);
	else
		api_reply(call, 204, NULL);
}

struct api_route {
	const char *name;
	enum api_http_method method;
	void (*handle)(struct api_call *call);
};

static const struct api_route api_routes[] = {
	{"vmm.ping", API_HTTP_GET, api_on_vmm_ping},
	{"vmm.shutdown", API_HTTP_PUT, api_on_vmm_shutdown},
	{"vm.create", API_HTTP_PUT, api_on_vm_create},
	{"vm.delete", API_HTTP_PUT, api_on_vm_delete},
	{"vm.info", API_HTTP_GET, api_on_vm_info},
	{"vm.boot", API_HTTP_PUT, api_on_vm_boot},
	{"vm.shutdown", API_HTTP_PUT, api_on_vm_shutdown},
	{"vm.reboot", API_HTTP_PUT, api_on_vm_reboot},
	{"vm.pause", API_HTTP_PUT, api_on_vm_pause},
	{"vm.resume", API_HTTP_PUT, api_on_vm_resume},
	{"vm.add-disk", API_HTTP_PUT, api_on_vm_add_disk},
	{"vm.add-net", API_HTTP_PUT, api_on_vm_add_net},
	{"vm.add-fs", API_HTTP_PUT, api_on_vm_add_fs},
	{"vm.add-vsock", API_HTTP_PUT, api_on_vm_add_vsock},
	{"vm.resize", API_HTTP_PUT, api_on_vm_resize},
};

void api_handle(struct api_vmm *s, const struct api_http_request *req, int *fds,
		unsigned int nr_fds, struct api_response *resp)
{
	struct api_call call = {s, req, fds, nr_fds, resp};
	const char *name = req->path;

	resp->code = 500;
	resp->body = NULL;
	if (strncmp(name, API_ROOT, strlen(API_ROOT)) == 0)
		name += strlen(API_ROOT);
	else
		name = NULL;

	for (size_t i = 0;
	     name && i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		const struct api_route *r = &api_routes[i];

		if (strcmp(name, r->name) != 0)
			continue;
		if (req->method != r->method) {
			api_reply_error(&call, 400, "%s: use %s", r->name,
					r->method == API_HTTP_GET ? "GET"
								  : "PUT");
			return;
		}
		r->handle(&call);
		return;
	}
	api_reply_error(&call, 404, "%s: no such endpoint", req->path);
}

int api_vmm_init(struct api_vmm *s)
{
	memset(s, 0, sizeof(*s));
	return api_vm_init(&s->vm);
}

void api_vmm_destroy(struct api_vmm *s)
{
	api_vm_destroy(&s->vm);
	api_config_free(s->config);
	s->config = NULL;
}

int api_vmm_create_and_boot(struct api_vmm *s, const char *json, size_t len)
{
	struct api_error err;
	struct cli_run run;

	s->config = api_config_parse(json, len, &err);
	if (!s->config) {
		log_error("api: --config: %s", err.msg);
		return -EINVAL;
	}
	api_config_to_run(s->config, &run);
	return api_vm_boot(&s->vm, &run);
}
