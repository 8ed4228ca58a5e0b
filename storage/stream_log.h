/* storage/stream_log.h: a stream's log: an append-only, offset-addressed sequence of messages
 * kept in its own directory as segment files (<first offset>.log) with a sparse chunk index
 * beside each (<first offset>.idx), and dropped from the head a whole segment at a time.
 *
 * Appends gather into a chunk in memory (no syscall per message); a chunk is written with one
 * write() when it is full or when the log is flushed (once per loop turn: the store's group
 * commit calls the flush right before its batch goes to the storage thread, and that batch
 * fdatasyncs the log's file too, so a publisher confirm covers the stream's bytes). Readers
 * see the written chunks only. Memory does not grow with the log: per segment the log keeps
 * its first offset, size and newest timestamp; the chunk index stays on disk and is searched
 * with pread. Opening a log checks the index against the segments (every chunk of the newest
 * segment, which may hold unsynced writes), rebuilds what is missing and cuts the log at the
 * first chunk that does not check. New directories and files, segments left behind, and
 * removals are synced where they happen. Every function runs on the loop thread. */
#ifndef STORAGE_STREAM_LOG_H
#define STORAGE_STREAM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "storage/stream_bloom.h"

struct slog;

#define SLOG_DEFAULT_SEGMENT_SIZE 500000000ull /* x-stream-max-segment-size-bytes' default */
#define SLOG_CHUNK_MAX (1u << 20)              /* a chunk is written once it holds this much */

/* Opens (creating) the log in dir, recovering what is there. NULL with a message. */
struct slog *slog_open(const char *dir, uint64_t max_segment_size, char *err, size_t errlen);
/* Writes what is pending (no fsync) and frees. NULL-safe. */
void slog_close(struct slog *l);
/* Closes and removes the log's files and directory (the stream is deleted). NULL-safe. */
void slog_destroy(struct slog *l);
/* Segments roll over at this size from now on. */
void slog_set_segment_size(struct slog *l, uint64_t max_segment_size);

/* Appends a message stamped ts_ms; returns its offset, or UINT64_MAX when out of memory or
 * when an earlier write failed. Readers see it once the chunk is written (slog_flush). */
uint64_t slog_append(struct slog *l, const struct store_message *m, uint64_t ts_ms);
/* The same for a message with a filter value: filter_hash is its sbloom_hash (0: it has
 * none). Each chunk keeps a Bloom filter of its messages' values, which filtering readers
 * (slog_cursor.filter) consult to skip the chunk without reading its messages. */
uint64_t slog_append_filtered(struct slog *l, const struct store_message *m, uint64_t ts_ms,
			      uint64_t filter_hash);
/* Chunks started from now on get a filter of this many bytes (clamped to SBLOOM_MIN_SIZE ..
 * SBLOOM_MAX_SIZE; the default is SBLOOM_MIN_SIZE). */
void slog_set_filter_size(struct slog *l, unsigned size);
/* Chunks whose messages slog_read has read, and chunks it skipped for a cursor's filter. */
void slog_stats(const struct slog *l, uint64_t *chunks_read, uint64_t *chunks_skipped);
/* Writes the open chunk, if any. Returns the log's current file (for fdatasync; the caller
 * dups it if it keeps it), -1 when nothing was written, -2 when the write failed. */
int slog_flush(struct slog *l);
/* fn(arg) runs after each chunk is written (readers have more to read). */
void slog_on_flush(struct slog *l, void (*fn)(void *arg), void *arg);
/* Whether messages are waiting in the open chunk. */
bool slog_has_pending(const struct slog *l);

/* The store's group commit covers the log: each batch writes the open chunk and fdatasyncs
 * the segment (slog_flush). Without a store, the caller flushes. */
void slog_attach(struct slog *l, struct store *s);
/* Messages were appended: the next store sync flushes and covers them. */
void slog_touch(struct slog *l);

/* Offsets: the oldest kept, the next to be assigned, and the end of what readers can see
 * (written chunks). first <= committed <= next. */
uint64_t slog_first(const struct slog *l);
uint64_t slog_next(const struct slog *l);
uint64_t slog_committed(const struct slog *l);
/* First offset of the newest written chunk (x-stream-offset "last"); committed when empty. */
uint64_t slog_last_chunk(const struct slog *l);
/* The first offset of the oldest chunk stamped at or after ts_ms; committed when none is. */
uint64_t slog_offset_at(struct slog *l, uint64_t ts_ms);
/* Bytes on disk, and segment count. */
uint64_t slog_bytes(const struct slog *l);
uint32_t slog_segment_count(const struct slog *l);

/* Retention: drops whole segments from the head, never the one being written, while the log
 * is larger than max_bytes, or while a segment's newest message is older than max_age_ms
 * (-1 = no limit). Returns the segments dropped. */
uint32_t slog_trim(struct slog *l, int64_t max_bytes, int64_t max_age_ms, uint64_t now_ms);

/* A reader's place: where the next chunk lies, so reading on costs no index search. */
struct slog_cursor {
	uint64_t offset;     /* next offset to hand out */
	uint64_t seg_first;  /* segment the hint is in (its first offset) */
	uint64_t file_pos;   /* where the chunk holding offset starts; 0 = search */
	/* NULL: every chunk is read. Else chunks whose filter says they hold nothing wanted
	 * are passed over unread (chunks written before filters existed are always read). */
	const struct sbloom_want *filter;
};

/* One message read back; its fields borrow the log's read buffer during the call. */
struct slog_entry {
	uint64_t offset;
	uint64_t timestamp_ms;
	struct store_message msg;
};
/* Returns 0 to go on, 1 to stop after this message. */
typedef int (*slog_read_fn)(void *arg, const struct slog_entry *e);

/* Hands out committed messages from cur->offset on (an offset dropped by retention moves up
 * to the first kept), at most max of them, advancing cur. Returns how many, or -1 when a
 * chunk could not be read (logged; the cursor skips past it). A filtering cursor may come
 * back with 0 before the end, having skipped a thousand chunks: cur->offset tells. */
int slog_read(struct slog *l, struct slog_cursor *cur, size_t max, slog_read_fn fn, void *arg);

#endif
