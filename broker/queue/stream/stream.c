/* broker/queue/stream/stream.c: the stream kind: RabbitMQ 3.10's stream queue over AMQP 0-9-1.
 * Every message is appended to the stream's log (storage/stream_log.c) and kept there until
 * retention (x-max-length-bytes, x-max-age) drops the oldest segment; nothing is removed by a
 * consumer. Each consumer reads on its own from the offset its x-stream-offset names, with the
 * channel's prefetch as its credit: an ack only gives the credit back. Deliveries carry
 * x-stream-offset. basic.get, queue.purge, auto-ack consumers and nack/reject are refused with
 * RabbitMQ's codes and texts.
 *
 * Where a reader's messages come from: the newest messages are kept in memory (a ring of
 * references, bounded in count and bytes), so readers at the tail never touch the disk; a
 * reader further back reads whole chunks from the log into a small batch of its own. Memory
 * does not grow with the stream's length. Messages become visible to readers when their chunk
 * is written (each loop turn, with the store's group commit, which also fsyncs it before the
 * publishers' confirms). Chunks are stamped with the wall clock: timestamps and intervals in
 * x-stream-offset, and x-max-age, are wall-clock times.
 *
 * Filtering (stream_filter.h): each message's x-stream-filter-value goes into its chunk's Bloom
 * filter; a consumer with x-stream-filter reads only the chunks that may hold what it wants and
 * gets only the messages that do (the tail keeps each message's value hash, so a filtering
 * reader there never parses a message it does not want). */
#include "broker/queue/stream/stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_args.h"
#include "broker/queue/stream/stream_filter.h"
#include "broker/queue/stream/stream_offset.h"
#include "broker/vhost/policy.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"
#include "storage/stream_log.h"

#define STREAM_TAIL_MAX 4096             /* newest messages kept in memory */
#define STREAM_TAIL_BYTES (8u << 20)
#define STREAM_BATCH 64                  /* messages a reader reads from disk at a time */
#define STREAM_RETENTION_CHECK_MS 1000
#define STREAM_READS_PER_TURN 16         /* log reads one reader makes before the loop goes on */

/* A message of the tail, with its filter value's hash (0: none). */
struct stream_tail_entry {
	struct message *m;
	uint64_t fhash;
};

struct stream_queue {
	struct queue *q;
	struct slog *log;
	int64_t max_bytes;  /* retention: -1 none (x-max-length-bytes, max-length-bytes policy) */
	int64_t max_age_ms; /* -1: none */
	/* the newest messages: offsets [tail_first, tail_first + tail_count) */
	struct stream_tail_entry *tail;
	size_t tail_cap, tail_head, tail_count;
	uint64_t tail_first, tail_bytes;
	struct deferred flush;           /* without a store: writes the chunk each turn */
	struct broker_timer retention;   /* x-max-age */
};

/* A consumer's place in the stream (c->kind_state). */
struct stream_reader {
	struct broker *broker;
	uint64_t offset;          /* the next offset it gets */
	struct slog_cursor cur;   /* where reading the log goes on */
	struct stream_filter *filter; /* NULL: every message */
	/* messages read from the log: the wanted ones of offsets [batch_from, batch_to) */
	struct message *batch[STREAM_BATCH];
	uint64_t batch_off[STREAM_BATCH];
	uint64_t batch_from, batch_to;
	size_t batch_pos, batch_len;
};

static struct stream_queue *stream_of(const struct queue *q)
{
	return q->priv;
}

/* ---- the tail ---- */

static void stream_tail_drop_front(struct stream_queue *sq)
{
	struct message *m = sq->tail[sq->tail_head].m;
	sq->tail_bytes -= message_size(m);
	message_unref(m);
	sq->tail_head = (sq->tail_head + 1) % sq->tail_cap;
	sq->tail_count--;
	sq->tail_first++;
}

static void stream_tail_clear(struct stream_queue *sq)
{
	while (sq->tail_count)
		stream_tail_drop_front(sq);
}

/* Keeps m (+1 ref) as the message at offset off. Best effort: without memory it is read back
 * from the log. */
