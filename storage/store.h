/* storage/store.h: durable storage, the only storage header the broker includes.
 *
 * Two things live under the data directory:
 *  - the definitions document (vhosts, users, permissions, exchanges, queues, bindings,
 *    policies) in RabbitMQ's definitions-export JSON shape, replaced atomically;
 *  - the message log: append-only segment files of checksummed records. A message is written
 *    once however many durable queues it goes to; enqueue and dequeue records name the queue by
 *    a 64-bit id the broker derives from vhost and queue name (store_queue_id).
 *
 * Threading: every function here is called from the broker's event-loop thread. Appends go to
 * an in-memory batch; store_sync() hands the batch to the storage thread, which writes it and
 * fdatasyncs, then reports completion back on the loop (the synced callback runs on the loop
 * thread, from a libevent event). One sync covers everything appended before it: group commit.
 */
#ifndef STORAGE_STORE_H
#define STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;

/* ---- logging ---- */

enum store_log_level { STORE_LOG_DEBUG, STORE_LOG_INFO, STORE_LOG_WARNING, STORE_LOG_ERROR };

/* Receives each log line of storage/ (level is an enum store_log_level; msg has no newline and
 * is valid during the call). Called from the thread that logs: the loop thread today. */
typedef void (*store_log_fn)(void *arg, int level, const char *msg);

/* Installs the log function for every store of the process (as SQLite's
 * sqlite3_config(SQLITE_CONFIG_LOG)); NULL, the default, drops the lines. Call it before the
 * first store_open, not while stores are in use. */
void store_set_log(store_log_fn fn, void *arg);

/* Called on the loop thread when every append made before the store_sync() that returned
 * `ticket` is on disk (or failed: ok = false, e.g. disk full; then those publishes must be
 * nacked and the store refuses appends until space returns). Tickets complete in order. */
typedef void (*store_synced_fn)(void *arg, uint64_t ticket, bool ok);

struct store_options {
	uint64_t segment_size;  /* bytes per segment file before rolling; default 64 MiB */
	bool no_fsync;          /* tests and benchmarks only */
	store_synced_fn synced;
	void *synced_arg;
};

/* Opens (creating if needed) the store in dir. NULL with a message on failure. Starts the
 * storage thread. Does not read the message log: call store_recover for that. */
struct store *store_open(struct event_base *base, const char *dir, const struct store_options *opt,
			 char *err, size_t errlen);
/* Flushes and syncs what is pending, stops the thread, closes files. NULL-safe. */
void store_close(struct store *s);

/* ---- definitions ---- */

/* Replaces the definitions document: temp file, fsync, rename, fsync of the directory. The
 * previous good copy is kept as a fallback. Synchronous (definitions change rarely).
 * 0 or -1 with a message. */
int store_definitions_save(struct store *s, const char *json, size_t len, char *err, size_t errlen);
/* Loads the definitions into *doc (malloc'd, NUL-terminated; NULL when the store never saved
 * any) and returns 0; or returns 1 with the last good copy when the current one is missing or
 * does not parse as JSON (a log line says so: the copy may lack the latest changes); or -1
 * with a message when there are definitions the broker must not start without: neither copy
 * is usable. */
int store_definitions_load(struct store *s, char **doc, size_t *len, char *err, size_t errlen);

/* ---- messages ---- */

struct store_message {
	const uint8_t *exchange;
	uint32_t exchange_len;
	const uint8_t *routing_key;
	uint32_t routing_key_len;
	const uint8_t *props; /* content-header property bytes (flags + list) */
	uint32_t props_len;
	const uint8_t *body;
	uint64_t body_len;
};

/* 64-bit id of a durable queue: a hash of vhost and name; its top bit is clear. */
uint64_t store_queue_id(const char *vhost, const uint8_t *name, size_t name_len);

/* Queue ids with the top bit set are volatile: the broker uses them for messages it pages out
 * of memory that must not survive a restart (transient messages, or any message in a
 * non-durable queue). store_enqueue, store_dequeue and store_queue_purge on a volatile id
 * update the in-memory index only, so the message record stays alive while it is held, but no
 * enqueue, dequeue or purge record is written and recovery never hands the message back. */
#define STORE_QUEUE_VOLATILE (1ull << 63)

