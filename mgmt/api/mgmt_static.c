/* mgmt/api/mgmt_static.c: serves the web UI's static files on the management listener (plain and
 * TLS alike, since the router in mgmt.c calls it for both). A file comes from the copy embedded
 * at build time, or from management.ui_dir when set, read per request (the files are small and
 * change only when an operator edits them). Every reply carries its Content-Type, an ETag with
 * Cache-Control: no-cache (browsers revalidate and get 304 while the file is unchanged) and
 * nosniff; index.html adds a Content-Security-Policy that allows only this origin. Paths are
 * matched segment by segment against [A-Za-z0-9._-] with no leading dot, so no decoded "..",
 * "/" or NUL can reach the file system. Loading a page needs no login: the API calls it makes
 * carry the user's credentials. */
#include "mgmt/api/mgmt_static.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MGMT_STATIC_SEGMENTS_MAX 4
#define MGMT_STATIC_PATH_MAX 256
#define MGMT_STATIC_FILE_MAX (8u << 20) /* a UI file larger than this is not one of ours */

static const struct {
	const char *ext;
	const char *type;
} mgmt_static_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
};

/* No inline script or style, no other origin: the UI is this project's own files only. */
static const char mgmt_static_csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'";

bool mgmt_static_owns(char *const *seg, int nseg)
{
	return nseg == 0 || (strcmp(seg[0], "api") != 0 && strcmp(seg[0], "metrics") != 0);
}

static const char *mgmt_static_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof mgmt_static_types / sizeof mgmt_static_types[0]; i++)
		if (strcmp(dot, mgmt_static_types[i].ext) == 0)
			return mgmt_static_types[i].type;
	return "application/octet-stream";
}

static bool mgmt_static_segment_ok(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* "js/app.js" from the segments; false when a segment is not a plain file name. */
static bool mgmt_static_path(char *const *seg, int nseg, char *out, size_t cap)
{
	size_t len = 0;
	if (nseg == 0) {
		snprintf(out, cap, "index.html");
		return true;
	}
	if (nseg > MGMT_STATIC_SEGMENTS_MAX)
		return false;
	out[0] = '\0';
	for (int i = 0; i < nseg; i++) {
		if (!mgmt_static_segment_ok(seg[i]))
			return false;
		int n = snprintf(out + len, cap - len, "%s%s", i ? "/" : "", seg[i]);
		if (n < 0 || (size_t)n >= cap - len)
			return false;
		len += (size_t)n;
	}
	return true;
}

static void mgmt_static_text(struct evhttp_request *req, int code, const char *reason,
			     const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "Server", "Warren");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (code == 405)
		evhttp_add_header(h, "Allow", "GET, HEAD");
	if (buf)
		evbuffer_add_printf(buf, "%s\n", text);
	evhttp_send_reply(req, code, reason, buf);
	if (buf)
		evbuffer_free(buf);
}

/* Sends the file's bytes (or 304 when the browser's copy has the same ETag). buf: the body,
 * NULL for the embedded copy (data/len then). */
static void mgmt_static_reply(struct evhttp_request *req, const char *path, const char *etag,
			      const unsigned char *data, size_t len, struct evbuffer *buf)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req),
					     "If-None-Match");
	evhttp_add_header(h, "Server", "Warren");
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (inm && strstr(inm, etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", mgmt_static_type(path));
	if (strcmp(mgmt_static_type(path), mgmt_static_types[0].type) == 0) {
		evhttp_add_header(h, "Content-Security-Policy", mgmt_static_csp);
		evhttp_add_header(h, "X-Frame-Options", "DENY");
		evhttp_add_header(h, "Referrer-Policy", "same-origin");
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* evhttp would send a body given one, even for HEAD: send only its length */
		char n[32];
		snprintf(n, sizeof n, "%zu", buf ? evbuffer_get_length(buf) : len);
		evhttp_add_header(h, "Content-Length", n);
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	struct evbuffer *body = buf ? buf : evbuffer_new();
	if (!body || (!buf && evbuffer_add_reference(body, data, len, NULL, NULL) != 0)) {
		if (body && !buf)
			evbuffer_free(body);
		mgmt_static_text(req, 500, "Internal Server Error", "out of memory");
		return;
	}
	evhttp_send_reply(req, 200, "OK", body);
	if (!buf)
		evbuffer_free(body);
}

static int mgmt_static_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mgmt_static_file *)elem)->path);
}

static void mgmt_static_serve_embedded(struct evhttp_request *req, const char *path)
{
	const struct mgmt_static_file *f = bsearch(path, mgmt_static_embedded,
						   mgmt_static_embedded_count,
						   sizeof mgmt_static_embedded[0], mgmt_static_cmp);
	if (!f) {
		mgmt_static_text(req, 404, "Not Found", "Not Found");
		return;
	}
	mgmt_static_reply(req, path, f->etag, f->data, f->len, NULL);
}

static void mgmt_static_serve_dir(struct evhttp_request *req, const char *dir, const char *path)
{
	char full[4096], etag[64];
	struct stat st;
	struct evbuffer *buf = NULL;
	int n = snprintf(full, sizeof full, "%s/%s", dir, path);
	int fd = n > 0 && (size_t)n < sizeof full ? open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) :
						      -1;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MGMT_STATIC_FILE_MAX) {
		mgmt_static_text(req, 404, "Not Found", "Not Found");
		goto out;
	}
	snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
			 (unsigned long long)st.st_mtim.tv_nsec);
	buf = evbuffer_new();
	size_t left = (size_t)st.st_size;
	while (buf && left > 0) {
		int got = evbuffer_read(buf, fd, left > 65536 ? 65536 : (int)left);
		if (got <= 0)
			break;
		left -= (size_t)got;
	}
	if (!buf || left > 0) {
		mgmt_static_text(req, 500, "Internal Server Error", "cannot read the file");
		goto out;
	}
	mgmt_static_reply(req, path, etag, NULL, 0, buf);
out:
	if (buf)
		evbuffer_free(buf);
	if (fd >= 0)
		close(fd);
}

void mgmt_static_serve(struct evhttp_request *req, const char *ui_dir, char *const *seg, int nseg)
{
	char path[MGMT_STATIC_PATH_MAX];
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		mgmt_static_text(req, 405, "Method Not Allowed", "Method Not Allowed");
		return;
	}
	if (!mgmt_static_path(seg, nseg, path, sizeof path)) {
		mgmt_static_text(req, 404, "Not Found", "Not Found");
		return;
	}
	if (ui_dir && *ui_dir)
		mgmt_static_serve_dir(req, ui_dir, path);
	else
		mgmt_static_serve_embedded(req, path);
}

bool mgmt_static_check(const char *ui_dir, char *err, size_t errlen)
{
	char index[4096];
	if (!ui_dir || !*ui_dir)
		return true;
	snprintf(index, sizeof index, "%s/index.html", ui_dir);
	if (access(index, R_OK) != 0) {
		snprintf(err, errlen, "management.ui_dir: cannot read %s: %s", index,
			 strerror(errno));
		return false;
	}
	return true;
}
