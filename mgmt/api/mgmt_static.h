/* mgmt/api/mgmt_static.h: the web UI's static files (mgmt/ui/), served on the management listener
 * at "/" and below, either from the copy embedded in the binary (mgmt/ui/embed.py generates it
 * at build time) or from management.ui_dir when that is set. */
#ifndef MGMT_MGMT_STATIC_H
#define MGMT_MGMT_STATIC_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_request;

struct mgmt_static_file {
	const char *path;          /* "index.html", "js/app.js": served at "/" + path */
	const unsigned char *data;
	size_t len;
	const char *etag;          /* quoted, e.g. "\"0123456789abcdef\"" */
};

/* The embedded copy (generated). */
extern const struct mgmt_static_file mgmt_static_embedded[];
extern const size_t mgmt_static_embedded_count;

/* true when the request's path belongs to the UI rather than the API: "/" and every path whose
 * first segment is not "api" or "metrics". */
bool mgmt_static_owns(char *const *seg, int nseg);

/* Replies to a GET or HEAD of the UI: seg are the percent-decoded path segments (none for "/",
 * which is index.html). ui_dir NULL or "" serves the embedded copy. Other methods get 405, paths
 * that are not a UI file 404, both as text. */
void mgmt_static_serve(struct evhttp_request *req, const char *ui_dir, char *const *seg, int nseg);

/* Checks at start-up that ui_dir (when set) is a readable directory holding index.html; false
 * with err filled otherwise. */
bool mgmt_static_check(const char *ui_dir, char *err, size_t errlen);

#endif
