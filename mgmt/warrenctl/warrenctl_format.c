/* warrenctl_format: turns API replies into rows and columns, then prints them in the chosen
 * format. The flattening copies rabbitmqadmin v1: nested objects become dotted columns up to the
 * depth, identity columns come first and the rest sort by name. One deliberate difference: a
 * column named explicitly whose value is an object is shown as JSON instead of left blank. */
#include "warrenctl_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warrenctl_encoding.h"

static const char *const format_names[] = {
	"table", "tsv", "long", "kvp", "bash", "json", "raw_json", "pretty_json", NULL,
};

static const char *const format_promoted[] = {
	"vhost", "name", "type", "source", "destination", "destination_type", "routing_key", NULL,
};

struct format_table {
	char **columns;
	int column_count;
	char ***rows; /* rows[r][c] */
	int row_count;
};

bool warrenctl_format_is_known(const char *format)
{
	for (int i = 0; format_names[i]; i++)
		if (strcmp(format_names[i], format) == 0)
			return true;
	return false;
}

static bool format_in(const char *const *list, const char *s)
{
	for (int i = 0; list && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static int format_promoted_rank(const char *col)
{
	for (int i = 0; format_promoted[i]; i++)
		if (strcmp(format_promoted[i], col) == 0)
			return i;
	return -1;
}

static int format_column_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int rx = format_promoted_rank(x), ry = format_promoted_rank(y);

	if (rx >= 0 && ry >= 0)
		return rx - ry;
	if (rx >= 0 || ry >= 0)
		return rx >= 0 ? -1 : 1;
	return strcmp(x, y);
}

/* Collects the dotted column names of one object, as rabbitmqadmin's list_to_table/add. */
static void format_collect(const json_t *obj, const char *prefix, int depth, int max_depth,
			   const struct warrenctl_format_opts *opts, json_t *seen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		char col[512];
		if (prefix[0])
			snprintf(col, sizeof col, "%s.%s", prefix, key);
		else
			snprintf(col, sizeof col, "%s", key);
		if (json_is_object(v) && !format_in(opts->json_keys, key)) {
			if (depth < max_depth)
				format_collect(v, col, depth + 1, max_depth, opts, seen);
			continue;
		}
		json_object_set_new(seen, col, json_true());
	}
}

/* Finds a dotted column in obj; keys may themselves hold dots, so try every split. */
static const json_t *format_lookup(const json_t *obj, const char *col)
{
	const json_t *v = json_object_get(obj, col);

	if (v || !json_is_object(obj))
		return v;
	for (const char *dot = strchr(col, '.'); dot; dot = strchr(dot + 1, '.')) {
		char head[512];
		size_t n = (size_t)(dot - col);
		if (n >= sizeof head)
			break;
		memcpy(head, col, n);
		head[n] = '\0';
		v = json_object_get(obj, head);
		if (json_is_object(v) && (v = format_lookup(v, dot + 1)) != NULL)
			return v;
	}
	return NULL;
}

static char *format_cell(const json_t *item, const char *col, bool named,
			 const struct warrenctl_format_opts *opts)
{
	const json_t *v = format_lookup(item, col);
	const char *last = strrchr(col, '.');

	if (!v)
		return strdup("");
	/* Without named columns an object value never becomes a cell unless its key is a JSON
	 * column (policy definitions): it was flattened into dotted columns instead. */
	if (json_is_object(v) && !named && !format_in(opts->json_keys, last ? last + 1 : col))
		return strdup("");
	return warrenctl_encoding_cell(v);
}

static int format_value_cmp(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a ? 1 : (b ? -1 : 0);
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	return (int)json_typeof(a) - (int)json_typeof(b);
}

