/* storage/store_log.c: the log hook of storage/ (store_set_log), in the manner of SQLite's
 * sqlite3_config(SQLITE_CONFIG_LOG): one process-wide function and argument, set before the
 * first store opens; each message arrives as one formatted line without a newline. */
#include "storage/store_log.h"

#include <stdarg.h>
#include <stdio.h>

static store_log_fn store_log_fn_installed;
static void *store_log_arg;

void store_set_log(store_log_fn fn, void *arg)
{
	store_log_fn_installed = fn;
	store_log_arg = arg;
}

void store_log_msg(enum store_log_level level, const char *fmt, ...)
{
	char line[4096 + 512]; /* room for a full path and the words around it */
	va_list ap;

	if (!store_log_fn_installed)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	store_log_fn_installed(store_log_arg, (int)level, line);
}
