/* tests/unit/storage/storage_helpers.c: see storage_helpers.h. */
#include "storage_helpers.h"

#include <check.h>
#include <dirent.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char harness_log_lines[HARNESS_LOG_KEEP][1024];
static unsigned harness_log_count;

static void harness_on_log(void *arg, int level, const char *msg)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };

	(void)arg;
	fprintf(stderr, "[%s] %s\n", level >= 0 && level <= 3 ? names[level] : "?", msg);
	snprintf(harness_log_lines[harness_log_count++ % HARNESS_LOG_KEEP],
		 sizeof harness_log_lines[0], "%s", msg);
}

const char *harness_log_find(const char *needle)
{
	unsigned n = harness_log_count < HARNESS_LOG_KEEP ? harness_log_count : HARNESS_LOG_KEEP;

	for (unsigned i = 1; i <= n; i++) {
		const char *line = harness_log_lines[(harness_log_count - i) % HARNESS_LOG_KEEP];
		if (strstr(line, needle))
			return line;
	}
	return NULL;
}

void harness_log_clear(void)
{
	harness_log_count = 0;
}

static void harness_on_synced(void *arg, uint64_t ticket, bool ok)
{
	struct harness *h = arg;

	if (!pthread_equal(pthread_self(), h->loop_thread))
		h->off_loop = true;
	if (h->synced_count < HARNESS_MAX_SYNCED) {
		h->tickets[h->synced_count] = ticket;
		h->oks[h->synced_count] = ok;
	}
	h->synced_count++;
}

static void harness_open(struct harness *h)
{
	char err[256] = "";

	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_msg(h->store != NULL, "store_open: %s", err);
}

struct harness *harness_new(uint64_t segment_size)
{
	struct harness *h = calloc(1, sizeof *h);

	ck_assert_ptr_nonnull(h);
	store_set_log(harness_on_log, NULL);
	snprintf(h->dir, sizeof h->dir, "/tmp/warren-storage-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	h->base = event_base_new();
	ck_assert_ptr_nonnull(h->base);
	h->loop_thread = pthread_self();
	h->opt.segment_size = segment_size;
	h->opt.synced = harness_on_synced;
	h->opt.synced_arg = h;
	harness_open(h);
	return h;
}

void harness_reopen(struct harness *h)
{
	store_close(h->store);
	harness_open(h);
}

static int harness_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void harness_free(struct harness *h)
{
	store_close(h->store);
	event_base_free(h->base);
	nftw(h->dir, harness_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(h);
}

bool harness_wait(struct harness *h, uint64_t ticket)
{
	for (int spins = 0; spins < 100000; spins++) {
		for (unsigned i = 0; i < h->synced_count && i < HARNESS_MAX_SYNCED; i++)
			if (h->tickets[i] == ticket)
				return h->oks[i];
		event_base_loop(h->base, EVLOOP_ONCE);
	}
	ck_abort_msg("ticket %llu never completed", (unsigned long long)ticket);
	return false;
}

uint64_t harness_publish(struct harness *h, const char *body, const uint64_t *queues)
{
	static const uint8_t props[] = { 0x10, 0x00, 0x02 }; /* delivery-mode 2 */
	struct store_message m = {
		.exchange = (const uint8_t *)"amq.direct",
		.exchange_len = 10,
		.routing_key = (const uint8_t *)"rk",
		.routing_key_len = 2,
		.props = props,
		.props_len = sizeof props,
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
	};
	uint64_t id = store_message_add(h->store, &m);

	for (const uint64_t *q = queues; id && *q; q++)
		ck_assert_int_eq(store_enqueue(h->store, *q, id), 0);
	return id;
}

static int harness_on_recovered(void *arg, uint64_t queue_id, uint64_t msg_id,
				const struct store_message *m)
{
	struct recovered *r = arg;

	ck_assert_uint_lt(r->count, 8192);
	ck_assert_uint_eq(m->exchange_len, 10);
	ck_assert_int_eq(memcmp(m->exchange, "amq.direct", 10), 0);
	ck_assert_uint_eq(m->routing_key_len, 2);
	ck_assert_uint_eq(m->props_len, 3);
	ck_assert_uint_lt(m->body_len, sizeof r->bodies[0]);
	r->queue_ids[r->count] = queue_id;
	r->msg_ids[r->count] = msg_id;
	memcpy(r->bodies[r->count], m->body, m->body_len);
	r->bodies[r->count][m->body_len] = '\0';
	r->count++;
	return 0;
}

int harness_recover(struct harness *h, struct recovered *r, struct store_recovery_stats *st)
{
	if (!r)
		return store_recover(h->store, NULL, NULL, st);
	memset(r, 0, sizeof *r);
	return store_recover(h->store, harness_on_recovered, r, st);
}

void harness_segment_path(const struct harness *h, uint32_t no, char *buf, size_t len)
{
	snprintf(buf, len, "%s/msgs/%08u.seg", h->dir, no);
}

long harness_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

unsigned harness_segment_count(const struct harness *h)
{
	char path[300];
	DIR *d;
	struct dirent *e;
	unsigned n = 0;

	snprintf(path, sizeof path, "%s/msgs", h->dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".seg"))
			n++;
	closedir(d);
	return n;
}
