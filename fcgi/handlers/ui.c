/* GET /ui/ and GET /ui/{file}: the web page (try a song, operator dashboard), static files read from ui_dir.
 * Only plain file names directly in that directory are served (the router admits [A-Za-z0-9_-]+.ext, no
 * slash, no "..", at most one dot), regular files only, no symbolic links followed, with a strict
 * Content-Security-Policy: everything comes from songscope itself, no inline script or style. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi/handlers.h"
#include "fcgi/response.h"

#define UI_FILE_MAX (4 * 1024 * 1024)

/* 'self' only; blob: for the waveform's audio (the dropped file, played back in the page) and data: images. */
#define UI_CSP                                                                                          \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "               \
	"media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " \
	"form-action 'none'"

static const struct {
	const char *ext;
	const char *type;
} ui_types[] = {
	{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
	{".json", "application/json"}, {".yaml", "application/yaml; charset=utf-8"},
	{".png", "image/png"}, {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof ui_types / sizeof ui_types[0]; i++)
		if (strcmp(dot, ui_types[i].ext) == 0)
			return ui_types[i].type;
	return NULL;
}

/* Does the request URI's path end in '/'? "/ui" must become "/ui/" so that the page's relative links work
 * wherever the web server mounts songscope. */
static bool uri_has_slash(const ss_request *req)
{
	const char *uri = ss_req_param(req, "REQUEST_URI");
	if (uri == NULL)
		return true;
	size_t n = strcspn(uri, "?#");
	return n > 0 && uri[n - 1] == '/';
}

static int not_found(ss_request *req, const char *name)
{
	return ss_resp_error(req, SS_ERR_NOT_FOUND, "The page has no file '%.80s'.", name);
}

int ss_handle_ui(ss_ctx *ctx, ss_request *req)
{
	const char *name;
	if (strcmp(req->path, "/ui") == 0) {
		if (!uri_has_slash(req)) {
			/* Relative, so that it stays below the web server's mount point. */
			static const char moved[] = "{\"location\":\"ui/\"}\n";
			ss_resp_add_header(req, "Location", "ui/");
			return ss_h_send_text(req, 301, "application/json", moved, sizeof moved - 1);
		}
		name = "index.html";
	} else {
		name = req->path + strlen("/ui/");
	}
	const char *type = content_type(name);
	if (type == NULL || ctx->cfg->ui_dir[0] == '\0')
		return not_found(req, name);

	char path[SS_CONFIG_PATH_MAX + 80];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", ctx->cfg->ui_dir, name) >= sizeof path)
		return not_found(req, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
		return not_found(req, name);
	if (fd < 0)
		return ss_resp_error(req, SS_ERR_INTERNAL, "The page cannot be read.");
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > UI_FILE_MAX) {
		close(fd);
		return not_found(req, name);
	}
	size_t len = (size_t)st.st_size;
	char *data = malloc(len ? len : 1);
	if (data == NULL) {
		close(fd);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, data + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != len) {
		free(data);
		return ss_resp_error(req, SS_ERR_INTERNAL, "The page cannot be read.");
	}
	ss_resp_add_header(req, "Content-Security-Policy", "%s", UI_CSP);
	ss_resp_add_header(req, "X-Content-Type-Options", "nosniff");
	ss_resp_add_header(req, "X-Frame-Options", "DENY");
	ss_resp_add_header(req, "Referrer-Policy", "no-referrer");
	int rc = ss_h_send_text(req, 200, type, data, len);
	free(data);
	return rc;
}
