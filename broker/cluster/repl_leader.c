/* broker/cluster/repl_leader.c: the leader's side of replication.
 *
 * Sessions. A follower connects to the replication port; the leader sends HELLO (its term and
 * a nonce), checks the follower's AUTH (an HMAC of the shared password, the cluster identity),
 * answers WELCOME, and from that instant T every record the store writes is queued for the
 * follower. It sends (repl_snapshot.c) a MANIFEST of its files as they were at T (store_durable_end says where
 * the log's bytes on disk end), with their CRC32Cs computed on a worker thread; the follower
 * asks (FETCH) for the files or tails it lacks; they go out with sendfile (FILE), then
 * SNAP_END, then what was queued since T, then the live stream: PART runs of records as the
 * store's tap sees them reach the disk, SEQ_END, DELETE of segments, DEFS of the definitions.
 * The follower ACKs the last seq it has fsynced.
 *
 * The in-sync set. A streaming follower whose lag is small joins (it gates confirms at once and
 * is written to etcd once it holds everything shipped when it joined); one that disconnects,
 * falls more than clustering.max_lag_bytes behind, or stays silent a lease TTL leaves (written
 * to etcd before any confirm goes out without it). Only members of the set written to etcd
 * may stand for election, and every member holds every confirmed record.
 *
 * Confirms. The store's synced callback (b->synced_gate) no longer releases confirms by
 * itself: a ticket's publishes are confirmed once every member of the in-sync set has acked
 * the seq of its batch and the set has at least the required number of followers
 * (clustering.min_insync_replicas). With too few for a lease TTL, waiting publishes are nacked
 * and publishers are blocked as under a resource alarm until enough followers are back.
 * Declare-ok (any method that changed durable definitions) waits the same way: the
 * connection's output is held until the definitions document it changed is on the members. */
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "amqp/reply_codes.h"
#include "broker/admin/durable.h"
#include "broker/cluster/cluster_internal.h"
#include "broker/cluster/etcd.h"
#include "broker/cluster/repl_wire.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/net/handler.h"
#include "broker/server.h"
#include "storage/store.h"
#include "storage/store_record.h"
#include "storage/store_replica.h"

#include "broker/cluster/repl_leader_internal.h"


static void repl_release(struct repl_leader *l);
static void repl_isr_update(struct repl_leader *l);

/* ---- output ---- */

struct evbuffer *repl_session_out(struct repl_session *s)
{
	return s->state == RS_STREAM ? bufferevent_get_output(s->bev) : s->backlog;
}

void repl_send(struct repl_session *s, struct repl_buf *b)
{
	if (!b->oom)
		evbuffer_add(bufferevent_get_output(s->bev), b->p, b->len);
}

static void repl_send_refuse(struct repl_session *s, const char *why)
{
	struct repl_buf b = { 0 };
	size_t at = repl_frame_begin(&b, REPL_REFUSE);
	repl_buf_str(&b, why);
	repl_frame_end(&b, at, 0);
	repl_send(s, &b);
	repl_buf_free(&b);
}

/* Records where the follower's lag will be measured from once it acks seq. */
static void repl_session_mark(struct repl_session *s, uint64_t seq)
{
	if (s->mark_count == s->mark_cap) {
		size_t cap = s->mark_cap ? s->mark_cap * 2 : 64;
		struct repl_mark *m = malloc(cap * sizeof *m);
		if (!m) {
			repl_session_close(s, "out of memory");
			return;
		}
		for (size_t i = 0; i < s->mark_count; i++)
			m[i] = s->marks[(s->mark_head + i) % s->mark_cap];
		free(s->marks);
		s->marks = m;
		s->mark_cap = cap;
		s->mark_head = 0;
	}
	s->marks[(s->mark_head + s->mark_count++) % s->mark_cap] =
		(struct repl_mark){ seq, s->sent_bytes, s->sent_records };
}

/* Queues one stream frame (head, then data_len bytes of data) to every registered session. */
static void repl_emit(struct repl_leader *l, struct repl_buf *head, const uint8_t *data,
		      size_t data_len, uint64_t records, bool mark)
{
	struct list *pos, *tmp;

	if (head->oom)
		return;
	list_for_each_safe(pos, tmp, &l->sessions)
	{
		struct repl_session *s = list_entry(pos, struct repl_session, link);
		struct evbuffer *out;
		if (!s->registered || s->closing)
			continue;
		out = repl_session_out(s);
		if (evbuffer_add(out, head->p, head->len) != 0 ||
		    (data_len && evbuffer_add(out, data, data_len) != 0)) {
			repl_session_close(s, "out of memory queueing the stream");
			continue;
		}
		s->sent_bytes += data_len;
		s->sent_records += records;
		if (mark)
			repl_session_mark(s, l->seq);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) +
			    evbuffer_get_length(s->backlog) > REPL_OUTPUT_MAX)
			repl_session_close(s, "it is too far behind on the network");
	}
	l->sent_bytes += data_len;
}

/* Writes what is queued to each streaming follower now, rather than when the loop next gets
 * to its socket (after this turn's other input): the followers' writes then start while the
 * leader's storage thread writes the same batch. */
static void repl_flush(struct repl_leader *l)
{
	struct list *pos;

	list_for_each(pos, &l->sessions)
	{
		struct repl_session *s = list_entry(pos, struct repl_session, link);
		struct evbuffer *out;
		if (s->state != RS_STREAM || s->closing || s->tls)
			continue;
		out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) > 0)
			evbuffer_write(out, bufferevent_getfd(s->bev)); /* nonblocking: what fits */
	}
}

