/* broker/cluster/repl_snapshot.c: what a follower that joins is sent before the live stream
 * (repl_leader.c says when): a MANIFEST of the leader's files as they were at WELCOME (log
 * segments up to where the log's bytes on disk ended, the definitions, the streams' files at
 * their sizes then) with their CRC32Cs, computed on worker threads and cached for files that
 * only grow; then the files or tails the follower FETCHes, by sendfile (FILE), and SNAP_END. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/cluster/repl_leader_internal.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "storage/store_record.h"

/* ---- CRC workers ---- */

static void *repl_job_main(void *arg)
{
	struct repl_job *j = arg;

	for (size_t i = 0; i < j->count; i++)
		j->items[i].rc = store_replica_fd_crc(j->items[i].fd, j->items[i].len,
						      &j->items[i].crc);
	event_active(j->done, EV_TIMEOUT, 0);
	return NULL;
}

void repl_job_free(struct repl_job *j)
{
	pthread_join(j->thread, NULL);
	list_remove(&j->link);
	event_free(j->done);
	free(j->items);
	free(j);
}

static void repl_on_job_done(evutil_socket_t fd, short what, void *arg)
{
	struct repl_job *j = arg;
	struct repl_session *s = j->s;

	(void)fd, (void)what;
	if (s) {
		s->job = NULL;
		j->finish(s, j);
	}
	repl_job_free(j);
}

/* Runs finish(s, j) on the loop once the items' CRCs are known. */
static int repl_job_start(struct repl_session *s, struct repl_job *j,
			  void (*finish)(struct repl_session *, struct repl_job *))
{
	j->l = s->l;
	j->s = s;
	j->finish = finish;
	j->done = event_new(s->l->c->base, -1, 0, repl_on_job_done, j);
	if (!j->done)
		return -1;
	list_append(&s->l->jobs, &j->link);
	if (pthread_create(&j->thread, NULL, repl_job_main, j) != 0) {
		list_remove(&j->link);
		event_free(j->done);
		return -1;
	}
	s->job = j;
	return 0;
}

/* ---- the snapshot ---- */

void repl_manifest_free(struct repl_manifest *mf)
{
	for (size_t i = 0; i < mf->count; i++) {
		if (mf->files[i].fd >= 0)
			close(mf->files[i].fd);
		free(mf->files[i].mem);
	}
	free(mf->files);
	mf->files = NULL;
	mf->count = 0;
}

struct repl_list_ctx {
	struct repl_leader *l;
	const struct repl_session *s;
	struct repl_manifest *mf;
	uint32_t end_seg;
	uint64_t end_off;
	bool oom;
};

static int repl_manifest_add(void *arg, const char *name, uint64_t size)
{
	struct repl_list_ctx *x = arg;
	struct repl_file *f, *files;
	char path[4400];

	if (strncmp(name, "streams/", 8) == 0) {
		/* as it was when the follower's stream started: later bytes are in its backlog */
		const struct repl_session *s = x->s;
		size_t i;
		for (i = 0; i < s->stream_count; i++)
			if (strcmp(s->streams[i].name, name) == 0)
				break;
		if (i == s->stream_count)
			return 0; /* created since: the stream carries it */
		if (size < s->streams[i].size)
			return 0; /* removed and made again meanwhile: the stream carries it */
		size = s->streams[i].size;
	} else if (strncmp(name, "msgs/", 5) == 0) {
		uint32_t seg = (uint32_t)strtoul(name + 5, NULL, 10);
		if (seg > x->end_seg || (seg == x->end_seg && x->end_off == 0))
			return 0; /* only in the stream */
		if (seg == x->end_seg)
			size = x->end_off;
	}
	files = realloc(x->mf->files, (x->mf->count + 1) * sizeof *files);
	if (!files) {
		x->oom = true;
		return -1;
	}
	x->mf->files = files;
	f = &files[x->mf->count];
	memset(f, 0, sizeof *f);
	f->fd = -1;
	snprintf(f->name, sizeof f->name, "%s", name);
	f->size = size;
	snprintf(path, sizeof path, "%s/%s", x->l->c->data_dir, name);
	if (strcmp(name, "definitions.json") == 0) {
		/* its content now: the stream carries every later save */
		FILE *fp = fopen(path, "rb");
		size_t cap = size + 4096, n = 0;
		f->mem = fp ? malloc(cap) : NULL;
		while (f->mem) {
			n += fread(f->mem + n, 1, cap - n, fp);
			if (n < cap)
				break;
			char *more = realloc(f->mem, cap *= 2);
			if (!more) {
				free(f->mem);
				f->mem = NULL;
			} else {
				f->mem = more;
			}
		}
		if (fp)
			fclose(fp);
		if (!f->mem) {
			x->oom = fp != NULL;
			return fp ? -1 : 0;
		}
		f->size = n;
		f->crc = store_record_crc32c(0, f->mem, n);
		f->crc_known = true;
	} else {
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			return 0; /* deleted meanwhile: nothing in it was live */
		for (size_t i = 0; i < x->l->cache_count; i++)
			if (x->l->cache[i].size == size && strcmp(x->l->cache[i].name, name) == 0) {
				f->crc = x->l->cache[i].crc;
				f->crc_known = true;
			}
	}
	x->mf->count++;
	return 0;
}

