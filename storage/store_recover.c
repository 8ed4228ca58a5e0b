/* storage/store_recover.c: start-up replay of the message log. Segments are mapped and read in
 * order; every record is checked (header CRC, payload CRC); a torn tail of the last segment is
 * truncated, and a corrupt record anywhere is skipped by hunting forward for the next valid
 * header (the header has its own CRC, so the hunt is linear). Replaying rebuilds the index
 * (enqueues minus dequeues minus purges), then the live messages go to the broker queue by
 * queue. One pass over the data plus, per queue, a sort only if compaction moved something. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"

/* An id this far from the ones already seen is taken for garbage with a valid checksum: it
 * would make the index's chunk table huge. */
#define STORE_RECOVER_ID_SPAN (1ull << 36)

struct store_recover_queue {
	uint64_t queue_id;
	uint64_t *ids; /* in enqueue order; may hold ids that left the queue since */
	size_t count, cap;
};

struct store_recover_map {
	uint64_t segno;
	const uint8_t *data;
	size_t size;
	int fd;
	enum store_segment_kind kind;
	uint32_t version; /* of a damaged header; 0 when it has none */
};

struct store_recover_ctx {
	struct store *s;
	struct store_recovery_stats *st;
	struct store_recover_queue *queues;
	size_t queue_count, queue_cap;
	size_t *slots; /* queue_id -> index + 1 in queues, open addressing */
	size_t slot_count;
	struct store_recover_map *maps;
	size_t map_count;
	uint64_t id_lo, id_hi;
	bool oom;
	/* where replay ran out of memory first (for the log line); oom_path is empty when it was
	 * not in a record */
	char oom_path[4096];
	size_t oom_off;
	/* Format 2 replay goes batch by batch: the records of the current run (the segments one
	 * open of the store wrote, which share their salts) since its last commit record wait in
	 * held; the first `suspect` of them are a committed batch that did not check out, kept
	 * until something follows it in the run. */
	struct store_recover_held *held;
	size_t held_count, held_cap, suspect;
	bool in_run;
	struct store_salt run_salt;
	struct store_pos run_start; /* the run's first segment still on disk, offset 0 */
	struct store_pos last_gap;  /* the latest corrupt bytes skipped in this run (seg 0: none) */
	struct store_pos committed; /* where the run's last whole batch ends (seg 0: nowhere yet) */
	struct store_pos suspect_first, suspect_end; /* where the held suspect batch is */
};

struct store_recover_held {
	struct store_segment *sg;
	uint64_t off;
	struct store_record rec; /* its payload points into the segment's mapping */
};

static uint64_t store_recover_hash(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	return x;
}

static struct store_recover_queue *store_recover_queue_get(struct store_recover_ctx *c,
							   uint64_t queue_id)
{
	size_t i;

	if ((c->queue_count + 1) * 2 > c->slot_count) {
		size_t n = c->slot_count ? c->slot_count * 2 : 64;
		size_t *slots = calloc(n, sizeof *slots);
		if (!slots)
			return NULL;
		for (size_t k = 0; k < c->queue_count; k++) {
			for (i = store_recover_hash(c->queues[k].queue_id) & (n - 1); slots[i];
			     i = (i + 1) & (n - 1))
				;
			slots[i] = k + 1;
		}
		free(c->slots);
		c->slots = slots;
		c->slot_count = n;
	}
	for (i = store_recover_hash(queue_id) & (c->slot_count - 1); c->slots[i];
	     i = (i + 1) & (c->slot_count - 1))
		if (c->queues[c->slots[i] - 1].queue_id == queue_id)
			return &c->queues[c->slots[i] - 1];
	if (c->queue_count == c->queue_cap) {
		size_t cap = c->queue_cap ? c->queue_cap * 2 : 16;
		struct store_recover_queue *qs = realloc(c->queues, cap * sizeof *qs);
		if (!qs)
			return NULL;
		c->queues = qs;
		c->queue_cap = cap;
	}
	c->slots[i] = ++c->queue_count;
	memset(&c->queues[c->queue_count - 1], 0, sizeof *c->queues);
	c->queues[c->queue_count - 1].queue_id = queue_id;
	return &c->queues[c->queue_count - 1];
}

