/*
 * minnow's Cloud Hypervisor-compatible REST API: the endpoints under
 * /api/v1/ (api_router.c) and the unix-socket server (api_server.c).
 *
 * Status codes follow Cloud Hypervisor: 200 with a JSON body or 204
 * without; 400 for a malformed request (the body names the field); 404
 * for an unknown endpoint or a VM that was never created; 500 for a
 * request the VM's state or minnow's features cannot satisfy. Error
 * bodies are JSON arrays of messages.
 */
#ifndef MINNOW_API_H
#define MINNOW_API_H

#include <stdbool.h>

#include "vmm/api_config.h"
#include "vmm/api_http.h"
#include "vmm/api_vm.h"

struct api_vmm {
	struct api_config *config; /* NULL until vm.create */
	struct api_vm vm;
	bool exit_requested; /* vmm.shutdown was answered */
};

struct api_response {
	int code;
	char *body; /* malloc'd JSON, or NULL */
};

/* Returns 0 or a negative errno. */
int api_vmm_init(struct api_vmm *s);

/* Stops the VM, frees the config and closes the fds it holds. */
void api_vmm_destroy(struct api_vmm *s);

/*
 * Answers one request. fds came with it (SCM_RIGHTS): the handler keeps
 * those it uses and sets them to -1; the caller closes the rest.
 */
void api_handle(struct api_vmm *s, const struct api_http_request *req, int *fds,
		unsigned int nr_fds, struct api_response *resp);

/* Creates and boots a VM from a VmConfig (for --config). 0 or -errno. */
int api_vmm_create_and_boot(struct api_vmm *s, const char *json, size_t len);

/*
 * Serves the API on a unix socket at path until vmm.shutdown, SIGTERM or
 * SIGINT (both must be blocked in every thread by the caller), or the
 * guest ending the VM. Returns minnow's exit status.
 */
int api_server_run(struct api_vmm *s, const char *path);

#endif