/* ---- the store's tap ---- */

static void repl_tap_part(void *arg, uint32_t seg, uint64_t off, const uint8_t *data, size_t len)
{
	struct repl_leader *l = arg;
	size_t done = 0;

	if (l->stopped)
		return;
	/* a batch handed again after a failed write: only what was never shipped goes */
	if (seg < l->shipped_seg || (seg == l->shipped_seg && off + len <= l->shipped_off))
		return;
	if (seg == l->shipped_seg && off < l->shipped_off) {
		data += l->shipped_off - off;
		len -= (size_t)(l->shipped_off - off);
		off = l->shipped_off;
	}
	l->shipped_seg = seg;
	l->shipped_off = off + len;
	if (!l->in_batch) {
		l->in_batch = true;
		l->seq++;
	}
	if (seg > l->head_seg)
		l->head_seg = seg;
	while (done < len) {
		/* cut at record boundaries near REPL_CHUNK: whole records per frame */
		size_t n = 0, rec_count = 0;
		if (off + done == 0)
			n = STORE_SEGMENT_HEADER_SIZE;
		while (done + n + STORE_RECORD_HEADER_SIZE <= len && (n == 0 || n < REPL_CHUNK)) {
			uint32_t rlen = store_record_get_u32(data + done + n + 8);
			if (done + n + STORE_RECORD_HEADER_SIZE + rlen > len)
				break;
			n += STORE_RECORD_HEADER_SIZE + rlen;
			rec_count++;
		}
		if (n == 0 || done + n > len)
			n = len - done; /* not records: the follower refuses it, as it should */
		struct repl_buf b = { 0 };
		size_t at = repl_frame_begin(&b, REPL_PART);
		repl_buf_u64(&b, l->seq);
		repl_buf_u32(&b, seg);
		repl_buf_u64(&b, off + done);
		repl_frame_end(&b, at, n);
		repl_emit(l, &b, data + done, n, rec_count, false);
		repl_buf_free(&b);
		done += n;
	}
}

/* The newest seq whose frames were all sent: l->seq, or the one before while a seq is open
 * (streams' chunks written since the last batch, which the next batch's end closes). */
static uint64_t repl_seq_ended(const struct repl_leader *l)
{
	return l->in_batch ? l->seq - 1 : l->seq;
}

/* Ends the open seq, if any: its frames are all sent, and a follower may ack it once they
 * are on its disk. */
static void repl_seq_end(struct repl_leader *l, uint64_t records)
{
	struct repl_buf b = { 0 };

	if (!l->in_batch)
		return;
	l->in_batch = false;
	size_t at = repl_frame_begin(&b, REPL_SEQ_END);
	repl_buf_u64(&b, l->seq);
	repl_buf_u64(&b, records);
	repl_frame_end(&b, at, 0);
	repl_emit(l, &b, NULL, 0, 0, true);
	repl_buf_free(&b);
}

static void repl_tap_batch_end(void *arg, uint64_t ticket, uint64_t records)
{
	struct repl_leader *l = arg;

	(void)ticket;
	if (l->stopped || !l->in_batch)
		return;
	repl_seq_end(l, records);
	repl_flush(l);
}

static void repl_cache_forget(struct repl_leader *l, const char *name)
{
	for (size_t i = 0; i < l->cache_count;)
		if (strcmp(l->cache[i].name, name) == 0)
			l->cache[i] = l->cache[--l->cache_count];
		else
			i++;
}

/* A stream's chunk was written (with its index entry, and a new segment's header): the
 * bytes belong to the batch whose batch_end comes next (the store's group commit flushes the
 * streams' chunks right before it hands its batch over, and a chunk that fills up mid-turn
 * is written before the next batch): acked with it. */
static void repl_tap_file(void *arg, const char *name, uint64_t off, const uint8_t *data,
			  size_t len)
{
	struct repl_leader *l = arg;
	struct repl_buf b = { 0 };

	if (l->stopped)
		return;
	if (!l->in_batch) {
		l->in_batch = true;
		l->seq++;
	}
	size_t at = repl_frame_begin(&b, REPL_FILEPART);
	repl_buf_u64(&b, l->seq);
	repl_buf_str(&b, name);
	repl_buf_u64(&b, off);
	repl_buf_bytes(&b, data, len);
	repl_frame_end(&b, at, 0);
	repl_emit(l, &b, NULL, 0, 0, false);
	repl_buf_free(&b);
	/* the bytes are in the frame (its checksum covers them): counted for the lag here */
	struct list *pos;
	list_for_each(pos, &l->sessions)
	{
		struct repl_session *s = list_entry(pos, struct repl_session, link);
		if (s->registered && !s->closing)
			s->sent_bytes += len;
	}
	l->sent_bytes += len;
}

static void repl_tap_file_removed(void *arg, const char *name)
{
	struct repl_leader *l = arg;
	struct repl_buf b = { 0 };

	if (l->stopped)
		return;
	repl_seq_end(l, 0);
	l->seq++;
	size_t at = repl_frame_begin(&b, REPL_FILEGONE);
	repl_buf_u64(&b, l->seq);
	repl_buf_str(&b, name);
	repl_frame_end(&b, at, 0);
	repl_emit(l, &b, NULL, 0, 0, true);
	repl_buf_free(&b);
	repl_cache_forget(l, name);
	l->streams_removed++;
}