static void store_recover_dequeue(struct store_recover_ctx *c, uint64_t queue_id,
				  uint64_t msg_id);

static int store_recover_push(struct store_recover_queue *q, uint64_t msg_id)
{
	if (q->count == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		uint64_t *ids = realloc(q->ids, cap * sizeof *ids);
		if (!ids)
			return -1;
		q->ids = ids;
		q->cap = cap;
	}
	q->ids[q->count++] = msg_id;
	return 0;
}

static void store_recover_enqueue(struct store_recover_ctx *c, uint64_t queue_id,
				  uint64_t msg_id, struct store_index_entry *e)
{
	struct store_recover_queue *q = store_recover_queue_get(c, queue_id);
	int rc;

	if (!q) {
		c->oom = true;
		return;
	}
	rc = store_index_enqueue(&c->s->index, msg_id, e, queue_id);
	if (rc <= 0) {
		c->oom = c->oom || rc < 0;
		return;
	}
	if (store_index_queue_count(&c->s->index, msg_id, e) == 1)
		store_segment_account(c->s, e, 1);
	if (store_recover_push(q, msg_id) != 0) {
		/* not listed, so not handed to the broker: take it back out */
		c->oom = true;
		store_recover_dequeue(c, queue_id, msg_id);
	}
}

static void store_recover_dequeue(struct store_recover_ctx *c, uint64_t queue_id,
				  uint64_t msg_id)
{
	struct store_index_entry *e = store_index_get(&c->s->index, msg_id);

	if (!e || store_index_dequeue(&c->s->index, msg_id, e, queue_id) != 1 ||
	    store_index_live(e))
		return;
	store_segment_account(c->s, e, -1);
	store_index_remove(&c->s->index, msg_id);
}

static bool store_recover_id_ok(struct store_recover_ctx *c, uint64_t id)
{
	if (id == 0 || id >= (1ull << 62))
		return false;
	if (c->id_hi == 0)
		return true;
	return id + STORE_RECOVER_ID_SPAN > c->id_hi && id < c->id_lo + STORE_RECOVER_ID_SPAN;
}

/* Applies one checked record; false when its contents make no sense (counted as corrupt). */
static bool store_recover_apply(struct store_recover_ctx *c, struct store_segment *sg,
				uint64_t off, const struct store_record *rec)
{
	struct store *s = c->s;
	struct store_record_message rm;
	struct store_index_entry *e;
	uint64_t q, id;

	switch (rec->type) {
	case STORE_RECORD_MESSAGE:
	case STORE_RECORD_MOVED:
		if (store_record_message_decode(rec->payload, rec->len, &rm) != 0 ||
		    !store_recover_id_ok(c, rm.msg_id) || off > UINT32_MAX ||
		    (rec->type == STORE_RECORD_MESSAGE && rm.queue_count != 0))
			return false;
		for (uint16_t i = 0; i < rm.queue_count; i++)
			if (store_record_get_u64(rm.queue_ids + 8 * i) == 0)
				return false;
		id = rm.msg_id;
		e = store_index_get(&s->index, id);
		if (e && rec->type == STORE_RECORD_MESSAGE)
			return false; /* an id is given once */
		if (e && store_index_live(e))
			store_segment_account(s, e, -1);
		e = store_index_put(&s->index, id, sg->no, (uint32_t)off,
				    STORE_RECORD_HEADER_SIZE + rec->len);
		if (!e) {
			c->oom = true;
			return true;
		}
		if (store_index_live(e))
			store_segment_account(s, e, 1);
		for (uint16_t i = 0; i < rm.queue_count; i++)
			store_recover_enqueue(c, store_record_get_u64(rm.queue_ids + 8 * i), id, e);
		if (id < sg->min_id)
			sg->min_id = id;
		if (id > sg->max_id)
			sg->max_id = id;
		if (c->id_hi == 0 || id < c->id_lo)
			c->id_lo = id;
		if (id > c->id_hi)
			c->id_hi = id;
		if (id >= s->next_id)
			s->next_id = id + 1;
		return true;
	case STORE_RECORD_ENQUEUE:
		q = store_record_get_u64(rec->payload);
		id = store_record_get_u64(rec->payload + 8);
		if (q == 0)
			return false;
		e = store_index_get(&s->index, id);
		if (e)
			store_recover_enqueue(c, q, id, e);
		return true;
	case STORE_RECORD_DEQUEUE:
		store_recover_dequeue(c, store_record_get_u64(rec->payload),
				      store_record_get_u64(rec->payload + 8));
		return true;
	case STORE_RECORD_COMMIT:
		return false; /* only format 2 has them, and it takes them before this */
	case STORE_RECORD_PURGE: {
		struct store_recover_queue *rq;

		q = store_record_get_u64(rec->payload);
		if (q == 0)
			return false;
		rq = store_recover_queue_get(c, q);
		if (!rq) {
			c->oom = true;
			return true;
		}
		for (size_t i = 0; i < rq->count; i++)
			store_recover_dequeue(c, q, rq->ids[i]);
		rq->count = 0;
		return true;
	}
	}
	return false;
}

