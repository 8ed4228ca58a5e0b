/* tests/unit/storage/storage_helpers.h: a temp data directory, a store on a real event loop,
 * and a record of every synced callback (ticket, ok, thread) for the storage tests. */
#ifndef TESTS_UNIT_STORAGE_HELPERS_H
#define TESTS_UNIT_STORAGE_HELPERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

#define HARNESS_MAX_SYNCED 4096

struct harness {
	char dir[256];
	struct event_base *base;
	struct store *store;
	struct store_options opt;
	pthread_t loop_thread;
	uint64_t tickets[HARNESS_MAX_SYNCED];
	bool oks[HARNESS_MAX_SYNCED];
	bool off_loop; /* a callback ran on another thread */
	unsigned synced_count;
};

/* The storage log: harness_new installs a log function that prints each line to stderr and
 * keeps the last HARNESS_LOG_KEEP; harness_log_find returns the newest kept line containing
 * needle (NULL when none), harness_log_clear forgets them. */
#define HARNESS_LOG_KEEP 64
const char *harness_log_find(const char *needle);
void harness_log_clear(void);

/* A fresh temp directory and a store in it (recovered, empty). */
struct harness *harness_new(uint64_t segment_size);
/* Closes the store (as a clean shutdown) and opens it again without recovering. */
void harness_reopen(struct harness *h);
/* Closes the store and removes the directory. */
void harness_free(struct harness *h);
/* Runs the loop until the synced callback for ticket has run; its ok flag. */
bool harness_wait(struct harness *h, uint64_t ticket);

/* Adds a message with the given body to the listed queues (0-terminated). */
uint64_t harness_publish(struct harness *h, const char *body, const uint64_t *queues);

/* What recovery handed over, in call order (r may be NULL: not recorded). */
struct recovered {
	unsigned count;
	uint64_t queue_ids[8192];
	uint64_t msg_ids[8192];
	char bodies[8192][64];
};

int harness_recover(struct harness *h, struct recovered *r, struct store_recovery_stats *st);

/* Segment file path for number no; file size or -1. */
void harness_segment_path(const struct harness *h, uint32_t no, char *buf, size_t len);
long harness_file_size(const char *path);
unsigned harness_segment_count(const struct harness *h);

#endif