static void repl_tap_deleted(void *arg, uint32_t seg)
{
	struct repl_leader *l = arg;
	struct repl_buf b = { 0 };

	if (l->stopped)
		return;
	repl_seq_end(l, 0);
	l->seq++;
	size_t at = repl_frame_begin(&b, REPL_DELETE);
	repl_buf_u64(&b, l->seq);
	repl_buf_u32(&b, seg);
	repl_frame_end(&b, at, 0);
	repl_emit(l, &b, NULL, 0, 0, true);
	repl_buf_free(&b);
	char name[STORE_REPLICA_NAME_MAX];
	snprintf(name, sizeof name, "msgs/%08u.seg", seg);
	repl_cache_forget(l, name);
}

static void repl_tap_definitions(void *arg, const char *doc, size_t len)
{
	struct repl_leader *l = arg;
	struct repl_buf b = { 0 };

	if (l->stopped)
		return;
	repl_seq_end(l, 0);
	l->seq++;
	size_t at = repl_frame_begin(&b, REPL_DEFS);
	repl_buf_u64(&b, l->seq);
	repl_buf_bytes(&b, doc, len);
	repl_frame_end(&b, at, 0);
	repl_emit(l, &b, NULL, 0, 0, true);
	repl_buf_free(&b);
	/* the declare-oks held in this loop turn wait for this seq */
	for (size_t i = 0; i < l->frozen_count; i++)
		if (l->frozen[i].seq == 0)
			l->frozen[i].seq = l->seq;
	repl_release(l);
}

/* ---- the in-sync set and the gate ---- */

static struct repl_member *repl_member_find(struct repl_leader *l, const char *name)
{
	for (size_t i = 0; i < l->member_count; i++)
		if (strcmp(l->members[i].name, name) == 0)
			return &l->members[i];
	return NULL;
}

static void repl_member_remove(struct repl_leader *l, struct repl_member *m)
{
	if (m->s)
		m->s->member = NULL;
	*m = l->members[--l->member_count];
	if (m < l->members + l->member_count && m->s)
		m->s->member = m;
}

unsigned repl_leader_required(const struct repl_leader *l)
{
	uint32_t want = l->c->cfg->cluster_min_insync;
	if (want == CONFIG_CLUSTER_AUTO)
		return cluster_other_members(l->c) > 0 ? 1 : 0;
	return want;
}

unsigned repl_leader_insync_count(const struct repl_leader *l)
{
	unsigned n = 0;
	for (size_t i = 0; i < l->member_count; i++)
		n += l->members[i].state == M_IN;
	return n;
}

size_t repl_leader_member_count(const struct repl_leader *l)
{
	return l->member_count;
}

bool repl_leader_member_in(const struct repl_leader *l, size_t k, const char *name)
{
	return k < l->member_count && l->members[k].state == M_IN &&
	       strcmp(l->members[k].name, name) == 0;
}

static void repl_member_leave(struct repl_leader *l, struct repl_member *m, const char *why)
{
	if (m->state == M_LEAVING)
		return;
	if (m->state == M_JOINING && m->acked_seq < m->floor) {
		/* etcd never heard of it (no write names it yet): it stops gating now */
		log_info(l->c->log, "clustering: follower %s does not join the in-sync set: %s", m->name, why);
		repl_member_remove(l, m);
		repl_release(l);
		return;
	}
	log_warn(l->c->log, "clustering: follower %s leaves the in-sync set: %s", m->name, why);
	m->state = M_LEAVING;
	m->why = why;
	repl_isr_update(l);
}

/* The seq every member holds, or false when there are too few followers to confirm. */
static bool repl_committed(struct repl_leader *l, uint64_t *seq)
{
	uint64_t c = l->seq;
	unsigned n = 0;

	if (!l->isr_ready || l->stopped)
		return false;
	for (size_t i = 0; i < l->member_count; i++) {
		if (l->members[i].acked_seq < c)
			c = l->members[i].acked_seq;
		n++;
	}
	if (n < repl_leader_required(l))
		return false;
	*seq = c;
	return true;
}

static void repl_unfreeze(struct repl_leader *l, uint64_t conn_id)
{
	struct list *pos;

	list_for_each(pos, &l->b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->id == conn_id) {
			conn_io_hold_output(c, false);
			return;
		}
	}
}

static void repl_alarm(struct repl_leader *l, bool short_of_followers)
{
	const char *want = short_of_followers ? "too few followers in sync" : NULL;
	uint64_t now = time_now_ms();

	if (short_of_followers && !l->short_since_ms) {
		l->short_since_ms = now;
		log_warn(l->c->log, "clustering: %u of the %u in-sync followers a confirm needs: confirms wait "
			 "and publishers are blocked", repl_leader_insync_count(l),
			 repl_leader_required(l));
	} else if (!short_of_followers && l->short_since_ms) {
		l->short_since_ms = 0;
		log_info(l->c->log, "clustering: enough followers in sync again (%u): confirming",
			 repl_leader_insync_count(l));
	}
	if ((want == NULL) != (l->b->repl_alarm == NULL)) {
		l->b->repl_alarm = want;
		server_check_alarms(l->b);
	}
}

