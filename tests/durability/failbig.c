/* tests/durability/failbig.c: an LD_PRELOAD allocator shim for startup_oom_test.py. Every
 * malloc, calloc or realloc of WARREN_FAIL_ABOVE bytes or more returns NULL (and says so on
 * stderr); smaller ones go to the real allocator. A broker started with it cannot allocate a
 * large message, which is how the test makes recovery run out of memory at a known place. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t failbig_limit(void)
{
	static size_t limit;

	if (!limit) {
		const char *s = getenv("WARREN_FAIL_ABOVE");
		limit = s && atol(s) > 0 ? (size_t)atol(s) : (size_t)-1;
	}
	return limit;
}

static int failbig_refuse(size_t n)
{
	char line[96];
	int len;

	if (n < failbig_limit())
		return 0;
	len = snprintf(line, sizeof line, "failbig: refused an allocation of %zu bytes\n", n);
	if (len > 0 && write(2, line, (size_t)len) < 0)
		return 1;
	return 1;
}

/* dlsym may call calloc itself: serve that from a small static buffer. */
static char failbig_boot[4096];
static size_t failbig_boot_used;

void *malloc(size_t n)
{
	static void *(*real)(size_t);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "malloc");
	return failbig_refuse(n) ? NULL : real(n);
}

void *calloc(size_t n, size_t size)
{
	static void *(*real)(size_t, size_t);
	static int resolving;

	if (!real) {
		if (resolving) {
			size_t want = (n * size + 15) & ~(size_t)15;
			void *p = failbig_boot + failbig_boot_used;
			if (failbig_boot_used + want > sizeof failbig_boot)
				return NULL;
			failbig_boot_used += want;
			return p; /* static storage: already zero */
		}
		resolving = 1;
		*(void **)&real = dlsym(RTLD_NEXT, "calloc");
		resolving = 0;
	}
	if (size && n > (size_t)-1 / size)
		return NULL;
	return failbig_refuse(n * size) ? NULL : real(n, size);
}

void *realloc(void *p, size_t n)
{
	static void *(*real)(void *, size_t);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "realloc");
	return failbig_refuse(n) ? NULL : real(p, n);
}

void free(void *p)
{
	static void (*real)(void *);

	if ((char *)p >= failbig_boot && (char *)p < failbig_boot + sizeof failbig_boot)
		return;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "free");
	real(p);
}