/* Stable insertion sort of the items by one column; lists are short. */
static json_t *format_sorted(const json_t *items, const struct warrenctl_format_opts *opts)
{
	json_t *copy = json_copy((json_t *)items);
	size_t n = json_array_size(copy);

	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0; j--) {
			json_t *a = json_array_get(copy, j - 1), *b = json_array_get(copy, j);
			int c = format_value_cmp(format_lookup(a, opts->sort),
						 format_lookup(b, opts->sort));
			if (opts->sort_reverse ? c >= 0 : c <= 0)
				break;
			json_incref(a);
			json_array_set(copy, j - 1, b);
			json_array_set_new(copy, j, a);
		}
	}
	return copy;
}

static int format_build(struct format_table *t, const json_t *items, const char *const *columns,
			int column_count, const struct warrenctl_format_opts *opts)
{
	bool named = column_count > 0;
	size_t i;
	json_t *item;

	memset(t, 0, sizeof *t);
	if (named) {
		t->columns = calloc((size_t)column_count, sizeof *t->columns);
		if (!t->columns)
			return -1;
		for (int c = 0; c < column_count; c++)
			t->columns[c] = strdup(columns[c]);
		t->column_count = column_count;
	} else {
		json_t *seen = json_object();
		const char *key;
		json_t *v;
		json_array_foreach(items, i, item)
			if (json_is_object(item))
				format_collect(item, "", 1, opts->depth, opts, seen);
		t->columns = calloc(json_object_size(seen) + 1, sizeof *t->columns);
		if (!t->columns) {
			json_decref(seen);
			return -1;
		}
		json_object_foreach(seen, key, v)
			t->columns[t->column_count++] = strdup(key);
		json_decref(seen);
		qsort(t->columns, (size_t)t->column_count, sizeof *t->columns, format_column_cmp);
	}
	t->rows = calloc(json_array_size(items) + 1, sizeof *t->rows);
	if (!t->rows)
		return -1;
	json_array_foreach(items, i, item) {
		char **row = calloc((size_t)t->column_count + 1, sizeof *row);
		if (!row)
			return -1;
		for (int c = 0; c < t->column_count; c++)
			row[c] = format_cell(item, t->columns[c], named, opts);
		t->rows[t->row_count++] = row;
	}
	return 0;
}

