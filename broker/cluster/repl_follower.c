/* broker/cluster/repl_follower.c: a follower's replication client. It runs on a thread of its
 * own with blocking sockets, so that its fsyncs never stall the loop that forwards clients.
 * The loop tells it whom to follow (repl_follower_set_target); it connects, checks the
 * leader's term against the newest it has seen (fencing: an older leader's stream is refused),
 * authenticates both ways with the shared password, compares its files with the leader's
 * MANIFEST and fetches what differs (a file whose start matches is only cut or extended, so a
 * follower that restarts fetches its tail), then applies the stream: every run of records is
 * checked by store_replica_part before it is written, batches are fsynced in groups and
 * acknowledged. Any fault (a bad record, a cut connection, a full disk) ends the session; the
 * next one starts from what is on disk. While a sync rewrites files, <data_dir>/cluster.state
 * says so, and the node does not stand for election until a sync completes. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/cluster/cluster_internal.h"
#include "broker/cluster/repl_wire.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "storage/store_replica.h"

#define FOLLOW_RETRY_MS 500
#define FOLLOW_CONNECT_MS 2000
#define FOLLOW_SYNC_BYTES (4u << 20) /* fsync and ack at least this often under a flood */
#define FOLLOW_SYNC_MS 20

struct repl_follower {
	struct cluster *c;
	struct log *log;
	char name[CLUSTER_NAME_MAX];
	char data_dir[4096];
	const char *password;
	uint64_t ttl_ms;
	struct event *lost;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	struct repl_target target;
	char identity[240];
	bool has_target, stop;
	uint64_t gen;
	int sock;
	struct repl_follower_status st;

	/* the thread's own */
	struct store_replica *rep;
	uint8_t *buf;
	size_t head, len, cap; /* unread bytes are buf[head..len) */
};

/* The manifest entry the follower plans from. */
struct follow_file {
	char name[STORE_REPLICA_NAME_MAX];
	uint64_t size;
	uint32_t crc;
};

struct follow_session {
	struct repl_follower *f;
	struct repl_target t;
	char identity[240];
	int fd;
	SSL *ssl; /* clustering.ssl: the connection's TLS, else NULL */
	uint64_t gen;
	struct follow_file *files;
	size_t file_count;
	uint64_t pending_ack, acked, unsynced_bytes, last_sync_ms, last_keepalive_ms;
	bool ping;
	uint64_t snap_bytes, snap_start_ms;
};

/* ---- status ---- */

static void follow_set(struct repl_follower *f, void (*fn)(struct repl_follower_status *, void *),
		       void *arg)
{
	pthread_mutex_lock(&f->lock);
	fn(&f->st, arg);
	pthread_mutex_unlock(&f->lock);
}

static void follow_st_streaming(struct repl_follower_status *st, void *arg)
{
	(void)arg;
	st->streaming = true;
}

static void follow_st_connected(struct repl_follower_status *st, void *arg)
{
	(void)arg;
	st->connected = true;
}

static void follow_st_acked(struct repl_follower_status *st, void *arg)
{
	st->acked_seq = *(uint64_t *)arg;
}

static void follow_save_state(struct follow_session *s, bool dirty)
{
	struct repl_follower *f = s->f;
	int64_t seen;

	pthread_mutex_lock(&f->lock);
	seen = f->st.seen_revision;
	f->st.dirty = dirty;
	pthread_mutex_unlock(&f->lock);
	if (cluster_state_save(f->data_dir, seen, dirty) != 0)
		log_warn(f->log, "clustering: cannot write %s/cluster.state: %s", f->data_dir,
			 strerror(errno));
}

/* ---- the socket ---- */