/* Releases the confirms and held declare-oks the members now cover. */
static void repl_release(struct repl_leader *l)
{
	uint64_t seq = 0;
	bool ok = repl_committed(l, &seq);

	if (ok && seq > l->committed)
		l->committed = seq;
	if (l->isr_ready && !l->stopped)
		repl_alarm(l, !ok && l->member_count < repl_leader_required(l));
	while (l->wait_count) {
		struct repl_wait *w = &l->waits[l->wait_head];
		if (w->ok && !(ok && w->seq <= l->committed))
			break;
		uint64_t ticket = w->ticket;
		bool wok = w->ok;
		l->wait_head = (l->wait_head + 1) % l->wait_cap;
		l->wait_count--;
		durable_synced(l->b, ticket, wok);
	}
	for (size_t i = 0; i < l->frozen_count;) {
		if (ok && l->frozen[i].seq && l->frozen[i].seq <= l->committed) {
			repl_unfreeze(l, l->frozen[i].conn_id);
			l->frozen[i] = l->frozen[--l->frozen_count];
		} else {
			i++;
		}
	}
}

/* Too few followers for a lease TTL: what waits is nacked (the records stay in the log and
 * may still be delivered: a nack promises nothing either way). */
static void repl_nack_waiting(struct repl_leader *l)
{
	uint64_t last = 0;

	while (l->wait_count) {
		struct repl_wait *w = &l->waits[l->wait_head];
		last = w->ticket;
		l->wait_head = (l->wait_head + 1) % l->wait_cap;
		l->wait_count--;
	}
	if (last) {
		log_warn(l->c->log, "clustering: nacking publishes that waited %llu ms for in-sync followers",
			 (unsigned long long)(time_now_ms() - l->short_since_ms));
		durable_synced(l->b, last, false);
	}
}

static void repl_gate(struct broker *b, uint64_t ticket, bool ok)
{
	struct repl_leader *l = b->cluster ? b->cluster->rl : NULL;

	if (!l || l->stopped) {
		if (!l)
			durable_synced(b, ticket, ok);
		return; /* stepping down: nothing is confirmed any more */
	}
	if (l->wait_count == l->wait_cap) {
		size_t cap = l->wait_cap ? l->wait_cap * 2 : 64;
		struct repl_wait *w = malloc(cap * sizeof *w);
		if (!w) {
			durable_synced(b, ticket, false);
			return;
		}
		for (size_t i = 0; i < l->wait_count; i++)
			w[i] = l->waits[(l->wait_head + i) % l->wait_cap];
		free(l->waits);
		l->waits = w;
		l->wait_cap = cap;
		l->wait_head = 0;
	}
	/* the tap saw this ticket's batch when it was handed to the storage thread, and nothing
	 * was handed since (one batch is written at a time): the last seq that ended covers it
	 * (an open one holds only streams' chunks written since) */
	l->waits[(l->wait_head + l->wait_count++) % l->wait_cap] =
		(struct repl_wait){ ticket, repl_seq_ended(l), ok };
	repl_release(l);
	repl_disk_moved(l);
}

/* ---- etcd: the in-sync set ---- */

static void repl_isr_desired(struct repl_leader *l, char (*out)[CLUSTER_NAME_MAX], size_t *n)
{
	*n = 0;
	snprintf(out[(*n)++], CLUSTER_NAME_MAX, "%s", l->c->name);
	for (size_t i = 0; i < l->member_count; i++) {
		const struct repl_member *m = &l->members[i];
		if (m->state == M_IN || (m->state == M_JOINING && m->acked_seq >= m->floor))
			snprintf(out[(*n)++], CLUSTER_NAME_MAX, "%s", m->name);
	}
}

static bool repl_isr_same(char (*a)[CLUSTER_NAME_MAX], size_t na, char (*b)[CLUSTER_NAME_MAX],
			  size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t k = 0; k < nb && !found; k++)
			found = strcmp(a[i], b[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

struct repl_isr_call {
	struct repl_leader *l;
	char names[CLUSTER_MAX_NODES][CLUSTER_NAME_MAX];
	size_t count;
};

static void repl_on_isr_written(void *arg, const struct etcd_reply *r)
{
	struct repl_isr_call *call = arg;
	struct repl_leader *l = call->l;
	char list[CLUSTER_MAX_NODES * (CLUSTER_NAME_MAX + 2)] = "";

	if (!l || r->cancelled) {
		free(call);
		return;
	}
	l->isr_call = false;
	if (r->error) {
		log_warn(l->c->log, "clustering: writing the in-sync set failed: %s; retrying", r->error);
		free(call);
		return;
	}
	if (!r->succeeded) {
		free(call);
		cluster_step_down(l->c, "etcd names another leader (writing the in-sync set)");
		return;
	}
	memcpy(l->written, call->names, sizeof call->names);
	l->written_count = call->count;
	for (size_t i = 0; i < call->count; i++) {
		size_t n = strlen(list);
		snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", call->names[i]);
	}
	free(call);
	for (size_t i = 0; i < l->member_count;) {
		struct repl_member *m = &l->members[i];
		bool listed = false;
		for (size_t k = 0; k < l->written_count && !listed; k++)
			listed = strcmp(l->written[k], m->name) == 0;
		if (m->state == M_JOINING && listed) {
			m->state = M_IN;
			log_info(l->c->log, "clustering: follower %s joins the in-sync set", m->name);
		} else if (m->state == M_LEAVING && !listed) {
			repl_member_remove(l, m);
			continue;
		}
		i++;
	}
	if (!l->isr_ready)
		log_info(l->c->log, "clustering: in-sync set of term %lld written", (long long)l->c->revision);
	l->isr_ready = true;
	log_info(l->c->log, "clustering: in-sync set: %s", list);
	repl_release(l);
	repl_isr_update(l);
}

static void repl_isr_update(struct repl_leader *l)
{
	struct repl_isr_call *call;
	json_t *nodes, *o;
	char *text;

	if (l->isr_call || l->stopped || !l->have_view)
		return;
	call = calloc(1, sizeof *call);
	if (!call)
		return;
	call->l = l;
	repl_isr_desired(l, call->names, &call->count);
	if (l->isr_ready && repl_isr_same(call->names, call->count, l->written, l->written_count)) {
		free(call);
		return;
	}
	nodes = json_array();
	for (size_t i = 0; i < call->count; i++)
		json_array_append_new(nodes, json_string(call->names[i]));
	o = json_pack("{s:s, s:I, s:o}", "leader", l->c->name, "revision",
		      (json_int_t)l->c->revision, "nodes", nodes);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text && etcd_put_guarded(l->c->etcd, l->c->key_insync, text, l->c->key_leader,
				     l->c->revision, repl_on_isr_written, call) == 0)
		l->isr_call = true;
	else
		free(call);
	free(text);
}

/* ---- sessions ---- */

static void repl_session_free(struct repl_session *s)
{
	if (s->l->b)
		broker_cancel_deferred(s->l->b, &s->free_task);
	if (s->job)
		s->job->s = NULL;
	if (s->member) {
		s->member->s = NULL;
		s->member->since_ms = time_now_ms();
	}
	list_remove(&s->link);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->backlog)
		evbuffer_free(s->backlog);
	repl_manifest_free(&s->mf);
	free(s->marks);
	free(s->streams);
	free(s);
}

