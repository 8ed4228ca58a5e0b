/* warrenctl_encoding: the text transformations the CLI needs around HTTP and JSON: percent-
 * encoding of path segments (as Python's quote(s, safe='')), base64 both ways, and Python-like
 * rendering of JSON scalars so table output matches rabbitmqadmin's. */
#ifndef WARRENCTL_ENCODING_H
#define WARRENCTL_ENCODING_H

#include <stddef.h>

#include <jansson.h>

/* Each returns a malloc'd NUL-terminated string, or NULL when out of memory. */
char *warrenctl_encoding_url(const char *s);
char *warrenctl_encoding_base64(const unsigned char *data, size_t len);
/* Decodes base64; NULL on malformed input. *len receives the decoded size. */
unsigned char *warrenctl_encoding_unbase64(const char *s, size_t *len);

/* A scalar or container as rabbitmqadmin shows it in a table cell: strings as they are, integers
 * in decimal, reals as Python's repr, booleans as True/False, null as empty, lists of strings
 * joined by spaces and any other container as Python's json.dumps. */
char *warrenctl_encoding_cell(const json_t *v);
/* json.dumps(v) with Python's default separators ", " and ": ". */
char *warrenctl_encoding_dumps(const json_t *v);
/* json.dumps(v, sort_keys=True, indent=2, ensure_ascii=False), as rabbitmqadmin's pretty_json. */
char *warrenctl_encoding_pretty(const json_t *v);

/* Width of a UTF-8 string in code points, as Python's len(). */
size_t warrenctl_encoding_width(const char *s);

#endif
