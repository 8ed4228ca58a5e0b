/* broker/core/log.c: the console and file log outputs of a struct log (the program owns one; the
 * broker writes to it through b->log). Called off the hot path only. A line is
 * formatted once and written with one write(2) per output, so lines from the storage thread and
 * the loop never interleave, and a file opened with O_APPEND stays whole under logrotate's
 * copytruncate too. The lock only keeps log_configure and log_reopen from swapping the file
 * under a writer (the storage thread logs too). */
#include "broker/core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* systemd sets JOURNAL_STREAM=DEV:INODE when it connects stderr to the journal; a stderr
 * redirected elsewhere by the service (or a child) no longer matches (systemd.exec(5)). */
static bool log_journal_detect(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(struct log *lg)
{
	memset(lg, 0, sizeof *lg);
	pthread_mutex_init(&lg->lock, NULL);
	lg->console = true;
	lg->console_level = LOG_INFO;
	lg->file_fd = -1;
	lg->file_level = LOG_INFO;
	lg->journal = log_journal_detect();
}

int log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "debug", LOG_DEBUG },     { "info", LOG_INFO },       { "notice", LOG_INFO },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },    { "error", LOG_ERROR },
		{ "critical", LOG_ERROR },  { "alert", LOG_ERROR },     { "emergency", LOG_ERROR },
		{ "none", LOG_NONE },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i].name) == 0)
			return (int)names[i].level;
	return -1;
}

void log_set_level(struct log *lg, enum log_level level)
{
	pthread_mutex_lock(&lg->lock);
	lg->console_level = level;
	lg->file_level = level;
	pthread_mutex_unlock(&lg->lock);
}

enum log_level log_get_level(struct log *lg)
{
	enum log_level min = LOG_NONE;

	pthread_mutex_lock(&lg->lock);
	if (lg->console && lg->console_level < min)
		min = lg->console_level;
	if (lg->file_fd >= 0 && lg->file_level < min)
		min = lg->file_level;
	pthread_mutex_unlock(&lg->lock);
	return min;
}

bool log_is_journal(const struct log *lg)
{
	return lg->journal;
}

static void log_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		p += w;
		n -= (size_t)w;
	}
}

/* What snprintf wrote into a buffer of cap bytes (it returns what it would have written). */
static size_t log_line_len(int n, size_t cap)
{
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void log_msg(struct log *lg, enum log_level level, const char *fmt, ...)
{
	/* sd-daemon(3) priorities: debug 7, info 6, warning 4, err 3 */
	static const char *const tags[] = { "debug", "info", "warning", "error" };
	static const int priorities[] = { 7, 6, 4, 3 };
	char msg[2048], line[2200], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, ms;

	if (level >= LOG_NONE || (lg && level < log_get_level(lg)) || (!lg && level < LOG_INFO))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	ms = (int)(tv.tv_usec / 1000);
	if (!lg) { /* no sink yet: plain stderr */
		n = snprintf(line, sizeof line, "%s.%03d [%s] %s\n", stamp, ms, tags[level], msg);
		log_write_all(STDERR_FILENO, line, log_line_len(n, sizeof line));
		return;
	}
	bool journal = lg->journal;

	pthread_mutex_lock(&lg->lock);
	if (lg->console && level >= lg->console_level) {
		if (journal)
			n = snprintf(line, sizeof line, "<%d>%s\n", priorities[level], msg);
		else
			n = snprintf(line, sizeof line, "%s.%03d [%s] %s\n", stamp, ms, tags[level],
				     msg);
		log_write_all(STDERR_FILENO, line, log_line_len(n, sizeof line));
	}
	if (lg->file_fd >= 0 && level >= lg->file_level) {
		n = snprintf(line, sizeof line, "%s.%03d [%s] %s\n", stamp, ms, tags[level], msg);
		log_write_all(lg->file_fd, line, log_line_len(n, sizeof line));
	}
	pthread_mutex_unlock(&lg->lock);
}

static int log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int log_configure(struct log *lg, const struct log_options *o, char *err, size_t errlen)
{
	int fd = -1;
	char *path = NULL;

	if (o->file) {
		path = strdup(o->file);
		if (!path) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		fd = log_open_file(path);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
	}
	pthread_mutex_lock(&lg->lock);
	int old_fd = lg->file_fd;
	char *old_path = lg->file_path;
	lg->console = o->console;
	lg->console_level = o->console_level;
	lg->file_fd = fd;
	lg->file_path = path;
	lg->file_level = o->file_level;
	pthread_mutex_unlock(&lg->lock);
	if (old_fd >= 0)
		close(old_fd);
	free(old_path);
	return 0;
}

int log_reopen(struct log *lg)
{
	int rc = 0;

	pthread_mutex_lock(&lg->lock);
	if (lg->file_path) {
		int fd = log_open_file(lg->file_path);
		if (fd < 0) {
			rc = -1;
		} else {
			/* dup3 swaps the file under the same descriptor number in one step */
			if (dup3(fd, lg->file_fd, O_CLOEXEC) < 0)
				rc = -1;
			close(fd);
		}
	}
	int saved = errno;
	pthread_mutex_unlock(&lg->lock);
	errno = saved;
	return rc;
}

void log_close(struct log *lg)
{
	pthread_mutex_lock(&lg->lock);
	if (lg->file_fd >= 0)
		close(lg->file_fd);
	lg->file_fd = -1;
	free(lg->file_path);
	lg->file_path = NULL;
	pthread_mutex_unlock(&lg->lock);
}