static void format_table_free(struct format_table *t)
{
	for (int r = 0; r < t->row_count; r++) {
		for (int c = 0; c < t->column_count; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	for (int c = 0; c < t->column_count; c++)
		free(t->columns[c]);
	free(t->rows);
	free(t->columns);
}

static void format_pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

static void format_bar(const size_t *widths, int n)
{
	putchar('+');
	for (int c = 0; c < n; c++) {
		for (size_t k = 0; k < widths[c] + 2; k++)
			putchar('-');
		putchar('+');
	}
	putchar('\n');
}

static void format_row(const size_t *widths, char *const *row, int n, bool centre)
{
	putchar('|');
	for (int c = 0; c < n; c++) {
		const char *s = row[c] ? row[c] : "";
		size_t gap = widths[c] - warrenctl_encoding_width(s);
		size_t left = centre ? gap / 2 : 0;
		putchar(' ');
		format_pad(left);
		fputs(s, stdout);
		format_pad(gap - left);
		fputs(" |", stdout);
	}
	putchar('\n');
}

static void format_ascii_table(const struct format_table *t)
{
	size_t *widths = calloc((size_t)t->column_count + 1, sizeof *widths);

	if (!widths)
		return;
	for (int c = 0; c < t->column_count; c++) {
		widths[c] = warrenctl_encoding_width(t->columns[c]);
		for (int r = 0; r < t->row_count; r++) {
			size_t w = warrenctl_encoding_width(t->rows[r][c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	format_bar(widths, t->column_count);
	format_row(widths, t->columns, t->column_count, true);
	format_bar(widths, t->column_count);
	for (int r = 0; r < t->row_count; r++)
		format_row(widths, t->rows[r], t->column_count, false);
	format_bar(widths, t->column_count);
	free(widths);
}

static void format_long(const struct format_table *t)
{
	static const char sep[] = "\n-------------------------------------------------------------"
				  "-------------------\n\n";
	size_t max = 0;

	for (int c = 0; c < t->column_count; c++)
		if (warrenctl_encoding_width(t->columns[c]) > max)
			max = warrenctl_encoding_width(t->columns[c]);
	fputs(sep, stdout);
	for (int r = 0; r < t->row_count; r++) {
		for (int c = 0; c < t->column_count; c++) {
			format_pad(max - warrenctl_encoding_width(t->columns[c]));
			printf("%s: %s\n", t->columns[c], t->rows[r][c]);
		}
		fputs(sep, stdout);
	}
}

static void format_delimited(const struct format_table *t, const struct warrenctl_format_opts *o)
{
	bool kvp = strcmp(o->format, "kvp") == 0;

	if (!kvp && o->verbose) {
		for (int c = 0; c < t->column_count; c++)
			printf("%s%s", c ? "\t" : "", t->columns[c]);
		putchar('\n');
	}
	for (int r = 0; r < t->row_count; r++) {
		for (int c = 0; c < t->column_count; c++) {
			if (kvp)
				printf("%s%s=\"%s\"", c ? " " : "", t->columns[c], t->rows[r][c]);
			else
				printf("%s%s", c ? "\t" : "", t->rows[r][c]);
		}
		putchar('\n');
	}
}

static void format_bash(const struct format_table *t)
{
	for (int c = 0; c < t->column_count; c++) {
		if (strcmp(t->columns[c], "name") != 0)
			continue;
		for (int r = 0; r < t->row_count; r++)
			printf("%s%s", r ? " " : "", t->rows[r][c]);
		putchar('\n');
	}
}

/* json: the rows as objects, keeping the API's value types; dotted columns stay dotted keys. */
static void format_json(const json_t *items, const char *const *columns, int column_count)
{
	json_t *out = json_array();
	size_t i;
	json_t *item;
	char *text;

	json_array_foreach(items, i, item) {
		json_t *row;
		if (column_count == 0) {
			json_array_append(out, item);
			continue;
		}
		row = json_object();
		for (int c = 0; c < column_count; c++) {
			const json_t *v = format_lookup(item, columns[c]);
			json_object_set_new(row, columns[c], v ? json_deep_copy(v) : json_null());
		}
		json_array_append_new(out, row);
	}
	text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (text)
		puts(text);
	free(text);
	json_decref(out);
}

void warrenctl_format_print(const json_t *items, const char *raw, const char *const *columns,
			    int column_count, const struct warrenctl_format_opts *opts)
{
	struct format_table t;
	json_t *sorted = NULL;
	char *text;

	if (strcmp(opts->format, "raw_json") == 0) {
		if (raw) {
			puts(raw);
		} else if ((text = json_dumps(items, JSON_COMPACT)) != NULL) {
			puts(text);
			free(text);
		}
		return;
	}
	if (opts->sort) {
		sorted = format_sorted(items, opts);
		items = sorted;
	}
	if (strcmp(opts->format, "pretty_json") == 0) {
		text = warrenctl_encoding_pretty(items);
		if (text)
			puts(text);
		free(text);
		goto out;
	}
	if (strcmp(opts->format, "json") == 0) {
		format_json(items, columns, column_count);
		goto out;
	}
	if (format_build(&t, items, columns, column_count, opts) != 0) {
		format_table_free(&t);
		goto out;
	}
	if (t.row_count == 0) {
		if (opts->verbose)
			puts("No items");
	} else if (strcmp(opts->format, "table") == 0) {
		format_ascii_table(&t);
	} else if (strcmp(opts->format, "long") == 0) {
		format_long(&t);
	} else if (strcmp(opts->format, "bash") == 0) {
		format_bash(&t);
	} else {
		format_delimited(&t, opts);
	}
	format_table_free(&t);
out:
	json_decref(sorted);
}
