/*
 * Runs inside a pod container: listens on a vsock port, accepts one
 * connection, echoes what it reads until the peer closes, then exits 0.
 * Static, so it needs nothing from the container's root.
 *
 *   vsock_echo PORT
 */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
	};
	char buf[4096];
	ssize_t n;
	int s, c;

	if (argc != 2) {
		fprintf(stderr, "usage: vsock_echo PORT\n");
		return 2;
	}
	addr.svm_port = (unsigned int)strtoul(argv[1], NULL, 10);
	s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s, 1) < 0) {
		perror("vsock_echo: listen");
		return 1;
	}
	printf("listening on vsock port %u\n", addr.svm_port);
	fflush(stdout);

	c = accept(s, NULL, NULL);
	if (c < 0) {
		perror("vsock_echo: accept");
		return 1;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(c, buf, (size_t)n) != n)
			return 1;
	printf("connection closed\n");
	return n < 0;
}
