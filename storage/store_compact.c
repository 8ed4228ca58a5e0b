/* storage/store_compact.c: what happens to old segments after each successful sync: deletion
 * of the oldest ones once nothing in them is queued, and compaction of an oldest segment that
 * keeps only a few live messages (they are re-written at the head as "moved" records with the
 * same ids, and the segment goes once that batch is on disk). Also the record read-back shared
 * with store_message_read. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"
#include "storage/store_io.h"

void store_delete_segments(struct store *s)
{
	while (s->seg_count > 1) {
		struct store_segment *sg = &s->segs[0];
		char path[4096];

		if (sg->unrecovered || sg->live_count > 0 || sg->no >= s->durable.seg)
			break;
		if (s->compacting && s->compact_seg == sg->no)
			break;
		store_segment_path(s, sg->no, path, sizeof path);
		if (unlink(path) != 0 && errno != ENOENT) {
			store_log_warn("storage: cannot delete %s: %s", path, strerror(errno));
			break;
		}
		if (sg->rfd >= 0)
			close(sg->rfd);
		if (s->tap)
			s->tap->segment_deleted(s->tap_arg, sg->no);
		memmove(s->segs, s->segs + 1, (s->seg_count - 1) * sizeof *s->segs);
		s->seg_count--;
		/* Each deletion is on disk before the next: unlinks a power cut catches before the
		 * directory's fsync may or may not have happened, each on its own, and an older
		 * segment that came back while a newer one stayed deleted would bring its enqueue
		 * records back without the dequeues the newer one held (acked messages would be
		 * delivered again). Oldest first, one at a time, what remains is always the newest
		 * segments. One fsync per deleted segment: rare (segments are 64 MiB). */
		if (!s->opt.no_fsync && fsync(s->msgs_dirfd) != 0) {
			store_log_warn("storage: fsync of %s: %s", s->msgs_dir, strerror(errno));
			break;
		}
	}
}

static int store_read_fd(struct store *s, struct store_segment *sg)
{
	char path[4096];

	if (sg->rfd >= 0)
		return sg->rfd;
	store_segment_path(s, sg->no, path, sizeof path);
	sg->rfd = open(path, O_RDONLY | O_CLOEXEC);
	return sg->rfd;
}

/* Copies the record at (seg, off, len) from a batch still in memory, or preads it. */
int store_read_record(struct store *s, uint32_t seg, uint64_t off, uint32_t len,
			     uint8_t *out)
{
	const struct store_batch *bs[2] = { &s->flight, &s->pending };
	struct store_segment *sg;

	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < bs[k]->part_count; i++) {
			const struct store_part *pt = &bs[k]->parts[i];
			if (pt->seg == seg && off >= pt->file_off &&
			    off + len <= pt->file_off + pt->len) {
				memcpy(out, bs[k]->buf + pt->buf_off + (off - pt->file_off), len);
				return 0;
			}
		}
	}
	sg = store_segment_find(s, seg);
	if (!sg || store_read_fd(s, sg) < 0)
		return -1;
	return store_io_pread(sg->rfd, out, len, off) == (ssize_t)len ? 0 : -1;
}

struct store_compact_ctx {
	struct store *s;
	uint32_t seg;
	int rc;
};

