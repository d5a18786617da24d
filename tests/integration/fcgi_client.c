#include "tests/integration/fcgi_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN_REC = 5, STDOUT_REC = 6, STDERR_REC = 7 };

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int record(int fd, int type, const void *data, size_t len)
{
	unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
	if (len > 65535)
		return -1;
	if (write_all(fd, h, 8) != 0)
		return -1;
	return len ? write_all(fd, data, len) : 0;
}

static void put_len(ss_buf *b, size_t n)
{
	if (n < 128) {
		unsigned char c = (unsigned char)n;
		ss_buf_append(b, &c, 1);
	} else {
		unsigned char c[4] = {(unsigned char)((n >> 24) | 0x80), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
				      (unsigned char)n};
		ss_buf_append(b, c, 4);
	}
}

int ss_fcgi_call(const char *path, const char *const *params, const void *body, size_t body_len, ss_buf *out,
		 int *status)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = -1;
	unsigned char begin[8] = {0, 1 /* responder */, 0 /* close after */, 0, 0, 0, 0, 0};
	ss_buf p;
	ss_buf_init(&p, 0);
	for (const char *const *kv = params; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		if (eq == NULL)
			continue;
		size_t nl = (size_t)(eq - *kv), vl = strlen(eq + 1);
		put_len(&p, nl);
		put_len(&p, vl);
		ss_buf_append(&p, *kv, nl);
		ss_buf_append(&p, eq + 1, vl);
	}
	if (record(fd, BEGIN_REQUEST, begin, 8) != 0)
		goto done;
	for (size_t off = 0; off < p.len; off += 65535)
		if (record(fd, PARAMS, p.data + off, p.len - off > 65535 ? 65535 : p.len - off) != 0)
			goto done;
	if (record(fd, PARAMS, NULL, 0) != 0)
		goto done;
	const char *b = body;
	for (size_t off = 0; off < body_len; off += 65535)
		if (record(fd, STDIN_REC, b + off, body_len - off > 65535 ? 65535 : body_len - off) != 0)
			goto done;
	if (record(fd, STDIN_REC, NULL, 0) != 0)
		goto done;

	ss_buf_reset(out);
	for (;;) {
		unsigned char h[8];
		if (read_all(fd, h, 8) != 0)
			goto done;
		size_t len = ((size_t)h[4] << 8) | h[5];
		size_t pad = h[6];
		char *data = malloc(len + pad + 1);
		if (data == NULL || read_all(fd, data, len + pad) != 0) {
			free(data);
			goto done;
		}
		if (h[1] == STDOUT_REC)
			ss_buf_append(out, data, len);
		free(data);
		if (h[1] == END_REQUEST)
			break;
	}
	*status = 200;
	if (out->data && strncmp(out->data, "Status: ", 8) == 0)
		*status = atoi(out->data + 8);
	rc = 0;
done:
	ss_buf_free(&p);
	close(fd);
	return rc;
}
