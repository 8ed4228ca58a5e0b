/* broker/core/log.c: the console and file log outputs. Called off the hot path only. A line is
 * formatted once and written with one write(2) per output, so lines from the storage thread and
 * the loop never interleave, and a file opened with O_APPEND stays whole under logrotate's
 * copytruncate too. The lock only keeps log_configure and log_reopen from swapping the file
 * under a writer. */
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

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_console = true;
static enum log_level log_console_level = LOG_INFO;
static int log_file_fd = -1;
static char *log_file_path;
static enum log_level log_file_level = LOG_INFO;
static pthread_once_t log_journal_once = PTHREAD_ONCE_INIT;
static bool log_journal;

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

void log_set_level(enum log_level level)
{
	pthread_mutex_lock(&log_lock);
	log_console_level = level;
	log_file_level = level;
	pthread_mutex_unlock(&log_lock);
}

enum log_level log_get_level(void)
{
	enum log_level min = LOG_NONE;

	pthread_mutex_lock(&log_lock);
	if (log_console && log_console_level < min)
		min = log_console_level;
	if (log_file_fd >= 0 && log_file_level < min)
		min = log_file_level;
	pthread_mutex_unlock(&log_lock);
	return min;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE when it connects stderr to the journal; a stderr
 * redirected elsewhere by the service (or a child) no longer matches (systemd.exec(5)). */
static void log_journal_detect(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return;
	log_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_is_journal(void)
{
	pthread_once(&log_journal_once, log_journal_detect);
	return log_journal;
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

void log_msg(enum log_level level, const char *fmt, ...)
{
	/* sd-daemon(3) priorities: debug 7, info 6, warning 4, err 3 */
	static const char *const tags[] = { "debug", "info", "warning", "error" };
	static const int priorities[] = { 7, 6, 4, 3 };
	char msg[2048], line[2200], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, ms;

	if (level >= LOG_NONE || level < log_get_level())
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
	bool journal = log_is_journal();

	pthread_mutex_lock(&log_lock);
	if (log_console && level >= log_console_level) {
		if (journal)
			n = snprintf(line, sizeof line, "<%d>%s\n", priorities[level], msg);
		else
			n = snprintf(line, sizeof line, "%s.%03d [%s] %s\n", stamp, ms, tags[level],
				     msg);
		log_write_all(STDERR_FILENO, line, log_line_len(n, sizeof line));
	}
	if (log_file_fd >= 0 && level >= log_file_level) {
		n = snprintf(line, sizeof line, "%s.%03d [%s] %s\n", stamp, ms, tags[level], msg);
		log_write_all(log_file_fd, line, log_line_len(n, sizeof line));
	}
	pthread_mutex_unlock(&log_lock);
}

static int log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int log_configure(const struct log_options *o, char *err, size_t errlen)
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
	pthread_mutex_lock(&log_lock);
	int old_fd = log_file_fd;
	char *old_path = log_file_path;
	log_console = o->console;
	log_console_level = o->console_level;
	log_file_fd = fd;
	log_file_path = path;
	log_file_level = o->file_level;
	pthread_mutex_unlock(&log_lock);
	if (old_fd >= 0)
		close(old_fd);
	free(old_path);
	return 0;
}

int log_reopen(void)
{
	int rc = 0;

	pthread_mutex_lock(&log_lock);
	if (log_file_path) {
		int fd = log_open_file(log_file_path);
		if (fd < 0) {
			rc = -1;
		} else {
			/* dup3 swaps the file under the same descriptor number in one step */
			if (dup3(fd, log_file_fd, O_CLOEXEC) < 0)
				rc = -1;
			close(fd);
		}
	}
	int saved = errno;
	pthread_mutex_unlock(&log_lock);
	errno = saved;
	return rc;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_file_fd >= 0)
		close(log_file_fd);
	log_file_fd = -1;
	free(log_file_path);
	log_file_path = NULL;
	pthread_mutex_unlock(&log_lock);
}
