/* storage/store_replica.c: a follower's writer of the leader's bytes (store_replica.h). The
 * log runs are checked record by record with the segment's salts (store_record_check, the same
 * check recovery makes) before a byte is written, and must continue their file where it ends,
 * so that a stream cut, truncated or corrupted on its way is refused rather than written; the
 * caller then syncs again from what it has. Files are written as the storage thread writes
 * them: one open segment at a time, fdatasync before it is left, the directory fsynced when an
 * entry appears or goes. A stream's files (streams/<id>/, stream_log.c) are written the same
 * way at the offsets the leader wrote, under names checked to be a stream's own (a name from
 * the wire never leaves streams/), and synced with the log at store_replica_sync. */
#include "storage/store_replica.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store_record.h"
#include "storage/store_io.h"

#define REPLICA_DEFS "definitions.json"
#define REPLICA_SDIR_LEN 24 /* "streams/<16 hex digits>": a stream file's directory */

struct store_replica {
	char *dir;
	int dirfd, msgs_dirfd;
	bool no_fsync;
	bool dir_dirty, msgs_dirty; /* an entry appeared or went since the last sync */

	/* the segment the log is written to */
	int wfd;
	uint32_t wseg;
	uint64_t wsize;
	struct store_salt wsalt;
	bool wdirty;

	/* a whole file being fetched */
	int ffd;
	char fname[STORE_REPLICA_NAME_MAX];

	/* streams' files written since the last sync: synced then closed */
	struct replica_open {
		char name[STORE_REPLICA_NAME_MAX];
		int fd;
	} opens[16];
	size_t open_count;
	/* streams/<id> directories whose entries changed since the last sync ("streams/<id>"),
	 * and whether streams/ itself did */
	char sdirs[16][REPLICA_SDIR_LEN + 1];
	size_t sdir_count;
	bool streams_dirty;
};

static int replica_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int replica_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return code;
}

static int replica_stream_dir(struct store_replica *r, const char *name);
static bool replica_stream_name_ok(const char *name);
static int replica_stream_dir_changed(struct store_replica *r, const char *name);