static void stream_tail_push(struct stream_queue *sq, struct message *m, uint64_t off,
			     uint64_t fhash)
{
	if (sq->tail_count && sq->tail_first + sq->tail_count != off)
		stream_tail_clear(sq);
	if (!sq->tail) {
		sq->tail = calloc(STREAM_TAIL_MAX, sizeof *sq->tail);
		if (!sq->tail)
			return;
		sq->tail_cap = STREAM_TAIL_MAX;
	}
	while (sq->tail_count && (sq->tail_count == sq->tail_cap ||
				  sq->tail_bytes + message_size(m) > STREAM_TAIL_BYTES))
		stream_tail_drop_front(sq);
	if (!sq->tail_count)
		sq->tail_first = off;
	sq->tail[(sq->tail_head + sq->tail_count) % sq->tail_cap] =
		(struct stream_tail_entry){ message_ref(m), fhash };
	sq->tail_count++;
	sq->tail_bytes += message_size(m);
}

static struct stream_tail_entry *stream_tail_get(const struct stream_queue *sq, uint64_t off)
{
	if (off < sq->tail_first || off >= sq->tail_first + sq->tail_count)
		return NULL;
	return &sq->tail[(sq->tail_head + (size_t)(off - sq->tail_first)) % sq->tail_cap];
}

/* ---- counts and retention ---- */

static void stream_update_counts(struct queue *q)
{
	struct stream_queue *sq = stream_of(q);
	q->ready_count = (uint32_t)(slog_next(sq->log) - slog_first(sq->log));
	q->ready_bytes = slog_bytes(sq->log);
	q->mem_count = (uint32_t)sq->tail_count;
	q->mem_bytes = sq->tail_bytes;
}

static void stream_trim(struct queue *q)
{
	struct stream_queue *sq = stream_of(q);
	if (sq->max_bytes < 0 && sq->max_age_ms < 0)
		return;
	if (slog_trim(sq->log, sq->max_bytes, sq->max_age_ms, time_wall_ms()) == 0)
		return;
	while (sq->tail_count && sq->tail_first < slog_first(sq->log))
		stream_tail_drop_front(sq);
	stream_update_counts(q);
}

static void stream_arm_retention(struct stream_queue *sq)
{
	if (sq->max_age_ms >= 0 && !sq->q->deleted)
		broker_timer_set(sq->q->broker, &sq->retention,
				 time_now_ms() + STREAM_RETENTION_CHECK_MS);
	else
		broker_timer_cancel(&sq->retention);
}

static void stream_on_retention(struct broker_timer *t)
{
	struct stream_queue *sq =
		(struct stream_queue *)((char *)t - offsetof(struct stream_queue, retention));
	stream_trim(sq->q);
	stream_arm_retention(sq);
}

/* A chunk was written: readers have more, and retention may drop a segment. */
static void stream_on_log_flush(void *arg)
{
	struct queue *q = arg;
	stream_trim(q);
	queue_schedule_dispatch(q);
}

static void stream_on_flush_task(struct deferred *d)
{
	struct stream_queue *sq =
		(struct stream_queue *)((char *)d - offsetof(struct stream_queue, flush));
	slog_flush(sq->log);
}

/* ---- declare ---- */