/* The first offset after pos where a whole valid record starts, or size. */
static size_t store_recover_hunt(const uint8_t *p, size_t size, size_t pos, struct store_salt salt)
{
	struct store_record rec;

	for (size_t q = pos + 1; q + STORE_RECORD_HEADER_SIZE <= size; q++) {
		if (p[q + 4] != STORE_RECORD_MAGIC)
			continue;
		if (store_record_check(p + q, size - q, &rec, salt) > 0)
			return q;
	}
	return size;
}

/* Applies a record, with a log line when its contents make no sense. */
static void store_recover_take(struct store_recover_ctx *c, struct store_segment *sg,
			       uint64_t off, const struct store_record *rec)
{
	char path[4096];

	if (store_recover_apply(c, sg, off, rec) || c->oom)
		return;
	store_segment_path(c->s, sg->no, path, sizeof path);
	store_log_warn("storage: %s offset %llu: record type %d with a valid checksum but "
		       "impossible contents; skipped", path, (unsigned long long)off,
		       (int)rec->type);
	c->st->corrupt_records_skipped++;
}

static struct store_pos store_recover_held_pos(const struct store_recover_held *h)
{
	return (struct store_pos){ h->sg->no, h->off };
}

/* Applies the first n held records, in order, and forgets them. */
static void store_recover_release(struct store_recover_ctx *c, size_t n)
{
	if (n == 0)
		return;
	for (size_t i = 0; i < n && !c->oom; i++)
		store_recover_take(c, c->held[i].sg, c->held[i].off, &c->held[i].rec);
	memmove(c->held, c->held + n, (c->held_count - n) * sizeof *c->held);
	c->held_count -= n;
	c->suspect = c->suspect > n ? c->suspect - n : 0;
}

static void store_recover_hold(struct store_recover_ctx *c, struct store_segment *sg,
			       uint64_t off, const struct store_record *rec)
{
	/* a batch followed by more of its run was synced before the next one was written */
	if (c->suspect) {
		store_recover_release(c, c->suspect);
		c->committed = c->suspect_end;
	}
	if (c->held_count == c->held_cap) {
		size_t cap = c->held_cap ? c->held_cap * 2 : 256;
		struct store_recover_held *h = realloc(c->held, cap * sizeof *h);
		if (!h) {
			c->oom = true;
			return;
		}
		c->held = h;
		c->held_cap = cap;
	}
	c->held[c->held_count++] = (struct store_recover_held){ sg, off, *rec };
}

/* A commit record: the batch it closes is replayed when every one of its records checked out.
 * Records before the batch's first belong to batches whose commit record was damaged later;
 * this commit proves them synced. A batch that does not check out is held: if anything of
 * the run follows it, it was synced and a record of it was damaged since (its other records
 * are replayed); if it ends the run, a power cut tore it and none of it is replayed. */
