/*
 * The REST API without sockets or KVM: HTTP requests fed in pieces, the
 * response shape, VmConfig to run options and device SPEC strings, and
 * the router's answers before any VM runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api.h"

#define REQ_CREATE                                                             \
	"PUT /api/v1/vm.create?x=1 HTTP/1.1\r\nHost: localhost\r\n"            \
	"Content-Length: 13\r\n\r\n{\"cpus\": {}}\n"

static void test_http_byte_by_byte(void **state)
{
	const char *req = REQ_CREATE;
	struct api_http_parser p;

	api_http_parser_init(&p);
	for (size_t i = 0; req[i]; i++) {
		assert_false(p.done);
		assert_int_equal(api_http_parse(&p, req + i, 1), 1);
		assert_int_equal(p.error, 0);
	}
	assert_true(p.done);
	assert_int_equal(p.req.method, API_HTTP_PUT);
	assert_string_equal(p.req.path, "/api/v1/vm.create");
	assert_int_equal(p.req.body_len, 13);
	assert_string_equal(p.req.body, "{\"cpus\": {}}\n");
	assert_true(p.req.keep_alive);
	api_http_next(&p);
	api_http_parser_free(&p);
}

static void test_http_pipelined(void **state)
{
	const char two[] = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n"
			   "GET /api/v1/vm.info HTTP/1.1\r\n"
			   "Connection: close\r\n\r\n";
	struct api_http_parser p;
	size_t used;

	api_http_parser_init(&p);
	used = api_http_parse(&p, two, sizeof(two) - 1);
	assert_true(p.done);
	assert_string_equal(p.req.path, "/api/v1/vmm.ping");
	assert_null(p.req.body);
	api_http_next(&p);

	assert_int_equal(api_http_parse(&p, two + used, sizeof(two) - 1 - used),
			 sizeof(two) - 1 - used);
	assert_true(p.done);
	assert_string_equal(p.req.path, "/api/v1/vm.info");
	assert_false(p.req.keep_alive);
	api_http_next(&p);
	api_http_parser_free(&p);
}

static int http_error_of(const char *req)
{
	struct api_http_parser p;
	int error;

	api_http_parser_init(&p);
	api_http_parse(&p, req, strlen(req));
	error = p.error;
	api_http_parser_free(&p);
	return error;
}

static void test_http_errors(void **state)
{
	char url[512];

	assert_int_equal(http_error_of("\x01\x02 garbage\r\n\r\n"), 400);
	assert_int_equal(http_error_of("PUT /api/v1/vm.create HTTP/1.1\r\n"
				       "Content-Length: 99999999\r\n\r\n"),
			 413);
	assert_int_equal(http_error_of("PUT /a HTTP/1.1\r\nTransfer-Encoding:"
				       " chunked\r\n\r\nzz\r\n"),
			 400);
	memset(url, 'a', sizeof(url));
	memcpy(url, "GET /", 5);
	strcpy(url + 400, " HTTP/1.1\r\n\r\n");
	assert_int_equal(http_error_of(url), 414);
}

static void test_http_response(void **state)
{
	size_t len;
	char *r;

	r = api_http_response(204, NULL, true, &len);
	assert_string_equal(r, "HTTP/1.1 204 No Content\r\nServer: minnow\r\n"
			       "Content-Length: 0\r\n\r\n");
	assert_int_equal(len, strlen(r));
	free(r);

	r = api_http_response(400, "[\"x\"]", false, &len);
	assert_non_null(strstr(r, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(r, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(r, "Connection: close\r\n"));
	assert_non_null(strstr(r, "Content-Length: 5\r\n\r\n[\"x\"]"));
	free(r);
}

#define CONFIG_FULL                                                            \
	"{\"payload\": {\"kernel\": \"/k\", \"cmdline\": \"quiet\", "          \
	"\"initramfs\": \"/i\"}, \"cpus\": {\"boot_vcpus\": 2, "               \
	"\"max_vcpus\": 8, \"topology\": {\"packages\": 1}}, "                 \
	"\"memory\": {\"size\": 1073741824, \"hugepages\": true, "             \
	"\"shared\": true, \"hotplug_size\": 2147483648}, "                    \
	"\"disks\": [{\"path\": \"/d.img\", \"readonly\": true}], "            \
	"\"fs\": [{\"tag\": \"kataShared\", \"socket\": \"/v.sock\", "         \
	"\"num_queues\": 1, \"queue_size\": 1024}], "                          \
	"\"vsock\": {\"cid\": 3, \"socket\": \"/vs.sock\"}, "                  \
	"\"serial\": {\"mode\": \"File\", \"file\": \"/s.log\"}, "             \
	"\"console\": {\"mode\": \"Off\"}, \"platform\": {}, \"new\": 1}"

static void test_config_full(void **state)
{
	struct api_error err = {{0}};
	struct api_config *c;
	struct cli_run run;
	char *info;

	c = api_config_parse(CONFIG_FULL, strlen(CONFIG_FULL), &err);
	assert_non_null(c);
	api_config_to_run(c, &run);
	assert_string_equal(run.kernel, "/k");
	assert_string_equal(run.initrd, "/i");
	assert_string_equal(run.cmdline, "quiet");
	assert_int_equal(run.cpus, 2);
	assert_int_equal(run.mem_mib, 1024);
	assert_true(run.hugepages);
	assert_true(run.rng);
	assert_int_equal(run.serial, SERIAL_FILE);
	assert_string_equal(run.serial_path, "/s.log");
	assert_int_equal(run.disks.nr, 1);
	assert_string_equal(run.disks.specs[0], "path=/d.img,readonly=on");
	assert_string_equal(run.fs.specs[0], "tag=kataShared,socket=/v.sock");
	assert_string_equal(run.vsock.specs[0], "cid=3,socket=/vs.sock");

	info = api_config_info(c, "Created");
	assert_non_null(strstr(info, "\"state\":\"Created\""));
	assert_non_null(strstr(info, "\"hotplug_size\":2147483648"));
	assert_non_null(strstr(info, "\"memory_actual_size\":1073741824"));
	assert_non_null(strstr(info, "\"kernel\":\"/k\""));
	free(info);
	api_config_free(c);
}

#define KERNEL_ONLY "{\"payload\":{\"kernel\":\"/k\"}}"

static void test_config_add_net_fd(void **state)
{
	const char body[] = "{\"mac\": \"52:54:00:aa:bb:cc\", \"fds\": [9]}";
	struct api_error err;
	struct api_config *c;
	struct cli_run run;
	unsigned int nr;
	int fds[2];
	char *info;

	c = api_config_parse(KERNEL_ONLY, strlen(KERNEL_ONLY), &err);
	assert_non_null(c);
	assert_int_equal(pipe(fds), 0);

	/* Two fds: refused, none taken. */
	nr = 2;
	assert_int_equal(api_config_add_device(c, API_DEV_NET, body,
					       strlen(body), fds, &nr, &err),
			 -EINVAL);
	assert_int_equal(nr, 0);
	assert_non_null(strstr(err.msg, "one tap"));

	nr = 1;
	assert_int_equal(api_config_add_device(c, API_DEV_NET, body,
					       strlen(body), fds, &nr, &err),
			 0);
	assert_int_equal(nr, 1);
	api_config_to_run(c, &run);
	assert_int_equal(run.nets.nr, 1);
	char want[64];
	snprintf(want, sizeof(want), "fd=%d,mac=52:54:00:aa:bb:cc", fds[0]);
	assert_string_equal(run.nets.specs[0], want);
	info = api_config_info(c, "Created");
	assert_non_null(strstr(info, "\"net\":[{\"mac\""));
	free(info);

	/* The config owns fds[0] now and closes it. */
	api_config_free(c);
	assert_int_equal(close(fds[0]), -1);
	close(fds[1]);
}

