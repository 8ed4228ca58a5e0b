/* storage/store_definitions.c: the definitions document (RabbitMQ's definitions-export JSON,
 * stored as given but for one key the store adds in front on save and takes out on load,
 * "warren_data_format", the data directory format that wrote it), replaced atomically. Files
 * in the data directory:
 *   definitions.json       the current document
 *   definitions.json.prev  the previous good copy (a hard link taken before each replace)
 *   definitions.json.tmp   a save in progress; never read, overwritten by the next save
 * Loading falls back to the previous copy when the current one is missing or does not parse;
 * a document of a newer format is refused rather than misread. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"
#include "storage/store_io.h"

#define DEFS_NAME "definitions.json"

static void store_definitions_path(const struct store *s, const char *suffix, char *buf,
				   size_t len)
{
	snprintf(buf, len, "%s/" DEFS_NAME "%s", s->dir, suffix);
}

/* The key the store puts first in the document: absent in format 1 (Warren 0.1.0) files. */
#define DEFS_FORMAT_KEY "warren_data_format"

enum store_definitions_state { DEFS_BAD, DEFS_OK, DEFS_NEWER };

static enum store_definitions_state store_definitions_check(const char *json, size_t len,
							    json_int_t *format)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr), *f;
	enum store_definitions_state st = DEFS_BAD;

	*format = 1;
	if (!root || !json_is_object(root))
		goto out;
	f = json_object_get(root, DEFS_FORMAT_KEY);
	if (f && (!json_is_integer(f) || json_integer_value(f) < 1))
		goto out;
	if (f)
		*format = json_integer_value(f);
	st = *format > STORE_FORMAT_VERSION ? DEFS_NEWER : DEFS_OK;
out:
	json_decref(root);
	return st;
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
	ssize_t got = store_io_pread(fd, buf, (size_t)st.st_size, 0);
	if (got != (ssize_t)st.st_size)
		goto fail;
	done = (size_t)got;
	buf[done] = '\0';
	*len = done;
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static bool store_definitions_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* json with DEFS_FORMAT_KEY put first in its top-level object (text, not a re-encoding: the
 * rest stays byte for byte); NULL when it does not start with '{' or out of memory. */
static char *store_definitions_stamp(const char *json, size_t len, size_t *out_len)
{
	char key[64];
	size_t i = 0, j, klen;
	char *out;

	while (i < len && store_definitions_is_space(json[i]))
		i++;
	if (i == len || json[i] != '{')
		return NULL;
	for (j = i + 1; j < len && store_definitions_is_space(json[j]); j++)
		;
	klen = (size_t)snprintf(key, sizeof key, "\"" DEFS_FORMAT_KEY "\":%d%s",
				STORE_FORMAT_VERSION, j < len && json[j] == '}' ? "" : ",");
	out = malloc(len + klen + 1);
	if (!out)
		return NULL;
	memcpy(out, json, i + 1);
	memcpy(out + i + 1, key, klen);
	memcpy(out + i + 1 + klen, json + i + 1, len - i - 1);
	out[len + klen] = '\0';
	*out_len = len + klen;
	return out;
}

/* Takes the key store_definitions_stamp put in front back out, in place, so the caller gets
 * the bytes it saved. */
static void store_definitions_unstamp(char *doc, size_t *len)
{
	static const char key[] = "\"" DEFS_FORMAT_KEY "\":";
	size_t i = 0, j;

	while (i < *len && store_definitions_is_space(doc[i]))
		i++;
	if (i == *len || doc[i] != '{' || *len - i - 1 < sizeof key - 1 ||
	    memcmp(doc + i + 1, key, sizeof key - 1) != 0)
		return;
	j = i + 1 + sizeof key - 1;
	while (j < *len && doc[j] >= '0' && doc[j] <= '9')
		j++;
	if (j < *len && doc[j] == ',') {
		j++;
	} else {
		size_t k = j;
		while (k < *len && store_definitions_is_space(doc[k]))
			k++;
		if (k == *len || doc[k] != '}')
			return;
	}
	memmove(doc + i + 1, doc + j, *len - j + 1); /* with the NUL */
	*len -= j - (i + 1);
}

int store_definitions_save(struct store *s, const char *json, size_t len, char *err, size_t errlen)
{
	char cur[4096], prev[4096], prev_tmp[4096], tmp[4096];
	char *old = NULL, *doc = NULL;
	size_t old_len, doc_len = 0;
	json_int_t old_format;
	int fd = -1, rc = -1;

	store_definitions_path(s, "", cur, sizeof cur);
	store_definitions_path(s, ".prev", prev, sizeof prev);
	store_definitions_path(s, ".prev.tmp", prev_tmp, sizeof prev_tmp);
	store_definitions_path(s, ".tmp", tmp, sizeof tmp);
	doc = store_definitions_stamp(json, len, &doc_len);
	if (!doc) {
		snprintf(err, errlen, "the definitions are not a JSON object (or out of memory)");
		goto out;
	}
	json = doc;
	len = doc_len;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (store_io_write(fd, json, len) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	/* keep the current document as the fallback, unless it is itself garbage */
	old = store_definitions_read(cur, &old_len);
	if (old && store_definitions_check(old, old_len, &old_format) == DEFS_OK) {
		unlink(prev_tmp);
		if (link(cur, prev_tmp) != 0 || rename(prev_tmp, prev) != 0)
			store_log_warn("storage: cannot keep the previous definitions as %s: %s",
				       prev, strerror(errno));
	}
	if (rename(tmp, cur) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, cur, strerror(errno));
		goto out;
	}
	if (store_io_fsync_dir(AT_FDCWD, s->dir) != 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", s->dir, strerror(errno));
		goto out;
	}
	if (s->tap)
		s->tap->definitions(s->tap_arg, json, len);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(old);
	free(doc);
	return rc;
}

int store_definitions_load(struct store *s, char **out, size_t *len, char *err, size_t errlen)
{
	char cur[4096], prev[4096];
	char *doc;
	size_t n = 0;
	int cur_errno, rc = 0;
	bool cur_exists, prev_exists;
	enum store_definitions_state st = DEFS_BAD;
	json_int_t format = 1;

	*out = NULL;
	store_definitions_path(s, "", cur, sizeof cur);
	store_definitions_path(s, ".prev", prev, sizeof prev);
	doc = store_definitions_read(cur, &n);
	cur_errno = errno;
	cur_exists = doc || cur_errno != ENOENT;
	if (doc && (st = store_definitions_check(doc, n, &format)) == DEFS_OK)
		goto out;
	if (st == DEFS_NEWER)
		goto newer;
	if (doc)
		store_log_warn("storage: %s is not a valid JSON document; trying %s", cur, prev);
	else if (cur_exists)
		store_log_warn("storage: cannot read %s: %s; trying %s", cur, strerror(cur_errno),
			       prev);
	free(doc);
	doc = store_definitions_read(prev, &n);
	if (doc && (st = store_definitions_check(doc, n, &format)) == DEFS_OK) {
		store_log_warn("storage: using the last good definitions, %s", prev);
		rc = 1;
		goto out;
	}
	if (st == DEFS_NEWER) {
		snprintf(cur, sizeof cur, "%s", prev);
		goto newer;
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
newer:
	free(doc);
	snprintf(err, errlen, "%s was written by a newer Warren (data format %lld; this build "
		 "reads formats 1 to %d); refusing to start rather than misread it", cur,
		 (long long)format, STORE_FORMAT_VERSION);
	return -1;
out:
	store_definitions_unstamp(doc, &n);
	*out = doc;
	if (len)
		*len = n;
	return rc;
}
