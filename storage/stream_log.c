/* storage/stream_log.c: a stream's segmented log (stream_log.h). On disk, per segment:
 *
 *   <20-digit first offset>.log   16-byte header ("WRNSTRM1", 8 reserved bytes), then chunks
 *   <20-digit first offset>.idx   one 24-byte entry per chunk of the .log
 *
 * A chunk is a 32-byte header and its records:
 *    0  u32 magic "WSCF" (or "WSCH": written before filters, no filter block)
 *    4  u32 crc          CRC32C of bytes 8..31 and of the payload
 *    8  u64 first offset
 *   16  u64 timestamp    ms, when the chunk was started
 *   24  u32 count        messages in it
 *   28  u32 payload_len
 * A "WSCF" chunk's payload starts with its filter block: u8 flags (SBLOOM_HAS_*), u8 size, the
 * size-byte Bloom filter of its messages' filter values (stream_bloom.h); the records follow.
 * Each record is u32 len, then u8 exchange_len, exchange, u8 key_len, key,
 * u32 props_len, props, body (the rest). An index entry is u64 first offset, u64 timestamp,
 * u32 file position, u32 count. Integers are little-endian, as in the message log.
 *
 * Once attached to a store, every write and removal is told to the store's tap
 * (store_tap_file, store_tap_removed): a replicating leader ships the same bytes. */
#include "storage/stream_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store_log.h"
#include "storage/store_record.h"
#include "storage/stream_bloom.h"
#include "storage/store_io.h"

#define SLOG_SEG_HEADER 16
#define SLOG_CHUNK_HEADER 32
#define SLOG_IDX_ENTRY 24
#define SLOG_CHUNK_MAGIC 0x48435357u /* "WSCH": no filter block (written before filters) */
#define SLOG_CHUNK_MAGIC_F 0x46435357u /* "WSCF": the payload starts with a filter block */
#define SLOG_SKIP_MAX 1024 /* chunks a filtering slog_read passes over before it returns */
#define SLOG_MIN_SEGMENT 4096ull
static const char slog_seg_magic[8] = { 'W', 'R', 'N', 'S', 'T', 'R', 'M', '1' };

struct slog_segment {
	uint64_t first;     /* first offset */
	uint64_t next;      /* one past its last offset */
	uint64_t size;      /* bytes of the .log */
	uint64_t last_ts;   /* newest chunk's timestamp */
	uint64_t last_chunk; /* newest chunk's first offset */
	uint32_t chunks;
	int rfd, ifd;       /* read fds, opened on demand (-1) */
};

struct slog {
	char *dir;
	uint64_t max_segment;
	struct slog_segment *segs; /* oldest first; the last is the head */
	size_t seg_count, seg_cap;
	int wfd, widx;             /* the head's .log and .idx, for appends */
	uint64_t next;             /* next offset to assign */
	/* the open chunk: header space, then records */
	uint8_t *chunk;
	size_t chunk_len, chunk_cap;
	uint32_t chunk_count;
	uint64_t chunk_ts;
	/* the open chunk's filter block (at chunk + SLOG_CHUNK_HEADER): its size, and the size
	 * chunks started from now on get */
	uint8_t chunk_fsize, filter_size;
	uint64_t chunks_read, chunks_skipped; /* slog_stats */
	bool failed;
	bool unsynced;             /* chunks written since the last sync was handed out */
	struct store *store;
	struct store_ext ext;
	void (*on_flush)(void *arg);
	void *on_flush_arg;
	/* slog_read's buffer */
	uint8_t *rbuf;
	size_t rbuf_cap;
};

static void put32(uint8_t *p, uint32_t v)
{
	store_record_put_u32(p, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	store_record_put_u64(p, v);
}

static uint32_t get32(const uint8_t *p)
{
	return store_record_get_u32(p);
}

static uint64_t get64(const uint8_t *p)
{
	return store_record_get_u64(p);
}

static void slog_path(const struct slog *l, uint64_t first, const char *ext, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s/%020" PRIu64 ".%s", l->dir, first, ext);
}

static uint32_t slog_chunk_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	uint32_t crc = store_record_crc32c(0, hdr + 8, SLOG_CHUNK_HEADER - 8);
	return store_record_crc32c(crc, payload, len);
}

