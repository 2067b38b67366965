/*
 * HTTP/1.1 for the REST API: requests parsed from a byte stream that may
 * arrive in pieces, and responses formatted in the shape the Kata shims'
 * clients read. No sockets here, so tests and fuzzers drive it directly.
 */
#ifndef MINNOW_API_HTTP_H
#define MINNOW_API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#define API_HTTP_MAX_PATH 128
#define API_HTTP_MAX_BODY (1u << 20) /* a VmConfig is a few KiB */

enum api_http_method { API_HTTP_GET, API_HTTP_PUT, API_HTTP_OTHER };

struct api_http_request {
	enum api_http_method method;
	char path[API_HTTP_MAX_PATH]; /* without any "?query" */
	char *body;                   /* NUL-terminated; NULL when empty */
	size_t body_len;
	bool keep_alive;
};

struct api_http_parser {
	http_parser parser;
	struct api_http_request req;
	size_t path_len;
	size_t body_cap;
	bool started; /* some byte of the current request was seen */
	bool done;    /* req is complete: handle it, then api_http_next() */
	int error;    /* HTTP status to answer before closing, 0 if none */
};

void api_http_parser_init(struct api_http_parser *p);

/*
 * Feeds len bytes. Returns how many were consumed: parsing stops at the
 * end of one request (p->done) so that pipelined requests are answered in
 * order, and at the first error (p->error: answer it, then close the
 * connection, since the stream cannot be resynchronised).
 */
size_t api_http_parse(struct api_http_parser *p, const char *data, size_t len);

/* After a done request was answered: frees it and readies the next. */
void api_http_next(struct api_http_parser *p);

/* Frees what a request in progress holds. */
void api_http_parser_free(struct api_http_parser *p);

/*
 * Formats "HTTP/1.1 code" with Content-Length, and Content-Type:
 * application/json when there is a body. Returns a malloc'd buffer (its
 * length in *len) or NULL when out of memory.
 */
char *api_http_response(int code, const char *body, bool keep_alive,
			size_t *len);

#endif
