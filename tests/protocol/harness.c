/* Broker process control and a raw AMQP client with timeouts, for tests/protocol/.
 *
 * The broker's stderr goes to a log file in its temp dir rather than a pipe, so a chatty broker can
 * never block on a full pipe while the tests are busy; harness_start polls that file for "ready".
 * Reads go through poll() with a deadline; writes use MSG_NOSIGNAL so a server that closed first
 * gives EPIPE, not a dead test.
 */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_READY_TIMEOUT_MS 10000
#define HARNESS_STOP_TIMEOUT_MS 10000

static struct {
	char host[256];
	char port[16];
	bool external;
	pid_t pid;
	char dir[64];
	char log[96];
} harness;

static int64_t harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

bool harness_is_external(void)
{
	return harness.external;
}

/* Binding port 0 makes the kernel pick a free port; the broker gets it a moment later. The race
 * with other processes is why harness_start retries. */
static int harness_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sa_len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sa_len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static char *harness_log_read(void)
{
	FILE *fp = fopen(harness.log, "r");
	char *text = NULL;
	size_t len = 0;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0) {
		long n = ftell(fp);
		if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
			text = malloc((size_t)n + 1);
			if (text) {
				len = fread(text, 1, (size_t)n, fp);
				text[len] = '\0';
			}
		}
	}
	fclose(fp);
	return text;
}

static void harness_log_print(const char *why)
{
	char *text = harness_log_read();

	fprintf(stderr, "protocol-tests: %s; broker log %s:\n%s\n", why, harness.log,
		text ? text : "(unreadable)");
	free(text);
}

static int harness_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

#define HARNESS_EXTRA_ARGS_MAX 8