static void check_refused(const char *json, const char *field)
{
	struct api_error err = {{0}};

	assert_null(api_config_parse(json, strlen(json), &err));
	if (!strstr(err.msg, field))
		fail_msg("'%s' does not name %s", err.msg, field);
}

static void test_config_errors(void **state)
{
	check_refused("", "body");
	check_refused("[1]", "body");
	check_refused("{\"payload\":{\"kernel\":\"/k\"}} x", "body");
	check_refused("{\"payload\":{\"kernel\":\"/k\"", "malformed");
	check_refused("{}", "payload.kernel");
	check_refused("{\"payload\":{\"kernel\":\"\"}}", "payload.kernel");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":"
		      "{\"boot_vcpus\":65}}",
		      "cpus.boot_vcpus");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"memory\":"
		      "{\"size\":1048576}}",
		      "memory.size");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"memory\":"
		      "{\"size\":99999999999999999999}}",
		      "memory.size");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"memory\":"
		      "{\"size\":3145728}}",
		      "memory.size");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"net\":"
		      "[{\"tap\":\"a-very-long-tap-name\"}]}",
		      "net[0].tap");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"vsock\":"
		      "{\"cid\":3}}",
		      "vsock.socket");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"fs\":"
		      "[{\"tag\":\"a,b\",\"socket\":\"/s\"}]}",
		      "fs[0].tag");
	check_refused("{\"payload\":{\"kernel\":\"/k\",\"firmware\":\"/f\"}}",
		      "firmware");
	check_refused("{\"payload\":{\"kernel\":\"/k\"},\"balloon\":"
		      "{\"size\":1}}",
		      "balloon");
	check_refused("{\"payload\":{\"kernel\":\"/k\\u0000x\"}}",
		      "payload.kernel");
}

