/* storage/store_file.c: the message log at run time. The loop thread appends records to an
 * in-memory batch (no syscall per append); store_sync() hands the batch to one storage thread,
 * which pwrite()s it and fdatasync()s once, then wakes the loop through a pipe, where the synced
 * callback runs in ticket order. While one batch is on its way, appends fill the other buffer.
 * A failed write (disk full) keeps the batch for a retry (each second), refuses new messages and
 * fails the ticket; bytes already synced are never touched again. Segments roll at
 * segment_size, are deleted oldest-first once nothing in them is queued, and an oldest segment
 * that is mostly dead has its few live messages moved to the head (compaction). The records of
 * messages, enqueues, dequeues and purges are made in store_message.c. */
#include "storage/store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"
#include "storage/store_io.h"

/* ---- segments ---- */

void store_segment_path(const struct store *s, uint32_t no, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%08u.seg", s->msgs_dir, no);
}

struct store_segment *store_segment_find(struct store *s, uint32_t no)
{
	size_t lo = 0, hi = s->seg_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->segs[mid].no == no)
			return &s->segs[mid];
		if (s->segs[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Segments are added in increasing order only. NULL when out of memory. */
struct store_segment *store_segment_add(struct store *s, uint32_t no)
{
	struct store_segment *sg;

	assert(s->seg_count == 0 || s->segs[s->seg_count - 1].no < no);
	if (s->seg_count == s->seg_cap) {
		size_t cap = s->seg_cap ? s->seg_cap * 2 : 16;
		struct store_segment *segs = realloc(s->segs, cap * sizeof *segs);
		if (!segs)
			return NULL;
		s->segs = segs;
		s->seg_cap = cap;
	}
	sg = &s->segs[s->seg_count++];
	memset(sg, 0, sizeof *sg);
	sg->no = no;
	sg->rfd = -1;
	sg->min_id = UINT64_MAX;
	return sg;
}

static struct store_segment *store_head(struct store *s)
{
	return &s->segs[s->seg_count - 1];
}

void store_segment_account(struct store *s, const struct store_index_entry *e, int delta)
{
	struct store_segment *sg = store_segment_find(s, e->segment);

	if (!sg)
		return;
	if (delta > 0) {
		sg->live_count++;
		sg->live_bytes += e->len;
	} else {
		assert(sg->live_count > 0 && sg->live_bytes >= e->len);
		sg->live_count--;
		sg->live_bytes -= e->len;
	}
}

int store_pos_cmp(struct store_pos a, struct store_pos b)
{
	if (a.seg != b.seg)
		return a.seg < b.seg ? -1 : 1;
	return a.off < b.off ? -1 : a.off > b.off;
}

/* ---- batches ---- */

#define STORE_BATCH_KEEP (4u << 20)

static void store_batch_close_ext(struct store_batch *b)
{
	for (size_t i = 0; i < b->ext_count; i++)
		close(b->ext_fds[i]);
	b->ext_count = 0;
}

static void store_batch_free(struct store_batch *b)
{
	store_batch_close_ext(b);
	free(b->ext_fds);
	free(b->buf);
	free(b->parts);
	memset(b, 0, sizeof *b);
}

static void store_batch_reset(struct store_batch *b)
{
	b->len = 0;
	b->part_count = 0;
	b->records = 0;
	b->ticket = 0;
	b->ok = false;
	b->err = 0;
	b->syncs = 0;
}

static int store_batch_reserve_buf(struct store_batch *b, size_t n)
{
	size_t cap;
	uint8_t *buf;

	/* always room for a commit record after: store_commit_seal cannot fail */
	n += STORE_RECORD_HEADER_SIZE + STORE_RECORD_COMMIT_SIZE;

	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	buf = realloc(b->buf, cap);
	if (!buf)
		return -1;
	b->buf = buf;
	b->cap = cap;
	return 0;
}

static int store_batch_reserve_part(struct store_batch *b)
{
	if (b->part_count < b->part_cap)
		return 0;
	size_t cap = b->part_cap ? b->part_cap * 2 : 4;
	struct store_part *parts = realloc(b->parts, cap * sizeof *parts);
	if (!parts)
		return -1;
	b->parts = parts;
	b->part_cap = cap;
	return 0;
}

/* Adds bytes (copied from data, or left for the caller to fill when data is NULL) at file
 * offset off of segment seg, which must follow the batch's last part. */
static uint8_t *store_batch_add(struct store_batch *b, uint32_t seg, uint64_t off,
				const void *data, size_t n)
{
	struct store_part *last;
	uint8_t *p;

	if (store_batch_reserve_buf(b, n) != 0 || store_batch_reserve_part(b) != 0)
		return NULL;
	last = b->part_count ? &b->parts[b->part_count - 1] : NULL;
	if (!last || last->seg != seg || last->file_off + last->len != off) {
		last = &b->parts[b->part_count++];
		last->seg = seg;
		last->file_off = off;
		last->buf_off = b->len;
		last->len = 0;
	}
	p = b->buf + b->len;
	if (data)
		memcpy(p, data, n);
	b->len += n;
	last->len += n;
	return p;
}

/* Appends src's parts after dst's. */
static int store_batch_concat(struct store_batch *dst, const struct store_batch *src)
{
	for (size_t i = 0; i < src->part_count; i++) {
		const struct store_part *pt = &src->parts[i];
		if (!store_batch_add(dst, pt->seg, pt->file_off, src->buf + pt->buf_off, pt->len))
			return -1;
	}
	dst->records += src->records;
	return 0;
}

struct store_salt store_segment_salt(struct store *s, uint32_t no)
{
	struct store_segment *sg = store_segment_find(s, no);

	return sg ? sg->salt : STORE_SALT_NONE;
}

/* Starts the head's file with a segment header carrying this run's salts. */
static int store_head_start(struct store *s, struct store_segment *head)
{
	uint8_t hdr[STORE_SEGMENT_HEADER_SIZE];

	head->salt = s->salt;
	store_segment_header_encode(hdr, head->salt);
	if (!store_batch_add(&s->pending, head->no, 0, hdr, sizeof hdr))
		return -1;
	head->size = sizeof hdr;
	return 0;
}

/* Reserves room for one record of payload_len bytes in the head segment, rolling to a new
 * segment first when may_roll and the head is full. Returns the header's address. */
uint8_t *store_append(struct store *s, uint64_t payload_len, bool may_roll,
		      struct store_pos *where, struct store_salt *salt)
{
	uint64_t n = STORE_RECORD_HEADER_SIZE + payload_len;
	struct store_segment *head = store_head(s);
	uint8_t *p;

	if (n > SIZE_MAX)
		return NULL;
	if (may_roll && head->size > STORE_SEGMENT_HEADER_SIZE &&
	    head->size + n > s->opt.segment_size) {
		if (!store_segment_add(s, head->no + 1))
			return NULL;
		head = store_head(s);
	}
	if (head->size == 0 && store_head_start(s, head) != 0)
		return NULL;
	p = store_batch_add(&s->pending, head->no, head->size, NULL, (size_t)n);
	if (!p)
		return NULL;
	where->seg = head->no;
	where->off = head->size;
	*salt = head->salt;
	head->size += n;
	s->pending.records++;
	s->unsynced_appends++;
	if (s->commit_count++ == 0)
		s->commit_first = *where;
	return p;
}

/* Ends the records appended since the last commit with a commit record naming the first of
 * them and their number, in the pending batch right after them. Recovery replays a batch only
 * up to a commit that accounts for every record before it, so a power cut that tears a batch
 * (some sectors written, others not) never replays its later records (an ack, a dead-letter's
 * dequeue) without the earlier ones they depend on. Cannot fail: store_batch_reserve_buf keeps
 * room for it, and it extends the batch's last part, which ends at the head. */
static void store_commit_seal(struct store *s)
{
	struct store_batch *b = &s->pending;
	struct store_part *last = &b->parts[b->part_count - 1];
	/* the head, or the one before when a roll left the head without a byte yet */
	struct store_segment *head = store_segment_find(s, last->seg);
	uint8_t *p = b->buf + b->len;

	assert(s->commit_count > 0 && b->part_count > 0 && head &&
	       last->file_off + last->len == head->size &&
	       b->cap - b->len >= STORE_RECORD_HEADER_SIZE + STORE_RECORD_COMMIT_SIZE);
	store_record_put_u32(p + STORE_RECORD_HEADER_SIZE, s->commit_first.seg);
	store_record_put_u32(p + STORE_RECORD_HEADER_SIZE + 4, s->commit_count);
	store_record_put_u64(p + STORE_RECORD_HEADER_SIZE + 8, s->commit_first.off);
	store_record_seal(p, STORE_RECORD_COMMIT, STORE_RECORD_COMMIT_SIZE, head->salt);
	b->len += STORE_RECORD_HEADER_SIZE + STORE_RECORD_COMMIT_SIZE;
	last->len += STORE_RECORD_HEADER_SIZE + STORE_RECORD_COMMIT_SIZE;
	head->size += STORE_RECORD_HEADER_SIZE + STORE_RECORD_COMMIT_SIZE;
	s->commit_count = 0;
}

void store_unappend(struct store *s, uint64_t payload_len)
{
	uint64_t n = STORE_RECORD_HEADER_SIZE + payload_len;
	struct store_part *last = &s->pending.parts[s->pending.part_count - 1];

	s->pending.len -= n;
	last->len -= n;
	if (last->len == 0)
		s->pending.part_count--;
	store_head(s)->size -= n;
	s->pending.records--;
	s->unsynced_appends--;
	s->commit_count--;
}

/* ---- the storage thread ---- */

static int store_thread_open(struct store *s, uint32_t seg)
{
	char path[4096];

	if (s->wfd >= 0 && s->wseg == seg)
		return 0;
	if (s->wfd >= 0) {
		if (!s->opt.no_fsync && fdatasync(s->wfd) != 0)
			return -1;
		close(s->wfd);
		s->wfd = -1;
	}
	store_segment_path(s, seg, path, sizeof path);
	s->wfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (s->wfd < 0)
		return -1;
	s->wseg = seg;
	return 0;
}

/* One pwrite per part (one per batch unless it crosses a segment boundary), one fdatasync. */
static void store_thread_write(struct store *s, struct store_batch *b)
{
	bool new_file = false;
	size_t i = 0;

	b->ok = false;
	if (b->ext_failed) {
		errno = EIO;
		goto fail;
	}
	for (i = 0; i < b->part_count; i++) {
		const struct store_part *pt = &b->parts[i];
		const uint8_t *p = b->buf + pt->buf_off;
		size_t skip = 0;

		if (store_thread_open(s, pt->seg) != 0)
			goto fail;
		if (pt->file_off == 0 && pt->len >= STORE_SEGMENT_HEADER_SIZE) {
			/* A new segment: its header (with the salts) and its directory entry are
			 * on disk before any record, so a crash never leaves records in a file
			 * without its header, which would read as format 1, whose unsalted
			 * checksums a message body could forge. Once per segment. */
			if (store_io_pwrite(s->wfd, p, STORE_SEGMENT_HEADER_SIZE, 0) != 0)
				goto fail;
			if (!s->opt.no_fsync &&
			    (fdatasync(s->wfd) != 0 || fsync(s->msgs_dirfd) != 0))
				goto fail;
			if (pt->seg > s->wseg_dir_synced)
				s->wseg_dir_synced = pt->seg;
			skip = STORE_SEGMENT_HEADER_SIZE;
		}
		if (pt->seg > s->wseg_dir_synced)
			new_file = true;
		if (store_io_pwrite(s->wfd, p + skip, pt->len - skip, pt->file_off + skip) != 0)
			goto fail;
	}
	if (!s->opt.no_fsync) {
		if (b->part_count && s->wfd >= 0 && fdatasync(s->wfd) != 0)
			goto fail;
		b->syncs++;
		if (new_file && fsync(s->msgs_dirfd) != 0)
			goto fail;
		for (size_t k = 0; k < b->ext_count; k++)
			if (fdatasync(b->ext_fds[k]) != 0)
				goto fail;
	}
	if (new_file)
		s->wseg_dir_synced = s->wseg;
	b->ok = true;
	return;
fail:
	b->err = errno;
	/* give the space back; the retry writes the same bytes at the same offsets anyway */
	if (i < b->part_count && s->wfd >= 0 && s->wseg == b->parts[i].seg &&
	    ftruncate(s->wfd, (off_t)b->parts[i].file_off) != 0)
		(void)0;
}

static void *store_thread_main(void *arg)
{
	struct store *s = arg;
	static const char one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->job && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->job)
			break;
		pthread_mutex_unlock(&s->lock);
		store_thread_write(s, &s->flight);
		pthread_mutex_lock(&s->lock);
		s->job = false;
		s->job_done = true;
		pthread_cond_broadcast(&s->cond);
		while (write(s->pipe_w, &one, 1) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* A replicating leader's followers get the batch as the storage thread gets it: their writes
 * and fsyncs run while ours do. */
static void store_tap_batch(struct store *s, const struct store_batch *b)
{
	if (!s->tap)
		return;
	for (size_t i = 0; i < b->part_count; i++) {
		const struct store_part *pt = &b->parts[i];
		s->tap->part(s->tap_arg, pt->seg, pt->file_off, b->buf + pt->buf_off, pt->len);
	}
	s->tap->batch_end(s->tap_arg, b->ticket, b->records);
}

/* Lets every touched store_ext log write its pending bytes into its files and collects their
 * descriptors into the pending batch, which syncs them. A descriptor that cannot be kept
 * (no memory) is synced here, on the loop: rare, and never unsafe. */
static void store_ext_flush_all(struct store *s)
{
	struct store_batch *b = &s->pending;
	while (s->ext_dirty) {
		struct store_ext *x = s->ext_dirty;
		s->ext_dirty = x->next_dirty;
		x->next_dirty = NULL;
		x->dirty = false;
		int fd = x->flush(x);
		if (fd == -2)
			b->ext_failed = true;
		if (fd < 0)
			continue;
		if (b->ext_count == b->ext_cap) {
			size_t cap = b->ext_cap ? b->ext_cap * 2 : 8;
			int *fds = realloc(b->ext_fds, cap * sizeof *fds);
			if (!fds) {
				if (!s->opt.no_fsync && fdatasync(fd) != 0)
					store_log_error("storage: fdatasync of a stream log "
							"failed: %s", strerror(errno));
				close(fd);
				continue;
			}
			b->ext_fds = fds;
			b->ext_cap = cap;
		}
		b->ext_fds[b->ext_count++] = fd;
	}
}

void store_ext_touch(struct store *s, struct store_ext *x)
{
	s->unsynced_appends++;
	if (x->dirty)
		return;
	x->dirty = true;
	x->next_dirty = s->ext_dirty;
	s->ext_dirty = x;
}

void store_ext_forget(struct store *s, struct store_ext *x)
{
	if (!x->dirty)
		return;
	for (struct store_ext **p = &s->ext_dirty; *p; p = &(*p)->next_dirty)
		if (*p == x) {
			*p = x->next_dirty;
			break;
		}
	x->dirty = false;
	x->next_dirty = NULL;
	int fd = x->flush(x);
	if (fd >= 0)
		close(fd);
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

static void store_dispatch(struct store *s)
{
	struct store_batch tmp;

	assert(!s->busy && s->flight.len == 0);
	store_ext_flush_all(s);
	if (s->pending.len == 0 && s->pending.ext_count == 0)
		return;
	if (s->commit_count > 0)
		store_commit_seal(s);
	tmp = s->flight;
	s->flight = s->pending;
	s->pending = tmp;
	store_batch_reset(&s->pending);
	s->busy = true;
	pthread_mutex_lock(&s->lock);
	s->job = true;
	s->job_done = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* the thread only reads the batch, as the tap does */
	store_tap_batch(s, &s->flight);
}

/* ---- completion on the loop ---- */

void store_set_tap(struct store *s, const struct store_tap *tap, void *arg)
{
	s->tap = tap;
	s->tap_arg = arg;
}

/* path relative to the store's directory, or NULL when it is not under it. */
static const char *store_relative(const struct store *s, const char *path)
{
	size_t n = strlen(s->dir);
	if (strncmp(path, s->dir, n) != 0 || path[n] != '/')
		return NULL;
	return path + n + 1;
}

void store_tap_file(struct store *s, const char *path, uint64_t off, const void *data,
		    size_t len)
{
	const char *rel;
	if (s->tap && s->tap->file && (rel = store_relative(s, path)))
		s->tap->file(s->tap_arg, rel, off, data, len);
}

void store_tap_removed(struct store *s, const char *path)
{
	const char *rel;
	if (s->tap && s->tap->file_removed && (rel = store_relative(s, path)))
		s->tap->file_removed(s->tap_arg, rel);
}

void store_durable_end(const struct store *s, uint32_t *seg, uint64_t *off)
{
	*seg = s->durable.seg;
	*off = s->durable.off;
}

static void store_complete(struct store *s, bool callbacks)
{
	struct store_batch *b = &s->flight;
	uint64_t ticket = b->ticket;
	bool ok = b->ok;

	s->busy = false;
	s->syncs += b->syncs;
	if (ok) {
		if (b->part_count) {
			const struct store_part *last = &b->parts[b->part_count - 1];
			s->durable.seg = last->seg;
			s->durable.off = last->file_off + last->len;
		}
		store_batch_close_ext(b);
		s->synced_records += b->records;
		if (s->failed)
			store_log_info("storage: writes to %s succeed again", s->msgs_dir);
		s->failed = false;
		if (s->retry_ev)
			event_del(s->retry_ev);
		store_batch_reset(b);
		/* a burst (pages written under memory pressure) can grow a batch a lot: give that
		 * memory back rather than keep the peak for good */
		if (b->cap > STORE_BATCH_KEEP)
			store_batch_free(b);
	} else {
		struct timeval sec = { 1, 0 };

		if (!s->failed)
			store_log_error("storage: writing to %s failed: %s; refusing new messages "
					"until a write succeeds", s->msgs_dir, strerror(b->err));
		s->failed = true;
		/* keep every byte for the retry, in order: flight first, then what came after; a
		 * stream log's failed part is gone (its confirms were nacked just now) */
		b->ext_failed = false;
		b->ticket = s->pending.ticket;
		if (store_batch_concat(b, &s->pending) != 0)
			store_log_error("storage: out of memory keeping a failed batch; records "
					"lost");
		{
			struct store_batch tmp = s->pending;
			s->pending = *b;
			*b = tmp;
		}
		store_batch_reset(b);
		if (s->retry_ev)
			event_add(s->retry_ev, &sec);
	}
	if (ticket) {
		s->done_ticket = ticket;
		if (callbacks && s->opt.synced)
			s->opt.synced(s->opt.synced_arg, ticket, ok);
	}
	if (ok) {
		store_compact_finish(s);
		store_delete_segments(s);
		store_compact(s);
	}
	if (!s->busy && !s->failed && s->pending.ticket)
		store_dispatch(s);
}

static void store_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	char buf[64];
	bool done;

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&s->lock);
	done = s->job_done;
	s->job_done = false;
	pthread_mutex_unlock(&s->lock);
	if (done && s->busy)
		store_complete(s, true);
}

static void store_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd, (void)what;
	if (s->failed && !s->busy && (s->pending.len > 0 || s->pending.ext_count > 0))
		store_dispatch(s);
}

/* ---- open / close ---- */

static int store_list_segments(struct store *s, char *err, size_t errlen)
{
	DIR *d = opendir(s->msgs_dir);
	struct dirent *de;
	uint32_t *nos = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;

	if (!d) {
		snprintf(err, errlen, "cannot open %s: %s", s->msgs_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long no;

		if (strlen(de->d_name) != 12 || strcmp(de->d_name + 8, ".seg") != 0)
			continue;
		errno = 0;
		no = strtoul(de->d_name, &end, 10);
		if (end != de->d_name + 8 || errno || no == 0 || no >= UINT32_MAX)
			continue;
		if (n == cap) {
			uint32_t *more = realloc(nos, (cap = cap ? cap * 2 : 64) * sizeof *nos);
			if (!more) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			nos = more;
		}
		nos[n++] = (uint32_t)no;
	}
	/* insertion sort would be quadratic for many segments */
	for (size_t gap = n / 2; gap > 0; gap /= 2)
		for (size_t i = gap; i < n; i++)
			for (size_t j = i; j >= gap && nos[j - gap] > nos[j]; j -= gap) {
				uint32_t t = nos[j];
				nos[j] = nos[j - gap];
				nos[j - gap] = t;
			}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		char path[4096];
		struct store_segment *sg = store_segment_add(s, nos[i]);

		if (!sg) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		store_segment_path(s, nos[i], path, sizeof path);
		sg->size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
		sg->unrecovered = true;
	}
	rc = 0;
out:
	free(nos);
	closedir(d);
	return rc;
}

static int store_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Makes the directory entries leading to the data directory durable: the data directory (for
 * msgs/ and files in it) and each directory above it. They may have just been created (by us or
 * by whoever made the data directory), and a power cut before their parents reach the disk
 * would take everything under them along, confirmed messages included. Once per open; only a
 * failure on the data directory or its parent is an error. */
static int store_sync_dirs(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	struct stat prev = { 0 }, st;

	snprintf(path, sizeof path, "%s", dir);
	for (int depth = 0; depth < 64; depth++) {
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bool ok = fd >= 0 && fstat(fd, &st) == 0 && fsync(fd) == 0;
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (!ok) {
			if (depth < 2) {
				snprintf(err, errlen, "cannot fsync %s: %s", path, strerror(e));
				return -1;
			}
			return 0;
		}
		if (depth > 0 && st.st_dev == prev.st_dev && st.st_ino == prev.st_ino)
			return 0; /* "/.." is "/" */
		prev = st;
		if (strlen(path) + 4 >= sizeof path)
			return 0;
		strcat(path, "/..");
	}
	return 0;
}

struct store *store_open(struct event_base *base, const char *dir, const struct store_options *opt,
			 char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	int fds[2] = { -1, -1 };
	bool ok = false;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->msgs_dirfd = s->pipe_r = s->pipe_w = s->wfd = -1;
	s->base = base;
	s->opt = *opt;
	if (s->opt.segment_size == 0)
		s->opt.segment_size = STORE_DEFAULT_SEGMENT_SIZE;
	if (s->opt.segment_size < STORE_MIN_SEGMENT_SIZE)
		s->opt.segment_size = STORE_MIN_SEGMENT_SIZE;
	if (s->opt.segment_size > STORE_MAX_SEGMENT_SIZE)
		s->opt.segment_size = STORE_MAX_SEGMENT_SIZE;
	store_index_init(&s->index);
	s->next_id = 1;
	if (!store_salt_new(&s->salt))
		store_log_warn("storage: getrandom failed; the checksum salt of this run comes from "
			       "the clock");
	if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_cond_init(&s->cond, NULL) != 0) {
		snprintf(err, errlen, "cannot create a lock");
		free(s);
		return NULL;
	}
	s->dir = strdup(dir);
	s->msgs_dir = malloc(strlen(dir) + sizeof "/msgs");
	if (!s->dir || !s->msgs_dir) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	sprintf(s->msgs_dir, "%s/msgs", dir);
	if (store_mkdir(dir, err, errlen) != 0 || store_mkdir(s->msgs_dir, err, errlen) != 0 ||
	    (!s->opt.no_fsync && store_sync_dirs(dir, err, errlen) != 0))
		goto out;
	s->msgs_dirfd = open(s->msgs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->msgs_dirfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->msgs_dir, strerror(errno));
		goto out;
	}
	if (store_list_segments(s, err, errlen) != 0)
		goto out;
	s->recovered = s->seg_count == 0;
	if (!store_segment_add(s, s->seg_count ? s->segs[s->seg_count - 1].no + 1 : 1)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->durable.seg = store_head(s)->no;
	s->durable.off = 0;
	s->wseg_dir_synced = store_head(s)->no - 1;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	s->pipe_r = fds[0];
	s->pipe_w = fds[1];
	s->done_ev = event_new(base, s->pipe_r, EV_READ | EV_PERSIST, store_on_done, s);
	s->retry_ev = event_new(base, -1, EV_PERSIST, store_on_retry, s);
	if (!s->done_ev || !s->retry_ev || event_add(s->done_ev, NULL) != 0) {
		snprintf(err, errlen, "cannot create the storage events");
		goto out;
	}
	if (pthread_create(&s->thread, NULL, store_thread_main, s) != 0) {
		snprintf(err, errlen, "cannot start the storage thread");
		goto out;
	}
	s->thread_started = true;
	ok = true;
out:
	if (!ok) {
		store_close(s);
		return NULL;
	}
	return s;
}