static inline bool store_queue_is_volatile(uint64_t queue_id)
{
	return (queue_id & STORE_QUEUE_VOLATILE) != 0;
}

/* Appends a message record; returns its id (> 0), or 0 when the store refuses (disk full or an
 * earlier write failed). The record is durable after the next completed sync. */
uint64_t store_message_add(struct store *s, const struct store_message *m);
/* The message is in the queue (after store_message_add, before the sync that covers it). */
int store_enqueue(struct store *s, uint64_t queue_id, uint64_t msg_id);
/* The message left the queue (ack, reject without requeue, dead-lettered, expired, dropped). */
int store_dequeue(struct store *s, uint64_t queue_id, uint64_t msg_id);
/* Every message enqueued on the queue so far is gone (purge, queue deleted). */
int store_queue_purge(struct store *s, uint64_t queue_id);

/* Requests a sync of everything appended so far; returns its ticket (increasing). When nothing
 * is pending it returns the last ticket and its callback has already run or is coming. */
uint64_t store_sync(struct store *s);
/* Makes everything appended so far durable before it returns, blocking the calling (loop)
 * thread; the synced callbacks run as usual, from inside this call. The broker calls it before
 * saving definitions, so that no record written before a definitions change (the purge of a
 * deleted queue) can be missing on disk while the change is there. 0, or -1 when a write failed
 * (disk full: the retry timer goes on) or the store was not recovered. */
int store_flush(struct store *s);
/* The ticket whose completion will cover an append made now: the pending batch's, when a
 * store_sync already gave it one and it has not left yet (the append rides along), else the
 * ticket the next store_sync will return. */
uint64_t store_next_ticket(const struct store *s);
/* Appends waiting for a sync (the broker calls store_sync once per loop turn when > 0).
 * Appends made after a store_sync whose batch has not left yet ride along with that ticket. */
bool store_has_pending(const struct store *s);
/* The last ticket whose synced callback has run (ok or not); 0 before the first. A ticket
 * store_sync returns that is <= this one has already been reported. */
uint64_t store_synced_ticket(const struct store *s);

/* Reads a message back (exchange, routing key, props, body) into one malloc'd block; the
 * fields of *out point into *block. 0, or -1 when the id is unknown or the record is corrupt. */
int store_message_read(struct store *s, uint64_t msg_id, struct store_message *out, void **block);

/* Reads many messages back in one pass (a queue paging messages in): records that lie next to
 * each other on disk are read with one pread, records not yet on disk are copied from the
 * pending batches. fn gets each message in the order of ids, or NULL when it cannot be read
 * (unknown id, corrupt record: logged); the message borrows memory valid during the call, and
 * fn must not call into the store. */
typedef void (*store_read_fn)(void *arg, size_t i, const struct store_message *m);
void store_message_read_many(struct store *s, const uint64_t *ids, size_t n, store_read_fn fn,
			     void *arg);

/* ---- logs of their own that share the group commit (a stream's segment files) ---- */

/* A log that writes its own files but whose durability rides on the store's batches: right
 * before a batch goes to the storage thread, the store calls flush for every log touched since
 * the last batch; flush writes what the log has pending and returns a descriptor the batch
 * fdatasyncs after its own records (the store closes it), -1 when nothing needs a sync, or
 * -2 when its write failed (the batch then fails: its confirms become nacks).
 * The batch's ticket then covers the log's bytes too: a confirm for a message appended to it
 * goes out after that ticket's synced callback, as for a message record. */
struct store_ext {
	int (*flush)(struct store_ext *x);
	/* the store's */
	struct store_ext *next_dirty;
	bool dirty;
};
/* x has appended bytes: the next batch flushes and syncs them, and the broker's per-turn
 * store_sync sees pending work (store_has_pending). */
void store_ext_touch(struct store *s, struct store_ext *x);
/* x is going away: flushes it now if it is waiting, and forgets it. */
void store_ext_forget(struct store *s, struct store_ext *x);
/* The directory the store was opened in (streams keep their logs under it). */
const char *store_dir(const struct store *s);

/* ---- recovery ---- */

struct store_recovery_stats {
	uint64_t segments, records, messages_live, bytes_live;
	uint64_t corrupt_records_skipped, torn_bytes_truncated;
	uint64_t torn_records_discarded; /* valid records of a batch a crash left incomplete */
	uint64_t elapsed_ms;
};

