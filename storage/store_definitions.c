/* storage/store_definitions.c: the definitions document (RabbitMQ's definitions-export JSON,
 * stored as opaque bytes), replaced atomically. Files in the data directory:
 *   definitions.json       the current document
 *   definitions.json.prev  the previous good copy (a hard link taken before each replace)
 *   definitions.json.tmp   a save in progress; never read, overwritten by the next save
 * Loading falls back to the previous copy when the current one is missing or does not parse,
 * so the broker always starts. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log.h"
#include "storage/store_internal.h"

#define DEFS_NAME "definitions.json"

static void store_definitions_path(const struct store *s, const char *suffix, char *buf,
				   size_t len)
{
	snprintf(buf, len, "%s/" DEFS_NAME "%s", s->dir, suffix);
}

static bool store_definitions_valid(const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	bool ok = root && json_is_object(root);

	json_decref(root);
	return ok;
}

/* The whole file, NUL-terminated; NULL when it cannot be read (errno says why). */
static char *store_definitions_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t done = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !(buf = malloc((size_t)st.st_size + 1)))
		goto fail;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	buf[done] = '\0';
	*len = done;
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int store_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int store_definitions_save(struct store *s, const char *json, size_t len, char *err, size_t errlen)
{
	char cur[4096], prev[4096], prev_tmp[4096], tmp[4096];
	char *old = NULL;
	size_t old_len, done = 0;
	int fd = -1, rc = -1;

	store_definitions_path(s, "", cur, sizeof cur);
	store_definitions_path(s, ".prev", prev, sizeof prev);
	store_definitions_path(s, ".prev.tmp", prev_tmp, sizeof prev_tmp);
	store_definitions_path(s, ".tmp", tmp, sizeof tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, json + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp,
				 n == 0 ? "short write" : strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	/* keep the current document as the fallback, unless it is itself garbage */
	old = store_definitions_read(cur, &old_len);
	if (old && store_definitions_valid(old, old_len)) {
		unlink(prev_tmp);
		if (link(cur, prev_tmp) != 0 || rename(prev_tmp, prev) != 0)
			log_warn("storage: cannot keep the previous definitions as %s: %s", prev,
				 strerror(errno));
	}
	if (rename(tmp, cur) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, cur, strerror(errno));
		goto out;
	}
	if (store_fsync_dir(s->dir) != 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", s->dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(old);
	return rc;
}

int store_definitions_load(struct store *s, char **out, size_t *len, char *err, size_t errlen)
{
	char cur[4096], prev[4096];
	char *doc;
	size_t n = 0;
	int cur_errno, rc = 0;
	bool cur_exists, prev_exists;

	*out = NULL;
	store_definitions_path(s, "", cur, sizeof cur);
	store_definitions_path(s, ".prev", prev, sizeof prev);
	doc = store_definitions_read(cur, &n);
	cur_errno = errno;
	cur_exists = doc || cur_errno != ENOENT;
	if (doc && store_definitions_valid(doc, n))
		goto out;
	if (doc)
		log_warn("storage: %s is not a valid JSON document; trying %s", cur, prev);
	else if (cur_exists)
		log_warn("storage: cannot read %s: %s; trying %s", cur, strerror(cur_errno), prev);
	free(doc);
	doc = store_definitions_read(prev, &n);
	if (doc && store_definitions_valid(doc, n)) {
		log_warn("storage: using the last good definitions, %s", prev);
		rc = 1;
		goto out;
	}
	prev_exists = doc || errno != ENOENT;
	free(doc);
	if (!cur_exists && !prev_exists)
		return 0; /* a store that never saved definitions */
	/* Starting without them would drop every durable queue, and with them their messages. */
	snprintf(err, errlen, "neither %s nor %s is a usable definitions document; move them away "
		 "to start with no definitions (the messages of the queues they define are then "
		 "dropped)", cur, prev);
	return -1;
out:
	*out = doc;
	if (len)
		*len = n;
	return rc;
}
