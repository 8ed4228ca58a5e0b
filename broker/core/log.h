/* broker/core/log.h: one-line logs to the console (stderr) and, with log.file, to a file, each with
 * its own level (rabbitmq.conf's log.console.level and log.file.level). Under systemd, when
 * stderr is the journal ($JOURNAL_STREAM names it), console lines carry sd-daemon(3) "<N>"
 * priority prefixes instead of a timestamp; otherwise they start with a UTC timestamp and level.
 * Any thread may log; log_configure and log_reopen run on the main thread. */
#ifndef BROKER_LOG_H
#define BROKER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_NONE };

/* RabbitMQ's level names: "debug", "info", "notice" (= info), "warning" (also "warn"), "error",
 * "critical", "alert", "emergency" (= error), "none". -1 when unknown. */
int log_level_parse(const char *name);
/* Sets the console's and the file's level at once (tests: LOG_NONE silences everything). */
void log_set_level(enum log_level level);
/* The least severe level any output takes: below it log_msg returns at once. */
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct log_options {
	bool console;               /* log.console */
	enum log_level console_level;
	const char *file;           /* log.file resolved against log.dir; NULL = no file */
	enum log_level file_level;
};

/* Applies o: opens (creates, mode 0640, appending) the file first, so on failure (-1, a
 * one-line reason in err) the previous outputs stay as they were. */
int log_configure(const struct log_options *o, char *err, size_t errlen);
/* Reopens the log file at its path (logrotate moved it away: SIGUSR1). 0 also when there is
 * no file; -1 with errno when it cannot be opened, and the old file is kept. */
int log_reopen(void);
/* Closes the log file; the console stays as configured. */
void log_close(void);
/* True when console lines go to the journal with "<N>" prefixes. */
bool log_is_journal(void);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