static void test_config_resize(void **state)
{
	struct api_error err;
	struct api_config *c;

	c = api_config_parse(KERNEL_ONLY, strlen(KERNEL_ONLY), &err);
	assert_non_null(c);
	assert_int_equal(api_config_check_resize(c, "{}", 2, &err), 0);
	assert_int_equal(api_config_check_resize(
				 c, "{\"desired_ram\":536870912}", 25, &err),
			 0);
	assert_int_equal(
		api_config_check_resize(c, "{\"desired_vcpus\":2}", 19, &err),
		-ENOTSUP);
	assert_int_equal(api_config_check_resize(c, "{\"desired_vcpus\":true}",
						 22, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "desired_vcpus"));
	api_config_free(c);
}

static int route(struct api_vmm *s, enum api_http_method method,
		 const char *path, const char *body, char **out)
{
	struct api_http_request req = {.method = method};
	struct api_response resp;

	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = (char *)(uintptr_t)body;
	req.body_len = body ? strlen(body) : 0;
	api_handle(s, &req, NULL, 0, &resp);
	if (out)
		*out = resp.body;
	else
		free(resp.body);
	return resp.code;
}

static void test_router_without_vm(void **state)
{
	struct api_vmm s;
	char *body;

	assert_int_equal(api_vmm_init(&s), 0);
	assert_int_equal(
		route(&s, API_HTTP_GET, "/api/v1/vmm.ping", NULL, &body), 200);
	assert_non_null(strstr(body, "\"version\""));
	free(body);
	assert_int_equal(route(&s, API_HTTP_GET, "/api/v1/vm.info", NULL, NULL),
			 404);
	assert_int_equal(route(&s, API_HTTP_PUT, "/api/v1/vm.boot", NULL, NULL),
			 404);
	assert_int_equal(route(&s, API_HTTP_GET, "/api/v1/vm.boot", NULL, NULL),
			 400);
	assert_int_equal(
		route(&s, API_HTTP_GET, "/api/v2/vmm.ping", NULL, NULL), 404);
	assert_int_equal(route(&s, API_HTTP_PUT, "/api/v1/vm.create",
			       "{\"payload\":{\"kernel\":\"/k\"},"
			       "\"cpus\":{\"boot_vcpus\":\"1\"}}",
			       &body),
			 400);
	assert_non_null(strstr(body, "cpus.boot_vcpus"));
	free(body);
	assert_int_equal(route(&s, API_HTTP_PUT, "/api/v1/vm.create",
			       "{\"payload\":{\"kernel\":\"/k\"}}", NULL),
			 204);
	assert_int_equal(route(&s, API_HTTP_PUT, "/api/v1/vm.create",
			       "{\"payload\":{\"kernel\":\"/k\"}}", NULL),
			 500);
	assert_int_equal(
		route(&s, API_HTTP_GET, "/api/v1/vm.info", NULL, &body), 200);
	assert_non_null(strstr(body, "\"state\":\"Created\""));
	free(body);
	assert_int_equal(
		route(&s, API_HTTP_PUT, "/api/v1/vm.pause", NULL, NULL), 500);
	assert_int_equal(route(&s, API_HTTP_PUT, "/api/v1/vm.add-disk",
			       "{\"path\":\"/d\"}", NULL),
			 204);
	assert_int_equal(
		route(&s, API_HTTP_PUT, "/api/v1/vm.delete", NULL, NULL), 204);
	assert_int_equal(route(&s, API_HTTP_GET, "/api/v1/vm.info", NULL, NULL),
			 404);
	api_vmm_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_byte_by_byte),
		cmocka_unit_test(test_http_pipelined),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_response),
		cmocka_unit_test(test_config_full),
		cmocka_unit_test(test_config_add_net_fd),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_resize),
		cmocka_unit_test(test_router_without_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
