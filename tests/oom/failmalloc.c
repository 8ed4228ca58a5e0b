/* tests/oom/failmalloc.c: allocation fault injector for the OOM sweep (tests/oom/oom_sweep.py).
 *
 * After each accepted AMQP connection it counts allocations (malloc, calloc, realloc, strdup,
 * strndup, from any thread) and makes exactly one fail: the k-th accepted connection (k = 0, 1,
 * ...) fails allocation number WARREN_FAIL_NTH + k counted from its accept, so one broker run
 * sweeps n = WARREN_FAIL_NTH, WARREN_FAIL_NTH + 1, ... with one connection per n; start-up is
 * never swept. WARREN_FAIL_LAST (default unlimited) ends the sweep: later connections see no
 * failures. Each injected failure is reported on stderr as
 * "failmalloc: connection K: failed allocation N (SIZE bytes)" so the driver knows whether the
 * scenario reached it.
 *
 * Two ways in, because ASan and LD_PRELOAD do not mix (clang links ASan's malloc into the
 * executable, ahead of any preloaded library):
 *   - built as a shared module and LD_PRELOADed into the normal broker: it interposes the
 *     allocator for the broker and every library (libevent, jansson, OpenSSL), and accept4;
 *   - built with -DFAILMALLOC_WRAP into a dedicated broker executable linked with
 *     -Wl,--wrap=malloc,... : only the broker's own calls are counted, and conn_new (wrapped
 *     too) marks the accept. Sanitizer builds use this one, so the leak checker runs. */
#ifndef FAILMALLOC_WRAP
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#endif
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_long fail_count = -1; /* allocations since the last accept; -1 = not armed */
static atomic_long fail_target;      /* which one fails (1-based) */
static atomic_long fail_conn = -1;   /* accepted connections so far, minus one */
static long fail_first = -1, fail_last = -1;

static void failmalloc_config(void)
{
	if (fail_first >= 0)
		return;
	const char *s = getenv("WARREN_FAIL_NTH");
	const char *l = getenv("WARREN_FAIL_LAST");
	fail_first = s ? atol(s) : 0;
	fail_last = l ? atol(l) : -1;
}

/* A connection was accepted: arm for it. */
static void failmalloc_accepted(void)
{
	failmalloc_config();
	long k = atomic_fetch_add(&fail_conn, 1) + 1;
	long n = fail_first + k;
	if (fail_first <= 0 || (fail_last >= 0 && n > fail_last)) {
		atomic_store(&fail_count, -1);
		return;
	}
	atomic_store(&fail_target, n);
	atomic_store(&fail_count, 0);
}

static bool failmalloc_should_fail(size_t size)
{
	if (atomic_load_explicit(&fail_count, memory_order_relaxed) < 0)
		return false;
	long c = atomic_fetch_add(&fail_count, 1) + 1;
	if (c != atomic_load(&fail_target))
		return false;
	char line[128];
	int len = snprintf(line, sizeof line, "failmalloc: connection %ld: failed allocation %ld "
			   "(%zu bytes)\n", atomic_load(&fail_conn), c, size);
	if (len > 0 && write(2, line, (size_t)len) < 0)
		return true;
	/* WARREN_FAIL_TRAP=n: stop in a debugger at the n-th injected failure's call site. */
	const char *trap = getenv("WARREN_FAIL_TRAP");
	if (trap && atol(trap) == atomic_load(&fail_target))
		raise(SIGTRAP);
	return true;
}

#ifdef FAILMALLOC_WRAP

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
struct conn *__real_conn_new(void *b, int fd, const struct sockaddr *peer, int peerlen,
			     void *ssl_ctx);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
struct conn *__wrap_conn_new(void *b, int fd, const struct sockaddr *peer, int peerlen,
			     void *ssl_ctx);

void *__wrap_malloc(size_t size)
{
	return failmalloc_should_fail(size) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return failmalloc_should_fail(n * size) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return failmalloc_should_fail(size) ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return failmalloc_should_fail(strlen(s) + 1) ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return failmalloc_should_fail(n + 1) ? NULL : __real_strndup(s, n);
}

struct conn *__wrap_conn_new(void *b, int fd, const struct sockaddr *peer, int peerlen,
			     void *ssl_ctx)
{
	failmalloc_accepted();
	return __real_conn_new(b, fd, peer, peerlen, ssl_ctx);
}

#else /* LD_PRELOAD */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);

/* dlsym may allocate before the real allocator is known: serve it from here. */
static _Alignas(16) unsigned char boot[8192];
static size_t boot_used;

static void *boot_alloc(size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (boot_used + size > sizeof boot)
		return NULL;
	void *p = boot + boot_used;
	boot_used += size;
	return p;
}

static bool is_boot(const void *p)
{
	return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static void failmalloc_init(void)
{
	static bool busy;
	if (real_malloc || busy)
		return;
	busy = true;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT,
										 "accept4");
	real_accept = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	busy = false;
}

void *malloc(size_t size)
{
	failmalloc_init();
	if (!real_malloc)
		return boot_alloc(size);
	return failmalloc_should_fail(size) ? NULL : real_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	failmalloc_init();
	if (!real_calloc) {
		void *p = boot_alloc(n * size);
		if (p)
			memset(p, 0, n * size);
		return p;
	}
	return failmalloc_should_fail(n * size) ? NULL : real_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	failmalloc_init();
	if (is_boot(p)) {
		void *q = malloc(size);
		size_t have = (size_t)(boot + sizeof boot - (unsigned char *)p);
		if (q)
			memcpy(q, p, size < have ? size : have);
		return q;
	}
	return failmalloc_should_fail(size) ? NULL : real_realloc(p, size);
}

void free(void *p)
{
	if (!p || is_boot(p))
		return;
	failmalloc_init();
	real_free(p);
}

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

char *strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	failmalloc_init();
	int r = real_accept4(fd, addr, len, flags);
	if (r >= 0)
		failmalloc_accepted();
	return r;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	failmalloc_init();
	int r = real_accept(fd, addr, len);
	if (r >= 0)
		failmalloc_accepted();
	return r;
}

#endif
