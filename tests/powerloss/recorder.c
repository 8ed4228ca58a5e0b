/* tests/powerloss/recorder.c: the write-recording layer of the power-loss test, an LD_PRELOAD
 * library. In a process started with WARREN_RECORD_ROOT=<dir> and WARREN_RECORD_LOG=<file>, every
 * call that changes a file or directory under <dir> is appended to <file>, in the order the calls
 * happened, with the data written: open with O_CREAT or O_TRUNC, mkdir, write, pwrite, writev,
 * pwritev, ftruncate, truncate, fallocate, fsync, fdatasync, sync_file_range, sync, syncfs, rename,
 * link, unlink, rmdir. Descriptors made by dup, dup2, dup3 and fcntl(F_DUPFD) follow the file
 * they copy (a stream log hands a dup of its segment to the storage thread, which fdatasyncs
 * it). crashfs.py reads the log back and builds the states a power cut could leave.
 *
 * Each call runs under one process-wide lock together with the append of its entry, and the entry
 * is appended after the call returned: an operation whose entry is at position k had completed
 * before anything logged after k started. The log is opened O_APPEND and each entry is one
 * writev, so the workload (powerloss.py) can append its own MARK entries to the same file at the
 * moments its client learns something (a confirm, a declare-ok): whatever the broker logged before
 * a MARK had happened before the client was told.
 *
 * Opens of existing directories are logged too (an fsync names its directory by inode).
 *
 * Entry (little-endian): u32 total length, u8 op, u8 flags, u16 0, u64 ino, u64 off, u64 len,
 * u16 path length, u16 path2 length, u32 data length, then path, path2, data. Paths are relative
 * to the root ("" is the root itself). Writes this layer cannot model (stdio or shared writable
 * mappings of files under the root) abort the process with a message, so nothing goes unrecorded.
 */
/* open and open64 (and the other *64 names) are separate symbols to interpose: the build's
 * -D_FILE_OFFSET_BITS=64 would make the headers rename one to the other */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum recorder_op {
	REC_OPEN = 1,      /* flags: 1 created, 2 truncated, 4 directory */
	REC_WRITE = 2,     /* ino, off, data */
	REC_TRUNCATE = 3,  /* ino, len */
	REC_FALLOCATE = 4, /* ino, off, len; flags: 1 keep size */
	REC_FSYNC = 5,     /* ino; flags: 0 fsync, 1 fdatasync, 2 sync_file_range */
	REC_RENAME = 6,    /* path -> path2 */
	REC_UNLINK = 7,    /* path; flags: 1 rmdir */
	REC_LINK = 8,      /* path (existing) -> path2 (new) */
	REC_MKDIR = 9,     /* path, ino */
	REC_MARK = 10,     /* data: written by the workload, never by this library */
	REC_SYNC = 11,     /* sync() or syncfs(): everything is durable */
};

#define REC_MAX_FD 65536

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static char rec_root[PATH_MAX];
static size_t rec_root_len;
static int rec_log = -1;
static bool rec_on;
static uint64_t rec_ino[REC_MAX_FD]; /* 0: not a file under the root */
static long rec_fdatasync_delay_us;
static bool rec_sabotage_fdatasync;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_truncate)(const char *, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned int);
static void (*real_sync)(void);
static int (*real_syncfs)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_rmdir)(const char *);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_close)(int);
static FILE *(*real_fopen)(const char *, const char *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);

#define RESOLVE(name) (*(void **)&real_##name = dlsym(RTLD_NEXT, #name))