static int stream_validate(const struct queue_declare *d, char *err, size_t errlen)
{
	static const char *const refused[] = {
		"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
		"x-max-length", "x-max-in-memory-length", "x-max-in-memory-bytes",
		"x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
		"x-single-active-consumer", "x-queue-master-locator", "x-delivery-limit",
		"x-dead-letter-strategy",
	};
	struct amqp_value v;
	if (queue_args_replicated_props(d, err, errlen) != 0)
		return -1;
	if (queue_args_refuse(d, refused, sizeof refused / sizeof refused[0],
			      "rabbit_stream_queue", err, errlen) != 0)
		return -1;
	if (amqp_table_get(d->args, "x-max-age", &v)) {
		const char *why = v.type != 'S' ? NULL :
				  stream_duration_ms(v.v.str) < 0 ? "invalid_max_age" : "";
		if (!why)
			snprintf(err, errlen,
				 "invalid arg 'x-max-age' for queue '%.*s' in vhost '%s': "
				 "{unacceptable_type,%s}",
				 AMQP_STR_ARGS(d->name), d->vhost, amqp_value_type_name(v.type));
		else if (*why)
			snprintf(err, errlen,
				 "invalid arg 'x-max-age' for queue '%.*s' in vhost '%s': %s",
				 AMQP_STR_ARGS(d->name), d->vhost, why);
		if (!why || *why)
			return -1;
	}
	int64_t fsize;
	if (amqp_table_get(d->args, "x-stream-filter-size-bytes", &v) &&
	    (v.type == 'T' || !amqp_value_as_int(&v, &fsize) || fsize < SBLOOM_MIN_SIZE ||
	     fsize > SBLOOM_MAX_SIZE)) {
		snprintf(err, errlen, "Invalid value for  x-stream-filter-size-bytes"); /* sic */
		return -1;
	}
	return 0;
}

static int stream_init(struct queue *q)
{
	struct broker *b = q->broker;
	struct stream_queue *sq;
	char dir[4096], err[256];
	if (!b->store) {
		log_error(b->log, "stream '%s' in vhost '%s' needs a data directory",
			  (const char *)q->name.ptr, q->vhost->name);
		return -1;
	}
	if (!(sq = calloc(1, sizeof *sq)))
		return -1;
	snprintf(dir, sizeof dir, "%s/streams/%016" PRIx64, store_dir(b->store),
		 store_queue_id(q->vhost->name, q->name.ptr, q->name.len));
	sq->log = slog_open(dir, 0, err, sizeof err);
	if (!sq->log) {
		log_error(b->log, "stream '%s' in vhost '%s': %s", (const char *)q->name.ptr,
			  q->vhost->name, err);
		free(sq);
		return -1;
	}
	sq->q = q;
	sq->max_bytes = -1;
	sq->max_age_ms = -1;
	sq->flush.fn = stream_on_flush_task;
	sq->retention.fn = stream_on_retention;
	slog_attach(sq->log, b->store);
	slog_on_flush(sq->log, stream_on_log_flush, q);
	q->priv = sq;
	stream_update_counts(q);
	return 0;
}

static void stream_close(struct queue *q, bool remove)
{
	struct stream_queue *sq = stream_of(q);
	if (!sq)
		return;
	broker_cancel_deferred(q->broker, &sq->flush);
	broker_timer_free(&sq->retention);
	stream_tail_clear(sq);
	free(sq->tail);
	sq->tail = NULL;
	if (sq->log) {
		slog_attach(sq->log, q->broker->store); /* NULL once the store has closed */
		slog_on_flush(sq->log, NULL, NULL);
		if (remove)
			slog_destroy(sq->log);
		else
			slog_close(sq->log);
		sq->log = NULL;
	}
}

static void stream_destroy(struct queue *q)
{
	stream_close(q, false);
	free(q->priv);
	q->priv = NULL;
}

