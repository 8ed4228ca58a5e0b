/* tests/support/argtable.h: building AMQP field tables (queue and exchange arguments, binding
 * arguments, message headers) in unit tests, one typed entry at a time. The table owns its bytes;
 * argtable_get lends them until the next put or argtable_free. */
#ifndef TESTS_SUPPORT_ARGTABLE_H
#define TESTS_SUPPORT_ARGTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp/table.h"

struct argtable {
	struct amqp_buf buf; /* encoded entries, no length prefix */
};

void argtable_init(struct argtable *t);
void argtable_free(struct argtable *t);
/* Any value amqp_buf_put_value writes (decimals, floats, void ...). */
void argtable_value(struct argtable *t, const char *key, const struct amqp_value *v);
void argtable_str(struct argtable *t, const char *key, const char *value); /* 'S' */
/* Signed integer types b s I l, or unsigned B u i T (value must fit). */
void argtable_int(struct argtable *t, const char *key, uint8_t type, int64_t value);
void argtable_bool(struct argtable *t, const char *key, bool value);	 /* 't' */
void argtable_double(struct argtable *t, const char *key, double value); /* 'd' */
/* An array 'A' of longstr values; values is NULL-terminated. */
void argtable_str_array(struct argtable *t, const char *key, const char *const *values);
/* A nested table 'F' holding inner's entries. */
void argtable_table(struct argtable *t, const char *key, const struct argtable *inner);
/* The entries written so far (checked for allocation failure). */
struct amqp_table argtable_get(const struct argtable *t);

#endif