static int replica_mkdir(const char *path)
{
	return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

struct store_replica *store_replica_open(const char *dir, bool no_fsync, char *err, size_t errlen)
{
	struct store_replica *r = calloc(1, sizeof *r);
	char msgs[4096];

	if (!r) {
		replica_fail(err, errlen, -1, "out of memory");
		return NULL;
	}
	r->dirfd = r->msgs_dirfd = r->wfd = r->ffd = -1;
	r->no_fsync = no_fsync;
	r->dir = strdup(dir);
	if (!r->dir) {
		replica_fail(err, errlen, -1, "out of memory");
		goto fail;
	}
	snprintf(msgs, sizeof msgs, "%s/msgs", dir);
	if (replica_mkdir(dir) != 0 || replica_mkdir(msgs) != 0) {
		replica_fail(err, errlen, -1, "cannot create %s: %s", msgs, strerror(errno));
		goto fail;
	}
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r->msgs_dirfd = open(msgs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0 || r->msgs_dirfd < 0) {
		replica_fail(err, errlen, -1, "cannot open %s: %s", msgs, strerror(errno));
		goto fail;
	}
	return r;
fail:
	store_replica_close(r);
	return NULL;
}

void store_replica_close(struct store_replica *r)
{
	if (!r)
		return;
	if (r->wfd >= 0)
		close(r->wfd);
	if (r->ffd >= 0)
		close(r->ffd);
	for (size_t i = 0; i < r->open_count; i++)
		close(r->opens[i].fd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	if (r->msgs_dirfd >= 0)
		close(r->msgs_dirfd);
	free(r->dir);
	free(r);
}

static void replica_seg_name(uint32_t seg, char *buf, size_t len)
{
	snprintf(buf, len, "%08u.seg", seg);
}

static int replica_datasync(struct store_replica *r, int fd)
{
	return r->no_fsync ? 0 : fdatasync(fd);
}

/* fsync of the directory dir (relative to the data directory). */
static int replica_fsync_dir(struct store_replica *r, const char *dir)
{
	if (r->no_fsync)
		return 0;
	return store_io_fsync_dir(r->dirfd, dir);
}

/* Leaves the open segment: synced, closed. */
static int replica_leave_segment(struct store_replica *r, char *err, size_t errlen)
{
	if (r->wfd < 0)
		return 0;
	if (r->wdirty && replica_datasync(r, r->wfd) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "fdatasync of segment %u: %s",
				    r->wseg, strerror(errno));
	close(r->wfd);
	r->wfd = -1;
	r->wdirty = false;
	return 0;
}

/* Opens segment seg for appending at off (its size must be off). At off 0 the salt comes from
 * the header the run carries; otherwise from the header on disk. */
static int replica_enter_segment(struct store_replica *r, uint32_t seg, uint64_t off, char *err,
				 size_t errlen)
{
	char name[32];
	struct stat st;
	uint8_t hdr[STORE_SEGMENT_HEADER_SIZE];
	uint32_t version;

	if (replica_leave_segment(r, err, errlen) != 0)
		return STORE_REPLICA_IO;
	replica_seg_name(seg, name, sizeof name);
	r->wfd = openat(r->msgs_dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->wfd < 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot open segment %s: %s",
				    name, strerror(errno));
	r->wseg = seg;
	if (fstat(r->wfd, &st) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot stat segment %s: %s",
				    name, strerror(errno));
	r->wsize = (uint64_t)st.st_size;
	if (r->wsize == 0)
		r->msgs_dirty = true; /* new, or empty: its entry may not be durable yet */
	r->wsalt = STORE_SALT_NONE;
	if (off == 0 || r->wsize < STORE_SEGMENT_HEADER_SIZE)
		return 0;
	if (pread(r->wfd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot read the header of %s",
				    name);
	switch (store_segment_header_decode(hdr, sizeof hdr, &version, &r->wsalt)) {
	case STORE_SEGMENT_V2:
		return 0;
	case STORE_SEGMENT_V1:
		r->wsalt = STORE_SALT_NONE;
		return 0;
	default:
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
				    "segment %s has a damaged or unknown header", name);
	}
}

int store_replica_part(struct store_replica *r, uint32_t seg, uint64_t off, const uint8_t *data,
		       size_t len, char *err, size_t errlen)
{
	const uint8_t *p = data;
	size_t n = len;
	struct store_salt salt;
	struct store_record rec;
	uint32_t version;
	int rc;

	if (r->wfd < 0 || r->wseg != seg) {
		rc = replica_enter_segment(r, seg, off, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (off != r->wsize)
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
				    "a run for segment %u at offset %llu, where the file ends at "
				    "%llu", seg, (unsigned long long)off,
				    (unsigned long long)r->wsize);
	salt = r->wsalt;
	if (off == 0) {
		if (n < STORE_SEGMENT_HEADER_SIZE ||
		    store_segment_header_decode(p, n, &version, &salt) != STORE_SEGMENT_V2)
			return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
					    "segment %u starts without a good header", seg);
		p += STORE_SEGMENT_HEADER_SIZE;
		n -= STORE_SEGMENT_HEADER_SIZE;
	}
	while (n > 0) {
		int64_t used = store_record_check(p, n, &rec, salt);
		if (used <= 0)
			return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
					    "%s record in segment %u at offset %llu",
					    used == 0 ? "a truncated" : "a corrupt", seg,
					    (unsigned long long)(off + (uint64_t)(p - data)));
		p += used;
		n -= (size_t)used;
	}
	if (off == 0 && len >= STORE_SEGMENT_HEADER_SIZE) {
		/* the header and its directory entry first, as the storage thread does: records
		 * must never be in a file whose header a crash lost */
		if (store_io_pwrite(r->wfd, data, STORE_SEGMENT_HEADER_SIZE, 0) != 0 ||
		    replica_datasync(r, r->wfd) != 0 ||
		    (!r->no_fsync && fsync(r->msgs_dirfd) != 0))
			return replica_fail(err, errlen, STORE_REPLICA_IO,
					    "cannot start segment %u: %s", seg, strerror(errno));
		if (store_io_pwrite(r->wfd, data + STORE_SEGMENT_HEADER_SIZE,
				   len - STORE_SEGMENT_HEADER_SIZE, STORE_SEGMENT_HEADER_SIZE) != 0)
			goto io;
		r->wsalt = salt;
	} else if (store_io_pwrite(r->wfd, data, len, off) != 0) {
		goto io;
	}
	r->wsize = off + len;
	r->wdirty = true;
	return 0;
io:
	rc = errno;
	/* give the space back: the run is written again whole, or the sync starts over */
	if (ftruncate(r->wfd, (off_t)off) != 0)
		(void)0;
	errno = rc;
	return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot write segment %u: %s", seg,
			    strerror(errno));
}