static void repl_on_session_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	repl_session_free(arg);
}

static void repl_on_session_free_task(struct deferred *d)
{
	repl_session_free((struct repl_session *)((char *)d -
						  offsetof(struct repl_session, free_task)));
}

/* Ends a session: a member leaves the in-sync set. What is queued (a REFUSE) still goes. */
void repl_session_close(struct repl_session *s, const char *why)
{
	struct repl_leader *l = s->l;

	if (s->closing)
		return;
	s->closing = true;
	if (why && s->name[0])
		log_warn(l->c->log, "clustering: replication to follower %s (%s) ends: %s", s->name, s->peer,
			 why);
	else if (why)
		log_warn(l->c->log, "clustering: replication connection from %s ends: %s", s->peer, why);
	if (s->member) {
		struct repl_member *m = s->member;
		m->s = NULL;
		s->member = NULL;
		m->since_ms = time_now_ms();
		repl_member_leave(l, m, "its replication connection ended");
	}
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		if (!l->b) {
			repl_session_free(s);
			return;
		}
		bufferevent_disable(s->bev, EV_WRITE);
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
		s->free_task.fn = repl_on_session_free_task;
		broker_defer(l->b, &s->free_task);
		return;
	}
	/* the last frames (REFUSE) leave, then it goes; a peer that does not read is cut */
	struct timeval tv = { 1, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(s->bev, NULL, repl_on_session_flushed, NULL, s);
}

static int repl_on_auth(struct repl_session *s, const struct repl_frame *fr)
{
	struct repl_leader *l = s->l;
	struct cluster *c = l->c;
	struct repl_reader r;
	uint8_t mac[REPL_MAC_LEN], want[REPL_MAC_LEN], fnonce[REPL_NONCE_LEN];
	char cluster[256], why[400];
	int64_t seen;
	struct repl_buf b = { 0 };

	repl_reader_init(&r, fr);
	const uint8_t *mp = repl_read_bytes(&r, REPL_MAC_LEN);
	const uint8_t *np = repl_read_bytes(&r, REPL_NONCE_LEN);
	if (mp && np) {
		memcpy(mac, mp, REPL_MAC_LEN);
		memcpy(fnonce, np, REPL_NONCE_LEN);
	}
	seen = (int64_t)repl_read_u64(&r);
	repl_read_str(&r, s->name, sizeof s->name);
	repl_read_str(&r, cluster, sizeof cluster);
	if (r.bad)
		return -1;
	if (strcmp(cluster, c->identity) != 0) {
		snprintf(why, sizeof why, "it belongs to cluster %.150s, not %.150s", cluster, c->identity);
		log_warn(l->c->log, "clustering: refused follower %s from %s: %s", s->name, s->peer, why);
		repl_send_refuse(s, why);
		repl_session_close(s, NULL);
		return 0;
	}
	repl_mac(c->cfg->cluster_password, "follower", s->nonce, c->identity, s->name, want);
	if (!repl_mac_equal(mac, want)) {
		log_warn(l->c->log, "clustering: refused follower %s from %s: wrong clustering.password",
			 s->name, s->peer);
		repl_send_refuse(s, "wrong clustering.password");
		repl_session_close(s, NULL);
		return 0;
	}
	if (strcmp(s->name, c->name) == 0) {
		repl_send_refuse(s, "a follower with the leader's own node name");
		repl_session_close(s, NULL);
		return 0;
	}
	if (seen > c->revision) {
		snprintf(why, sizeof why, "it has followed a newer leader (revision %lld > %lld)",
			 (long long)seen, (long long)c->revision);
		log_warn(l->c->log, "clustering: refused follower %s: %s", s->name, why);
		repl_send_refuse(s, why);
		repl_session_close(s, NULL);
		c->next_poll_ms = 0; /* and find out who leads */
		return 0;
	}
	/* one session per follower: a reconnect replaces the old one */
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &l->sessions)
	{
		struct repl_session *o = list_entry(pos, struct repl_session, link);
		if (o != s && !o->closing && strcmp(o->name, s->name) == 0)
			repl_session_close(o, "it connected again");
	}
	repl_mac(c->cfg->cluster_password, "leader", fnonce, c->identity, c->name, mac);
	size_t at = repl_frame_begin(&b, REPL_WELCOME);
	repl_buf_bytes(&b, mac, REPL_MAC_LEN);
	repl_buf_u64(&b, repl_seq_ended(l)); /* the stream starts after this seq */
	repl_frame_end(&b, at, 0);
	s->acked_seq = repl_seq_ended(l);
	repl_send(s, &b);
	repl_buf_free(&b);
	log_info(l->c->log, "clustering: follower %s connected from %s: sync starts", s->name, s->peer);
	struct repl_member *m = repl_member_find(l, s->name);
	if (m && !m->s) {
		/* a member of the set this leader started with: it gates until it syncs */
		m->s = s;
		s->member = m;
	}
	repl_start_snapshot(s);
	return 0;
}