/* The smaller of two limits (-1: none). */
static int64_t stream_min_limit(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Retention and segment size: a policy's max-length-bytes (the smaller of the policy's and an
 * operator policy's), max-age and stream-max-segment-size-bytes win over the queue's
 * x-arguments, as RabbitMQ's rabbit_stream_queue decides (policy_precedence). Applied at once:
 * retention runs now, segments roll at the new size from the next one. */
static int stream_apply(struct queue *q, const struct queue_limits *l)
{
	struct stream_queue *sq = stream_of(q);
	const struct policy *p = policy_match(q->vhost, (const char *)q->name.ptr, q->name.len,
					      true, false);
	const struct policy *op = policy_match(q->vhost, (const char *)q->name.ptr, q->name.len,
					       true, true);
	struct amqp_value v;
	int64_t seg = -1, bytes = -1;
	(void)l;
	if (amqp_table_get(q->args, "x-max-length-bytes", &v) && v.type != 'T')
		amqp_value_as_int(&v, &bytes);
	int64_t pol_bytes = stream_min_limit(p ? p->def.max_length_bytes : -1,
					     op ? op->def.max_length_bytes : -1);
	sq->max_bytes = pol_bytes >= 0 ? pol_bytes : bytes;
	sq->max_age_ms = -1;
	if (p && p->def.max_age)
		sq->max_age_ms = time_duration_ms(p->def.max_age, strlen(p->def.max_age));
	else if (amqp_table_get(q->args, "x-max-age", &v) && v.type == 'S')
		sq->max_age_ms = stream_duration_ms(v.v.str);
	if (p && p->def.stream_max_segment_size_bytes >= 0)
		seg = p->def.stream_max_segment_size_bytes;
	else if (amqp_table_get(q->args, "x-stream-max-segment-size-bytes", &v))
		amqp_value_as_int(&v, &seg);
	slog_set_segment_size(sq->log, seg > 0 ? (uint64_t)seg : 0);
	int64_t fsize = SBLOOM_MIN_SIZE;
	if (amqp_table_get(q->args, "x-stream-filter-size-bytes", &v))
		amqp_value_as_int(&v, &fsize);
	slog_set_filter_size(sq->log, (unsigned)fsize);
	stream_arm_retention(sq);
	return 0;
}

/* ---- publish ---- */

static enum queue_push_result stream_push(struct queue *q, struct message *m)
{
	struct stream_queue *sq = stream_of(q);
	struct broker *b = q->broker;
	if (b->recovering)
		return QUEUE_PUSHED; /* a stream's messages are in its own log, not the store's */
	struct store_message sm = {
		m->exchange.ptr, m->exchange.len, m->routing_key.ptr, m->routing_key.len,
		m->props, m->props_len, m->body, m->body_len,
	};
	uint64_t fhash = m->has_headers ? stream_filter_hash_of(m->props, m->props_len) : 0;
	uint64_t off = slog_append_filtered(sq->log, &sm, time_wall_ms(), fhash);
	if (off == UINT64_MAX)
		return QUEUE_REJECTED; /* the publisher gets a nack */
	stream_tail_push(sq, m, off, fhash);
	if (b->store) {
		/* every stream message is stored: its confirm waits for the sync that covers it */
		slog_touch(sq->log);
		b->store_appends++;
		broker_store_touched(b);
	} else {
		broker_defer(b, &sq->flush);
	}
	q->stat_published++;
	stream_update_counts(q);
	return QUEUE_PUSHED;
}

/* ---- consumers ---- */

static int stream_consume(struct queue *q, struct consumer *c, const struct queue_consume *req,
			  char *err, size_t errlen)
{
	struct stream_queue *sq = stream_of(q);
	struct stream_offset so;
	char why[200];
	if (!req->prefetch) {
		snprintf(err, errlen,
			 "consumer prefetch count is not set for 'queue '%.*s' in vhost '%s''",
			 AMQP_STR_ARGS(q->name), req->vhost);
		return 406;
	}
	if (req->no_ack) {
		snprintf(err, errlen, "automatic acknowledgement not supported by stream queues "
			 "queue '%.*s' in vhost '%s'", AMQP_STR_ARGS(q->name), req->vhost);
		return 540;
	}
	if (stream_offset_parse(req->args, time_wall_ms(), &so, why, sizeof why) != 0) {
		snprintf(err, errlen,
			 "invalid arg 'x-stream-offset' for queue '%.*s' in vhost '%s': %s",
			 AMQP_STR_ARGS(q->name), req->vhost, why);
		return 406;
	}
	struct stream_filter *filter;
	const char *bad_arg = "";
	int frc = stream_filter_parse(req->args, &filter, &bad_arg, why, sizeof why);
	if (frc == -1) {
		snprintf(err, errlen, "invalid arg '%s' for queue '%.*s' in vhost '%s': %s", bad_arg,
			 AMQP_STR_ARGS(q->name), req->vhost, why);
		return 406;
	}
	struct stream_reader *r = frc == 0 ? calloc(1, sizeof *r) : NULL;
	if (!r) {
		stream_filter_free(filter);
		snprintf(err, errlen, "out of memory consuming");
		return 541;
	}
	r->filter = filter;
	r->cur.filter = filter ? &filter->want : NULL;
	switch (so.kind) {
	case STREAM_OFFSET_FIRST:
		r->offset = slog_first(sq->log);
		break;
	case STREAM_OFFSET_LAST:
		r->offset = slog_last_chunk(sq->log);
		break;
	case STREAM_OFFSET_NEXT:
		r->offset = slog_next(sq->log);
		break;
	case STREAM_OFFSET_ABSOLUTE:
		/* before the oldest kept: from there; past the end: waits for that offset */
		r->offset = (uint64_t)so.value < slog_first(sq->log) ? slog_first(sq->log) :
								      (uint64_t)so.value;
		break;
	case STREAM_OFFSET_TIMESTAMP:
		r->offset = slog_offset_at(sq->log, (uint64_t)so.value);
		break;
	}
	r->cur.offset = r->offset;
	r->broker = q->broker;
	c->kind_state = r;
	return 0;
}

static void stream_reader_clear(struct stream_reader *r)
{
	while (r->batch_pos < r->batch_len)
		message_unref(r->batch[r->batch_pos++]);
	r->batch_pos = r->batch_len = 0;
	r->batch_from = r->batch_to = 0;
}

static void stream_consumer_gone(struct queue *q, struct consumer *c)
{
	struct stream_reader *r = c->kind_state;
	(void)q;
	if (!r)
		return;
	stream_reader_clear(r);
	stream_filter_free(r->filter);
	free(r);
	c->kind_state = NULL;
}

static int stream_read_one(void *arg, const struct slog_entry *e)
{
	struct stream_reader *r = arg;
	if (r->filter &&
	    !stream_filter_match(r->filter, stream_filter_hash_of(e->msg.props, e->msg.props_len),
				 e->msg.props, e->msg.props_len))
		return 0; /* read (its chunk may hold wanted ones), not delivered */
	struct message *m = message_from_store(r->broker, &e->msg, 0);
	if (!m) {
		r->cur.offset = e->offset; /* no memory: the next pass reads it again */
		r->cur.file_pos = 0;
		return 1;
	}
	r->batch_off[r->batch_len] = e->offset;
	r->batch[r->batch_len++] = m;
	return 0;
}

/* Whether r wants the tail message t. */
static bool stream_reader_wants(const struct stream_reader *r, const struct stream_tail_entry *t)
{
	return !r->filter ||
	       stream_filter_match(r->filter, t->fhash, t->m->props, t->m->props_len);
}

/* The next message at or after the reader's offset that it wants (a new reference), with
 * r->offset moved to it; NULL when none can be had now (*more: there may be, after the loop
 * has had a turn). Retention may have dropped the offset: the reader then moves on to the
 * oldest kept. */
static struct message *stream_reader_next(struct stream_queue *sq, struct stream_reader *r,
					  uint64_t end, bool *more)
{
	unsigned reads = 0;
	while (r->offset < end) {
		if (r->offset < slog_first(sq->log)) {
			stream_reader_clear(r);
			r->offset = slog_first(sq->log);
			continue;
		}
		if (r->offset >= r->batch_from && r->offset < r->batch_to) {
			while (r->batch_pos < r->batch_len && r->batch_off[r->batch_pos] < r->offset)
				message_unref(r->batch[r->batch_pos++]);
			if (r->batch_pos < r->batch_len) {
				r->offset = r->batch_off[r->batch_pos];
				return r->batch[r->batch_pos++];
			}
			r->offset = r->batch_to; /* the rest of what was read is not wanted */
			continue;
		}
		stream_reader_clear(r);
		struct stream_tail_entry *t = stream_tail_get(sq, r->offset);
		if (t) {
			if (stream_reader_wants(r, t))
				return message_ref(t->m);
			r->offset++;
			continue;
		}
		if (reads++ == STREAM_READS_PER_TURN) {
			*more = true;
			return NULL;
		}
		if (r->cur.offset != r->offset) {
			r->cur.offset = r->offset;
			r->cur.file_pos = 0;
		}
		r->batch_from = r->offset;
		int n = slog_read(sq->log, &r->cur, STREAM_BATCH, stream_read_one, r);
		r->batch_to = r->cur.offset;
		if (n < 0) {
			if (r->cur.offset > r->offset) {
				r->offset = r->cur.offset; /* skipped an unreadable chunk */
				*more = true;
			}
			stream_reader_clear(r);
			return NULL;
		}
		if (r->batch_to <= r->batch_from)
			return NULL; /* nothing more to read now */
	}
	return NULL;
}

/* Each consumer reads on its own, as far as its credit (prefetch less unacked) goes. */
static void stream_dispatch(struct queue *q)
{
	struct stream_queue *sq = stream_of(q);
	struct list *pos, *tmp;
	uint64_t end = slog_committed(sq->log);
	bool more = false;
	list_for_each_safe(pos, tmp, &q->consumers)
	{
		struct consumer *c = list_entry(pos, struct consumer, queue_link);
		struct stream_reader *r = c->kind_state;
		while (r && !q->deleted && r->offset < end && consumer_can_take(c)) {
			struct message *m = stream_reader_next(sq, r, end, &more);
			if (!m)
				break;
			struct qentry e = { .msg = m, .seq = r->offset };
			r->offset++;
			int rc = c->ops->deliver(c, q, &e, 1);
			q->stat_delivered++;
			q->broker->stats.delivered++;
			if (rc != 0)
				break; /* that connection failed: it takes no more */
		}
	}
	if (more)
		queue_schedule_dispatch(q); /* a reader has more to read after the loop's turn */
}

static struct queue_header stream_header(const struct queue *q, const struct qentry *e,
					 uint32_t delivery_count, bool get)
{
	(void)q, (void)delivery_count, (void)get;
	return (struct queue_header){ "x-stream-offset", (int64_t)e->seq };
}

static int stream_refuse(const struct queue *q, enum queue_op op, char *err, size_t errlen)
{
	const char *what = op == QUEUE_OP_GET ? "basic.get" :
			   op == QUEUE_OP_PURGE ? "queue.purge" :
			   op == QUEUE_OP_RECOVER ? "basic.recover" : "basic.nack and basic.reject";
	snprintf(err, errlen, "%s not supported by stream queues queue '%.*s' in vhost '%s'", what,
		 AMQP_STR_ARGS(q->name), q->vhost->name);
	return 540; /* NOT_IMPLEMENTED: the connection closes */
}

/* An ack only gives credit back; nothing leaves the stream. */
static void stream_settle(struct queue *q, struct message *m, uint64_t seq,
			  uint32_t delivery_count, enum queue_settle how)
{
	(void)q, (void)seq, (void)delivery_count, (void)how;
	message_unref(m);
}

static bool stream_take(struct queue *q, struct consumer *c, struct qentry *out)
{
	(void)q, (void)c, (void)out;
	return false; /* every consumer reads for itself (stream_dispatch) */
}

static void stream_taken(struct queue *q)
{
	(void)q;
}

static void stream_untake(struct queue *q, const struct qentry *e)
{
	(void)q;
	message_unref(e->msg);
}

static uint32_t stream_purge(struct queue *q)
{
	(void)q;
	return 0; /* refused before it gets here (stream_refuse) */
}

static uint32_t stream_drop(struct queue *q)
{
	uint32_t n = q->ready_count;
	/* at shutdown the stream stays on disk; a deleted stream's files go */
	stream_close(q, !q->broker->recovering);
	q->ready_count = 0;
	q->ready_bytes = 0;
	q->mem_count = 0;
	q->mem_bytes = 0;
	return n;
}

static void stream_expire(struct queue *q)
{
	if (stream_of(q)->log)
		stream_trim(q);
}

static uint64_t stream_page_out(struct queue *q)
{
	struct stream_queue *sq = stream_of(q);
	uint64_t n = sq->tail_count;
	stream_tail_clear(sq); /* all of it is in the log */
	if (sq->log)
		stream_update_counts(q);
	return n;
}

static size_t stream_memory(const struct queue *q)
{
	const struct stream_queue *sq = stream_of(q);
	return sizeof *sq + sq->tail_cap * sizeof *sq->tail;
}

static uint64_t stream_message_count(const struct queue *q)
{
	return q->ready_count; /* stored messages: an unacked delivery is still stored */
}

static size_t stream_info(const struct queue *q, struct queue_info_field *out)
{
	const struct stream_queue *sq = stream_of(q);
	if (!sq->log)
		return 0;
	out[0] = (struct queue_info_field){ "first_offset", false, (int64_t)slog_first(sq->log),
					    NULL };
	out[1] = (struct queue_info_field){ "committed_offset", false,
					    (int64_t)slog_committed(sq->log), NULL };
	out[2] = (struct queue_info_field){ "segments", false,
					    (int64_t)slog_segment_count(sq->log), NULL };
	out[3] = (struct queue_info_field){ "disk_bytes", false, (int64_t)slog_bytes(sq->log),
					    NULL };
	uint64_t read_n, skipped;
	slog_stats(sq->log, &read_n, &skipped);
	out[4] = (struct queue_info_field){ "chunks_read", false, (int64_t)read_n, NULL };
	out[5] = (struct queue_info_field){ "chunks_skipped", false, (int64_t)skipped, NULL };
	return 6;
}

static int64_t stream_consumer_offset(const struct queue *q, const struct consumer *c)
{
	const struct stream_reader *r = c->kind_state;
	(void)q;
	return r ? (int64_t)r->offset : -1;
}

const struct queue_type queue_type_stream = {
	.name = "stream",
	.replicated = true,
	.validate = stream_validate,
	.init = stream_init,
	.destroy = stream_destroy,
	.apply = stream_apply,
	.push = stream_push,
	.take = stream_take,
	.taken = stream_taken,
	.untake = stream_untake,
	.settle = stream_settle,
	.purge = stream_purge,
	.drop = stream_drop,
	.expire = stream_expire,
	.page_out = stream_page_out,
	.memory = stream_memory,
	.consume = stream_consume,
	.consumer_gone = stream_consumer_gone,
	.dispatch = stream_dispatch,
	.refuse = stream_refuse,
	.header = stream_header,
	.info = stream_info,
	.message_count = stream_message_count,
	.consumer_offset = stream_consumer_offset,
};

/* ---- reading without a consumer (management API, warrenctl stream read) ---- */

struct stream_read_ctx {
	stream_read_fn fn;
	void *arg;
};

static int stream_read_cb(void *arg, const struct slog_entry *e)
{
	struct stream_read_ctx *ctx = arg;
	return ctx->fn(ctx->arg, e->offset, e->timestamp_ms, &e->msg) ? 0 : 1;
}

int stream_read(struct queue *q, const struct stream_offset *from, size_t count,
		stream_read_fn fn, void *arg)
{
	struct stream_queue *sq;
	if (q->type != &queue_type_stream || !(sq = stream_of(q)) || !sq->log)
		return -1;
	struct slog_cursor cur = { 0 };
	switch (from->kind) {
	case STREAM_OFFSET_FIRST:
		cur.offset = slog_first(sq->log);
		break;
	case STREAM_OFFSET_LAST:
		cur.offset = slog_last_chunk(sq->log);
		break;
	case STREAM_OFFSET_NEXT:
		cur.offset = slog_committed(sq->log);
		break;
	case STREAM_OFFSET_ABSOLUTE:
		cur.offset = (uint64_t)from->value;
		break;
	case STREAM_OFFSET_TIMESTAMP:
		cur.offset = slog_offset_at(sq->log, (uint64_t)from->value);
		break;
	}
	struct stream_read_ctx ctx = { fn, arg };
	int total = 0;
	while ((size_t)total < count) {
		int n = slog_read(sq->log, &cur, count - (size_t)total, stream_read_cb, &ctx);
		if (n <= 0)
			break;
		total += n;
		if (cur.offset >= slog_committed(sq->log))
			break;
	}
	return total;
}