int store_replica_sync(struct store_replica *r, char *err, size_t errlen)
{
	/* the streams' files first, then the entries of the directories that hold them */
	while (r->open_count > 0) {
		struct replica_open *o = &r->opens[r->open_count - 1];
		if (replica_datasync(r, o->fd) != 0)
			return replica_fail(err, errlen, STORE_REPLICA_IO, "fdatasync of %s/%s: %s",
					    r->dir, o->name, strerror(errno));
		close(o->fd);
		r->open_count--;
	}
	while (r->sdir_count > 0) {
		const char *d = r->sdirs[r->sdir_count - 1];
		if (replica_fsync_dir(r, d) != 0 && errno != ENOENT)
			return replica_fail(err, errlen, STORE_REPLICA_IO, "fsync of %s/%s: %s",
					    r->dir, d, strerror(errno));
		r->sdir_count--; /* ENOENT: it went, and streams/ is dirty for that */
	}
	if (r->streams_dirty && replica_fsync_dir(r, "streams") != 0 && errno != ENOENT)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "fsync of %s/streams: %s",
				    r->dir, strerror(errno));
	r->streams_dirty = false;
	if (r->wfd >= 0 && r->wdirty) {
		if (replica_datasync(r, r->wfd) != 0)
			return replica_fail(err, errlen, STORE_REPLICA_IO,
					    "fdatasync of segment %u: %s", r->wseg, strerror(errno));
		r->wdirty = false;
	}
	if (!r->no_fsync && r->msgs_dirty && fsync(r->msgs_dirfd) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "fsync of %s/msgs: %s", r->dir,
				    strerror(errno));
	r->msgs_dirty = false;
	if (!r->no_fsync && r->dir_dirty && fsync(r->dirfd) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "fsync of %s: %s", r->dir,
				    strerror(errno));
	r->dir_dirty = false;
	return 0;
}

int store_replica_delete_segment(struct store_replica *r, uint32_t seg, char *err, size_t errlen)
{
	char name[32];

	/* the records that made it dead are on disk before it goes */
	if (store_replica_sync(r, err, errlen) != 0)
		return STORE_REPLICA_IO;
	if (r->wfd >= 0 && r->wseg == seg) {
		close(r->wfd);
		r->wfd = -1;
	}
	replica_seg_name(seg, name, sizeof name);
	if (unlinkat(r->msgs_dirfd, name, 0) != 0 && errno != ENOENT)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot delete segment %s: %s",
				    name, strerror(errno));
	r->msgs_dirty = true;
	return 0;
}

static int replica_write_all(int fd, const void *data, size_t len)
{
	return store_io_pwrite(fd, data, len, 0);
}

