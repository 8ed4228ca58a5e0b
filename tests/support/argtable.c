/* tests/support/argtable.c: AMQP field tables for unit tests, written with amqp/table.c's own
 * writer (what the broker decodes is what a client library would have sent). */
#include "tests/support/argtable.h"

#include <string.h>

#include "broker/core/bug.h"

void argtable_init(struct argtable *t)
{
	amqp_buf_init(&t->buf);
}

void argtable_free(struct argtable *t)
{
	amqp_buf_free(&t->buf);
}

void argtable_value(struct argtable *t, const char *key, const struct amqp_value *v)
{
	amqp_buf_put_shortstr(&t->buf, amqp_str_c(key));
	amqp_buf_put_value(&t->buf, v);
}

void argtable_str(struct argtable *t, const char *key, const char *value)
{
	struct amqp_value v = { .type = 'S' };
	v.v.str = amqp_str_c(value);
	argtable_value(t, key, &v);
}

void argtable_int(struct argtable *t, const char *key, uint8_t type, int64_t value)
{
	struct amqp_value v = { .type = type };
	WARREN_CHECK(strchr("bsIlBuiT", type) != NULL);
	if (strchr("BuiT", type))
		v.v.u = (uint64_t)value;
	else
		v.v.i = value;
	argtable_value(t, key, &v);
}

void argtable_bool(struct argtable *t, const char *key, bool value)
{
	struct amqp_value v = { .type = 't' };
	v.v.b = value;
	argtable_value(t, key, &v);
}

void argtable_double(struct argtable *t, const char *key, double value)
{
	struct amqp_value v = { .type = 'd' };
	v.v.d = value;
	argtable_value(t, key, &v);
}

void argtable_str_array(struct argtable *t, const char *key, const char *const *values)
{
	amqp_buf_put_shortstr(&t->buf, amqp_str_c(key));
	amqp_buf_put_u8(&t->buf, 'A');
	size_t at = amqp_buf_table_begin(&t->buf);
	for (size_t i = 0; values[i]; i++)
		amqp_buf_put_value_longstr(&t->buf, amqp_str_c(values[i]));
	amqp_buf_table_end(&t->buf, at);
}

void argtable_table(struct argtable *t, const char *key, const struct argtable *inner)
{
	amqp_buf_put_shortstr(&t->buf, amqp_str_c(key));
	amqp_buf_put_u8(&t->buf, 'F');
	amqp_buf_put_table(&t->buf, argtable_get(inner));
}

struct amqp_table argtable_get(const struct argtable *t)
{
	WARREN_CHECK(!t->buf.oom);
	return (struct amqp_table){ t->buf.data, (uint32_t)t->buf.len };
}
