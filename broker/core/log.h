/* broker/core/log.h: one-line logs to the console (stderr) and, with log.file, to a file, each with
 * its own level (rabbitmq.conf's log.console.level and log.file.level). Under systemd, when
 * stderr is the journal ($JOURNAL_STREAM names it), console lines carry sd-daemon(3) "<N>"
 * priority prefixes instead of a timestamp; otherwise they start with a UTC timestamp and level.
 * Any thread may log; log_configure and log_reopen run on the main thread. A struct log is the
 * sink: no state is global. */
#ifndef BROKER_LOG_H
#define BROKER_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include <pthread.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_NONE };

/* Where log lines go: the console (stderr) and an optional file, each with its level. The
 * program owns one (main.c) and the broker writes to it through b->log; NULL means plain
 * stderr at info (before a sink exists). */
struct log {
	pthread_mutex_t lock;
	bool console;
	enum log_level console_level;
	int file_fd;        /* -1: no file */
	char *file_path;
	enum log_level file_level;
	bool journal;       /* stderr is the journal: "<N>" prefixes instead of timestamps */
};

/* Console at info, no file; detects the journal. */
void log_init(struct log *lg);
/* RabbitMQ's level names: "debug", "info", "notice" (= info), "warning" (also "warn"), "error",
 * "critical", "alert", "emergency" (= error), "none". -1 when unknown. */
int log_level_parse(const char *name);
/* Sets the console's and the file's level at once (tests: LOG_NONE silences everything). */
void log_set_level(struct log *lg, enum log_level level);
/* The least severe level any output takes: below it log_msg returns at once. */
enum log_level log_get_level(struct log *lg);
void log_msg(struct log *lg, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct log_options {
	bool console;               /* log.console */
	enum log_level console_level;
	const char *file;           /* log.file resolved against log.dir; NULL = no file */
	enum log_level file_level;
};

/* Applies o: opens (creates, mode 0640, appending) the file first, so on failure (-1, a
 * one-line reason in err) the previous outputs stay as they were. */
int log_configure(struct log *lg, const struct log_options *o, char *err, size_t errlen);
/* Reopens the log file at its path (logrotate moved it away: SIGUSR1). 0 also when there is
 * no file; -1 with errno when it cannot be opened, and the old file is kept. */
int log_reopen(struct log *lg);
/* Closes the log file; the console stays as configured. */
void log_close(struct log *lg);
/* True when console lines go to the journal with "<N>" prefixes. */
bool log_is_journal(const struct log *lg);

#define log_debug(lg, ...) log_msg(lg, LOG_DEBUG, __VA_ARGS__)
#define log_info(lg, ...) log_msg(lg, LOG_INFO, __VA_ARGS__)
#define log_warn(lg, ...) log_msg(lg, LOG_WARNING, __VA_ARGS__)
#define log_error(lg, ...) log_msg(lg, LOG_ERROR, __VA_ARGS__)

#endif