int store_replica_definitions(struct store_replica *r, const char *doc, size_t len, char *err,
			      size_t errlen)
{
	int fd = openat(r->dirfd, REPLICA_DEFS ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);

	if (fd < 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot create %s/%s.tmp: %s",
				    r->dir, REPLICA_DEFS, strerror(errno));
	if (replica_write_all(fd, doc, len) != 0 || (!r->no_fsync && fsync(fd) != 0)) {
		int e = errno;
		close(fd);
		unlinkat(r->dirfd, REPLICA_DEFS ".tmp", 0);
		errno = e;
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot write %s/%s.tmp: %s",
				    r->dir, REPLICA_DEFS, strerror(errno));
	}
	close(fd);
	/* the current copy becomes the fallback, as store_definitions_save keeps it */
	unlinkat(r->dirfd, REPLICA_DEFS ".prev.tmp", 0);
	if (linkat(r->dirfd, REPLICA_DEFS, r->dirfd, REPLICA_DEFS ".prev.tmp", 0) == 0)
		renameat(r->dirfd, REPLICA_DEFS ".prev.tmp", r->dirfd, REPLICA_DEFS ".prev");
	if (renameat(r->dirfd, REPLICA_DEFS ".tmp", r->dirfd, REPLICA_DEFS) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot rename %s/%s.tmp: %s",
				    r->dir, REPLICA_DEFS, strerror(errno));
	r->dir_dirty = true;
	return 0;
}

/* ---- streams' files ---- */

/* Creates streams/ and streams/<id>/ for name; a directory made here is an entry its parent's
 * next sync covers. */
static int replica_stream_dir(struct store_replica *r, const char *name)
{
	char dir[REPLICA_SDIR_LEN + 1];

	if (mkdirat(r->dirfd, "streams", 0755) == 0)
		r->dir_dirty = true;
	else if (errno != EEXIST)
		return -1;
	snprintf(dir, sizeof dir, "%.*s", REPLICA_SDIR_LEN, name);
	if (mkdirat(r->dirfd, dir, 0755) == 0)
		r->streams_dirty = true;
	else if (errno != EEXIST)
		return -1;
	return 0;
}

/* name's directory gained or lost an entry: its fsync comes with the next sync (at once when
 * too many are waiting). */
static int replica_stream_dir_changed(struct store_replica *r, const char *name)
{
	char dir[REPLICA_SDIR_LEN + 1];

	snprintf(dir, sizeof dir, "%.*s", REPLICA_SDIR_LEN, name);
	for (size_t i = 0; i < r->sdir_count; i++)
		if (strcmp(r->sdirs[i], dir) == 0)
			return 0;
	if (r->sdir_count == sizeof r->sdirs / sizeof r->sdirs[0])
		return replica_fsync_dir(r, dir);
	memcpy(r->sdirs[r->sdir_count++], dir, sizeof dir);
	return 0;
}

/* The open descriptor of a stream's file, opened (created) on its first write since the last
 * sync, which syncs and closes it. */
