/* storage/store_log.h: how storage/ writes its log lines: through the function the embedding
 * program installed with store_set_log (store.h), so storage depends on nothing of the broker.
 * Internal to storage/. */
#ifndef STORAGE_STORE_LOG_H
#define STORAGE_STORE_LOG_H

#include "storage/store.h"

/* Formats one line and hands it to the installed function (nothing happens without one). */
void store_log_msg(enum store_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define store_log_info(...) store_log_msg(STORE_LOG_INFO, __VA_ARGS__)
#define store_log_warn(...) store_log_msg(STORE_LOG_WARNING, __VA_ARGS__)
#define store_log_error(...) store_log_msg(STORE_LOG_ERROR, __VA_ARGS__)

#endif
