/* storage/store_replica.h: a follower's side of replication. A leader's store tells its tap
 * (store.h) every run of bytes that reached its disk; a follower hands the same bytes to
 * store_replica_part, which checks every record's checksums under its segment's salts before
 * writing it at the same offset of the same segment file. A follower's data directory is thus a
 * byte-for-byte copy of the leader's, and a promoted follower opens it with store_open and
 * store_recover like any other (docs/clustering.md).
 *
 * Streams keep their messages in logs of their own (storage/stream_log.c); the tap tells of
 * every write to those files and of their removal, and store_replica_file_part and
 * store_replica_file_removed repeat them here, the bytes at the same offsets.
 *
 * The initial sync works on whole files: store_replica_list names what a data directory holds
 * ("definitions.json", "msgs/NNNNNNNN.seg" and the streams' files), store_replica_crc
 * checksums a prefix of one, and the file_* calls write one fetched from the leader. Nothing
 * here blocks on the network: the caller (broker/cluster/repl_follower.c, on its own thread)
 * owns the socket. Not thread-safe: one struct store_replica per thread. */
#ifndef STORAGE_STORE_REPLICA_H
#define STORAGE_STORE_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_replica;

/* Room for the longest name store_replica_name_ok accepts ("streams/<16>/<20>.log"), with its
 * NUL: every buffer that holds a replicated file's name is this long. */
#define STORE_REPLICA_NAME_MAX 64

/* The result of the calls that write: 0, or one of these (err says what and where). */
enum store_replica_error {
	STORE_REPLICA_IO = -1,      /* a system call failed (errno is kept: ENOSPC is disk full) */
	STORE_REPLICA_CORRUPT = -2, /* bytes that are not whole, checksummed records, or that do
				     * not continue the file where it ends */
};

/* Opens dir (creating it and dir/msgs). no_fsync is for tests and benchmarks only. NULL with
 * a message on failure. */
struct store_replica *store_replica_open(const char *dir, bool no_fsync, char *err,
					 size_t errlen);
/* Closes the files (without a sync). NULL-safe. */
void store_replica_close(struct store_replica *r);

/* Writes a run of the log at offset off of segment seg: whole records, and at offset 0 the
 * segment header first. The run must continue the file exactly where it ends. Nothing is
 * written unless every record checks. */
int store_replica_part(struct store_replica *r, uint32_t seg, uint64_t off, const uint8_t *data,
		       size_t len, char *err, size_t errlen);
/* Deletes a segment file (after syncing what was written before, so that no later record is
 * lost while the file is gone). */
int store_replica_delete_segment(struct store_replica *r, uint32_t seg, char *err, size_t errlen);
/* Replaces definitions.json with doc (temp file, fsync, rename, fsync of the directory; the
 * current copy is kept as definitions.json.prev, as the store does). */
int store_replica_definitions(struct store_replica *r, const char *doc, size_t len, char *err,
			      size_t errlen);
/* Makes everything written so far durable: fdatasync of each file written, fsync of the
 * directories whose entries changed. */
int store_replica_sync(struct store_replica *r, char *err, size_t errlen);

/* A run of bytes of one of the files a stream keeps (store_tap's file: a name such as
 * "streams/<16 hex digits>/<20 digits>.log" or ".idx"), written at off: the file is created
 * (and its directory) when missing; bytes that are already there must be the same (a segment's
 * header is shipped again with its first chunk); a run that starts past the end is refused. */
int store_replica_file_part(struct store_replica *r, const char *name, uint64_t off,
			    const uint8_t *data, size_t len, char *err, size_t errlen);
/* Removes a stream's file (and its directory once empty), after syncing what was written
 * before. A name that is not a stream's file is refused (STORE_REPLICA_CORRUPT) for both calls:
 * a leader cannot make a follower write or remove anything outside streams/. The files written
 * are made durable by store_replica_sync (their data, then the directory entries). */
int store_replica_file_removed(struct store_replica *r, const char *name, char *err,
			       size_t errlen);

/* ---- whole files, for the initial sync ---- */

/* A name store_replica_list can return ("definitions.json", "msgs/NNNNNNNN.seg",
 * "streams/<16 hex digits>/<20 digits>.log" or ".idx"): nothing else is ever written, so a
 * leader cannot make a follower write outside its directory. */
bool store_replica_name_ok(const char *name);
/* Calls fn for every file of a data directory that replication copies, with its size. 0, or
 * -1 when dir/msgs cannot be read; fn returning -1 stops the walk (and the call returns -1). */
typedef int (*store_replica_list_fn)(void *arg, const char *name, uint64_t size);
int store_replica_list(const char *dir, store_replica_list_fn fn, void *arg);
/* CRC32C of the first len bytes of fd. 0, or -1 when it has fewer or cannot be read. */
int store_replica_fd_crc(int fd, uint64_t len, uint32_t *crc);
/* The same for dir/name. */
int store_replica_crc(const char *dir, const char *name, uint64_t len, uint32_t *crc);

/* Starts writing dir/name from offset from: the file is created when missing and cut at from
 * (anything after it goes). Then file_write appends, and file_end checks the whole file's
 * size and CRC32C against what the leader said. One file at a time. */
int store_replica_file_begin(struct store_replica *r, const char *name, uint64_t from, char *err,
			     size_t errlen);
int store_replica_file_write(struct store_replica *r, const uint8_t *data, size_t len, char *err,
			     size_t errlen);
int store_replica_file_end(struct store_replica *r, uint64_t size, uint32_t crc, char *err,
			   size_t errlen);
/* Cuts dir/name to size bytes / removes it (both synced by store_replica_sync). */
int store_replica_truncate(struct store_replica *r, const char *name, uint64_t size, char *err,
			   size_t errlen);
int store_replica_remove(struct store_replica *r, const char *name, char *err, size_t errlen);

#endif