static int follow_connect(const char *host, int port, unsigned timeout_ms, int *error,
			  char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char portstr[16];
	int fd = -1, err = 0;
	socklen_t elen = sizeof err;
	struct pollfd pfd;

	snprintf(portstr, sizeof portstr, "%d", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
		snprintf(why, whylen, "cannot resolve %s", host);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)timeout_ms) != 1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err) {
			errno = err ? err : errno;
			goto fail;
		}
	}
	freeaddrinfo(ai);
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
fail:
	*error = errno;
	snprintf(why, whylen, "cannot connect to %s:%d: %s", host, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

static int follow_send(struct follow_session *s, struct repl_buf *b)
{
	size_t done = 0;

	if (b->oom)
		return -1;
	while (done < b->len) {
		ssize_t n;
		if (s->ssl) {
			int w = SSL_write(s->ssl, b->p + done, (int)(b->len - done));
			n = w > 0 ? w : -1;
		} else {
			n = send(s->fd, b->p + done, b->len - done, MSG_NOSIGNAL);
		}
		if (n < 0 && errno == EINTR && !s->ssl)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Sends a frame with no payload but seq (ACK) or a reason (FAULT, REFUSE). */
static int follow_send_simple(struct follow_session *s, enum repl_type t, uint64_t seq,
			      const char *text)
{
	struct repl_buf b = { 0 };
	size_t at = repl_frame_begin(&b, t);
	int rc;

	if (text)
		repl_buf_str(&b, text);
	else
		repl_buf_u64(&b, seq);
	repl_frame_end(&b, at, 0);
	rc = follow_send(s, &b);
	repl_buf_free(&b);
	return rc;
}

/* Reads more bytes into the buffer. 1: got some; 0: none ready (nonblocking only); -1: the
 * connection ended or timed out (why says which). */
static int follow_fill(struct follow_session *s, bool block, char *why, size_t whylen)
{
	struct repl_follower *f = s->f;
	ssize_t n;

	if (f->head > 0 && f->cap - f->len < 65536) {
		memmove(f->buf, f->buf + f->head, f->len - f->head);
		f->len -= f->head;
		f->head = 0;
	}
	if (f->cap - f->len < 65536) {
		size_t cap = f->cap ? f->cap * 2 : 1 << 20;
		uint8_t *p = realloc(f->buf, cap);
		if (!p) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		f->buf = p;
		f->cap = cap;
	}
	for (;;) {
		if (s->ssl) {
			size_t cap = f->cap - f->len < INT32_MAX ? f->cap - f->len : INT32_MAX;
			int r;
			errno = 0;
			r = SSL_read(s->ssl, f->buf + f->len, (int)cap);
			n = r > 0 ? r : SSL_get_error(s->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
			if (n < 0 && errno == 0)
				errno = ECONNRESET; /* a TLS error, not a timeout */
			break;
		}
		n = recv(s->fd, f->buf + f->len, f->cap - f->len, block ? 0 : MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n > 0) {
		f->len += (size_t)n;
		return 1;
	}
	if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0)
		snprintf(why, whylen, "the leader closed the connection");
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		snprintf(why, whylen, "the leader has been silent for a lease TTL");
	else
		snprintf(why, whylen, "%s", strerror(errno));
	return -1;
}

static void follow_consume(struct repl_follower *f, size_t n)
{
	f->head += n;
	if (f->head == f->len)
		f->head = f->len = 0;
}

/* The next frame (copied out of the buffer into *copy, which the caller frees): 1, or -1 with
 * why. With block false, 0 when no whole frame is in what was read already: the follower then
 * fsyncs and acks what it has before it waits for more, one group per batch the leader sent
 * while it wrote (the leader's group commit, mirrored). */
static int follow_frame(struct follow_session *s, bool block, struct repl_frame *fr,
			uint8_t **copy, char *why, size_t whylen)
{
	struct repl_follower *f = s->f;

	for (;;) {
		static const uint8_t none[1];
		const uint8_t *p = f->buf ? f->buf + f->head : none;
		size_t avail = f->len - f->head;
		int64_t used = repl_frame_decode(p, avail, fr);
		if (used < 0) {
			snprintf(why, whylen, "a corrupt frame on the replication stream");
			return -1;
		}
		if (used > 0) {
			*copy = malloc((size_t)used);
			if (!*copy) {
				snprintf(why, whylen, "out of memory");
				return -1;
			}
			memcpy(*copy, p, (size_t)used);
			fr->payload = *copy + (fr->payload - p);
			follow_consume(f, (size_t)used);
			return 1;
		}
		/* a frame longer than the buffer: room for it before reading */
		if (avail >= REPL_HEAD_LEN) {
			uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				       (uint32_t)p[3] << 24;
			size_t want = (size_t)len + 4 + 65536;
			if (f->head > 0 && f->cap - f->head < want) {
				memmove(f->buf, p, avail);
				f->head = 0;
				f->len = avail;
			}
			if (want > f->cap) {
				uint8_t *np = realloc(f->buf, want);
				if (!np) {
					snprintf(why, whylen, "out of memory");
					return -1;
				}
				f->buf = np;
				f->cap = want;
			}
		}
		if (!block)
			return 0; /* nothing whole in what was read: the caller syncs before it waits */
		int rc = follow_fill(s, true, why, whylen);
		if (rc <= 0)
			return rc;
	}
}

/* ---- the snapshot ---- */

struct follow_local {
	char name[STORE_REPLICA_NAME_MAX];
	uint64_t size;
	bool listed;
};

struct follow_locals {
	struct follow_local *v;
	size_t n;
};

static int follow_list_one(void *arg, const char *name, uint64_t size)
{
	struct follow_locals *l = arg;
	struct follow_local *v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -1;
	l->v = v;
	snprintf(v[l->n].name, sizeof v[l->n].name, "%s", name);
	v[l->n].size = size;
	v[l->n].listed = false;
	l->n++;
	return 0;
}

/* Compares the MANIFEST with the local files, cuts and removes what must go, and asks for the
 * rest. 0, or -1 with why. */
static int follow_plan(struct follow_session *s, const struct repl_frame *fr, char *why,
		       size_t whylen)
{
	struct repl_follower *f = s->f;
	struct follow_locals loc = { 0 };
	struct repl_reader r;
	struct repl_buf fetch = { 0 };
	uint32_t n, wanted = 0;
	bool changes = false;
	char err[512];
	int rc = -1;

	repl_reader_init(&r, fr);
	n = repl_read_u32(&r);
	if (n > 1u << 20) {
		snprintf(why, whylen, "a manifest of %u files", n);
		return -1;
	}
	s->files = calloc(n ? n : 1, sizeof *s->files);
	if (!s->files) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		repl_read_str(&r, s->files[i].name, sizeof s->files[i].name);
		s->files[i].size = repl_read_u64(&r);
		s->files[i].crc = repl_read_u32(&r);
		if (!store_replica_name_ok(s->files[i].name))
			r.bad = true;
	}
	if (r.bad) {
		snprintf(why, whylen, "a malformed manifest");
		goto out;
	}
	s->file_count = n;
	if (store_replica_list(f->data_dir, follow_list_one, &loc) != 0) {
		snprintf(why, whylen, "cannot list %.200s", f->data_dir);
		goto out;
	}
	size_t at = repl_frame_begin(&fetch, REPL_FETCH);
	repl_buf_u32(&fetch, 0); /* the count, filled in below */
	for (size_t i = 0; i < s->file_count; i++) {
		const struct follow_file *m = &s->files[i];
		struct follow_local *have = NULL;
		uint32_t crc;
		uint64_t now = time_now_ms();
		if (now - s->last_keepalive_ms >= 1000) {
			/* checksumming a large store takes a while: the leader hears from us */
			s->last_keepalive_ms = now;
			follow_send_simple(s, REPL_ACK, 0, NULL);
		}
		for (size_t k = 0; k < loc.n && !have; k++)
			if (strcmp(loc.v[k].name, m->name) == 0)
				have = &loc.v[k];
		if (have)
			have->listed = true;
		if (have && have->size >= m->size &&
		    store_replica_crc(f->data_dir, m->name, m->size, &crc) == 0 && crc == m->crc) {
			if (have->size > m->size) {
				/* records the leader never had (this node led before, or followed a
				 * leader that lost them): they go */
				if (!changes)
					follow_save_state(s, true);
				changes = true;
				log_info(f->log, "clustering: cutting %s from %llu to the leader's %llu bytes",
					 m->name, (unsigned long long)have->size,
					 (unsigned long long)m->size);
				if (store_replica_truncate(f->rep, m->name, m->size, err,
							   sizeof err) != 0) {
					snprintf(why, whylen, "%s", err);
					goto out;
				}
			}
			continue;
		}
		uint64_t from = 0;
		crc = 0;
		if (have && have->size < m->size &&
		    store_replica_crc(f->data_dir, m->name, have->size, &crc) == 0)
			from = have->size; /* the leader checks that this prefix is its own */
		if (!changes)
			follow_save_state(s, true);
		changes = true;
		repl_buf_str(&fetch, m->name);
		repl_buf_u64(&fetch, from);
		repl_buf_u32(&fetch, crc);
		wanted++;
	}
	for (size_t k = 0; k < loc.n; k++) {
		if (loc.v[k].listed)
			continue;
		if (strcmp(loc.v[k].name, "definitions.json") == 0)
			continue; /* kept until the leader's replaces it */
		if (!changes)
			follow_save_state(s, true);
		changes = true;
		log_info(f->log, "clustering: removing %s, which the leader does not have", loc.v[k].name);
		if (store_replica_remove(f->rep, loc.v[k].name, err, sizeof err) != 0) {
			snprintf(why, whylen, "%s", err);
			goto out;
		}
	}
	if (!fetch.oom) {
		uint8_t *count = fetch.p + at + REPL_HEAD_LEN;
		count[0] = (uint8_t)wanted;
		count[1] = (uint8_t)(wanted >> 8);
		count[2] = (uint8_t)(wanted >> 16);
		count[3] = (uint8_t)(wanted >> 24);
	}
	repl_frame_end(&fetch, at, 0);
	if (store_replica_sync(f->rep, err, sizeof err) != 0) {
		snprintf(why, whylen, "%s", err);
		goto out;
	}
	log_info(f->log, "clustering: sync from leader %s starts: %u of %zu files to fetch", s->t.leader,
		 wanted, s->file_count);
	if (follow_send(s, &fetch) != 0) {
		snprintf(why, whylen, "the connection broke");
		goto out;
	}
	rc = 0;
out:
	repl_buf_free(&fetch);
	free(loc.v);
	return rc;
}

static const struct follow_file *follow_manifest_find(const struct follow_session *s,
						      const char *name)
{
	for (size_t i = 0; i < s->file_count; i++)
		if (strcmp(s->files[i].name, name) == 0)
			return &s->files[i];
	return NULL;
}

/* A FILE frame: its raw bytes follow. */
static int follow_file(struct follow_session *s, const struct repl_frame *fr, char *why,
		       size_t whylen)
{
	struct repl_follower *f = s->f;
	struct repl_reader r;
	char name[STORE_REPLICA_NAME_MAX], err[512];
	uint64_t from, len, left;
	const struct follow_file *m;

	repl_reader_init(&r, fr);
	repl_read_str(&r, name, sizeof name);
	from = repl_read_u64(&r);
	len = repl_read_u64(&r);
	m = r.bad ? NULL : follow_manifest_find(s, name);
	if (!m || from + len != m->size) {
		snprintf(why, whylen, "a FILE frame that does not match the manifest");
		return -1;
	}
	if (store_replica_file_begin(f->rep, name, from, err, sizeof err) != 0)
		goto fail;
	left = len;
	while (left > 0) {
		if (f->len == f->head && follow_fill(s, true, why, whylen) < 0)
			return -1;
		size_t avail = f->len - f->head;
		size_t n = avail < left ? avail : (size_t)left;
		if (store_replica_file_write(f->rep, f->buf + f->head, n, err, sizeof err) != 0)
			goto fail;
		follow_consume(f, n);
		left -= n;
		s->snap_bytes += n;
		uint64_t now = time_now_ms();
		if (now - s->last_keepalive_ms >= 1000) {
			/* the leader hears from us during a long sync */
			s->last_keepalive_ms = now;
			follow_send_simple(s, REPL_ACK, 0, NULL);
		}
	}
	if (store_replica_file_end(f->rep, m->size, m->crc, err, sizeof err) != 0)
		goto fail;
	return 0;
fail:
	snprintf(why, whylen, "%s", err);
	return errno == ENOSPC ? -2 : -1;
}

/* ---- the stream ---- */

static int follow_sync_ack(struct follow_session *s, char *why, size_t whylen)
{
	struct repl_follower *f = s->f;
	char err[512];

	if (s->pending_ack <= s->acked && !s->ping)
		return 0;
	if (store_replica_sync(f->rep, err, sizeof err) != 0) {
		snprintf(why, whylen, "%s", err);
		return errno == ENOSPC ? -2 : -1;
	}
	s->unsynced_bytes = 0;
	s->last_sync_ms = time_now_ms();
	s->ping = false;
	if (s->pending_ack > s->acked) {
		s->acked = s->pending_ack;
		follow_set(f, follow_st_acked, &s->acked);
	}
	if (follow_send_simple(s, REPL_ACK, s->acked, NULL) != 0) {
		snprintf(why, whylen, "the connection broke");
		return -1;
	}
	return 0;
}

/* Applies one stream frame. 0; -1 (why) ends the session; -2 is a full disk. */
static int follow_apply(struct follow_session *s, const struct repl_frame *fr, char *why,
			size_t whylen)
{
	struct repl_follower *f = s->f;
	struct repl_reader r;
	char err[512];
	int rc = 0;

	repl_reader_init(&r, fr);
	switch (fr->type) {
	case REPL_PART: {
		uint64_t seq = repl_read_u64(&r);
		uint32_t seg = repl_read_u32(&r);
		uint64_t off = repl_read_u64(&r);
		size_t n;
		const uint8_t *data = repl_read_rest(&r, &n);
		(void)seq;
		if (r.bad)
			break;
		rc = store_replica_part(f->rep, seg, off, data, n, err, sizeof err);
		s->unsynced_bytes += n;
		pthread_mutex_lock(&f->lock);
		f->st.bytes += n;
		pthread_mutex_unlock(&f->lock);
		break;
	}
	case REPL_SEQ_END: {
		uint64_t seq = repl_read_u64(&r);
		uint64_t records = repl_read_u64(&r);
		if (!r.bad && seq > s->pending_ack)
			s->pending_ack = seq;
		pthread_mutex_lock(&f->lock);
		f->st.records += records;
		pthread_mutex_unlock(&f->lock);
		break;
	}
	case REPL_DELETE: {
		uint64_t seq = repl_read_u64(&r);
		uint32_t seg = repl_read_u32(&r);
		if (r.bad)
			break;
		rc = store_replica_delete_segment(f->rep, seg, err, sizeof err);
		if (seq > s->pending_ack)
			s->pending_ack = seq;
		break;
	}
	case REPL_DEFS: {
		uint64_t seq = repl_read_u64(&r);
		size_t n;
		const uint8_t *doc = repl_read_rest(&r, &n);
		if (r.bad)
			break;
		rc = store_replica_definitions(f->rep, (const char *)doc, n, err, sizeof err);
		if (seq > s->pending_ack)
			s->pending_ack = seq;
		break;
	}
	case REPL_FILEPART: {
		char name[STORE_REPLICA_NAME_MAX];
		uint64_t seq = repl_read_u64(&r);
		repl_read_str(&r, name, sizeof name);
		uint64_t off = repl_read_u64(&r);
		size_t n;
		const uint8_t *data = repl_read_rest(&r, &n);
		(void)seq; /* acked with its batch's SEQ_END */
		if (r.bad)
			break;
		rc = store_replica_file_part(f->rep, name, off, data, n, err, sizeof err);
		s->unsynced_bytes += n;
		break;
	}
	case REPL_FILEGONE: {
		char name[STORE_REPLICA_NAME_MAX];
		uint64_t seq = repl_read_u64(&r);
		repl_read_str(&r, name, sizeof name);
		if (r.bad)
			break;
		rc = store_replica_file_removed(f->rep, name, err, sizeof err);
		if (seq > s->pending_ack)
			s->pending_ack = seq;
		break;
	}
	case REPL_PING:
		repl_read_u64(&r);
		s->ping = true;
		break;
	case REPL_REFUSE:
		repl_read_str(&r, err, sizeof err);
		snprintf(why, whylen, "the leader ended the stream: %s", err);
		return -1;
	default:
		snprintf(why, whylen, "an unexpected frame (type %d)", (int)fr->type);
		return -1;
	}
	if (r.bad) {
		snprintf(why, whylen, "a malformed frame (type %d)", (int)fr->type);
		return -1;
	}
	if (rc != 0) {
		snprintf(why, whylen, "%s", err);
		return rc == STORE_REPLICA_IO && errno == ENOSPC ? -2 : -1;
	}
	return 0;
}

/* ---- one session ---- */

static int follow_handshake(struct follow_session *s, bool *authenticated, char *why,
			    size_t whylen)
{
	struct repl_follower *f = s->f;
	struct repl_frame fr;
	struct repl_reader r;
	uint8_t *copy = NULL, lnonce[REPL_NONCE_LEN], mynonce[REPL_NONCE_LEN], mac[REPL_MAC_LEN];
	char leader[CLUSTER_NAME_MAX], cluster[256];
	int64_t revision, seen;
	struct repl_buf b = { 0 };
	int rc = -1;

	if (follow_frame(s, true, &fr, &copy, why, whylen) < 0)
		return -1;
	repl_reader_init(&r, &fr);
	if (fr.type == REPL_NOT_LEADER) {
		repl_read_str(&r, leader, sizeof leader);
		snprintf(why, whylen, "%s:%d does not lead%s%s", s->t.host, s->t.port,
			 leader[0] ? " (it follows " : "", leader[0] ? leader : "");
		if (leader[0])
			strncat(why, ")", whylen - strlen(why) - 1);
		goto out;
	}
	if (fr.type != REPL_HELLO) {
		snprintf(why, whylen, "the leader did not say HELLO");
		goto out;
	}
	uint32_t version = repl_read_u32(&r);
	revision = (int64_t)repl_read_u64(&r);
	const uint8_t *np = repl_read_bytes(&r, REPL_NONCE_LEN);
	if (np)
		memcpy(lnonce, np, REPL_NONCE_LEN);
	repl_read_str(&r, leader, sizeof leader);
	repl_read_str(&r, cluster, sizeof cluster);
	if (r.bad || version != REPL_VERSION) {
		snprintf(why, whylen, "a HELLO this node does not understand (version %u)", version);
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	seen = f->st.seen_revision;
	pthread_mutex_unlock(&f->lock);
	if (revision < seen) {
		snprintf(why, whylen, "rejecting replication from %s: its leader revision %lld is "
			 "older than %lld, the newest this node has seen", leader,
			 (long long)revision, (long long)seen);
		log_warn(f->log, "clustering: %s", why);
		follow_send_simple(s, REPL_REFUSE, 0, why);
		goto out;
	}
	if (strcmp(cluster, s->identity) != 0) {
		snprintf(why, whylen, "the leader at %.100s:%d belongs to cluster %.100s, not %.100s", s->t.host,
			 s->t.port, cluster, s->identity);
		log_warn(f->log, "clustering: refusing to follow: %s", why);
		follow_send_simple(s, REPL_REFUSE, 0, why);
		goto out;
	}
	repl_nonce(mynonce);
	repl_mac(f->password, "follower", lnonce, s->identity, f->name, mac);
	size_t at = repl_frame_begin(&b, REPL_AUTH);
	repl_buf_bytes(&b, mac, REPL_MAC_LEN);
	repl_buf_bytes(&b, mynonce, REPL_NONCE_LEN);
	repl_buf_u64(&b, (uint64_t)seen);
	repl_buf_str(&b, f->name);
	repl_buf_str(&b, s->identity);
	repl_frame_end(&b, at, 0);
	if (follow_send(s, &b) != 0) {
		snprintf(why, whylen, "the connection broke");
		goto out;
	}
	free(copy);
	copy = NULL;
	if (follow_frame(s, true, &fr, &copy, why, whylen) < 0)
		goto out;
	repl_reader_init(&r, &fr);
	if (fr.type == REPL_REFUSE) {
		repl_read_str(&r, cluster, sizeof cluster);
		snprintf(why, whylen, "leader %s refused this node: %s", leader, cluster);
		log_warn(f->log, "clustering: %s", why);
		goto out;
	}
	const uint8_t *lmac = fr.type == REPL_WELCOME ? repl_read_bytes(&r, REPL_MAC_LEN) : NULL;
	repl_mac(f->password, "leader", mynonce, s->identity, leader, mac);
	if (!lmac || !repl_mac_equal(lmac, mac)) {
		snprintf(why, whylen, "the leader at %s:%d does not know clustering.password",
			 s->t.host, s->t.port);
		log_warn(f->log, "clustering: refusing to follow: %s", why);
		goto out;
	}
	s->acked = s->pending_ack = repl_read_u64(&r); /* the seq the stream starts after */
	if (r.bad) {
		snprintf(why, whylen, "a malformed WELCOME");
		goto out;
	}
	*authenticated = true;
	if (revision > seen) {
		pthread_mutex_lock(&f->lock);
		f->st.seen_revision = revision;
		pthread_mutex_unlock(&f->lock);
		follow_save_state(s, f->st.dirty);
	}
	follow_set(f, follow_st_connected, NULL);
	rc = 0;
out:
	repl_buf_free(&b);
	free(copy);
	return rc;
}

/* Runs one session to its end; why says how it ended. -2: a full disk. */
static int follow_session_run(struct follow_session *s, bool *authenticated, char *why,
			      size_t whylen)
{
	struct repl_follower *f = s->f;
	struct repl_frame fr;
	uint8_t *copy = NULL;
	char err[512];
	int rc;
	bool streaming = false;
	struct timeval tv = { (time_t)(f->ttl_ms / 1000), (suseconds_t)(f->ttl_ms % 1000) * 1000 };
	int one = 1;

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (f->c->tls_client) {
		/* clustering.ssl: the leader's certificate must chain to ssl_options.cacertfile;
		 * the password's HMAC then proves it is a node of this cluster */
		s->ssl = SSL_new(f->c->tls_client);
		if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1 || SSL_connect(s->ssl) != 1) {
			unsigned long e = ERR_get_error();
			char detail[256];
			ERR_error_string_n(e, detail, sizeof detail);
			snprintf(why, whylen, "TLS handshake with %s:%d failed: %s", s->t.host,
				 s->t.port, e ? detail : strerror(errno));
			ERR_clear_error();
			return -1;
		}
	}
	f->head = f->len = 0;
	if (follow_handshake(s, authenticated, why, whylen) != 0)
		return -1;
	for (;;) {
		if (follow_frame(s, true, &fr, &copy, why, whylen) < 0)
			return -1;
		if (fr.type != REPL_PING)
			break;
		/* the leader is still checksumming its files: say we are here too */
		free(copy);
		copy = NULL;
		if (follow_send_simple(s, REPL_ACK, 0, NULL) != 0) {
			snprintf(why, whylen, "the connection broke");
			return -1;
		}
	}
	if (fr.type != REPL_MANIFEST) {
		free(copy);
		snprintf(why, whylen, "no MANIFEST from the leader");
		return -1;
	}
	s->snap_start_ms = time_now_ms();
	s->last_keepalive_ms = s->snap_start_ms;
	rc = follow_plan(s, &fr, why, whylen);
	free(copy);
	if (rc != 0)
		return rc;
	for (;;) {
		/* take every whole frame there is; sync and ack when none is left (or often enough
		 * under a flood) */
		rc = follow_frame(s, false, &fr, &copy, why, whylen);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (streaming && (rc = follow_sync_ack(s, why, whylen)) != 0)
				return rc;
			uint64_t now = time_now_ms();
			if (!streaming && now - s->last_keepalive_ms >= 1000) {
				s->last_keepalive_ms = now;
				follow_send_simple(s, REPL_ACK, 0, NULL);
			}
			if (follow_frame(s, true, &fr, &copy, why, whylen) < 0)
				return -1;
		}
		if (fr.type == REPL_FILE && !streaming) {
			rc = follow_file(s, &fr, why, whylen);
		} else if (fr.type == REPL_SNAP_END && !streaming) {
			rc = store_replica_sync(f->rep, err, sizeof err);
			if (rc != 0) {
				snprintf(why, whylen, "%s", err);
				rc = errno == ENOSPC ? -2 : -1;
			} else {
				follow_save_state(s, false);
				streaming = true;
				follow_set(f, follow_st_streaming, NULL);
				log_info(f->log, "clustering: sync from leader %s done: %llu bytes of files in "
					 "%llu ms; following its stream", s->t.leader,
					 (unsigned long long)s->snap_bytes,
					 (unsigned long long)(time_now_ms() - s->snap_start_ms));
				rc = follow_send_simple(s, REPL_SYNCED, 0, "") == 0 ? 0 : -1;
				if (rc)
					snprintf(why, whylen, "the connection broke");
			}
		} else if (streaming) {
			rc = follow_apply(s, &fr, why, whylen);
		} else if (fr.type == REPL_PING) {
			rc = 0; /* the sync's keepalives go out on their own (follow_file) */
		} else if (fr.type == REPL_REFUSE) {
			struct repl_reader r;
			repl_reader_init(&r, &fr);
			repl_read_str(&r, err, sizeof err);
			snprintf(why, whylen, "the leader ended the sync: %s", err);
			rc = -1;
		} else {
			snprintf(why, whylen, "an unexpected frame (type %d) during the sync",
				 (int)fr.type);
			rc = -1;
		}
		free(copy);
		copy = NULL;
		if (rc != 0)
			return rc;
		if (streaming && (s->unsynced_bytes >= FOLLOW_SYNC_BYTES ||
				  (s->pending_ack > s->acked &&
				   time_now_ms() - s->last_sync_ms >= FOLLOW_SYNC_MS)) &&
		    (rc = follow_sync_ack(s, why, whylen)) != 0)
			return rc;
	}
}

static void *follow_main(void *arg)
{
	struct repl_follower *f = arg;
	char why[600], err[512], last[600] = "";

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		if (!f->has_target) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
			continue;
		}
		struct follow_session s = { .f = f, .t = f->target, .gen = f->gen, .fd = -1 };
		snprintf(s.identity, sizeof s.identity, "%s", f->identity);
		pthread_mutex_unlock(&f->lock);

		bool authenticated = false;
		int rc = -1, connect_error = 0;
		if (!f->rep)
			f->rep = store_replica_open(f->data_dir, false, err, sizeof err);
		if (!f->rep) {
			snprintf(why, sizeof why, "%s", err);
		} else {
			s.fd = follow_connect(s.t.host, s.t.port, FOLLOW_CONNECT_MS, &connect_error,
					      why, sizeof why);
		}
		pthread_mutex_lock(&f->lock);
		bool go = s.fd >= 0 && !f->stop && s.gen == f->gen;
		if (go)
			f->sock = s.fd;
		pthread_mutex_unlock(&f->lock);
		if (go)
			rc = follow_session_run(&s, &authenticated, why, sizeof why);
		pthread_mutex_lock(&f->lock);
		f->sock = -1;
		f->st.connected = false;
		f->st.streaming = false;
		bool stopping = f->stop || s.gen != f->gen;
		pthread_mutex_unlock(&f->lock);
		if (s.ssl) {
			SSL_shutdown(s.ssl);
			SSL_free(s.ssl);
		}
		ERR_clear_error();
		if (s.fd >= 0)
			close(s.fd);
		free(s.files);
		/* a session that fails the same way again is logged once */
		if (!stopping && (authenticated || strcmp(why, last) != 0))
			log_warn(f->log, "clustering: replication from leader %s: %s%s", s.t.leader, why,
				 rc == -2 ? " (disk full: this node is out of the in-sync set until "
					    "space returns)" : "");
		snprintf(last, sizeof last, "%s", authenticated ? "" : why);
		/* the loop checks whether the leader's process is gone: after a stream ends, and
		 * when its port refuses us (the first check can come before a killed process's
		 * listening socket is closed) */
		if ((authenticated || connect_error == ECONNREFUSED) && !stopping && f->lost)
			event_active(f->lost, EV_TIMEOUT, 0);
		pthread_mutex_lock(&f->lock);
		if (!f->stop && s.gen == f->gen) {
			struct timespec ts;
			uint64_t wait = rc == -2 ? 2000 : FOLLOW_RETRY_MS;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		}
	}
	pthread_mutex_unlock(&f->lock);
	store_replica_close(f->rep);
	f->rep = NULL;
	return NULL;
}