/* Waits for the batch with the thread and settles it, with the synced callbacks or without
 * (shutting down). */
static void store_wait_callbacks(struct store *s, bool callbacks)
{
	if (!s->busy)
		return;
	pthread_mutex_lock(&s->lock);
	while (!s->job_done)
		pthread_cond_wait(&s->cond, &s->lock);
	s->job_done = false;
	pthread_mutex_unlock(&s->lock);
	store_complete(s, callbacks);
}

static void store_wait(struct store *s)
{
	store_wait_callbacks(s, false);
}

int store_flush(struct store *s)
{
	uint64_t want;

	if (!s->recovered || s->recovery_failed)
		return -1;
	want = store_sync(s);
	while (s->done_ticket < want && !s->failed) {
		if (!s->busy)
			store_dispatch(s);
		if (!s->busy)
			break;
		store_wait_callbacks(s, true);
	}
	return s->done_ticket >= want && !s->failed ? 0 : -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		store_wait(s);
		if (s->pending.len > 0 && !s->recovery_failed) {
			store_dispatch(s);
			store_wait(s);
			if (s->failed)
				store_log_error("storage: closing with %zu bytes that could not be "
						"written", s->pending.len);
		}
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	for (size_t i = 0; i < s->seg_count; i++)
		if (s->segs[i].rfd >= 0)
			close(s->segs[i].rfd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->msgs_dirfd >= 0)
		close(s->msgs_dirfd);
	if (s->pipe_r >= 0)
		close(s->pipe_r);
	if (s->pipe_w >= 0)
		close(s->pipe_w);
	store_batch_free(&s->pending);
	store_batch_free(&s->flight);
	store_index_free(&s->index);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->segs);
	free(s->moves);
	free(s->dir);
	free(s->readbuf);
	free(s->msgs_dir);
	free(s);
}