__attribute__((constructor)) static void recorder_init(void)
{
	const char *root = getenv("WARREN_RECORD_ROOT"), *log = getenv("WARREN_RECORD_LOG");

	RESOLVE(open), RESOLVE(openat), RESOLVE(write), RESOLVE(pwrite), RESOLVE(writev);
	RESOLVE(pwritev), RESOLVE(ftruncate), RESOLVE(truncate), RESOLVE(fallocate);
	RESOLVE(fsync), RESOLVE(fdatasync), RESOLVE(sync_file_range), RESOLVE(sync);
	RESOLVE(syncfs), RESOLVE(rename), RESOLVE(renameat), RESOLVE(renameat2), RESOLVE(link);
	RESOLVE(linkat), RESOLVE(unlink), RESOLVE(unlinkat), RESOLVE(rmdir), RESOLVE(mkdir);
	RESOLVE(mkdirat), RESOLVE(close), RESOLVE(fopen), RESOLVE(mmap), RESOLVE(dup);
	RESOLVE(dup2), RESOLVE(dup3), RESOLVE(fcntl), RESOLVE(fcntl64);
	if (!real_fcntl64)
		real_fcntl64 = real_fcntl;
	if (!root || !log)
		return;
	if (!realpath(root, rec_root)) {
		fprintf(stderr, "recorder: cannot resolve %s\n", root);
		abort();
	}
	rec_root_len = strlen(rec_root);
	rec_sabotage_fdatasync = getenv("WARREN_RECORD_SABOTAGE") &&
				 strcmp(getenv("WARREN_RECORD_SABOTAGE"), "fdatasync") == 0;
	if (getenv("WARREN_RECORD_FDATASYNC_DELAY_US"))
		rec_fdatasync_delay_us = atol(getenv("WARREN_RECORD_FDATASYNC_DELAY_US"));
	rec_log = real_open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (rec_log < 0) {
		fprintf(stderr, "recorder: cannot open %s\n", log);
		abort();
	}
	rec_on = true;
}

static void recorder_die(const char *what)
{
	fprintf(stderr, "recorder: %s under %s cannot be recorded\n", what, rec_root);
	abort();
}

/* The absolute, normalised path of path (relative to dirfd), without resolving its last part
 * (which may not exist yet); false when it cannot be resolved. */
static bool recorder_abs(int dirfd, const char *path, char *out)
{
	char base[PATH_MAX], joined[2 * PATH_MAX + 2], parent[PATH_MAX];
	const char *slash, *name;

	if (path[0] == '/') {
		snprintf(joined, sizeof joined, "%s", path);
	} else {
		if (dirfd == AT_FDCWD) {
			if (!getcwd(base, sizeof base))
				return false;
		} else {
			char link[64];
			ssize_t n;
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			n = readlink(link, base, sizeof base - 1);
			if (n < 0)
				return false;
			base[n] = '\0';
		}
		snprintf(joined, sizeof joined, "%s/%s", base, path);
	}
	/* drop trailing slashes, then resolve the parent directory */
	for (size_t n = strlen(joined); n > 1 && joined[n - 1] == '/'; n--)
		joined[n - 1] = '\0';
	slash = strrchr(joined, '/');
	name = slash + 1;
	if (slash == joined) {
		snprintf(parent, sizeof parent, "/");
	} else {
		char tmp[2 * PATH_MAX + 2];
		memcpy(tmp, joined, (size_t)(slash - joined));
		tmp[slash - joined] = '\0';
		if (!realpath(tmp, parent))
			return false;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name)
		return realpath(joined, out) != NULL;
	int n = snprintf(out, PATH_MAX, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name);
	return n > 0 && n < PATH_MAX;
}

/* path relative to the root, or NULL when it is not under it */
static const char *recorder_rel(const char *abs)
{
	if (strncmp(abs, rec_root, rec_root_len) != 0)
		return NULL;
	if (abs[rec_root_len] == '\0')
		return "";
	if (abs[rec_root_len] != '/')
		return NULL;
	return abs + rec_root_len + 1;
}

static void recorder_put(enum recorder_op op, unsigned flags, uint64_t ino, uint64_t off,
			 uint64_t len, const char *path, const char *path2, const struct iovec *data,
			 int data_count, size_t data_len)
{
	uint8_t h[40];
	uint16_t pl = (uint16_t)(path ? strlen(path) : 0), p2l = (uint16_t)(path2 ? strlen(path2) : 0);
	uint32_t total = (uint32_t)(sizeof h + pl + p2l + data_len);
	struct iovec iov[3 + 64];
	int n = 0;

	memcpy(h, &total, 4);
	h[4] = (uint8_t)op;
	h[5] = (uint8_t)flags;
	h[6] = h[7] = 0;
	memcpy(h + 8, &ino, 8);
	memcpy(h + 16, &off, 8);
	memcpy(h + 24, &len, 8);
	memcpy(h + 32, &pl, 2);
	memcpy(h + 34, &p2l, 2);
	memcpy(h + 36, &(uint32_t){ (uint32_t)data_len }, 4);
	iov[n++] = (struct iovec){ h, sizeof h };
	if (pl)
		iov[n++] = (struct iovec){ (void *)path, pl };
	if (p2l)
		iov[n++] = (struct iovec){ (void *)path2, p2l };
	for (int i = 0; i < data_count && n < (int)(sizeof iov / sizeof iov[0]); i++)
		iov[n++] = data[i];
	if (data_count > 64)
		recorder_die("a writev of more than 64 buffers");
	/* O_APPEND: one writev is one entry, even next to the workload's marks */
	ssize_t w = real_writev(rec_log, iov, n);
	if (w < 0 || (size_t)w != total) {
		fprintf(stderr, "recorder: cannot append to the log\n");
		abort();
	}
}