static void store_recover_commit(struct store_recover_ctx *c, struct store_segment *sg,
				 uint64_t off, const struct store_record *rec)
{
	struct store_record_commit cm;
	struct store_pos first, end;
	size_t i = 0, batch;
	bool whole, gone;

	store_record_commit_decode(rec->payload, &cm);
	first = (struct store_pos){ cm.first_seg, cm.first_off };
	if (c->suspect) {
		store_recover_release(c, c->suspect);
		c->committed = c->suspect_end;
	}
	while (i < c->held_count && store_pos_cmp(store_recover_held_pos(&c->held[i]), first) < 0)
		i++;
	store_recover_release(c, i);
	batch = c->held_count;
	/* it began in a segment deleted since: that was only allowed once the batch was synced */
	gone = store_pos_cmp(first, c->run_start) < 0;
	whole = batch == cm.count &&
		(batch == 0 || store_pos_cmp(store_recover_held_pos(&c->held[0]), first) == 0) &&
		!(c->last_gap.seg && store_pos_cmp(c->last_gap, first) >= 0);
	end = (struct store_pos){ sg->no, off + STORE_RECORD_HEADER_SIZE + rec->len };
	if (whole || gone) {
		store_recover_release(c, batch);
		c->committed = end;
	} else {
		c->suspect = batch;
		c->suspect_first = first;
		c->suspect_end = end;
	}
	c->last_gap = (struct store_pos){ 0, 0 };
}

static const struct store_recover_map *store_recover_map_find(const struct store_recover_ctx *c,
							      uint32_t no)
{
	size_t lo = 0, hi = c->map_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->maps[mid].segno == no)
			return &c->maps[mid];
		if (c->maps[mid].segno < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The run is over: what is still held was never committed whole, so no client was told it was
 * stored. It is dropped; its message ids are not given out again. At the end of the log (last)
 * it is cut off the last segment too, so later starts do not find it again. */
static void store_recover_run_end(struct store_recover_ctx *c, bool last)
{
	struct store *s = c->s;
	struct store_pos cut = c->suspect ? c->suspect_first : c->committed;

	if (c->held_count > 0) {
		char path[4096];

		store_segment_path(s, c->held[0].sg->no, path, sizeof path);
		store_log_warn("storage: %s offset %llu: the last batch written before a crash is "
			       "incomplete; its %zu records are not replayed (none was confirmed)",
			       path, (unsigned long long)c->held[0].off, c->held_count);
		c->st->torn_records_discarded += c->held_count;
		for (size_t i = 0; i < c->held_count; i++) {
			const struct store_record *r = &c->held[i].rec;
			uint64_t id;

			if ((r->type == STORE_RECORD_MESSAGE || r->type == STORE_RECORD_MOVED) &&
			    r->len >= 8 && (id = store_record_get_u64(r->payload)) < (1ull << 62) &&
			    id >= s->next_id)
				s->next_id = id + 1;
		}
	}
	if (last && c->in_run && s->seg_count > 1) {
		struct store_segment *tail = &s->segs[s->seg_count - 2]; /* the head is new */
		const struct store_recover_map *map = store_recover_map_find(c, tail->no);
		uint64_t at = cut.seg == tail->no ? cut.off : STORE_SEGMENT_HEADER_SIZE;

		if (cut.seg > tail->no || at < STORE_SEGMENT_HEADER_SIZE)
			at = STORE_SEGMENT_HEADER_SIZE;
		if (map && map->kind == STORE_SEGMENT_V2 && at < tail->size) {
			char path[4096];

			store_segment_path(s, tail->no, path, sizeof path);
			c->st->torn_bytes_truncated += tail->size - at;
			if (map->fd >= 0 && ftruncate(map->fd, (off_t)at) != 0)
				store_log_warn("storage: cannot truncate %s: %s", path,
					       strerror(errno));
			tail->size = at;
		}
	}
	c->held_count = 0;
	c->suspect = 0;
	c->in_run = false;
	c->last_gap = (struct store_pos){ 0, 0 };
	c->committed = (struct store_pos){ 0, 0 };
}

/* Replays the records of one segment from offset pos (after its header): format 1 record by
 * record, format 2 batch by batch. */
static void store_recover_segment(struct store_recover_ctx *c, struct store_segment *sg,
				  struct store_recover_map *map, size_t pos, bool last,
				  const char *path)
{
	const uint8_t *p = map->data;
	size_t size = map->size;
	bool batched = map->kind == STORE_SEGMENT_V2;

	while (pos < size) {
		struct store_record rec;
		int64_t n = store_record_check(p + pos, size - pos, &rec, sg->salt);
		size_t next;

		if (n > 0) {
			c->st->records++;
			if (!batched)
				store_recover_take(c, sg, pos, &rec);
			else if (rec.type == STORE_RECORD_COMMIT)
				store_recover_commit(c, sg, pos, &rec);
			else
				store_recover_hold(c, sg, pos, &rec);
			if (c->oom) {
				snprintf(c->oom_path, sizeof c->oom_path, "%s", path);
				c->oom_off = pos;
				return;
			}
			pos += (size_t)n;
			continue;
		}
		c->last_gap = (struct store_pos){ sg->no, pos };
		next = store_recover_hunt(p, size, pos, sg->salt);
		if (next < size) {
			store_log_warn("storage: %s offset %zu: corrupt record, skipped %zu "
				       "bytes to the next valid record", path, pos, next - pos);
			c->st->corrupt_records_skipped++;
			pos = next;
			continue;
		}
		if (last) {
			store_log_warn("storage: %s: torn tail of %zu bytes at offset %zu "
				       "truncated", path, size - pos, pos);
			c->st->torn_bytes_truncated += size - pos;
			if (map->fd >= 0 && ftruncate(map->fd, (off_t)pos) != 0)
				store_log_warn("storage: cannot truncate %s: %s", path,
					       strerror(errno));
			sg->size = pos;
		} else {
			store_log_warn("storage: %s offset %zu: %zu corrupt bytes up to the end of "
				       "the segment skipped", path, pos, size - pos);
			c->st->corrupt_records_skipped++;
		}
		break;
	}
}

static void store_recover_unknown_files(struct store *s)
{
	DIR *d = opendir(s->msgs_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		bool seg = len == 12 && strcmp(n + 8, ".seg") == 0 &&
			   strspn(n, "0123456789") == 8;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || seg)
			continue;
		store_log_warn("storage: ignoring unknown file %s/%s", s->msgs_dir, n);
	}
	closedir(d);
}