/* The directory holding path (path cut at its last '/'; "." when it has none). */
static void slog_parent(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* ---- segments ---- */

static struct slog_segment *slog_head(struct slog *l)
{
	return l->seg_count ? &l->segs[l->seg_count - 1] : NULL;
}

static void slog_segment_close(struct slog_segment *sg)
{
	if (sg->rfd >= 0)
		close(sg->rfd);
	if (sg->ifd >= 0)
		close(sg->ifd);
	sg->rfd = sg->ifd = -1;
}

static struct slog_segment *slog_segment_push(struct slog *l, uint64_t first)
{
	if (l->seg_count == l->seg_cap) {
		size_t cap = l->seg_cap ? l->seg_cap * 2 : 8;
		struct slog_segment *s = realloc(l->segs, cap * sizeof *s);
		if (!s)
			return NULL;
		l->segs = s;
		l->seg_cap = cap;
	}
	struct slog_segment *sg = &l->segs[l->seg_count++];
	memset(sg, 0, sizeof *sg);
	sg->first = sg->next = sg->last_chunk = first;
	sg->rfd = sg->ifd = -1;
	return sg;
}

static int slog_open_head(struct slog *l, bool create)
{
	struct slog_segment *h = slog_head(l);
	char p[4096];
	/* a segment being left behind is synced here, once per segment, its index too, before
	 * the next one exists: the batches sync only the head's log (and one may still be on
	 * its way), and recovery trusts what a sealed segment's index says */
	if (l->wfd >= 0 && (fdatasync(l->wfd) != 0 || (l->widx >= 0 && fdatasync(l->widx) != 0)))
		store_log_error("stream %s: fdatasync failed: %s", l->dir, strerror(errno));
	if (l->wfd >= 0)
		close(l->wfd);
	if (l->widx >= 0)
		close(l->widx);
	l->wfd = l->widx = -1;
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
	slog_path(l, h->first, "log", p, sizeof p);
	l->wfd = open(p, flags, 0644);
	slog_path(l, h->first, "idx", p, sizeof p);
	l->widx = open(p, flags, 0644);
	if (l->wfd < 0 || l->widx < 0)
		return -1;
	if (create) {
		uint8_t hdr[SLOG_SEG_HEADER] = { 0 };
		memcpy(hdr, slog_seg_magic, sizeof slog_seg_magic);
		if (store_io_pwrite(l->wfd, hdr, sizeof hdr, 0) != 0)
			return -1;
		h->size = SLOG_SEG_HEADER;
		/* the new files' names must survive a crash with the records in them */
		if (store_io_fsync_dir(AT_FDCWD, l->dir) != 0)
			store_log_error("stream %s: fsync of the directory failed: %s", l->dir,
					strerror(errno));
	}
	return 0;
}

/* Starts a new head segment at offset first. */
static int slog_roll(struct slog *l, uint64_t first)
{
	if (!slog_segment_push(l, first))
		return -1;
	if (slog_open_head(l, true) != 0) {
		store_log_error("stream %s: cannot start a segment: %s", l->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- recovery ---- */

/* Reads and checks the chunk at pos of fd: its header into hdr. The chunk's total length, 0
 * at a clean end of file, -1 when it is torn or corrupt. */
static int64_t slog_check_chunk(struct slog *l, int fd, uint64_t pos, uint64_t file_size,
				uint8_t *hdr)
{
	if (pos == file_size)
		return 0;
	if (file_size - pos < SLOG_CHUNK_HEADER ||
	    store_io_pread(fd, hdr, SLOG_CHUNK_HEADER, pos) != SLOG_CHUNK_HEADER ||
	    (get32(hdr) != SLOG_CHUNK_MAGIC && get32(hdr) != SLOG_CHUNK_MAGIC_F))
		return -1;
	uint32_t plen = get32(hdr + 28);
	if (file_size - pos - SLOG_CHUNK_HEADER < plen)
		return -1;
	if (l->rbuf_cap < plen) {
		uint8_t *b = realloc(l->rbuf, plen);
		if (!b)
			return -1;
		l->rbuf = b;
		l->rbuf_cap = plen;
	}
	if (store_io_pread(fd, l->rbuf, plen, pos + SLOG_CHUNK_HEADER) != (ssize_t)plen ||
	    slog_chunk_crc(hdr, l->rbuf, plen) != get32(hdr + 4))
		return -1;
	return SLOG_CHUNK_HEADER + (int64_t)plen;
}

/* Brings one segment's index in line with its log and cuts the log after the last intact
 * chunk. A sealed segment was fdatasynced, index too, when the log rolled past it: its index
 * entries up to the newest whose chunk is intact are taken on trust and only what follows is
 * scanned. The head segment (verify_all) may hold chunks written after its last sync, and a
 * power cut keeps any subset of those writes, in either file: a later chunk can be there
 * while an earlier one is not, and an index entry can point at nothing. So every chunk of
 * the head is read and checked against its CRC, the log is cut at the first that is not
 * intact (a stream is a prefix: no offset may be missing before one that is kept), and the
 * index is rewritten from there. That reads the head segment once per start. */
static int slog_recover_segment(struct slog *l, struct slog_segment *sg, bool verify_all)
{
	char p[4096];
	struct stat st;
	uint8_t hdr[SLOG_CHUNK_HEADER], e[SLOG_IDX_ENTRY];
	int fd, ifd;

	slog_path(l, sg->first, "log", p, sizeof p);
	if ((fd = open(p, O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	slog_path(l, sg->first, "idx", p, sizeof p);
	if ((ifd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) != 0)
		goto fail;
	uint64_t size = (uint64_t)st.st_size;
	uint8_t sh[SLOG_SEG_HEADER];
	if (size < SLOG_SEG_HEADER || store_io_pread(fd, sh, sizeof sh, 0) != SLOG_SEG_HEADER ||
	    memcmp(sh, slog_seg_magic, sizeof slog_seg_magic) != 0) {
		/* a segment whose header never reached the disk holds nothing */
		memset(sh, 0, sizeof sh);
		memcpy(sh, slog_seg_magic, sizeof slog_seg_magic);
		if (store_io_pwrite(fd, sh, sizeof sh, 0) != 0 || ftruncate(fd, SLOG_SEG_HEADER) != 0 ||
		    ftruncate(ifd, 0) != 0)
			goto fail;
		size = SLOG_SEG_HEADER;
	}
	struct stat ist;
	if (fstat(ifd, &ist) != 0)
		goto fail;
	uint64_t entries = (uint64_t)ist.st_size / SLOG_IDX_ENTRY;
	uint64_t pos = SLOG_SEG_HEADER;
	sg->chunks = 0;
	sg->next = sg->first;
	/* the newest entry whose chunk is intact; everything before it is taken on trust */
	while (entries > 0 && !verify_all) {
		uint64_t at_entry = (entries - 1) * SLOG_IDX_ENTRY;
		if (store_io_pread(ifd, e, sizeof e, at_entry) == SLOG_IDX_ENTRY) {
			uint64_t at = get32(e + 16);
			int64_t n = slog_check_chunk(l, fd, at, size, hdr);
			if (n > 0 && get64(hdr + 8) == get64(e)) {
				sg->chunks = (uint32_t)entries;
				sg->last_chunk = get64(hdr + 8);
				sg->last_ts = get64(hdr + 16);
				sg->next = sg->last_chunk + get32(hdr + 24);
				pos = at + (uint64_t)n;
				break;
			}
		}
		entries--;
	}
	/* chunks the index does not list yet (or, verify_all, every chunk) */
	for (;;) {
		int64_t n = slog_check_chunk(l, fd, pos, size, hdr);
		if (n <= 0) {
			if (n < 0)
				store_log_warn("stream %s: segment %020" PRIu64 ": %" PRIu64
					       " bytes after offset %" PRIu64
					       " are torn or corrupt and were cut",
					       l->dir, sg->first, size - pos, sg->next);
			break;
		}
		if (get64(hdr + 8) != sg->next && sg->chunks) {
			store_log_warn("stream %s: chunk at %" PRIu64 " is out of sequence; cut",
				       l->dir, pos);
			break;
		}
		if (!sg->chunks) {
			uint64_t at = get64(hdr + 8);
			sg->first = sg->next = at < sg->first ? sg->first : at;
		}
		put64(e, get64(hdr + 8));
		put64(e + 8, get64(hdr + 16));
		put32(e + 16, (uint32_t)pos);
		put32(e + 20, get32(hdr + 24));
		uint8_t had[SLOG_IDX_ENTRY];
		uint64_t at = (uint64_t)sg->chunks * SLOG_IDX_ENTRY;
		if ((store_io_pread(ifd, had, sizeof had, at) != SLOG_IDX_ENTRY ||
		     memcmp(had, e, sizeof e) != 0) &&
		    store_io_pwrite(ifd, e, sizeof e, at) != 0)
			goto fail;
		sg->chunks++;
		sg->last_chunk = get64(hdr + 8);
		sg->last_ts = get64(hdr + 16);
		sg->next = sg->last_chunk + get32(hdr + 24);
		pos += (uint64_t)n;
	}
	if ((pos < size && ftruncate(fd, (off_t)pos) != 0) ||
	    ftruncate(ifd, (off_t)sg->chunks * SLOG_IDX_ENTRY) != 0)
		goto fail;
	sg->size = pos;
	close(fd);
	close(ifd);
	return 0;
fail:
	close(fd);
	close(ifd);
	return -1;
}

static int slog_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Creates dir and the directories above it that are missing, and makes each new one's entry
 * durable in its parent: a stream's directory (and streams/ the first time) is new when the
 * stream is declared, and a power cut before its parent reaches the disk would take the
 * stream's segments along, confirmed messages included. */
static int slog_mkdir_p(const char *dir)
{
	char p[4096], parent[4096];
	snprintf(p, sizeof p, "%s", dir);
	size_t len = strlen(p);
	for (char *s = p + 1; s <= p + len; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			slog_parent(p, parent, sizeof parent);
			if (store_io_fsync_dir(AT_FDCWD, parent) != 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		*s = c;
	}
	return 0;
}

static int slog_ext_flush(struct store_ext *x);

struct slog *slog_open(const char *dir, uint64_t max_segment_size, char *err, size_t errlen)
{
	struct slog *l = calloc(1, sizeof *l);
	uint64_t *firsts = NULL;
	size_t n = 0, cap = 0;
	DIR *d = NULL;
	if (!l || !(l->dir = strdup(dir))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	l->wfd = l->widx = -1;
	l->ext.flush = slog_ext_flush;
	l->filter_size = SBLOOM_MIN_SIZE;
	slog_set_segment_size(l, max_segment_size);
	if (slog_mkdir_p(dir) != 0 || !(d = opendir(dir))) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len != 24 || strcmp(de->d_name + 20, ".log") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *f = realloc(firsts, cap * sizeof *f);
			if (!f) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			firsts = f;
		}
		firsts[n++] = strtoull(de->d_name, NULL, 10);
	}
	closedir(d);
	d = NULL;
	if (n)
		qsort(firsts, n, sizeof *firsts, slog_cmp_u64);
	for (size_t i = 0; i < n; i++) {
		struct slog_segment *sg = slog_segment_push(l, firsts[i]);
		if (!sg || slog_recover_segment(l, sg, i + 1 == n) != 0) {
			snprintf(err, errlen,
				 "cannot recover stream segment %020" PRIu64 " in %s: %s",
				 firsts[i], dir, sg ? strerror(errno) : "out of memory");
			goto fail;
		}
		if (sg->chunks == 0 && i + 1 < n) {
			/* an empty segment before others (a crash while rolling): drop it */
			char p[4096];
			slog_path(l, sg->first, "log", p, sizeof p);
			unlink(p);
			slog_path(l, sg->first, "idx", p, sizeof p);
			unlink(p);
			l->seg_count--;
		}
	}
	free(firsts);
	firsts = NULL;
	if (l->seg_count) {
		l->next = slog_head(l)->next;
		if (slog_open_head(l, false) != 0) {
			snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
			goto fail;
		}
	} else if (slog_roll(l, 0) != 0) {
		snprintf(err, errlen, "cannot start a segment in %s: %s", dir, strerror(errno));
		goto fail;
	}
	return l;
fail:
	if (d)
		closedir(d);
	free(firsts);
	slog_close(l);
	return NULL;
}

void slog_set_filter_size(struct slog *l, unsigned size)
{
	l->filter_size = (uint8_t)(size < SBLOOM_MIN_SIZE ? SBLOOM_MIN_SIZE :
				   size > SBLOOM_MAX_SIZE ? SBLOOM_MAX_SIZE : size);
}

void slog_stats(const struct slog *l, uint64_t *chunks_read, uint64_t *chunks_skipped)
{
	*chunks_read = l->chunks_read;
	*chunks_skipped = l->chunks_skipped;
}

void slog_set_segment_size(struct slog *l, uint64_t max_segment_size)
{
	if (!max_segment_size)
		max_segment_size = SLOG_DEFAULT_SEGMENT_SIZE;
	l->max_segment = max_segment_size < SLOG_MIN_SEGMENT ? SLOG_MIN_SEGMENT : max_segment_size;
}

static void slog_free(struct slog *l)
{
	for (size_t i = 0; i < l->seg_count; i++)
		slog_segment_close(&l->segs[i]);
	if (l->wfd >= 0)
		close(l->wfd);
	if (l->widx >= 0)
		close(l->widx);
	free(l->segs);
	free(l->chunk);
	free(l->rbuf);
	free(l->dir);
	free(l);
}

void slog_close(struct slog *l)
{
	if (!l)
		return;
	if (l->store)
		store_ext_forget(l->store, &l->ext);
	if (slog_has_pending(l))
		slog_flush(l);
	slog_free(l);
}

void slog_destroy(struct slog *l)
{
	char p[4096];
	if (!l)
		return;
	if (l->store)
		store_ext_forget(l->store, &l->ext);
	for (size_t i = 0; i < l->seg_count; i++) {
		slog_segment_close(&l->segs[i]);
		slog_path(l, l->segs[i].first, "log", p, sizeof p);
		unlink(p);
		if (l->store)
			store_tap_removed(l->store, p);
		slog_path(l, l->segs[i].first, "idx", p, sizeof p);
		unlink(p);
		if (l->store)
			store_tap_removed(l->store, p);
	}
	/* durable before the delete is answered: a power cut must not bring the stream's
	 * messages back, in a stream declared again under its name (the same directory) */
	char parent[4096];
	slog_parent(l->dir, parent, sizeof parent);
	if (rmdir(l->dir) == 0 ? store_io_fsync_dir(AT_FDCWD, parent) != 0 : store_io_fsync_dir(AT_FDCWD, l->dir) != 0)
		store_log_error("stream %s: the removal may not be durable: %s", l->dir,
				strerror(errno));
	slog_free(l);
}

/* ---- appends ---- */

bool slog_has_pending(const struct slog *l)
{
	return l->chunk_count > 0;
}

static int slog_chunk_reserve(struct slog *l, size_t more)
{
	if (l->chunk_len + more <= l->chunk_cap)
		return 0;
	size_t cap = l->chunk_cap ? l->chunk_cap : 4096;
	while (cap < l->chunk_len + more)
		cap *= 2;
	uint8_t *c = realloc(l->chunk, cap);
	if (!c)
		return -1;
	l->chunk = c;
	l->chunk_cap = cap;
	return 0;
}

/* Writes the open chunk at the head's end (rolling to a new segment first when the head is
 * full) and its index entry. */
static int slog_write_chunk(struct slog *l)
{
	struct slog_segment *h = slog_head(l);
	uint64_t first = l->next - l->chunk_count;
	uint8_t *hdr = l->chunk, e[SLOG_IDX_ENTRY];
	size_t plen = l->chunk_len - SLOG_CHUNK_HEADER;

	if (h->chunks && h->size + l->chunk_len > l->max_segment) {
		if (slog_roll(l, first) != 0)
			return -1;
		h = slog_head(l);
	}
	put32(hdr, SLOG_CHUNK_MAGIC_F);
	put64(hdr + 8, first);
	put64(hdr + 16, l->chunk_ts);
	put32(hdr + 24, l->chunk_count);
	put32(hdr + 28, (uint32_t)plen);
	put32(hdr + 4, slog_chunk_crc(hdr, hdr + SLOG_CHUNK_HEADER, plen));
	put64(e, first);
	put64(e + 8, l->chunk_ts);
	put32(e + 16, (uint32_t)h->size);
	put32(e + 20, l->chunk_count);
	if (store_io_pwrite(l->wfd, l->chunk, l->chunk_len, h->size) != 0 ||
	    store_io_pwrite(l->widx, e, sizeof e, (uint64_t)h->chunks * SLOG_IDX_ENTRY) != 0) {
		store_log_error("stream %s: write failed: %s; the stream refuses messages", l->dir,
				strerror(errno));
		l->failed = true;
		return -1;
	}
	if (l->store) {
		/* a replicating leader ships the same bytes (the segment's header with its first
		 * chunk: the segment may have been created before the store was attached) */
		char p[4096];
		uint8_t sh[SLOG_SEG_HEADER] = { 0 };
		memcpy(sh, slog_seg_magic, sizeof slog_seg_magic);
		slog_path(l, h->first, "log", p, sizeof p);
		if (!h->chunks)
			store_tap_file(l->store, p, 0, sh, sizeof sh);
		store_tap_file(l->store, p, h->size, l->chunk, l->chunk_len);
		slog_path(l, h->first, "idx", p, sizeof p);
		store_tap_file(l->store, p, (uint64_t)h->chunks * SLOG_IDX_ENTRY, e, sizeof e);
	}
	if (!h->chunks)
		h->first = first;
	h->size += l->chunk_len;
	h->chunks++;
	h->last_chunk = first;
	h->last_ts = l->chunk_ts;
	h->next = l->next;
	l->chunk_len = 0;
	l->chunk_count = 0;
	l->unsynced = true;
	return 0;
}

uint64_t slog_append(struct slog *l, const struct store_message *m, uint64_t ts_ms)
{
	return slog_append_filtered(l, m, ts_ms, 0);
}

uint64_t slog_append_filtered(struct slog *l, const struct store_message *m, uint64_t ts_ms,
			      uint64_t filter_hash)
{
	if (l->failed)
		return UINT64_MAX;
	uint64_t rlen = 1 + (uint64_t)m->exchange_len + 1 + m->routing_key_len + 4 + m->props_len +
			m->body_len;
	if (m->exchange_len > 255 || m->routing_key_len > 255 || rlen > UINT32_MAX - 4)
		return UINT64_MAX;
	if (l->chunk_count && l->chunk_len + rlen + 4 > SLOG_CHUNK_MAX && slog_flush(l) == -2)
		return UINT64_MAX;
	if (!l->chunk_count) {
		size_t start = SLOG_CHUNK_HEADER + 2 + (size_t)l->filter_size;
		if (slog_chunk_reserve(l, start) != 0)
			return UINT64_MAX;
		memset(l->chunk + SLOG_CHUNK_HEADER, 0, start - SLOG_CHUNK_HEADER);
		l->chunk[SLOG_CHUNK_HEADER + 1] = l->chunk_fsize = l->filter_size;
		l->chunk_len = start;
		l->chunk_ts = ts_ms;
	}
	if (slog_chunk_reserve(l, (size_t)rlen + 4) != 0)
		return UINT64_MAX;
	uint8_t *p = l->chunk + l->chunk_len;
	put32(p, (uint32_t)rlen);
	p += 4;
	*p++ = (uint8_t)m->exchange_len;
	memcpy(p, m->exchange, m->exchange_len);
	p += m->exchange_len;
	*p++ = (uint8_t)m->routing_key_len;
	memcpy(p, m->routing_key, m->routing_key_len);
	p += m->routing_key_len;
	put32(p, m->props_len);
	p += 4;
	if (m->props_len)
		memcpy(p, m->props, m->props_len);
	p += m->props_len;
	if (m->body_len)
		memcpy(p, m->body, m->body_len);
	l->chunk_len += (size_t)rlen + 4;
	l->chunk_count++;
	uint8_t *fb = l->chunk + SLOG_CHUNK_HEADER;
	fb[0] |= filter_hash ? SBLOOM_HAS_VALUES : SBLOOM_HAS_UNFILTERED;
	if (filter_hash)
		sbloom_add(fb + 2, l->chunk_fsize, filter_hash);
	return l->next++;
}

int slog_flush(struct slog *l)
{
	if (!l->chunk_count)
		return -1;
	if (l->failed || slog_write_chunk(l) != 0) {
		/* what was appended is lost: its confirms become nacks through the store */
		l->next -= l->chunk_count;
		l->chunk_len = 0;
		l->chunk_count = 0;
		return -2;
	}
	if (l->on_flush)
		l->on_flush(l->on_flush_arg);
	return l->wfd;
}

void slog_on_flush(struct slog *l, void (*fn)(void *arg), void *arg)
{
	l->on_flush = fn;
	l->on_flush_arg = arg;
}

static int slog_ext_flush(struct store_ext *x)
{
	struct slog *l = (struct slog *)((char *)x - offsetof(struct slog, ext));
	if (slog_flush(l) == -2)
		return -2; /* the batch fails: its confirms become nacks */
	if (!l->unsynced)
		return -1;
	l->unsynced = false;
	return dup(l->wfd);
}

void slog_attach(struct slog *l, struct store *s)
{
	if (l->store && l->store != s)
		store_ext_forget(l->store, &l->ext);
	l->store = s;
}

void slog_touch(struct slog *l)
{
	if (l->store)
		store_ext_touch(l->store, &l->ext);
}

/* ---- offsets ---- */

uint64_t slog_first(const struct slog *l)
{
	return l->seg_count ? l->segs[0].first : l->next;
}

uint64_t slog_next(const struct slog *l)
{
	return l->next;
}

uint64_t slog_committed(const struct slog *l)
{
	return l->next - l->chunk_count;
}

uint64_t slog_last_chunk(const struct slog *l)
{
	for (size_t i = l->seg_count; i-- > 0;)
		if (l->segs[i].chunks)
			return l->segs[i].last_chunk;
	return slog_committed(l);
}

uint64_t slog_bytes(const struct slog *l)
{
	uint64_t n = 0;
	for (size_t i = 0; i < l->seg_count; i++)
		n += l->segs[i].size;
	return n;
}

uint32_t slog_segment_count(const struct slog *l)
{
	return (uint32_t)l->seg_count;
}

static int slog_segment_rfds(struct slog *l, struct slog_segment *sg)
{
	char p[4096];
	if (sg->rfd < 0) {
		slog_path(l, sg->first, "log", p, sizeof p);
		sg->rfd = open(p, O_RDONLY | O_CLOEXEC);
	}
	if (sg->ifd < 0) {
		slog_path(l, sg->first, "idx", p, sizeof p);
		sg->ifd = open(p, O_RDONLY | O_CLOEXEC);
	}
	return sg->rfd >= 0 && sg->ifd >= 0 ? 0 : -1;
}

static int slog_idx_entry(struct slog *l, struct slog_segment *sg, uint32_t i, uint8_t *e)
{
	(void)l;
	return store_io_pread(sg->ifd, e, SLOG_IDX_ENTRY, (uint64_t)i * SLOG_IDX_ENTRY) ==
			       SLOG_IDX_ENTRY ? 0 : -1;
}

uint64_t slog_offset_at(struct slog *l, uint64_t ts_ms)
{
	uint8_t e[SLOG_IDX_ENTRY];
	for (size_t i = 0; i < l->seg_count; i++) {
		struct slog_segment *sg = &l->segs[i];
		if (!sg->chunks || sg->last_ts < ts_ms)
			continue;
		if (slog_segment_rfds(l, sg) != 0)
			break;
		/* the first chunk stamped at or after ts_ms: binary search over the index */
		uint32_t lo = 0, hi = sg->chunks - 1;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (slog_idx_entry(l, sg, mid, e) != 0)
				return sg->first;
			if (get64(e + 8) >= ts_ms)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (slog_idx_entry(l, sg, lo, e) != 0)
			return sg->first;
		return get64(e);
	}
	return slog_committed(l);
}

/* ---- retention ---- */

uint32_t slog_trim(struct slog *l, int64_t max_bytes, int64_t max_age_ms, uint64_t now_ms)
{
	uint32_t dropped = 0;
	uint64_t total = slog_bytes(l);
	while (l->seg_count > 1) {
		struct slog_segment *sg = &l->segs[0];
		bool too_big = max_bytes >= 0 && total > (uint64_t)max_bytes;
		bool too_old = max_age_ms >= 0 && sg->last_ts + (uint64_t)max_age_ms < now_ms;
		if (!too_big && !too_old)
			break;
		char p[4096];
		slog_segment_close(sg);
		slog_path(l, sg->first, "log", p, sizeof p);
		unlink(p);
		if (l->store)
			store_tap_removed(l->store, p);
		slog_path(l, sg->first, "idx", p, sizeof p);
		unlink(p);
		if (l->store)
			store_tap_removed(l->store, p);
		/* each removal durable before the next: a power cut could otherwise undo the
		 * unlink of an older segment and not of a newer one, leaving a gap in the offsets.
		 * One fsync per dropped segment, on a timer: rare */
		if (store_io_fsync_dir(AT_FDCWD, l->dir) != 0)
			store_log_error("stream %s: fsync of the directory failed: %s", l->dir,
					strerror(errno));
		total -= sg->size;
		memmove(l->segs, l->segs + 1, (l->seg_count - 1) * sizeof *l->segs);
		l->seg_count--;
		dropped++;
	}
	return dropped;
}

/* ---- reading ---- */

static struct slog_segment *slog_segment_of(struct slog *l, uint64_t offset)
{
	size_t lo = 0, hi = l->seg_count;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->segs[mid].first <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return l->seg_count ? &l->segs[lo] : NULL;
}

/* Where the chunk holding offset starts in sg (the index's last entry at or before it). */
static int slog_seek(struct slog *l, struct slog_segment *sg, uint64_t offset, uint64_t *pos)
{
	uint8_t e[SLOG_IDX_ENTRY];
	if (!sg->chunks) {
		*pos = sg->size;
		return 0;
	}
	uint32_t lo = 0, hi = sg->chunks;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (slog_idx_entry(l, sg, mid, e) != 0)
			return -1;
		if (get64(e) <= offset)
			lo = mid;
		else
			hi = mid;
	}
	if (slog_idx_entry(l, sg, lo, e) != 0)
		return -1;
	*pos = get32(e + 16);
	return 0;
}

int slog_read(struct slog *l, struct slog_cursor *cur, size_t max, slog_read_fn fn, void *arg)
{
	uint64_t committed = slog_committed(l);
	int given = 0;
	unsigned skipped = 0;
	uint8_t hdr[SLOG_CHUNK_HEADER + 2 + SBLOOM_MAX_SIZE];

	if (cur->offset < slog_first(l)) {
		cur->offset = slog_first(l);
		cur->file_pos = 0;
	}
	while ((size_t)given < max && cur->offset < committed) {
		struct slog_segment *sg = slog_segment_of(l, cur->offset);
		if (!sg || slog_segment_rfds(l, sg) != 0)
			return -1;
		if (cur->seg_first != sg->first || !cur->file_pos) {
			cur->seg_first = sg->first;
			if (slog_seek(l, sg, cur->offset, &cur->file_pos) != 0)
				return -1;
		}
		if (cur->file_pos >= sg->size) {
			/* the end of this segment: the next one starts at its next offset, or later
			 * when a segment between them is missing (no offsets there: go on past) */
			cur->offset = sg->next > cur->offset ? sg->next : cur->offset;
			cur->file_pos = 0;
			if (sg == slog_head(l))
				break;
			if (sg[1].first > cur->offset)
				cur->offset = sg[1].first;
			continue;
		}
		/* the header and the filter block that may follow it: enough to skip the chunk */
		uint64_t want = sg->size - cur->file_pos < sizeof hdr ? sg->size - cur->file_pos :
									 sizeof hdr;
		ssize_t got = store_io_pread(sg->rfd, hdr, (size_t)want, cur->file_pos);
		if (got < SLOG_CHUNK_HEADER ||
		    (get32(hdr) != SLOG_CHUNK_MAGIC && get32(hdr) != SLOG_CHUNK_MAGIC_F))
			goto corrupt;
		uint32_t plen = get32(hdr + 28), count = get32(hdr + 24);
		uint64_t first = get64(hdr + 8), ts = get64(hdr + 16);
		size_t fblock = 0;
		if (get32(hdr) == SLOG_CHUNK_MAGIC_F) {
			fblock = got < SLOG_CHUNK_HEADER + 2 ? SIZE_MAX :
							   2 + (size_t)hdr[SLOG_CHUNK_HEADER + 1];
			if (fblock > plen || fblock > (size_t)got - SLOG_CHUNK_HEADER)
				goto corrupt;
			if (cur->filter &&
			    !sbloom_chunk_may_match(cur->filter, hdr[SLOG_CHUNK_HEADER],
						    hdr + SLOG_CHUNK_HEADER + 2, fblock - 2)) {
				/* nothing the reader wants: its messages are not read */
				l->chunks_skipped++;
				cur->file_pos += SLOG_CHUNK_HEADER + (uint64_t)plen;
				cur->offset = first + count > cur->offset ? first + count : cur->offset;
				if (++skipped >= SLOG_SKIP_MAX)
					break;
				continue;
			}
		}
		l->chunks_read++;
		if (l->rbuf_cap < plen) {
			uint8_t *b = realloc(l->rbuf, plen);
			if (!b)
				return given ? given : -1;
			l->rbuf = b;
			l->rbuf_cap = plen;
		}
		if (store_io_pread(sg->rfd, l->rbuf, plen, cur->file_pos + SLOG_CHUNK_HEADER) !=
			    (ssize_t)plen ||
		    slog_chunk_crc(hdr, l->rbuf, plen) != get32(hdr + 4))
			goto corrupt;
		const uint8_t *p = l->rbuf + fblock, *end = l->rbuf + plen;
		bool stop = false;
		for (uint32_t i = 0; i < count && p + 4 <= end; i++) {
			uint32_t rlen = get32(p);
			const uint8_t *r = p + 4, *rend = r + rlen;
			p = rend;
			if (rend > end || rlen < 6)
				goto corrupt;
			if (first + i < cur->offset || stop)
				continue;
			struct slog_entry en = { .offset = first + i, .timestamp_ms = ts };
			en.msg.exchange_len = *r++;
			en.msg.exchange = r;
			r += en.msg.exchange_len;
			en.msg.routing_key_len = *r++;
			en.msg.routing_key = r;
			r += en.msg.routing_key_len;
			if (r + 4 > rend)
				goto corrupt;
			en.msg.props_len = get32(r);
			r += 4;
			if (r + en.msg.props_len > rend)
				goto corrupt;
			en.msg.props = r;
			r += en.msg.props_len;
			en.msg.body = r;
			en.msg.body_len = (uint64_t)(rend - r);
			cur->offset = first + i + 1;
			given++;
			if (fn(arg, &en) != 0 || (size_t)given >= max)
				stop = true;
		}
		if (cur->offset >= first + count) {
			cur->file_pos += SLOG_CHUNK_HEADER + (uint64_t)plen;
			cur->offset = first + count;
		}
		if (stop)
			break;
		continue;
corrupt:
		store_log_error("stream %s: the chunk at %" PRIu64 " of segment %020" PRIu64
				" is corrupt; readers skip that segment", l->dir, cur->file_pos,
				sg->first);
		cur->offset = sg->next > cur->offset ? sg->next : cur->offset + 1;
		cur->file_pos = 0;
		return given ? given : -1;
	}
	return given;
}