/* ---- public ---- */

struct repl_follower *repl_follower_new(struct cluster *c, struct event *lost)
{
	struct repl_follower *f = calloc(1, sizeof *f);

	if (!f) {
		log_error(c->log, "out of memory");
		return NULL;
	}
	f->c = c;
	f->log = c->log;
	f->lost = lost;
	f->sock = -1;
	snprintf(f->name, sizeof f->name, "%s", c->name);
	snprintf(f->data_dir, sizeof f->data_dir, "%s", c->data_dir);
	f->password = c->cfg->cluster_password;
	f->ttl_ms = c->lease_ttl_ms;
	f->st.seen_revision = c->seen_revision;
	f->st.dirty = c->data_dirty;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
		log_error(f->log, "clustering: cannot start the replication thread");
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->cond);
		free(f);
		return NULL;
	}
	f->started = true;
	return f;
}

void repl_follower_set_target(struct repl_follower *f, const struct repl_target *t)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	snprintf(f->identity, sizeof f->identity, "%s", f->c->identity);
	if (!t) {
		f->has_target = false;
	} else {
		f->target = *t;
		f->has_target = true;
	}
	f->gen++;
	if (f->sock >= 0)
		shutdown(f->sock, SHUT_RDWR);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void repl_follower_status(struct repl_follower *f, struct repl_follower_status *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	pthread_mutex_unlock(&f->lock);
}

void repl_follower_free(struct repl_follower *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	if (f->sock >= 0)
		shutdown(f->sock, SHUT_RDWR);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	/* what the thread decided is what the node knows now */
	f->c->seen_revision = f->st.seen_revision > f->c->seen_revision ? f->st.seen_revision :
									   f->c->seen_revision;
	f->c->data_dirty = f->st.dirty;
	free(f->buf);
	free(f);
}
