/* Parsing --net SPEC strings into a net_spec. */
#include "devices/net_spec.h"
#include "devices/net_hdr.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int net_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *s, uint8_t mac[6])
{
	for (unsigned int i = 0; i < 6; i++) {
		int hi = net_hex_digit(s[0]);
		int lo = hi < 0 ? -1 : net_hex_digit(s[1]);

		if (lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (*s != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		if (i < 5)
			s++;
	}

	/* A multicast address (low bit of the first octet) is no NIC's. */
	return mac[0] & 1 ? -EINVAL : 0;
}

/* Parses a decimal number in [min, max]; returns 0 or -EINVAL. */
static int net_parse_uint(const char *s, unsigned long min, unsigned long max,
			  unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

/* One "key=value" field; spec is only for the message. */
static int net_spec_field(const char *spec, const char *key, const char *val,
			  struct net_spec *out)
{
	unsigned long n;

	if (!strcmp(key, "tap")) {
		if (!*val || strlen(val) >= sizeof(out->tap))
			goto bad;
		strcpy(out->tap, val);
	} else if (!strcmp(key, "fd")) {
		if (net_parse_uint(val, 0, 1u << 30, &n))
			goto bad;
		out->fd = (int)n;
	} else if (!strcmp(key, "mac")) {
		if (net_mac_parse(val, out->mac))
			goto bad;
		out->has_mac = true;
	} else if (!strcmp(key, "mtu")) {
		if (net_parse_uint(val, NET_MTU_MIN, NET_MTU_MAX, &n))
			goto bad;
		out->mtu = (uint32_t)n;
	} else {
		log_error("net: --net %s: unknown field '%s' (allowed: tap, "
			  "fd, mac, mtu)",
			  spec, key);
		return -EINVAL;
	}
	return 0;

bad:
	if (!strcmp(key, "tap"))
		log_error("net: --net %s: tap must be an interface name of 1 "
			  "to %d characters",
			  spec, IFNAMSIZ - 1);
	else if (!strcmp(key, "fd"))
		log_error("net: --net %s: fd '%s' is not a file descriptor "
			  "number",
			  spec, val);
	else if (!strcmp(key, "mac"))
		log_error("net: --net %s: mac '%s' is not a unicast address "
			  "aa:bb:cc:dd:ee:ff",
			  spec, val);
	else
		log_error("net: --net %s: mtu '%s' is not a number from %u "
			  "to %u",
			  spec, val, NET_MTU_MIN, NET_MTU_MAX);
	return -EINVAL;
}

int net_spec_parse(const char *spec, struct net_spec *out)
{
	char buf[256], *save = NULL, *field;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (strlen(spec) >= sizeof(buf)) {
		log_error("net: --net: SPEC longer than %zu characters",
			  sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, spec);

	for (field = strtok_r(buf, ",", &save); field && !err;
	     field = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(field, '=');

		if (!eq) {
			log_error("net: --net %s: '%s' is not key=value", spec,
				  field);
			return -EINVAL;
		}
		*eq = '\0';
		err = net_spec_field(spec, field, eq + 1, out);
	}
	if (err)
		return err;

	/* Exactly one way to reach the tap. */
	if (!out->tap[0] == (out->fd < 0)) {
		log_error("net: --net %s: give exactly one of tap=NAME or fd=N",
			  spec);
		return -EINVAL;
	}
	return 0;
}
