/* broker/core/log.c: timestamps and levels for stderr logging. Called off the hot path only. */
#include "broker/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level log_level = LOG_INFO;

int log_level_parse(const char *name)
{
	static const char *const names[] = { "debug", "info", "warning", "error", "none" };
	for (int i = 0; i < 5; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	if (strcmp(name, "critical") == 0)
		return LOG_ERROR;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tags[] = { "debug", "info", "warning", "error" };
	char stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level < log_level || level >= LOG_NONE)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03d [%s] ", stamp, (int)(tv.tv_usec / 1000), tags[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