static struct replica_open *replica_open_stream(struct store_replica *r, const char *name,
						char *err, size_t errlen)
{
	struct replica_open *o;
	struct stat st;
	bool created;

	for (size_t i = 0; i < r->open_count; i++)
		if (strcmp(r->opens[i].name, name) == 0)
			return &r->opens[i];
	if (r->open_count == sizeof r->opens / sizeof r->opens[0] &&
	    store_replica_sync(r, err, errlen) != 0)
		return NULL;
	if (replica_stream_dir(r, name) != 0) {
		replica_fail(err, errlen, STORE_REPLICA_IO,
			     "cannot create the directory of %s/%s: %s", r->dir, name,
			     strerror(errno));
		return NULL;
	}
	o = &r->opens[r->open_count];
	created = fstatat(r->dirfd, name, &st, 0) != 0;
	o->fd = openat(r->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (o->fd < 0 || (created && replica_stream_dir_changed(r, name) != 0)) {
		replica_fail(err, errlen, STORE_REPLICA_IO, "cannot create %s/%s: %s", r->dir, name,
			     strerror(errno));
		if (o->fd >= 0)
			close(o->fd);
		return NULL;
	}
	snprintf(o->name, sizeof o->name, "%s", name);
	r->open_count++;
	return o;
}

int store_replica_file_part(struct store_replica *r, const char *name, uint64_t off,
			    const uint8_t *data, size_t len, char *err, size_t errlen)
{
	struct replica_open *o;
	struct stat st;
	uint64_t size;

	if (!replica_stream_name_ok(name))
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "refusing to write '%s'",
				    name);
	o = replica_open_stream(r, name, err, errlen);
	if (!o)
		return STORE_REPLICA_IO;
	if (fstat(o->fd, &st) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot stat %s/%s: %s", r->dir,
				    name, strerror(errno));
	size = (uint64_t)st.st_size;
	/* no holes: a run starts inside the file or where it ends (so the file grows by what was
	 * sent, never to an offset a frame names) */
	if (off > size)
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
				    "a run for %s at offset %llu, where the file ends at %llu",
				    name, (unsigned long long)off, (unsigned long long)size);
	/* what is there already must be what the leader has (a segment's header comes again
	 * with its first chunk) */
	size_t same = off + len <= size ? len : (size_t)(size - off);
	if (same > 0) {
		uint8_t *have = malloc(same);
		if (!have)
			return replica_fail(err, errlen, STORE_REPLICA_IO, "out of memory");
		bool equal = pread(o->fd, have, same, (off_t)off) == (ssize_t)same &&
			     memcmp(have, data, same) == 0;
		free(have);
		if (!equal)
			return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
					    "%s differs from the leader's at offset %llu", name,
					    (unsigned long long)off);
	}
	if (same < len && store_io_pwrite(o->fd, data + same, len - same, off + same) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot write %s/%s: %s",
				    r->dir, name, strerror(errno));
	return 0;
}

/* Removes a stream's file, and its directory when that was its last file. */
static int replica_stream_unlink(struct store_replica *r, const char *name, char *err,
				 size_t errlen)
{
	char dir[REPLICA_SDIR_LEN + 1];

	for (size_t i = 0; i < r->open_count; i++)
		if (strcmp(r->opens[i].name, name) == 0) {
			close(r->opens[i].fd); /* its bytes go with it: no sync */
			r->opens[i] = r->opens[--r->open_count];
			break;
		}
	if (unlinkat(r->dirfd, name, 0) != 0) {
		if (errno == ENOENT)
			return 0;
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot remove %s/%s: %s",
				    r->dir, name, strerror(errno));
	}
	snprintf(dir, sizeof dir, "%.*s", REPLICA_SDIR_LEN, name);
	if (unlinkat(r->dirfd, dir, AT_REMOVEDIR) == 0)
		r->streams_dirty = true; /* the stream's last file: the directory goes too */
	else if (replica_stream_dir_changed(r, name) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "fsync of %s/%s: %s", r->dir,
				    dir, strerror(errno));
	return 0;
}

int store_replica_file_removed(struct store_replica *r, const char *name, char *err,
			       size_t errlen)
{
	if (!replica_stream_name_ok(name))
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "refusing to remove '%s'",
				    name);
	/* what was written before it went is on disk first, as for a log segment */
	if (store_replica_sync(r, err, errlen) != 0)
		return STORE_REPLICA_IO;
	return replica_stream_unlink(r, name, err, errlen);
}

/* ---- whole files ---- */