static void repl_on_ack(struct repl_session *s, uint64_t seq)
{
	struct repl_leader *l = s->l;

	if (!s->synced || seq <= s->acked_seq || seq > l->seq)
		return;
	s->acked_seq = seq;
	while (s->mark_count && s->marks[s->mark_head].seq <= seq) {
		s->acked_bytes = s->marks[s->mark_head].bytes;
		s->acked_records = s->marks[s->mark_head].records;
		s->mark_head = (s->mark_head + 1) % s->mark_cap;
		s->mark_count--;
	}
	if (s->mark_count == 0) {
		s->acked_bytes = s->sent_bytes;
		s->acked_records = s->sent_records;
	}
	if (s->member) {
		s->member->acked_seq = seq;
		if (s->member->state == M_JOINING && seq >= s->member->floor)
			repl_isr_update(l);
	}
	repl_release(l);
}

static int repl_on_frame(struct repl_session *s, const struct repl_frame *fr)
{
	struct repl_reader r;
	char why[300];

	switch (fr->type) {
	case REPL_AUTH:
		return s->state == RS_HELLO ? repl_on_auth(s, fr) : -1;
	case REPL_FETCH:
		return s->state == RS_FETCH ? repl_on_fetch(s, fr) : -1;
	case REPL_SYNCED:
		if (s->state != RS_STREAM)
			return -1;
		s->synced = true;
		log_info(s->l->c->log, "clustering: follower %s synced; %llu bytes of records behind",
			 s->name, (unsigned long long)(s->sent_bytes - s->acked_bytes));
		return 0;
	case REPL_ACK: {
		repl_reader_init(&r, fr);
		uint64_t seq = repl_read_u64(&r);
		if (r.bad)
			return -1;
		repl_on_ack(s, seq);
		return 0;
	}
	case REPL_FAULT:
		repl_reader_init(&r, fr);
		repl_read_str(&r, why, sizeof why);
		repl_session_close(s, r.bad ? "it gave up" : why);
		return 0;
	case REPL_REFUSE: {
		/* the follower will not follow this leader (another cluster, an older term) */
		char line[400];
		repl_reader_init(&r, fr);
		repl_read_str(&r, why, sizeof why);
		snprintf(line, sizeof line, "the follower refused this leader: %s",
			 r.bad ? "(no reason)" : why);
		repl_session_close(s, line);
		return 0;
	}
	default:
		return -1;
	}
}

static void repl_on_read(struct bufferevent *bev, void *arg)
{
	struct repl_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	s->last_rx_ms = time_now_ms();
	while (!s->closing) {
		size_t avail = evbuffer_get_length(in);
		struct repl_frame fr;
		int64_t used;
		if (avail < REPL_HEAD_LEN)
			break;
		uint8_t *p = evbuffer_pullup(in, avail < 65536 ? (ssize_t)avail : 65536);
		used = repl_frame_decode(p, avail < 65536 ? avail : 65536, &fr);
		if (used == 0 && avail > 65536) {
			p = evbuffer_pullup(in, -1);
			used = repl_frame_decode(p, avail, &fr);
		}
		if (used == 0)
			break;
		if (used < 0 || repl_on_frame(s, &fr) != 0) {
			repl_session_close(s, "it sent a malformed or unexpected frame");
			return;
		}
		evbuffer_drain(in, (size_t)used);
	}
}

static void repl_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct repl_session *s = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		repl_session_close(s, what & BEV_EVENT_EOF ? "it closed the connection" :
				      what & BEV_EVENT_TIMEOUT ? "timeout" :
								 "connection error");
}