uint64_t store_sync(struct store *s)
{
	s->unsynced_appends = 0;
	if ((s->pending.len == 0 && !s->ext_dirty && s->pending.ext_count == 0) ||
	    s->recovery_failed)
		return s->last_ticket;
	uint64_t ticket;

	if (s->pending.ticket == 0)
		s->pending.ticket = ++s->last_ticket;
	ticket = s->pending.ticket;
	/* while writes fail, the retry timer paces the attempts */
	if (!s->busy && !s->failed)
		store_dispatch(s);
	return ticket;
}

uint64_t store_next_ticket(const struct store *s)
{
	return s->pending.ticket ? s->pending.ticket : s->last_ticket + 1;
}

bool store_has_pending(const struct store *s)
{
	return s->unsynced_appends > 0;
}

uint64_t store_synced_ticket(const struct store *s)
{
	return s->done_ticket;
}

void store_get_stats(const struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < s->seg_count; i++) {
		const struct store_segment *sg = &s->segs[i];
		if (sg->size == 0 && i == s->seg_count - 1)
			continue; /* the head before its first byte has no file */
		st->segments++;
		st->disk_bytes += sg->size;
		st->live_messages += sg->live_count;
		st->live_bytes += sg->live_bytes;
	}
	st->syncs = s->syncs;
	st->synced_records = s->synced_records;
	st->failed = s->failed;
}

size_t store_index_bytes(const struct store *s)
{
	return store_index_memory(&s->index);
}