/* The data of a write that returned n bytes from iov: the first n bytes. */
static int recorder_clip(const struct iovec *iov, int cnt, size_t n, struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < cnt && n > 0 && k < 64; i++) {
		size_t take = iov[i].iov_len < n ? iov[i].iov_len : n;
		out[k++] = (struct iovec){ iov[i].iov_base, take };
		n -= take;
	}
	return k;
}

static bool recorder_fd(int fd)
{
	return rec_on && fd >= 0 && fd < REC_MAX_FD && rec_ino[fd] != 0;
}

/* ---- opening ---- */

static int recorder_open_common(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	char abs[PATH_MAX];
	const char *rel;
	struct stat st;
	bool existed;
	int fd;

	if (!rec_on || !recorder_abs(dirfd, path, abs) || !(rel = recorder_rel(abs))) {
		fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
		if (rec_on && fd >= 0 && fd < REC_MAX_FD)
			rec_ino[fd] = 0; /* in case a tracked fd was closed behind our back */
		return fd;
	}
	pthread_mutex_lock(&rec_lock);
	existed = lstat(abs, &st) == 0;
	fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
	if (fd >= 0 && fd < REC_MAX_FD && fstat(fd, &st) == 0) {
		bool created = (flags & O_CREAT) && !existed;
		bool truncated = (flags & O_TRUNC) && existed && S_ISREG(st.st_mode) &&
				 (flags & O_ACCMODE) != O_RDONLY;
		rec_ino[fd] = (uint64_t)st.st_ino;
		/* directories too, so that an fsync of one can be tied to its path */
		if (created || truncated || S_ISDIR(st.st_mode))
			recorder_put(REC_OPEN, (created ? 1u : 0u) | (truncated ? 2u : 0u) |
						       (S_ISDIR(st.st_mode) ? 4u : 0u),
				     (uint64_t)st.st_ino, 0, 0, rel, NULL, NULL, 0, 0);
	}
	pthread_mutex_unlock(&rec_lock);
	return fd;
}

static mode_t recorder_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = recorder_mode(flags, ap);
	va_end(ap);
	return recorder_open_common(AT_FDCWD, path, flags, mode, false);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = recorder_mode(flags, ap);
	va_end(ap);
	return recorder_open_common(AT_FDCWD, path, flags, mode, false);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = recorder_mode(flags, ap);
	va_end(ap);
	return recorder_open_common(dirfd, path, flags, mode, true);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = recorder_mode(flags, ap);
	va_end(ap);
	return recorder_open_common(dirfd, path, flags, mode, true);
}

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return recorder_open_common(AT_FDCWD, path, flags, 0, false);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	return recorder_open_common(AT_FDCWD, path, flags, 0, false);
}

int creat(const char *path, mode_t mode)
{
	return recorder_open_common(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, false);
}

int creat64(const char *path, mode_t mode)
{
	return creat(path, mode);
}

