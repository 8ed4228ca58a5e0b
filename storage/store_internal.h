/* storage/store_internal.h: struct store, shared by store_file.c (appends, group commit, the
 * storage thread), store_message.c (the broker's records), store_compact.c (segment deletion
 * and compaction), store_read.c, store_recover.c and store_definitions.c.
 * Not for the broker, which includes only store.h. */
#ifndef STORAGE_STORE_INTERNAL_H
#define STORAGE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"
#include "storage/store_index.h"
#include "storage/store_record.h"

#define STORE_DEFAULT_SEGMENT_SIZE (64ull << 20)
#define STORE_MIN_SEGMENT_SIZE 256ull
#define STORE_MAX_SEGMENT_SIZE (1ull << 30) /* offsets in the index are 32-bit */

struct store_segment {
	uint32_t no;
	int rfd;             /* read-only fd of the loop thread, -1 until a read needs it */
	bool unrecovered;    /* found at open, not yet replayed: never deleted */
	uint64_t size;       /* bytes appended, written or not */
	uint64_t live_count; /* messages whose current record is here and still queued */
	uint64_t live_bytes;
	uint64_t min_id, max_id; /* ids of message records placed here (for compaction) */
	struct store_salt salt;  /* the checksum seeds of its records ({0, 0}: format 1) */
};

/* A run of bytes of the batch buffer that goes to one segment at one file offset. */
struct store_part {
	uint32_t seg;
	uint64_t file_off;
	size_t buf_off, len;
};

struct store_batch {
	uint8_t *buf;
	size_t len, cap;
	struct store_part *parts;
	size_t part_count, part_cap;
	uint64_t records;
	uint64_t ticket; /* 0: no store_sync asked for this batch yet (or it already failed) */
	int *ext_fds;    /* files of store_ext logs to fdatasync with this batch (owned) */
	size_t ext_count, ext_cap;
	bool ext_failed; /* a store_ext log could not write its part */
	/* filled by the storage thread */
	bool ok;
	int err;
	uint64_t syncs;
};

struct store_pos {
	uint32_t seg;
	uint64_t off;
};

struct store_move {
	uint64_t msg_id;
	uint32_t seg, off, len;
};

struct store {
	struct event_base *base;
	char *dir, *msgs_dir;
	int msgs_dirfd;
	struct store_options opt;

	/* segments, oldest first; the last one is the head being appended to */
	struct store_segment *segs;
	size_t seg_count, seg_cap;
	bool recovered;
	bool recovery_failed; /* what was appended meanwhile is never written */
	uint64_t next_id;
	struct store_index index;

	/* the checksum salts of every segment this open creates: a run of segments with the same
	 * salts is one run of the store, whose last batch recovery may find torn */
	struct store_salt salt;
	/* records appended since the last commit record: the first one's place and how many */
	struct store_pos commit_first;
	uint32_t commit_count;

	/* group commit: the loop appends to pending, the thread writes flight */
	struct store_batch pending, flight;
	bool busy; /* flight is with the thread */
	uint64_t last_ticket, done_ticket;
	uint64_t unsynced_appends;
	struct store_pos durable; /* everything before this is on disk */
	struct store_ext *ext_dirty; /* logs touched since the last batch left */
	bool failed;
	struct event *done_ev, *retry_ev;
	int pipe_r, pipe_w;

	/* compaction of the oldest segment: moved records wait for their sync */
	bool compacting;
	uint32_t compact_seg;
	struct store_pos compact_end;
	struct store_move *moves;
	size_t move_count, move_cap;

	/* the storage thread */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool job, job_done, stop;
	int wfd;         /* thread: write fd of wseg */
	uint32_t wseg;
	uint32_t wseg_dir_synced; /* highest segment whose directory entry was fsynced */

	uint64_t syncs, synced_records;

	/* replication (store_set_tap): told of every batch on disk, deletion and definitions */
	const struct store_tap *tap;
	void *tap_arg;

	/* store_message_read_many's buffer, kept between calls */
	uint8_t *readbuf;
	size_t readbuf_cap;
};

struct store_segment *store_segment_find(struct store *s, uint32_t no);
struct store_segment *store_segment_add(struct store *s, uint32_t no);
void store_segment_path(const struct store *s, uint32_t no, char *buf, size_t len);
/* Updates the live accounting when an entry's queue count goes 0 -> 1 (delta 1) or 1 -> 0
 * (delta -1). */
void store_segment_account(struct store *s, const struct store_index_entry *e, int delta);

/* store_file.c */
int store_pos_cmp(struct store_pos a, struct store_pos b);
/* Reserves a record of payload_len bytes at the head (rolling first when may_roll and the head
 * is full; a new head gets its segment header first); returns the header's address in the
 * pending batch, where says where it lands and *salt what to seal it with. */
uint8_t *store_append(struct store *s, uint64_t payload_len, bool may_roll,
		      struct store_pos *where, struct store_salt *salt);
/* Takes back the record store_append just reserved (its caller failed afterwards). */
void store_unappend(struct store *s, uint64_t payload_len);
/* The checksum seeds of segment no's records ({0, 0} when it is unknown). */
struct store_salt store_segment_salt(struct store *s, uint32_t no);

/* store_compact.c */
/* Copies the record at (seg, off, len) from a batch still in memory, or preads it. */
int store_read_record(struct store *s, uint32_t seg, uint64_t off, uint32_t len, uint8_t *out);
void store_delete_segments(struct store *s);
void store_compact(struct store *s);
void store_compact_finish(struct store *s);

#endif
