/* HTTP/1.1 requests in, responses out, on top of Debian's http-parser. */
#include "vmm/api_http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct api_http_parser *api_http_of(http_parser *hp)
{
	return hp->data;
}

static int api_http_on_begin(http_parser *hp)
{
	struct api_http_parser *p = api_http_of(hp);

	p->started = true;
	return 0;
}

static int api_http_on_url(http_parser *hp, const char *at, size_t len)
{
	struct api_http_parser *p = api_http_of(hp);

	/* No route is this long: refuse rather than truncate to a match. */
	if (len >= sizeof(p->req.path) - p->path_len) {
		p->error = 414;
		return 1;
	}
	memcpy(p->req.path + p->path_len, at, len);
	p->path_len += len;
	p->req.path[p->path_len] = '\0';
	return 0;
}

static int api_http_on_headers(http_parser *hp)
{
	struct api_http_parser *p = api_http_of(hp);
	char *query = strchr(p->req.path, '?');

	if (query)
		*query = '\0';
	switch (hp->method) {
	case HTTP_GET:
		p->req.method = API_HTTP_GET;
		break;
	case HTTP_PUT:
		p->req.method = API_HTTP_PUT;
		break;
	default:
		p->req.method = API_HTTP_OTHER;
		break;
	}

	/* Refuse an oversized body before reading any of it. */
	if ((hp->flags & F_CONTENTLENGTH) &&
	    hp->content_length > API_HTTP_MAX_BODY) {
		p->error = 413;
		return 1;
	}
	return 0;
}

static int api_http_on_body(http_parser *hp, const char *at, size_t len)
{
	struct api_http_parser *p = api_http_of(hp);
	size_t need = p->req.body_len + len + 1;
	char *body;

	/* Chunked bodies carry no length up front. */
	if (need > API_HTTP_MAX_BODY + 1) {
		p->error = 413;
		return 1;
	}
	if (need > p->body_cap) {
		size_t cap = p->body_cap ? p->body_cap : 256;

		while (cap < need)
			cap *= 2;
		body = realloc(p->req.body, cap);
		if (!body) {
			p->error = 500;
			return 1;
		}
		p->req.body = body;
		p->body_cap = cap;
	}
	memcpy(p->req.body + p->req.body_len, at, len);
	p->req.body_len += len;
	p->req.body[p->req.body_len] = '\0';
	return 0;
}

static int api_http_on_complete(http_parser *hp)
{
	struct api_http_parser *p = api_http_of(hp);

	p->req.keep_alive = http_should_keep_alive(hp);
	p->done = true;

	/* Stop here: the caller answers before the next request is read. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings api_http_settings = {
	.on_message_begin = api_http_on_begin,
	.on_url = api_http_on_url,
	.on_headers_complete = api_http_on_headers,
	.on_body = api_http_on_body,
	.on_message_complete = api_http_on_complete,
};

void api_http_parser_init(struct api_http_parser *p)
{
	memset(p, 0, sizeof(*p));
	http_parser_init(&p->parser, HTTP_REQUEST);
	p->parser.data = p;
}

size_t api_http_parse(struct api_http_parser *p, const char *data, size_t len)
{
	size_t used;

	if (p->done || p->error || len == 0)
		return 0;
	if (HTTP_PARSER_ERRNO(&p->parser) == HPE_PAUSED)
		http_parser_pause(&p->parser, 0);

	used = http_parser_execute(&p->parser, &api_http_settings, data, len);
	if (p->done || p->error)
		return used;
	if (HTTP_PARSER_ERRNO(&p->parser) != HPE_OK) {
		p->error = 400;
		return used;
	}
	return used;
}

void api_http_next(struct api_http_parser *p)
{
	free(p->req.body);
	memset(&p->req, 0, sizeof(p->req));
	p->path_len = 0;
	p->body_cap = 0;
	p->started = false;
	p->done = false;
}

void api_http_parser_free(struct api_http_parser *p)
{
	free(p->req.body);
	p->req.body = NULL;
	p->body_cap = 0;
}

static const char *api_http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	default:
		return "Internal Server Error";
	}
}

char *api_http_response(int code, const char *body, bool keep_alive,
			size_t *len)
{
	size_t body_len = body ? strlen(body) : 0;
	char *out = NULL;
	int n;

	n = asprintf(&out,
		     "HTTP/1.1 %d %s\r\n"
		     "Server: minnow\r\n"
		     "%s"
		     "%s"
		     "Content-Length: %zu\r\n"
		     "\r\n"
		     "%s",
		     code, api_http_reason(code),
		     body_len ? "Content-Type: application/json\r\n" : "",
		     keep_alive ? "" : "Connection: close\r\n", body_len,
		     body_len ? body : "");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}