/* Called once per live (queue, message) pair, per queue in enqueue order. The message fields
 * borrow memory that is valid only during the call. Return 0 to go on, -1 to stop.
 * The calls come queue by queue (all of one queue, then the next, in the order the log first
 * names them); within a queue they follow message ids, which is enqueue order because the
 * broker enqueues a message right after adding it, and which keeps a message moved by
 * compaction in its place. */
typedef int (*store_recover_fn)(void *arg, uint64_t queue_id, uint64_t msg_id,
				const struct store_message *m);

/* Replays the log: truncates a torn tail, skips corrupt records with a log line naming file
 * and offset, and never fails because of one bad record. Call it once, after store_open and
 * before the first append: until then a store that found segments on disk refuses appends,
 * dequeues and purges (their ids are not known yet).
 * Either everything is handed over or it fails: -1 when a segment cannot be opened or mapped,
 * when memory runs out, or when fn returned -1, with a log line saying what was not loaded
 * (file and offset, or message, queue id and how many messages were not handed over). The
 * store then keeps refusing writes, so nothing on disk changes (beyond the truncation of a
 * torn tail): close it, and a later start recovers the same messages. */
int store_recover(struct store *s, store_recover_fn fn, void *arg,
		  struct store_recovery_stats *stats);

/* ---- replication taps (broker/cluster/ ships the log to followers) ---- */

/* What a replicating leader is told, on the loop thread, as its store changes on disk. The
 * follower applies the same bytes with store_replica.h, so a follower's data directory is a
 * byte-for-byte copy of the leader's: the storage format is the replication format. */
struct store_tap {
	/* A batch goes to the disk: one call per run of bytes (whole records, a new segment's
	 * header first), in file order, then batch_end with the batch's ticket (0 when no
	 * store_sync asked for it) and record count. Called as the storage thread starts writing
	 * it, so that followers write while the leader does; the batch's synced callback comes
	 * later. A batch whose write fails is handed again, whole, with what came after it: the
	 * tap then sees bytes it saw before (same segment, same offsets, same content). The bytes
	 * are lent for the call. */
	void (*part)(void *arg, uint32_t seg, uint64_t off, const uint8_t *data, size_t len);
	void (*batch_end)(void *arg, uint64_t ticket, uint64_t records);
	/* Segment seg's file was deleted (nothing in it is queued any more). */
	void (*segment_deleted)(void *arg, uint32_t seg);
	/* The definitions document was replaced: doc is the file's new content, exactly. */
	void (*definitions)(void *arg, const char *doc, size_t len);
	/* A log of its own (a stream's, store_ext) wrote len bytes at offset off of name (a path
	 * relative to the data directory: "streams/<id>/<first>.log"), or removed it. Called on
	 * the loop right after the write, before the batch that fsyncs it is handed to the disk
	 * (its batch_end follows). A write may repeat bytes already written (a segment's
	 * header). */
	void (*file)(void *arg, const char *name, uint64_t off, const uint8_t *data, size_t len);
	void (*file_removed)(void *arg, const char *name);
};

/* Installs tap (NULL removes it); tap must outlive the store or its removal. */
void store_set_tap(struct store *s, const struct store_tap *tap, void *arg);
/* For the logs of their own (stream_log.c): tell the tap, if any, of a write to or the removal
 * of path (a file under the store's directory). */
void store_tap_file(struct store *s, const char *path, uint64_t off, const void *data,
		    size_t len);
void store_tap_removed(struct store *s, const char *path);
/* Where the log's bytes on disk end: every segment before *seg is complete on disk, *seg up to
 * *off. A batch being written is not counted until its write completes. */
void store_durable_end(const struct store *s, uint32_t *seg, uint64_t *off);

/* ---- accounting ---- */

struct store_stats {
	uint64_t segments, disk_bytes, live_messages, live_bytes;
	uint64_t syncs, synced_records;
	bool failed; /* appends refused until a write succeeds again */
};

void store_get_stats(const struct store *s, struct store_stats *st);
/* Heap bytes of the in-memory message index (about 24 per live message). */
size_t store_index_bytes(const struct store *s);

#endif