static int store_recover_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Hands the live messages to the broker queue by queue. 0, or -1 when fn failed: then it logs
 * which message of which queue the broker could not take and how many were not handed over,
 * because the caller must not start with a queue silently missing messages. */
static int store_recover_emit(struct store_recover_ctx *c, store_recover_fn fn, void *arg)
{
	struct store *s = c->s;
	uint64_t handed = 0, left = 0, failed_id = 0, failed_queue = 0;
	size_t queues_left = 0;
	const struct store_index_entry *failed_e = NULL;
	struct store_index_entry failed_copy;

	for (size_t k = 0; k < c->queue_count; k++) {
		struct store_recover_queue *q = &c->queues[k];
		bool sorted = true, counted = false;

		for (size_t i = 1; i < q->count && sorted; i++)
			sorted = q->ids[i - 1] <= q->ids[i];
		if (!sorted)
			qsort(q->ids, q->count, sizeof *q->ids, store_recover_cmp);
		for (size_t i = 0; i < q->count; i++) {
			uint64_t id = q->ids[i];
			struct store_index_entry *e = store_index_get(&s->index, id);
			const struct store_recover_map *map;
			struct store_record rec;
			struct store_record_message rm;

			if ((i > 0 && q->ids[i - 1] == id) || !e ||
			    !store_index_holds(&s->index, id, e, q->queue_id))
				continue;
			if (failed_id) {
				/* only counting what the broker will not get */
				left++;
				queues_left += !counted;
				counted = true;
				continue;
			}
			map = store_recover_map_find(c, e->segment);
			if (!map || (uint64_t)e->offset + e->len > map->size ||
			    store_record_check(map->data + e->offset, e->len, &rec,
					       store_segment_salt(s, e->segment)) <= 0 ||
			    store_record_message_decode(rec.payload, rec.len, &rm) != 0)
				continue; /* cannot happen: the replay checked it */
			if (fn && fn(arg, q->queue_id, id, &rm.m) != 0) {
				failed_id = id;
				failed_queue = q->queue_id;
				failed_copy = *e;
				failed_e = &failed_copy;
				left++;
				counted = true;
				continue;
			}
			handed++;
		}
	}
	if (!failed_id)
		return 0;
	store_log_error("storage: recovery failed: the broker could not load message %llu (segment "
			"%08u.seg offset %u) of queue id %016llx; %llu messages in %zu queue(s) "
			"were not loaded (%llu were)",
			(unsigned long long)failed_id, failed_e->segment, failed_e->offset,
			(unsigned long long)failed_queue, (unsigned long long)left,
			queues_left + 1, (unsigned long long)handed);
	return -1;
}