int close(int fd)
{
	if (!recorder_fd(fd))
		return real_close(fd);
	pthread_mutex_lock(&rec_lock);
	rec_ino[fd] = 0;
	int rc = real_close(fd);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

static bool recorder_path_under(const char *path)
{
	char abs[PATH_MAX];
	return rec_on && recorder_abs(AT_FDCWD, path, abs) && recorder_rel(abs);
}

FILE *fopen(const char *path, const char *mode)
{
	if (strpbrk(mode, "wa+") && recorder_path_under(path))
		recorder_die("a stdio stream opened for writing");
	return real_fopen(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return fopen(path, mode);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED) && recorder_fd(fd))
		recorder_die("a shared writable mapping");
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* ---- copies of descriptors ---- */

/* newfd (the result of a dup of oldfd, or -1) now names what oldfd names. Called under the
 * lock, so that a close on another thread cannot slip between the call and the bookkeeping. */
static int recorder_dup_result(int oldfd, int newfd)
{
	if (newfd >= 0 && newfd < REC_MAX_FD)
		rec_ino[newfd] = oldfd >= 0 && oldfd < REC_MAX_FD ? rec_ino[oldfd] : 0;
	return newfd;
}

/* these may be called by other libraries' constructors, before recorder_init has run */
#define RESOLVED(name) (real_##name ? 0 : (RESOLVE(name), 0))

int dup(int fd)
{
	RESOLVED(dup);
	if (!rec_on)
		return real_dup(fd);
	pthread_mutex_lock(&rec_lock);
	int rc = recorder_dup_result(fd, real_dup(fd));
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int dup2(int fd, int fd2)
{
	RESOLVED(dup2);
	if (!rec_on)
		return real_dup2(fd, fd2);
	pthread_mutex_lock(&rec_lock);
	int rc = recorder_dup_result(fd, real_dup2(fd, fd2));
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int dup3(int fd, int fd2, int flags)
{
	RESOLVED(dup3);
	if (!rec_on)
		return real_dup3(fd, fd2, flags);
	pthread_mutex_lock(&rec_lock);
	int rc = recorder_dup_result(fd, real_dup3(fd, fd2, flags));
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

/* glibc's own fcntl reads its third argument as a pointer whatever the command: so does this */
static int recorder_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (!rec_on || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC))
		return real(fd, cmd, arg);
	pthread_mutex_lock(&rec_lock);
	int rc = recorder_dup_result(fd, real(fd, cmd, arg));
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	RESOLVED(fcntl);
	return recorder_fcntl(real_fcntl, fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!real_fcntl64 && !(RESOLVE(fcntl64)))
		RESOLVE(fcntl);
	return recorder_fcntl(real_fcntl64 ? real_fcntl64 : real_fcntl, fd, cmd, arg);
}

/* ---- data ---- */

static ssize_t recorder_writev_at(int fd, const struct iovec *iov, int cnt, off_t off, bool pos)
{
	struct iovec clip[64];
	uint64_t at;
	ssize_t n;

	pthread_mutex_lock(&rec_lock);
	if (pos) {
		at = (uint64_t)off;
	} else {
		struct stat st;
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
			at = (uint64_t)st.st_size;
		else
			at = (uint64_t)lseek(fd, 0, SEEK_CUR);
	}
	n = pos ? real_pwritev(fd, iov, cnt, off) : real_writev(fd, iov, cnt);
	if (n > 0) {
		int k = recorder_clip(iov, cnt, (size_t)n, clip);
		recorder_put(REC_WRITE, 0, rec_ino[fd], at, (uint64_t)n, NULL, NULL, clip, k,
			     (size_t)n);
	}
	pthread_mutex_unlock(&rec_lock);
	return n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (!recorder_fd(fd))
		return real_write(fd, buf, len);
	struct iovec v = { (void *)buf, len };
	return recorder_writev_at(fd, &v, 1, 0, false);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (!recorder_fd(fd))
		return real_pwrite(fd, buf, len, off);
	struct iovec v = { (void *)buf, len };
	return recorder_writev_at(fd, &v, 1, off, true);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (!recorder_fd(fd))
		return real_writev(fd, iov, cnt);
	if (cnt > 64)
		recorder_die("a writev of more than 64 buffers");
	return recorder_writev_at(fd, iov, cnt, 0, false);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (!recorder_fd(fd))
		return real_pwritev(fd, iov, cnt, off);
	if (cnt > 64)
		recorder_die("a pwritev of more than 64 buffers");
	return recorder_writev_at(fd, iov, cnt, off, true);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev(fd, iov, cnt, off);
}

int ftruncate(int fd, off_t len)
{
	if (!recorder_fd(fd))
		return real_ftruncate(fd, len);
	pthread_mutex_lock(&rec_lock);
	int rc = real_ftruncate(fd, len);
	if (rc == 0)
		recorder_put(REC_TRUNCATE, 0, rec_ino[fd], 0, (uint64_t)len, NULL, NULL, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

int truncate(const char *path, off_t len)
{
	if (recorder_path_under(path))
		recorder_die("truncate() by path");
	return real_truncate(path, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	if (!recorder_fd(fd))
		return real_fallocate(fd, mode, off, len);
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		recorder_die("fallocate() punching or zeroing ranges");
	pthread_mutex_lock(&rec_lock);
	int rc = real_fallocate(fd, mode, off, len);
	if (rc == 0)
		recorder_put(REC_FALLOCATE, (mode & FALLOC_FL_KEEP_SIZE) ? 1u : 0u, rec_ino[fd],
			     (uint64_t)off, (uint64_t)len, NULL, NULL, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

/* ---- syncs ---- */

static int recorder_sync(int fd, unsigned kind, int (*fn)(int))
{
	/* WARREN_RECORD_FDATASYNC_DELAY_US: a slow device for fdatasync (the message log's sync),
	 * spent before the call and outside the lock, so that other threads' work (a definitions
	 * save) can overtake a sync in flight, as it can on a real disk */
	if (kind == 1 && rec_fdatasync_delay_us > 0)
		usleep((useconds_t)rec_fdatasync_delay_us);
	pthread_mutex_lock(&rec_lock);
	int rc = fn(fd);
	if (rc == 0)
		recorder_put(REC_FSYNC, kind, rec_ino[fd], 0, 0, NULL, NULL, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

int fsync(int fd)
{
	return recorder_fd(fd) ? recorder_sync(fd, 0, real_fsync) : real_fsync(fd);
}

/* WARREN_RECORD_SABOTAGE=fdatasync: fdatasync succeeds without syncing (and is not recorded),
 * as on a disk that lies about its cache; the checker must then find confirmed messages lost. */
static int recorder_fake_sync(int fd)
{
	(void)fd;
	return 0;
}

int fdatasync(int fd)
{
	if (recorder_fd(fd) && rec_sabotage_fdatasync)
		return recorder_fake_sync(fd);
	return recorder_fd(fd) ? recorder_sync(fd, 1, real_fdatasync) : real_fdatasync(fd);
}

int sync_file_range(int fd, off_t off, off_t len, unsigned int flags)
{
	if (!recorder_fd(fd))
		return real_sync_file_range(fd, off, len, flags);
	pthread_mutex_lock(&rec_lock);
	int rc = real_sync_file_range(fd, off, len, flags);
	if (rc == 0) /* it makes nothing durable (no metadata, no cache flush): recorded only */
		recorder_put(REC_FSYNC, 2, rec_ino[fd], (uint64_t)off, (uint64_t)len, NULL, NULL,
			     NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

void sync(void)
{
	if (!rec_on) {
		real_sync();
		return;
	}
	pthread_mutex_lock(&rec_lock);
	real_sync();
	recorder_put(REC_SYNC, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
}

int syncfs(int fd)
{
	if (!rec_on)
		return real_syncfs(fd);
	pthread_mutex_lock(&rec_lock);
	int rc = real_syncfs(fd);
	if (rc == 0)
		recorder_put(REC_SYNC, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

/* ---- names ---- */

static int recorder_two(enum recorder_op op, int olddir, const char *oldp, int newdir,
			const char *newp, unsigned flags, int (*call)(void *), void *arg)
{
	char a[PATH_MAX], b[PATH_MAX];
	const char *ra = NULL, *rb = NULL;

	if (rec_on && recorder_abs(olddir, oldp, a))
		ra = recorder_rel(a);
	if (rec_on && recorder_abs(newdir, newp, b))
		rb = recorder_rel(b);
	if (!ra && !rb)
		return call(arg);
	if (!ra || !rb)
		recorder_die(op == REC_RENAME ? "a rename across the root" : "a link across the root");
	pthread_mutex_lock(&rec_lock);
	int rc = call(arg);
	if (rc == 0)
		recorder_put(op, flags, 0, 0, 0, ra, rb, NULL, 0, 0);
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

struct recorder_args {
	int d1, d2, flags;
	const char *p1, *p2;
	unsigned int rflags;
	mode_t mode;
};

static int call_renameat2(void *v)
{
	struct recorder_args *a = v;
	if (a->rflags)
		return real_renameat2(a->d1, a->p1, a->d2, a->p2, a->rflags);
	return real_renameat(a->d1, a->p1, a->d2, a->p2);
}

int rename(const char *oldp, const char *newp)
{
	struct recorder_args a = { AT_FDCWD, AT_FDCWD, 0, oldp, newp, 0, 0 };
	return recorder_two(REC_RENAME, AT_FDCWD, oldp, AT_FDCWD, newp, 0, call_renameat2, &a);
}

int renameat(int od, const char *oldp, int nd, const char *newp)
{
	struct recorder_args a = { od, nd, 0, oldp, newp, 0, 0 };
	return recorder_two(REC_RENAME, od, oldp, nd, newp, 0, call_renameat2, &a);
}

int renameat2(int od, const char *oldp, int nd, const char *newp, unsigned int flags)
{
	struct recorder_args a = { od, nd, 0, oldp, newp, flags, 0 };
	if (flags & ~RENAME_NOREPLACE)
		if (rec_on)
			recorder_die("renameat2() with flags other than RENAME_NOREPLACE");
	return recorder_two(REC_RENAME, od, oldp, nd, newp, 0, call_renameat2, &a);
}

static int call_linkat(void *v)
{
	struct recorder_args *a = v;
	return real_linkat(a->d1, a->p1, a->d2, a->p2, a->flags);
}

int link(const char *oldp, const char *newp)
{
	struct recorder_args a = { AT_FDCWD, AT_FDCWD, 0, oldp, newp, 0, 0 };
	return recorder_two(REC_LINK, AT_FDCWD, oldp, AT_FDCWD, newp, 0, call_linkat, &a);
}

int linkat(int od, const char *oldp, int nd, const char *newp, int flags)
{
	struct recorder_args a = { od, nd, flags, oldp, newp, 0, 0 };
	return recorder_two(REC_LINK, od, oldp, nd, newp, 0, call_linkat, &a);
}

static int recorder_one(enum recorder_op op, int dirfd, const char *path, unsigned flags,
			int (*call)(void *), void *arg)
{
	char abs[PATH_MAX];
	const char *rel;

	if (!rec_on || !recorder_abs(dirfd, path, abs) || !(rel = recorder_rel(abs)))
		return call(arg);
	pthread_mutex_lock(&rec_lock);
	int rc = call(arg);
	if (rc == 0) {
		struct stat st;
		uint64_t ino = op == REC_MKDIR && stat(abs, &st) == 0 ? (uint64_t)st.st_ino : 0;
		recorder_put(op, flags, ino, 0, 0, rel, NULL, NULL, 0, 0);
	}
	pthread_mutex_unlock(&rec_lock);
	return rc;
}

static int call_unlinkat(void *v)
{
	struct recorder_args *a = v;
	return real_unlinkat(a->d1, a->p1, a->flags);
}

int unlink(const char *path)
{
	struct recorder_args a = { AT_FDCWD, 0, 0, path, NULL, 0, 0 };
	return recorder_one(REC_UNLINK, AT_FDCWD, path, 0, call_unlinkat, &a);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	struct recorder_args a = { dirfd, 0, flags, path, NULL, 0, 0 };
	return recorder_one(REC_UNLINK, dirfd, path, (flags & AT_REMOVEDIR) ? 1u : 0u,
			    call_unlinkat, &a);
}

int rmdir(const char *path)
{
	struct recorder_args a = { AT_FDCWD, 0, AT_REMOVEDIR, path, NULL, 0, 0 };
	return recorder_one(REC_UNLINK, AT_FDCWD, path, 1, call_unlinkat, &a);
}

static int call_mkdirat(void *v)
{
	struct recorder_args *a = v;
	return real_mkdirat(a->d1, a->p1, a->mode);
}

int mkdir(const char *path, mode_t mode)
{
	struct recorder_args a = { AT_FDCWD, 0, 0, path, NULL, 0, mode };
	return recorder_one(REC_MKDIR, AT_FDCWD, path, 0, call_mkdirat, &a);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	struct recorder_args a = { dirfd, 0, 0, path, NULL, 0, mode };
	return recorder_one(REC_MKDIR, dirfd, path, 0, call_mkdirat, &a);
}
