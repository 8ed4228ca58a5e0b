/* warrenctl_format: prints a JSON list of objects the way rabbitmqadmin's formatters do (table,
 * tsv, long, kvp, bash, raw_json, pretty_json) plus `json`: a compact array of objects holding
 * only the selected columns, for scripts. */
#ifndef WARRENCTL_FORMAT_H
#define WARRENCTL_FORMAT_H

#include <stdbool.h>

#include <jansson.h>

struct warrenctl_format_opts {
	const char *format;
	int depth;		 /* nesting shown when no column is named */
	bool verbose;		 /* headers and "No items" */
	const char *const *json_keys; /* keys whose object values are shown as JSON; NULL-ended */
	const char *sort;	 /* column to sort rows by, or NULL */
	bool sort_reverse;
};

bool warrenctl_format_is_known(const char *format);

/* items: a JSON array of objects. raw: the body text as received (for raw_json). columns:
 * names (dotted for nested keys); column_count 0 means every key up to opts->depth. */
void warrenctl_format_print(const json_t *items, const char *raw, const char *const *columns,
			    int column_count, const struct warrenctl_format_opts *opts);

#endif