void repl_leader_accept(struct repl_leader *l, int fd, const char *peer)
{
	struct repl_session *s = calloc(1, sizeof *s);
	struct repl_buf b = { 0 };
	int one = 1;

	if (!s || l->stopped) {
		free(s);
		close(fd);
		return;
	}
	s->l = l;
	snprintf(s->peer, sizeof s->peer, "%s", peer);
	list_append(&l->sessions, &s->link);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (l->c->tls_server) {
		SSL *ssl = SSL_new(l->c->tls_server);
		s->tls = true;
		s->bev = ssl ? bufferevent_openssl_socket_new(l->c->base, fd, ssl,
							      BUFFEREVENT_SSL_ACCEPTING,
							      BEV_OPT_CLOSE_ON_FREE) :
			       NULL;
		if (!s->bev && ssl)
			SSL_free(ssl);
	} else {
		s->bev = bufferevent_socket_new(l->c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	s->backlog = evbuffer_new();
	if (!s->bev || !s->backlog) {
		if (!s->bev)
			close(fd);
		repl_session_free(s);
		return;
	}
	s->last_rx_ms = time_now_ms();
	/* libevent writes 16 KiB per loop turn by default: a batch must leave in one go */
	bufferevent_set_max_single_write(s->bev, REPL_SINGLE_WRITE);
	bufferevent_setcb(s->bev, repl_on_read, NULL, repl_on_event, s);
	bufferevent_enable(s->bev, EV_READ);
	repl_nonce(s->nonce);
	size_t at = repl_frame_begin(&b, REPL_HELLO);
	repl_buf_u32(&b, REPL_VERSION);
	repl_buf_u64(&b, (uint64_t)l->c->revision);
	repl_buf_bytes(&b, s->nonce, REPL_NONCE_LEN);
	repl_buf_str(&b, l->c->name);
	repl_buf_str(&b, l->c->identity);
	repl_frame_end(&b, at, 0);
	repl_send(s, &b);
	repl_buf_free(&b);
}

/* ---- the timer ---- */

static void repl_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct repl_leader *l = arg;
	uint64_t now = time_now_ms(), ttl = l->c->lease_ttl_ms;
	uint64_t max_lag = l->c->cfg->cluster_max_lag_bytes;
	struct list *pos, *tmp;

	(void)fd, (void)what;
	if (l->stopped)
		return;
	list_for_each_safe(pos, tmp, &l->sessions)
	{
		struct repl_session *s = list_entry(pos, struct repl_session, link);
		if (s->closing)
			continue;
		if (now - s->last_rx_ms > ttl) {
			repl_session_close(s, "it has been silent for a lease TTL");
			continue;
		}
		/* every state past AUTH: a follower waiting for its MANIFEST (CRCs of a large
		 * store take a while) hears from the leader too */
		if (s->state != RS_HELLO && now - s->last_ping_ms >= REPL_PING_MS) {
			struct repl_buf b = { 0 };
			size_t at = repl_frame_begin(&b, REPL_PING);
			repl_buf_u64(&b, l->seq);
			repl_frame_end(&b, at, 0);
			if (s->state == RS_STREAM)
				repl_send(s, &b);
			else
				evbuffer_add(s->state == RS_MANIFEST || s->state == RS_DISK ?
						     bufferevent_get_output(s->bev) :
						     s->backlog,
					     b.p, b.len);
			repl_buf_free(&b);
			s->last_ping_ms = now;
		}
		if (!s->synced)
			continue;
		uint64_t lag = s->sent_bytes - s->acked_bytes;
		if (s->member && s->member->state != M_LEAVING && lag > max_lag)
			repl_member_leave(l, s->member, "it is more than clustering.max_lag_bytes "
							"behind");
		else if (!s->member && lag <= max_lag / 2 && l->member_count < CLUSTER_MAX_NODES &&
			 !repl_member_find(l, s->name)) {
			struct repl_member *m = &l->members[l->member_count++];
			memset(m, 0, sizeof *m);
			snprintf(m->name, sizeof m->name, "%s", s->name);
			m->state = M_JOINING;
			m->floor = repl_seq_ended(l);
			m->acked_seq = s->acked_seq;
			m->s = s;
			s->member = m;
			if (m->acked_seq >= m->floor)
				repl_isr_update(l);
		}
	}
	repl_disk_moved(l);
	for (size_t i = 0; i < l->member_count; i++) {
		struct repl_member *m = &l->members[i];
		if (!m->s && m->state == M_IN && now - m->since_ms > ttl)
			repl_member_leave(l, m, "it did not connect within a lease TTL");
	}
	repl_isr_update(l);
	repl_release(l);
	if (l->short_since_ms && now - l->short_since_ms > ttl)
		repl_nack_waiting(l);
}

/* ---- the AMQP handlers, wrapped ---- */

static void repl_freeze(struct repl_leader *l, struct conn *c)
{
	for (size_t i = 0; i < l->frozen_count; i++)
		if (l->frozen[i].conn_id == c->id && l->frozen[i].seq == 0)
			return;
	if (l->frozen_count == l->frozen_cap) {
		size_t cap = l->frozen_cap ? l->frozen_cap * 2 : 16;
		struct repl_frozen *f = realloc(l->frozen, cap * sizeof *f);
		if (!f)
			return; /* the reply goes out unheld: the definitions are on this disk */
		l->frozen = f;
		l->frozen_cap = cap;
	}
	l->frozen[l->frozen_count++] = (struct repl_frozen){ c->id, 0 };
	conn_io_hold_output(c, true);
	broker_defer(l->b, &l->unfreeze_task);
}

/* After the loop turn's definitions save: a held connection whose save did not happen (it
 * failed, or changed nothing to replicate) is let go. */
static void repl_on_unfreeze_task(struct deferred *d)
{
	struct repl_leader *l =
		(struct repl_leader *)((char *)d - offsetof(struct repl_leader, unfreeze_task));

	for (size_t i = 0; i < l->frozen_count;) {
		if (l->frozen[i].seq == 0) {
			repl_unfreeze(l, l->frozen[i].conn_id);
			l->frozen[i] = l->frozen[--l->frozen_count];
		} else {
			i++;
		}
	}
}

static int repl_refuse(struct conn *c)
{
	return conn_fail(c, AMQP_CONNECTION_FORCED, 0,
			 "broker forced connection closure with reason 'leader stepped down'");
}

static int repl_wrap_method(struct channel *ch, const struct amqp_method *m)
{
	struct broker *b = ch->broker;
	struct repl_leader *l = b->cluster->rl;
	int rc;

	if (!cluster_may_serve(b->cluster))
		return repl_refuse(ch->conn);
	rc = l->inner->method(ch, m);
	if (b->defs_dirty && !l->stopped && !ch->conn->dead)
		repl_freeze(l, ch->conn);
	return rc;
}

static int repl_wrap_content_start(struct channel *ch, const struct amqp_method *m)
{
	struct broker *b = ch->broker;

	if (!cluster_may_serve(b->cluster))
		return repl_refuse(ch->conn);
	return b->cluster->rl->inner->content_start(ch, m);
}

/* ---- public ---- */

void repl_leader_view(struct repl_leader *l, const struct cluster_view *v)
{
	if (!l->have_view) {
		/* the set this leader starts from: the previous one, less the previous leader */
		l->have_view = true;
		for (size_t i = 0; i < v->insync_count && l->member_count < CLUSTER_MAX_NODES; i++) {
			if (strcmp(v->insync[i], l->c->name) == 0 ||
			    (v->insync_leader[0] && strcmp(v->insync[i], v->insync_leader) == 0))
				continue;
			struct repl_member *m = &l->members[l->member_count++];
			memset(m, 0, sizeof *m);
			snprintf(m->name, sizeof m->name, "%s", v->insync[i]);
			m->state = M_IN;
			m->since_ms = time_now_ms();
			log_info(l->c->log, "clustering: follower %s was in sync with the previous leader: it "
				 "gates confirms until it syncs or a lease TTL passes", m->name);
		}
		repl_isr_update(l);
	}
	repl_release(l);
}

struct repl_leader *repl_leader_new(struct cluster *c, struct broker *b)
{
	struct repl_leader *l = calloc(1, sizeof *l);
	struct timeval tv = { 0, REPL_TIMER_MS * 1000 };

	if (!l)
		return NULL;
	l->c = c;
	l->b = b;
	list_init(&l->sessions);
	list_init(&l->jobs);
	l->unfreeze_task.fn = repl_on_unfreeze_task;
	l->timer = event_new(c->base, -1, EV_PERSIST, repl_on_timer, l);
	if (!l->timer || event_add(l->timer, &tv) != 0) {
		repl_leader_free(l);
		return NULL;
	}
	l->tap = (struct store_tap){ .part = repl_tap_part,
				     .batch_end = repl_tap_batch_end,
				     .segment_deleted = repl_tap_deleted,
				     .definitions = repl_tap_definitions,
				     .file = repl_tap_file,
				     .file_removed = repl_tap_file_removed };
	/* nothing is being written yet: the store was just recovered */
	store_durable_end(b->store, &l->shipped_seg, &l->shipped_off);
	store_set_tap(b->store, &l->tap, l);
	l->inner = b->handler;
	l->handler = *b->handler;
	l->handler.method = repl_wrap_method;
	l->handler.content_start = repl_wrap_content_start;
	b->handler = &l->handler;
	b->cluster = c;
	c->rl = l;
	b->synced_gate = repl_gate;
	if (c->view.valid)
		repl_leader_view(l, &c->view);
	return l;
}

void repl_leader_stop(struct repl_leader *l)
{
	struct list *pos, *tmp;

	if (l->stopped)
		return;
	l->stopped = true;
	list_for_each_safe(pos, tmp, &l->sessions)
		repl_session_close(list_entry(pos, struct repl_session, link), NULL);
	if (l->b->store)
		store_set_tap(l->b->store, NULL, NULL);
}

void repl_leader_free(struct repl_leader *l)
{
	struct list *pos, *tmp;

	if (!l)
		return;
	l->stopped = true;
	list_for_each_safe(pos, tmp, &l->jobs)
	{
		struct repl_job *j = list_entry(pos, struct repl_job, link);
		repl_job_free(j);
	}
	list_for_each_safe(pos, tmp, &l->sessions)
		repl_session_free(list_entry(pos, struct repl_session, link));
	if (l->b) {
		if (l->b->store)
			store_set_tap(l->b->store, NULL, NULL);
		if (l->b->handler == &l->handler)
			l->b->handler = l->inner;
		l->b->synced_gate = NULL;
		broker_cancel_deferred(l->b, &l->unfreeze_task);
	}
	if (l->c->rl == l)
		l->c->rl = NULL;
	if (l->timer)
		event_free(l->timer);
	free(l->waits);
	free(l->frozen);
	free(l->cache);
	free(l);
}

size_t repl_leader_followers(const struct repl_leader *l, struct repl_follower_info *out,
			     size_t max)
{
	size_t n = 0;
	struct list *pos;

	list_for_each(pos, &l->sessions)
	{
		const struct repl_session *s = list_entry(pos, struct repl_session, link);
		if (n == max || s->closing || !s->name[0])
			continue;
		struct repl_follower_info *o = &out[n++];
		memset(o, 0, sizeof *o);
		snprintf(o->name, sizeof o->name, "%s", s->name);
		o->connected = true;
		o->in_sync = s->member && s->member->state == M_IN;
		o->lag_bytes = s->sent_bytes - s->acked_bytes;
		o->lag_records = s->sent_records - s->acked_records;
		o->sent_bytes = s->sent_bytes;
	}
	return n;
}

uint64_t repl_leader_sent_bytes(const struct repl_leader *l)
{
	return l->sent_bytes;
}
