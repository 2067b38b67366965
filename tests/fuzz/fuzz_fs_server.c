/*
 * libFuzzer target: FUSE requests fed to the built-in file server over a
 * temporary directory. Input: records of
 * [flags:1][opcode:1][nodeid:1][len:2][body:len]. Unless flags bit 0 is
 * set the header (len, opcode, nodeid, a unique) is built from these so
 * the fuzzer reaches the handlers; with it, body is the raw request.
 * Bit 1 splits the request into two buffers. Each input starts from a
 * fresh server that has seen INIT; files are capped at 16 MiB.
 */
#include <linux/fuse.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/fs_server.h"
#include "vmm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void fuzz_setup(void)
{
	strcpy(dir, "/tmp/minnow-fuzz-fs-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	mkdir(strcat(strcpy((char[128]){0}, dir), "/sub"), 0755);
	log_threshold = LOG_ERROR;
	/* A guest may grow files; the fuzzer must not fill the disk. */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &(struct rlimit){16 << 20, 16 << 20});
}

static void fuzz_send(struct fs_server *s, uint8_t *req, size_t len,
		      uint8_t flags)
{
	static uint8_t reply[FS_MAX_IO_BYTES + 4096];
	struct iovec in[2], out = {reply, sizeof(reply)};
	size_t cut = len / 2;

	if ((flags & 2) && cut) {
		in[0] = (struct iovec){req, cut};
		in[1] = (struct iovec){req + cut, len - cut};
		fs_server_handle(s, in, 2, &out, 1);
	} else {
		in[0] = (struct iovec){req, len};
		fs_server_handle(s, in, 1, &out, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t req[(65536 + 4096) / 8];
	struct fs_server_config cfg = {.cache = FS_CACHE_AUTO};
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} init = {
		.h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1},
		.in = {.major = 7, .minor = 31, .flags = 0xffffffff},
	};
	struct fs_server *s;

	if (!dir[0])
		fuzz_setup();
	cfg.dir = dir;
	cfg.readonly = size && (data[0] & 0x80);
	if (fs_server_create(&cfg, &s))
		abort();
	fuzz_send(s, (uint8_t *)&init, sizeof(init), 0);
	while (size >= 5) {
		uint8_t flags = data[0];
		struct fuse_in_header h = {
			.opcode = data[1], .nodeid = data[2], .unique = 2};
		size_t len = (size_t)data[3] | (size_t)data[4] << 8;
		size_t hlen = (flags & 1) ? 0 : sizeof(h);

		data += 5;
		size -= 5;
		len = len < size ? len : size;
		h.len = (uint32_t)(hlen + len);
		memcpy(req, &h, hlen);
		memcpy((uint8_t *)req + hlen, data, len);
		fuzz_send(s, (uint8_t *)req, hlen + len, flags);
		data += len;
		size -= len;
	}
	fs_server_destroy(s);
	return 0;
}