static void store_recover_drop_unqueued(void *arg, uint64_t msg_id, struct store_index_entry *e)
{
	struct store_recover_ctx *c = arg;
	struct store_recover_queue *q;

	if (store_index_live(e))
		return;
	/* reuse a scratch queue with id 0 (never a real queue id) as the list of ids to drop */
	q = store_recover_queue_get(c, 0);
	if (!q || store_recover_push(q, msg_id) != 0)
		c->oom = true;
}

int store_recover(struct store *s, store_recover_fn fn, void *arg,
		  struct store_recovery_stats *stats)
{
	struct store_recovery_stats local;
	struct store_recovery_stats *st = stats ? stats : &local;
	struct store_recover_ctx c = { .s = s, .st = st };
	struct timespec t0, t1;
	size_t n = s->seg_count - 1; /* the head is new */
	int rc = -1;

	memset(st, 0, sizeof *st);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (s->recovered && (s->next_id > 1 || s->pending.len > 0 || s->busy)) {
		store_log_error("storage: store_recover after appends; refused");
		return -1;
	}
	if (s->recovered && s->seg_count > 1)
		return 0; /* already done */
	store_recover_unknown_files(s);
	c.maps = calloc(n ? n : 1, sizeof *c.maps);
	if (!c.maps) {
		store_log_error("storage: out of memory starting recovery of %s", s->msgs_dir);
		goto out;
	}
	/* map every segment and read its header before replaying anything: a file of a newer
	 * format stops the start before this build changes a byte */
	for (size_t i = 0; i < n; i++) {
		struct store_segment *sg = &s->segs[i];
		struct store_recover_map *map = &c.maps[c.map_count++];
		char path[4096];
		struct stat sb;
		uint32_t version = 0;

		map->segno = sg->no;
		map->fd = -1;
		store_segment_path(s, sg->no, path, sizeof path);
		map->fd = open(path, O_RDWR | O_CLOEXEC);
		if (map->fd < 0)
			map->fd = open(path, O_RDONLY | O_CLOEXEC);
		/* A segment that cannot be read is not one bad record: starting without it would
		 * drop its messages and, once nothing else held them live, delete the file. */
		if (map->fd < 0 || fstat(map->fd, &sb) != 0) {
			store_log_error("storage: recovery failed: cannot open %s: %s", path,
					strerror(errno));
			goto out;
		}
		map->size = (size_t)sb.st_size;
		sg->size = map->size;
		st->segments++;
		if (map->size > 0) {
			void *m = mmap(NULL, map->size, PROT_READ, MAP_PRIVATE, map->fd, 0);
			if (m == MAP_FAILED) {
				store_log_error("storage: recovery failed: cannot map %s (%zu "
						"bytes): %s", path, map->size, strerror(errno));
				map->size = 0;
				goto out;
			}
			map->data = m;
		}
		map->kind = map->size == 0 ? STORE_SEGMENT_EMPTY
					   : store_segment_header_decode(map->data, map->size,
									 &version, &sg->salt);
		if (map->kind == STORE_SEGMENT_NEWER) {
			store_log_error("storage: recovery failed: %s was written by a newer "
					"Warren (data format %u; this build reads formats 1 to "
					"%u); refusing to start rather than misread it", path,
					version, STORE_FORMAT_VERSION);
			goto out;
		}
		if (map->kind == STORE_SEGMENT_DAMAGED)
			map->version = version;
		if (map->kind == STORE_SEGMENT_V1 && i > 0 &&
		    c.maps[i - 1].kind != STORE_SEGMENT_V1)
			/* format 1 files all predate the first format 2 one: this one lost its
			 * header, and reading it unsalted would accept records forged in bodies */
			map->kind = STORE_SEGMENT_DAMAGED;
		if (map->kind != STORE_SEGMENT_V2)
			sg->salt = STORE_SALT_NONE;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_segment *sg = &s->segs[i];
		struct store_recover_map *map = &c.maps[i];
		char path[4096];

		store_segment_path(s, sg->no, path, sizeof path);
		if (map->kind != STORE_SEGMENT_V2 ||
		    (c.in_run && (sg->salt.header != c.run_salt.header ||
				  sg->salt.payload != c.run_salt.payload)))
			store_recover_run_end(&c, false);
		switch (map->kind) {
		case STORE_SEGMENT_V1:
			store_recover_segment(&c, sg, map, 0, i + 1 == n, path);
			break;
		case STORE_SEGMENT_V2:
			if (!c.in_run) {
				c.in_run = true;
				c.run_salt = sg->salt;
				c.run_start = (struct store_pos){ sg->no, 0 };
			}
			store_recover_segment(&c, sg, map, STORE_SEGMENT_HEADER_SIZE, i + 1 == n,
					      path);
			break;
		case STORE_SEGMENT_EMPTY:
		case STORE_SEGMENT_NEWER:
			break;
		case STORE_SEGMENT_DAMAGED:
			store_log_error("storage: %s: the segment header is damaged (%s); its %zu "
					"bytes cannot be checked and are skipped", path,
					map->version ? "bad checksum"
						     : "missing after a format 2 segment",
					map->size);
			st->corrupt_records_skipped++;
			break;
		}
		if (c.oom) {
			store_log_error("storage: recovery failed: out of memory replaying %s at "
					"offset %zu (record %llu of the log); segments %08u.seg to "
					"%08u.seg not replayed", c.oom_path, c.oom_off,
					(unsigned long long)st->records, sg->no, s->segs[n - 1].no);
			goto out;
		}
	}
	store_recover_run_end(&c, true);
	if (c.oom) {
		store_log_error("storage: recovery failed: out of memory replaying the last batch of "
				"%s", s->msgs_dir);
		goto out;
	}
	/* a message added but never queued before the crash is not live */
	store_index_visit(&s->index, 0, UINT64_MAX, store_recover_drop_unqueued, &c);
	if (c.oom) {
		store_log_error("storage: recovery failed: out of memory listing the messages of "
				"%s that no queue holds", s->msgs_dir);
		goto out;
	}
	if (c.queue_count > 0 && c.queues[c.queue_count - 1].queue_id == 0) {
		struct store_recover_queue *q = &c.queues[c.queue_count - 1];
		for (size_t i = 0; i < q->count; i++)
			store_index_remove(&s->index, q->ids[i]);
		q->count = 0;
	}
	for (size_t i = 0; i < n; i++) {
		st->messages_live += s->segs[i].live_count;
		st->bytes_live += s->segs[i].live_bytes;
	}
	/* the broker may append while it takes the messages (a dead-lettered or dropped one) */
	for (size_t i = 0; i < n; i++)
		s->segs[i].unrecovered = false;
	s->recovered = true;
	if (store_recover_emit(&c, fn, arg) != 0) {
		/* nothing of this attempt may reach the disk: the next start replays it all */
		for (size_t i = 0; i < n; i++)
			s->segs[i].unrecovered = true;
		s->recovered = false;
		s->recovery_failed = true;
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < c.map_count; i++) {
		if (c.maps[i].data)
			munmap((void *)c.maps[i].data, c.maps[i].size);
		if (c.maps[i].fd >= 0)
			close(c.maps[i].fd);
	}
	free(c.maps);
	free(c.held);
	for (size_t i = 0; i < c.queue_count; i++)
		free(c.queues[i].ids);
	free(c.queues);
	free(c.slots);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st->elapsed_ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
			 (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000000);
	store_log_msg(rc == 0 ? STORE_LOG_INFO : STORE_LOG_ERROR,
		"storage: %s %llu segments, %llu records, %llu live messages (%llu bytes), "
		"%llu corrupt records skipped, %llu torn bytes truncated, %llu records of torn "
		"batches dropped, in %llu ms",
		rc == 0 ? "recovered" : "recovery FAILED after", (unsigned long long)st->segments,
		(unsigned long long)st->records,
		(unsigned long long)st->messages_live, (unsigned long long)st->bytes_live,
		(unsigned long long)st->corrupt_records_skipped,
		(unsigned long long)st->torn_bytes_truncated,
		(unsigned long long)st->torn_records_discarded, (unsigned long long)st->elapsed_ms);
	return rc;
}