static pid_t harness_spawn(const char *bin, const char *data_dir, const char *const *extra_args)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Child: if the test runner dies, take the broker with it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	int fd = open(harness.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int devnull = open("/dev/null", O_RDWR);
	if (fd < 0 || devnull < 0)
		_exit(127);
	dup2(devnull, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	const char *argv[10 + HARNESS_EXTRA_ARGS_MAX + 1] = {
		bin, "--port", harness.port, "--mgmt-port", "0", "--data-dir", data_dir, "--bind",
		"127.0.0.1",
	};
	size_t argc = 9;
	for (size_t i = 0; extra_args && extra_args[i] && i < HARNESS_EXTRA_ARGS_MAX; i++)
		argv[argc++] = extra_args[i];
	argv[argc] = NULL;
	execv(bin, (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Waits for "ready" in the log. 0: ready; -1: the broker exited or never got ready. */
static int harness_wait_ready(void)
{
	int64_t deadline = harness_now_ms() + HARNESS_READY_TIMEOUT_MS;
	int status;

	while (harness_now_ms() < deadline) {
		char *text = harness_log_read();
		bool ready = text && strstr(text, "ready");
		free(text);
		if (ready)
			return 0;
		if (waitpid(harness.pid, &status, WNOHANG) == harness.pid) {
			harness.pid = 0;
			harness_log_print("the broker exited before it was ready");
			return -1;
		}
		harness_sleep_ms(20);
	}
	harness_log_print("the broker did not print 'ready' within 10 s");
	kill(harness.pid, SIGKILL);
	waitpid(harness.pid, &status, 0);
	harness.pid = 0;
	return -1;
}

int harness_start(const char *const *extra_args)
{
	const char *addr = getenv("WARREN_TEST_ADDR");
	const char *bin = getenv("WARREN_BIN");
	char data_dir[128];

	signal(SIGPIPE, SIG_IGN);
	if (addr && addr[0]) {
		const char *colon = strrchr(addr, ':');
		size_t host_len = colon ? (size_t)(colon - addr) : 0;
		if (!colon || host_len == 0 || host_len >= sizeof harness.host ||
		    strlen(colon + 1) >= sizeof harness.port) {
			fprintf(stderr, "protocol-tests: WARREN_TEST_ADDR must be host:port\n");
			return -1;
		}
		memcpy(harness.host, addr, host_len);
		harness.host[host_len] = '\0';
		snprintf(harness.port, sizeof harness.port, "%s", colon + 1);
		harness.external = true;
		return 0;
	}
	if (!bin || !bin[0])
		bin = "build/broker/warren";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "protocol-tests: broker binary %s: %s (set WARREN_BIN or "
				"WARREN_TEST_ADDR)\n", bin, strerror(errno));
		return -1;
	}
	snprintf(harness.dir, sizeof harness.dir, "/tmp/warren-protocol-XXXXXX");
	if (!mkdtemp(harness.dir)) {
		perror("protocol-tests: mkdtemp");
		return -1;
	}
	snprintf(harness.log, sizeof harness.log, "%s/broker.log", harness.dir);
	snprintf(data_dir, sizeof data_dir, "%s/data", harness.dir);
	if (mkdir(data_dir, 0700) != 0) {
		perror("protocol-tests: mkdir");
		return -1;
	}
	snprintf(harness.host, sizeof harness.host, "127.0.0.1");
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = harness_free_port();
		if (port < 0)
			continue;
		snprintf(harness.port, sizeof harness.port, "%d", port);
		harness.pid = harness_spawn(bin, data_dir, extra_args);
		if (harness.pid < 0) {
			perror("protocol-tests: fork");
			return -1;
		}
		if (harness_wait_ready() == 0)
			return 0;
	}
	return -1;
}

/* Sanitizers report on stderr; UBSan keeps running after a report, so the exit code alone is not
 * enough. */
static bool harness_log_has_sanitizer_report(void)
{
	static const char *const marks[] = { "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
					     "MemorySanitizer", "runtime error:" };
	char *text = harness_log_read();
	bool found = false;

	for (size_t i = 0; text && i < sizeof marks / sizeof marks[0]; i++)
		found = found || strstr(text, marks[i]) != NULL;
	free(text);
	return found;
}

int harness_stop(void)
{
	int64_t deadline = harness_now_ms() + HARNESS_STOP_TIMEOUT_MS;
	int status = 0;
	int rc = -1;
	pid_t got = 0;

	if (harness.external)
		return 0;
	if (harness.pid <= 0)
		goto out;
	kill(harness.pid, SIGTERM);
	while ((got = waitpid(harness.pid, &status, WNOHANG)) == 0 && harness_now_ms() < deadline)
		harness_sleep_ms(20);
	if (got != harness.pid) {
		kill(harness.pid, SIGKILL);
		waitpid(harness.pid, &status, 0);
		harness_log_print("the broker did not exit within 10 s of SIGTERM");
		goto out;
	}
	if (WIFSIGNALED(status)) {
		harness_log_print(strsignal(WTERMSIG(status)));
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		char why[64];
		snprintf(why, sizeof why, "the broker exited with status %d", WEXITSTATUS(status));
		harness_log_print(why);
		goto out;
	}
	if (harness_log_has_sanitizer_report()) {
		harness_log_print("the broker's log has a sanitizer report");
		goto out;
	}
	rc = 0;
out:
	harness.pid = 0;
	if (harness.dir[0])
		nftw(harness.dir, harness_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}

struct harness_conn *harness_connect_quiet(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct harness_conn *c = NULL;
	struct timeval send_timeout = { HARNESS_TIMEOUT_MS / 1000, 0 };
	int fd = -1;
	int one = 1;

	if (getaddrinfo(harness.host, harness.port, &hints, &ai) != 0)
		goto out;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		/* Bounds connect() and every send(): a broker that stops reading cannot hang us. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
		if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		goto out;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		goto out;
	}
	c->fd = fd;
out:
	if (ai)
		freeaddrinfo(ai);
	return c;
}

struct harness_conn *harness_connect(void)
{
	struct harness_conn *c = harness_connect_quiet();

	ck_assert_msg(c != NULL, "cannot connect to %s:%s: %s (did the broker crash?)", harness.host,
		      harness.port, strerror(errno));
	return c;
}

void harness_conn_free(struct harness_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

int harness_send_quiet(struct harness_conn *c, struct frame *f)
{
	size_t off = 0;
	int rc = 0;

	while (off < f->len) {
		ssize_t n = send(c->fd, f->bytes + off, f->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	frame_free(f);
	return rc;
}

void harness_send(struct harness_conn *c, struct frame *f)
{
	int rc = harness_send_quiet(c, f);

	ck_assert_msg(rc == 0, "send failed: %s", strerror(errno));
}

/* Reads what is available into c->buf, waiting until the deadline. 1: got bytes, 0: EOF,
 * -1: timeout. A reset counts as EOF: either way the server is gone. */
static int harness_fill(struct harness_conn *c, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - harness_now_ms();
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (left <= 0)
			return -1;
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 262144;
			uint8_t *p = realloc(c->buf, cap);
			ck_assert_ptr_nonnull(p);
			c->buf = p;
			c->cap = cap;
		}
		ssize_t got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		c->len += (size_t)got;
		return 1;
	}
}

static void harness_consume(struct harness_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

size_t harness_read_bytes(struct harness_conn *c, uint8_t *out, size_t n, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	while (c->len < n && harness_fill(c, deadline) > 0)
		;
	size_t got = c->len < n ? c->len : n;
	memcpy(out, c->buf, got);
	harness_consume(c, got);
	return got;
}

enum harness_read harness_read_frame(struct harness_conn *c, struct harness_frame *f,
				     int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	memset(f, 0, sizeof *f);
	for (;;) {
		if (c->len >= 7) {
			uint32_t size = (uint32_t)c->buf[3] << 24 | (uint32_t)c->buf[4] << 16 |
					(uint32_t)c->buf[5] << 8 | c->buf[6];
			if (size > 16 * 1024 * 1024)
				return HARNESS_READ_BROKEN;
			if (c->len >= (size_t)size + 8) {
				if (c->buf[7 + size] != FRAME_END)
					return HARNESS_READ_BROKEN;
				f->type = c->buf[0];
				f->channel = (uint16_t)(c->buf[1] << 8 | c->buf[2]);
				f->size = size;
				f->payload = malloc(size + 1);
				ck_assert_ptr_nonnull(f->payload);
				memcpy(f->payload, c->buf + 7, size);
				if (f->type == FRAME_METHOD && size >= 4) {
					f->class_id = (uint16_t)(f->payload[0] << 8 | f->payload[1]);
					f->method_id = (uint16_t)(f->payload[2] << 8 | f->payload[3]);
				}
				harness_consume(c, (size_t)size + 8);
				return HARNESS_READ_FRAME;
			}
		}
		int rc = harness_fill(c, deadline);
		if (rc == 0)
			return c->len ? HARNESS_READ_BROKEN : HARNESS_READ_EOF;
		if (rc < 0)
			return HARNESS_READ_TIMEOUT;
	}
}

void harness_frame_clear(struct harness_frame *f)
{
	free(f->payload);
	memset(f, 0, sizeof *f);
}

/* code and text of a connection.close or channel.close frame. */
static void harness_close_args(const struct harness_frame *f, uint16_t *code, char *text,
			       size_t text_len, uint16_t *class_id, uint16_t *method_id)
{
	struct frame_reader r;

	frame_reader_init(&r, f->payload, f->size);
	frame_reader_skip(&r, 4);
	*code = frame_reader_u16(&r);
	frame_reader_shortstr(&r, text, text_len);
	*class_id = frame_reader_u16(&r);
	*method_id = frame_reader_u16(&r);
}

const char *harness_frame_describe(const struct harness_frame *f, char *buf, size_t len)
{
	if (f->type == FRAME_METHOD && ((f->class_id == 10 && f->method_id == 50) ||
					(f->class_id == 20 && f->method_id == 40))) {
		uint16_t code, class_id, method_id;
		char text[256];
		harness_close_args(f, &code, text, sizeof text, &class_id, &method_id);
		snprintf(buf, len, "%s.close on channel %u: %u '%s' (%u.%u)",
			 f->class_id == 10 ? "connection" : "channel", f->channel, code, text,
			 class_id, method_id);
	} else if (f->type == FRAME_METHOD) {
		snprintf(buf, len, "method %u.%u on channel %u", f->class_id, f->method_id,
			 f->channel);
	} else {
		snprintf(buf, len, "frame type %u on channel %u, %u bytes", f->type, f->channel,
			 f->size);
	}
	return buf;
}

static const char *harness_read_name(enum harness_read rc)
{
	switch (rc) {
	case HARNESS_READ_FRAME:
		return "a frame";
	case HARNESS_READ_EOF:
		return "the socket closed";
	case HARNESS_READ_TIMEOUT:
		return "timed out";
	case HARNESS_READ_BROKEN:
		return "bytes that are not a frame";
	}
	return "?";
}

/* The next frame that is not a heartbeat on channel 0; asserts that one arrives. */
static void harness_next(struct harness_conn *c, struct harness_frame *f, const char *wanted)
{
	for (;;) {
		enum harness_read rc = harness_read_frame(c, f, HARNESS_TIMEOUT_MS);
		ck_assert_msg(rc == HARNESS_READ_FRAME, "waiting for %s: %s", wanted,
			      harness_read_name(rc));
		if (f->type == FRAME_HEARTBEAT && f->channel == 0) {
			harness_frame_clear(f);
			continue;
		}
		return;
	}
}

void harness_expect_method(struct harness_conn *c, uint16_t channel, uint16_t class_id,
			   uint16_t method_id, struct harness_frame *out)
{
	struct harness_frame f;
	char wanted[64], got[512];

	snprintf(wanted, sizeof wanted, "method %u.%u on channel %u", class_id, method_id, channel);
	harness_next(c, &f, wanted);
	ck_assert_msg(f.type == FRAME_METHOD && f.channel == channel && f.class_id == class_id &&
			      f.method_id == method_id,
		      "expected %s, got %s", wanted, harness_frame_describe(&f, got, sizeof got));
	if (out)
		*out = f;
	else
		harness_frame_clear(&f);
}

void harness_expect_connection_close(struct harness_conn *c, uint16_t code, const char *text,
				     int class_id, int method_id)
{
	struct harness_frame f;
	uint16_t got_code, got_class, got_method;
	char got_text[256];

	harness_expect_method(c, 0, CONNECTION_CLOSE, &f);
	harness_close_args(&f, &got_code, got_text, sizeof got_text, &got_class, &got_method);
	harness_frame_clear(&f);
	ck_assert_uint_eq(got_code, code);
	ck_assert_str_eq(got_text, text);
	if (class_id >= 0)
		ck_assert_int_eq(got_class, class_id);
	if (method_id >= 0)
		ck_assert_int_eq(got_method, method_id);
	harness_send_quiet(c, frame_connection_close_ok());
	harness_expect_eof(c, HARNESS_TIMEOUT_MS);
}

void harness_expect_channel_close(struct harness_conn *c, uint16_t channel, uint16_t code,
				  const char *text)
{
	struct harness_frame f;
	uint16_t got_code, got_class, got_method;
	char got_text[256];

	harness_expect_method(c, channel, CHANNEL_CLOSE, &f);
	harness_close_args(&f, &got_code, got_text, sizeof got_text, &got_class, &got_method);
	harness_frame_clear(&f);
	ck_assert_uint_eq(got_code, code);
	ck_assert_str_eq(got_text, text);
}

void harness_expect_eof(struct harness_conn *c, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	struct harness_frame f;
	char got[512];

	for (;;) {
		int left = (int)(deadline - harness_now_ms());
		enum harness_read rc = harness_read_frame(c, &f, left > 0 ? left : 0);
		if (rc == HARNESS_READ_FRAME && f.type == FRAME_HEARTBEAT && f.channel == 0) {
			harness_frame_clear(&f);
			continue;
		}
		ck_assert_msg(rc != HARNESS_READ_FRAME, "expected the socket to close, got %s",
			      harness_frame_describe(&f, got, sizeof got));
		ck_assert_msg(rc == HARNESS_READ_EOF, "expected the socket to close: %s",
			      harness_read_name(rc));
		return;
	}
}

void harness_expect_closed(struct harness_conn *c, int timeout_ms, const uint16_t *codes,
			   size_t count)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	struct harness_frame f;
	char got[512];

	for (;;) {
		int left = (int)(deadline - harness_now_ms());
		enum harness_read rc = harness_read_frame(c, &f, left > 0 ? left : 0);
		if (rc == HARNESS_READ_EOF) {
			if (getenv("PROTOCOL_VERBOSE"))
				fprintf(stderr, "  (the socket closed)\n");
			return;
		}
		ck_assert_msg(rc == HARNESS_READ_FRAME, "expected the connection to close: %s",
			      harness_read_name(rc));
		if (f.type == FRAME_HEARTBEAT && f.channel == 0) {
			harness_frame_clear(&f);
			continue;
		}
		bool is_close = f.type == FRAME_METHOD && f.channel == 0 && f.class_id == 10 &&
				f.method_id == 50;
		uint16_t code = 0, class_id, method_id;
		char text[256];
		if (is_close)
			harness_close_args(&f, &code, text, sizeof text, &class_id, &method_id);
		bool allowed = false;
		for (size_t i = 0; is_close && i < count; i++)
			allowed = allowed || codes[i] == code;
		ck_assert_msg(allowed, "expected the connection to close, got %s",
			      harness_frame_describe(&f, got, sizeof got));
		if (getenv("PROTOCOL_VERBOSE"))
			fprintf(stderr, "  (%s)\n", harness_frame_describe(&f, got, sizeof got));
		harness_frame_clear(&f);
		harness_send_quiet(c, frame_connection_close_ok());
	}
}

void harness_expect_silence(struct harness_conn *c, int ms)
{
	int64_t deadline = harness_now_ms() + ms;
	struct harness_frame f;
	char got[512];
	enum harness_read rc;

	/* One deadline for the whole wait: server heartbeats must not stretch it. */
	for (;;) {
		int left = (int)(deadline - harness_now_ms());
		rc = harness_read_frame(c, &f, left > 0 ? left : 0);
		if (rc != HARNESS_READ_FRAME || f.type != FRAME_HEARTBEAT || f.channel != 0)
			break;
		harness_frame_clear(&f);
	}
	ck_assert_msg(rc == HARNESS_READ_TIMEOUT, "expected nothing for %d ms, got %s", ms,
		      rc == HARNESS_READ_FRAME ? harness_frame_describe(&f, got, sizeof got)
					       : harness_read_name(rc));
}

void harness_handshake_start(struct harness_conn *c, const char *password,
			     struct harness_frame *start, struct harness_frame *tune)
{
	struct harness_frame f;

	harness_send(c, frame_protocol_header());
	harness_expect_method(c, 0, CONNECTION_START, &f);
	if (start)
		*start = f;
	else
		harness_frame_clear(&f);
	harness_send(c, frame_connection_start_ok("guest", password));
	if (!tune) {
		harness_expect_method(c, 0, CONNECTION_TUNE, NULL);
		return;
	}
	harness_expect_method(c, 0, CONNECTION_TUNE, tune);
}

void harness_handshake_finish(struct harness_conn *c, uint32_t frame_max, uint16_t heartbeat)
{
	harness_handshake_finish_tuned(c, HARNESS_CHANNEL_MAX, frame_max, heartbeat);
}

void harness_handshake_finish_tuned(struct harness_conn *c, uint16_t channel_max,
				    uint32_t frame_max, uint16_t heartbeat)
{
	harness_send(c, frame_connection_tune_ok(channel_max, frame_max, heartbeat));
	harness_send(c, frame_connection_open("/"));
	harness_expect_method(c, 0, CONNECTION_OPEN_OK, NULL);
}

struct harness_conn *harness_open_tuned(uint32_t frame_max, uint16_t heartbeat)
{
	struct harness_conn *c = harness_connect();

	harness_handshake_start(c, "guest", NULL, NULL);
	harness_handshake_finish(c, frame_max, heartbeat);
	return c;
}

struct harness_conn *harness_open_channel_max(uint16_t channel_max, uint32_t frame_max)
{
	struct harness_conn *c = harness_connect();

	harness_handshake_start(c, "guest", NULL, NULL);
	harness_handshake_finish_tuned(c, channel_max, frame_max, 0);
	return c;
}

struct harness_conn *harness_open(void)
{
	return harness_open_tuned(HARNESS_FRAME_MAX, 0);
}

struct harness_conn *harness_open_with_channel(uint16_t channel)
{
	struct harness_conn *c = harness_open();

	harness_send(c, frame_channel_open(channel));
	harness_expect_method(c, channel, CHANNEL_OPEN_OK, NULL);
	return c;
}

const char *harness_name(char *buf, size_t len, const char *what)
{
	static unsigned counter;

	snprintf(buf, len, "warren-protocol-%s-%ld-%u-%u", what, (long)getpid(),
		 (unsigned)time(NULL), counter++);
	return buf;
}

void harness_declare_queue(struct harness_conn *c, uint16_t channel, char *name, size_t len)
{
	struct harness_frame f;
	struct frame_reader r;

	harness_send(c, frame_queue_declare(channel, "", QUEUE_EXCLUSIVE, NULL));
	harness_expect_method(c, channel, QUEUE_DECLARE_OK, &f);
	frame_reader_init(&r, f.payload + 4, f.size - 4);
	frame_reader_shortstr(&r, name, len);
	frame_reader_skip(&r, 8);
	ck_assert_msg(!r.failed && r.off == r.len, "declare-ok has %u bytes of arguments",
		      f.size - 4);
	ck_assert_str_ne(name, "");
	harness_frame_clear(&f);
}

void harness_roundtrip(struct harness_conn *c, uint16_t channel, const char *queue,
		       const char *body)
{
	struct harness_frame f;
	struct frame_reader r;
	size_t body_len = strlen(body);

	harness_send(c, frame_publish_message(channel, "", queue, body));
	harness_send(c, frame_basic_get(channel, queue, true));
	harness_expect_method(c, channel, BASIC_GET_OK, NULL);
	harness_next(c, &f, "a content header");
	ck_assert_uint_eq(f.type, FRAME_HEADER);
	ck_assert_uint_eq(f.channel, channel);
	frame_reader_init(&r, f.payload, f.size);
	ck_assert_uint_eq(frame_reader_u16(&r), 60);
	frame_reader_u16(&r);
	ck_assert_uint_eq(frame_reader_u64(&r), body_len);
	ck_assert(!r.failed);
	harness_frame_clear(&f);
	if (body_len == 0)
		return;
	harness_next(c, &f, "a body frame");
	ck_assert_uint_eq(f.type, FRAME_BODY);
	ck_assert_uint_eq(f.channel, channel);
	ck_assert_uint_eq(f.size, body_len);
	ck_assert_mem_eq(f.payload, body, body_len);
	harness_frame_clear(&f);
}
