/* storage/store_io.h: whole reads, writes and directory syncs, the way every file of storage/
 * needs them: a short transfer is continued, EINTR retried, and a write the disk took none of
 * reported as ENOSPC. */
#ifndef STORAGE_STORE_IO_H
#define STORAGE_STORE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* All len bytes at off (pwrite) or at the file offset (write): 0, or -1 with errno. */
int store_io_pwrite(int fd, const void *p, size_t len, uint64_t off);
int store_io_write(int fd, const void *p, size_t len);
/* Up to len bytes at off: the count read (less only at the end of the file), or -1. */
ssize_t store_io_pread(int fd, void *p, size_t len, uint64_t off);
/* Makes the entries created or removed in dir (relative to dirfd, or AT_FDCWD) durable:
 * 0, or -1 with errno. */
int store_io_fsync_dir(int dirfd, const char *dir);

#endif
