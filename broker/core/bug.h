/* broker/core/bug.h: checks that stay on in release builds. assert() vanishes under NDEBUG (meson's
 * b_ndebug=if-release), so a broken invariant would run on into corrupt state, and a fuzz
 * harness built for release would check nothing. These print what failed, where, and abort().
 *
 *   BUG_ON(cond)        an invariant of the code itself is broken (never bad input: that gets an
 *                       AMQP error, STYLE.md section 5); for broker/, storage/, mgmt/.
 *   WARREN_CHECK(cond)  tests and fuzz harnesses: cond must hold. Check suites use ck_assert_*.
 *
 * Both evaluate cond exactly once, in every build. Header only, no dependencies, so amqp/,
 * storage/ and tests/ can include it too (the tree map moves it to broker/core/). */
#ifndef BROKER_BUG_H
#define BROKER_BUG_H

#include <stdio.h>
#include <stdlib.h>

static inline _Noreturn void bug_fail(const char *what, const char *expr, const char *file,
				      int line, const char *func)
{
	fprintf(stderr, "%s:%d: %s: %s(%s) failed\n", file, line, func, what, expr);
	fflush(stderr);
	abort();
}

#define BUG_ON(cond)                                                                   \
	((void)(__builtin_expect(!!(cond), 0)                                          \
			? (bug_fail("BUG_ON", #cond, __FILE__, __LINE__, __func__), 0) \
			: 0))

#define WARREN_CHECK(cond)                                                                   \
	((void)(__builtin_expect(!!(cond), 1)                                                \
			? 0                                                                  \
			: (bug_fail("WARREN_CHECK", #cond, __FILE__, __LINE__, __func__), 0)))

#endif