static void store_compact_one(void *arg, uint64_t msg_id, struct store_index_entry *e)
{
	struct store_compact_ctx *c = arg;
	struct store *s = c->s;
	struct store_record rec;
	struct store_record_message rm;
	uint8_t *old = NULL, *p;
	uint64_t len, *logged = NULL;
	const uint64_t *qs;
	uint32_t nq, durable;
	struct store_pos where;
	struct store_salt salt;
	struct store_move *mv;

	if (c->rc != 0 || e->segment != c->seg || !store_index_live(e))
		return;
	c->rc = -1;
	if (s->move_count == s->move_cap) {
		size_t cap = s->move_cap ? s->move_cap * 2 : 64;
		struct store_move *moves = realloc(s->moves, cap * sizeof *moves);
		if (!moves)
			goto out;
		s->moves = moves;
		s->move_cap = cap;
	}
	old = malloc(e->len);
	if (!old || store_read_record(s, e->segment, e->offset, e->len, old) != 0)
		goto out;
	if (store_record_check(old, e->len, &rec, store_segment_salt(s, e->segment)) <= 0 ||
	    (rec.type != STORE_RECORD_MESSAGE && rec.type != STORE_RECORD_MOVED) ||
	    store_record_message_decode(rec.payload, rec.len, &rm) != 0 || rm.msg_id != msg_id) {
		store_log_error("storage: compaction cannot read message %llu in segment %u",
				(unsigned long long)msg_id, e->segment);
		c->rc = 0; /* leave it where it is */
		goto out;
	}
	/* the moved record names the queues a restart must find it in: volatile ones (paged
	 * transient messages) are left out */
	nq = store_index_queue_count(&s->index, msg_id, e);
	qs = store_index_queues(&s->index, msg_id, e);
	durable = 0;
	for (uint32_t i = 0; i < nq; i++)
		durable += !store_queue_is_volatile(qs[i]);
	if (durable > 65535 || !(logged = malloc((durable ? durable : 1) * sizeof *logged)))
		goto out;
	durable = 0;
	for (uint32_t i = 0; i < nq; i++)
		if (!store_queue_is_volatile(qs[i]))
			logged[durable++] = qs[i];
	len = store_record_message_len(&rm.m, (uint16_t)durable);
	if (len == 0 || !(p = store_append(s, len, true, &where, &salt)))
		goto out;
	store_record_message_encode(p + STORE_RECORD_HEADER_SIZE, msg_id, &rm.m, logged,
				    (uint16_t)durable);
	store_record_seal(p, STORE_RECORD_MOVED, (uint32_t)len, salt);
	mv = &s->moves[s->move_count++];
	mv->msg_id = msg_id;
	mv->seg = where.seg;
	mv->off = (uint32_t)where.off;
	mv->len = (uint32_t)(STORE_RECORD_HEADER_SIZE + len);
	s->compact_end.seg = where.seg;
	s->compact_end.off = where.off + mv->len;
	c->rc = 0;
out:
	free(logged);
	free(old);
}

/* The oldest segment holds little that is live: re-append those messages at the head (same
 * ids, with the queues holding them); it goes once that batch is on disk. */
void store_compact(struct store *s)
{
	struct store_segment *sg;
	struct store_compact_ctx c;

	if (s->compacting || s->failed || s->seg_count < 2)
		return;
	sg = &s->segs[0];
	if (sg->unrecovered || sg->live_count == 0 || sg->no >= s->durable.seg)
		return;
	if (sg->live_bytes * 8 > sg->size || sg->size < s->opt.segment_size / 2)
		return;
	c.s = s;
	c.seg = sg->no;
	c.rc = 0;
	s->compacting = true;
	s->compact_seg = sg->no;
	s->compact_end = s->durable;
	s->move_count = 0;
	store_log_info("storage: compacting segment %u (%llu live messages, %llu of %llu bytes)",
		       sg->no, (unsigned long long)sg->live_count,
		       (unsigned long long)sg->live_bytes, (unsigned long long)sg->size);
	store_index_visit(&s->index, sg->min_id, sg->max_id + 1, store_compact_one, &c);
	if (c.rc != 0)
		store_log_warn("storage: compaction of segment %u stopped early (out of memory)",
			       c.seg);
}

/* Moved records are on disk: point the index at them. */
void store_compact_finish(struct store *s)
{
	if (!s->compacting || store_pos_cmp(s->durable, s->compact_end) < 0)
		return;
	for (size_t i = 0; i < s->move_count; i++) {
		struct store_move *mv = &s->moves[i];
		struct store_index_entry *e = store_index_get(&s->index, mv->msg_id);
		struct store_segment *to;

		if (!e || e->segment != s->compact_seg || !store_index_live(e))
			continue;
		store_segment_account(s, e, -1);
		e->segment = mv->seg;
		e->offset = mv->off;
		e->len = mv->len;
		store_segment_account(s, e, 1);
		to = store_segment_find(s, mv->seg);
		if (to) {
			if (mv->msg_id < to->min_id)
				to->min_id = mv->msg_id;
			if (mv->msg_id > to->max_id)
				to->max_id = mv->msg_id;
		}
	}
	s->compacting = false;
	s->move_count = 0;
}

