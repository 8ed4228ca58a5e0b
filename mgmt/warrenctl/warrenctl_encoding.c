/* warrenctl_encoding: percent-encoding, base64 and rabbitmqadmin-compatible cell rendering. */
#include "warrenctl_encoding.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *warrenctl_encoding_url(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1);
	char *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *warrenctl_encoding_base64(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	char *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		*p++ = base64_alphabet[(v >> 18) & 63];
		*p++ = base64_alphabet[(v >> 12) & 63];
		*p++ = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
		*p++ = i + 2 < len ? base64_alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

unsigned char *warrenctl_encoding_unbase64(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n / 4 * 3 + 3);
	unsigned v = 0;
	int bits = 0;
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *at;
		if (s[i] == '=' || s[i] == '\n' || s[i] == '\r')
			continue;
		at = strchr(base64_alphabet, s[i]);
		if (!at || s[i] == '\0') {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)(at - base64_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	*len = o;
	return out;
}

/* Python's repr(float): the shortest %g that reads back the same, with ".0" on integral values. */
static void encoding_real(char *buf, size_t len, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".eninf"))
		strncat(buf, ".0", len - strlen(buf) - 1);
}

struct encoding_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

static void encoding_put(struct encoding_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap : 256);
		char *bigger;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(bigger = realloc(b->data, cap))) {
			b->failed = true;
			return;
		}
		b->data = bigger;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void encoding_puts(struct encoding_buf *b, const char *s)
{
	encoding_put(b, s, strlen(s));
}

static void encoding_newline(struct encoding_buf *b, int indent, int level)
{
	encoding_puts(b, "\n");
	for (int i = 0; i < indent * level; i++)
		encoding_puts(b, " ");
}

static int encoding_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Python's json.dumps: ", " / ": " separators without indent, "," / ": " with it. */
static void encoding_py(struct encoding_buf *b, const json_t *v, int indent, int level,
			bool sort_keys, size_t flags)
{
	char num[64], *text;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **keys;
		const char *key;
		json_t *item;
		if ((n = json_object_size(v)) == 0) {
			encoding_puts(b, "{}");
			return;
		}
		if (!(keys = malloc(n * sizeof *keys))) {
			b->failed = true;
			return;
		}
		i = 0;
		json_object_foreach((json_t *)v, key, item)
			keys[i++] = key;
		if (sort_keys)
			qsort(keys, n, sizeof *keys, encoding_key_cmp);
		encoding_puts(b, "{");
		for (i = 0; i < n; i++) {
			json_t *k = json_string(keys[i]);
			if (i > 0)
				encoding_puts(b, indent ? "," : ", ");
			if (indent)
				encoding_newline(b, indent, level + 1);
			encoding_py(b, k, indent, level + 1, sort_keys, flags);
			json_decref(k);
			encoding_puts(b, ": ");
			encoding_py(b, json_object_get(v, keys[i]), indent, level + 1, sort_keys,
				    flags);
		}
		if (indent)
			encoding_newline(b, indent, level);
		encoding_puts(b, "}");
		free(keys);
		return;
	}
	case JSON_ARRAY:
		if ((n = json_array_size(v)) == 0) {
			encoding_puts(b, "[]");
			return;
		}
		encoding_puts(b, "[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				encoding_puts(b, indent ? "," : ", ");
			if (indent)
				encoding_newline(b, indent, level + 1);
			encoding_py(b, json_array_get(v, i), indent, level + 1, sort_keys, flags);
		}
		if (indent)
			encoding_newline(b, indent, level);
		encoding_puts(b, "]");
		return;
	case JSON_REAL:
		encoding_real(num, sizeof num, json_real_value(v));
		encoding_puts(b, num);
		return;
	default:
		text = json_dumps(v, JSON_ENCODE_ANY | flags);
		if (!text) {
			b->failed = true;
			return;
		}
		encoding_puts(b, text);
		free(text);
	}
}

char *warrenctl_encoding_dumps(const json_t *v)
{
	struct encoding_buf b = { 0 };

	encoding_py(&b, v, 0, 0, false, JSON_ENSURE_ASCII);
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

char *warrenctl_encoding_pretty(const json_t *v)
{
	struct encoding_buf b = { 0 };

	encoding_py(&b, v, 2, 0, true, 0);
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

static bool encoding_all_strings(const json_t *list)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
		if (!json_is_string(item))
			return false;
	return true;
}

char *warrenctl_encoding_cell(const json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		encoding_real(buf, sizeof buf, json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("True");
	case JSON_FALSE:
		return strdup("False");
	case JSON_NULL:
		return strdup("");
	case JSON_ARRAY:
		if (encoding_all_strings(v)) {
			size_t total = 1, i;
			json_t *item;
			char *out;
			json_array_foreach(v, i, item)
				total += json_string_length(item) + 1;
			out = malloc(total);
			if (!out)
				return NULL;
			out[0] = '\0';
			json_array_foreach(v, i, item) {
				if (i > 0)
					strcat(out, " ");
				strcat(out, json_string_value(item));
			}
			return out;
		}
		return warrenctl_encoding_dumps(v);
	case JSON_OBJECT:
		return warrenctl_encoding_dumps(v);
	}
	return strdup("");
}

size_t warrenctl_encoding_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}