static void repl_send_manifest(struct repl_session *s, struct repl_job *j)
{
	struct repl_leader *l = s->l;
	struct repl_buf b = { 0 };
	size_t k = 0;

	for (size_t i = 0; i < s->mf.count; i++) {
		struct repl_file *f = &s->mf.files[i];
		if (f->crc_known)
			continue;
		if (!j || k >= j->count || j->items[k].rc != 0) {
			repl_session_close(s, "cannot read its own data to checksum it");
			return;
		}
		f->crc = j->items[k++].crc;
		f->crc_known = true;
		/* segments before the head never change again, a stream's files only grow:
		 * remember their CRCs */
		bool log = strncmp(f->name, "msgs/", 5) == 0;
		bool keep = log ? (uint32_t)strtoul(f->name + 5, NULL, 10) < l->head_seg :
				  strncmp(f->name, "streams/", 8) == 0 &&
					  s->mf.removals == l->streams_removed;
		if (keep && l->cache_count < 4096) {
			if (l->cache_count == l->cache_cap) {
				size_t cap = l->cache_cap ? l->cache_cap * 2 : 16;
				struct repl_crc_cache *cc = realloc(l->cache, cap * sizeof *cc);
				if (cc) {
					l->cache = cc;
					l->cache_cap = cap;
				}
			}
			if (l->cache_count < l->cache_cap) {
				struct repl_crc_cache *cc = &l->cache[l->cache_count++];
				snprintf(cc->name, sizeof cc->name, "%s", f->name);
				cc->size = f->size;
				cc->crc = f->crc;
			}
		}
	}
	size_t at = repl_frame_begin(&b, REPL_MANIFEST);
	repl_buf_u32(&b, (uint32_t)s->mf.count);
	for (size_t i = 0; i < s->mf.count; i++) {
		repl_buf_str(&b, s->mf.files[i].name);
		repl_buf_u64(&b, s->mf.files[i].size);
		repl_buf_u32(&b, s->mf.files[i].crc);
	}
	repl_frame_end(&b, at, 0);
	repl_send(s, &b);
	repl_buf_free(&b);
	s->state = RS_FETCH;
}

/* After AUTH: the stream starts for this follower now; the files describe everything before. */
/* The files, once every byte shipped before this follower's stream started is on disk. */
static void repl_build_manifest(struct repl_session *s)
{
	struct repl_leader *l = s->l;
	struct repl_list_ctx x = { .l = l, .s = s, .mf = &s->mf, .end_seg = s->mf_seg,
				   .end_off = s->mf_off };
	struct repl_job *j;
	size_t need = 0;
	uint32_t seg;
	uint64_t off;

	store_durable_end(l->b->store, &seg, &off);
	if (seg < s->mf_seg || (seg == s->mf_seg && off < s->mf_off))
		return; /* the batch being written: the timer and the next completion look again */
	if (x.end_seg > l->head_seg)
		l->head_seg = x.end_seg;
	s->mf.removals = l->streams_removed;
	if (store_replica_list(l->c->data_dir, repl_manifest_add, &x) != 0) {
		repl_session_close(s, x.oom ? "out of memory" : "cannot list its data directory");
		return;
	}
	s->state = RS_MANIFEST;
	for (size_t i = 0; i < s->mf.count; i++)
		need += !s->mf.files[i].crc_known;
	if (need == 0) {
		repl_send_manifest(s, NULL);
		return;
	}
	j = calloc(1, sizeof *j);
	if (j)
		j->items = calloc(need, sizeof *j->items);
	if (!j || !j->items) {
		free(j);
		repl_session_close(s, "out of memory");
		return;
	}
	for (size_t i = 0; i < s->mf.count; i++) {
		if (s->mf.files[i].crc_known)
			continue;
		j->items[j->count].fd = s->mf.files[i].fd;
		j->items[j->count++].len = s->mf.files[i].size;
	}
	if (repl_job_start(s, j, repl_send_manifest) != 0) {
		free(j->items);
		free(j);
		repl_session_close(s, "cannot start a thread");
	}
}

static void repl_send_file(struct repl_session *s, struct repl_file *f, uint64_t from)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	struct repl_buf b = { 0 };
	uint64_t len = f->size - from;

	size_t at = repl_frame_begin(&b, REPL_FILE);
	repl_buf_str(&b, f->name);
	repl_buf_u64(&b, from);
	repl_buf_u64(&b, len);
	repl_frame_end(&b, at, 0);
	repl_send(s, &b);
	repl_buf_free(&b);
	if (len == 0)
		return;
	if (f->mem) {
		evbuffer_add(out, f->mem + from, (size_t)len);
		return;
	}
	int fd = dup(f->fd);
	struct evbuffer_file_segment *seg =
		fd >= 0 ? evbuffer_file_segment_new(fd, (ev_off_t)from, (ev_off_t)len,
						    EVBUF_FS_CLOSE_ON_FREE) :
			  NULL;
	if (!seg || evbuffer_add_file_segment(out, seg, 0, (ev_off_t)len) != 0) {
		if (seg)
			evbuffer_file_segment_free(seg);
		else if (fd >= 0)
			close(fd);
		repl_session_close(s, "cannot send a file");
		return;
	}
	evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
}

