/* tests/unit/storage/test_store_recover_oom.c: recovery under allocation failure. Linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so every allocation storage/ makes goes
 * through oom_fail_after(); for n = 1, 2, ... the n-th allocation of store_recover fails
 * (SQLite's sweep). Each run must either recover every message or fail (-1) without writing
 * anything, so that the next start still recovers every message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_helpers.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long oom_countdown = -1; /* allocations left before the failing one; -1: off */
static long oom_injected;

static bool oom_should_fail(void)
{
	if (oom_countdown < 0)
		return false;
	if (oom_countdown-- > 0)
		return false;
	oom_injected++;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return oom_should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return oom_should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return oom_should_fail() ? NULL : __real_realloc(p, n);
}

/* Counts what recovery hands over; no Check calls here, since they allocate. */
static int count_message(void *arg, uint64_t queue_id, uint64_t msg_id,
			 const struct store_message *m)
{
	(void)queue_id, (void)msg_id, (void)m;
	++*(unsigned *)arg;
	return 0;
}

#define QA 0xaaaa
#define QB 0xbbbb

START_TEST(every_allocation_failure_in_recovery_loses_nothing)
{
	static const uint64_t both[] = { QA, QB, 0 }, only_b[] = { QB, 0 };
	struct harness *h = harness_new(4096); /* several segments */
	char body[32];
	unsigned expect = 0;
	long n;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	for (unsigned i = 0; i < 300; i++) {
		snprintf(body, sizeof body, "m%u", i);
		ck_assert_uint_gt(harness_publish(h, body, i % 3 ? only_b : both), 0);
		expect += i % 3 ? 1 : 2;
	}
	for (uint64_t id = 1; id <= 300; id += 7) {
		ck_assert_int_eq(store_dequeue(h->store, QB, id), 0);
		expect--;
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	for (n = 0;; n++) {
		long before;
		int rc;

		unsigned got = 0;

		harness_reopen(h);
		before = oom_injected;
		oom_countdown = n;
		rc = store_recover(h->store, count_message, &got, NULL);
		oom_countdown = -1;
		if (rc == 0) {
			ck_assert_msg(got == expect, "n=%ld: recovered %u of %u", n, got, expect);
			if (oom_injected == before)
				break; /* the sweep went past the last allocation */
			continue;
		}
		/* failed: no appends now, and a clean start finds everything */
		ck_assert_uint_eq(harness_publish(h, "x", only_b), 0);
		harness_reopen(h);
		got = 0;
		ck_assert_int_eq(store_recover(h->store, count_message, &got, NULL), 0);
		ck_assert_msg(got == expect, "n=%ld: after a failed recovery, %u of %u", n, got,
			      expect);
	}
	ck_assert_int_gt(n, 10); /* it did reach allocations */
	harness_free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_recover_oom");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_allocation_failure_in_recovery_loses_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
