/* tests/unit/broker/test_bug.c: broker/bug.h's checks stay on where assert() is gone. This file
 * is always compiled with NDEBUG (tests/unit/broker/meson.build), as a release build compiles the
 * broker and the fuzz harnesses, so a check that only worked with assert() would fail here. Each
 * failing check runs in a child process whose stderr and exit signal are inspected. */
#ifndef NDEBUG
#error "test_bug.c must be compiled with NDEBUG, as in a release build"
#endif

#include "broker/core/bug.h"

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_result {
	bool aborted; /* killed by SIGABRT */
	char err[512]; /* what it wrote to stderr */
};

/* Runs fn in a child process with stderr captured. */
static struct child_result bug_run_child(void (*fn)(void))
{
	struct child_result r = { 0 };
	int fds[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof r.err - 1 &&
	       (n = read(fds[0], r.err + len, sizeof r.err - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	r.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
	return r;
}

static int evaluations;

static int bug_count(int v)
{
	evaluations++;
	return v;
}

static void bug_failing_check(void)
{
	WARREN_CHECK(bug_count(1) + 1 == 3);
}

static void bug_passing_check(void)
{
	WARREN_CHECK(bug_count(2) == 2);
}

static void bug_broken_invariant(void)
{
	const char *slot = NULL;

	BUG_ON(slot == NULL);
}

START_TEST(a_failing_check_aborts_with_its_expression_and_place_when_ndebug_is_set)
{
	struct child_result r = bug_run_child(bug_failing_check);

	ck_assert_msg(r.aborted, "WARREN_CHECK did not abort; stderr: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "test_bug.c:"));
	ck_assert_ptr_nonnull(strstr(r.err, "bug_failing_check"));
	ck_assert_ptr_nonnull(strstr(r.err, "WARREN_CHECK(bug_count(1) + 1 == 3) failed"));
}
END_TEST

START_TEST(a_broken_invariant_aborts_when_ndebug_is_set)
{
	struct child_result r = bug_run_child(bug_broken_invariant);

	ck_assert_msg(r.aborted, "BUG_ON did not abort; stderr: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "BUG_ON(slot == NULL) failed"));
}
END_TEST

START_TEST(a_passing_check_returns_and_prints_nothing)
{
	struct child_result r = bug_run_child(bug_passing_check);

	ck_assert(!r.aborted);
	ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(checks_evaluate_their_condition_exactly_once)
{
	int n = 0;

	evaluations = 0;
	WARREN_CHECK(bug_count(1) == 1);
	BUG_ON(bug_count(0) != 0);
	WARREN_CHECK(++n == 1);
	BUG_ON(++n != 2);
	ck_assert_int_eq(evaluations, 2);
	ck_assert_int_eq(n, 2);
}
END_TEST

static Suite *bug_suite(void)
{
	Suite *s = suite_create("bug");
	TCase *tc = tcase_create("checks");

	tcase_add_test(tc, a_failing_check_aborts_with_its_expression_and_place_when_ndebug_is_set);
	tcase_add_test(tc, a_broken_invariant_aborts_when_ndebug_is_set);
	tcase_add_test(tc, a_passing_check_returns_and_prints_nothing);
	tcase_add_test(tc, checks_evaluate_their_condition_exactly_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bug_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