/* After AUTH: the stream starts for this follower now; the files will describe everything
 * shipped before. */
static int repl_stream_size(void *arg, const char *name, uint64_t size)
{
	struct repl_session *s = arg;
	struct repl_sized *v;

	if (strncmp(name, "streams/", 8) != 0)
		return 0;
	v = realloc(s->streams, (s->stream_count + 1) * sizeof *v);
	if (!v)
		return -1;
	s->streams = v;
	snprintf(v[s->stream_count].name, sizeof v[0].name, "%s", name);
	v[s->stream_count++].size = size;
	return 0;
}

void repl_start_snapshot(struct repl_session *s)
{
	struct repl_leader *l = s->l;

	if (store_replica_list(l->c->data_dir, repl_stream_size, s) != 0) {
		repl_session_close(s, "cannot list its streams' files");
		return;
	}
	s->registered = true;
	s->mf_seg = l->shipped_seg;
	s->mf_off = l->shipped_off;
	s->state = RS_DISK;
	repl_build_manifest(s);
}

/* A batch completed (or a second passed): sessions waiting for the disk may go on. */
void repl_disk_moved(struct repl_leader *l)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, &l->sessions)
	{
		struct repl_session *s = list_entry(pos, struct repl_session, link);
		if (s->state == RS_DISK && !s->closing)
			repl_build_manifest(s);
	}
}

/* The prefixes are checked: send what was asked, then what was queued meanwhile. */
static void repl_send_files(struct repl_session *s, struct repl_job *j)
{
	struct repl_buf b = { 0 };
	uint64_t bytes = 0;
	size_t files = 0, k = 0;

	for (size_t i = 0; i < s->mf.count && !s->closing; i++) {
		struct repl_file *f = &s->mf.files[i];
		uint64_t from = 0;
		if (!f->wanted)
			continue;
		if (f->from > 0) {
			bool same = f->mem ? store_record_crc32c(0, f->mem, f->from) == f->prefix_crc :
					     j && k < j->count && j->items[k].rc == 0 &&
						     j->items[k].crc == f->prefix_crc;
			if (!f->mem)
				k++;
			from = same ? f->from : 0;
		}
		repl_send_file(s, f, from);
		bytes += f->size - from;
		files++;
	}
	if (s->closing)
		return;
	size_t at = repl_frame_begin(&b, REPL_SNAP_END);
	repl_frame_end(&b, at, 0);
	repl_send(s, &b);
	repl_buf_free(&b);
	log_info(s->l->c->log, "clustering: sync of follower %s: %zu files, %llu bytes to send, then %zu bytes "
		 "of records written meanwhile", s->name, files, (unsigned long long)bytes,
		 evbuffer_get_length(s->backlog));
	evbuffer_add_buffer(bufferevent_get_output(s->bev), s->backlog);
	s->state = RS_STREAM;
}

int repl_on_fetch(struct repl_session *s, const struct repl_frame *fr)
{
	struct repl_reader r;
	uint32_t n;
	size_t need = 0;
	struct repl_job *j;

	repl_reader_init(&r, fr);
	n = repl_read_u32(&r);
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		char name[STORE_REPLICA_NAME_MAX];
		repl_read_str(&r, name, sizeof name);
		uint64_t from = repl_read_u64(&r);
		uint32_t crc = repl_read_u32(&r);
		for (size_t k = 0; k < s->mf.count; k++) {
			struct repl_file *f = &s->mf.files[k];
			if (strcmp(f->name, name) != 0)
				continue;
			f->wanted = true;
			f->from = from <= f->size ? from : 0;
			f->prefix_crc = crc;
		}
	}
	if (r.bad)
		return -1;
	for (size_t k = 0; k < s->mf.count; k++)
		need += s->mf.files[k].wanted && s->mf.files[k].from > 0 && !s->mf.files[k].mem;
	if (need == 0) {
		repl_send_files(s, NULL);
		return 0;
	}
	j = calloc(1, sizeof *j);
	if (j)
		j->items = calloc(need, sizeof *j->items);
	if (!j || !j->items) {
		free(j);
		return -1;
	}
	for (size_t k = 0; k < s->mf.count; k++) {
		struct repl_file *f = &s->mf.files[k];
		if (!f->wanted || f->from == 0 || f->mem)
			continue;
		j->items[j->count].fd = f->fd;
		j->items[j->count++].len = f->from;
	}
	s->state = RS_PLAN;
	if (repl_job_start(s, j, repl_send_files) != 0) {
		free(j->items);
		free(j);
		return -1;
	}
	return 0;
}

