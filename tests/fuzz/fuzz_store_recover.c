/* tests/fuzz/fuzz_store_recover.c: storage recovery over arbitrary segment bytes. The input is
 * written as msgs/00000001.seg of a scratch data directory (seeds of both formats: seed-*.seg
 * without "v2" are format 1 logs of Warren 0.1.0, seed-v2-* format 2 ones with salted
 * checksums), then the store is opened and recovered (every recovered message is read end to end, so ASan sees any bad pointer), one
 * message is appended and synced, and the store is closed. */
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/core/bug.h"
#include "storage/store.h"
#include "storage/store_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_sum;

static int fuzz_on_message(void *arg, uint64_t queue_id, uint64_t msg_id,
			   const struct store_message *m)
{
	(void)arg;
	WARREN_CHECK(queue_id != 0 && msg_id != 0);
	for (uint32_t i = 0; i < m->exchange_len; i++)
		fuzz_sum += m->exchange[i];
	for (uint32_t i = 0; i < m->routing_key_len; i++)
		fuzz_sum += m->routing_key[i];
	for (uint32_t i = 0; i < m->props_len; i++)
		fuzz_sum += m->props[i];
	for (uint64_t i = 0; i < m->body_len; i++)
		fuzz_sum += m->body[i];
	return 0;
}

static void fuzz_on_synced(void *arg, uint64_t ticket, bool ok)
{
	*(uint64_t *)arg = ok ? ticket : UINT64_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	char path[128], err[256];
	static struct event_base *base;
	uint64_t done = 0;
	struct store_options opt = { .segment_size = 4096, .no_fsync = true,
				     .synced = fuzz_on_synced, .synced_arg = &done };
	struct store_message m = { .body = (const uint8_t *)"x", .body_len = 1 };
	struct store *s;
	FILE *f;

	if (!base) {
		snprintf(dir, sizeof dir, "/tmp/warren-fuzz-store-XXXXXX");
		WARREN_CHECK(mkdtemp(dir) && (base = event_base_new()));
	}
	snprintf(path, sizeof path, "%s/msgs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/msgs/00000001.seg", dir);
	f = fopen(path, "wb");
	WARREN_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
	s = store_open(base, dir, &opt, err, sizeof err);
	if (!s)
		fprintf(stderr, "store_open: %s\n", err);
	WARREN_CHECK(s != NULL);
	/* recovery never fails on damaged bytes; only a header of a newer format is refused */
	bool newer = size >= 12 && memcmp(data, STORE_SEGMENT_MAGIC, 8) == 0 &&
		     store_record_get_u32(data + 8) > STORE_FORMAT_VERSION;
	WARREN_CHECK(store_recover(s, fuzz_on_message, NULL, NULL) == (newer ? -1 : 0));
	uint64_t id = newer ? 0 : store_message_add(s, &m);
	if (id) {
		uint64_t ticket;
		store_enqueue(s, 1, id);
		ticket = store_sync(s);
		while (done != ticket && done != UINT64_MAX)
			event_base_loop(base, EVLOOP_ONCE);
	}
	store_close(s);
	unlink(path);
	snprintf(path, sizeof path, "%s/msgs/00000002.seg", dir);
	unlink(path);
	return 0;
}