static bool replica_digits(const char *p, size_t n, bool hex)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (hex && p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/* "streams/<16 hex>/<20 digits>.log|.idx" */
static bool replica_stream_name_ok(const char *name)
{
	return strlen(name) == 8 + 16 + 1 + 20 + 4 && strncmp(name, "streams/", 8) == 0 &&
	       replica_digits(name + 8, 16, true) && name[24] == '/' &&
	       replica_digits(name + 25, 20, false) &&
	       (strcmp(name + 45, ".log") == 0 || strcmp(name + 45, ".idx") == 0);
}

bool store_replica_name_ok(const char *name)
{
	if (strcmp(name, REPLICA_DEFS) == 0)
		return true;
	if (replica_stream_name_ok(name))
		return true;
	if (strncmp(name, "msgs/", 5) != 0 || strlen(name) != 5 + 12 ||
	    strcmp(name + 13, ".seg") != 0)
		return false;
	for (int i = 5; i < 13; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return strncmp(name + 5, "00000000", 8) != 0;
}

int store_replica_list(const char *dir, store_replica_list_fn fn, void *arg)
{
	char path[4096], name[64];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	snprintf(path, sizeof path, "%s/%s", dir, REPLICA_DEFS);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && fn(arg, REPLICA_DEFS,
							      (uint64_t)st.st_size) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/streams", dir);
	d = opendir(path);
	while (d && rc == 0 && (de = readdir(d)) != NULL) {
		char sub[4200];
		DIR *sd;
		struct dirent *se;
		if (strlen(de->d_name) != 16)
			continue;
		snprintf(sub, sizeof sub, "%s/streams/%s", dir, de->d_name);
		sd = opendir(sub);
		while (sd && rc == 0 && (se = readdir(sd)) != NULL) {
			char sname[128];
			if (strlen(se->d_name) != 24)
				continue;
			snprintf(sname, sizeof sname, "streams/%s/%s", de->d_name, se->d_name);
			if (!replica_stream_name_ok(sname))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, sname);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				rc = fn(arg, sname, (uint64_t)st.st_size);
		}
		if (sd)
			closedir(sd);
	}
	if (d)
		closedir(d);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof path, "%s/msgs", dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 12)
			continue;
		snprintf(name, sizeof name, "msgs/%s", de->d_name);
		if (!store_replica_name_ok(name))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue; /* deleted meanwhile */
		rc = fn(arg, name, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

int store_replica_fd_crc(int fd, uint64_t len, uint32_t *crc)
{
	static const size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	uint64_t done = 0;
	uint32_t c = 0;

	if (!buf)
		return -1;
	while (done < len) {
		size_t want = len - done < chunk ? (size_t)(len - done) : chunk;
		ssize_t n = pread(fd, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return -1;
		}
		c = store_record_crc32c(c, buf, (size_t)n);
		done += (uint64_t)n;
	}
	free(buf);
	*crc = c;
	return 0;
}

int store_replica_crc(const char *dir, const char *name, uint64_t len, uint32_t *crc)
{
	char path[4096];
	int fd, rc;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = store_replica_fd_crc(fd, len, crc);
	close(fd);
	return rc;
}

/* dir/name as a directory fd and a name in it. */
static int replica_at(struct store_replica *r, const char *name, const char **leaf)
{
	if (strncmp(name, "msgs/", 5) == 0) {
		*leaf = name + 5;
		return r->msgs_dirfd;
	}
	*leaf = name;
	return r->dirfd;
}

int store_replica_file_begin(struct store_replica *r, const char *name, uint64_t from, char *err,
			     size_t errlen)
{
	const char *leaf;
	int dfd;

	if (!store_replica_name_ok(name))
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "refusing to write '%s'",
				    name);
	if (r->ffd >= 0)
		close(r->ffd);
	dfd = replica_at(r, name, &leaf);
	if (replica_stream_name_ok(name)) {
		struct stat st;
		/* a stream's file the stream wrote to since the last sync: the fetch replaces it */
		for (size_t i = 0; i < r->open_count; i++)
			if (strcmp(r->opens[i].name, name) == 0 &&
			    store_replica_sync(r, err, errlen) != 0)
				return STORE_REPLICA_IO;
		if (replica_stream_dir(r, name) != 0 ||
		    (fstatat(r->dirfd, name, &st, 0) != 0 &&
		     replica_stream_dir_changed(r, name) != 0))
			return replica_fail(err, errlen, STORE_REPLICA_IO,
					    "cannot create the directory of %s/%s: %s", r->dir,
					    name, strerror(errno));
	}
	/* the log writer must not keep a stale idea of this segment's size or salt */
	if (r->wfd >= 0 && dfd == r->msgs_dirfd) {
		char seg[32];
		replica_seg_name(r->wseg, seg, sizeof seg);
		if (strcmp(seg, leaf) == 0 && replica_leave_segment(r, err, errlen) != 0)
			return STORE_REPLICA_IO;
	}
	r->ffd = openat(dfd, leaf, O_RDWR | O_CREAT | O_CLOEXEC, 0644); /* file_end reads it back */
	if (r->ffd < 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot open %s/%s: %s", r->dir,
				    name, strerror(errno));
	if (ftruncate(r->ffd, (off_t)from) != 0 || lseek(r->ffd, (off_t)from, SEEK_SET) < 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot cut %s/%s: %s", r->dir,
				    name, strerror(errno));
	snprintf(r->fname, sizeof r->fname, "%s", name);
	if (dfd == r->msgs_dirfd)
		r->msgs_dirty = true;
	else
		r->dir_dirty = true;
	return 0;
}

int store_replica_file_write(struct store_replica *r, const uint8_t *data, size_t len, char *err,
			     size_t errlen)
{
	if (r->ffd < 0)
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "no file is being written");
	if (store_io_write(r->ffd, data, len) != 0)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot write %s/%s: %s",
				    r->dir, r->fname, strerror(errno));
	return 0;
}

