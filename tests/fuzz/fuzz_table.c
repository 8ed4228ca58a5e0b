/* tests/fuzz/fuzz_table.c: amqp_table_validate / amqp_array_validate over arbitrary bytes
 * (first byte: table or array). Whatever validates must iterate, look up, compare and format
 * without error at every nesting level, and re-encode value by value to a valid table of the
 * same size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amqp/table.h"
#include "broker/core/bug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(struct amqp_table t, bool is_array, struct amqp_buf *copy, unsigned depth)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	char text[128];
	int rc;

	WARREN_CHECK(depth <= AMQP_TABLE_MAX_DEPTH);
	amqp_table_iter_init(&it, t);
	for (;;) {
		rc = is_array ? amqp_array_next(&it, &v) : amqp_table_next(&it, &key, &v);
		if (rc != 1)
			break;
		(void)amqp_value_format(&v, text, sizeof text);
		(void)amqp_value_type_name(v.type);
		WARREN_CHECK(amqp_value_equal(&v, &v) || v.type == 'f' || v.type == 'd'); /* NaN */
		if (copy) {
			if (!is_array)
				amqp_buf_put_shortstr(copy, key);
			amqp_buf_put_value(copy, &v);
		}
		if (v.type == 'F' || v.type == 'A')
			walk(v.v.table, v.type == 'A', NULL, depth + 1);
	}
	WARREN_CHECK(rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amqp_buf copy;
	bool is_array;
	struct amqp_table t;
	struct amqp_value v;

	if (size == 0)
		return 0;
	is_array = data[0] & 1;
	if (size - 1 > UINT32_MAX)
		return 0;
	t = (struct amqp_table){ data + 1, (uint32_t)(size - 1) };
	if ((is_array ? amqp_array_validate(t.ptr, t.len) : amqp_table_validate(t.ptr, t.len)) != 0)
		return 0;
	amqp_buf_init(&copy);
	walk(t, is_array, &copy, 1);
	WARREN_CHECK(!copy.oom);
	/* same size; bytes may differ only where a bool octet other than 0/1 became 1 */
	WARREN_CHECK(copy.len == t.len);
	WARREN_CHECK((is_array ? amqp_array_validate(copy.data, copy.len)
			 : amqp_table_validate(copy.data, copy.len)) == 0);
	amqp_buf_free(&copy);
	if (!is_array) {
		(void)amqp_table_count(t);
		(void)amqp_table_get(t, "x-match", &v);
	}
	return 0;
}
