/*
 * libFuzzer: arbitrary bytes through the REST API's HTTP parser (fed in
 * pieces whose sizes the input chooses) and every request body through
 * the VmConfig and device parsers and the router, without KVM.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_body(const char *body, size_t len)
{
	static const enum api_device_kind kinds[] = {API_DEV_DISK, API_DEV_NET,
						     API_DEV_FS, API_DEV_VSOCK};
	struct api_config *c;
	struct api_error err;
	struct cli_run run;
	unsigned int nr;
	char *info;

	c = api_config_parse(body, len, &err);
	if (!c)
		c = api_config_parse("{\"payload\":{\"kernel\":\"/k\"}}", 27,
				     &err);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		nr = 0;
		api_config_add_device(c, kinds[i], body, len, NULL, &nr, &err);
	}
	api_config_check_resize(c, body, len, &err);
	api_config_to_run(c, &run);
	info = api_config_info(c, "Created");
	free(info);
	api_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_vmm vmm;
	static int ready;
	struct api_http_parser p;
	size_t off = 0;

	if (!ready)
		ready = api_vmm_init(&vmm) == 0;

	api_http_parser_init(&p);
	while (off < size && !p.error) {
		/* The first byte of each piece says how long it is. */
		size_t piece = 1 + data[off] % 64, used;

		off++;
		if (piece > size - off)
			piece = size - off;
		used = api_http_parse(&p, (const char *)data + off, piece);
		if (p.done) {
			struct api_response resp;

			fuzz_body(p.req.body, p.req.body_len);
			/* Only what cannot start a VM: no KVM here. */
			if (ready && !strstr(p.req.path, "boot") &&
			    !strstr(p.req.path, "reboot")) {
				api_handle(&vmm, &p.req, NULL, 0, &resp);
				free(resp.body);
			}
			api_http_next(&p);
		}
		off += used ? used : piece;
	}
	api_http_parser_free(&p);
	return 0;
}