int store_replica_file_end(struct store_replica *r, uint64_t size, uint32_t crc, char *err,
			   size_t errlen)
{
	struct stat st;
	uint32_t have;
	int fd = r->ffd;

	if (fd < 0)
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "no file is being written");
	r->ffd = -1;
	if (fstat(fd, &st) != 0 || replica_datasync(r, fd) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot sync %s/%s: %s", r->dir,
				    r->fname, strerror(errno));
	}
	if ((uint64_t)st.st_size != size || store_replica_fd_crc(fd, size, &have) != 0 ||
	    have != crc) {
		close(fd);
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT,
				    "%s/%s does not match the leader's copy (%llu bytes)", r->dir,
				    r->fname, (unsigned long long)st.st_size);
	}
	close(fd);
	return 0;
}

int store_replica_truncate(struct store_replica *r, const char *name, uint64_t size, char *err,
			   size_t errlen)
{
	const char *leaf;
	int dfd, fd;

	if (!store_replica_name_ok(name))
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "refusing to cut '%s'", name);
	if (replica_leave_segment(r, err, errlen) != 0)
		return STORE_REPLICA_IO;
	dfd = replica_at(r, name, &leaf);
	fd = openat(dfd, leaf, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || replica_datasync(r, fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot cut %s/%s to %llu: %s",
				    r->dir, name, (unsigned long long)size, strerror(errno));
	}
	close(fd);
	return 0;
}

int store_replica_remove(struct store_replica *r, const char *name, char *err, size_t errlen)
{
	const char *leaf;
	int dfd;

	if (!store_replica_name_ok(name))
		return replica_fail(err, errlen, STORE_REPLICA_CORRUPT, "refusing to remove '%s'",
				    name);
	if (replica_leave_segment(r, err, errlen) != 0)
		return STORE_REPLICA_IO;
	if (replica_stream_name_ok(name))
		return replica_stream_unlink(r, name, err, errlen);
	dfd = replica_at(r, name, &leaf);
	if (unlinkat(dfd, leaf, 0) != 0 && errno != ENOENT)
		return replica_fail(err, errlen, STORE_REPLICA_IO, "cannot remove %s/%s: %s",
				    r->dir, name, strerror(errno));
	if (dfd == r->msgs_dirfd)
		r->msgs_dirty = true;
	else
		r->dir_dirty = true;
	return 0;
}
